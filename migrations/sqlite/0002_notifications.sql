-- Escalation notifications (issue 8): a durable outbox, one row per (incident, escalation,
-- receiver). The notifier derives rows from `escalated` hops, so a crash between the hop and the
-- send loses nothing; a row repeats every interval until the incident is acknowledged.

CREATE TABLE notifications (
    incident_key     TEXT NOT NULL REFERENCES incidents (key),
    escalation_id    INTEGER NOT NULL,          -- the id of the `escalated` hop
    receiver         TEXT NOT NULL,             -- slack | webhook
    escalated_at     INTEGER NOT NULL,
    sends            INTEGER NOT NULL DEFAULT 0, -- deliveries made (the first and its repeats)
    attempts         INTEGER NOT NULL DEFAULT 0, -- failed tries since the last delivery
    next_attempt_at  INTEGER NOT NULL,
    last_error       TEXT,                      -- a status or error kind, never a URL
    sent_at          INTEGER,
    closed_at        INTEGER,
    closed_reason    TEXT,                      -- acknowledged | superseded | resolved | ...
    PRIMARY KEY (incident_key, escalation_id, receiver)
);
CREATE INDEX notifications_due ON notifications (closed_at, next_attempt_at);
CREATE INDEX hops_kind ON hops (kind, id);

-- Escalations recorded before notifications existed are history, not news: never sent.
CREATE TABLE notify_baseline (
    hop_id  INTEGER NOT NULL
);
INSERT INTO notify_baseline (hop_id) SELECT COALESCE(MAX(id), 0) FROM hops;
