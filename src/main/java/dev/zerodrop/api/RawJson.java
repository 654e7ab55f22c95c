package dev.zerodrop.api;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import dev.zerodrop.core.Json;
import java.io.IOException;
import java.util.Arrays;

/** Finds the exact bytes of a top-level field's value in a JSON document, so they can be signed as received. */
final class RawJson {
    private RawJson() {}

    static byte[] field(byte[] json, String name) {
        try (JsonParser p = Json.MAPPER.getFactory().createParser(json)) {
            if (p.nextToken() != JsonToken.START_OBJECT) return null;
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                p.nextToken();
                long start = p.currentTokenLocation().getByteOffset();
                p.skipChildren();
                long end = p.currentLocation().getByteOffset();
                if (field.equals(name)) return Arrays.copyOfRange(json, (int) start, (int) end);
            }
            return null;
        } catch (IOException e) {
            return null;
        }
    }
}
