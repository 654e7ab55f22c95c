package dev.zerodrop.api;

import dev.zerodrop.store.AppStore;
import io.javalin.http.Context;
import java.util.function.Supplier;

/**
 * The application confinement of {@link Access#TENANT} routes, applied by their handlers: an
 * application-scoped caller sees only its own application's rows, and an application it names that
 * is not its own is answered as one that does not exist.
 */
final class Tenancy {
    private Tenancy() {}

    /** The application the caller is confined to, or null when it may see every one. */
    static String confinement(Context ctx) {
        Principal p = ApiServer.principal(ctx);
        return p == null ? null : p.appId();
    }

    /**
     * The application a listing or a bulk action is about: {@code requested} (an id the handler
     * resolved from the request, or null when it named none). A confined caller that names none gets
     * its own; one that names another gets {@code notFound}, as for an unknown application.
     */
    static String appFilter(Context ctx, String requested, Supplier<ApiException> notFound) {
        String own = confinement(ctx);
        if (own == null) return requested;
        if (requested == null) return own;
        if (!requested.equals(own)) throw notFound.get();
        return own;
    }

    /**
     * The application a query parameter or a body field names by id or uid, as a filter: null when it
     * names none (the caller's own application for a confined caller), 404 when it names one that
     * does not exist or, for a confined caller, any other than its own.
     */
    static String appFilter(Context ctx, AppStore apps, String ref) {
        if (ref == null || ref.isEmpty()) return confinement(ctx);
        String id = apps.find(ref).map(AppStore.App::id).orElseThrow(() -> ApplicationRoutes.notFound(ref));
        return appFilter(ctx, id, () -> ApplicationRoutes.notFound(ref));
    }

    /** Throws {@code notFound} when a confined caller reaches a row of another application (or of none). */
    static void visible(Context ctx, String rowAppId, Supplier<ApiException> notFound) {
        String own = confinement(ctx);
        if (own != null && !own.equals(rowAppId)) throw notFound.get();
    }
}
