package dev.zerodrop.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.zerodrop.config.Durations;
import java.io.PrintWriter;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code zerodrop dlq}: the dead-letter queue of a running server, through its API. */
@Command(name = "dlq", mixinStandardHelpOptions = true,
        description = {"The dead-letter queue: deliveries whose retries are exhausted.",
                "Finds the server through --url (ZERODROP_URL) and --token (ZERODROP_TOKEN)."},
        subcommands = {DlqCommand.ListCommand.class, DlqCommand.ShowCommand.class, DlqCommand.ReplayCommand.class,
                DlqCommand.DiscardCommand.class, DlqCommand.StatsCommand.class})
final class DlqCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /** Filters shared by list, replay and discard. */
    static final class Filters {
        @Option(names = "--app", paramLabel = "<app>", description = "Application id or uid.")
        String app;

        @Option(names = "--endpoint", paramLabel = "<endpoint>", description = "Endpoint id (or uid, with --app).")
        String endpoint;

        @Option(names = "--event-type", paramLabel = "<type>", description = "Event type.")
        String eventType;

        @Option(names = "--since", paramLabel = "<time>",
                description = "Went dead (or was discarded) at or after: RFC 3339 (2026-01-31T12:00:00Z) or a duration ago (24h).")
        String since;

        @Option(names = "--until", paramLabel = "<time>", description = "Went dead (or was discarded) before: RFC 3339 or a duration ago.")
        String until;

        @Option(names = "--error-class", paramLabel = "<class>",
                description = "Last attempt's error class: timeout, connect, reset, tls, protocol, too-large, http, blocked, lost-lease or internal.")
        String errorClass;

        /** The filters as the API's body fields (camelCase) or query parameters (snake_case). */
        Map<String, String> fields(boolean query, Instant now) {
            Map<String, String> m = new LinkedHashMap<>();
            m.put(query ? "app_id" : "appId", app);
            m.put(query ? "endpoint_id" : "endpointId", endpoint);
            m.put(query ? "event_type" : "eventType", eventType);
            m.put("since", time(since, "--since", now));
            m.put("until", time(until, "--until", now));
            m.put(query ? "error_class" : "errorClass", errorClass);
            m.values().removeIf(v -> v == null);
            return m;
        }

        /** An RFC 3339 time as given, or a duration before now. */
        static String time(String text, String option, Instant now) {
            if (text == null) return null;
            try {
                return OffsetDateTime.parse(text).toInstant().toString();
            } catch (DateTimeParseException e) {
                try {
                    return now.minus(Durations.parse(text)).truncatedTo(ChronoUnit.MILLIS).toString();
                } catch (IllegalArgumentException e2) {
                    throw new ApiClient.Failure(2, option + ": '" + text + "' is neither an RFC 3339 time nor a duration such as 24h");
                }
            }
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "List dead (or discarded) deliveries, newest first.")
    static final class ListCommand extends ClientCommand {
        @Mixin
        Filters filters;

        @Option(names = "--state", defaultValue = "dead", description = "dead or discarded (default: ${DEFAULT-VALUE}).")
        String state;

        @Option(names = "--limit", defaultValue = "50", description = "Most deliveries to show, 1-250 (default: ${DEFAULT-VALUE}).")
        int limit;

        @Option(names = "--iterator", paramLabel = "<id>", description = "Continue after this delivery (the iterator of the previous page).")
        String iterator;

        @Override
        JsonNode execute(ApiClient api) {
            Map<String, String> q = filters.fields(true, Instant.now());
            q.put("state", state);
            q.put("limit", Integer.toString(limit));
            q.put("iterator", iterator);
            return api.get("/api/v1/dlq", q);
        }

        @Override
        void print(JsonNode page, PrintWriter out) {
            Table t = new Table("ID", "APP", "ENDPOINT", "EVENT TYPE", "ATTEMPTS", state.equals("dead") ? "DEAD AT" : "DISCARDED AT",
                    "LAST ERROR", "VALUE", state.equals("dead") ? "MESSAGE" : "REASON");
            for (JsonNode e : page.path("data")) {
                JsonNode last = e.path("lastAttempt");
                t.row(e.path("id").asText(), e.path("appId").asText(), e.path("endpointId").asText(), e.path("eventType").asText(),
                        e.path("attempts").asInt(), time(e.path(state.equals("dead") ? "deadAt" : "discardedAt")),
                        lastError(last), value(e.path("value")),
                        state.equals("dead") ? e.path("msgId").asText() : e.path("reason").asText());
            }
            if (t.isEmpty()) out.println("No " + state + " deliveries.");
            else t.print(out);
            if (!page.path("done").asBoolean(true)) out.println("More: --iterator " + page.path("iterator").asText());
        }
    }

    @Command(name = "show", mixinStandardHelpOptions = true, description = "Show one delivery: its message, every attempt and every operator action.")
    static final class ShowCommand extends ClientCommand {
        @Parameters(paramLabel = "<id>", description = "Delivery id, such as dlv_123.")
        String id;

        @Override
        JsonNode execute(ApiClient api) {
            return api.get("/api/v1/dlq/" + encode(id), Map.of());
        }

        @Override
        void print(JsonNode r, PrintWriter out) {
            JsonNode d = r.path("delivery");
            JsonNode m = r.path("message");
            Table t = new Table("FIELD", "VALUE");
            t.row("delivery", d.path("id").asText()).row("state", d.path("state").asText())
                    .row("application", d.path("appId").asText()).row("endpoint", d.path("endpointId").asText())
                    .row("message", d.path("msgId").asText()).row("event type", d.path("eventType").asText())
                    .row("event id", text(d.path("eventId"))).row("attempts", d.path("attempts").asInt())
                    .row("dead at", time(d.path("deadAt"))).row("discarded at", time(d.path("discardedAt")))
                    .row("reason", text(d.path("reason"))).row("value", value(d.path("value")))
                    .row("created", time(m.path("timestamp")));
            t.print(out);
            out.println();
            out.println("Payload:");
            out.println(Table.excerpt(m.path("payload").toString(), 2000));
            out.println();
            Table a = new Table("#", "TIME", "TRIGGER", "STATUS", "ERROR", "MS", "RESPONSE");
            for (JsonNode x : r.path("attempts")) {
                a.row(x.path("attemptNumber").asInt(), time(x.path("timestamp")), x.path("triggerType").asInt() == 1 ? "manual" : "scheduled",
                        x.path("responseStatusCode").asInt(), text(x.path("errorClass")), x.path("responseDurationMs").asLong(),
                        Table.excerpt(x.path("response").asText(), 60));
            }
            if (a.isEmpty()) out.println("No attempts.");
            else a.print(out);
            if (!r.path("actions").isEmpty()) {
                out.println();
                Table act = new Table("TIME", "ACTION", "ACTOR", "REASON");
                for (JsonNode x : r.path("actions")) {
                    act.row(time(x.path("createdAt")), x.path("action").asText(), x.path("actor").asText(), text(x.path("reason")));
                }
                act.print(out);
            }
        }
    }

    /** Replay and discard: delivery ids, or filters, or both. */
    abstract static class SelectionCommand extends ClientCommand {
        @Parameters(paramLabel = "<id>", arity = "0..*", description = "Delivery ids, such as dlv_123.")
        List<String> ids = new ArrayList<>();

        @Mixin
        Filters filters;

        Map<String, Object> body() {
            Map<String, Object> body = new LinkedHashMap<>(filters.fields(false, Instant.now()));
            if (!ids.isEmpty()) body.put("ids", ids);
            if (body.isEmpty()) throw new ApiClient.Failure(2, "name delivery ids, or select with --app, --endpoint, --event-type, --since, --until or --error-class");
            return body;
        }
    }

    @Command(name = "replay", mixinStandardHelpOptions = true,
            description = {"Replay dead deliveries with a fresh retry budget. Only dead deliveries are replayed, so",
                    "repeating a replay changes nothing; the server spreads them at ZERODROP_REPLAY_RATE per endpoint."})
    static final class ReplayCommand extends SelectionCommand {
        @Override
        JsonNode execute(ApiClient api) {
            return api.post("/api/v1/dlq/replay", body());
        }

        @Override
        void print(JsonNode r, PrintWriter out) {
            int n = r.path("replayed").asInt();
            int held = r.path("held").asInt();
            out.println("Replayed " + n + (n == 1 ? " delivery" : " deliveries")
                    + (held > 0 ? " (" + held + " held until their endpoint is enabled)" : "") + ".");
            printIds(r, n, out);
        }
    }

    @Command(name = "discard", mixinStandardHelpOptions = true, description = "Discard dead deliveries, with a reason that is recorded.")
    static final class DiscardCommand extends SelectionCommand {
        @Option(names = "--reason", required = true, paramLabel = "<text>", description = "Why (recorded with your token id).")
        String reason;

        @Override
        JsonNode execute(ApiClient api) {
            Map<String, Object> body = body();
            body.put("reason", reason);
            return api.post("/api/v1/dlq/discard", body);
        }

        @Override
        void print(JsonNode r, PrintWriter out) {
            int n = r.path("discarded").asInt();
            out.println("Discarded " + n + (n == 1 ? " delivery" : " deliveries") + ".");
            printIds(r, n, out);
        }
    }

    @Command(name = "stats", mixinStandardHelpOptions = true, description = "Counts by state, and the money at risk.")
    static final class StatsCommand extends ClientCommand {
        @Option(names = "--app", paramLabel = "<app>", description = "Application id or uid (default: all).")
        String app;

        @Override
        JsonNode execute(ApiClient api) {
            Map<String, String> q = new LinkedHashMap<>();
            q.put("app_id", app);
            return api.get("/api/v1/dlq/stats", q);
        }

        @Override
        void print(JsonNode r, PrintWriter out) {
            Table t = new Table("STATE", "DELIVERIES", "VALUE AT RISK");
            for (String s : List.of("dead", "held", "pending", "discarded")) {
                List<String> values = new ArrayList<>();
                r.path("valueAtRisk").path(s).properties().forEach(e -> values.add(e.getValue().asText() + " " + e.getKey()));
                t.row(s, r.path(s).asLong(), values.isEmpty() ? null : String.join(", ", values));
            }
            t.print(out);
        }
    }

    static void printIds(JsonNode r, int n, PrintWriter out) {
        List<String> ids = new ArrayList<>();
        r.path("ids").forEach(x -> ids.add(x.asText()));
        if (!ids.isEmpty()) out.println(String.join(" ", ids) + (n > ids.size() ? " … (" + (n - ids.size()) + " more)" : ""));
    }

    static String lastError(JsonNode last) {
        if (last.isMissingNode() || last.isNull()) return null;
        String cls = last.path("errorClass").asText("");
        int status = last.path("responseStatusCode").asInt();
        return cls.equals("http") || (cls.isEmpty() && status > 0) ? cls + " " + status : cls;
    }

    static String value(JsonNode v) {
        return v.isMissingNode() || v.isNull() ? null : v.path("amount").asText() + " " + v.path("currency").asText();
    }

    static String encode(String segment) {
        return java.net.URLEncoder.encode(segment, java.nio.charset.StandardCharsets.UTF_8).replace("+", "%20");
    }
}
