package dev.zerodrop.store;

/** The database cannot be reached right now. The API maps it to 503; background loops retry. */
public final class StoreUnavailableException extends RuntimeException {
    public StoreUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }
}
