package dev.zerodrop.delivery;

import java.time.Duration;

/** The outcome of one HTTP delivery attempt. Only a 2xx is {@link Delivered}. */
public sealed interface SendResult {
    int durationMs();

    /** What the receiver answered; empty when no response was received. */
    String body();

    /**
     * The HTTP status as the receiver gave it, or 0 when no response head was received. A failure after
     * an interim (1xx) response and before the final one carries that interim status.
     */
    int status();

    record Delivered(int status, String body, int durationMs) implements SendResult {}

    /** Any failure: {@code retryAfter} is the receiver's Retry-After, when it gave one. */
    record Failed(ErrorClass errorClass, int status, String body, int durationMs, Duration retryAfter) implements SendResult {}

    /** Why an attempt failed. */
    enum ErrorClass {
        /** A non-2xx final response, including 3xx (never followed), 401/407 (never answered) and an unasked-for 101. */
        HTTP("http"),
        /** The attempt's total timeout elapsed. */
        TIMEOUT("timeout"),
        /** The connection could not be made (refused, unreachable, DNS, connect timeout). */
        CONNECT("connect"),
        /** The connection broke: reset, closed without a response, truncated. */
        RESET("reset"),
        /** The response broke HTTP/1.1: a malformed status line, header or chunked body. */
        PROTOCOL("protocol"),
        /** The response passed a limit of the client, such as the response-header cap. */
        TOO_LARGE("too-large"),
        /** The TLS handshake failed. */
        TLS("tls"),
        /** The address is private or otherwise refused by the guard. */
        BLOCKED("blocked"),
        /** The worker's lease expired before it recorded an outcome (for example after a crash). */
        LOST_LEASE("lost-lease"),
        /** Nothing was sent: the message's content was expunged or has expired. */
        REFUSED("refused"),
        /** ZeroDrop itself failed while sending (a bug, not the receiver); recorded by the dispatcher. */
        INTERNAL("internal");

        private final String label;

        ErrorClass(String label) {
            this.label = label;
        }

        public String label() {
            return label;
        }
    }
}
