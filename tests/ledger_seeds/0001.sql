-- Rows as a suture running schema version 1 wrote them. The migration test applies every later
-- migration on top and reads them back through the ledger API.
INSERT INTO incidents (key, state, fault, cluster, namespace, kind, name, detail, opened_at, updated_at)
VALUES ('prod/payments/Deployment/checkout-api/oom-killed', 'pr_open', 'oom-killed', 'prod',
        'payments', 'Deployment', 'checkout-api', '{"limit":"512Mi"}', 1764000000000, 1764000060000);
INSERT INTO hops (incident_key, at, kind, from_state, to_state, detail)
VALUES ('prod/payments/Deployment/checkout-api/oom-killed', 1764000000000, 'detected', NULL, 'open', '{}');
INSERT INTO hops (incident_key, at, kind, from_state, to_state, detail)
VALUES ('prod/payments/Deployment/checkout-api/oom-killed', 1764000060000, 'pr_opened', 'open', 'pr_open', '{"number":7}');
INSERT INTO pull_requests (incident_key, forge, repo, number, url, head_branch, state, merge_sha, opened_at, updated_at)
VALUES ('prod/payments/Deployment/checkout-api/oom-killed', 'github', 'org/gitops', 7,
        'https://github.com/org/gitops/pull/7', 'suture/oom-killed/payments/checkout-api-1a2b3c4d',
        'open', NULL, 1764000060000, 1764000060000);
INSERT INTO sync_pauses (incident_key, app_namespace, app_name, prior_policy, paused_at, expires_at)
VALUES ('prod/payments/Deployment/checkout-api/oom-killed', 'argocd', 'payments',
        '{"prune":true,"selfHeal":true}', 1764000050000, 1764086450000);
INSERT INTO idempotency_keys (key, incident_key, action, started_at, completed_at, result)
VALUES ('open-pr:prod/payments/Deployment/checkout-api/oom-killed', 'prod/payments/Deployment/checkout-api/oom-killed',
        'open-pr', 1764000055000, 1764000060000, '{"number":7}');
INSERT INTO webhook_deliveries (source, delivery_id, received_at)
VALUES ('github', '72d3162e-cc78-11e3-81ab-4c9367dc0958', 1764000070000);
