package dev.zerodrop.api;

import static io.javalin.http.HandlerType.DELETE;
import static io.javalin.http.HandlerType.POST;

import dev.zerodrop.store.AppStore.App;
import dev.zerodrop.store.ContentStore;
import dev.zerodrop.task.Tasks;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Expunging message content: one message, a list of them, or every message of an application (a
 * background task). See {@link ContentStore} for what an expunged message becomes.
 */
public final class ExpungeRoutes {
    /** The most messages one bulk-expunge names: one transaction. */
    static final int BULK_MAX = 1_000;

    /** Svix's BulkExpungeContentsOut: per id as given, "expunged" or "not-found". */
    record BulkExpungeOut(Map<String, String> results) {}

    private final Services s;
    private final ContentStore contents;
    private final Tasks tasks;

    public ExpungeRoutes(Services s, ContentStore contents, Tasks tasks) {
        this.s = s;
        this.contents = contents;
        this.tasks = tasks;
    }

    public void register(ApiServer api) {
        String msgs = "/api/v1/app/{app_id}/msg";
        api.route(DELETE, msgs + "/{msg_id}/content", Access.APP, ctx -> {
            App app = ApplicationRoutes.app(s, ctx);
            String id = ctx.pathParam("msg_id");
            var m = s.messages().find(app.id(), id).orElseThrow(() -> ApiException.notFound("message '" + id + "'"));
            contents.expunge(app.id(), List.of(m.id()), BackgroundTaskRoutes.actor(ctx), s.clock().instant());
            return ApiServer.Reply.noContent();
        });
        api.route(POST, msgs + "/bulk-expunge", Access.APP, ctx -> {
            App app = ApplicationRoutes.app(s, ctx);
            List<String> ids = ids(new Fields(ApiServer.body(ctx)));
            Map<String, String> results = new LinkedHashMap<>();
            contents.expunge(app.id(), ids, BackgroundTaskRoutes.actor(ctx), s.clock().instant())
                    .forEach((ref, found) -> results.put(ref, found ? "expunged" : "not-found"));
            return ApiServer.Reply.of(200, new BulkExpungeOut(results));
        });
        api.route(POST, msgs + "/expunge-all-contents", Access.APP, ctx -> {
            App app = ApplicationRoutes.app(s, ctx);
            return BackgroundTaskRoutes.accepted(tasks.purgeContent(app.id(), BackgroundTaskRoutes.actor(ctx)));
        });
    }

    /** BulkExpungeContentsIn's {@code ids}: message ids or eventIds, at least one (an empty body expunges nothing by accident). */
    private static List<String> ids(Fields f) {
        if (!f.has("ids") || f.isNull("ids")) f.error("ids", "field required");
        List<String> ids = f.optionalIdList("ids", BULK_MAX, 256);
        f.validate();
        return ids;
    }
}
