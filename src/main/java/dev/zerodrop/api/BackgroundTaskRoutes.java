package dev.zerodrop.api;

import static io.javalin.http.HandlerType.GET;
import static io.javalin.http.HandlerType.POST;

import com.fasterxml.jackson.annotation.JsonRawValue;
import dev.zerodrop.store.EndpointStore.Endpoint;
import dev.zerodrop.store.ReplayStore;
import dev.zerodrop.store.TaskStore.Task;
import dev.zerodrop.task.Tasks;
import io.javalin.http.Context;
import java.time.Instant;
import java.util.List;
import java.util.Set;

/**
 * /api/v1/background-task, and the endpoint routes that start a task: recover, replay-missing and
 * bulk-replay. Each answers 202 with the task, still running; the task's status tells when its work
 * is done, with its counts in {@code data}.
 */
public final class BackgroundTaskRoutes {
    /** Svix's BackgroundTaskOut; RecoverOut and ReplayOut are the same without {@code data}. */
    record TaskOut(String id, String status, String task, @JsonRawValue String data, Instant updatedAt) {
        static TaskOut of(Task t) {
            return new TaskOut(t.id(), t.status(), t.task(), t.data(), t.updatedAt());
        }
    }

    /** Every BackgroundTaskType of Svix; the task filter takes any of them, and only ZeroDrop's kinds ever match. */
    private static final Set<String> SVIX_TASK_TYPES = Set.of("endpoint.replay", "endpoint.recover", "application.stats",
            "message.broadcast", "sdk.generate", "event-type.aggregate", "application.purge_content", "endpoint.bulk-replay");
    private static final Set<String> STATUSES = Set.of("running", "finished", "failed");

    private final Services s;
    private final Tasks tasks;

    public BackgroundTaskRoutes(Services s, Tasks tasks) {
        this.s = s;
        this.tasks = tasks;
    }

    public void register(ApiServer api) {
        api.route(GET, "/api/v1/background-task", Access.TENANT, ctx -> {
            String status = ctx.queryParam("status");
            if (status != null && !STATUSES.contains(status)) throw Params.invalid("status", "must be running, finished or failed");
            String task = ctx.queryParam("task");
            if (task != null && !SVIX_TASK_TYPES.contains(task)) {
                throw Params.invalid("task", "must be one of " + String.join(", ", SVIX_TASK_TYPES.stream().sorted().toList()));
            }
            String appId = Tenancy.appFilter(ctx, s.apps(), ctx.queryParam("app_id"));
            return ApiServer.Reply.of(200, Views.ListResponse.of(tasks.list(status, task, appId, Params.page(ctx, true)), TaskOut::of));
        });
        api.route(GET, "/api/v1/background-task/{task_id}", Access.TENANT, ctx -> {
            String id = ctx.pathParam("task_id");
            Task t = tasks.find(id).orElseThrow(() -> ApiException.notFound("background task '" + id + "'"));
            Tenancy.visible(ctx, t.appId(), () -> ApiException.notFound("background task '" + id + "'"));
            return ApiServer.Reply.of(200, TaskOut.of(t));
        });
        String base = "/api/v1/app/{app_id}/endpoint/{endpoint_id}";
        api.route(POST, base + "/recover", Access.APP, ctx -> {
            Endpoint e = EndpointRoutes.endpoint(s, ctx);
            Window w = window(new Fields(ApiServer.body(ctx)));
            return accepted(tasks.recover(e.appId(), e.id(), w.since(), w.until(), actor(ctx)));
        });
        api.route(POST, base + "/replay-missing", Access.APP, ctx -> {
            Endpoint e = EndpointRoutes.endpoint(s, ctx);
            Window w = window(new Fields(ApiServer.body(ctx)));
            return accepted(tasks.replayMissing(e.appId(), e.id(), w.since(), w.until(), actor(ctx)));
        });
        api.route(POST, base + "/bulk-replay", Access.APP, this::bulkReplay);
    }

    private record Window(Instant since, Instant until) {}

    /** Reads {@code since} (required) and {@code until} of RecoverIn, ReplayIn and BulkReplayIn; validates nothing else. */
    private static Window window(Fields f) {
        String since = f.requiredString("since", 1, 64, null);
        String until = f.optionalString("until", 1, 64, null);
        f.validate();
        Instant sinceAt = Params.parseInstant(since, "body", "since");
        Instant untilAt = until == null ? null : Params.parseInstant(until, "body", "until");
        if (untilAt != null && !untilAt.isAfter(sinceAt)) {
            f.error("until", "must be after since");
            f.validate();
        }
        return new Window(sinceAt, untilAt);
    }

    private ApiServer.Reply bulkReplay(Context ctx) {
        Endpoint e = EndpointRoutes.endpoint(s, ctx);
        Fields f = new Fields(ApiServer.body(ctx));
        List<String> eventTypes = f.optionalIdList("eventTypes", 10_000, 256);
        String channel = f.optionalString("channel", 1, 128, Fields.ID_PATTERN);
        Integer status = f.optionalInt("status", 0, 3);
        Integer codeClass = f.optionalInt("statusCodeClass", 0, 500);
        if (codeClass != null && codeClass % 100 != 0) f.error("statusCodeClass", "must be 0, 100, 200, 300, 400 or 500");
        // Messages carry no tags here: replaying more than was asked for would be worse than refusing.
        if (f.has("tag") && !f.isNull("tag")) f.error("tag", "filtering by tag is not supported");
        if (status != null && status == 3) f.error("status", "deliveries in flight (3, sending) cannot be replayed");
        Window w = window(f);
        // Without a status, every finished delivery; pending ones (1) get a fresh budget; held ones wait for their endpoint.
        List<String> states = status == null ? List.of("delivered", "dead", "discarded") : switch (status) {
            case 0 -> List.of("delivered");
            case 1 -> List.of("pending");
            default -> List.of("dead", "discarded");
        };
        var filter = new ReplayStore.Filter(states, eventTypes, channel, codeClass);
        return accepted(tasks.bulkReplay(e.appId(), e.id(), w.since(), w.until(), filter, actor(ctx)));
    }

    static ApiServer.Reply accepted(Task t) {
        return ApiServer.Reply.of(202, TaskOut.of(t));
    }

    static String actor(Context ctx) {
        String scope = ctx.attribute(ApiServer.SCOPE_ATTR);
        return scope == null ? "unknown" : scope;
    }
}
