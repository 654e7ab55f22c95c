package dev.zerodrop.chaos;

import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The zero-drop ledger. The sender records every event it attempts and every one the API
 * acknowledged; the receiver records every verified delivery, keyed by the reference carried in the
 * payload, with the {@code webhook-id} it came with. After the system drains, {@link #check()} says
 * whether anything acknowledged was lost.
 */
public final class Ledger {
    private final Set<String> attempted = ConcurrentHashMap.newKeySet();
    private final Map<String, String> acked = new ConcurrentHashMap<>();      // ref -> message id
    private final Set<String> unanswered = ConcurrentHashMap.newKeySet();      // no 2xx: timeout, reset, 5xx
    private final Set<String> refused = ConcurrentHashMap.newKeySet();         // a definite 4xx: not stored
    private final Map<String, Set<String>> deliveredIds = new ConcurrentHashMap<>(); // ref -> webhook-ids seen
    private final Map<String, AtomicLong> copies = new ConcurrentHashMap<>();
    private final AtomicLong badSignatures = new AtomicLong();
    private final AtomicLong okDuringOutage = new AtomicLong();
    private final AtomicLong unavailableDuringOutage = new AtomicLong();
    // When things happened (System.nanoTime), for the scenarios that measure how long an outage lasts.
    private final Queue<Long> ackTimes = new ConcurrentLinkedQueue<>();
    private final Queue<Long> unavailableTimes = new ConcurrentLinkedQueue<>();
    private final Queue<Long> deliveryTimes = new ConcurrentLinkedQueue<>();

    public void attempted(String ref) {
        attempted.add(ref);
    }

    public void acked(String ref, String msgId) {
        ackTimes.add(System.nanoTime());
        acked.put(ref, msgId);
        unanswered.remove(ref);
    }

    public void unanswered(String ref) {
        if (!acked.containsKey(ref)) unanswered.add(ref);
    }

    /** The API answered 503: unanswered, and the moment is kept. */
    public void unavailable(String ref) {
        unavailableTimes.add(System.nanoTime());
        unanswered(ref);
    }

    public void refused(String ref) {
        refused.add(ref);
    }

    /** A verified delivery of {@code ref} carrying {@code webhookId}. */
    public void delivered(String ref, String webhookId) {
        deliveryTimes.add(System.nanoTime());
        deliveredIds.computeIfAbsent(ref, k -> ConcurrentHashMap.newKeySet()).add(webhookId);
        copies.computeIfAbsent(ref, k -> new AtomicLong()).incrementAndGet();
    }

    public void badSignature() {
        badSignatures.incrementAndGet();
    }

    /** The API answered 2xx while its database was down: an acknowledgement that cannot be durable. */
    public void okDuringOutage() {
        okDuringOutage.incrementAndGet();
    }

    /** The API answered 503 while its database was down, as it must. */
    public void unavailableDuringOutage() {
        unavailableDuringOutage.incrementAndGet();
    }

    public long unavailableDuringOutageCount() {
        return unavailableDuringOutage.get();
    }

    public int ackedCount() {
        return acked.size();
    }

    /** The message ids of every acknowledged event. */
    public List<String> ackedIds() {
        return List.copyOf(acked.values());
    }

    /** When each acknowledgement, 503 answer and verified delivery happened ({@link System#nanoTime()}), in order. */
    public List<Long> ackTimes() {
        return ackTimes.stream().sorted().toList();
    }

    public List<Long> unavailableTimes() {
        return unavailableTimes.stream().sorted().toList();
    }

    public List<Long> deliveryTimes() {
        return deliveryTimes.stream().sorted().toList();
    }

    /** True when every acknowledged event has been delivered at least once. */
    public boolean drained() {
        for (String ref : acked.keySet()) if (!deliveredIds.containsKey(ref)) return false;
        return true;
    }

    public Report check() {
        Set<String> lost = new HashSet<>(acked.keySet());
        lost.removeAll(deliveredIds.keySet());
        Set<String> unexpected = new HashSet<>(deliveredIds.keySet());
        unexpected.removeAll(attempted);
        long duplicates = 0;
        for (AtomicLong n : copies.values()) duplicates += n.get() - 1;
        long idMismatch = deliveredIds.values().stream().filter(ids -> ids.size() > 1).count();
        // A message whose webhook-id is known must arrive with exactly that id.
        for (var e : acked.entrySet()) {
            Set<String> ids = deliveredIds.get(e.getKey());
            if (ids != null && !ids.equals(Set.of(e.getValue()))) idMismatch++;
        }
        long recovered = unanswered.stream().filter(deliveredIds::containsKey).count();
        long refusedArrived = refused.stream().filter(deliveredIds::containsKey).count();
        long delivered = deliveredIds.size();
        return new Report(attempted.size(), acked.size(), unanswered.size(), refused.size(), delivered, lost.size(),
                unexpected.size() + refusedArrived, duplicates, idMismatch, recovered, badSignatures.get(), okDuringOutage.get(),
                Set.copyOf(lost.stream().limit(10).toList()));
    }

    /** The ledger's counts. {@link #ok()} holds when nothing was lost, invented or mislabelled. */
    public record Report(long attempted, long acked, long unanswered, long refused, long delivered, long lost, long unexpected,
                         long duplicates, long idMismatch, long recovered, long badSignatures, long okDuringOutage,
                         Set<String> lostSample) {
        public boolean ok() {
            return lost == 0 && okDuringOutage == 0 && okApartFromLoss();
        }

        /**
         * Nothing invented or mislabelled, whatever was lost: an acknowledgement while the database was
         * down is a loss too (it cannot have been durable), so it is not counted here.
         */
        public boolean okApartFromLoss() {
            return unexpected == 0 && idMismatch == 0 && badSignatures == 0;
        }

        public double duplicateRate() {
            return delivered == 0 ? 0 : (double) duplicates / delivered;
        }

        public String line(String scenario) {
            return counts(scenario) + (ok() ? " OK" : " FAILED lost e.g. " + lostSample);
        }

        /** The line without its verdict. */
        public String counts(String scenario) {
            return String.format("ledger %-8s attempted=%d acked=%d delivered=%d lost=%d unexpected=%d duplicates=%d (%.2f%%) "
                            + "id-mismatch=%d recovered=%d unanswered=%d refused=%d bad-signatures=%d 2xx-during-outage=%d",
                    scenario, attempted, acked, delivered, lost, unexpected, duplicates, 100 * duplicateRate(), idMismatch, recovered,
                    unanswered, refused, badSignatures, okDuringOutage);
        }
    }
}
