package dev.zerodrop.ingest;

import dev.zerodrop.store.DeliveryStore;
import dev.zerodrop.store.MessageStore;
import dev.zerodrop.store.MessageStore.Created;
import dev.zerodrop.store.MessageStore.Submission;
import dev.zerodrop.store.StoreUnavailableException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Group commit for ingest. Concurrent API requests hand their message to a queue; a few committer
 * threads each take whatever has queued up and store it in one transaction, so one durable commit
 * acknowledges many messages. Under light load a batch is a single message and nothing waits: a
 * committer takes the first submission at once.
 */
public final class GroupCommit implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(GroupCommit.class);

    private record Item(Submission submission, CompletableFuture<Created> done) {}

    /** Observes committed ingest transactions (metrics); must not throw. */
    @FunctionalInterface
    public interface Listener {
        Listener NONE = (batch, stored) -> {};

        /** A transaction of {@code batch} messages committed; {@code stored} of them were new (acknowledged). */
        void committed(int batch, int stored);
    }

    private final MessageStore store;
    private final int maxBatch;
    private final LinkedBlockingQueue<Item> queue = new LinkedBlockingQueue<>();
    private final AtomicBoolean running = new AtomicBoolean(true);
    private final List<Thread> committers = new ArrayList<>();
    private final Listener listener;
    private final Handoff handoff;

    /**
     * The local dispatcher, taking the deliveries of new messages straight from the commit that
     * created them (see {@link MessageStore#createAll(List, Instant)}).
     */
    public interface Handoff {
        Handoff NONE = new Handoff() {
            @Override
            public Instant leaseUntil(int messages) {
                return null;
            }

            @Override
            public void adopt(List<DeliveryStore.Claimed> leased, long leasedAtNanos) {}
        };

        /** Until when deliveries created now are leased to this node, or null to create them pending. */
        Instant leaseUntil(int messages);

        /** Takes deliveries created leased to this node, after their commit. */
        void adopt(List<DeliveryStore.Claimed> leased, long leasedAtNanos);
    }

    public GroupCommit(MessageStore store, int committers, int maxBatch) {
        this(store, committers, maxBatch, Listener.NONE, Handoff.NONE);
    }

    public GroupCommit(MessageStore store, int committers, int maxBatch, Listener listener, Handoff handoff) {
        this.store = store;
        this.maxBatch = maxBatch;
        this.listener = listener;
        this.handoff = handoff;
        for (int i = 0; i < committers; i++) {
            this.committers.add(Thread.ofPlatform().name("zd-ingest-" + i).daemon().start(this::loop));
        }
    }

    /** Queues a message; the future completes once its transaction has committed (or failed). */
    public CompletableFuture<Created> submit(Submission s) {
        CompletableFuture<Created> f = new CompletableFuture<>();
        if (!running.get()) {
            f.completeExceptionally(new StoreUnavailableException("shutting down", null));
            return f;
        }
        queue.add(new Item(s, f));
        return f;
    }

    private void loop() {
        List<Item> batch = new ArrayList<>(maxBatch);
        while (running.get() || !queue.isEmpty()) {
            try {
                Item first = queue.poll(100, TimeUnit.MILLISECONDS);
                if (first == null) continue;
                batch.add(first);
                queue.drainTo(batch, maxBatch - 1);
                commit(batch);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            } finally {
                batch.clear();
            }
        }
    }

    private void commit(List<Item> batch) {
        try {
            long leasedAt = System.nanoTime();
            Instant leaseUntil = handoff.leaseUntil(batch.size());
            MessageStore.Batch stored = store.createAll(batch.stream().map(Item::submission).toList(), leaseUntil);
            List<Created> results = stored.created();
            if (!stored.leased().isEmpty()) {
                try {
                    handoff.adopt(stored.leased(), leasedAt);
                } catch (RuntimeException e) {
                    // Stored and leased: the leases expire and the rescuer retries them. Nothing is lost.
                    log.error("could not hand {} new deliveries to the dispatcher; they will be retried when their lease expires",
                            stored.leased().size(), e);
                }
            }
            for (int i = 0; i < batch.size(); i++) batch.get(i).done().complete(results.get(i));
            try {
                listener.committed(batch.size(), (int) results.stream().filter(r -> r instanceof Created.Stored).count());
            } catch (RuntimeException e) {
                // an observer's failure is its own
            }
        } catch (StoreUnavailableException e) {
            for (Item it : batch) it.done().completeExceptionally(e);
        } catch (RuntimeException e) {
            if (batch.size() == 1) {
                batch.getFirst().done().completeExceptionally(e);
                return;
            }
            // One bad message must not fail its neighbours: commit them one by one.
            log.warn("a batch of {} messages failed ({}); storing them one by one", batch.size(), e.getMessage());
            for (Item it : batch) commit(new ArrayList<>(List.of(it)));
        }
    }

    @Override
    public void close() {
        running.set(false);
        for (Thread t : committers) {
            try {
                t.join(10_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        Item left;
        while ((left = queue.poll()) != null) left.done().completeExceptionally(new StoreUnavailableException("shutting down", null));
    }
}
