-- Rows as a suture running schema version 2 wrote them: an escalation of the seeded incident
-- and its outbox row, delivered once and waiting for its repeat.
INSERT INTO hops (incident_key, at, kind, from_state, to_state, detail)
VALUES ('prod/payments/Deployment/checkout-api/oom-killed', 1764000080000, 'escalated', NULL, NULL, '{"reason":"seeded"}');
INSERT INTO notifications (incident_key, escalation_id, receiver, escalated_at, sends, attempts,
                           next_attempt_at, last_error, sent_at)
VALUES ('prod/payments/Deployment/checkout-api/oom-killed', 3, 'slack', 1764000080000, 1, 0,
        1764000680000, NULL, 1764000080000);
