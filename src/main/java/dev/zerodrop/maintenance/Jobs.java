package dev.zerodrop.maintenance;

import dev.zerodrop.store.JobStore;
import java.time.Duration;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The cluster's periodic jobs. Every node schedules every job, and at each tick a job runs on the
 * one node that gets its lock and finds it due (see {@link JobStore#runIfDue}): one node at a time,
 * and when that node dies another takes over within the job's period. Jobs are idempotent, so a
 * run cut short by a crash is simply done again. Each job runs on its own virtual thread, so a slow
 * one (expiring a partition waits for running transactions) holds up no other.
 */
public final class Jobs implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Jobs.class);

    /** One job: how often, and what. */
    public record Job(String name, Duration period, Runnable work) {}

    private final JobStore store;
    private final InstantSource clock;
    private final String node;
    private final List<Job> jobs = new ArrayList<>();
    private final Set<String> running = ConcurrentHashMap.newKeySet();
    private final ScheduledExecutorService ticks = Executors.newSingleThreadScheduledExecutor(
            Thread.ofPlatform().name("zd-jobs").daemon().factory());
    private final ExecutorService workers = Executors.newVirtualThreadPerTaskExecutor();

    public Jobs(JobStore store, InstantSource clock, String node) {
        this.store = store;
        this.clock = clock;
        this.node = node;
    }

    public Jobs add(String name, Duration period, Runnable work) {
        jobs.add(new Job(name, period, work));
        return this;
    }

    /** Starts ticking: each job is looked at every {@code tick} (and never more often than its period). */
    public Jobs start(Duration tick) {
        jobs.add(new Job("job log prune", Duration.ofHours(1), () -> store.prune(clock.instant(), Duration.ofDays(1))));
        ticks.scheduleWithFixedDelay(this::tick, tick.toMillis(), tick.toMillis(), TimeUnit.MILLISECONDS);
        return this;
    }

    private void tick() {
        for (Job j : jobs) {
            if (!running.add(j.name())) continue; // still running here from an earlier tick
            workers.execute(() -> {
                try {
                    store.runIfDue(j.name(), j.period(), node, clock, j.work()::run);
                } catch (Exception e) {
                    log.warn("{} failed: {}", j.name(), e.getMessage());
                } finally {
                    running.remove(j.name());
                }
            });
        }
    }

    /** The id of this node in the job log. */
    public String node() {
        return node;
    }

    @Override
    public void close() {
        ticks.shutdownNow();
        workers.shutdownNow();
    }
}
