package dev.zerodrop.api;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.http.HttpParser;
import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.internal.HttpConnection;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.ScheduledExecutorScheduler;
import org.eclipse.jetty.util.thread.Scheduler;

/**
 * The API's HTTP/1.1 connections, guarded against the two things Jetty leaves to its idle timeout:
 * <ul>
 *   <li><b>a head that never ends.</b> A client has {@code headerTimeout} to send a request's line
 *       and headers, from its connection (for the first request) or from the head's first byte (for
 *       the next ones on a kept-alive connection). The idle timeout restarts at every byte, so a
 *       client dripping one byte at a time would otherwise hold its connection for ever; past the
 *       deadline the connection is closed.</li>
 *   <li><b>one client holding every connection.</b> At most {@code perClient} connections are open
 *       from one address (one /64 for IPv6, which hands a client a whole prefix); one more is
 *       answered 503 and closed before anything of it is read.</li>
 * </ul>
 * The node-wide cap is Jetty's own {@link org.eclipse.jetty.server.NetworkConnectionLimit}.
 */
final class ConnectionGuard extends HttpConnectionFactory {
    private static final long NONE = Long.MIN_VALUE;
    private static final byte[] TOO_MANY = tooMany();

    private final long headerTimeoutNanos;
    private final int perClient;
    private final Map<String, Integer> open = new ConcurrentHashMap<>();
    private final Set<Guarded> live = ConcurrentHashMap.newKeySet();
    private final ScheduledExecutorScheduler scheduler = new ScheduledExecutorScheduler("zd-head-deadline", true);
    private final long sweepMillis;
    private volatile Scheduler.Task sweep;

    ConnectionGuard(HttpConfiguration config, Duration headerTimeout, int perClient) {
        super(config);
        this.headerTimeoutNanos = headerTimeout.toNanos();
        this.perClient = perClient;
        this.sweepMillis = Math.clamp(headerTimeout.toMillis() / 4, 25, 1000);
        addBean(scheduler);
        // A complete head ends its deadline before its request is handled, however long that takes.
        config.addCustomizer((request, responseHeaders) -> {
            if (request.getConnectionMetaData().getConnection() instanceof Guarded g) g.headSince = NONE;
            return request;
        });
    }

    @Override
    protected void doStart() throws Exception {
        super.doStart();
        schedule();
    }

    @Override
    protected void doStop() throws Exception {
        Scheduler.Task t = sweep;
        if (t != null) t.cancel();
        super.doStop();
    }

    private void schedule() {
        if (isRunning() || isStarting()) sweep = scheduler.schedule(this::sweep, sweepMillis, TimeUnit.MILLISECONDS);
    }

    private void sweep() {
        try {
            long now = System.nanoTime();
            for (Guarded c : live) {
                long since = c.headSince;
                if (since != NONE && now - since > headerTimeoutNanos) c.getEndPoint().close();
            }
        } finally {
            schedule();
        }
    }

    @Override
    public Connection newConnection(Connector connector, EndPoint endPoint) {
        Guarded c = new Guarded(getHttpConfiguration(), connector, endPoint, clientKey(endPoint.getRemoteSocketAddress()));
        c.setTransferEncodingChunkMaxLength(getTransferEncodingChunkMaxLength());
        return configure(c, connector, endPoint);
    }

    private static String clientKey(SocketAddress address) {
        return address instanceof InetSocketAddress i && i.getAddress() != null ? clientKey(i.getAddress()) : "?";
    }

    private static String clientKey(InetAddress a) {
        byte[] b = a.getAddress();
        return Arrays.toString(a instanceof Inet6Address ? Arrays.copyOf(b, 8) : b);
    }

    private static byte[] tooMany() {
        // Written without the API's mapper: the connection never reaches a route.
        byte[] body = dev.zerodrop.core.Json.write(new Views.ErrorOut("too_many_connections",
                "too many open connections from this address; close some and retry")).getBytes(StandardCharsets.UTF_8);
        String head = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\nConnection: close\r\n"
                + "Content-Length: " + body.length + "\r\n\r\n";
        byte[] h = head.getBytes(StandardCharsets.ISO_8859_1);
        byte[] out = Arrays.copyOf(h, h.length + body.length);
        System.arraycopy(body, 0, out, h.length, body.length);
        return out;
    }

    private final class Guarded extends HttpConnection {
        private final String client;
        private final boolean refused;
        /** When the head being read began (System.nanoTime), or NONE while no head is being read. */
        volatile long headSince = System.nanoTime();

        Guarded(HttpConfiguration config, Connector connector, EndPoint endPoint, String client) {
            super(config, connector, endPoint);
            this.client = client;
            this.refused = open.merge(client, 1, Integer::sum) > perClient;
        }

        @Override
        public void onOpen() {
            if (refused) {
                // Nothing of the request is read: no fill interest, only the answer, then the close.
                headSince = NONE;
                getEndPoint().write(Callback.from(() -> getEndPoint().close()), ByteBuffer.wrap(TOO_MANY));
                return;
            }
            live.add(this);
            super.onOpen();
        }

        @Override
        public void onClose(Throwable cause) {
            live.remove(this);
            open.computeIfPresent(client, (k, n) -> n <= 1 ? null : n - 1);
            if (!refused) super.onClose(cause);
        }

        @Override
        public void onFillable() {
            long before = getMessagesIn();
            try {
                super.onFillable();
            } finally {
                noteHead(before);
            }
        }

        /**
         * Runs after each read, on the reading thread. A head that ended during the read (complete,
         * or refused by the parser, which then waits for the next one) ends its deadline; a head
         * begun since starts a new one. A connection that has sent nothing yet keeps the deadline
         * of its connection.
         */
        private void noteHead(long before) {
            HttpParser p = getParser();
            boolean completed = getMessagesIn() != before;
            if (p.isStart()) {
                if (completed || getBytesIn() > 0) headSince = NONE;
            } else if (p.inHeaderState()) {
                if (completed || headSince == NONE) headSince = System.nanoTime();
            } else {
                headSince = NONE;
            }
        }
    }
}
