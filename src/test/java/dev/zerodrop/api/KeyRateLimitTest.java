package dev.zerodrop.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.zerodrop.Server;
import dev.zerodrop.config.Knob;
import dev.zerodrop.testing.TestDatabase;
import dev.zerodrop.testing.TestServer;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** ZERODROP_KEY_RATE_LIMIT: a token bucket per API token, 429 with Retry-After past it. */
class KeyRateLimitTest {
    @Test
    void aBucketAllowsOneSecondsWorthThenAsksToWaitAndRefills() {
        AtomicLong nanos = new AtomicLong(1_000_000_000L);
        KeyRateLimiter limiter = new KeyRateLimiter(3, nanos::get);
        for (int i = 0; i < 3; i++) assertThat(limiter.acquire("tok_a")).isZero();
        assertThat(limiter.acquire("tok_a")).isEqualTo(1);
        assertThat(limiter.acquire("tok_b")).as("another token has its own bucket").isZero();
        nanos.addAndGet(Duration.ofMillis(400).toNanos());
        assertThat(limiter.acquire("tok_a")).isZero();
        assertThat(limiter.acquire("tok_a")).isEqualTo(1);
        nanos.addAndGet(Duration.ofSeconds(10).toNanos());
        for (int i = 0; i < 3; i++) assertThat(limiter.acquire("tok_a")).as("a full bucket holds no more than 3").isZero();
        assertThat(limiter.acquire("tok_a")).isEqualTo(1);
    }

    @Test
    void aSlowRateAsksForALongerWait() {
        AtomicLong nanos = new AtomicLong();
        KeyRateLimiter limiter = new KeyRateLimiter(1, nanos::get);
        assertThat(limiter.acquire("k")).isZero();
        assertThat(limiter.acquire("k")).isEqualTo(1);
    }

    @Test
    void theApiAnswers429WithRetryAfterAndServesAgainLater() throws Exception {
        try (TestDatabase db = TestDatabase.create("ratelimit")) {
            Map<Knob, String> knobs = TestServer.defaults(db.url());
            knobs.put(Knob.DISPATCH, "false");
            knobs.put(Knob.KEY_RATE_LIMIT, "2");
            try (TestServer zd = TestServer.start(knobs, TestServer.quiet(Server.Options.defaults()))) {
                HttpClient http = HttpClient.newHttpClient();
                HttpRequest get = HttpRequest.newBuilder(URI.create(zd.base() + "/api/v1/app"))
                        .header("Authorization", "Bearer " + TestServer.TOKEN).build();
                HttpResponse<String>[] limited = new HttpResponse[1];
                await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(1)).until(() -> {
                    HttpResponse<String> r = http.send(get, HttpResponse.BodyHandlers.ofString());
                    if (r.statusCode() == 429) limited[0] = r;
                    return limited[0] != null;
                });
                assertThat(limited[0].headers().firstValue("Retry-After")).hasValueSatisfying(v -> assertThat(Long.parseLong(v)).isBetween(1L, 2L));
                assertThat(limited[0].body()).contains("\"code\":\"rate_limited\"").contains("2 requests per second");
                // The public routes carry no token and are not limited.
                assertThat(zd.call("GET", "/api/v1/health/ping", null).status()).isEqualTo(204);
                await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(200))
                        .until(() -> http.send(get, HttpResponse.BodyHandlers.ofString()).statusCode() == 200);
            }
        }
    }
}
