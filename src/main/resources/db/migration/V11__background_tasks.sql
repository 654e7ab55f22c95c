-- Background tasks: recover, replay-missing, bulk-replay and expunge-all-contents run in batches,
-- each batch in its own transaction together with the task's progress, so a task resumes where it
-- stopped on any node. A task is leased like a delivery: the node running it renews the lease with
-- every batch, and a batch commits only while its lease token is current. A task whose lease expired
-- (its node died or stopped) is taken over by another node, at most a few times before it is failed.
CREATE TABLE background_task (
    id                text PRIMARY KEY,                 -- qtask_<ksuid>: sorts by creation time
    task              text NOT NULL CHECK (task IN ('endpoint.recover', 'endpoint.replay', 'endpoint.bulk-replay',
                                                    'application.purge_content')),
    status            text NOT NULL CHECK (status IN ('running', 'finished', 'failed')),
    app_id            text NOT NULL,
    endpoint_id       text,
    actor             text NOT NULL,                    -- the API token that started it
    params            jsonb NOT NULL DEFAULT '{}',      -- what the request asked for
    data              jsonb NOT NULL DEFAULT '{}',      -- counts so far; on failure, the reason under "error"
    position          text,                             -- where the next batch starts (a message id)
    owner             text,                             -- the node running it
    lease_token       bigint NOT NULL DEFAULT 1,
    lease_expires_at  timestamptz,                      -- NULL once finished or failed
    takeovers         integer NOT NULL DEFAULT 0,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL
);
CREATE INDEX background_task_lease ON background_task (lease_expires_at) WHERE status = 'running';

