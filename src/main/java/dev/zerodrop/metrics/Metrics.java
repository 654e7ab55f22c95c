package dev.zerodrop.metrics;

import com.zaxxer.hikari.metrics.MetricsTrackerFactory;
import com.zaxxer.hikari.metrics.micrometer.MicrometerMetricsTrackerFactory;
import dev.zerodrop.core.DeliveryState;
import dev.zerodrop.delivery.SendResult;
import dev.zerodrop.dispatch.DispatchListener;
import dev.zerodrop.ingest.GroupCommit;
import dev.zerodrop.store.QueueStore;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Duration;
import java.time.InstantSource;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.IntSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node's metrics, in one Prometheus registry: the dispatcher's outcomes (as a
 * {@link DispatchListener}, so they can never break the hot path), ingest, the HTTP API, queue
 * depths refreshed in the background, the connection pool and the JVM. Every label has a small, fixed
 * set of values: never a message, delivery, attempt, endpoint or application id. One instance per
 * server; docs/metrics.md lists every metric.
 */
public final class Metrics implements DispatchListener, GroupCommit.Listener, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Metrics.class);

    /** The content type of {@link #scrape()}: Prometheus text format 0.0.4. */
    public static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";
    /** How often the queue gauges are refreshed from the database. */
    public static final Duration REFRESH = Duration.ofSeconds(5);

    private static final Duration[] REQUEST_BUCKETS = seconds(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60);
    private static final Duration[] ACCEPT_BUCKETS = seconds(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900,
            3600, 4 * 3600, 12 * 3600, 24 * 3600, 48 * 3600);
    private static final Duration[] API_BUCKETS = seconds(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10);

    private final PrometheusMeterRegistry registry;
    private final JvmGcMetrics gc = new JvmGcMetrics();
    private final Map<String, Counter> attempts = new ConcurrentHashMap<>();
    private final Map<String, Timer> http = new ConcurrentHashMap<>();
    private final Timer attemptDuration;
    private final Timer acceptToDelivered;
    private final Counter rescues;
    private final Map<String, Counter> internalErrors = new ConcurrentHashMap<>();
    private final Counter superseded;
    private final Counter claimed;
    private final Counter handedOff;
    private final Counter ingestAcknowledged;
    private final DistributionSummary ingestBatch;
    private final Counter refreshFailures;
    private volatile QueueStore.Depths depths = new QueueStore.Depths(0, 0, 0, 0, Duration.ZERO);
    private ScheduledExecutorService refresher;

    public Metrics() {
        registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        new JvmMemoryMetrics().bindTo(registry);
        gc.bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new ClassLoaderMetrics().bindTo(registry);
        attemptDuration = Timer.builder("zerodrop.attempt.duration").description("Duration of delivery HTTP attempts")
                .serviceLevelObjectives(REQUEST_BUCKETS).register(registry);
        acceptToDelivered = Timer.builder("zerodrop.accept.to.delivered")
                .description("From a message's acceptance to the recorded delivered outcome of each of its deliveries")
                .serviceLevelObjectives(ACCEPT_BUCKETS).register(registry);
        rescues = Counter.builder("zerodrop.lease.rescues").description("Expired leases returned by the rescuer with a lost-lease attempt")
                .register(registry);
        // Every combination the dispatcher can record starts at zero, so rate() and alerts see it from the start.
        attempts.put("delivered null", attemptCounter("delivered", "none"));
        for (SendResult.ErrorClass e : SendResult.ErrorClass.values()) {
            attempts.put("retry " + e.label(), attemptCounter("retry", e.label()));
            attempts.put("dead " + e.label(), attemptCounter("dead", e.label()));
        }
        attempts.put("held http", attemptCounter("held", "http"));
        for (String stage : new String[] {"send", "record", "secret"}) {
            internalErrors.put(stage, Counter.builder("zerodrop.internal.errors").tag("stage", stage)
                    .description("Unexpected errors of ZeroDrop's own while sending or recording a delivery, each recorded as an internal attempt")
                    .register(registry));
        }
        superseded = Counter.builder("zerodrop.superseded.outcomes")
                .description("Late outcomes that lost their fence (the lease was taken over) and changed nothing").register(registry);
        claimed = Counter.builder("zerodrop.claimed").description("Deliveries leased by this node's claim loop").register(registry);
        handedOff = Counter.builder("zerodrop.handed.off")
                .description("Deliveries leased to this node in the commit that accepted their message, sent without a claim").register(registry);
        ingestAcknowledged = Counter.builder("zerodrop.ingest.acknowledged")
                .description("Messages committed and acknowledged by the ingest group commit").register(registry);
        ingestBatch = DistributionSummary.builder("zerodrop.ingest.batch.size").description("Messages per ingest transaction")
                .serviceLevelObjectives(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024).register(registry);
        refreshFailures = Counter.builder("zerodrop.queue.refresh.failures")
                .description("Refreshes of the queue gauges that failed (the gauges keep their last values)").register(registry);
        for (String state : new String[] {"pending", "sending", "held", "dead"}) {
            Gauge.builder("zerodrop.deliveries", this, m -> m.depth(state)).tag("state", state).strongReference(true)
                    .description("Deliveries in this state, in the whole database (refreshed every 5 s)").register(registry);
        }
        Gauge.builder("zerodrop.dlq.depth", this, m -> m.depths.dead()).strongReference(true)
                .description("Dead deliveries waiting in the dead-letter queue (refreshed every 5 s)").register(registry);
        Gauge.builder("zerodrop.oldest.pending.age", this, m -> m.depths.oldestDueAge().toMillis() / 1000.0).baseUnit("seconds").strongReference(true)
                .description("How long the oldest due pending delivery has waited past its due time (refreshed every 5 s)")
                .register(registry);
    }

    private static Duration[] seconds(double... s) {
        Duration[] d = new Duration[s.length];
        for (int i = 0; i < s.length; i++) d[i] = Duration.ofNanos(Math.round(s[i] * 1e9));
        return d;
    }

    public MeterRegistry registry() {
        return registry;
    }

    /** Every metric in Prometheus text format. */
    public String scrape() {
        return registry.scrape();
    }

    /** Connection pool metrics ({@code hikaricp_*}) for HikariCP. */
    public MetricsTrackerFactory hikari() {
        return new MicrometerMetricsTrackerFactory(registry);
    }

    /** A gauge of the deliveries this node is sending right now. */
    public void inFlight(IntSupplier inFlight) {
        // A supplier gauge holds its supplier strongly; a state-object gauge would let this lambda be collected (NaN).
        Gauge.builder("zerodrop.in.flight", inFlight::getAsInt)
                .description("Delivery requests this node has in flight").register(registry);
    }

    /** A gauge of the API requests waiting for an earlier request with the same Idempotency-Key. */
    public void idempotencyWaiting(IntSupplier waiting) {
        Gauge.builder("zerodrop.idempotency.waiting", waiting::getAsInt)
                .description("API requests waiting for an earlier request with the same Idempotency-Key to finish").register(registry);
    }

    /**
     * Refreshes the queue gauges from the database now and then every {@link #REFRESH}, on a
     * background thread, so a scrape never queries the database.
     */
    public synchronized void watchQueue(QueueStore queue, InstantSource clock) {
        if (refresher != null) throw new IllegalStateException("the queue is already watched");
        refresher = Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().name("zd-metrics").daemon().factory());
        refresher.scheduleWithFixedDelay(() -> {
            try {
                depths = queue.depths(clock.instant());
            } catch (RuntimeException e) {
                refreshFailures.increment();
                log.debug("refreshing the queue gauges failed: {}", e.getMessage());
            }
        }, 0, REFRESH.toMillis(), TimeUnit.MILLISECONDS);
    }

    private double depth(String state) {
        QueueStore.Depths d = depths;
        return switch (state) {
            case "pending" -> d.pending();
            case "sending" -> d.sending();
            case "held" -> d.held();
            default -> d.dead();
        };
    }

    /** One HTTP API request: {@code route} is the matched route template, never the raw path. */
    public void httpRequest(String method, String route, int status, long nanos) {
        String key = method + ' ' + route + ' ' + status;
        http.computeIfAbsent(key, k -> Timer.builder("zerodrop.http.server.requests").description("HTTP API requests")
                        .tag("method", method).tag("route", route).tag("status", Integer.toString(status))
                        .serviceLevelObjectives(API_BUCKETS).register(registry))
                .record(nanos, TimeUnit.NANOSECONDS);
    }

    // ---- DispatchListener -----------------------------------------------------------------------

    @Override
    public void claimed(int count) {
        claimed.increment(count);
    }

    @Override
    public void handedOff(int count) {
        handedOff.increment(count);
    }

    @Override
    public void completed(int committed, int superseded) {
        if (superseded > 0) this.superseded.increment(superseded);
    }

    @Override
    public void rescued(int count) {
        rescues.increment(count);
    }

    @Override
    public void attempted(DeliveryState state, String errorClass, Duration duration, Duration sinceAccepted) {
        String outcome = state == DeliveryState.PENDING ? "retry" : state.label();
        attempts.computeIfAbsent(outcome + ' ' + errorClass, k -> attemptCounter(outcome, errorClass == null ? "none" : errorClass))
                .increment();
        boolean lostLease = SendResult.ErrorClass.LOST_LEASE.label().equals(errorClass);
        if (!lostLease) attemptDuration.record(duration); // no request was timed
        if (state == DeliveryState.DELIVERED && !sinceAccepted.isNegative()) acceptToDelivered.record(sinceAccepted);
    }

    @Override
    public void internalError(String stage) {
        internalErrors.computeIfAbsent(stage, k -> Counter.builder("zerodrop.internal.errors").tag("stage", k).register(registry)).increment();
    }

    private Counter attemptCounter(String outcome, String errorClass) {
        return Counter.builder("zerodrop.attempts").description("Recorded delivery attempts by outcome and error class")
                .tag("outcome", outcome.toLowerCase(Locale.ROOT)).tag("error_class", errorClass).register(registry);
    }

    // ---- GroupCommit.Listener -------------------------------------------------------------------

    @Override
    public void committed(int batch, int stored) {
        ingestBatch.record(batch);
        ingestAcknowledged.increment(stored);
    }

    /** Stops the queue refresher and unbinds the GC listeners; the registry can still be scraped. */
    @Override
    public synchronized void close() {
        if (refresher != null) refresher.shutdownNow();
        gc.close();
    }
}
