package dev.zerodrop.api;

import dev.zerodrop.store.PageRequest;
import io.javalin.http.Context;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;

/** Query parameters, validated with errors that name the parameter. */
final class Params {
    private Params() {}

    static PageRequest page(Context ctx, boolean defaultDescending) {
        int limit = integer(ctx, "limit", 50, 1, PageRequest.MAX_LIMIT);
        String order = ctx.queryParam("order");
        boolean descending = defaultDescending;
        if (order != null) {
            descending = switch (order) {
                case "ascending" -> false;
                case "descending" -> true;
                default -> throw invalid("order", "must be ascending or descending");
            };
        }
        return new PageRequest(limit, ctx.queryParam("iterator"), descending);
    }

    static int integer(Context ctx, String name, int dflt, int min, int max) {
        String v = ctx.queryParam(name);
        if (v == null || v.isEmpty()) return dflt;
        try {
            int n = Integer.parseInt(v);
            if (n < min || n > max) throw invalid(name, "must be between " + min + " and " + max);
            return n;
        } catch (NumberFormatException e) {
            throw invalid(name, "must be a whole number");
        }
    }

    static Integer optionalInt(Context ctx, String name) {
        String v = ctx.queryParam(name);
        if (v == null || v.isEmpty()) return null;
        try {
            return Integer.parseInt(v);
        } catch (NumberFormatException e) {
            throw invalid(name, "must be a whole number");
        }
    }

    static boolean bool(Context ctx, String name, boolean dflt) {
        String v = ctx.queryParam(name);
        if (v == null || v.isEmpty()) return dflt;
        return switch (v.toLowerCase()) {
            case "true", "1" -> true;
            case "false", "0" -> false;
            default -> throw invalid(name, "must be true or false");
        };
    }

    static Instant instant(Context ctx, String name) {
        String v = ctx.queryParam(name);
        if (v == null || v.isEmpty()) return null;
        return parseInstant(v, "query", name);
    }

    static Instant parseInstant(String v, String where, String name) {
        try {
            return OffsetDateTime.parse(v).toInstant();
        } catch (DateTimeParseException e) {
            try {
                return Instant.parse(v);
            } catch (DateTimeParseException e2) {
                throw new ApiException.Validation(List.of(new ApiException.FieldError(List.of(where, name),
                        "must be an RFC 3339 date-time such as 2026-01-31T12:00:00Z", "value_error")));
            }
        }
    }

    static List<String> list(Context ctx, String name) {
        List<String> out = new ArrayList<>();
        for (String v : ctx.queryParams(name)) {
            for (String part : v.split(",")) if (!part.isBlank()) out.add(part.trim());
        }
        return out.isEmpty() ? null : out;
    }

    static ApiException invalid(String name, String msg) {
        return new ApiException.Validation(List.of(new ApiException.FieldError(List.of("query", name), msg, "value_error")));
    }
}
