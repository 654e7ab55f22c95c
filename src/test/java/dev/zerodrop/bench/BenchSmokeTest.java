package dev.zerodrop.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The benchmark's smoke run: every scenario for a few seconds, through the same code as
 * {@code ./zerodrop bench}. It asserts only that nothing acknowledged was lost, never a speed
 * (speeds are in BENCHMARKS.md, measured by the full benchmark).
 */
class BenchSmokeTest {
    @TempDir
    Path dir;

    @ParameterizedTest
    @ValueSource(strings = {"max", "rate", "fanout", "slow", "ingest", "backlog", "retention"})
    void nothingAcknowledgedIsLost(String scenario) throws Exception {
        String server = System.getenv().getOrDefault("ZERODROP_TEST_PG", "jdbc:postgresql://127.0.0.1:5432/");
        Bench bench = new Bench(new Bench.Settings(Duration.ofSeconds(1), Duration.ofSeconds(scenario.equals("retention") ? 12 : 3), 16, 200,
                2_000, server, dir, System.out, Duration.ofMinutes(1)));
        Bench.Result r = bench.run(scenario);
        assertThat(r.acked()).as(r.line()).isPositive();
        assertThat(r.lost()).as(r.line()).isZero();
    }
}
