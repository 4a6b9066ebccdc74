-- When each periodic job last ran, so that one instance runs it once a day for all.
CREATE TABLE maintenance_runs (
    job      text PRIMARY KEY,
    last_run timestamptz NOT NULL
);
