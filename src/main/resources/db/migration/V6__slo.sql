-- Service level objectives and the per-minute indicator counts they are computed from.

CREATE TABLE slo_objective (
    id               text PRIMARY KEY,
    app_id           text,                       -- NULL: the default for every application without its own
    endpoint_id      text,                       -- optional: an objective of one endpoint
    indicator        text NOT NULL CHECK (indicator IN ('dispatch_latency', 'delivery_success')),
    target           double precision NOT NULL CHECK (target > 0 AND target < 1),
    window_days      integer NOT NULL CHECK (window_days BETWEEN 1 AND 90),
    latency_seconds  integer NOT NULL CHECK (latency_seconds IN (1, 5, 30, 60, 300, 3600)),
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL
);
CREATE UNIQUE INDEX slo_objective_scope ON slo_objective (coalesce(app_id, ''), coalesce(endpoint_id, ''), indicator);

-- Indicator events per application, endpoint and minute, with how many met each latency bound.
-- dispatch_latency: first attempts, by the time from due to start. delivery_success: deliveries that
-- ended (delivered or dead), by the time from acceptance to success; a dead one meets no bound.
CREATE TABLE sli_minute (
    app_id       text NOT NULL,
    endpoint_id  text NOT NULL,
    indicator    text NOT NULL,
    minute       timestamptz NOT NULL,
    total        bigint NOT NULL DEFAULT 0,
    le_1s        bigint NOT NULL DEFAULT 0,
    le_5s        bigint NOT NULL DEFAULT 0,
    le_30s       bigint NOT NULL DEFAULT 0,
    le_60s       bigint NOT NULL DEFAULT 0,
    le_300s      bigint NOT NULL DEFAULT 0,
    le_3600s     bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (app_id, indicator, minute, endpoint_id)
);
