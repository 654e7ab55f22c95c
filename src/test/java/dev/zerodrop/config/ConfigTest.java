package dev.zerodrop.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ConfigTest {

    @Test
    void defaultsMatchTheDocumentedValues() {
        Config c = Config.from(Map.of(), Map.of());
        assertThat(c.port()).isEqualTo(8071);
        assertThat(c.dataDir().toString()).isEqualTo("./zerodrop-data");
        assertThat(c.dbUrl()).isEmpty();
        assertThat(c.adminToken()).isEmpty();
        assertThat(c.allowPrivateCidrs()).isEmpty();
        assertThat(c.retrySchedule()).containsExactly(Duration.ofSeconds(5), Duration.ofMinutes(5), Duration.ofMinutes(30),
                Duration.ofHours(2), Duration.ofHours(5), Duration.ofHours(10), Duration.ofHours(10));
        assertThat(c.requestTimeout()).isEqualTo(Duration.ofSeconds(30));
        assertThat(c.lease()).isGreaterThan(c.requestTimeout());
    }

    @Test
    void flagsWinOverEnvironmentWhichWinsOverDefaults() {
        Config c = Config.from(Map.of(Knob.PORT, "9000"), Map.of("ZERODROP_PORT", "9100", "ZERODROP_REQUEST_TIMEOUT", "5s"));
        assertThat(c.port()).isEqualTo(9000);
        assertThat(c.requestTimeout()).isEqualTo(Duration.ofSeconds(5));
    }

    @Test
    void durationsAcceptUnitsAndBareSeconds() {
        assertThat(Durations.parse("500ms")).isEqualTo(Duration.ofMillis(500));
        assertThat(Durations.parse("7")).isEqualTo(Duration.ofSeconds(7));
        assertThat(Durations.parse("5m")).isEqualTo(Duration.ofMinutes(5));
        assertThat(Durations.parse("2h")).isEqualTo(Duration.ofHours(2));
        assertThat(Durations.parseList("1s, 500ms,2")).containsExactly(Duration.ofSeconds(1), Duration.ofMillis(500), Duration.ofSeconds(2));
        assertThat(Durations.format(Duration.ofMinutes(5))).isEqualTo("5m");
        assertThat(Durations.format(Duration.ofMillis(1500))).isEqualTo("1500ms");
    }

    @Test
    void invalidValuesNameTheKnobInOneLine() {
        assertThatThrownBy(() -> Config.from(Map.of(), Map.of("ZERODROP_PORT", "eighty")))
                .isInstanceOf(ConfigException.class).hasMessageStartingWith("ZERODROP_PORT (").hasMessageNotContaining("\n");
        assertThatThrownBy(() -> Config.from(Map.of(), Map.of("ZERODROP_RETRY_SCHEDULE", "5s,,1m")))
                .hasMessageStartingWith("ZERODROP_RETRY_SCHEDULE (");
        assertThatThrownBy(() -> Config.from(Map.of(), Map.of("ZERODROP_RETRY_SCHEDULE", "5 parsecs")))
                .hasMessageStartingWith("ZERODROP_RETRY_SCHEDULE (");
        assertThatThrownBy(() -> Config.from(Map.of(), Map.of("ZERODROP_ALLOW_PRIVATE_CIDRS", "10.0.0.0/40")))
                .hasMessageStartingWith("ZERODROP_ALLOW_PRIVATE_CIDRS (");
        assertThatThrownBy(() -> Config.from(Map.of(), Map.of("ZERODROP_ALLOW_PRIVATE_CIDRS", "example.com/8")))
                .hasMessageStartingWith("ZERODROP_ALLOW_PRIVATE_CIDRS (");
        assertThatThrownBy(() -> Config.from(Map.of(), Map.of("ZERODROP_DB_URL", "postgres://x")))
                .hasMessageStartingWith("ZERODROP_DB_URL (");
        assertThatThrownBy(() -> Config.from(Map.of(), Map.of("ZERODROP_DISPATCH", "maybe")))
                .hasMessageStartingWith("ZERODROP_DISPATCH (");
    }

    @Test
    void theLeaseMustExceedTheRequestTimeout() {
        assertThatThrownBy(() -> Config.from(Map.of(), Map.of("ZERODROP_LEASE", "30s")))
                .hasMessageStartingWith("ZERODROP_LEASE (").hasMessageContaining("ZERODROP_REQUEST_TIMEOUT");
        Config ok = Config.from(Map.of(), Map.of("ZERODROP_LEASE", "31s"));
        assertThat(ok.lease()).isEqualTo(Duration.ofSeconds(31));
    }

    @Test
    void cidrsMatchTheirRangeOnly() throws Exception {
        List<Cidr> cidrs = Cidr.parseList("127.0.0.0/8, ::1");
        assertThat(cidrs.get(0).contains(java.net.InetAddress.getByName("127.1.2.3"))).isTrue();
        assertThat(cidrs.get(0).contains(java.net.InetAddress.getByName("128.0.0.1"))).isFalse();
        assertThat(cidrs.get(1).contains(java.net.InetAddress.getByName("::1"))).isTrue();
        assertThat(cidrs.get(1).contains(java.net.InetAddress.getByName("::2"))).isFalse();
    }
}
