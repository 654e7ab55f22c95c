package dev.zerodrop.chaos;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipalLookupService;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A PostgreSQL primary and a hot standby on this machine, built with the machine's own server binaries
 * ({@code initdb}, {@code pg_ctl}, {@code pg_basebackup}): two clusters on two free ports of 127.0.0.1,
 * the standby made with {@code pg_basebackup -R} and streaming from the primary through a {@link Relay},
 * so that the harness can make it fall behind. With {@code synchronous}, the primary names the standby in
 * {@code synchronous_standby_names}: a commit returns only once the standby has flushed its WAL.
 *
 * <p>PostgreSQL refuses to run as root; a root harness runs the clusters as the {@code postgres} OS user,
 * in a directory of the run under the temporary folder that belongs to that user. Both clusters need a
 * password ({@code scram-sha-256}) and accept connections from 127.0.0.1 only.
 */
public final class ReplicatedPostgres implements AutoCloseable {
    public static final String DATABASE = "zerodrop";
    public static final String USER = "postgres";
    private static final String STANDBY = "standby1";
    private static final String OS_USER = "postgres";
    private static final List<String> TOOLS = List.of("initdb", "pg_ctl", "pg_basebackup", "postgres");

    private final boolean synchronous;
    private final Path logDir;
    private final String name;
    private final Path bin;
    private final boolean asRoot;
    private final String password = newPassword();
    private final int primaryPort;
    private final int standbyPort;
    private Path dir;
    private Relay relay;
    private final List<ProcessHandle> oldPrimary = new ArrayList<>(); // the killed postmaster and its children

    /** {@code name} prefixes the cluster logs copied to {@code logDir} when it closes. */
    public ReplicatedPostgres(boolean synchronous, String name, Path logDir) throws IOException {
        this.synchronous = synchronous;
        this.name = name;
        this.logDir = logDir;
        this.bin = binaries();
        this.asRoot = new com.sun.security.auth.module.UnixSystem().getUid() == 0;
        this.primaryPort = Chaos.freePort();
        int p;
        do p = Chaos.freePort(); while (p == primaryPort);
        this.standbyPort = p;
    }

    /**
     * The directory of the machine's PostgreSQL server binaries: {@code ZERODROP_PG_BIN} if set, else
     * the newest {@code /usr/lib/postgresql/<version>/bin} (Debian and Ubuntu), else a directory on the
     * {@code PATH} that has them all.
     *
     * @throws IOException naming what to install when there are none
     */
    public static Path binaries() throws IOException {
        String env = System.getenv("ZERODROP_PG_BIN");
        if (env != null && !env.isBlank()) {
            Path p = Path.of(env);
            if (hasTools(p)) return p;
            throw new IOException("ZERODROP_PG_BIN=" + env + " lacks one of " + TOOLS);
        }
        List<Path> candidates = new ArrayList<>();
        Path debian = Path.of("/usr/lib/postgresql");
        if (Files.isDirectory(debian)) {
            try (Stream<Path> versions = Files.list(debian)) {
                versions.filter(v -> v.getFileName().toString().matches("\\d+(\\.\\d+)?"))
                        .sorted(Comparator.comparingDouble((Path v) -> Double.parseDouble(v.getFileName().toString())).reversed())
                        .forEach(v -> candidates.add(v.resolve("bin")));
            }
        }
        for (String d : System.getenv().getOrDefault("PATH", "").split(java.io.File.pathSeparator)) {
            if (!d.isEmpty()) candidates.add(Path.of(d));
        }
        for (Path c : candidates) if (hasTools(c)) return c;
        throw new IOException("the failover scenario needs PostgreSQL's server binaries " + TOOLS
                + ", found neither in /usr/lib/postgresql/<version>/bin nor on the PATH: install them"
                + " (Debian or Ubuntu: apt-get install postgresql) or set ZERODROP_PG_BIN to their directory");
    }

    private static String newPassword() {
        byte[] b = new byte[16];
        new SecureRandom().nextBytes(b);
        return HexFormat.of().formatHex(b);
    }

    private static boolean hasTools(Path dir) {
        return TOOLS.stream().allMatch(t -> Files.isExecutable(dir.resolve(t)));
    }

    /**
     * Builds and starts both clusters, waits until the standby streams, then turns synchronous
     * replication on if asked. On failure, what was started is stopped and removed.
     */
    public ReplicatedPostgres start() throws IOException, SQLException {
        try {
            build();
            return this;
        } catch (IOException | SQLException | RuntimeException e) {
            try {
                close();
            } catch (IOException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
    }

    private void build() throws IOException, SQLException {
        // Under /tmp when root, so that the postgres user can reach it whatever java.io.tmpdir says.
        dir = asRoot ? Files.createTempDirectory(Path.of("/tmp"), "zerodrop-failover-") : Files.createTempDirectory("zerodrop-failover-");
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
        if (asRoot) own(dir);
        Path pwFile = dir.resolve("pw");
        Files.writeString(pwFile, password + "\n");
        if (asRoot) own(pwFile);
        pg("initdb", "-D", primaryDir().toString(), "-U", USER, "--pwfile=" + pwFile, "--auth=scram-sha-256",
                "-E", "UTF8", "--locale=C.UTF-8");
        Files.delete(pwFile);
        // Only the local loopback address, with the password: no socket file, nothing trusted.
        Files.writeString(primaryDir().resolve("pg_hba.conf"), "host all " + USER + " 127.0.0.1/32 scram-sha-256\n"
                + "host replication " + USER + " 127.0.0.1/32 scram-sha-256\n", StandardOpenOption.TRUNCATE_EXISTING);
        Files.writeString(primaryDir().resolve("postgresql.auto.conf"), settings(primaryPort), StandardOpenOption.APPEND);
        pg("pg_ctl", "-D", primaryDir().toString(), "-l", dir.resolve("primary.log").toString(), "-w", "-t", "120", "start");
        try (Connection c = connect(primaryPort, "postgres"); var st = c.createStatement()) {
            st.execute("CREATE DATABASE " + DATABASE);
        }

        relay = new Relay(primaryPort);
        pg("pg_basebackup", "-h", "127.0.0.1", "-p", Integer.toString(primaryPort), "-U", USER, "-D", standbyDir().toString(),
                "-R", "-X", "stream", "-c", "fast");
        // The copy carries the primary's settings: give the standby its own port, and stream through the relay.
        Files.writeString(standbyDir().resolve("postgresql.auto.conf"), settings(standbyPort)
                + "primary_conninfo = 'host=127.0.0.1 port=" + relay.port() + " user=" + USER + " password=" + password
                + " application_name=" + STANDBY + "'\n", StandardOpenOption.TRUNCATE_EXISTING);
        pg("pg_ctl", "-D", standbyDir().toString(), "-l", dir.resolve("standby.log").toString(), "-w", "-t", "120", "start");
        awaitReplication("streaming/async");
        if (synchronous) {
            try (Connection c = connect(primaryPort, "postgres"); var st = c.createStatement()) {
                st.execute("ALTER SYSTEM SET synchronous_standby_names = '" + STANDBY + "'");
                st.execute("SELECT pg_reload_conf()");
            }
            awaitReplication("streaming/sync");
        }
    }

    private static String settings(int port) {
        StringBuilder sb = new StringBuilder();
        Map.of("listen_addresses", "'127.0.0.1'", "port", Integer.toString(port), "unix_socket_directories", "''",
                        "fsync", "on", "synchronous_commit", "on", "full_page_writes", "on",
                        "shared_buffers", "'64MB'", "max_connections", "100", "hot_standby", "on")
                .forEach((k, v) -> sb.append(k).append(" = ").append(v).append('\n'));
        return sb.toString();
    }

    /** Waits until {@link #replicationState()} is {@code want}. */
    private void awaitReplication(String want) throws IOException, SQLException {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        String seen = "none";
        while (System.nanoTime() < deadline) {
            seen = replicationState();
            if (seen.equals(want)) return;
            NodeProcess.pause(Duration.ofMillis(100));
        }
        throw new IOException("the standby did not reach '" + want + "' within 60s (last seen: " + seen + "); see "
                + logDir.resolve(name + "-standby.log"));
    }

    /** The standby as the primary sees it: {@code state/sync_state}, e.g. {@code streaming/sync}, or {@code none}. */
    public String replicationState() throws SQLException {
        try (Connection c = connect(primaryPort, "postgres"); var st = c.createStatement();
             var rs = st.executeQuery("SELECT state || '/' || sync_state FROM pg_stat_replication WHERE application_name = '" + STANDBY + "'")) {
            return rs.next() ? rs.getString(1) : "none";
        }
    }

    /** The URL the nodes use: both servers, and only a primary will do. */
    public String jdbcUrl() {
        return "jdbc:postgresql://127.0.0.1:" + primaryPort + ",127.0.0.1:" + standbyPort + "/" + DATABASE + "?targetServerType=primary";
    }

    public String password() {
        return password;
    }

    /** A connection to the standby (the primary after {@link #promoteStandby()}), for the harness's checks. */
    public Connection connectStandby() throws SQLException {
        return connect(standbyPort, DATABASE);
    }

    /** The standby stops hearing from the primary: it falls behind by however long this lasts. */
    public void stallReplication() {
        relay.hold();
    }

    /**
     * {@code kill -9} of the primary's postmaster, and the link to the standby is cut: WAL that had not
     * reached it dies with the primary. The postmaster's children notice its death and exit by themselves.
     */
    public void killPrimary() throws IOException {
        long pid = Long.parseLong(Files.readAllLines(primaryDir().resolve("postmaster.pid")).getFirst().trim());
        ProcessHandle postmaster = ProcessHandle.of(pid).orElseThrow(() -> new IOException("the primary (pid " + pid + ") is not running"));
        postmaster.descendants().forEach(oldPrimary::add);
        oldPrimary.add(postmaster);
        // Not waited for: the JDK polls a process that is not its child, and its sockets close as it dies anyway.
        postmaster.destroyForcibly();
        relay.cut();
    }

    /** {@code SELECT pg_promote()} on the standby; returns how long the promotion took. */
    public Duration promoteStandby() throws SQLException, IOException {
        long start = System.nanoTime();
        try (Connection c = connect(standbyPort, "postgres"); var st = c.createStatement(); var rs = st.executeQuery("SELECT pg_promote(true, 60)")) {
            if (!rs.next() || !rs.getBoolean(1)) throw new IOException("the standby was not promoted within 60s; see " + logDir.resolve(name + "-standby.log"));
        }
        return Duration.ofNanos(System.nanoTime() - start);
    }

    private Connection connect(int port, String db) throws SQLException {
        return DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + port + "/" + db, USER, password);
    }

    private Path primaryDir() {
        return dir.resolve("primary");
    }

    private Path standbyDir() {
        return dir.resolve("standby");
    }

    /** Stops what still runs, copies the cluster logs beside the nodes' and removes the clusters (kept with {@code -Dzerodrop.chaos.keep=true}). */
    @Override
    public void close() throws IOException {
        if (relay != null) relay.close();
        if (dir == null) return;
        // The killed primary's pid file stays behind, naming a pid that may be reused: it is not stopped by pid file.
        for (Path cluster : oldPrimary.isEmpty() ? List.of(standbyDir(), primaryDir()) : List.of(standbyDir())) {
            if (Files.exists(cluster.resolve("postmaster.pid"))) {
                try {
                    pg("pg_ctl", "-D", cluster.toString(), "-m", "immediate", "-w", "-t", "60", "stop");
                } catch (IOException e) {
                    // not running any more
                }
            }
        }
        for (ProcessHandle p : oldPrimary) if (p.isAlive()) p.destroyForcibly();
        Files.createDirectories(logDir);
        for (String log : List.of("primary.log", "standby.log", "commands.log")) {
            Path from = dir.resolve(log);
            if (Files.exists(from)) Files.copy(from, logDir.resolve(name + "-" + log), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
        if (Boolean.getBoolean("zerodrop.chaos.keep")) return;
        try (Stream<Path> all = Files.walk(dir)) {
            for (Path p : all.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        }
    }

    /** Runs one of the server's tools, as the {@code postgres} OS user when this JVM is root. */
    private void pg(String tool, String... args) throws IOException {
        List<String> cmd = new ArrayList<>();
        if (asRoot) cmd.addAll(List.of("runuser", "-u", OS_USER, "--"));
        cmd.add(bin.resolve(tool).toString());
        cmd.addAll(List.of(args));
        Path out = dir.resolve("commands.log");
        Files.writeString(out, "$ " + tool + " " + String.join(" ", args) + "\n", StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        if (asRoot) own(out);
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(out.toFile()));
        pb.environment().put("PGPASSWORD", password); // pg_basebackup's; never on a command line
        Process p = pb.start();
        try {
            if (!p.waitFor(150, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException(tool + " did not finish within 150s; see " + logDir.resolve(name + "-commands.log"));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            p.destroyForcibly();
            throw new IOException("interrupted while running " + tool, e);
        }
        if (p.exitValue() != 0) {
            List<String> lines = Files.readAllLines(out, StandardCharsets.UTF_8);
            throw new IOException(tool + " failed with exit code " + p.exitValue() + ": "
                    + String.join(" | ", lines.subList(Math.max(0, lines.size() - 5), lines.size())));
        }
    }

    private static void own(Path p) throws IOException {
        UserPrincipalLookupService users = p.getFileSystem().getUserPrincipalLookupService();
        try {
            Files.setOwner(p, users.lookupPrincipalByName(OS_USER));
            Files.getFileAttributeView(p, java.nio.file.attribute.PosixFileAttributeView.class)
                    .setGroup(users.lookupPrincipalByGroupName(OS_USER));
        } catch (java.nio.file.attribute.UserPrincipalNotFoundException e) {
            throw new IOException("PostgreSQL refuses to run as root, and there is no '" + OS_USER + "' OS user to run it as:"
                    + " create one (useradd --system " + OS_USER + "), or run the harness as another user", e);
        }
    }
}
