package dev.zerodrop.dispatch;

import dev.zerodrop.delivery.WebhookClient;
import dev.zerodrop.ingest.GroupCommit;
import dev.zerodrop.store.DeliveryStore;
import dev.zerodrop.store.DeliveryStore.Claimed;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.random.RandomGenerator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.spi.LoggingEventBuilder;

/**
 * The heart of ZeroDrop, in four loops: the {@link Claimer} leases due deliveries in batches; the
 * {@link Sender} sends each on its own virtual thread; the {@link Completer} writes outcomes in
 * batches, fenced by lease token; the {@link Rescuer} returns expired leases. What becomes of a
 * delivery after each attempt is decided by {@link Outcomes}. No database transaction is open during
 * an HTTP call. Wall time comes from one {@link InstantSource}, waits from one {@link Ticker}.
 */
public final class Dispatcher implements AutoCloseable, GroupCommit.Handoff {
    private static final Logger log = LoggerFactory.getLogger(Dispatcher.class);

    /** Settings of the dispatcher. */
    public record Settings(Duration lease, Duration requestTimeout, int claimBatch, int maxInFlight, int endpointMaxInFlight,
                           Duration pollInterval, Duration shutdownGrace, boolean svixHeaders) {

        /**
         * How long after its claim a request may still start: waiting for the endpoint's rate limit
         * must leave the whole request timeout, and a margin, inside the lease.
         */
        Duration startWindow() {
            Duration slack = lease.minus(requestTimeout);
            Duration margin = slack.dividedBy(2).compareTo(Duration.ofSeconds(5)) < 0 ? slack.dividedBy(2) : Duration.ofSeconds(5);
            return slack.minus(margin);
        }
    }

    /** A test seam: runs after the HTTP call and before the outcome is queued (to force a stale worker, or an error). */
    public interface SendHook {
        SendHook NONE = c -> {};

        void afterSend(Claimed claimed);
    }

    private final DeliveryStore store;
    private final Settings settings;
    private final InstantSource clock;
    private final DispatchListener listener;
    private final Waiter claims;
    private final Waiter rescues;
    private final Sender sender;
    private final Completer completer;
    private final Claimer claimer;
    private final Rescuer rescuer;

    private final AtomicBoolean running = new AtomicBoolean();
    private final AtomicBoolean claiming = new AtomicBoolean();
    private Thread claimThread;
    private Thread completerThread;
    private Thread rescuerThread;

    public Dispatcher(DeliveryStore store, WebhookClient client, RetryPolicy policy, Settings settings,
                      InstantSource clock, DispatchListener listener, SendHook hook) {
        this(store, client, policy, settings, clock, Ticker.SYSTEM, listener, hook);
    }

    public Dispatcher(DeliveryStore store, WebhookClient client, RetryPolicy policy, Settings settings,
                      InstantSource clock, Ticker ticker, DispatchListener listener, SendHook hook) {
        this.store = store;
        this.settings = settings;
        this.clock = clock;
        this.listener = DispatchListener.all(listener); // an observer that throws must not fail a recorded batch
        this.claims = new Waiter(ticker);
        this.rescues = new Waiter(ticker);
        Outcomes outcomes = new Outcomes(policy, RandomGenerator.getDefault());
        this.completer = new Completer(store, outcomes, clock, ticker, this.listener, claims);
        this.sender = new Sender(store, client, outcomes, completer, settings, clock, ticker, this.listener, hook, claims);
        this.claimer = new Claimer(store, sender, settings, clock, ticker, this.listener, claims);
        this.rescuer = new Rescuer(store, outcomes, clock, this.listener, claims, rescues, settings.lease());
    }

    public void start() {
        if (!running.compareAndSet(false, true)) return;
        claiming.set(true);
        claimThread = Thread.ofPlatform().name("zd-claim").daemon().start(() -> claimer.run(claiming::get));
        completerThread = Thread.ofPlatform().name("zd-complete").daemon().start(() -> completer.run(running::get));
        rescuerThread = Thread.ofPlatform().name("zd-rescue").daemon().start(() -> rescuer.run(running::get));
    }

    /** Tells the claim loop that new work may be due now (called by ingest, resend, recover). */
    public void wake() {
        claims.wake();
    }

    /**
     * Until when the deliveries of messages accepted now may be leased to this node at creation, or
     * null when this node is not taking work or has fewer than {@code messages} free in-flight slots
     * (they are then created pending, for any node's claim loop).
     */
    @Override
    public Instant leaseUntil(int messages) {
        if (!claiming.get() || sender.free() < messages) return null;
        return clock.instant().plus(settings.lease());
    }

    /**
     * Sends deliveries that ingest created leased to this node (after their commit), as if the claim
     * loop had claimed them at {@code leasedAtNanos}. If this node has stopped taking work, their
     * leases are released for any node to claim.
     */
    @Override
    public void adopt(List<Claimed> leased, long leasedAtNanos) {
        if (leased.isEmpty()) return;
        listener.handedOff(leased.size());
        if (!claiming.get()) {
            store.release(leased, null, clock.instant());
            return;
        }
        if (sender.dispatch(leased, leasedAtNanos) < leased.size()) wake();
    }

    /** Deliveries this node is sending right now. */
    public int inFlight() {
        return sender.sending();
    }

    /**
     * Stops claiming, lets in-flight requests finish within the shutdown grace, records their
     * outcomes, and releases the leases of any still running so another node can take them at once.
     */
    @Override
    public void close() {
        if (!running.get()) return;
        claiming.set(false);
        claims.close();
        join(claimThread, Duration.ofSeconds(10));
        try {
            if (!sender.drain(settings.shutdownGrace())) sender.abort();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        List<Claimed> unfinished = sender.unfinished();
        if (!unfinished.isEmpty()) {
            log.info("releasing {} in-flight deliveries at shutdown", unfinished.size());
            try {
                store.release(unfinished, clock.instant(), clock.instant());
            } catch (RuntimeException e) {
                log.warn("could not release in-flight leases; they will expire: {}", e.getMessage());
            }
        }
        running.set(false);
        join(completerThread, Duration.ofSeconds(10));
        try {
            store.flushSli(); // the indicator events of the last outcomes
        } catch (RuntimeException e) {
            log.warn("could not write the last SLO indicator events: {}", e.getMessage());
        }
        rescues.close();
        join(rescuerThread, Duration.ofSeconds(5));
        sender.close();
    }

    /** Puts a delivery's ids on a log line as key-value pairs (JSON logs carry them as fields). */
    static LoggingEventBuilder ids(LoggingEventBuilder b, long deliveryId, String msgId, String endpointId, String appId) {
        return b.addKeyValue("deliveryId", deliveryId).addKeyValue("msgId", msgId).addKeyValue("endpointId", endpointId)
                .addKeyValue("appId", appId);
    }

    static Duration min(Duration a, Duration b) {
        return a.compareTo(b) <= 0 ? a : b;
    }

    private static void join(Thread t, Duration timeout) {
        if (t == null) return;
        try {
            t.join(timeout);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
