package dev.zerodrop.chaos;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The short version of the {@code failover} scenario, synchronous pass: a PostgreSQL primary and
 * standby built with the machine's binaries, {@code kill -9} of the primary under load, promotion of
 * the standby. It needs PostgreSQL's server binaries (CI installs them); without them it fails with
 * what to install.
 */
@Tag("chaos")
class FailoverTest {
    @TempDir
    Path dir;

    @Test
    void theWindowsAreMeasuredFromTheTimeline() {
        java.util.List<Long> times = java.util.List.of(100L, 110L, 400L, 420L, 900L);
        assertThat(Chaos.longestGap(times, 100, 1_000)).isEqualTo(480); // 420 -> 900
        assertThat(Chaos.longestGap(times, 0, 420)).isEqualTo(290);     // 110 -> 400; 900 is past the end
        assertThat(Chaos.longestGap(times, 950, 2_000)).isEqualTo(1_050); // nothing at all in the window
        assertThat(Chaos.firstAfter(times, 400)).isEqualTo(420);
        assertThat(Chaos.firstAfter(times, 900)).isEqualTo(-1);
    }

    @Test
    void aSynchronousStandbyTakesOverWithNothingAcknowledgedLost() throws Exception {
        ReplicatedPostgres.binaries(); // fails, naming the package to install, when they are missing
        Chaos chaos = new Chaos(new Chaos.Settings(Duration.ofSeconds(4), 60, dir, "jdbc:postgresql://127.0.0.1:5432/", System.out));
        Chaos.Result result = chaos.failover(true);
        System.out.println(result.line());
        String line = result.line();
        assertThat(result.report().acked()).as(line).isPositive();
        assertThat(result.report().lost()).as(line).isZero();
        assertThat(result.report().unexpected()).as(line).isZero();
        assertThat(result.report().idMismatch()).as(line).isZero();
        assertThat(result.report().badSignatures()).as(line).isZero();
        assertThat(result.report().okDuringOutage()).as(line).isZero();
        assertThat(result.facts().get("forgotten")).as(line).isEqualTo(0L);
        // The API answered 503 during the fault, and acknowledged again after it.
        assertThat((int) result.facts().get("503s")).as(line).isPositive();
        assertThat(result.facts().get("acks-back-after-promote-ms")).as(line).isInstanceOf(Long.class);
        assertThat(result.facts().get("deliveries-back-after-promote-ms")).as(line).isInstanceOf(Long.class);
        assertThat(result.violations()).as(line).isEmpty();
        assertThat(result.ok()).as(line).isTrue();
    }
}
