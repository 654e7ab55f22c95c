package dev.zerodrop.api;

import static io.javalin.http.HandlerType.GET;
import static io.javalin.http.HandlerType.POST;
import static io.javalin.http.HandlerType.PUT;

import com.fasterxml.jackson.annotation.JsonRawValue;
import com.fasterxml.jackson.databind.JsonNode;
import dev.zerodrop.delivery.SendResult;
import dev.zerodrop.store.AppStore.App;
import dev.zerodrop.store.DlqStore;
import dev.zerodrop.store.DlqStore.Selection;
import io.javalin.http.Context;
import java.math.BigDecimal;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * ZeroDrop's own routes beside the Svix ones: the dead-letter queue under {@code /api/v1/dlq}, and
 * an application's money-at-risk settings under {@code /api/v1/app/{app_id}/money}.
 */
final class DlqRoutes {
    static final List<String> ERROR_CLASSES = Arrays.stream(SendResult.ErrorClass.values()).map(SendResult.ErrorClass::label).toList();
    static final List<String> AT_RISK = List.of("dead", "held", "pending");
    private static final Pattern DELIVERY_ID = Pattern.compile("^(dlv_)?([0-9]{1,18})$");
    private static final Pattern ITERATOR = Pattern.compile("^-?(dlv_)?[0-9]{1,18}$");
    private static final Pattern POINTER = Pattern.compile("^(/([^~]|~[01])*)+$");
    private static final Pattern CURRENCY = Pattern.compile("^[A-Za-z]{3}$");
    private static final int MAX_IDS = 10_000;

    private final Services s;

    DlqRoutes(Services s) {
        this.s = s;
    }

    void register(ApiServer api) {
        String base = "/api/v1/dlq";
        api.route(GET, base, Access.TENANT, this::list);
        api.route(GET, base + "/stats", Access.TENANT, this::stats);
        api.route(POST, base + "/replay", Access.TENANT, ctx -> replay(ctx, selection(ctx, null)));
        api.route(POST, base + "/discard", Access.TENANT, ctx -> discard(ctx, null));
        api.route(GET, base + "/{delivery_id}", Access.TENANT, this::inspect);
        api.route(POST, base + "/{delivery_id}/replay", Access.TENANT, ctx -> replay(ctx, one(ctx)));
        api.route(POST, base + "/{delivery_id}/discard", Access.TENANT, ctx -> discard(ctx, one(ctx)));
        api.route(GET, "/api/v1/app/{app_id}/money", Access.APP, ctx -> ApiServer.Reply.of(200,
                MoneyOut.of(s.dlq().store().money(ApplicationRoutes.app(s, ctx).id()))));
        api.route(PUT, "/api/v1/app/{app_id}/money", Access.APP, this::putMoney);
    }

    // ---- views ----------------------------------------------------------------------------------

    record LastAttemptOut(String id, int responseStatusCode, String errorClass, Instant timestamp, String response) {}

    record ValueOut(BigDecimal amount, String currency) {}

    record EntryOut(String id, String appId, String endpointId, String msgId, String eventType, String eventId, String state,
                    String reason, int attempts, Instant deadAt, Instant discardedAt, LastAttemptOut lastAttempt, ValueOut value) {
        static EntryOut of(DlqStore.Entry e) {
            var a = e.lastAttempt();
            return new EntryOut("dlv_" + e.id(), e.appId(), e.endpointId(), e.msgId(), e.eventType(), e.eventId(), e.state(),
                    e.reason(), e.attempts(), e.state().equals("dead") ? e.changedAt() : null,
                    e.state().equals("discarded") ? e.changedAt() : null,
                    a == null ? null : new LastAttemptOut(a.id(), a.responseStatus(), a.errorClass(), a.createdAt(), a.response()),
                    e.value() == null ? null : new ValueOut(e.value().amount(), e.value().currency()));
        }
    }

    record MessageOut(String id, String eventType, String eventId, List<String> channels, @JsonRawValue String payload,
                      Instant timestamp) {}

    record ActionOut(long id, String action, String actor, String reason, Instant createdAt) {}

    /** One delivery with its message, every attempt (oldest first) and every operator action. */
    record DetailOut(EntryOut delivery, MessageOut message, List<Views.AttemptOut> attempts, List<ActionOut> actions) {}

    record ChangedOut(int replayed, int held, List<String> ids) {}

    record DiscardedOut(int discarded, List<String> ids) {}

    record StatsOut(long dead, long held, long pending, long discarded,
                    Map<String, Map<String, BigDecimal>> valueAtRisk) {}

    record MoneyOut(String amountPointer, String currencyPointer, String defaultCurrency, Integer minorUnitScale) {
        static MoneyOut of(DlqStore.Money m) {
            return new MoneyOut(m.amountPointer(), m.currencyPointer(), m.defaultCurrency(), m.minorUnitScale());
        }
    }

    // ---- handlers -------------------------------------------------------------------------------

    private ApiServer.Reply list(Context ctx) {
        String state = ctx.queryParam("state");
        if (state == null || state.isEmpty()) state = "dead";
        if (!state.equals("dead") && !state.equals("discarded")) throw Params.invalid("state", "must be dead or discarded");
        String iterator = ctx.queryParam("iterator");
        if (iterator != null && !iterator.isEmpty() && !ITERATOR.matcher(iterator).matches()) {
            throw Params.invalid("iterator", "must be a delivery id such as dlv_123, optionally with a leading -");
        }
        String errorClass = ctx.queryParam("error_class");
        if (errorClass != null && !errorClass.isEmpty() && !ERROR_CLASSES.contains(errorClass)) {
            throw Params.invalid("error_class", "must be one of " + String.join(", ", ERROR_CLASSES));
        }
        String appId = Tenancy.appFilter(ctx, s.apps(), ctx.queryParam("app_id"));
        Selection filter = new Selection(null, appId, endpointFilter(appId, ctx.queryParam("endpoint_id")),
                emptyToNull(ctx.queryParam("event_type")), Params.instant(ctx, "since"), Params.instant(ctx, "until"),
                emptyToNull(errorClass));
        var page = s.dlq().store().list(state, filter, Params.page(ctx, true));
        return ApiServer.Reply.of(200, Views.ListResponse.of(page, EntryOut::of));
    }

    private ApiServer.Reply stats(Context ctx) {
        String appId = Tenancy.appFilter(ctx, s.apps(), ctx.queryParam("app_id"));
        Map<String, Long> n = s.dlq().store().counts(appId, List.of("dead", "held", "pending", "discarded"));
        return ApiServer.Reply.of(200, new StatsOut(n.get("dead"), n.get("held"), n.get("pending"), n.get("discarded"),
                s.dlq().store().valueAtRiskByState(appId, AT_RISK)));
    }

    private ApiServer.Reply inspect(Context ctx) {
        DlqStore.Entry e = find(ctx);
        var m = s.messages().find(e.appId(), e.msgId()).orElseThrow(() -> ApiException.notFound("message '" + e.msgId() + "'"));
        MessageOut message = new MessageOut(m.id(), m.eventType(), m.eventId(), m.channels(), Views.payloadText(m.payload(), true),
                m.createdAt());
        List<Views.AttemptOut> attempts = s.attempts().forDelivery(e.id()).stream().map(Views.AttemptOut::of).toList();
        List<ActionOut> actions = s.dlq().store().actions(e.id()).stream()
                .map(a -> new ActionOut(a.id(), a.action(), a.actor(), a.reason(), a.createdAt())).toList();
        return ApiServer.Reply.of(200, new DetailOut(EntryOut.of(e), message, attempts, actions));
    }

    private ApiServer.Reply replay(Context ctx, Selection sel) {
        DlqStore.Changed c = s.dlq().replay(sel, actor(ctx), s.clock().instant());
        return ApiServer.Reply.of(202, new ChangedOut(c.count(), c.held(), ids(c)));
    }

    private ApiServer.Reply discard(Context ctx, Selection single) {
        Fields f = new Fields(ApiServer.bodyOrEmpty(ctx));
        String reason = f.requiredString("reason", 1, 1024, null);
        if (reason != null && reason.isBlank()) f.error("reason", "must not be blank");
        Selection sel = single != null ? single : selection(ctx, f);
        f.validate();
        DlqStore.Changed c = s.dlq().discard(sel, actor(ctx), reason.strip(), s.clock().instant());
        return ApiServer.Reply.of(200, new DiscardedOut(c.count(), ids(c)));
    }

    // ---- money at risk --------------------------------------------------------------------------

    private ApiServer.Reply putMoney(Context ctx) {
        App app = ApplicationRoutes.app(s, ctx);
        Fields f = new Fields(ApiServer.body(ctx));
        String amount = pointer(f, "amountPointer");
        String currency = pointer(f, "currencyPointer");
        String dflt = f.optionalString("defaultCurrency", 3, 3, CURRENCY);
        Integer scale = f.optionalInt("minorUnitScale", 0, 18);
        if (amount == null && (currency != null || dflt != null || scale != null)) {
            f.error("amountPointer", "field required when the other money fields are set");
        }
        f.validate();
        var m = new DlqStore.Money(amount, currency, dflt == null ? null : dflt.toUpperCase(Locale.ROOT), scale);
        s.dlq().store().setMoney(app.id(), m, s.clock().instant());
        return ApiServer.Reply.of(200, MoneyOut.of(m));
    }

    /** An RFC 6901 JSON pointer to a value inside the payload: '/data/amount'. */
    private static String pointer(Fields f, String name) {
        String p = f.optionalString(name, 2, 1024, null);
        if (p != null && !POINTER.matcher(p).matches()) {
            f.error(name, "must be an RFC 6901 JSON pointer into the payload, such as /data/amount ('~' only as ~0 or ~1)");
        }
        return p;
    }

    // ---- selections -----------------------------------------------------------------------------

    /** The selection of a bulk replay or discard: ids, a filter, or both (they must all match). */
    private Selection selection(Context ctx, Fields given) {
        Fields f = given != null ? given : new Fields(ApiServer.bodyOrEmpty(ctx));
        List<Long> ids = ids(f);
        String app = f.optionalString("appId", 1, 256, null);
        String endpoint = f.optionalString("endpointId", 1, 256, null);
        String eventType = f.optionalString("eventType", 1, 256, null);
        String since = f.optionalString("since", 1, 64, null);
        String until = f.optionalString("until", 1, 64, null);
        String errorClass = f.optionalString("errorClass", 1, 32, null);
        if (errorClass != null && !ERROR_CLASSES.contains(errorClass)) f.error("errorClass", "must be one of " + String.join(", ", ERROR_CLASSES));
        if (ids == null && app == null && endpoint == null && eventType == null && since == null && until == null && errorClass == null) {
            f.error("ids", "select deliveries with ids, or with at least one of appId, endpointId, eventType, since, until, errorClass");
        }
        f.validate();
        String appId = Tenancy.appFilter(ctx, s.apps(), app);
        return new Selection(ids, appId, endpointFilter(appId, endpoint), eventType,
                since == null ? null : Params.parseInstant(since, "body", "since"),
                until == null ? null : Params.parseInstant(until, "body", "until"), errorClass);
    }

    private static List<Long> ids(Fields f) {
        JsonNode v = f.raw("ids");
        if (v == null || v.isNull()) return null;
        if (!v.isArray() || v.isEmpty() || v.size() > MAX_IDS) {
            f.error("ids", "must be a list of 1 to " + MAX_IDS + " delivery ids such as dlv_123");
            return null;
        }
        LinkedHashSet<Long> out = new LinkedHashSet<>();
        for (JsonNode item : v) {
            Long id = item.isIntegralNumber() && item.canConvertToLong() ? Long.valueOf(item.asLong())
                    : item.isTextual() ? parseId(item.asText()) : null;
            if (id == null) {
                f.error("ids", "'" + item.asText() + "' is not a delivery id such as dlv_123");
                return null;
            }
            out.add(id);
        }
        return new ArrayList<>(out);
    }

    /** The delivery named in the path, as a one-id selection. */
    private Selection one(Context ctx) {
        return new Selection(List.of(find(ctx).id()), null, null, null, null, null, null);
    }

    private DlqStore.Entry find(Context ctx) {
        String ref = ctx.pathParam("delivery_id");
        Long id = parseId(ref);
        if (id == null) throw ApiException.notFound("delivery '" + ref + "'");
        DlqStore.Entry e = s.dlq().store().find(id).orElseThrow(() -> ApiException.notFound("delivery '" + ref + "'"));
        Tenancy.visible(ctx, e.appId(), () -> ApiException.notFound("delivery '" + ref + "'"));
        return e;
    }

    static Long parseId(String text) {
        var m = DELIVERY_ID.matcher(text);
        return m.matches() ? Long.valueOf(m.group(2)) : null;
    }

    /** An endpoint filter: with an application, its id or uid (404 when unknown); without one, an endpoint id. */
    private String endpointFilter(String appId, String ref) {
        if (ref == null || ref.isEmpty()) return null;
        if (appId == null) return ref;
        return s.endpoints().find(appId, ref).map(e -> e.id()).orElseThrow(() -> ApiException.notFound("endpoint '" + ref + "'"));
    }

    private static String emptyToNull(String v) {
        return v == null || v.isEmpty() ? null : v;
    }

    private static String actor(Context ctx) {
        String scope = ctx.attribute(ApiServer.SCOPE_ATTR);
        return scope == null ? "unknown" : scope;
    }

    private static List<String> ids(DlqStore.Changed c) {
        return c.firstIds().stream().map(id -> "dlv_" + id).toList();
    }
}
