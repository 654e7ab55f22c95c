-- The zero-drop audit.
--
-- Maintained counters: every statement that inserts deliveries or changes their state appends one
-- row per (application, endpoint, state) to delivery_tally_delta. Appending never contends, so the
-- hot path is not serialised on counter rows; a job folds the deltas into delivery_tally. The audit
-- reads the tallies plus the few unfolded deltas: cheap, however large the delivery table grows.
-- 'accepted' counts deliveries when they are created and is never decremented.
--
-- The counters are maintained by the same triggers that would miss a delivery that vanished, so a
-- reconciliation job also recounts the rows themselves (a full scan, on a slow schedule) and
-- records how many accepted deliveries it could not find: 'unaccounted'.

CREATE TABLE delivery_tally (
    app_id       text NOT NULL,
    endpoint_id  text NOT NULL,
    state        text NOT NULL,               -- 'accepted' or one of the delivery states
    n            bigint NOT NULL,
    PRIMARY KEY (app_id, endpoint_id, state)
);

CREATE TABLE delivery_tally_delta (
    app_id       text NOT NULL,
    endpoint_id  text NOT NULL,
    state        text NOT NULL,
    n            bigint NOT NULL
);

CREATE FUNCTION zd_tally_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO delivery_tally_delta (app_id, endpoint_id, state, n)
    SELECT app_id, endpoint_id, s.state, count(*)
      FROM new_rows, LATERAL (VALUES ('accepted'), (new_rows.state)) AS s(state)
     GROUP BY app_id, endpoint_id, s.state;
    RETURN NULL;
END
$$;

CREATE FUNCTION zd_tally_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO delivery_tally_delta (app_id, endpoint_id, state, n)
    SELECT o.app_id, o.endpoint_id, s.state, sum(s.n)
      FROM old_rows o JOIN new_rows n ON n.id = o.id,
           LATERAL (VALUES (o.state, -1), (n.state, 1)) AS s(state, n)
     WHERE o.state <> n.state
     GROUP BY o.app_id, o.endpoint_id, s.state
    HAVING sum(s.n) <> 0;
    RETURN NULL;
END
$$;

-- Backfill: count what exists before the triggers start.
INSERT INTO delivery_tally (app_id, endpoint_id, state, n)
SELECT app_id, endpoint_id, state, count(*) FROM delivery GROUP BY 1, 2, 3
UNION ALL
SELECT app_id, endpoint_id, 'accepted', count(*) FROM delivery GROUP BY 1, 2;

CREATE TRIGGER delivery_tally_insert AFTER INSERT ON delivery
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION zd_tally_insert();
CREATE TRIGGER delivery_tally_update AFTER UPDATE ON delivery
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION zd_tally_update();

-- The last reconciliation: per application and endpoint, accepted (tally) against rows found.
CREATE TABLE audit_reconciliation (
    app_id       text NOT NULL,
    endpoint_id  text NOT NULL,
    accepted     bigint NOT NULL,
    found        bigint NOT NULL,
    checked_at   timestamptz NOT NULL,
    PRIMARY KEY (app_id, endpoint_id)
);

-- Alert kinds of the audit.
ALTER TABLE alert_rule DROP CONSTRAINT alert_rule_kind_check;
ALTER TABLE alert_rule ADD CONSTRAINT alert_rule_kind_check CHECK (kind IN ('delivery.dead', 'dlq.depth', 'endpoint.failure_rate',
    'endpoint.disabled', 'message.failing', 'audit.unaccounted', 'audit.stuck_leases', 'slo.burn'));
