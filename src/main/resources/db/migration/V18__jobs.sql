-- The cluster's periodic jobs (retention, partitions, audit recount, alert evaluation, ...): each
-- runs on one node at a time, under a session advisory lock that the node's death releases. Every
-- run is logged here, for operators and for the check that no job ever ran twice at once.
CREATE TABLE job_run (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job          text NOT NULL,
    node         text NOT NULL,
    started_at   timestamptz NOT NULL,
    finished_at  timestamptz,
    error        text
);
CREATE INDEX job_run_job ON job_run (job, started_at DESC);
