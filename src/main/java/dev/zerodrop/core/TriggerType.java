package dev.zerodrop.core;

/** Svix's {@code MessageAttemptTriggerType}: why an attempt was made. */
public enum TriggerType {
    /** By the retry schedule. */
    SCHEDULED(0),
    /** By an operator: a resend, a recover or a replay. */
    MANUAL(1);

    private final int code;

    TriggerType(int code) {
        this.code = code;
    }

    public int code() {
        return code;
    }

    public static TriggerType of(boolean manual) {
        return manual ? MANUAL : SCHEDULED;
    }
}
