package dev.zerodrop.store;

import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

/**
 * Runs of the cluster's periodic jobs. A job runs while its node holds a session advisory lock on
 * a connection of its own: PostgreSQL releases it when that connection ends, so a node that dies
 * (even by kill -9) lets another take over, and two nodes never run one job at once.
 */
public final class JobStore {
    /** One logged run. */
    public record Run(long id, String job, String node, Instant startedAt, Instant finishedAt, String error) {}

    /** What a job run is given: its run id, to finish it. */
    public interface Work {
        void run() throws Exception;
    }

    private final Jdbc jdbc;

    public JobStore(Jdbc jdbc) {
        this.jdbc = jdbc;
    }

    /**
     * Runs {@code work} as job {@code job} on node {@code node}, unless another node holds the job
     * or it last started less than {@code period} ago. Returns whether it ran.
     */
    public boolean runIfDue(String job, Duration period, String node, java.time.InstantSource clock, Work work) throws Exception {
        try (Connection c = jdbc.dataSource().getConnection()) {
            long key = lockKey(job);
            if (!Jdbc.queryOne(c, "SELECT pg_try_advisory_lock(?)", rs -> rs.getBoolean(1), key).orElse(false)) return false;
            try {
                Instant now = clock.instant();
                Optional<Instant> last = Jdbc.queryOne(c, "SELECT started_at FROM job_run WHERE job = ? ORDER BY started_at DESC LIMIT 1",
                        rs -> Jdbc.instant(rs, "started_at"), job);
                // Another node ran it within its period (with a little slack for the nodes' ticks).
                if (last.isPresent() && last.get().plus(period).minusMillis(Math.min(500, period.toMillis() / 10)).isAfter(now)) return false;
                long id = Jdbc.queryOne(c, "INSERT INTO job_run (job, node, started_at) VALUES (?, ?, ?) RETURNING id",
                        rs -> rs.getLong(1), job, node, now).orElseThrow();
                String error = null;
                try {
                    work.run();
                } catch (Exception e) {
                    error = e.getClass().getSimpleName() + ": " + e.getMessage();
                    throw e;
                } finally {
                    Jdbc.update(c, "UPDATE job_run SET finished_at = ?, error = ? WHERE id = ?", clock.instant(), error, id);
                }
                return true;
            } finally {
                Jdbc.query(c, "SELECT pg_advisory_unlock(?)", rs -> rs.getBoolean(1), key);
            }
        } catch (SQLException e) {
            throw Jdbc.translate(e);
        }
    }

    /** The newest runs, newest first (of one job, or of all with null). */
    public List<Run> recent(String job, int limit) {
        return jdbc.query("""
                SELECT id, job, node, started_at, finished_at, error FROM job_run WHERE ?::text IS NULL OR job = ?
                 ORDER BY started_at DESC, id DESC LIMIT ?""",
                rs -> new Run(rs.getLong(1), rs.getString(2), rs.getString(3), Jdbc.instant(rs, "started_at"),
                        Jdbc.instant(rs, "finished_at"), rs.getString(6)), job, job, limit);
    }

    /** Forgets runs older than {@code keep}; the log stays small. */
    public int prune(Instant now, Duration keep) {
        return jdbc.update("DELETE FROM job_run WHERE started_at < ?", now.minus(keep));
    }

    private static long lockKey(String job) {
        long h = 0x7A44_4A4F_4253L; // "zDJOBS"
        for (char ch : job.toCharArray()) h = h * 31 + ch;
        return h;
    }
}
