package dev.zerodrop.delivery;

import static org.assertj.core.api.Assertions.assertThat;

import dev.zerodrop.config.Cidr;
import dev.zerodrop.chaos.Receiver;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The outbound client against real receivers on 127.0.0.1. */
class WebhookClientTest {
    static WebhookClient client(List<Cidr> allowed) {
        return new WebhookClient(new AddressGuard(allowed), Duration.ofSeconds(1), Duration.ofSeconds(1), 20_480, 8);
    }

    @Test
    void refusesLoopbackUnlessAllowListedCheckedOnTheResolvedAddress() throws Exception {
        try (Receiver r = Receiver.alwaysOk(); WebhookClient strict = client(List.of())) {
            // "localhost" is a name: the guard judges the address it resolves to, right before connecting.
            for (String url : List.of(r.url("/x"), "http://localhost:" + r.port() + "/x")) {
                SendResult result = strict.post(url, Map.of(), "{}".getBytes());
                assertThat(result).isInstanceOf(SendResult.Failed.class);
                assertThat(((SendResult.Failed) result).errorClass()).isEqualTo(SendResult.ErrorClass.BLOCKED);
            }
            assertThat(r.requests()).isEmpty();
        }
        try (Receiver r = Receiver.alwaysOk(); WebhookClient open = client(List.of(Cidr.parse("127.0.0.0/8")))) {
            assertThat(open.post("http://localhost:" + r.port() + "/x", Map.of(), "{}".getBytes())).isInstanceOf(SendResult.Delivered.class);
            assertThat(r.requests()).hasSize(1);
        }
    }

    @Test
    void capsTheResponseReadAndSendsCustomHeaders() throws Exception {
        String huge = "x".repeat(5_000_000);
        try (Receiver r = new Receiver((req, n) -> new Receiver.Behaviour.Respond(200, huge, Map.of()));
             WebhookClient c = client(List.of(Cidr.parse("127.0.0.0/8")))) {
            SendResult result = c.post(r.url("/big"), Map.of("X-Custom", "42"), "{\"a\":1}".getBytes());
            assertThat(result).isInstanceOf(SendResult.Delivered.class);
            assertThat(result.body()).hasSize(20_480);
            assertThat(r.requests().getFirst().header("x-custom")).isEqualTo("42");
            assertThat(r.requests().getFirst().bodyText()).isEqualTo("{\"a\":1}");
        }
    }

    @Test
    void classifiesFailuresAndReadsRetryAfter() throws Exception {
        try (Receiver r = new Receiver((req, n) -> switch (req.path()) {
            case "/busy" -> new Receiver.Behaviour.Respond(429, "slow down", Map.of("Retry-After", "120"));
            case "/hang" -> new Receiver.Behaviour.Hang();
            case "/reset" -> new Receiver.Behaviour.Reset();
            default -> new Receiver.Behaviour.Respond(301, "", Map.of("Location", "http://127.0.0.1:1/"));
        }); WebhookClient c = client(List.of(Cidr.parse("127.0.0.0/8")))) {
            var busy = (SendResult.Failed) c.post(r.url("/busy"), Map.of(), "{}".getBytes());
            assertThat(busy.errorClass()).isEqualTo(SendResult.ErrorClass.HTTP);
            assertThat(busy.status()).isEqualTo(429);
            assertThat(busy.retryAfter()).isEqualTo(Duration.ofSeconds(120));
            var hang = (SendResult.Failed) c.post(r.url("/hang"), Map.of(), "{}".getBytes());
            assertThat(hang.errorClass()).isEqualTo(SendResult.ErrorClass.TIMEOUT);
            assertThat(hang.durationMs()).isBetween(900, 5_000);
            assertThat(((SendResult.Failed) c.post(r.url("/reset"), Map.of(), "{}".getBytes())).errorClass()).isEqualTo(SendResult.ErrorClass.RESET);
            var moved = (SendResult.Failed) c.post(r.url("/moved"), Map.of(), "{}".getBytes());
            assertThat(moved.status()).isEqualTo(301);
            assertThat(r.requests()).hasSize(4); // the redirect was not followed
            int closedPort;
            try (var s = new java.net.ServerSocket(0)) {
                closedPort = s.getLocalPort();
            }
            var refused = (SendResult.Failed) c.post("http://127.0.0.1:" + closedPort + "/", Map.of(), "{}".getBytes());
            assertThat(refused.errorClass()).isEqualTo(SendResult.ErrorClass.CONNECT);
        }
        assertThat(WebhookClient.parseRetryAfter("Wed, 21 Oct 2037 07:28:00 GMT", Instant.parse("2037-10-21T07:27:00Z")))
                .isEqualTo(Duration.ofSeconds(60));
        assertThat(WebhookClient.parseRetryAfter("soon", Instant.now())).isNull();
    }
}
