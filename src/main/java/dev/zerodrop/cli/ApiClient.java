package dev.zerodrop.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.zerodrop.core.Json;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.StringJoiner;

/** A small client of ZeroDrop's HTTP API for the command line, on the JDK's HttpClient. */
final class ApiClient {
    /** A request that failed; {@code exitCode} is what the command exits with, the message is one line. */
    static final class Failure extends RuntimeException {
        final int exitCode;

        Failure(int exitCode, String message) {
            super(message);
            this.exitCode = exitCode;
        }
    }

    private final String base;
    private final String token;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

    ApiClient(String url, String token) {
        this.base = url.endsWith("/") ? url.substring(0, url.length() - 1) : url;
        this.token = token;
    }

    JsonNode get(String path, Map<String, String> query) {
        return send("GET", path + query(query), null);
    }

    JsonNode post(String path, Object body) {
        return send("POST", path, Json.write(body));
    }

    /** A DELETE; null when the answer has no body (204). */
    JsonNode delete(String path) {
        return send("DELETE", path, null);
    }

    /** {@code ?a=1&b=2} of the non-null values, encoded; empty when there are none. */
    static String query(Map<String, String> query) {
        StringJoiner j = new StringJoiner("&", "?", "").setEmptyValue("");
        query.forEach((k, v) -> {
            if (v != null) j.add(k + "=" + URLEncoder.encode(v, StandardCharsets.UTF_8));
        });
        return j.toString();
    }

    private JsonNode send(String method, String path, String body) {
        URI uri;
        try {
            uri = URI.create(base + path);
        } catch (IllegalArgumentException e) {
            throw new Failure(2, "invalid server URL '" + base + "': " + e.getMessage());
        }
        HttpRequest.Builder b = HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(60))
                .header("Authorization", "Bearer " + token).header("Accept", "application/json")
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (body != null) b.header("Content-Type", "application/json");
        HttpResponse<String> r;
        try {
            r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new Failure(1, "cannot reach " + base + ": " + (e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage()));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new Failure(1, "interrupted");
        }
        JsonNode json = null;
        if (r.body() != null && !r.body().isEmpty()) {
            try {
                json = Json.MAPPER.readTree(r.body());
            } catch (IOException e) {
                throw new Failure(1, method + " " + path + " answered " + r.statusCode() + " with a body that is not JSON");
            }
        }
        if (r.statusCode() >= 300) throw new Failure(1, method + " " + path + " answered " + r.statusCode() + describe(json));
        return json;
    }

    /** The error body's code and detail (a validation error's first problem), as ": code: detail". */
    private static String describe(JsonNode json) {
        if (json == null || !json.has("code")) return "";
        JsonNode detail = json.path("detail");
        String text = detail.isArray() && !detail.isEmpty()
                ? String.join(".", Json.MAPPER.convertValue(detail.get(0).path("loc"), String[].class)) + ": " + detail.get(0).path("msg").asText()
                : detail.asText();
        return ": " + json.get("code").asText() + ": " + text;
    }
}
