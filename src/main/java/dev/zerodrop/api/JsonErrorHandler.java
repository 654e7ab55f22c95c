package dev.zerodrop.api;

import dev.zerodrop.core.Json;
import java.nio.ByteBuffer;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpStatus;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.handler.ErrorHandler;
import org.eclipse.jetty.util.Callback;

/**
 * Jetty's own error answers (a request line or URI it cannot parse, bad UTF-8 in the path, an
 * over-long URI or header) in the API's {@code {code, detail}} shape, whatever the request's
 * {@code Accept} header and method. Jetty answers these before any route runs, so the routes'
 * exception mapping never sees them.
 */
final class JsonErrorHandler extends ErrorHandler {
    JsonErrorHandler() {
        setShowStacks(false);
        setShowCauses(false);
    }

    @Override
    public boolean errorPageForMethod(String method) {
        return !"HEAD".equals(method);
    }

    @Override
    protected void generateResponse(Request request, Response response, int code, String message, Throwable cause,
                                    Callback callback) {
        String reason = HttpStatus.getMessage(code);
        String detail = message == null || message.isBlank() || message.equals(reason)
                ? "the request was refused: " + reason
                : "the request was refused: " + reason + " (" + message + ")";
        byte[] body = Json.write(new Views.ErrorOut(ApiException.codeFor(code), detail)).getBytes(java.nio.charset.StandardCharsets.UTF_8);
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/json");
        response.write(true, ByteBuffer.wrap(body), callback);
    }
}
