package dev.zerodrop.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.zerodrop.Server;
import dev.zerodrop.config.Knob;
import dev.zerodrop.testing.TestDatabase;
import dev.zerodrop.testing.TestServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Slow and greedy clients, on real sockets: a head dripped a byte at a time is cut off at the
 * header deadline, one address cannot hold more than its share of connections, and the node stops
 * accepting past its total; other clients are served meanwhile.
 */
class ConnectionLimitsTest {
    static final int PER_CLIENT = 5;
    static TestDatabase db;
    static TestServer zd;

    @BeforeAll
    static void start() throws Exception {
        db = TestDatabase.create("conns");
        Map<Knob, String> knobs = TestServer.defaults(db.url());
        knobs.put(Knob.DISPATCH, "false");
        knobs.put(Knob.HEADER_TIMEOUT, "1s");
        knobs.put(Knob.MAX_CONNECTIONS_PER_CLIENT, Integer.toString(PER_CLIENT));
        zd = TestServer.start(knobs, TestServer.quiet(Server.Options.defaults()));
    }

    @AfterAll
    static void stop() {
        if (zd != null) zd.close();
        if (db != null) db.close();
    }

    /** A client socket from {@code from} (any 127.x address: each is another client to the server). */
    static Socket connect(TestServer server, String from) throws IOException {
        Socket s = new Socket();
        s.bind(new InetSocketAddress(InetAddress.getByName(from), 0));
        s.connect(new InetSocketAddress("127.0.0.1", server.server().port()), 5_000);
        return s;
    }

    static String request(String path) {
        return "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + TestServer.TOKEN + "\r\n\r\n";
    }

    /** Sends a GET on {@code s} and returns the status of its answer, or -1 when the connection closed without one. */
    static int get(Socket s, String path) throws IOException {
        s.setSoTimeout(10_000);
        s.getOutputStream().write(request(path).getBytes(StandardCharsets.ISO_8859_1));
        return status(s.getInputStream());
    }

    /** Reads one whole answer (head, and a Content-Length body) and returns its status, or -1 when the connection ended first. */
    static int status(InputStream in) throws IOException {
        StringBuilder head = new StringBuilder();
        try {
            while (!head.toString().endsWith("\r\n\r\n")) {
                int b = in.read();
                if (b < 0) return -1;
                head.append((char) b);
            }
            String h = head.toString().toLowerCase(java.util.Locale.ROOT);
            int at = h.indexOf("content-length:");
            if (at >= 0) in.readNBytes(Integer.parseInt(h.substring(at + 15, h.indexOf("\r\n", at)).trim()));
        } catch (java.net.SocketException e) {
            return -1; // reset
        }
        return Integer.parseInt(head.substring(9, 12));
    }

    /** True once the server has closed {@code s} (EOF or reset). */
    static boolean closedByServer(Socket s) {
        try {
            s.setSoTimeout(50);
            return s.getInputStream().read() < 0;
        } catch (SocketTimeoutException e) {
            return false;
        } catch (IOException e) {
            return true;
        }
    }

    @Test
    void aHeadDrippedAByteAtATimeIsCutOffAtTheDeadlineWhileOthersAreServed() throws Exception {
        List<Socket> drippers = new ArrayList<>();
        try {
            for (int i = 0; i < 200; i++) drippers.add(connect(zd, "127.0." + (1 + i / PER_CLIENT / 200) + "." + (10 + i / PER_CLIENT % 200)));
            byte[] head = request("/api/v1/app").getBytes(StandardCharsets.ISO_8859_1);
            // Each dripper has sent a few bytes of its head (each byte restarts Jetty's idle timeout).
            for (int b = 0; b < 5; b++) {
                for (Socket s : drippers) {
                    try {
                        OutputStream out = s.getOutputStream();
                        out.write(head[b]);
                        out.flush();
                    } catch (IOException e) {
                        // cut off already: on a busy machine the deadline can pass while the others are written to
                    }
                }
            }
            try (Socket normal = connect(zd, "127.0.0.2")) {
                assertThat(get(normal, "/api/v1/app")).isEqualTo(200);
            }
            int[] next = {5};
            await().atMost(Duration.ofSeconds(15)).pollInterval(Duration.ofMillis(100)).until(() -> {
                // Keep dripping, a byte per poll, to those still open: they are cut all the same.
                for (Socket s : drippers) {
                    try {
                        s.getOutputStream().write(head[Math.min(next[0], head.length - 3)]);
                    } catch (IOException e) {
                        // closed already
                    }
                }
                next[0]++;
                return drippers.stream().allMatch(ConnectionLimitsTest::closedByServer);
            });
            try (Socket normal = connect(zd, "127.0.0.2")) {
                assertThat(get(normal, "/api/v1/app")).isEqualTo(200);
            }
        } finally {
            for (Socket s : drippers) s.close();
        }
    }

    @Test
    void aConnectionSilentSinceItOpenedIsCutOffToo() throws Exception {
        try (Socket silent = connect(zd, "127.0.0.3")) {
            await().atMost(Duration.ofSeconds(15)).until(() -> closedByServer(silent));
        }
    }

    @Test
    void aKeptAliveConnectionServesRequestAfterRequestPastTheDeadline() throws Exception {
        try (Socket s = connect(zd, "127.0.0.4")) {
            for (int i = 0; i < 3; i++) assertThat(get(s, "/api/v1/health/ping")).isEqualTo(204);
        }
    }

    @Test
    void aRequestHandledForLongerThanTheDeadlineIsNotCutOff() throws Exception {
        // The application table is locked, so that listing it waits; a silent connection opened after
        // the request shows when the deadline has passed for both.
        try (java.sql.Connection lock = java.sql.DriverManager.getConnection(db.url());
             Socket slow = connect(zd, "127.0.0.8")) {
            lock.setAutoCommit(false);
            lock.createStatement().execute("LOCK TABLE application IN ACCESS EXCLUSIVE MODE");
            slow.getOutputStream().write(request("/api/v1/app").getBytes(StandardCharsets.ISO_8859_1));
            try (Socket canary = connect(zd, "127.0.0.9")) {
                await().atMost(Duration.ofSeconds(15)).until(() -> closedByServer(canary));
            }
            assertThat(closedByServer(slow)).as("the request being handled keeps its connection").isFalse();
            lock.commit();
            slow.setSoTimeout(20_000);
            assertThat(status(slow.getInputStream())).isEqualTo(200);
        }
    }

    @Test
    void oneAddressGetsNoMoreThanItsShareOfConnections() throws Exception {
        List<Socket> held = new ArrayList<>();
        try {
            for (int i = 0; i < PER_CLIENT; i++) {
                Socket s = connect(zd, "127.0.0.5");
                held.add(s);
                assertThat(get(s, "/api/v1/health/ping")).isEqualTo(204);
            }
            try (Socket extra = connect(zd, "127.0.0.5")) {
                int status = get(extra, "/api/v1/health/ping");
                assertThat(status).as("the connection over the cap is refused (503) or closed (-1)").isIn(503, -1);
            }
            try (Socket other = connect(zd, "127.0.0.6")) {
                assertThat(get(other, "/api/v1/health/ping")).isEqualTo(204);
            }
            held.removeFirst().close();
            await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
                try (Socket again = connect(zd, "127.0.0.5")) {
                    assertThat(get(again, "/api/v1/health/ping")).isEqualTo(204);
                }
            });
        } finally {
            for (Socket s : held) s.close();
        }
    }

    @Test
    void connectionsThatCameAndWentAreNotCountedAgainstTheirAddress() throws Exception {
        byte[] big = ("POST /api/v1/app HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + TestServer.TOKEN
                + "\r\nContent-Type: application/json\r\nContent-Length: 1100000\r\n\r\n{\"name\":\"" + "x".repeat(1_099_990) + "\"}")
                .getBytes(StandardCharsets.ISO_8859_1);
        for (int i = 0; i < 4 * PER_CLIENT; i++) {
            if (i % 4 == 0) {
                // The closes of the round before reach the server a moment after the client made them.
                await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
                    try (Socket s = connect(zd, "127.0.0.7")) {
                        assertThat(get(s, "/api/v1/health/ping")).isEqualTo(204);
                    }
                });
                continue;
            }
            try (Socket s = connect(zd, "127.0.0.7")) {
                switch (i % 4) {
                    case 1 -> { // refused, with the connection closed after the answer
                        s.getOutputStream().write(big);
                        assertThat(status(s.getInputStream())).isIn(413, -1);
                    }
                    case 2 -> s.getOutputStream().write("GET /api/v1/ap".getBytes(StandardCharsets.ISO_8859_1)); // gone mid-head
                    default -> { // over the cap: refused at once
                        List<Socket> more = new ArrayList<>();
                        try {
                            for (int k = 0; k < PER_CLIENT; k++) more.add(connect(zd, "127.0.0.7"));
                            get(more.getLast(), "/api/v1/health/ping");
                        } finally {
                            for (Socket m : more) m.close();
                        }
                    }
                }
            }
        }
        // Every slot is free again: the address can hold its full share at once.
        List<Socket> held = new ArrayList<>();
        try {
            await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
                for (Socket s : held) s.close();
                held.clear();
                for (int i = 0; i < PER_CLIENT; i++) {
                    Socket s = connect(zd, "127.0.0.7");
                    held.add(s);
                    assertThat(get(s, "/api/v1/health/ping")).isEqualTo(204);
                }
            });
        } finally {
            for (Socket s : held) s.close();
        }
    }

    @Test
    void pastTheNodesTotalNewConnectionsWaitUntilOneCloses() throws Exception {
        try (TestDatabase db2 = TestDatabase.create("conns_total")) {
            Map<Knob, String> knobs = TestServer.defaults(db2.url());
            knobs.put(Knob.DISPATCH, "false");
            knobs.put(Knob.MAX_CONNECTIONS, "4");
            try (TestServer small = TestServer.start(knobs, TestServer.quiet(Server.Options.defaults()))) {
                List<Socket> held = new ArrayList<>();
                try {
                    for (int i = 0; i < 4; i++) {
                        Socket s = connect(small, "127.0.0." + (20 + i));
                        held.add(s);
                        assertThat(get(s, "/api/v1/health/ping")).isEqualTo(204);
                    }
                    try (Socket waiting = connect(small, "127.0.0.30")) {
                        waiting.getOutputStream().write(request("/api/v1/health/ping").getBytes(StandardCharsets.ISO_8859_1));
                        waiting.setSoTimeout(500);
                        // Not accepted while four are open: no answer comes.
                        org.assertj.core.api.Assertions.assertThatThrownBy(() -> waiting.getInputStream().read())
                                .isInstanceOf(SocketTimeoutException.class);
                        held.removeFirst().close();
                        waiting.setSoTimeout(10_000);
                        assertThat(status(waiting.getInputStream())).isEqualTo(204);
                    }
                } finally {
                    for (Socket s : held) s.close();
                }
            }
        }
    }
}
