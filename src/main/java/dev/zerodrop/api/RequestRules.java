package dev.zerodrop.api;

import io.javalin.http.Context;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The rules every path and query parameter obeys, checked once for every matched route before its
 * handler runs: no control character (C0, DEL, C1: a NUL cannot be stored, a line break forges log
 * lines), no bidirectional override (it makes a value read differently from what it is), and a
 * bounded length and count. A handler then only checks what its own parameters mean.
 */
final class RequestRules {
    /** Every id, uid and name in a path is at most 256 characters long. */
    static final int MAX_PATH_PARAM = 256;
    static final int MAX_QUERY_PARAMS = 64;
    static final int MAX_QUERY_NAME = 64;
    static final int MAX_QUERY_VALUE = 1024;

    private RequestRules() {}

    static void check(Context ctx) {
        List<ApiException.FieldError> errors = new ArrayList<>();
        for (var p : ctx.pathParamMap().entrySet()) {
            String problem = problem(p.getValue(), MAX_PATH_PARAM);
            if (problem != null) errors.add(error("path", p.getKey(), problem));
        }
        Map<String, List<String>> query;
        try {
            query = ctx.queryParamMap();
        } catch (RuntimeException e) {
            throw ApiException.badRequest("the query string cannot be decoded");
        }
        int count = 0;
        for (var q : query.entrySet()) {
            String nameProblem = problem(q.getKey(), MAX_QUERY_NAME);
            if (nameProblem != null) {
                errors.add(error("query", printable(q.getKey()), "the parameter's name " + nameProblem));
                continue;
            }
            for (String v : q.getValue()) {
                count++;
                String problem = problem(v, MAX_QUERY_VALUE);
                if (problem != null) {
                    errors.add(error("query", q.getKey(), problem));
                    break;
                }
            }
        }
        if (count > MAX_QUERY_PARAMS) errors.add(error("query", "*", "at most " + MAX_QUERY_PARAMS + " query parameters are accepted"));
        if (!errors.isEmpty()) throw new ApiException.Validation(errors);
    }

    /** What is wrong with a parameter's value, or null. */
    static String problem(String v, int maxLength) {
        if (v.length() > maxLength) return "must be at most " + maxLength + " characters";
        return Fields.characterProblem(v);
    }

    /** A name that failed the rules, shown without the characters that made it fail. */
    private static String printable(String name) {
        StringBuilder b = new StringBuilder();
        name.codePoints().limit(MAX_QUERY_NAME).forEach(c -> b.appendCodePoint(Fields.isUnsafe(c) ? '?' : c));
        return b.toString();
    }

    private static ApiException.FieldError error(String where, String name, String msg) {
        return new ApiException.FieldError(List.of(where, name), msg, "value_error");
    }
}
