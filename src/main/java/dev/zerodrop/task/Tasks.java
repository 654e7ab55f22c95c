package dev.zerodrop.task;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import dev.zerodrop.core.Ids;
import dev.zerodrop.core.Json;
import dev.zerodrop.store.ContentStore;
import dev.zerodrop.store.Page;
import dev.zerodrop.store.PageRequest;
import dev.zerodrop.store.ReplayStore;
import dev.zerodrop.store.StoreUnavailableException;
import dev.zerodrop.store.TaskStore;
import dev.zerodrop.store.TaskStore.Task;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Background tasks: recover, replay-missing, bulk replay and expunge-all-contents. A task is a row
 * (see {@link TaskStore}); the node that accepted it runs it at once on a virtual thread, in batches
 * of {@value #BATCH} rows, each committed with the task's progress and renewing its lease. Every node
 * also looks for tasks whose lease expired (their node died, or stopped and released them) and runs
 * them on from where they stopped; a task abandoned {@value #MAX_TAKEOVERS} times is failed.
 */
public final class Tasks implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Tasks.class);
    static final int BATCH = 1_000;
    static final int MAX_TAKEOVERS = 5;
    static final Duration LEASE = Duration.ofSeconds(60);
    private static final Duration RESCUE_EVERY = Duration.ofSeconds(5);
    /** Batches of this node's tasks that run at once: each holds a database connection. */
    private static final int CONCURRENT_BATCHES = 2;
    private static final TypeReference<LinkedHashMap<String, Object>> MAP = new TypeReference<>() {};

    /** The task types, with Svix's names. */
    public enum Kind {
        RECOVER("endpoint.recover"), REPLAY_MISSING("endpoint.replay"), BULK_REPLAY("endpoint.bulk-replay"),
        PURGE_CONTENT("application.purge_content");

        public final String wire;

        Kind(String wire) {
            this.wire = wire;
        }

        public static Optional<Kind> of(String wire) {
            for (Kind k : values()) if (k.wire.equals(wire)) return Optional.of(k);
            return Optional.empty();
        }
    }

    /** Told when a task ends, finished or failed (operational webhooks). */
    @FunctionalInterface
    public interface Listener {
        Listener NONE = t -> {};

        void ended(Task task);
    }

    /**
     * What a task was asked to do, as stored with it. {@code below} bounds the message scan (an id),
     * when ids sort by time; {@code startedAt} is when the task was created.
     */
    record Params(Instant since, Instant until, Instant startedAt, String below, List<String> states, List<String> eventTypes,
                  String channel, Integer statusCodeClass) {}

    private final TaskStore store;
    private final ReplayStore replays;
    private final ContentStore contents;
    private final Duration gap;
    private final Runnable wake;
    private final InstantSource clock;
    private final Listener listener;
    private final String owner = "node-" + UUID.randomUUID().toString().substring(0, 8);
    private final Semaphore batches = new Semaphore(CONCURRENT_BATCHES);
    private final Set<Thread> runners = ConcurrentHashMap.newKeySet();
    private final ScheduledExecutorService rescuer;
    private volatile boolean closing;

    /**
     * @param replayRate deliveries a replay makes due per second per endpoint ({@code ZERODROP_REPLAY_RATE})
     * @param wake tells the local dispatcher that work is due
     */
    public Tasks(TaskStore store, ReplayStore replays, ContentStore contents, int replayRate, Runnable wake, InstantSource clock,
                 Listener listener) {
        this.store = store;
        this.replays = replays;
        this.contents = contents;
        this.gap = Duration.ofNanos(1_000_000_000L / Math.max(1, replayRate));
        this.wake = wake;
        this.clock = clock;
        this.listener = listener;
        this.rescuer = Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().name("zd-tasks").daemon().factory());
    }

    /** Starts looking for abandoned tasks (every few seconds, the first time at once). */
    public Tasks start() {
        rescuer.scheduleWithFixedDelay(this::rescue, 0, RESCUE_EVERY.toMillis(), TimeUnit.MILLISECONDS);
        return this;
    }

    // ---- starting tasks -------------------------------------------------------------------------

    /** Recovers the endpoint's dead deliveries of messages created in [since, until) (until null: no end). */
    public Task recover(String appId, String endpointId, Instant since, Instant until, String actor) {
        return begin(Kind.RECOVER, appId, endpointId, since, until, null, actor, "sent");
    }

    /** Creates the endpoint's missing deliveries of messages created in [since, until) (until null: until now). */
    public Task replayMissing(String appId, String endpointId, Instant since, Instant until, String actor) {
        return begin(Kind.REPLAY_MISSING, appId, endpointId, since, until, null, actor, "sent");
    }

    /** Sends again the endpoint's deliveries of messages created in [since, until) that match the filter. */
    public Task bulkReplay(String appId, String endpointId, Instant since, Instant until, ReplayStore.Filter filter, String actor) {
        return begin(Kind.BULK_REPLAY, appId, endpointId, since, until, filter, actor, "sent");
    }

    /** Expunges the content of every message of the application created until now. */
    public Task purgeContent(String appId, String actor) {
        return begin(Kind.PURGE_CONTENT, appId, null, null, null, null, actor, "purged");
    }

    private Task begin(Kind kind, String appId, String endpointId, Instant since, Instant until, ReplayStore.Filter filter,
                       String actor, String counting) {
        Instant now = clock.instant();
        boolean scansByTime = kind != Kind.RECOVER && replays.idsSortByTime();
        Instant end = until == null && kind != Kind.RECOVER ? now : until;
        String below = scansByTime && end != null ? Ids.messageFloor(end.plusMillis(1)) : null;
        // An exclusive position just below the window's first possible id, or below every id.
        String position = scansByTime && since != null ? Ids.messageFloor(since.minusMillis(1)) : "";
        Params p = new Params(since, end, now, below, filter == null ? null : filter.states(), filter == null ? null : filter.eventTypes(),
                filter == null ? null : filter.channel(), filter == null ? null : filter.statusCodeClass());
        Task t = store.create(Ids.task(now), kind.wire, appId, endpointId, actor, Json.write(p), Json.write(initialData(kind)),
                position, owner, now.plus(LEASE), now);
        log.info("{} started task {} ({}) for {}", actor, t.id(), kind.wire, endpointId == null ? appId : endpointId);
        run(t);
        return t;
    }

    /** The counters a task reports, all zero. Svix reports {@code messagesSent} or {@code messagesPurged}. */
    private static Map<String, Object> initialData(Kind kind) {
        Map<String, Object> d = new LinkedHashMap<>();
        switch (kind) {
            case PURGE_CONTENT -> {
                d.put("messagesPurged", 0L);
                d.put("deliveriesDiscarded", 0L);
            }
            default -> {
                d.put("messagesSent", 0L);
                d.put("messagesHeld", 0L);
                d.put("skippedExpunged", 0L);
            }
        }
        d.put("scanned", 0L);
        return d;
    }

    public Optional<Task> find(String id) {
        return store.find(id);
    }

    /** Tasks by creation, optionally of one status, one kind and one application. */
    public Page<Task> list(String status, String kind, String appId, PageRequest page) {
        return store.list(status, kind, appId, page);
    }

    // ---- running tasks --------------------------------------------------------------------------

    private void run(Task t) {
        if (closing) return; // its lease expires and a node that is not stopping takes it over
        Thread thread = Thread.ofVirtual().name("zd-task-" + t.id()).unstarted(() -> drive(t));
        runners.add(thread);
        thread.start();
    }

    /** Runs a task's batches until it is done, its lease is lost, it fails, or this node stops. */
    private void drive(Task t) {
        Kind kind = Kind.of(t.task()).orElseThrow();
        Map<String, Object> data = parse(t.data());
        String position = t.position();
        try {
            Params p = Json.MAPPER.readValue(t.params(), Params.class);
            while (!closing) {
                Instant now = clock.instant();
                Map<String, Object> next = new LinkedHashMap<>(data);
                String[] nextPosition = {position};
                boolean[] done = {false};
                long[] sent = {0};
                batches.acquireUninterruptibly();
                boolean leased;
                try {
                    leased = store.step(t.id(), t.leaseToken(), now.plus(LEASE), now, c -> {
                        Step s = batch(c, kind, t, p, nextPosition[0], now);
                        s.counts().forEach((k, v) -> next.merge(k, v, (a, b) -> ((Number) a).longValue() + ((Number) b).longValue()));
                        nextPosition[0] = s.position();
                        done[0] = s.done();
                        sent[0] = s.counts().getOrDefault("messagesSent", 0L);
                        return new TaskStore.Progress(s.position(), Json.write(next), s.done());
                    });
                } finally {
                    batches.release();
                }
                if (!leased) {
                    log.info("task {} was taken over by another node; this node stops running it", t.id());
                    return;
                }
                data = next;
                position = nextPosition[0];
                if (sent[0] > 0) wake.run();
                if (done[0]) {
                    log.info("task {} ({}) finished: {}", t.id(), kind.wire, Json.write(data));
                    ended(t.id());
                    return;
                }
            }
            store.release(t.id(), t.leaseToken(), clock.instant());
        } catch (StoreUnavailableException e) {
            // Left running: its lease expires, and a node takes it over once the database is back.
            log.warn("task {} paused: {}", t.id(), e.getMessage());
        } catch (Exception e) {
            log.error("task {} ({}) failed", t.id(), kind.wire, e);
            Map<String, Object> failed = new LinkedHashMap<>(data);
            failed.put("error", e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage());
            try {
                if (store.fail(t.id(), t.leaseToken(), Json.write(failed), clock.instant())) ended(t.id());
            } catch (RuntimeException f) {
                log.warn("task {}: could not record its failure: {}", t.id(), f.getMessage());
            }
        } finally {
            runners.remove(Thread.currentThread());
        }
    }

    /** One batch's outcome: counters to add, where the next batch starts, and whether the task is done. */
    private record Step(Map<String, Long> counts, String position, boolean done) {}

    private Step batch(Connection c, Kind kind, Task t, Params p, String position, Instant now) throws SQLException {
        String reason = "task " + t.id();
        return switch (kind) {
            case RECOVER -> {
                ReplayStore.Batch b = replays.recover(c, t.appId(), t.endpointId(), p.since(), p.until(), p.startedAt(), BATCH, gap,
                        t.actor(), reason, now);
                boolean done = b.scanned() < BATCH;
                long skipped = done ? replays.unrecoverable(c, t.appId(), t.endpointId(), p.since(), p.until(), p.startedAt()) : 0;
                yield new Step(counts(b.scanned(), b.sent(), b.held(), skipped), position, done);
            }
            case REPLAY_MISSING -> {
                ReplayStore.Batch b = replays.replayMissing(c, t.appId(), t.endpointId(), position, p.below(), p.since(), p.until(),
                        BATCH, gap, t.actor(), reason, now);
                yield new Step(counts(b.scanned(), b.sent(), b.held(), b.expunged()), b.last() == null ? position : b.last(),
                        b.scanned() < BATCH);
            }
            case BULK_REPLAY -> {
                var f = new ReplayStore.Filter(p.states(), p.eventTypes(), p.channel(), p.statusCodeClass());
                ReplayStore.Batch b = replays.bulkReplay(c, t.appId(), t.endpointId(), position, p.below(), p.since(), p.until(), f,
                        BATCH, gap, t.actor(), reason, now);
                yield new Step(counts(b.scanned(), b.sent(), b.held(), b.expunged()), b.last() == null ? position : b.last(),
                        b.scanned() < BATCH);
            }
            case PURGE_CONTENT -> {
                ContentStore.Purged b = contents.purge(c, t.appId(), position, p.startedAt(), BATCH, t.actor(), now);
                Map<String, Long> n = new LinkedHashMap<>();
                n.put("messagesPurged", b.purged());
                n.put("deliveriesDiscarded", b.discarded());
                n.put("scanned", (long) b.scanned());
                yield new Step(n, b.last() == null ? position : b.last(), b.scanned() < BATCH);
            }
        };
    }

    private static Map<String, Long> counts(long scanned, long sent, long held, long expunged) {
        Map<String, Long> n = new LinkedHashMap<>();
        n.put("messagesSent", sent);
        n.put("messagesHeld", held);
        n.put("skippedExpunged", expunged);
        n.put("scanned", scanned);
        return n;
    }

    private void ended(String id) {
        try {
            store.find(id).ifPresent(listener::ended);
        } catch (RuntimeException e) {
            log.warn("task {}: could not announce its end: {}", id, e.getMessage());
        }
    }

    /** Takes over tasks whose lease expired, and fails those abandoned too often. */
    void rescue() {
        if (closing) return;
        try {
            Instant now = clock.instant();
            TaskStore.Takeover t = store.takeOver(owner, now.plus(LEASE), now, 10, MAX_TAKEOVERS);
            for (Task failed : t.failed()) {
                log.warn("task {} ({}) failed: abandoned {} times", failed.id(), failed.task(), failed.takeovers() + 1);
                listener.ended(failed);
            }
            for (Task taken : t.taken()) {
                log.info("taking over task {} ({}), abandoned by its node", taken.id(), taken.task());
                run(taken);
            }
        } catch (RuntimeException e) {
            log.warn("looking for abandoned tasks failed: {}", e.getMessage());
        }
    }

    private static Map<String, Object> parse(String json) {
        try {
            return Json.MAPPER.readValue(json, MAP);
        } catch (JsonProcessingException e) {
            return new LinkedHashMap<>();
        }
    }

    /**
     * Stops: running tasks finish their current batch and give their lease up, so another node (or
     * this one, restarted) takes them over at once.
     */
    @Override
    public void close() {
        closing = true;
        rescuer.shutdownNow();
        for (Thread t : List.copyOf(runners)) {
            try {
                if (!t.join(Duration.ofSeconds(10))) log.warn("{} did not stop in time; its lease will expire", t.getName());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }
}
