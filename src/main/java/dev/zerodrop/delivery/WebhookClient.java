package dev.zerodrop.delivery;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.nio.channels.ClosedChannelException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import javax.net.ssl.SSLException;
import org.eclipse.jetty.client.BytesRequestContent;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.client.InputStreamResponseListener;
import org.eclipse.jetty.client.Request;
import org.eclipse.jetty.client.Response;
import org.eclipse.jetty.client.transport.HttpClientTransportOverHTTP;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpMethod;
import org.eclipse.jetty.io.ClientConnector;
import org.eclipse.jetty.util.Promise;
import org.eclipse.jetty.util.SocketAddressResolver;
import org.eclipse.jetty.util.ssl.SslContextFactory;

/**
 * The outbound HTTP client. Outbound HTTP is hostile ground: every request has a connect and a total
 * timeout, the response body read is capped, redirects are never followed, and every address a host
 * resolves to passes the {@link AddressGuard} right before the connection is made.
 *
 * <p>Built on Jetty's HttpClient because it lets the resolver be replaced: the guard sees exactly the
 * addresses that will be connected to. The JDK client offers no such hook.
 */
public final class WebhookClient implements AutoCloseable {
    public static final String USER_AGENT = "ZeroDrop-Webhooks/0.1";

    private final HttpClient client;
    private final Duration requestTimeout;
    private final int responseCap;

    public WebhookClient(AddressGuard guard, Duration connectTimeout, Duration requestTimeout, int responseCap,
                         int maxConnectionsPerEndpoint) {
        this.requestTimeout = requestTimeout;
        this.responseCap = responseCap;
        ClientConnector connector = new ClientConnector();
        connector.setConnectTimeout(connectTimeout);
        connector.setSslContextFactory(new SslContextFactory.Client());
        client = new HttpClient(new HttpClientTransportOverHTTP(connector));
        client.setFollowRedirects(false);
        client.setConnectTimeout(connectTimeout.toMillis());
        client.setIdleTimeout(60_000);
        client.setMaxConnectionsPerDestination(maxConnectionsPerEndpoint);
        client.setMaxRequestsQueuedPerDestination(1_000_000);
        client.setUserAgentField(new HttpField(HttpHeader.USER_AGENT, USER_AGENT));
        client.setSocketAddressResolver(new GuardedResolver(guard, Executors.newVirtualThreadPerTaskExecutor()));
        try {
            client.start();
        } catch (Exception e) {
            throw new IllegalStateException("cannot start the HTTP client", e);
        }
    }

    /** As {@link #post(String, Map, byte[])}, for the endpoint {@code endpointKey}. */
    public SendResult post(String endpointKey, String url, Map<String, String> headers, byte[] body) {
        return post(url, headers, body);
    }

    /** POSTs {@code body} to {@code url} with {@code headers}, and classifies what happened. */
    public SendResult post(String url, Map<String, String> headers, byte[] body) {
        long start = System.nanoTime();
        InputStreamResponseListener listener = new InputStreamResponseListener();
        Request request;
        try {
            request = client.newRequest(URI.create(url))
                    .method(HttpMethod.POST)
                    .timeout(requestTimeout.toMillis(), TimeUnit.MILLISECONDS)
                    .body(new BytesRequestContent("application/json", body));
        } catch (IllegalArgumentException e) {
            return new SendResult.Failed(SendResult.ErrorClass.CONNECT, 0, "invalid URL: " + e.getMessage(), elapsed(start), null);
        }
        request.headers(h -> {
            for (var e : headers.entrySet()) h.put(e.getKey(), e.getValue());
        });
        request.send(listener);
        Response response;
        try {
            // The request's own total timeout fires first; the margin only guards against a stuck client.
            response = listener.get(requestTimeout.toMillis() + 5_000, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            request.abort(e);
            Thread.currentThread().interrupt();
            return new SendResult.Failed(SendResult.ErrorClass.RESET, 0, "interrupted", elapsed(start), null);
        } catch (TimeoutException e) {
            request.abort(e);
            return new SendResult.Failed(SendResult.ErrorClass.TIMEOUT, 0, "timed out after " + requestTimeout.toMillis() + "ms", elapsed(start), null);
        } catch (ExecutionException e) {
            return failure(e.getCause(), 0, "", start);
        }
        int status = response.getStatus();
        String text;
        try (InputStream in = listener.getInputStream()) {
            // Closing the stream before the end aborts the response: the rest is never read.
            text = storable(new String(in.readNBytes(responseCap), StandardCharsets.UTF_8));
        } catch (IOException e) {
            if (status >= 200 && status < 300) return new SendResult.Delivered(status, "", elapsed(start));
            return failure(e, status, "", start);
        }
        if (status >= 200 && status < 300) return new SendResult.Delivered(status, text, elapsed(start));
        Duration retryAfter = parseRetryAfter(response.getHeaders().get(HttpHeader.RETRY_AFTER), Instant.now());
        return new SendResult.Failed(SendResult.ErrorClass.HTTP, status, text, elapsed(start), retryAfter);
    }

    private SendResult failure(Throwable cause, int status, String body, long start) {
        SendResult.ErrorClass cls = classify(cause);
        String detail = cause == null ? "unknown error" : storable(cause.getClass().getSimpleName() + ": " + cause.getMessage());
        if (cls == SendResult.ErrorClass.TIMEOUT) detail = "timed out after " + requestTimeout.toMillis() + "ms";
        return new SendResult.Failed(cls, status, body.isEmpty() ? detail : body, elapsed(start), null);
    }

    /** PostgreSQL text cannot hold NUL characters; a receiver's body may contain them. */
    static String storable(String text) {
        return text.indexOf('\u0000') < 0 ? text : text.replace('\u0000', '\uFFFD');
    }

    static SendResult.ErrorClass classify(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof BlockedAddressException) return SendResult.ErrorClass.BLOCKED;
            if (c instanceof TimeoutException) return SendResult.ErrorClass.TIMEOUT;
            if (c instanceof SSLException) return SendResult.ErrorClass.TLS;
            if (c instanceof java.net.ConnectException || c instanceof UnknownHostException
                    || c instanceof java.net.NoRouteToHostException || c instanceof java.net.SocketTimeoutException) {
                return SendResult.ErrorClass.CONNECT;
            }
            if (c instanceof EOFException || c instanceof ClosedChannelException) return SendResult.ErrorClass.RESET;
        }
        return SendResult.ErrorClass.RESET;
    }

    /** Parses a Retry-After header: delay-seconds or an HTTP date. Returns null when absent or unreadable. */
    public static Duration parseRetryAfter(String value, Instant now) {
        if (value == null || value.isBlank()) return null;
        String v = value.trim();
        try {
            long seconds = Long.parseLong(v);
            return seconds < 0 ? null : Duration.ofSeconds(seconds);
        } catch (NumberFormatException ignored) {
            // not a number: try a date
        }
        try {
            Instant at = ZonedDateTime.parse(v, DateTimeFormatter.RFC_1123_DATE_TIME).toInstant();
            Duration d = Duration.between(now, at);
            return d.isNegative() ? Duration.ZERO : d;
        } catch (java.time.format.DateTimeParseException e) {
            return null;
        }
    }

    private static int elapsed(long startNanos) {
        return (int) Math.min(Integer.MAX_VALUE, (System.nanoTime() - startNanos) / 1_000_000);
    }

    @Override
    public void close() {
        try {
            client.stop();
        } catch (Exception e) {
            // closing: nothing left to do
        }
    }

    /** Resolves a host and keeps only the addresses the guard permits. */
    static final class GuardedResolver implements SocketAddressResolver {
        private final AddressGuard guard;
        private final Executor executor;

        GuardedResolver(AddressGuard guard, Executor executor) {
            this.guard = guard;
            this.executor = executor;
        }

        @Override
        public void resolve(String host, int port, Map<String, Object> context, Promise<List<InetSocketAddress>> promise) {
            executor.execute(() -> {
                try {
                    InetAddress[] all = InetAddress.getAllByName(host);
                    List<InetSocketAddress> permitted = new ArrayList<>();
                    for (InetAddress a : all) if (guard.permits(a)) permitted.add(new InetSocketAddress(a, port));
                    if (permitted.isEmpty()) promise.failed(new BlockedAddressException(host));
                    else promise.succeeded(permitted);
                } catch (UnknownHostException e) {
                    promise.failed(e);
                } catch (RuntimeException e) {
                    promise.failed(e);
                }
            });
        }
    }
}
