package dev.zerodrop.api;

import static io.javalin.http.HandlerType.GET;
import static io.javalin.http.HandlerType.POST;

import com.fasterxml.jackson.databind.JsonNode;
import dev.zerodrop.store.AppStore;
import dev.zerodrop.store.AppStore.App;
import dev.zerodrop.store.TokenStore;
import io.javalin.http.Context;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Svix's authentication routes under /api/v1/auth, and the portal page their links open:
 * <ul>
 *   <li>{@code POST /auth/app-portal-access/{app_id}} (and the older {@code dashboard-access}) makes
 *       a portal token confined to the application, expiring, read-only when asked;</li>
 *   <li>{@code POST /auth/logout} revokes the calling token;</li>
 *   <li>{@code POST /auth/app/{app_id}/expire-all} expires every token of the application.</li>
 * </ul>
 */
public final class AuthRoutes {
    /** Svix's default lifetime of a portal token. */
    static final Duration DEFAULT_EXPIRY = Duration.ofDays(7);
    /** The longest a portal token, or an expire-all delay, may be. */
    static final Duration MAX_EXPIRY = Duration.ofDays(30);
    /** Svix's AppPortalCapability values; a token that asks only for the View ones is read-only. */
    static final Set<String> CAPABILITIES = Set.of("ViewBase", "ViewEndpointSecret", "ManageEndpointSecret", "ManageTransformations",
            "CreateAttempts", "ManageEndpoint");
    private static final Set<String> READ_CAPABILITIES = Set.of("ViewBase", "ViewEndpointSecret");
    private static final Pattern HOST = Pattern.compile("^[A-Za-z0-9.\\-]+(:[0-9]{1,5})?$|^\\[[0-9A-Fa-f:.]+\\](:[0-9]{1,5})?$");

    /** Svix's AppPortalAccessOut (and DashboardAccessOut). */
    record AccessOut(String url, String token) {}

    private final TokenStore tokens;
    private final Authenticator auth;
    private final AppStore apps;
    private final Optional<String> publicUrl;
    private final InstantSource clock;

    /** {@code publicUrl}: ZERODROP_PUBLIC_URL, where portal links point (unset: the request's scheme and Host). */
    public AuthRoutes(TokenStore tokens, Authenticator auth, AppStore apps, Optional<String> publicUrl, InstantSource clock) {
        this.tokens = tokens;
        this.auth = auth;
        this.apps = apps;
        this.publicUrl = publicUrl;
        this.clock = clock;
    }

    public void register(ApiServer api) {
        api.issuing("/api/v1/auth/app-portal-access/{app_id}", Access.ADMIN, this::portalAccess);
        api.issuing("/api/v1/auth/dashboard-access/{app_id}", Access.ADMIN, this::portalAccess);
        api.route(POST, "/api/v1/auth/logout", Access.SELF, this::logout);
        api.route(POST, "/api/v1/auth/app/{app_id}/expire-all", Access.ADMIN, this::expireAll);
        api.open(GET, "/portal", AuthRoutes::portalPage);
    }

    private ApiServer.Reply portalAccess(Context ctx) {
        Fields f = new Fields(ApiServer.bodyOrEmpty(ctx));
        Integer expiry = f.optionalInt("expiry", 1, MAX_EXPIRY.toSeconds());
        Boolean readOnly = f.optionalBool("readOnly");
        List<String> capabilities = list(f, "capabilities");
        if (capabilities != null) {
            for (String c : capabilities) if (!CAPABILITIES.contains(c)) f.error("capabilities", "'" + c + "' is not one of " + CAPABILITIES);
        }
        list(f, "featureFlags");
        String sessionId = f.optionalString("sessionId", 1, 256, null);
        JsonNode application = f.raw("application");
        f.validate();
        Instant now = clock.instant();
        String ref = ctx.pathParam("app_id");
        App app = apps.find(ref).orElse(null);
        if (app == null && application != null && !application.isNull()) {
            // As when a message is sent: the application is made, with the path as its uid unless the body gives one.
            AppStore.AppData d = ApplicationRoutes.read(application, null);
            if (d.uid() == null) d = new AppStore.AppData(ref, d.name(), d.throttleRate(), d.metadata());
            app = apps.create(d, now);
        }
        if (app == null) throw ApplicationRoutes.notFound(ref);
        boolean viewOnly = capabilities != null && !capabilities.isEmpty() && READ_CAPABILITIES.containsAll(capabilities);
        Instant expiresAt = now.plus(expiry == null ? DEFAULT_EXPIRY : Duration.ofSeconds(expiry));
        var issued = tokens.create(new TokenStore.NewKey("app portal", TokenStore.PORTAL, app.id(),
                (readOnly != null && readOnly) || viewOnly, sessionId, expiresAt), now);
        return ApiServer.Reply.of(200, new AccessOut(base(ctx) + "/portal/#key=" + issued.token(), issued.token()));
    }

    private ApiServer.Reply logout(Context ctx) {
        Principal p = ApiServer.principal(ctx);
        if (p.source() == Principal.Source.ADMIN_TOKEN) {
            throw ApiException.conflict("this token is ZERODROP_ADMIN_TOKEN; change or unset that setting to revoke it");
        }
        tokens.revoke(p.keyId(), clock.instant());
        auth.revoked(p.keyId());
        return ApiServer.Reply.noContent();
    }

    private ApiServer.Reply expireAll(Context ctx) {
        String ref = ctx.pathParam("app_id");
        App app = apps.find(ref).orElseThrow(() -> ApplicationRoutes.notFound(ref));
        Fields f = new Fields(ApiServer.bodyOrEmpty(ctx));
        Integer expiry = f.optionalInt("expiry", 0, MAX_EXPIRY.toSeconds());
        List<String> sessions = list(f, "sessionIds");
        f.validate();
        Instant now = clock.instant();
        tokens.expireApp(app.id(), now.plusSeconds(expiry == null ? 0 : expiry), sessions, now);
        auth.appTokensExpired(app.id());
        return ApiServer.Reply.noContent();
    }

    /** Where this server is reached: ZERODROP_PUBLIC_URL, or the request's scheme and Host. */
    private String base(Context ctx) {
        if (publicUrl.isPresent()) return publicUrl.get();
        String host = ctx.host();
        if (host == null || !HOST.matcher(host).matches()) host = "localhost:" + ctx.port();
        return ctx.scheme() + "://" + host;
    }

    /** A list of ids that may be empty (the SDKs send [] as readily as nothing). */
    private static List<String> list(Fields f, String name) {
        JsonNode v = f.raw(name);
        if (v != null && v.isArray() && v.isEmpty()) return List.of();
        return f.optionalIdList(name, 1000, 256);
    }

    /**
     * The page a portal link opens. It needs no token (the token is in the link's fragment, which
     * browsers never send), runs no script and loads nothing: the console that reads the fragment
     * replaces it.
     */
    private static ApiServer.Reply portalPage(Context ctx) {
        ctx.header("Content-Security-Policy", "default-src 'none'; base-uri 'none'; form-action 'none'");
        ctx.header("X-Content-Type-Options", "nosniff");
        ctx.header("Referrer-Policy", "no-referrer");
        ctx.header("Cache-Control", "no-store");
        return ApiServer.Reply.text(200, "text/html; charset=utf-8", PORTAL_PAGE);
    }

    private static final String PORTAL_PAGE = """
            <!doctype html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>ZeroDrop application portal</title>
            </head>
            <body>
            <h1>ZeroDrop application portal</h1>
            <p>This page is opened by an app-portal link, which carries an access token for one application after
            <code>#key=</code>. The portal's pages are not served by this version yet.</p>
            <p>The token works with the API now: send it as <code>Authorization: Bearer &lt;token&gt;</code> to the
            <code>/api/v1</code> routes of this application, or give it to a Svix SDK as its token.</p>
            </body>
            </html>
            """;
}
