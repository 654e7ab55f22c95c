package dev.zerodrop.bench;

import dev.zerodrop.core.Json;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.eclipse.jetty.client.BufferingResponseListener;
import org.eclipse.jetty.client.BytesRequestContent;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.http.HttpMethod;

/**
 * Sends messages through the real HTTP API, either as fast as {@code producers} concurrent
 * producers allow (closed loop) or at a fixed rate (open loop), and records when each message was
 * acknowledged.
 */
final class LoadGenerator implements AutoCloseable {
    private final HttpClient client;
    private final String url;
    private final String token;
    private final byte[] payloadFiller;
    /**
     * Acknowledged message id → when its request was sent (System.nanoTime). Latencies are measured
     * from there: a delivery can reach the receiver before the producer has read its acknowledgement.
     */
    final Map<String, Long> acked = new ConcurrentHashMap<>();
    final AtomicLong errors = new AtomicLong();
    final AtomicLong skipped = new AtomicLong();
    private final AtomicBoolean running = new AtomicBoolean();
    private Thread driver;

    LoadGenerator(String baseUrl, String appId, String token, int payloadBytes, int maxConnections) throws Exception {
        this.url = baseUrl + "/api/v1/app/" + appId + "/msg";
        this.token = token;
        this.payloadFiller = "x".repeat(Math.max(0, payloadBytes - 60)).getBytes(StandardCharsets.UTF_8);
        client = new HttpClient();
        client.setMaxConnectionsPerDestination(maxConnections);
        client.setMaxRequestsQueuedPerDestination(1_000_000);
        client.setIdleTimeout(60_000);
        client.start();
    }

    private byte[] body(long n) {
        String head = "{\"eventType\":\"payment.succeeded\",\"payload\":{\"n\":" + n + ",\"pad\":\"";
        String tail = "\"}}";
        byte[] h = head.getBytes(StandardCharsets.UTF_8);
        byte[] t = tail.getBytes(StandardCharsets.UTF_8);
        byte[] out = new byte[h.length + payloadFiller.length + t.length];
        System.arraycopy(h, 0, out, 0, h.length);
        System.arraycopy(payloadFiller, 0, out, h.length, payloadFiller.length);
        System.arraycopy(t, 0, out, h.length + payloadFiller.length, t.length);
        return out;
    }

    private final AtomicLong sequence = new AtomicLong();

    private void send(Semaphore permits) {
        long n = sequence.incrementAndGet();
        long sentAt = System.nanoTime();
        client.newRequest(URI.create(url)).method(HttpMethod.POST).timeout(30, TimeUnit.SECONDS)
                .headers(h -> h.put("Authorization", "Bearer " + token))
                .body(new BytesRequestContent("application/json", body(n)))
                .send(new BufferingResponseListener(4 * 1024 * 1024) {
                    @Override
                    public void onComplete(org.eclipse.jetty.client.Result result) {
                        try {
                            if (result.isSucceeded() && result.getResponse().getStatus() == 202) {
                                String id = Json.MAPPER.readTree(getContent()).get("id").asText();
                                acked.put(id, sentAt);
                            } else {
                                errors.incrementAndGet();
                            }
                        } catch (Exception e) {
                            errors.incrementAndGet();
                        } finally {
                            permits.release();
                        }
                    }
                });
    }

    /** Closed loop: {@code producers} requests always outstanding. */
    void startClosedLoop(int producers) {
        running.set(true);
        Semaphore permits = new Semaphore(producers);
        this.permits = permits;
        this.permitCount = producers;
        driver = Thread.ofPlatform().name("bench-load").daemon().start(() -> {
            while (running.get()) {
                try {
                    if (permits.tryAcquire(100, TimeUnit.MILLISECONDS)) send(permits);
                } catch (InterruptedException e) {
                    return;
                }
            }
        });
    }

    /** Open loop: a request every 1/rate seconds, whatever the answers do (at most 4096 outstanding). */
    void startFixedRate(int perSecond) {
        running.set(true);
        Semaphore permits = new Semaphore(4096);
        this.permits = permits;
        this.permitCount = 4096;
        driver = Thread.ofPlatform().name("bench-load").daemon().start(() -> dev.zerodrop.chaos.Pacer.run(perSecond, running::get, () -> {
            if (permits.tryAcquire()) send(permits);
            else skipped.incrementAndGet(); // 4096 requests outstanding: the server is behind the rate
        }));
    }

    private volatile Semaphore permits;
    private volatile int permitCount;

    /** Stops sending and waits (up to 60 s) for the answers to requests already sent. */
    void stop() throws InterruptedException {
        running.set(false);
        if (driver != null) driver.join(5_000);
        if (permits != null && permits.tryAcquire(permitCount, 60, TimeUnit.SECONDS)) permits.release(permitCount);
    }

    @Override
    public void close() throws Exception {
        stop();
        client.stop();
    }

    static Duration since(long startNanos) {
        return Duration.ofNanos(System.nanoTime() - startNanos);
    }
}
