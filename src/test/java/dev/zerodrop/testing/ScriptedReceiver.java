package dev.zerodrop.testing;

import dev.zerodrop.chaos.Receiver;
import dev.zerodrop.chaos.Receiver.Writer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.zip.GZIPOutputStream;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;

/**
 * A {@link Receiver} that answers each path with exact bytes: malformed status lines, interim
 * responses, heads or bodies that never end, resets. Over TLS too, with a self-signed certificate.
 */
public final class ScriptedReceiver implements AutoCloseable {
    private final Map<String, Writer> answers = new ConcurrentHashMap<>();
    private final Receiver receiver;

    /** A plain HTTP receiver on 127.0.0.1. */
    public ScriptedReceiver() throws IOException {
        receiver = new Receiver(this::decide);
    }

    private ScriptedReceiver(java.net.ServerSocket server) {
        receiver = new Receiver(this::decide, true, server);
    }

    private Receiver.Behaviour decide(Receiver.Request request, int previous) {
        return new Receiver.Behaviour.Custom(answers.getOrDefault(request.path(), raw(response(404, "no script for this path"))));
    }

    /** A TLS receiver on 127.0.0.1 whose certificate is the one in a PKCS12 key store. */
    public static ScriptedReceiver tls(Path keyStore, char[] password) throws Exception {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(keyStore)) {
            ks.load(in, password);
        }
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(ks, password);
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(kmf.getKeyManagers(), null, null);
        return new ScriptedReceiver(ctx.getServerSocketFactory().createServerSocket(0, 64, InetAddress.getByName("127.0.0.1")));
    }

    /** Generates a self-signed certificate for 127.0.0.1 into {@code dir} with the JDK's keytool. */
    public static Path selfSignedKeyStore(Path dir, char[] password) throws IOException, InterruptedException {
        Path ks = dir.resolve("receiver.p12");
        Path keytool = Path.of(System.getProperty("java.home"), "bin", "keytool");
        Process p = new ProcessBuilder(keytool.toString(), "-genkeypair", "-alias", "receiver", "-keyalg", "EC",
                "-groupname", "secp256r1", "-dname", "CN=127.0.0.1", "-ext", "SAN=ip:127.0.0.1", "-validity", "2",
                "-storetype", "PKCS12", "-keystore", ks.toString(), "-storepass", new String(password),
                "-keypass", new String(password)).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) throw new IOException("keytool failed: " + output);
        return ks;
    }

    /** Answers {@code path} with {@code answer} from now on. */
    public ScriptedReceiver on(String path, Writer answer) {
        answers.put(path, answer);
        return this;
    }

    public String url(String path) {
        return receiver.url(path);
    }

    /** Every request so far, in order. */
    public List<Receiver.Request> requests() {
        return receiver.requests();
    }

    /** Every path requested so far, in order. */
    public List<String> paths() {
        return receiver.requests().stream().map(Receiver.Request::path).toList();
    }

    public long count(String path) {
        return paths().stream().filter(path::equals).count();
    }

    // ---- answers --------------------------------------------------------------------------------

    /** Sends {@code raw} (ISO-8859-1) and keeps the connection for the next request. */
    public static Writer raw(String raw) {
        return c -> {
            c.write(raw);
            return true;
        };
    }

    /** Sends {@code raw}, then ends the stream. */
    public static Writer rawThenClose(String raw) {
        return c -> {
            c.write(raw);
            return c.close();
        };
    }

    /** Sends {@code raw}, then stays silent with the connection open. */
    public static Writer rawThenHold(String raw) {
        return c -> {
            c.write(raw);
            return c.hold();
        };
    }

    /** A complete response with a Content-Length body and the given extra header lines. */
    public static Writer status(int status, String body, String... headerLines) {
        return raw(response(status, body, headerLines));
    }

    public static String response(int status, String body, String... headerLines) {
        StringBuilder sb = new StringBuilder("HTTP/1.1 ").append(status).append(" Scripted\r\n");
        for (String h : headerLines) sb.append(h).append("\r\n");
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        sb.append("Content-Length: ").append(b.length).append("\r\n\r\n").append(new String(b, StandardCharsets.ISO_8859_1));
        return sb.toString();
    }

    /** A response with {@code head} (status line and headers, without the blank line) and a binary body. */
    public static Writer bytes(String head, Supplier<byte[]> body) {
        return c -> {
            byte[] b = body.get();
            c.write(head + "\r\nContent-Length: " + b.length + "\r\n\r\n");
            c.write(b);
            return true;
        };
    }

    /** Sends {@code head}, then {@code piece} every {@code every}, until the client goes away. */
    public static Writer drip(String head, String piece, Duration every) {
        return c -> {
            c.write(head);
            while (c.pause(every)) c.write(piece);
            return false;
        };
    }

    /** A 200 whose one header value grows without end, up to {@code limit} bytes. */
    public static Writer endlessHeader(long limit) {
        return c -> {
            c.write("HTTP/1.1 200 OK\r\nX-Endless: ");
            byte[] chunk = "a".repeat(64 * 1024).getBytes(StandardCharsets.ISO_8859_1);
            for (long sent = 0; sent < limit; sent += chunk.length) c.write(chunk); // fails once the client closes
            return false;
        };
    }

    public static Writer reset() {
        return Receiver.Connection::reset;
    }

    public static Writer hang() {
        return Receiver.Connection::hold;
    }

    /** The gzip encoding of {@code data}. */
    public static byte[] gzip(byte[] data) {
        try {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            try (GZIPOutputStream z = new GZIPOutputStream(bytes)) {
                z.write(data);
            }
            return bytes.toByteArray();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void close() {
        receiver.close();
    }
}
