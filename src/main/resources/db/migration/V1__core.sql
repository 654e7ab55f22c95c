-- ZeroDrop core schema. Migrations are the schema's only author.

CREATE TABLE api_token (
    id          text PRIMARY KEY,
    token_hash  text NOT NULL UNIQUE,          -- SHA-256 of the bearer token, hex; the token itself is never stored
    name        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE application (
    id            text PRIMARY KEY,
    uid           text,
    name          text NOT NULL,
    throttle_rate integer,
    metadata      jsonb NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    deleted_at    timestamptz
);
CREATE UNIQUE INDEX application_uid ON application (uid) WHERE deleted_at IS NULL AND uid IS NOT NULL;

CREATE TABLE endpoint (
    id            text PRIMARY KEY,
    app_id        text NOT NULL REFERENCES application (id),
    uid           text,
    url           text NOT NULL,
    description   text NOT NULL DEFAULT '',
    filter_types  text[],
    channels      text[],
    disabled      boolean NOT NULL DEFAULT false,
    throttle_rate integer,
    metadata      jsonb NOT NULL DEFAULT '{}',
    headers       jsonb NOT NULL DEFAULT '{}',
    secret        text NOT NULL,
    old_secrets   jsonb NOT NULL DEFAULT '[]',  -- [{"key": "whsec_...", "expiresAt": epoch millis}] while a rotation's grace lasts
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    deleted_at    timestamptz
);
CREATE UNIQUE INDEX endpoint_uid ON endpoint (app_id, uid) WHERE deleted_at IS NULL AND uid IS NOT NULL;
CREATE INDEX endpoint_app ON endpoint (app_id, id) WHERE deleted_at IS NULL;

CREATE TABLE event_type (
    name          text PRIMARY KEY,
    description   text NOT NULL DEFAULT '',
    archived      boolean NOT NULL DEFAULT false,
    deprecated    boolean NOT NULL DEFAULT false,
    feature_flag  text,
    schemas       jsonb,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);

CREATE TABLE message (
    id          text PRIMARY KEY,
    app_id      text NOT NULL REFERENCES application (id),
    event_type  text NOT NULL,
    event_id    text,
    channels    text[],
    payload     bytea,                           -- the exact bytes received and signed; NULL once expunged
    created_at  timestamptz NOT NULL
);
CREATE UNIQUE INDEX message_event_id ON message (app_id, event_id) WHERE event_id IS NOT NULL;
CREATE INDEX message_app ON message (app_id, id);

-- One row per (message, endpoint). The hot table of the dispatcher: keep it narrow.
-- state: pending | sending | delivered | dead | discarded | held
CREATE TABLE delivery (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    msg_id            text NOT NULL REFERENCES message (id),
    endpoint_id       text NOT NULL REFERENCES endpoint (id),
    app_id            text NOT NULL,
    state             text NOT NULL CHECK (state IN ('pending', 'sending', 'delivered', 'dead', 'discarded', 'held')),
    attempts          integer NOT NULL DEFAULT 0,  -- attempts recorded so far
    budget_base       integer NOT NULL DEFAULT 0,  -- attempts at the last manual resend/recover: the retry budget restarts there
    manual            boolean NOT NULL DEFAULT false, -- the next attempt was triggered by an operator
    next_attempt_at   timestamptz,
    lease_token       bigint NOT NULL DEFAULT 0,   -- fencing token: bumped by every claim
    lease_expires_at  timestamptz,
    reason            text,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    UNIQUE (msg_id, endpoint_id)
) WITH (fillfactor = 80);
CREATE INDEX delivery_due ON delivery (next_attempt_at) WHERE state = 'pending';
CREATE INDEX delivery_lease ON delivery (lease_expires_at) WHERE state = 'sending';
CREATE INDEX delivery_endpoint ON delivery (endpoint_id);

-- Every attempt is a row, written in the same transaction as the delivery's new state.
CREATE TABLE attempt (
    id               text PRIMARY KEY,
    delivery_id      bigint NOT NULL,
    msg_id           text NOT NULL,
    endpoint_id      text NOT NULL,
    app_id           text NOT NULL,
    attempt_no       integer NOT NULL,
    trigger_type     smallint NOT NULL,            -- 0 scheduled, 1 manual
    status           smallint NOT NULL,            -- Svix MessageStatus: 0 success, 2 fail
    error_class      text,                         -- NULL on success; http | timeout | connect | reset | tls | blocked | lost-lease
    response_status  integer NOT NULL,             -- 0 when no HTTP response was received
    response         text NOT NULL,
    duration_ms      integer NOT NULL,
    url              text NOT NULL,
    created_at       timestamptz NOT NULL
);
CREATE INDEX attempt_msg ON attempt (msg_id, id);
CREATE INDEX attempt_endpoint ON attempt (endpoint_id, id);
CREATE INDEX attempt_delivery ON attempt (delivery_id);

CREATE TABLE idempotency_key (
    scope        text NOT NULL,                    -- the API token that made the request
    key          text NOT NULL,
    fingerprint  text NOT NULL,                    -- method and path of the first request
    status       integer,                          -- NULL while the first request is in progress
    body         bytea,
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (scope, key)
);
