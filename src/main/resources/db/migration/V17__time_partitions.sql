-- The big tables are partitioned by time, so that expired history goes by dropping whole
-- partitions, never by deleting rows one by one.
--
-- message and delivery are partitioned by part_at: a message's acceptance time, which its
-- deliveries share, so that a message and its deliveries always live in partitions of the same
-- range. When a range expires, the messages that still have unfinished deliveries (pending,
-- sending, held, dead) are moved, with all their deliveries, to the current range first: retention
-- removes finished history only. attempt is partitioned by its own created_at (attempts never move).
--
-- Existing rows are kept in place: each table becomes the first partition of its new parent, for
-- every time before this migration (its part_at is a constant, set without rewriting a row). The
-- partitions that follow are made by the server at start and ahead of time (see PartitionStore),
-- with the interval its retention asks for.

-- Every partition the server made, with its range.
CREATE TABLE partition_range (
    name       text PRIMARY KEY,
    parent     text NOT NULL CHECK (parent IN ('message', 'delivery', 'attempt')),
    from_at    timestamptz,               -- NULL: the first partition, holding everything before partitioning
    to_at      timestamptz NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE UNIQUE INDEX partition_range_parent ON partition_range (parent, to_at);

DO $$
DECLARE
    -- Everything before this moment belongs to the first partitions. Attempt times come from the
    -- nodes' clocks: stay above the newest one.
    t0 timestamptz := greatest(now(), coalesce((SELECT max(created_at) FROM attempt), now()) + interval '1 millisecond',
                               coalesce((SELECT max(created_at) FROM message), now()) + interval '1 millisecond');
    next_id bigint := coalesce((SELECT max(id) FROM delivery), 0) + 1;
BEGIN
    ---- message -------------------------------------------------------------------------------------
    ALTER TABLE message RENAME TO message_p_first;
    ALTER TABLE message_p_first ADD COLUMN part_at timestamptz NOT NULL DEFAULT '2000-01-01 00:00:00+00';
    ALTER TABLE message_p_first ALTER COLUMN part_at DROP DEFAULT;
    ALTER TABLE message_p_first DROP CONSTRAINT message_pkey;
    DROP INDEX message_event_id;
    ALTER INDEX message_app RENAME TO message_p_first_app; -- attached to the parent's message_app below

    CREATE TABLE message (LIKE message_p_first) PARTITION BY RANGE (part_at);
    ALTER TABLE message ADD PRIMARY KEY (id, part_at);
    CREATE INDEX message_app ON message (app_id, id);
    -- eventId is unique per application while its message exists: the ingest checks every
    -- partition under a lock on the eventId (a unique index cannot span partitions).
    CREATE INDEX message_event_id ON message (app_id, event_id) WHERE event_id IS NOT NULL;
    EXECUTE format('ALTER TABLE message ATTACH PARTITION message_p_first FOR VALUES FROM (MINVALUE) TO (%L)', t0);
    INSERT INTO partition_range (name, parent, from_at, to_at, created_at) VALUES ('message_p_first', 'message', NULL, t0, now());

    ---- delivery ------------------------------------------------------------------------------------
    DROP TRIGGER delivery_tally_insert ON delivery;
    DROP TRIGGER delivery_tally_update ON delivery;
    ALTER TABLE delivery RENAME TO delivery_p_first;
    ALTER TABLE delivery_p_first ALTER COLUMN id DROP IDENTITY;
    ALTER TABLE delivery_p_first ADD COLUMN part_at timestamptz NOT NULL DEFAULT '2000-01-01 00:00:00+00';
    ALTER TABLE delivery_p_first ALTER COLUMN part_at DROP DEFAULT;
    ALTER TABLE delivery_p_first DROP CONSTRAINT delivery_pkey;
    ALTER TABLE delivery_p_first DROP CONSTRAINT delivery_msg_id_endpoint_id_key;
    -- Renamed, not dropped: the parent's indexes of the same definition adopt them when the table is attached.
    ALTER INDEX delivery_due RENAME TO delivery_p_first_due;
    ALTER INDEX delivery_lease RENAME TO delivery_p_first_lease;
    ALTER INDEX delivery_endpoint RENAME TO delivery_p_first_endpoint;
    ALTER INDEX delivery_dead RENAME TO delivery_p_first_dead;
    ALTER INDEX delivery_held RENAME TO delivery_p_first_held;
    ALTER INDEX delivery_discarded RENAME TO delivery_p_first_discarded;
    ALTER INDEX delivery_pending_endpoint RENAME TO delivery_p_first_pending_endpoint;
    ALTER INDEX delivery_lost_leases RENAME TO delivery_p_first_lost_leases;

    EXECUTE format('CREATE SEQUENCE delivery_id START WITH %s', next_id);
    CREATE TABLE delivery (LIKE delivery_p_first INCLUDING DEFAULTS INCLUDING CONSTRAINTS) PARTITION BY RANGE (part_at);
    ALTER TABLE delivery ALTER COLUMN id SET DEFAULT nextval('delivery_id');
    ALTER SEQUENCE delivery_id OWNED BY delivery.id;
    ALTER TABLE delivery ADD PRIMARY KEY (id, part_at);
    -- A message's deliveries share its part_at, so this is one delivery per (message, endpoint).
    ALTER TABLE delivery ADD CONSTRAINT delivery_msg_endpoint UNIQUE (msg_id, endpoint_id, part_at);
    CREATE INDEX delivery_due ON delivery (next_attempt_at) WHERE state = 'pending';
    CREATE INDEX delivery_lease ON delivery (lease_expires_at) WHERE lease_expires_at IS NOT NULL;
    CREATE INDEX delivery_endpoint ON delivery (endpoint_id);
    CREATE INDEX delivery_dead ON delivery (app_id, state_changed_at) WHERE state = 'dead';
    CREATE INDEX delivery_held ON delivery (app_id) WHERE state = 'held';
    CREATE INDEX delivery_discarded ON delivery (app_id, id) WHERE state = 'discarded';
    CREATE INDEX delivery_pending_endpoint ON delivery (endpoint_id, next_attempt_at) WHERE state = 'pending';
    CREATE INDEX delivery_lost_leases ON delivery (app_id, endpoint_id) WHERE lost_leases >= 2;
    -- Lookups by id alone (the dead-letter queue's delivery ids) probe each partition's primary key,
    -- whose first column is the id. No index of id alone: it would draw the hot statements away from
    -- the primary key, and so from pruning to the one partition of the (id, part_at) they know.
    EXECUTE format('ALTER TABLE delivery ATTACH PARTITION delivery_p_first FOR VALUES FROM (MINVALUE) TO (%L)', t0);
    INSERT INTO partition_range (name, parent, from_at, to_at, created_at) VALUES ('delivery_p_first', 'delivery', NULL, t0, now());

    CREATE TRIGGER delivery_tally_insert AFTER INSERT ON delivery
        REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION zd_tally_insert();
    CREATE TRIGGER delivery_tally_update AFTER UPDATE ON delivery
        REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION zd_tally_update();

    ---- attempt -------------------------------------------------------------------------------------
    ALTER TABLE attempt RENAME TO attempt_p_first;
    ALTER TABLE attempt_p_first DROP CONSTRAINT attempt_pkey;
    ALTER INDEX attempt_msg RENAME TO attempt_p_first_msg;
    ALTER INDEX attempt_endpoint RENAME TO attempt_p_first_endpoint;
    ALTER INDEX attempt_delivery RENAME TO attempt_p_first_delivery;
    CREATE TABLE attempt (LIKE attempt_p_first) PARTITION BY RANGE (created_at);
    ALTER TABLE attempt ADD PRIMARY KEY (id, created_at);
    CREATE INDEX attempt_msg ON attempt (msg_id, id);
    CREATE INDEX attempt_endpoint ON attempt (endpoint_id, id);
    CREATE INDEX attempt_delivery ON attempt (delivery_id);
    EXECUTE format('ALTER TABLE attempt ATTACH PARTITION attempt_p_first FOR VALUES FROM (MINVALUE) TO (%L)', t0);
    INSERT INTO partition_range (name, parent, from_at, to_at, created_at) VALUES ('attempt_p_first', 'attempt', NULL, t0, now());
END
$$;

-- Deliveries that retention removed, per application and endpoint, kept as a counter so that the
-- audit's arithmetic holds: accepted = every state + retired.
ALTER TABLE audit_reconciliation ADD COLUMN retired bigint NOT NULL DEFAULT 0;

-- When a message's payload goes, if sooner than its partition does (payloadRetentionPeriod shorter
-- than the history retention): the payload job finds them by this index.
ALTER TABLE message ADD COLUMN payload_expires_at timestamptz;
CREATE INDEX message_payload_expiry ON message (payload_expires_at) WHERE payload IS NOT NULL AND payload_expires_at IS NOT NULL;
