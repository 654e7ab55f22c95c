package dev.zerodrop.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Reads and validates the fields of a JSON request body, collecting every problem with the name of
 * its field, then throws one {@link ApiException.Validation}.
 */
final class Fields {
    static final Pattern ID_PATTERN = Pattern.compile("^[a-zA-Z0-9\\-_.]+$");
    /** Svix's pattern for message tags: an identifier that may also hold a slash, a backslash and '#'. */
    static final Pattern TAG_PATTERN = Pattern.compile("^[a-zA-Z0-9\\-_./\\\\#]+$");

    private final ObjectNode node;
    private final List<ApiException.FieldError> errors = new ArrayList<>();

    Fields(JsonNode node) {
        if (node == null || !node.isObject()) {
            throw new ApiException.Validation(List.of(new ApiException.FieldError(List.of("body"), "the body must be a JSON object", "type_error")));
        }
        this.node = (ObjectNode) node;
    }

    boolean has(String name) {
        return node.has(name);
    }

    boolean isNull(String name) {
        return node.has(name) && node.get(name).isNull();
    }

    void error(String field, String msg) {
        errors.add(new ApiException.FieldError(List.of("body", field), msg, "value_error"));
    }

    String requiredString(String name, int minLen, int maxLen, Pattern pattern) {
        JsonNode v = node.get(name);
        if (v == null || v.isNull()) {
            error(name, "field required");
            return null;
        }
        return checkString(name, v, minLen, maxLen, pattern);
    }

    /**
     * A name shown to people (an application's name): a string that also obeys
     * {@link #characterProblem}, so that it cannot break a log line or read as something else.
     */
    String name(String name, boolean required, int maxLen) {
        String s = required ? requiredString(name, 1, maxLen, null) : optionalString(name, 1, maxLen, null);
        if (s != null && s.indexOf('\u0000') < 0) {
            String problem = characterProblem(s);
            if (problem != null) error(name, problem);
        }
        return s;
    }

    /** For a PATCH: each of {@code names} may be left out, but not set to null (it has no null value). */
    void notNull(String... names) {
        for (String name : names) if (isNull(name)) error(name, "must not be null (leave it out to keep its value)");
    }

    String optionalString(String name, int minLen, int maxLen, Pattern pattern) {
        JsonNode v = node.get(name);
        if (v == null || v.isNull()) return null;
        return checkString(name, v, minLen, maxLen, pattern);
    }

    private String checkString(String name, JsonNode v, int minLen, int maxLen, Pattern pattern) {
        if (!v.isTextual()) {
            error(name, "must be a string");
            return null;
        }
        String s = v.asText();
        if (s.indexOf('\u0000') >= 0) error(name, "must not contain NUL characters");
        else if (s.length() < minLen) error(name, minLen == 1 ? "must not be empty" : "must be at least " + minLen + " characters");
        else if (s.length() > maxLen) error(name, "must be at most " + maxLen + " characters");
        else if (pattern != null && !pattern.matcher(s).matches()) error(name, "must match " + pattern.pattern());
        return s;
    }

    /**
     * What makes {@code s} unfit for an id, a name or a parameter, or null: a control character
     * (C0, DEL, C1) or a bidirectional embedding, override or isolate (U+202A-U+202E, U+2066-U+2069).
     */
    static String characterProblem(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (isUnsafe(c)) {
                return c >= 0x202A ? "must not contain bidirectional control characters (U+" + Integer.toHexString(c).toUpperCase() + ")"
                        : "must not contain control characters (U+" + String.format("%04X", (int) c) + ")";
            }
        }
        return null;
    }

    static boolean isUnsafe(int c) {
        return c < 0x20 || (c >= 0x7F && c <= 0x9F) || (c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069);
    }

    Boolean optionalBool(String name) {
        JsonNode v = node.get(name);
        if (v == null || v.isNull()) return null;
        if (!v.isBoolean()) {
            error(name, "must be true or false");
            return null;
        }
        return v.asBoolean();
    }

    Integer optionalInt(String name, long min, long max) {
        JsonNode v = node.get(name);
        if (v == null || v.isNull()) return null;
        if (!v.isIntegralNumber()) {
            error(name, "must be a whole number");
            return null;
        }
        long n = v.asLong();
        if (n < min || n > max) {
            error(name, "must be between " + min + " and " + max);
            return null;
        }
        return (int) n;
    }

    /** A list of unique identifier-like strings, or null when absent or null. */
    List<String> optionalIdList(String name, int maxItems, int maxLen) {
        return optionalList(name, maxItems, maxLen, ID_PATTERN);
    }

    /** A list of unique strings that match {@code pattern}, or null when absent or null. */
    List<String> optionalList(String name, int maxItems, int maxLen, Pattern pattern) {
        JsonNode v = node.get(name);
        if (v == null || v.isNull()) return null;
        if (!v.isArray()) {
            error(name, "must be a list of strings");
            return null;
        }
        LinkedHashSet<String> out = new LinkedHashSet<>();
        for (JsonNode item : v) {
            if (!item.isTextual() || item.asText().isEmpty() || item.asText().length() > maxLen
                    || !pattern.matcher(item.asText()).matches()) {
                error(name, "items must be strings of 1 to " + maxLen + " characters matching " + pattern.pattern());
                return null;
            }
            out.add(item.asText());
        }
        if (out.isEmpty()) {
            error(name, "must not be empty (use null for all)");
            return null;
        }
        if (out.size() > maxItems) {
            error(name, "must have at most " + maxItems + " items");
            return null;
        }
        return List.copyOf(out);
    }

    Map<String, String> optionalStringMap(String name) {
        JsonNode v = node.get(name);
        if (v == null || v.isNull()) return null;
        if (!v.isObject()) {
            error(name, "must be an object of strings");
            return null;
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (var it = v.properties().iterator(); it.hasNext(); ) {
            var e = it.next();
            if (!e.getValue().isTextual()) {
                error(name, "values must be strings ('" + e.getKey() + "' is not)");
                return null;
            }
            if (e.getKey().indexOf('\u0000') >= 0 || e.getValue().asText().indexOf('\u0000') >= 0) {
                error(name, "must not contain NUL characters");
                return null;
            }
            out.put(e.getKey(), e.getValue().asText());
        }
        return out;
    }

    JsonNode raw(String name) {
        return node.get(name);
    }

    /** Throws every collected problem at once. */
    void validate() {
        if (!errors.isEmpty()) throw new ApiException.Validation(errors);
    }
}
