-- The incident ledger (design §8). Times are Unix milliseconds (UTC); JSON is TEXT.

CREATE TABLE incidents (
    key         TEXT PRIMARY KEY,          -- cluster/namespace/kind/name/fault-id
    state       TEXT NOT NULL,
    fault       TEXT NOT NULL,
    cluster     TEXT NOT NULL,
    namespace   TEXT NOT NULL,
    kind        TEXT NOT NULL,
    name        TEXT NOT NULL,
    detail      TEXT NOT NULL DEFAULT '{}',
    opened_at   INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX incidents_state ON incidents (state);

-- Append-only audit: every detection, proposal, action and its result.
CREATE TABLE hops (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_key  TEXT NOT NULL REFERENCES incidents (key),
    at            INTEGER NOT NULL,
    kind          TEXT NOT NULL,
    from_state    TEXT,
    to_state      TEXT,
    detail        TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX hops_incident ON hops (incident_key, id);

-- Written before a side effect runs, completed after: a restart finds what was started.
CREATE TABLE idempotency_keys (
    key           TEXT PRIMARY KEY,
    incident_key  TEXT NOT NULL,
    action        TEXT NOT NULL,
    started_at    INTEGER NOT NULL,
    completed_at  INTEGER,
    result        TEXT
);

CREATE TABLE pull_requests (
    incident_key  TEXT NOT NULL REFERENCES incidents (key),
    forge         TEXT NOT NULL,             -- github | gitlab
    repo          TEXT NOT NULL,
    number        INTEGER NOT NULL,
    url           TEXT NOT NULL,
    head_branch   TEXT NOT NULL,
    state         TEXT NOT NULL,             -- open | merged | closed
    merge_sha     TEXT,
    opened_at     INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (forge, repo, number)
);
CREATE INDEX pull_requests_incident ON pull_requests (incident_key);
CREATE INDEX pull_requests_branch ON pull_requests (repo, head_branch);

CREATE TABLE sync_pauses (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_key    TEXT NOT NULL REFERENCES incidents (key),
    app_namespace   TEXT NOT NULL,
    app_name        TEXT NOT NULL,
    prior_policy    TEXT NOT NULL,           -- the exact syncPolicy.automated read before pausing
    paused_at       INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    resumed_at      INTEGER,
    resume_reason   TEXT
);
CREATE INDEX sync_pauses_open ON sync_pauses (resumed_at, expires_at);


-- Deduplication of forge and Alertmanager deliveries (X-GitHub-Delivery, Idempotency-Key).
CREATE TABLE webhook_deliveries (
    source        TEXT NOT NULL,
    delivery_id   TEXT NOT NULL,
    received_at   INTEGER NOT NULL,
    PRIMARY KEY (source, delivery_id)
);
