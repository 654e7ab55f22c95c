package dev.zerodrop.api;

import static io.javalin.http.HandlerType.DELETE;
import static io.javalin.http.HandlerType.GET;

import dev.zerodrop.store.AppStore;
import dev.zerodrop.store.TokenStore;
import dev.zerodrop.store.TokenStore.Key;
import io.javalin.http.Context;
import java.time.Instant;
import java.time.InstantSource;
import java.util.Set;

/**
 * /api/v1/keys: API keys. A key is shown once, when it is made, and stored only as a keyed hash;
 * its first characters ({@code prefix}) stay visible to recognise it. Its scope is server-wide
 * ({@code admin}) or one application, read-write or read-only; it may expire. Portal tokens are
 * listed here too, with {@code kind=portal}.
 */
public final class KeyRoutes {
    static final Set<String> SCOPES = Set.of("admin", "application");

    /** A key as the API shows it: never its value, except once in {@link CreatedKeyOut}. */
    record KeyOut(String id, String name, String prefix, String kind, String scope, String appId, boolean readOnly, Instant createdAt,
                  Instant expiresAt, Instant lastUsedAt, Instant revokedAt) {
        static KeyOut of(Key k) {
            return new KeyOut(k.id(), k.name(), k.prefix(), k.kind(), k.appId() == null ? "admin" : "application", k.appId(), k.readOnly(),
                    k.createdAt(), k.expiresAt(), k.lastUsedAt(), k.revokedAt());
        }
    }

    /** The answer to a creation: the key and, this once, its token. */
    record CreatedKeyOut(String id, String name, String prefix, String kind, String scope, String appId, boolean readOnly,
                         Instant createdAt, Instant expiresAt, String token) {
        static CreatedKeyOut of(TokenStore.Issued i) {
            KeyOut k = KeyOut.of(i.key());
            return new CreatedKeyOut(k.id(), k.name(), k.prefix(), k.kind(), k.scope(), k.appId(), k.readOnly(), k.createdAt(),
                    k.expiresAt(), i.token());
        }
    }

    private final TokenStore tokens;
    private final Authenticator auth;
    private final AppStore apps;
    private final InstantSource clock;

    public KeyRoutes(TokenStore tokens, Authenticator auth, AppStore apps, InstantSource clock) {
        this.tokens = tokens;
        this.auth = auth;
        this.apps = apps;
        this.clock = clock;
    }

    public void register(ApiServer api) {
        String base = "/api/v1/keys";
        api.route(GET, base, Access.ADMIN, this::list);
        api.issuing(base, Access.ADMIN, this::create);
        api.route(GET, base + "/{key_id}", Access.ADMIN, ctx -> ApiServer.Reply.of(200, KeyOut.of(find(ctx))));
        api.route(DELETE, base + "/{key_id}", Access.ADMIN, ctx -> {
            Key k = find(ctx);
            if (TokenStore.CONFIGURED_ADMIN.equals(k.name())) {
                throw ApiException.conflict("this key is ZERODROP_ADMIN_TOKEN; change or unset that setting (on every node) to revoke it");
            }
            tokens.revoke(k.id(), clock.instant());
            auth.revoked(k.id());
            return ApiServer.Reply.noContent();
        });
    }

    private Key find(Context ctx) {
        String id = ctx.pathParam("key_id");
        return tokens.find(id).orElseThrow(() -> ApiException.notFound("key '" + id + "'"));
    }

    private ApiServer.Reply list(Context ctx) {
        String kind = ctx.queryParam("kind");
        if (kind == null || kind.isEmpty()) kind = TokenStore.KEY;
        if (!kind.equals(TokenStore.KEY) && !kind.equals(TokenStore.PORTAL)) throw Params.invalid("kind", "must be key or portal");
        String appId = Tenancy.appFilter(ctx, apps, ctx.queryParam("app_id"));
        var page = tokens.list(kind, appId, Params.bool(ctx, "include_revoked", false), Params.page(ctx, false));
        return ApiServer.Reply.of(200, Views.ListResponse.of(page, KeyOut::of));
    }

    private ApiServer.Reply create(Context ctx) {
        Fields f = new Fields(ApiServer.body(ctx));
        String name = f.requiredString("name", 1, 256, null);
        String scope = f.requiredString("scope", 1, 32, null);
        if (scope != null && !SCOPES.contains(scope)) f.error("scope", "must be admin or application");
        String appRef = f.optionalString("appId", 1, 256, null);
        String appId = null;
        if ("application".equals(scope)) {
            if (appRef == null) f.error("appId", "field required for an application key");
            else appId = apps.find(appRef).map(AppStore.App::id).orElse(null);
            if (appRef != null && appId == null) f.error("appId", "no application '" + appRef + "'");
        } else if ("admin".equals(scope) && appRef != null) {
            f.error("appId", "an admin key is not confined to an application; use scope application");
        }
        Boolean readOnly = f.optionalBool("readOnly");
        String expires = f.optionalString("expiresAt", 1, 64, null);
        f.validate();
        Instant now = clock.instant();
        Instant expiresAt = expires == null ? null : Params.parseInstant(expires, "body", "expiresAt");
        if (expiresAt != null && !expiresAt.isAfter(now)) {
            f.error("expiresAt", "must be in the future");
            f.validate();
        }
        var issued = tokens.create(new TokenStore.NewKey(name, TokenStore.KEY, appId, readOnly != null && readOnly, null, expiresAt), now);
        return ApiServer.Reply.of(201, CreatedKeyOut.of(issued));
    }
}
