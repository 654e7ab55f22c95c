package dev.zerodrop.delivery;

import java.io.ByteArrayOutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.eclipse.jetty.client.BytesRequestContent;
import org.eclipse.jetty.client.ContentDecoder;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.client.Request;
import org.eclipse.jetty.client.Response;
import org.eclipse.jetty.client.Result;
import org.eclipse.jetty.http.HttpCookieStore;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpMethod;
import org.eclipse.jetty.http.HttpStatus;
import org.eclipse.jetty.io.ClientConnector;
import org.eclipse.jetty.util.Promise;
import org.eclipse.jetty.util.SocketAddressResolver;
import org.eclipse.jetty.util.ssl.SslContextFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The outbound HTTP client. Outbound HTTP is hostile ground: every request has a connect and a total
 * timeout, the response headers and the body read are capped, redirects are never followed, and
 * every address a host resolves to passes the {@link AddressGuard} right before the connection is made.
 *
 * <p>Every answer is recorded as given: no client-side protocol handler turns a response into an
 * exception or a second request. Jetty's redirect, authentication (401/407) and upgrade handlers are
 * removed; interim 1xx responses are read and skipped (RFC 9110 section 15.2) and the final response
 * is the one recorded. A 101 that nobody asked for is a failure with status 101.
 *
 * <p>Each endpoint has its own connection pool ({@link #post(String, String, Map, byte[])}): requests
 * are tagged with the endpoint's key, and Jetty keys its destinations, and so its pools, by origin
 * and tag. An endpoint that hangs fills only its own pool, never another endpoint's on the same
 * host and port. Idle pools are removed, so memory does not grow with the number of endpoints.
 *
 * <p>Built on Jetty's HttpClient because it lets the resolver be replaced: the guard sees exactly the
 * addresses that will be connected to. The JDK client offers no such hook.
 */
public final class WebhookClient implements AutoCloseable {
    public static final String USER_AGENT = "ZeroDrop-Webhooks/0.1";
    /**
     * Most bytes of a response head (status line and headers, and likewise trailers) that are read.
     * Past it the attempt fails as {@code too-large}: a receiver cannot make a node buffer an
     * unbounded head. 64 KiB is eight times the 8 KiB head that common HTTP servers accept.
     */
    public static final int MAX_RESPONSE_HEADERS_BYTES = 64 * 1024;
    /**
     * Most bytes of a request head the client writes: the request line and every header. Jetty
     * refuses a longer one before sending anything, so an endpoint whose URL and custom headers do
     * not fit could never be delivered to; the API refuses it when it is saved
     * ({@link #requestHeadProblem}).
     */
    public static final int MAX_REQUEST_HEAD_BYTES = 8192;
    /** Most secrets that sign one delivery: the current one and those still in their grace period. */
    public static final int MAX_SIGNING_SECRETS = 8;
    /**
     * The head bytes kept for what ZeroDrop writes itself, at their longest: user-agent,
     * accept-encoding, content-type, content-length, and webhook-id, webhook-timestamp and
     * webhook-signature (with {@link #MAX_SIGNING_SECRETS} signatures of 48 bytes), twice when
     * the svix-* copies are on. About 1,100 bytes, rounded up.
     */
    static final int OWN_HEAD_BYTES = 1280;
    /** An endpoint's pool is removed after it has had no connection and no request for this long. */
    static final Duration DESTINATION_IDLE_TIMEOUT = Duration.ofSeconds(30);
    /** A pooled keep-alive connection is closed after this long unused. */
    static final Duration CONNECTION_IDLE_TIMEOUT = Duration.ofSeconds(60);
    /** The only content coding decoded (and so the only one offered in Accept-Encoding). */
    static final String DECODED_ENCODING = "gzip";

    private static final Logger log = LoggerFactory.getLogger(WebhookClient.class);

    private final HttpClient client;
    private final InstantSource clock;
    private final Duration requestTimeout;
    private final int responseCap;

    public WebhookClient(AddressGuard guard, Duration connectTimeout, Duration requestTimeout, int responseCap,
                         int maxConnectionsPerEndpoint) {
        this(guard, connectTimeout, requestTimeout, responseCap, maxConnectionsPerEndpoint, InstantSource.system());
    }

    /** As above, reading {@code Retry-After} dates against {@code clock}. */
    public WebhookClient(AddressGuard guard, Duration connectTimeout, Duration requestTimeout, int responseCap,
                         int maxConnectionsPerEndpoint, InstantSource clock) {
        this.clock = clock;
        this.requestTimeout = requestTimeout;
        this.responseCap = responseCap;
        ClientConnector connector = new ClientConnector();
        connector.setConnectTimeout(connectTimeout);
        SslContextFactory.Client tls = new SslContextFactory.Client();
        tls.setTrustAll(false); // the JDK's trust store decides, for every receiver alike
        tls.setEndpointIdentificationAlgorithm("HTTPS"); // the certificate must name the host
        connector.setSslContextFactory(tls);
        client = new HttpClient(new StrictHttpTransport(connector));
        client.setFollowRedirects(false);
        client.setConnectTimeout(connectTimeout.toMillis());
        client.setIdleTimeout(CONNECTION_IDLE_TIMEOUT.toMillis());
        client.setMaxConnectionsPerDestination(maxConnectionsPerEndpoint);
        // The dispatcher bounds the requests in flight per endpoint; Jetty's queue must never be what refuses one.
        client.setMaxRequestsQueuedPerDestination(1_000_000);
        client.setDestinationIdleTimeout(DESTINATION_IDLE_TIMEOUT.toMillis());
        client.setMaxResponseHeadersSize(MAX_RESPONSE_HEADERS_BYTES);
        client.setMaxRequestHeadersSize(MAX_REQUEST_HEAD_BYTES);
        // One receiver's Set-Cookie must never reach another endpoint (or come back to it).
        client.setHttpCookieStore(new HttpCookieStore.Empty());
        client.setUserAgentField(new HttpField(HttpHeader.USER_AGENT, USER_AGENT));
        client.setSocketAddressResolver(new GuardedResolver(guard, Executors.newVirtualThreadPerTaskExecutor()));
        try {
            client.start();
        } catch (Exception e) {
            throw new IllegalStateException("cannot start the HTTP client", e);
        }
        // Installed by start(): continue, processing, early-hints, redirect, www-authenticate,
        // proxy-authenticate and upgrade. Each turns some answer into an exception or another request.
        client.getProtocolHandlers().clear();
        client.getProtocolHandlers().put(new InterimResponses());
        keepOnlyGzipDecoding();
    }

    /**
     * Response bodies are decoded when gzip-encoded, so that what is stored is the receiver's text,
     * and the response cap counts decoded bytes: decoding is pulled as the body is read, and reading
     * stops at the cap, so a compression bomb inflates no further than the cap. Any other coding
     * (which is never offered) is stored as it came. Start() loads whatever codings are on the class
     * path; only gzip is kept, so the set cannot change with a dependency.
     */
    private void keepOnlyGzipDecoding() {
        ContentDecoder.Factories factories = client.getContentDecoderFactories();
        ContentDecoder.Factory gzip = null;
        for (ContentDecoder.Factory f : factories) if (f.getEncoding().equalsIgnoreCase(DECODED_ENCODING)) gzip = f;
        factories.clear();
        if (gzip != null) factories.put(gzip);
    }

    /**
     * Why a delivery to {@code url} with the custom {@code headers} could never be sent, or empty:
     * its request line, Host header, custom headers and ZeroDrop's own headers would pass
     * {@link #MAX_REQUEST_HEAD_BYTES}. Values are counted as UTF-8, the longest they can be written.
     */
    public static Optional<String> requestHeadProblem(String url, Map<String, String> headers) {
        URI uri;
        try {
            uri = URI.create(url);
        } catch (IllegalArgumentException e) {
            return Optional.empty(); // the URL's own rules report it
        }
        String target = uri.getRawPath() == null || uri.getRawPath().isEmpty() ? "/" : uri.getRawPath();
        if (uri.getRawQuery() != null) target += "?" + uri.getRawQuery();
        long bytes = ("POST " + target + " HTTP/1.1\r\nHost: " + uri.getRawAuthority() + "\r\n").length() + OWN_HEAD_BYTES;
        for (var h : headers.entrySet()) {
            if (h.getValue() == null) continue;
            bytes += h.getKey().length() + 4 + h.getValue().getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
        }
        if (bytes <= MAX_REQUEST_HEAD_BYTES) return Optional.empty();
        return Optional.of("the URL and custom headers make a request head of about " + bytes + " bytes, over the "
                + MAX_REQUEST_HEAD_BYTES + " bytes a delivery can send (" + OWN_HEAD_BYTES + " of them kept for the signature headers)");
    }

    /** {@link #post(String, String, Map, byte[])} with the URL as the endpoint key. */
    public SendResult post(String url, Map<String, String> headers, byte[] body) {
        return post(url, url, headers, body);
    }

    /**
     * POSTs {@code body} to {@code url} with {@code headers}, and classifies what happened. Never throws
     * for anything the receiver or the network does.
     *
     * @param endpointKey the endpoint's identity: requests with different keys never share a
     *     connection or wait for one another's connections, even to the same host and port
     */
    public SendResult post(String endpointKey, String url, Map<String, String> headers, byte[] body) {
        long start = System.nanoTime();
        long timeoutMs = requestTimeout.toMillis();
        Capture capture = new Capture(responseCap);
        Request request;
        try {
            request = client.newRequest(URI.create(url))
                    .tag(endpointKey)
                    .method(HttpMethod.POST)
                    .timeout(timeoutMs, TimeUnit.MILLISECONDS)
                    // Silence for the whole attempt is the total timeout's to report, not the idle timeout's.
                    .idleTimeout(timeoutMs, TimeUnit.MILLISECONDS)
                    .body(new BytesRequestContent("application/json", body));
        } catch (IllegalArgumentException e) {
            return new SendResult.Failed(SendResult.ErrorClass.CONNECT, 0, "invalid URL", elapsed(start), null);
        }
        request.headers(h -> {
            for (var e : headers.entrySet()) {
                // The client owns the framing: an Expect header would make Jetty hold the body back for a 100.
                if (!e.getKey().equalsIgnoreCase("expect")) h.put(e.getKey(), e.getValue());
            }
        });
        request.send(capture);
        Result result;
        try {
            // The request's own total timeout fires first; the margin only guards against a stuck client.
            result = capture.done.get(timeoutMs + 5_000, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            request.abort(e);
            Thread.currentThread().interrupt();
            return new SendResult.Failed(SendResult.ErrorClass.RESET, 0, "the send was interrupted", elapsed(start), null);
        } catch (TimeoutException e) {
            request.abort(e);
            return new SendResult.Failed(SendResult.ErrorClass.TIMEOUT, 0, "timed out after " + timeoutMs + "ms", elapsed(start), null);
        } catch (ExecutionException e) {
            throw new IllegalStateException("the response listener failed", e.getCause()); // never completed exceptionally
        }
        return outcome(request, capture, result, elapsed(start));
    }

    private SendResult outcome(Request request, Capture capture, Result result, int durationMs) {
        int status = capture.status;
        Throwable failure = result.getResponseFailure();
        if (failure == null && result.getRequestFailure() != null && status == 0) failure = result.getRequestFailure();
        boolean ours = failure instanceof Stop;
        if (status == HttpStatus.SWITCHING_PROTOCOLS_101) {
            return new SendResult.Failed(SendResult.ErrorClass.HTTP, status, "the receiver switched protocols (101) without being asked",
                    durationMs, null);
        }
        if (status != 0) {
            String text = capture.text();
            // The receiver accepted the delivery when it said 2xx; how its body ended does not change that.
            if (HttpStatus.isSuccess(status)) return new SendResult.Delivered(status, text, durationMs);
            Duration retryAfter = parseRetryAfter(capture.retryAfter, clock.instant());
            if (failure == null || ours) return new SendResult.Failed(SendResult.ErrorClass.HTTP, status, text, durationMs, retryAfter);
            Failure f = describe(failure, true);
            return new SendResult.Failed(f.errorClass(), status, text.isEmpty() ? f.text() : text, durationMs, retryAfter);
        }
        // No final response head: the status is the last interim one, if any came, as it was given.
        Failure f = describe(failure, false);
        int interim = request.getAttributes().get(InterimResponses.LAST_STATUS) instanceof Integer s ? s : 0;
        return new SendResult.Failed(f.errorClass(), interim, f.text(), durationMs, null);
    }

    private Failure describe(Throwable failure, boolean answered) {
        Failure f = Failure.of(failure, requestTimeout.toMillis(), answered);
        // The stored text is for the endpoint's owner; the exception, with Jetty's internals, is for the logs.
        log.debug("delivery attempt failed as {}: {}", f.errorClass().label(), f.text(), failure);
        return f;
    }

    /** PostgreSQL text cannot hold NUL characters; a receiver's body may contain them. */
    static String storable(String text) {
        return text.indexOf('\u0000') < 0 ? text : text.replace('\u0000', '\uFFFD');
    }

    /** Ends an exchange early on purpose: the body passed the cap, or an unasked-for 101 arrived. */
    private static final class Stop extends Exception {
        Stop(String why) {
            super(why, null, false, false);
        }
    }

    private static final Stop CAPPED = new Stop("response cap reached");
    private static final Stop UPGRADE = new Stop("unsolicited protocol switch");

    /**
     * Collects one exchange: the final status and Retry-After, and at most {@code cap} body bytes.
     * Jetty calls it for one exchange at a time, in order; {@link #done} publishes what it saw.
     */
    private static final class Capture implements Response.Listener {
        final CompletableFuture<Result> done = new CompletableFuture<>();
        private final int cap;
        private final ByteArrayOutputStream body;
        int status;
        String retryAfter;

        Capture(int cap) {
            this.cap = cap;
            this.body = new ByteArrayOutputStream(Math.min(cap, 1024));
        }

        @Override
        public void onHeaders(Response response) {
            status = response.getStatus();
            retryAfter = response.getHeaders().get(HttpHeader.RETRY_AFTER);
            // The connection belongs to another protocol now; closing it is the only safe thing to do.
            if (status == HttpStatus.SWITCHING_PROTOCOLS_101) response.abort(UPGRADE);
        }

        @Override
        public void onContent(Response response, ByteBuffer content) {
            int n = Math.min(cap - body.size(), content.remaining());
            if (n > 0) {
                byte[] chunk = new byte[n];
                content.get(chunk);
                body.writeBytes(chunk);
            }
            // Aborting closes the connection: the rest is never read.
            if (content.hasRemaining()) response.abort(CAPPED);
        }

        @Override
        public void onComplete(Result result) {
            done.complete(result);
        }

        String text() {
            return storable(body.toString(StandardCharsets.UTF_8));
        }
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
                    // A host that parsers read differently is refused before anything resolves it.
                    InetAddress[] all = switch (AddressGuard.read(host)) {
                        case AddressGuard.Host.Refused r -> throw new BlockedAddressException(host);
                        case AddressGuard.Host.Literal l -> new InetAddress[] {l.address()};
                        case AddressGuard.Host.Name n -> InetAddress.getAllByName(n.name());
                    };
                    List<InetSocketAddress> permitted = new ArrayList<>();
                    for (InetAddress a : all) if (guard.permits(a)) permitted.add(new InetSocketAddress(a, port));
                    if (permitted.isEmpty()) promise.failed(new BlockedAddressException(host));
                    else promise.succeeded(permitted);
                } catch (UnknownHostException | BlockedAddressException e) {
                    promise.failed(e);
                } catch (RuntimeException e) {
                    promise.failed(e);
                }
            });
        }
    }
}
