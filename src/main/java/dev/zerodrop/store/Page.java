package dev.zerodrop.store;

import java.util.List;
import java.util.function.Function;

/** One page of a listing, in the Svix list-response shape. */
public record Page<T>(List<T> data, String iterator, String prevIterator, boolean done) {
    public <R> Page<R> map(Function<T, R> f) {
        return new Page<>(data.stream().map(f).toList(), iterator, prevIterator, done);
    }
}
