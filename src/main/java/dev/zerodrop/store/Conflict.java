package dev.zerodrop.store;

/** A write collided with an existing row (a uid or eventId already taken). */
public final class Conflict extends RuntimeException {
    public Conflict(String message) {
        super(message);
    }
}
