package dev.zerodrop.delivery;

import java.time.Duration;

/** The outcome of one HTTP delivery attempt. Only a 2xx is {@link Delivered}. */
public sealed interface SendResult {
    int durationMs();

    /** What the receiver answered; empty when no response was received. */
    String body();

    /** The HTTP status, or 0 when no response was received. */
    int status();

    record Delivered(int status, String body, int durationMs) implements SendResult {}

    /** Any failure: {@code retryAfter} is the receiver's Retry-After, when it gave one. */
    record Failed(ErrorClass errorClass, int status, String body, int durationMs, Duration retryAfter) implements SendResult {}

    /** Why an attempt failed. */
    enum ErrorClass {
        /** A non-2xx response, including 3xx (redirects are never followed). */
        HTTP("http"),
        /** The attempt's total timeout elapsed. */
        TIMEOUT("timeout"),
        /** The connection could not be made (refused, unreachable, DNS, connect timeout). */
        CONNECT("connect"),
        /** The connection broke: reset, closed without a response, truncated. */
        RESET("reset"),
        /** The TLS handshake failed. */
        TLS("tls"),
        /** The address is private or otherwise refused by the guard. */
        BLOCKED("blocked"),
        /** The worker's lease expired before it recorded an outcome (for example after a crash). */
        LOST_LEASE("lost-lease"),
        /** An unexpected error of ZeroDrop's own while sending or recording (a bug: the log has it). */
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
