-- Each reminder worker (inside `serve` or `aftercare worker`) stamps its row
-- every round, so /healthz in any process can tell whether mail is moving.
CREATE TABLE worker_heartbeats (
    worker TEXT PRIMARY KEY NOT NULL,
    beat_at TIMESTAMP NOT NULL
);
