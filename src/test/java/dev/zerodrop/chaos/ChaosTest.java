package dev.zerodrop.chaos;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * The short version of the zero-loss harness: every scenario with a few seconds of faults under
 * load. The long soak is {@code ./zerodrop chaos --load 10m}.
 */
@Tag("chaos")
class ChaosTest {
    @TempDir
    Path dir;

    @ParameterizedTest
    @ValueSource(strings = {"kill9", "nodes", "pgstop", "hostile", "sigterm"})
    void nothingAcknowledgedIsLost(String scenario) throws Exception {
        String server = System.getenv().getOrDefault("ZERODROP_TEST_PG", "jdbc:postgresql://127.0.0.1:5432/");
        Chaos chaos = new Chaos(new Chaos.Settings(Duration.ofSeconds(5), 60, dir, server, System.out));
        Chaos.Result result = chaos.run(scenario).getFirst();
        assertThat(result.report().acked()).isPositive();
        assertThat(result.report().lost()).as(result.line()).isZero();
        assertThat(result.report().unexpected()).as(result.line()).isZero();
        assertThat(result.report().idMismatch()).as(result.line()).isZero();
        assertThat(result.report().badSignatures()).as(result.line()).isZero();
        assertThat(result.report().okDuringOutage()).as(result.line()).isZero();
        assertThat(result.violations()).as(result.line()).isEmpty();
    }
}
