package dev.zerodrop.store;

/** An unexpected database error that is not an outage. */
public final class StoreException extends RuntimeException {
    public StoreException(String message, Throwable cause) {
        super(message, cause);
    }
}
