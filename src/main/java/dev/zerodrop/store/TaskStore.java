package dev.zerodrop.store;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Background tasks and their leases. A task runs in batches; {@link #step} commits one batch together
 * with the task's progress, and only while the caller still holds the task's lease, so a node that
 * lost its lease (a pause, a takeover) can neither change data nor move the task on.
 */
public final class TaskStore {
    /** A task row. {@code params} and {@code data} are JSON objects; {@code position} is where the next batch starts. */
    public record Task(String id, String task, String status, String appId, String endpointId, String actor, String params,
                       String data, String position, long leaseToken, int takeovers, Instant createdAt, Instant updatedAt) {}

    /** What a batch leaves behind: the next position, the task's data so far, and whether the task is finished. */
    public record Progress(String position, String data, boolean done) {}

    /** What {@link #takeOver} found: the tasks now leased to the caller, and those failed for being abandoned too often. */
    public record Takeover(List<Task> taken, List<Task> failed) {}

    private static final String COLUMNS = """
            id, task, status, app_id, endpoint_id, actor, params::text AS params, data::text AS data, position, lease_token,
            takeovers, created_at, updated_at""";

    private final Jdbc jdbc;

    public TaskStore(Jdbc jdbc) {
        this.jdbc = jdbc;
    }

    /** Creates a running task leased to {@code owner} until {@code leaseUntil}, with lease token 1. */
    public Task create(String id, String task, String appId, String endpointId, String actor, String params, String data,
                       String position, String owner, Instant leaseUntil, Instant now) {
        return jdbc.queryOne("""
                INSERT INTO background_task (id, task, status, app_id, endpoint_id, actor, params, data, position, owner,
                                             lease_expires_at, created_at, updated_at)
                VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                RETURNING %s""".formatted(COLUMNS),
                TaskStore::map, id, task, appId, endpointId, actor, new Jdbc.Json(params), new Jdbc.Json(data), position, owner,
                leaseUntil, now, now).orElseThrow();
    }

    public Optional<Task> find(String id) {
        return jdbc.queryOne("SELECT " + COLUMNS + " FROM background_task WHERE id = ?", TaskStore::map, id);
    }

    /** Tasks by id (creation time), optionally of one status, one kind and one application. */
    public Page<Task> list(String status, String task, String appId, PageRequest page) {
        StringBuilder sql = new StringBuilder("SELECT " + COLUMNS + " FROM background_task WHERE true");
        List<Object> params = new ArrayList<>();
        if (status != null) {
            sql.append(" AND status = ?");
            params.add(status);
        }
        if (task != null) {
            sql.append(" AND task = ?");
            params.add(task);
        }
        if (appId != null) {
            sql.append(" AND app_id = ?");
            params.add(appId);
        }
        return page.run(jdbc, sql.toString(), "id", params, TaskStore::map, Task::id);
    }

    /**
     * Runs one batch in one transaction with the task's row locked, and records its progress: the
     * position, the data, the lease renewed until {@code leaseUntil}, or the task finished. Returns
     * false, having run nothing, when the caller's lease token is no longer the task's (it was taken
     * over) or the task is no longer running.
     */
    public boolean step(String id, long leaseToken, Instant leaseUntil, Instant now, Jdbc.Work<Progress> batch) {
        return jdbc.tx(c -> {
            if (!locked(c, id, leaseToken)) return false;
            Progress p = batch.run(c);
            Jdbc.update(c, """
                    UPDATE background_task SET position = ?, data = ?, status = CASE WHEN ? THEN 'finished' ELSE status END,
                           lease_expires_at = CASE WHEN ? THEN NULL ELSE ?::timestamptz END, updated_at = ?
                     WHERE id = ?""",
                    p.position(), new Jdbc.Json(p.data()), p.done(), p.done(), leaseUntil, now, id);
            return true;
        });
    }

    /** Ends a task as failed, with {@code data} carrying the reason. False when the lease was lost. */
    public boolean fail(String id, long leaseToken, String data, Instant now) {
        return jdbc.update("""
                UPDATE background_task SET status = 'failed', data = ?, lease_expires_at = NULL, updated_at = ?
                 WHERE id = ? AND lease_token = ? AND status = 'running'""",
                new Jdbc.Json(data), now, id, leaseToken) > 0;
    }

    /** Gives a task's lease up (this node is stopping), so that any node may take it over at once. */
    public void release(String id, long leaseToken, Instant now) {
        jdbc.update("UPDATE background_task SET lease_expires_at = ?, owner = NULL WHERE id = ? AND lease_token = ? AND status = 'running'",
                now, id, leaseToken);
    }

    /**
     * Takes over up to {@code limit} running tasks whose lease expired before {@code now}: each gets
     * a new lease token, so its previous holder can no longer commit a batch. A task already taken
     * over {@code maxTakeovers} times is failed instead: whatever keeps stopping the nodes that run
     * it, it must not stay running forever.
     */
    public Takeover takeOver(String owner, Instant leaseUntil, Instant now, int limit, int maxTakeovers) {
        return jdbc.tx(c -> {
            List<Task> failed = Jdbc.query(c, """
                    UPDATE background_task SET status = 'failed', lease_expires_at = NULL, updated_at = ?,
                           data = data || jsonb_build_object('error', 'abandoned: the nodes running it stopped ' || takeovers + 1 || ' times')
                     WHERE status = 'running' AND lease_expires_at < ? AND takeovers >= ?
                    RETURNING %s""".formatted(COLUMNS), TaskStore::map, now, now, maxTakeovers);
            List<Task> taken = Jdbc.query(c, """
                    WITH due AS (
                        SELECT id AS due_id FROM background_task WHERE status = 'running' AND lease_expires_at < ?
                         ORDER BY lease_expires_at LIMIT ? FOR UPDATE SKIP LOCKED)
                    UPDATE background_task t SET lease_token = t.lease_token + 1, owner = ?, lease_expires_at = ?,
                           takeovers = t.takeovers + 1, updated_at = ?
                      FROM due WHERE t.id = due.due_id
                    RETURNING %s""".formatted(COLUMNS),
                    TaskStore::map, now, limit, owner, leaseUntil, now);
            return new Takeover(taken, failed);
        });
    }

    private static boolean locked(Connection c, String id, long leaseToken) throws SQLException {
        return Jdbc.queryOne(c, "SELECT 1 FROM background_task WHERE id = ? AND lease_token = ? AND status = 'running' FOR UPDATE",
                rs -> true, id, leaseToken).isPresent();
    }

    static Task map(ResultSet rs) throws SQLException {
        return new Task(rs.getString("id"), rs.getString("task"), rs.getString("status"), rs.getString("app_id"),
                rs.getString("endpoint_id"), rs.getString("actor"), rs.getString("params"), rs.getString("data"),
                rs.getString("position"), rs.getLong("lease_token"), rs.getInt("takeovers"), Jdbc.instant(rs, "created_at"),
                Jdbc.instant(rs, "updated_at"));
    }
}
