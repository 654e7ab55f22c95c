package dev.zerodrop.chaos;

import dev.zerodrop.core.Json;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * Sends events at a steady rate through the real HTTP API, spread over the given nodes, and records
 * each one in the ledger: attempted, then acknowledged (2xx), refused (4xx) or unanswered.
 */
public final class Sender implements AutoCloseable {
    private final Ledger ledger;
    private final Supplier<List<String>> nodes;
    private final String token;
    private final String appId;
    private final int ratePerSecond;
    private final BooleanSupplier outage;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2))
            .version(HttpClient.Version.HTTP_1_1).executor(Executors.newVirtualThreadPerTaskExecutor()).build();
    private final ExecutorService workers = Executors.newVirtualThreadPerTaskExecutor();
    private final Semaphore concurrency = new Semaphore(64);
    private final AtomicBoolean running = new AtomicBoolean(true);
    private final AtomicLong sequence = new AtomicLong();
    private final Thread pacer;
    private final String runId = Long.toString(System.nanoTime(), 36);

    /**
     * @param outage tells whether the database is known to be down right now; a 2xx then is a violation
     */
    public Sender(Ledger ledger, Supplier<List<String>> nodes, String token, String appId, int ratePerSecond, BooleanSupplier outage) {
        this.ledger = ledger;
        this.nodes = nodes;
        this.token = token;
        this.appId = appId;
        this.ratePerSecond = ratePerSecond;
        this.outage = outage;
        this.pacer = Thread.ofPlatform().name("chaos-sender").daemon().start(this::pace);
    }

    private void pace() {
        Pacer.run(ratePerSecond, running::get, () -> {
            if (!concurrency.tryAcquire()) return; // the system is slower than the rate: skip, do not queue
            long n = sequence.incrementAndGet();
            workers.execute(() -> {
                try {
                    sendOne(n);
                } finally {
                    concurrency.release();
                }
            });
        });
    }

    private void sendOne(long n) {
        String ref = runId + "-" + n;
        List<String> targets = nodes.get();
        if (targets.isEmpty()) return;
        String base = targets.get((int) (n % targets.size()));
        ledger.attempted(ref);
        String body = Json.write(java.util.Map.of("eventType", "payment.succeeded",
                "payload", java.util.Map.of("ref", ref, "amount", 100 + n % 9000, "currency", "USD")));
        boolean downBefore = outage.getAsBoolean();
        try {
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(base + "/api/v1/app/" + appId + "/msg"))
                    .timeout(Duration.ofSeconds(10)).header("Authorization", "Bearer " + token)
                    .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                    HttpResponse.BodyHandlers.ofString());
            int status = r.statusCode();
            if (status >= 200 && status < 300) {
                if (downBefore && outage.getAsBoolean()) ledger.okDuringOutage();
                ledger.acked(ref, Json.MAPPER.readTree(r.body()).get("id").asText());
            } else if (status >= 400 && status < 500) {
                ledger.refused(ref);
            } else {
                if (status == 503 && downBefore && outage.getAsBoolean()) ledger.unavailableDuringOutage();
                if (status == 503) ledger.unavailable(ref);
                else ledger.unanswered(ref);
            }
        } catch (Exception e) {
            if (e instanceof InterruptedException) Thread.currentThread().interrupt();
            ledger.unanswered(ref);
        }
    }

    public long sent() {
        return sequence.get();
    }

    @Override
    public void close() {
        running.set(false);
        try {
            pacer.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        workers.close(); // waits for the requests in flight to be answered or to time out
    }
}
