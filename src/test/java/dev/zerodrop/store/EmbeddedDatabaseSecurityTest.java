package dev.zerodrop.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The embedded PostgreSQL is ZeroDrop's alone: its binaries sit in the data directory, which only
 * ZeroDrop's user can enter; it listens on loopback without a Unix socket; and a connection without
 * the generated password is refused, also for a cluster made before the password existed.
 */
class EmbeddedDatabaseSecurityTest {
    @TempDir
    Path dir;

    static Connection connect(int port, String password) throws SQLException {
        Properties p = new Properties();
        p.setProperty("user", "postgres");
        if (password != null) p.setProperty("password", password);
        p.setProperty("connectTimeout", "5");
        return DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + port + "/postgres", p);
    }

    static String show(Connection c, String setting) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SHOW " + setting)) {
            rs.next();
            return rs.getString(1);
        }
    }

    static int port(EmbeddedDatabase db) {
        String url = db.jdbcUrl();
        return Integer.parseInt(url.replaceAll(".*://[^:]+:(\\d+)/.*", "$1"));
    }

    @Test
    void aConnectionWithoutThePasswordIsRefusedAndNothingIsOpenToOthers() throws Exception {
        Path data = dir.resolve("data");
        try (EmbeddedDatabase db = EmbeddedDatabase.start(data)) {
            int port = port(db);
            assertThatThrownBy(() -> connect(port, null).close()).isInstanceOf(SQLException.class)
                    .hasMessageContaining("password");
            assertThatThrownBy(() -> connect(port, "not-the-password").close()).isInstanceOf(SQLException.class)
                    .hasMessageContaining("password authentication failed");
            try (Connection c = connect(port, db.password())) {
                assertThat(show(c, "listen_addresses")).isEqualTo("127.0.0.1");
                assertThat(show(c, "unix_socket_directories")).isEmpty();
                assertThat(show(c, "password_encryption")).isEqualTo("scram-sha-256");
                try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(
                        "SELECT rolpassword LIKE 'SCRAM-SHA-256$%' FROM pg_authid WHERE rolname = 'postgres'")) {
                    rs.next();
                    assertThat(rs.getBoolean(1)).as("the superuser's password is stored as a SCRAM verifier").isTrue();
                }
            }
            assertThat(Files.readString(data.resolve("pg/pg_hba.conf"))).doesNotContain("trust");

            // The password file, the data directory and the binaries folder are the owner's alone.
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(data.resolve(EmbeddedDatabase.PASSWORD_FILE))))
                    .isEqualTo("rw-------");
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(data))).isEqualTo("rwx------");
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(data.resolve(EmbeddedDatabase.BINARIES_DIR))))
                    .isEqualTo("rwx------");
            // PostgreSQL runs from the binaries in the data directory, not from a shared temporary folder.
            long postmaster = Long.parseLong(Files.readAllLines(data.resolve("pg/postmaster.pid")).getFirst().strip());
            String command = ProcessHandle.of(postmaster).orElseThrow().info().command().orElse("");
            assertThat(command).startsWith(data.resolve(EmbeddedDatabase.BINARIES_DIR).toString());
        }
        // The password survives a restart, and is the one that works.
        String password = Files.readString(data.resolve(EmbeddedDatabase.PASSWORD_FILE)).strip();
        try (EmbeddedDatabase db = EmbeddedDatabase.start(data)) {
            assertThat(db.password()).isEqualTo(password);
            try (Connection c = connect(port(db), password)) {
                assertThat(show(c, "fsync")).isEqualTo("on");
            }
        }
    }

    @Test
    void aClusterMadeWithTrustAuthenticationGetsThePasswordAtItsNextStart() throws Exception {
        Path data = dir.resolve("old");
        Path pg = data.resolve("pg");
        Files.createDirectories(pg);
        // What earlier versions made: the library's defaults, trust for every local connection.
        try (EmbeddedPostgres old = EmbeddedPostgres.builder().setDataDirectory(pg).setCleanDataDirectory(false)
                .setOverrideWorkingDirectory(dir.resolve("old-bin").toFile()).setServerConfig("listen_addresses", "127.0.0.1").start();
             Connection c = old.getPostgresDatabase().getConnection(); Statement s = c.createStatement()) {
            s.execute("CREATE TABLE kept (v text)");
            s.execute("INSERT INTO kept VALUES ('from before')");
        }
        assertThat(EmbeddedDatabase.trusts(pg)).isTrue();
        try (EmbeddedDatabase db = EmbeddedDatabase.start(data)) {
            int port = port(db);
            assertThatThrownBy(() -> connect(port, null).close()).isInstanceOf(SQLException.class).hasMessageContaining("password");
            try (Connection c = connect(port, db.password()); Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT v FROM kept")) {
                rs.next();
                assertThat(rs.getString(1)).isEqualTo("from before");
            }
        }
        assertThat(EmbeddedDatabase.trusts(pg)).isFalse();
    }
}
