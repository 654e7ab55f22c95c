package dev.zerodrop.chaos;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A TCP relay on 127.0.0.1 to a local port: the network link between two servers, which the harness
 * can make lag ({@link #hold()}: bytes stop moving) and then cut ({@link #cut()}: every connection
 * closes and the bytes held are gone, as they are when the host at one end dies).
 */
final class Relay implements AutoCloseable {
    private final int targetPort;
    private final ServerSocket server;
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();
    private final Object gate = new Object();
    private boolean held;
    private volatile boolean cut;

    Relay(int targetPort) throws IOException {
        this.targetPort = targetPort;
        this.server = new ServerSocket(0, 50, InetAddress.getByName("127.0.0.1"));
        Thread.ofVirtual().name("relay-accept").start(this::accept);
    }

    int port() {
        return server.getLocalPort();
    }

    /** Stops forwarding in both directions; what is read meanwhile stays in the relay and the kernel's buffers. */
    void hold() {
        synchronized (gate) {
            held = true;
        }
    }

    /** Closes every connection and refuses new ones. */
    void cut() {
        cut = true;
        synchronized (gate) {
            gate.notifyAll();
        }
        closeQuietly(server);
        for (Socket s : sockets) closeQuietly(s);
    }

    @Override
    public void close() {
        cut();
    }

    private void accept() {
        while (!cut) {
            try {
                Socket in = server.accept();
                Socket out;
                try {
                    out = new Socket(InetAddress.getByName("127.0.0.1"), targetPort);
                } catch (IOException e) {
                    closeQuietly(in);
                    continue;
                }
                sockets.add(in);
                sockets.add(out);
                if (cut) { // cut while connecting: the list was already closed
                    closeQuietly(in);
                    closeQuietly(out);
                    return;
                }
                Thread.ofVirtual().name("relay-up").start(() -> pump(in, out));
                Thread.ofVirtual().name("relay-down").start(() -> pump(out, in));
            } catch (IOException e) {
                return; // the server socket was closed
            }
        }
    }

    private void pump(Socket from, Socket to) {
        byte[] buf = new byte[16 * 1024];
        try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
            int n;
            while ((n = in.read(buf)) >= 0) {
                synchronized (gate) {
                    while (held && !cut) gate.wait();
                }
                if (cut) return;
                out.write(buf, 0, n);
                out.flush();
            }
        } catch (IOException e) {
            // one end closed or was cut
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            closeQuietly(from);
            closeQuietly(to);
        }
    }

    private static void closeQuietly(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception ignored) {
            // closing is best effort
        }
    }
}
