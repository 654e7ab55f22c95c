package dev.zerodrop.chaos;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A real HTTP/1.1 receiver on 127.0.0.1, written on raw sockets so that it can misbehave the way real
 * receivers do: hang, drop or reset the connection, answer slowly or with a huge body. It records
 * every request with its headers and exact body bytes. Used by the test suite and by {@code chaos}.
 */
public final class Receiver implements AutoCloseable {
    /** What to do with one request. */
    public sealed interface Behaviour {
        record Respond(int status, String body, Map<String, String> headers) implements Behaviour {}

        /** Never answer until the receiver closes (the client's timeout must end it). */
        record Hang() implements Behaviour {}

        /** Close the connection without sending a response. */
        record Drop() implements Behaviour {}

        /** Reset the connection (RST) without sending a response. */
        record Reset() implements Behaviour {}

        /** Wait, then behave as {@code then}. */
        record Slow(java.time.Duration delay, Behaviour then) implements Behaviour {}

        /** Answer {@code status} with a body of {@code bytes} bytes, streamed. */
        record Huge(int status, long bytes) implements Behaviour {}

        /** Hand the connection to {@code writer}, to send exact bytes (malformed, interim, endless). */
        record Custom(Writer writer) implements Behaviour {}
    }

    /** Writes one answer on a {@link Connection}; returns whether the connection stays open for the next request. */
    @FunctionalInterface
    public interface Writer {
        boolean write(Connection connection) throws IOException, InterruptedException;
    }

    /** One request's connection, as a {@link Writer} sees it. */
    public final class Connection {
        private final Socket socket;
        private final OutputStream out;

        Connection(Socket socket, OutputStream out) {
            this.socket = socket;
            this.out = out;
        }

        public void write(byte[] bytes) throws IOException {
            out.write(bytes);
            out.flush();
        }

        /** Writes {@code text} as ISO-8859-1, byte for char. */
        public void write(String text) throws IOException {
            write(text.getBytes(StandardCharsets.ISO_8859_1));
        }

        /** Waits, unless the receiver closes first; returns false when it did. */
        public boolean pause(java.time.Duration d) throws InterruptedException {
            return !closing.await(d.toMillis(), TimeUnit.MILLISECONDS);
        }

        /** Holds the connection open, silent, until the receiver closes; then ends it. */
        public boolean hold() throws InterruptedException {
            closing.await(300, TimeUnit.SECONDS);
            return false;
        }

        /** Ends the connection with a reset (RST). */
        public boolean reset() throws IOException {
            socket.setSoLinger(true, 0);
            return false;
        }

        /** Ends the stream (the client reads its end), then the connection. */
        public boolean close() throws IOException {
            socket.shutdownOutput();
            return false;
        }
    }

    public static Behaviour ok() {
        return new Behaviour.Respond(200, "ok", Map.of());
    }

    public static Behaviour status(int status) {
        return new Behaviour.Respond(status, "status " + status, Map.of());
    }

    /** Decides the behaviour from the request and how many requests with this webhook-id came before it. */
    @FunctionalInterface
    public interface Script {
        Behaviour decide(Request request, int previousForSameId);
    }

    public record Request(String path, Map<String, String> headers, byte[] body, long receivedAtNanos) {
        public String header(String name) {
            return headers.get(name.toLowerCase(Locale.ROOT));
        }

        public String bodyText() {
            return new String(body, StandardCharsets.UTF_8);
        }
    }

    private final ServerSocket server;
    private final List<Request> requests = new CopyOnWriteArrayList<>();
    private final Map<String, AtomicInteger> perId = new ConcurrentHashMap<>();
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();
    private final java.util.concurrent.atomic.AtomicLong count = new java.util.concurrent.atomic.AtomicLong();
    private final CountDownLatch closing = new CountDownLatch(1);
    private volatile Script script;
    private final boolean record;

    public Receiver(Script script) throws IOException {
        this(script, true);
    }

    /**
     * @param record keep every request (headers and body) for {@link #requests()}; benchmarks turn
     *     it off, so that a million deliveries do not fill the heap
     */
    public Receiver(Script script, boolean record) throws IOException {
        this(script, record, new ServerSocket(0, 1024, InetAddress.getByName("127.0.0.1")));
    }

    /** Serves on {@code server}, which is bound already: an {@code SSLServerSocket} serves https. */
    public Receiver(Script script, boolean record, ServerSocket server) {
        this.script = script;
        this.record = record;
        this.server = server;
        Thread.ofVirtual().name("receiver-accept").start(this::acceptLoop);
    }

    public static Receiver alwaysOk() throws IOException {
        return new Receiver((r, n) -> ok());
    }

    public void script(Script script) {
        this.script = script;
    }

    public String url(String path) {
        return (server instanceof javax.net.ssl.SSLServerSocket ? "https" : "http") + "://127.0.0.1:" + server.getLocalPort() + path;
    }

    public int port() {
        return server.getLocalPort();
    }

    public List<Request> requests() {
        return List.copyOf(requests);
    }

    /** Requests received so far, counted even when they are not recorded. */
    public long requestCount() {
        return count.get();
    }

    private void acceptLoop() {
        while (!server.isClosed()) {
            try {
                Socket s = server.accept();
                s.setTcpNoDelay(true); // a response is one write; never wait for the peer's delayed ACK
                sockets.add(s);
                Thread.ofVirtual().start(() -> serve(s));
            } catch (IOException e) {
                return;
            }
        }
    }

    private void serve(Socket socket) {
        try (socket) {
            InputStream in = new BufferedInputStream(socket.getInputStream(), 64 * 1024);
            OutputStream out = socket.getOutputStream();
            while (true) {
                Request req = read(in);
                if (req == null) return;
                count.incrementAndGet();
                int previous = 0;
                if (record) {
                    String id = req.headers().getOrDefault("webhook-id", "");
                    previous = perId.computeIfAbsent(id, k -> new AtomicInteger()).getAndIncrement();
                    requests.add(req);
                }
                if (!respond(script.decide(req, previous), socket, out)) return;
            }
        } catch (IOException e) {
            // the client went away
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            sockets.remove(socket);
        }
    }

    /** Carries out one behaviour; returns false when the connection must end. */
    private boolean respond(Behaviour behaviour, Socket socket, OutputStream out) throws IOException, InterruptedException {
        switch (behaviour) {
            case Behaviour.Respond r -> {
                byte[] body = r.body().getBytes(StandardCharsets.UTF_8);
                StringBuilder head = new StringBuilder("HTTP/1.1 " + r.status() + " X\r\n");
                head.append("Content-Length: ").append(body.length).append("\r\n");
                r.headers().forEach((k, v) -> head.append(k).append(": ").append(v).append("\r\n"));
                head.append("\r\n");
                byte[] h = head.toString().getBytes(StandardCharsets.ISO_8859_1);
                byte[] all = new byte[h.length + body.length];
                System.arraycopy(h, 0, all, 0, h.length);
                System.arraycopy(body, 0, all, h.length, body.length);
                out.write(all);
                out.flush();
                return true;
            }
            case Behaviour.Hang h -> {
                closing.await(300, TimeUnit.SECONDS);
                return false;
            }
            case Behaviour.Drop d -> {
                return false;
            }
            case Behaviour.Reset r -> {
                socket.setSoLinger(true, 0);
                return false;
            }
            case Behaviour.Slow slow -> {
                if (closing.await(slow.delay().toMillis(), TimeUnit.MILLISECONDS)) return false;
                return respond(slow.then(), socket, out);
            }
            case Behaviour.Custom custom -> {
                return custom.writer().write(new Connection(socket, out));
            }
            case Behaviour.Huge huge -> {
                out.write(("HTTP/1.1 " + huge.status() + " X\r\nContent-Length: " + huge.bytes() + "\r\n\r\n")
                        .getBytes(StandardCharsets.ISO_8859_1));
                byte[] chunk = new byte[64 * 1024];
                java.util.Arrays.fill(chunk, (byte) 'x');
                for (long sent = 0; sent < huge.bytes(); sent += chunk.length) {
                    out.write(chunk, 0, (int) Math.min(chunk.length, huge.bytes() - sent)); // fails once the client stops reading
                }
                out.flush();
                return true;
            }
        }
    }

    private static Request read(InputStream in) throws IOException {
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        int state = 0;
        while (state < 4) {
            int b = in.read();
            if (b < 0) return null;
            head.write(b);
            state = (b == '\r' && (state == 0 || state == 2)) || (b == '\n' && (state == 1 || state == 3)) ? state + 1 : (b == '\r' ? 1 : 0);
        }
        String[] lines = head.toString(StandardCharsets.ISO_8859_1).split("\r\n");
        String[] requestLine = lines[0].split(" ");
        Map<String, String> headers = new HashMap<>();
        for (int i = 1; i < lines.length; i++) {
            int colon = lines[i].indexOf(':');
            if (colon > 0) headers.put(lines[i].substring(0, colon).trim().toLowerCase(Locale.ROOT), lines[i].substring(colon + 1).trim());
        }
        int length = Integer.parseInt(headers.getOrDefault("content-length", "0"));
        byte[] body = in.readNBytes(length);
        return new Request(requestLine.length > 1 ? requestLine[1] : "/", Map.copyOf(headers), body, System.nanoTime());
    }

    @Override
    public void close() {
        closing.countDown();
        try {
            server.close();
        } catch (IOException ignored) {
            // closing
        }
        for (Socket s : sockets) {
            try {
                s.close();
            } catch (IOException ignored) {
                // closing
            }
        }
    }
}
