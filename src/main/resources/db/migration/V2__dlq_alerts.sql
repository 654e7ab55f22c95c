-- Dead-letter queue operations, endpoint health, alerts and money at risk.

-- Endpoint health: why and since when an endpoint is disabled, and since when it has failed without
-- a single success (auto-disable after ZERODROP_AUTO_DISABLE_AFTER).
ALTER TABLE endpoint
    ADD COLUMN disabled_at     timestamptz,
    ADD COLUMN disabled_reason text,
    ADD COLUMN enabled_at      timestamptz,
    ADD COLUMN failing_since   timestamptz;

-- Money at risk: where an application's payloads carry an amount (RFC 6901 JSON pointers).
ALTER TABLE application
    ADD COLUMN amount_pointer   text,
    ADD COLUMN currency_pointer text,
    ADD COLUMN default_currency text,
    ADD COLUMN minor_unit_scale integer;

-- When a delivery last changed state to dead or discarded, and why (operators' actions included).
ALTER TABLE delivery
    ADD COLUMN state_changed_at timestamptz;

-- Every operator action on a delivery (replay, discard), with who did it. Never deleted.
CREATE TABLE delivery_action (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id  bigint NOT NULL,
    action       text NOT NULL,              -- replay | discard
    actor        text NOT NULL,              -- the API token id
    reason       text,
    created_at   timestamptz NOT NULL
);
CREATE INDEX delivery_action_delivery ON delivery_action (delivery_id);

-- Dead-letter queue listings.
CREATE INDEX delivery_dead ON delivery (app_id, state_changed_at) WHERE state = 'dead';

-- Alert rules. app_id NULL: the default for every application that has no rule of that kind.
CREATE TABLE alert_rule (
    id                text PRIMARY KEY,
    app_id            text,
    kind              text NOT NULL CHECK (kind IN ('delivery.dead', 'dlq.depth', 'endpoint.failure_rate',
                                                    'endpoint.disabled', 'message.failing')),
    threshold         double precision NOT NULL DEFAULT 0,
    window_seconds    integer NOT NULL DEFAULT 300,
    min_attempts      integer NOT NULL DEFAULT 10,
    cooldown_seconds  integer NOT NULL DEFAULT 3600,
    enabled           boolean NOT NULL DEFAULT true,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL
);
CREATE UNIQUE INDEX alert_rule_kind ON alert_rule (coalesce(app_id, ''), kind);

-- Alerts: at most one firing alert per rule kind and subject; a recovery closes it.
CREATE TABLE alert (
    id            text PRIMARY KEY,
    rule_id       text NOT NULL,
    kind          text NOT NULL,
    app_id        text,
    subject       text NOT NULL,               -- the application or endpoint the alert is about
    state         text NOT NULL CHECK (state IN ('firing', 'resolved')),
    title         text NOT NULL,
    details       jsonb NOT NULL DEFAULT '{}',
    value         double precision,
    fired_at      timestamptz NOT NULL,
    resolved_at   timestamptz,
    notified_at   timestamptz,
    updated_at    timestamptz NOT NULL
);
CREATE UNIQUE INDEX alert_open ON alert (kind, subject) WHERE state = 'firing';
CREATE INDEX alert_history ON alert (fired_at DESC);

-- Cursors of background jobs that scan for changes (operational webhooks).
CREATE TABLE job_cursor (
    name      text PRIMARY KEY,
    position  timestamptz NOT NULL
);
