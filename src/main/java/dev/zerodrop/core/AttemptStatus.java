package dev.zerodrop.core;

/** Svix's {@code MessageStatus}: the status of an attempt, and of a delivery as the Svix API shows it. */
public enum AttemptStatus {
    SUCCESS(0, "success"),
    PENDING(1, "pending"),
    FAIL(2, "fail"),
    SENDING(3, "sending");

    private final int code;
    private final String text;

    AttemptStatus(int code, String text) {
        this.code = code;
        this.text = text;
    }

    /** The number the API and the attempt table use. */
    public int code() {
        return code;
    }

    /** Svix's {@code statusText}. */
    public String text() {
        return text;
    }

    public static AttemptStatus of(int code) {
        for (AttemptStatus s : values()) if (s.code == code) return s;
        throw new IllegalArgumentException("no attempt status " + code);
    }

    /** How the Svix API shows a delivery in {@code state}. */
    public static AttemptStatus of(DeliveryState state) {
        return switch (state) {
            case DELIVERED -> SUCCESS;
            case PENDING, HELD -> PENDING;
            case SENDING -> SENDING;
            case DEAD, DISCARDED -> FAIL;
        };
    }
}
