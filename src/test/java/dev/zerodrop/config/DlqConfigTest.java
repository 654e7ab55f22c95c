package dev.zerodrop.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

class DlqConfigTest {

    @Test
    void replayRateAndRetentionHaveTheDocumentedDefaults() {
        Config c = Config.from(Map.of(), Map.of());
        assertThat(c.replayRate()).isEqualTo(50);
        assertThat(c.dlqRetention()).isEqualTo(Duration.ofDays(30));
        assertThat(Config.from(Map.of(), Map.of("ZERODROP_DLQ_RETENTION", "2d")).dlqRetention()).isEqualTo(Duration.ofDays(2));
    }

    @Test
    void retentionMustOutlastTheRetrySchedule() {
        // The default schedule totals about 27.6 h, and up to 33.1 h with its +20% jitter.
        assertThatThrownBy(() -> Config.from(Map.of(), Map.of("ZERODROP_DLQ_RETENTION", "1d")))
                .isInstanceOf(ConfigException.class).hasMessageStartingWith("ZERODROP_DLQ_RETENTION (--dlq-retention): ")
                .hasMessageNotContaining("\n");
        assertThatThrownBy(() -> Config.from(Map.of(), Map.of("ZERODROP_DLQ_RETENTION", "30h")))
                .hasMessageStartingWith("ZERODROP_DLQ_RETENTION (");
        assertThat(Config.from(Map.of(), Map.of("ZERODROP_DLQ_RETENTION", "34h")).dlqRetention()).isEqualTo(Duration.ofHours(34));
        assertThat(Config.from(Map.of(Knob.RETRY_SCHEDULE, "1s"), Map.of("ZERODROP_DLQ_RETENTION", "2s")).dlqRetention())
                .isEqualTo(Duration.ofSeconds(2));
        assertThatThrownBy(() -> Config.from(Map.of(), Map.of("ZERODROP_DLQ_RETENTION", "forever")))
                .hasMessageStartingWith("ZERODROP_DLQ_RETENTION (");
        assertThatThrownBy(() -> Config.from(Map.of(), Map.of("ZERODROP_REPLAY_RATE", "0")))
                .hasMessageStartingWith("ZERODROP_REPLAY_RATE (");
    }
}
