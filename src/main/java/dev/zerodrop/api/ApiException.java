package dev.zerodrop.api;

import java.util.List;

/** An HTTP error with a stable code and a human sentence. Mapped to JSON in one place. */
public class ApiException extends RuntimeException {
    private final int status;
    private final String code;

    public ApiException(int status, String code, String detail) {
        super(detail);
        this.status = status;
        this.code = code;
    }

    public int status() {
        return status;
    }

    public String code() {
        return code;
    }

    public static ApiException notFound(String what) {
        return new ApiException(404, "not_found", what + " not found");
    }

    public static ApiException badRequest(String detail) {
        return new ApiException(400, "bad_request", detail);
    }

    public static ApiException conflict(String detail) {
        return new ApiException(409, "conflict", detail);
    }

    /** The stable code of an error answer that carries no code of its own (one raised by the web server). */
    static String codeFor(int status) {
        return switch (status) {
            case 400 -> "bad_request";
            case 401 -> "authentication_failed";
            case 404 -> "not_found";
            case 405 -> "method_not_allowed";
            case 408 -> "request_timeout";
            case 409 -> "conflict";
            case 413 -> "payload_too_large";
            case 414 -> "uri_too_long";
            case 415 -> "unsupported_media_type";
            case 431 -> "header_fields_too_large";
            case 500 -> "internal_error";
            case 503 -> "service_unavailable";
            default -> status >= 500 ? "server_error" : "http_error";
        };
    }

    /** One invalid field: {@code loc} names it, as Svix's validation errors do. */
    public record FieldError(List<String> loc, String msg, String type) {}

    /** 422 with every invalid field, in Svix's shape plus a {@code code}. */
    public static final class Validation extends ApiException {
        private final List<FieldError> errors;

        public Validation(List<FieldError> errors) {
            super(422, "validation", errors.isEmpty() ? "invalid request" : String.join(".", errors.getFirst().loc()) + ": " + errors.getFirst().msg());
            this.errors = List.copyOf(errors);
        }

        public List<FieldError> errors() {
            return errors;
        }
    }
}
