//! `suture serve`'s HTTP surface through the real router over real HTTP on 127.0.0.1, with a
//! real ledger (a SQLite file; the dedup test also on PostgreSQL) and the real payload fixtures,
//! signed as the forges sign them. The runner's queue is a real bounded channel the test reads.

#[path = "support/testdb.rs"]
mod testdb;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use suture::clock::Clock;
use suture::forge::webhook::{ChangeAction, Secret, github_signature};
use suture::incident::IncidentState;
use suture::incident::event::Inbound;
use suture::ledger::{Hop, Ledger, NewIncident, PullRequest};
use suture::server::{self, AppState, ForgeStats, Metrics, Readiness, WebhookSecrets};
use testdb::{TestDb, postgres_db, sqlite_db};
use tokio::sync::{mpsc, oneshot};

const GITHUB_SECRET: &str = "gh-secret-current";
const GITHUB_SECRET_OLD: &str = "gh-secret-previous";
const GITLAB_TOKEN: &str = "gl-token-0123456789";
const ALERTMANAGER_TOKEN: &str = "am-bearer-token";
const ACK_TOKEN: &str = "ack-token-for-humans";
/// Small enough that the oversize test sends little; the fixtures are a few tens of KB.
const MAX_BODY: usize = 64 * 1024;

const GH_KEY: &str = "prod/payments/Deployment/checkout-api/oom-killed";
const GL_KEY: &str = "prod/shop/Deployment/web/crash-loop";

fn fixture(path: &str) -> Vec<u8> {
    let full = format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

fn t(s: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_second(1_764_000_000 + s).expect("time")
}

struct Suture {
    addr: SocketAddr,
    rx: mpsc::Receiver<Inbound>,
    ready: Readiness,
    metrics: Metrics,
    ledger: Ledger,
    client: Client<HttpConnector, Full<Bytes>>,
    stop: Option<oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    // Last: the database outlives the server that uses it.
    _db: TestDb,
}

impl Suture {
    async fn start(db: TestDb, queue: usize) -> Suture {
        let (tx, rx) = mpsc::channel(queue);
        let ready = Readiness::new();
        let metrics = Metrics::new();
        let state = AppState {
            ledger: db.ledger.clone(),
            webhooks: WebhookSecrets {
                github: vec![Secret::new(GITHUB_SECRET), Secret::new(GITHUB_SECRET_OLD)],
                gitlab: vec![Secret::new(GITLAB_TOKEN)],
                alertmanager: vec![Secret::new(ALERTMANAGER_TOKEN)],
            },
            queue: tx,
            clock: Clock::external(|| t(1000)),
            ready: ready.clone(),
            metrics: metrics.clone(),
            max_body_bytes: MAX_BODY,
            ack_tokens: vec![Secret::new(ACK_TOKEN)],
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(server::serve(listener, server::router(state), async move {
            let _ = stopped.await;
        }));
        Suture {
            addr,
            rx,
            ready,
            metrics,
            ledger: db.ledger.clone(),
            client: Client::builder(TokioExecutor::new()).build_http(),
            stop: Some(stop),
            server,
            _db: db,
        }
    }

    async fn request(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> (StatusCode, String) {
        let mut req = Request::builder()
            .method(method)
            .uri(format!("http://{}{path}", self.addr));
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let req = req.body(Full::new(Bytes::from(body))).expect("request");
        let resp = self.client.request(req).await.expect("response");
        let status = resp.status();
        let body = resp.into_body().collect().await.expect("body").to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    async fn get(&self, path: &str) -> (StatusCode, String) {
        self.request(Method::GET, path, &[], Vec::new()).await
    }

    async fn github(&self, event: &str, delivery: &str, secret: &str, body: &[u8]) -> StatusCode {
        let signature = github_signature(&Secret::new(secret), body);
        let headers = [
            ("X-GitHub-Event", event),
            ("X-GitHub-Delivery", delivery),
            ("X-Hub-Signature-256", signature.as_str()),
            ("Content-Type", "application/json"),
        ];
        self.request(Method::POST, "/webhooks/github", &headers, body.to_vec())
            .await
            .0
    }

    async fn deliveries(&self) -> i64 {
        use sqlx::Row;
        sqlx::query("SELECT COUNT(*) AS n FROM webhook_deliveries")
            .fetch_one(self.ledger.pool())
            .await
            .expect("count deliveries")
            .try_get("n")
            .expect("n")
    }

    /// Everything queued so far.
    fn drain(&mut self) -> Vec<Inbound> {
        let mut items = Vec::new();
        while let Ok(item) = self.rx.try_recv() {
            items.push(item);
        }
        items
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let server = &mut self.server;
        server.await.expect("server task").expect("server");
    }
}

/// The incident and PR suture opened for the GitHub fixtures' repository and head branch.
async fn seed_github_pr(ledger: &Ledger) {
    seed(ledger, GH_KEY, "oom-killed", "payments", "checkout-api").await;
    ledger
        .record_pull_request(&PullRequest {
            incident_key: GH_KEY.into(),
            forge: "github".into(),
            repo: "Codertocat/Hello-World".into(),
            number: 2,
            url: "https://github.com/Codertocat/Hello-World/pull/2".into(),
            head_branch: "changes".into(),
            state: "open".into(),
            merge_sha: None,
            opened_at: t(10),
            updated_at: t(10),
        })
        .await
        .expect("record PR");
}

async fn seed_gitlab_mr(ledger: &Ledger) {
    seed(ledger, GL_KEY, "crash-loop", "shop", "web").await;
    ledger
        .record_pull_request(&PullRequest {
            incident_key: GL_KEY.into(),
            forge: "gitlab".into(),
            repo: "gitlabhq/gitlab-test".into(),
            number: 1,
            url: "http://example.com/diaspora/merge_requests/1".into(),
            head_branch: "ms-viewport".into(),
            state: "open".into(),
            merge_sha: None,
            opened_at: t(20),
            updated_at: t(20),
        })
        .await
        .expect("record MR");
}

async fn seed(ledger: &Ledger, key: &str, fault: &str, namespace: &str, name: &str) {
    let new = NewIncident {
        key: key.into(),
        fault: fault.into(),
        cluster: "prod".into(),
        namespace: namespace.into(),
        kind: "Deployment".into(),
        name: name.into(),
        detail: json!({}),
    };
    let opened = ledger
        .open_incident(&new, &Hop::new("detected", json!({"pod": name})), t(0))
        .await
        .expect("open incident");
    assert!(opened);
    for (from, to, kind) in [
        (IncidentState::Open, IncidentState::Proposed, "proposed"),
        (IncidentState::Proposed, IncidentState::PrOpen, "pr_opened"),
    ] {
        ledger
            .transition(key, from, to, &Hop::new(kind, json!({})), t(5))
            .await
            .expect("transition");
    }
}

fn merged_pr() -> Vec<u8> {
    fixture("github-webhooks/pull_request.closed.merged.derived.json")
}

#[tokio::test]
async fn a_signed_merge_of_a_suture_pr_is_queued_once() {
    let mut s = Suture::start(sqlite_db().await, 16).await;
    seed_github_pr(&s.ledger).await;
    let status = s
        .github("pull_request", "d-merge-1", GITHUB_SECRET, &merged_pr())
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let queued = s.drain();
    assert_eq!(queued.len(), 1, "{queued:?}");
    match &queued[0] {
        Inbound::Change { delivery, event } => {
            assert_eq!(delivery, "d-merge-1");
            assert_eq!(
                event.action,
                ChangeAction::Merged {
                    merge_sha: "c4295bd74fb0f4fda03689c3df3f2803b658fd85".into()
                }
            );
            assert_eq!(event.repo.path, "Codertocat/Hello-World");
            assert_eq!(event.head_branch, "changes");
            assert_eq!(event.number, 2);
        }
        other => panic!("expected a change, got {other:?}"),
    }
    // GitHub redelivers with the same id: acknowledged, not queued again.
    let again = s
        .github("pull_request", "d-merge-1", GITHUB_SECRET, &merged_pr())
        .await;
    assert_eq!(again, StatusCode::OK);
    assert!(s.drain().is_empty());
    assert_eq!(s.deliveries().await, 1);
    s.stop().await;
}

#[tokio::test]
async fn bad_or_missing_signatures_are_401_and_record_nothing() {
    let mut s = Suture::start(sqlite_db().await, 16).await;
    seed_github_pr(&s.ledger).await;
    let forged = s
        .github("pull_request", "d-bad", "not-the-secret", &merged_pr())
        .await;
    assert_eq!(forged, StatusCode::UNAUTHORIZED);
    // A signature over a different body (one byte appended) fails too.
    let body = merged_pr();
    let signature = github_signature(&Secret::new(GITHUB_SECRET), &body);
    let mut tampered = body.clone();
    tampered.push(b'\n');
    let headers = [
        ("X-GitHub-Event", "pull_request"),
        ("X-GitHub-Delivery", "d-tampered"),
        ("X-Hub-Signature-256", signature.as_str()),
    ];
    let (status, text) = s
        .request(Method::POST, "/webhooks/github", &headers, tampered)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(!text.contains(GITHUB_SECRET), "{text}");
    let unsigned = [
        ("X-GitHub-Event", "pull_request"),
        ("X-GitHub-Delivery", "d-unsigned"),
    ];
    let (status, text) = s
        .request(Method::POST, "/webhooks/github", &unsigned, body)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        serde_json::from_str::<Value>(&text).expect("json")["error"],
        "missing X-Hub-Signature-256 header"
    );
    assert_eq!(s.deliveries().await, 0);
    assert!(s.drain().is_empty());
    s.stop().await;
}

#[tokio::test]
async fn the_rotated_second_secret_is_accepted() {
    let mut s = Suture::start(sqlite_db().await, 16).await;
    seed_github_pr(&s.ledger).await;
    let status = s
        .github(
            "pull_request",
            "d-old-secret",
            GITHUB_SECRET_OLD,
            &merged_pr(),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(s.drain().len(), 1);
    s.stop().await;
}

#[tokio::test]
async fn oversize_and_malformed_bodies_are_refused_unrecorded() {
    let mut s = Suture::start(sqlite_db().await, 16).await;
    seed_github_pr(&s.ledger).await;
    // Signed, valid JSON, one byte over the limit.
    let mut big = b"{\"pad\":\"".to_vec();
    big.resize(MAX_BODY - 1, b'x');
    big.extend_from_slice(b"\"}");
    assert_eq!(big.len(), MAX_BODY + 1);
    assert_eq!(
        s.github("pull_request", "d-big", GITHUB_SECRET, &big).await,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    // Properly signed garbage, and a pull_request event without its fields.
    assert_eq!(
        s.github(
            "pull_request",
            "d-garbled",
            GITHUB_SECRET,
            b"{\"action\": \"clo"
        )
        .await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        s.github(
            "pull_request",
            "d-fieldless",
            GITHUB_SECRET,
            br#"{"action":"closed"}"#
        )
        .await,
        StatusCode::BAD_REQUEST
    );
    // No delivery id.
    let body = merged_pr();
    let signature = github_signature(&Secret::new(GITHUB_SECRET), &body);
    let headers = [
        ("X-GitHub-Event", "pull_request"),
        ("X-Hub-Signature-256", signature.as_str()),
    ];
    let (status, _) = s
        .request(Method::POST, "/webhooks/github", &headers, body)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(s.deliveries().await, 0);
    assert!(s.drain().is_empty());
    s.stop().await;
}

#[tokio::test]
async fn events_suture_does_not_act_on_are_204() {
    let mut s = Suture::start(sqlite_db().await, 16).await;
    let push = fixture("github-webhooks/push.payload.json");
    assert_eq!(
        s.github("push", "d-push", GITHUB_SECRET, &push).await,
        StatusCode::NO_CONTENT
    );
    let ping = fixture("github-webhooks/ping.payload.json");
    assert_eq!(
        s.github("ping", "d-ping", GITHUB_SECRET, &ping).await,
        StatusCode::NO_CONTENT
    );
    // The PR exists on GitHub, but suture never opened it: no ledger row for its branch.
    assert_eq!(
        s.github("pull_request", "d-foreign", GITHUB_SECRET, &merged_pr())
            .await,
        StatusCode::NO_CONTENT
    );
    // A PR suture opened, but in another repository than the delivery names.
    seed(&s.ledger, GH_KEY, "oom-killed", "payments", "checkout-api").await;
    s.ledger
        .record_pull_request(&PullRequest {
            incident_key: GH_KEY.into(),
            forge: "github".into(),
            repo: "acme/gitops".into(),
            number: 2,
            url: "https://github.com/acme/gitops/pull/2".into(),
            head_branch: "changes".into(),
            state: "open".into(),
            merge_sha: None,
            opened_at: t(10),
            updated_at: t(10),
        })
        .await
        .expect("record PR");
    assert_eq!(
        s.github("pull_request", "d-other-repo", GITHUB_SECRET, &merged_pr())
            .await,
        StatusCode::NO_CONTENT
    );
    assert!(s.drain().is_empty());
    s.stop().await;
}

/// 1,000 deliveries of one id, 50 at a time: one 202, 999 acknowledged duplicates, one event.
async fn thousand_redeliveries_queue_one_event(db: TestDb) {
    let mut s = Suture::start(db, 64).await;
    seed_github_pr(&s.ledger).await;
    let s_ref = Arc::new((
        s.addr,
        s.client.clone(),
        Bytes::from(merged_pr()),
        github_signature(&Secret::new(GITHUB_SECRET), &merged_pr()),
    ));
    let accepted = Arc::new(AtomicU64::new(0));
    let duplicates = Arc::new(AtomicU64::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let (s_ref, accepted, duplicates) = (s_ref.clone(), accepted.clone(), duplicates.clone());
        workers.spawn(async move {
            let (addr, client, body, signature) = &*s_ref;
            for _ in 0..20 {
                let req = Request::post(format!("http://{addr}/webhooks/github"))
                    .header("X-GitHub-Event", "pull_request")
                    .header("X-GitHub-Delivery", "d-storm")
                    .header("X-Hub-Signature-256", signature.as_str())
                    .body(Full::new(body.clone()))
                    .expect("request");
                let resp = client.request(req).await.expect("response");
                match resp.status() {
                    StatusCode::ACCEPTED => accepted.fetch_add(1, Ordering::Relaxed),
                    StatusCode::OK => duplicates.fetch_add(1, Ordering::Relaxed),
                    other => panic!("unexpected status {other}"),
                };
                resp.into_body().collect().await.expect("body");
            }
        });
    }
    while let Some(done) = workers.join_next().await {
        done.expect("worker");
    }
    assert_eq!(accepted.load(Ordering::Relaxed), 1);
    assert_eq!(duplicates.load(Ordering::Relaxed), 999);
    let queued = s.drain();
    assert_eq!(queued.len(), 1, "{queued:?}");
    assert!(matches!(&queued[0], Inbound::Change { delivery, .. } if delivery == "d-storm"));
    assert_eq!(s.deliveries().await, 1);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_thousand_redeliveries_queue_one_event() {
    thousand_redeliveries_queue_one_event(sqlite_db().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_thousand_redeliveries_queue_one_event() {
    thousand_redeliveries_queue_one_event(postgres_db().await).await;
}

#[tokio::test]
async fn a_full_queue_is_503_and_the_redelivery_is_processed() {
    let mut s = Suture::start(sqlite_db().await, 1).await;
    seed_github_pr(&s.ledger).await;
    let opened = fixture("github-webhooks/pull_request.opened.payload.json");
    assert_eq!(
        s.github("pull_request", "d-first", GITHUB_SECRET, &opened)
            .await,
        StatusCode::ACCEPTED
    );
    // The runner has not taken the first event yet: no room.
    assert_eq!(
        s.github("pull_request", "d-second", GITHUB_SECRET, &merged_pr())
            .await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(s.deliveries().await, 1);
    assert_eq!(s.drain().len(), 1);
    // GitHub redelivers the refused one: now it goes through.
    assert_eq!(
        s.github("pull_request", "d-second", GITHUB_SECRET, &merged_pr())
            .await,
        StatusCode::ACCEPTED
    );
    let queued = s.drain();
    assert!(matches!(&queued[..], [Inbound::Change { delivery, .. }] if delivery == "d-second"));
    s.stop().await;
}

async fn gitlab_post(
    s: &Suture,
    token: Option<&str>,
    idempotency: &[(&str, &str)],
    body: Vec<u8>,
) -> StatusCode {
    let mut headers = vec![("X-Gitlab-Event", "Merge Request Hook")];
    if let Some(token) = token {
        headers.push(("X-Gitlab-Token", token));
    }
    headers.extend_from_slice(idempotency);
    s.request(Method::POST, "/webhooks/gitlab", &headers, body)
        .await
        .0
}

#[tokio::test]
async fn gitlab_token_checked_and_deliveries_deduplicated() {
    let mut s = Suture::start(sqlite_db().await, 16).await;
    seed_gitlab_mr(&s.ledger).await;
    let merge = fixture("gitlab-webhooks/merge_request.merge.json");
    let key = [("Idempotency-Key", "gl-1")];
    assert_eq!(
        gitlab_post(&s, Some("wrong-token"), &key, merge.clone()).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        gitlab_post(&s, None, &key, merge.clone()).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(s.deliveries().await, 0);
    assert!(s.drain().is_empty());

    assert_eq!(
        gitlab_post(&s, Some(GITLAB_TOKEN), &key, merge.clone()).await,
        StatusCode::ACCEPTED
    );
    let queued = s.drain();
    match &queued[..] {
        [Inbound::Change { delivery, event }] => {
            assert_eq!(delivery, "gl-1");
            assert_eq!(
                event.action,
                ChangeAction::Merged {
                    merge_sha: "8a4f1c2e9b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39".into()
                }
            );
            assert_eq!(event.repo.path, "gitlabhq/gitlab-test");
        }
        other => panic!("expected one change, got {other:?}"),
    }
    // GitLab retries with the same Idempotency-Key (and a new event UUID).
    let retry = [("Idempotency-Key", "gl-1"), ("X-Gitlab-Event-UUID", "u-2")];
    assert_eq!(
        gitlab_post(&s, Some(GITLAB_TOKEN), &retry, merge.clone()).await,
        StatusCode::OK
    );
    // Without Idempotency-Key the event UUID is the delivery id.
    let uuid_only = [("X-Gitlab-Event-UUID", "u-3")];
    assert_eq!(
        gitlab_post(&s, Some(GITLAB_TOKEN), &uuid_only, merge.clone()).await,
        StatusCode::ACCEPTED
    );
    assert_eq!(
        gitlab_post(&s, Some(GITLAB_TOKEN), &uuid_only, merge).await,
        StatusCode::OK
    );
    let queued = s.drain();
    assert!(matches!(&queued[..], [Inbound::Change { delivery, .. }] if delivery == "u-3"));
    assert_eq!(s.deliveries().await, 2);
    s.stop().await;
}

async fn alert_post(s: &Suture, auth: Option<String>, body: Vec<u8>) -> StatusCode {
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(auth) = &auth {
        headers.push(("Authorization", auth.as_str()));
    }
    s.request(Method::POST, "/webhooks/alertmanager", &headers, body)
        .await
        .0
}

#[tokio::test]
async fn alertmanager_bearer_checked_and_v4_alerts_queued() {
    let mut s = Suture::start(sqlite_db().await, 16).await;
    let firing = fixture("alertmanager/pod-oom-killed.firing.json");
    assert_eq!(
        alert_post(&s, None, firing.clone()).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        alert_post(&s, Some("Bearer nope".into()), firing.clone()).await,
        StatusCode::UNAUTHORIZED
    );
    let bearer = format!("Bearer {ALERTMANAGER_TOKEN}");
    let mut v3: Value = serde_json::from_slice(&firing).expect("fixture json");
    v3["version"] = json!("3");
    let v3 = serde_json::to_vec(&v3).expect("v3");
    assert_eq!(
        alert_post(&s, Some(bearer.clone()), v3).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        alert_post(&s, Some(bearer.clone()), b"{\"version\":\"4\"}".to_vec()).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(s.deliveries().await, 0);
    assert!(s.drain().is_empty());

    assert_eq!(
        alert_post(&s, Some(bearer.clone()), firing.clone()).await,
        StatusCode::ACCEPTED
    );
    // Alertmanager's retry of the same notification is the same body.
    assert_eq!(alert_post(&s, Some(bearer), firing).await, StatusCode::OK);
    let queued = s.drain();
    match &queued[..] {
        [Inbound::Alerts { delivery, alerts }] => {
            assert!(delivery.starts_with("sha256:"), "{delivery}");
            assert_eq!(alerts.len(), 1);
            assert_eq!(alerts[0].name(), "PodOOMKilled");
            assert_eq!(
                alerts[0].labels.get("pod").map(String::as_str),
                Some("checkout-api-7d9f8c6b5d-x2k4p")
            );
        }
        other => panic!("expected one notification, got {other:?}"),
    }
    s.stop().await;
}

#[tokio::test]
async fn readyz_waits_for_the_caches_and_healthz_always_answers() {
    let s = Suture::start(sqlite_db().await, 16).await;
    assert_eq!(s.get("/healthz").await.0, StatusCode::OK);
    let (status, reason) = s.get("/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reason.trim(), "caches not synced");
    s.ready.set_synced(true);
    assert_eq!(s.get("/readyz").await.0, StatusCode::OK);
    // The ledger gone: not ready, whatever the caches say.
    s.ledger.close().await;
    let (status, reason) = s.get("/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reason.trim(), "ledger unavailable");
    assert_eq!(s.get("/healthz").await.0, StatusCode::OK);
    s.stop().await;
}

#[tokio::test]
async fn metrics_expose_webhook_statuses_incidents_and_runner_figures() {
    let mut s = Suture::start(sqlite_db().await, 16).await;
    seed_github_pr(&s.ledger).await;
    seed_gitlab_mr(&s.ledger).await;
    assert_eq!(
        s.github("pull_request", "m-1", GITHUB_SECRET, &merged_pr())
            .await,
        StatusCode::ACCEPTED
    );
    assert_eq!(
        s.github("pull_request", "m-1", GITHUB_SECRET, &merged_pr())
            .await,
        StatusCode::OK
    );
    for _ in 0..2 {
        assert_eq!(
            s.github("pull_request", "m-2", "forged", &merged_pr())
                .await,
            StatusCode::UNAUTHORIZED
        );
    }
    let push = fixture("github-webhooks/push.payload.json");
    assert_eq!(
        s.github("push", "m-3", GITHUB_SECRET, &push).await,
        StatusCode::NO_CONTENT
    );
    let merge = fixture("gitlab-webhooks/merge_request.merge.json");
    assert_eq!(
        gitlab_post(&s, Some("wrong"), &[("Idempotency-Key", "m-4")], merge).await,
        StatusCode::UNAUTHORIZED
    );
    let mut big = vec![b' '; MAX_BODY + 1];
    big[0] = b'{';
    assert_eq!(
        alert_post(&s, Some(format!("Bearer {ALERTMANAGER_TOKEN}")), big).await,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    assert_eq!(
        alert_post(
            &s,
            Some(format!("Bearer {ALERTMANAGER_TOKEN}")),
            b"[]".to_vec()
        )
        .await,
        StatusCode::BAD_REQUEST
    );
    s.drain();
    s.metrics
        .pull_request_opened("github", suture::detection::FaultId::OomKilled);
    s.metrics
        .detection_to_pr(std::time::Duration::from_millis(400));
    s.metrics.set_forge_stats(|| {
        vec![ForgeStats {
            forge: "github".into(),
            api_calls: 17,
            rate_limit_remaining: Some(4983),
        }]
    });

    let (status, text) = s.get("/metrics").await;
    assert_eq!(status, StatusCode::OK);
    let lines: Vec<&str> = text.lines().collect();
    for expected in [
        r#"suture_webhook_requests_total{source="github",status="202"} 1"#,
        r#"suture_webhook_requests_total{source="github",status="200"} 1"#,
        r#"suture_webhook_requests_total{source="github",status="401"} 2"#,
        r#"suture_webhook_requests_total{source="github",status="204"} 1"#,
        r#"suture_webhook_requests_total{source="gitlab",status="401"} 1"#,
        r#"suture_webhook_requests_total{source="alertmanager",status="413"} 1"#,
        r#"suture_webhook_requests_total{source="alertmanager",status="400"} 1"#,
        r#"suture_incidents{fault="oom-killed",state="pr_open"} 1"#,
        r#"suture_incidents{fault="crash-loop",state="pr_open"} 1"#,
        r#"suture_pull_requests_opened_total{forge="github",fault="oom-killed"} 1"#,
        r#"suture_detection_to_pr_seconds_bucket{le="0.5"} 1"#,
        r#"suture_detection_to_pr_seconds_bucket{le="0.25"} 0"#,
        "suture_detection_to_pr_seconds_count 1",
        r#"suture_forge_api_calls_total{forge="github"} 17"#,
        r#"suture_forge_rate_limit_remaining{forge="github"} 4983"#,
        "# TYPE suture_incidents gauge",
        "# TYPE suture_detection_to_pr_seconds histogram",
    ] {
        assert!(lines.contains(&expected), "missing {expected:?} in\n{text}");
    }
    // The gauge follows the ledger at each scrape.
    s.ledger
        .transition(
            GH_KEY,
            IncidentState::PrOpen,
            IncidentState::Merged,
            &Hop::new("merged", json!({})),
            t(50),
        )
        .await
        .expect("transition");
    let (_, text) = s.get("/metrics").await;
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.contains(&r#"suture_incidents{fault="oom-killed",state="merged"} 1"#));
    assert!(
        !text.contains(r#"suture_incidents{fault="oom-killed",state="pr_open"}"#),
        "{text}"
    );
    assert!(lines.contains(&r#"suture_webhook_requests_total{source="github",status="401"} 2"#));
    s.stop().await;
}

#[tokio::test]
async fn the_api_lists_incidents_and_shows_their_hops() {
    let s = Suture::start(sqlite_db().await, 16).await;
    seed_github_pr(&s.ledger).await;
    seed_gitlab_mr(&s.ledger).await;
    s.ledger
        .transition(
            GL_KEY,
            IncidentState::PrOpen,
            IncidentState::Declined,
            &Hop::new("declined", json!({"by": "webhook"})),
            t(60),
        )
        .await
        .expect("transition");

    let (status, text) = s.get("/api/incidents").await;
    assert_eq!(status, StatusCode::OK);
    let list: Value = serde_json::from_str(&text).expect("json");
    let list = list.as_array().expect("array");
    assert_eq!(list.len(), 2);
    // Most recently updated first.
    assert_eq!(list[0]["key"], GL_KEY);
    assert_eq!(list[0]["state"], "declined");
    assert_eq!(list[1]["key"], GH_KEY);
    assert_eq!(list[1]["state"], "pr_open");
    assert_eq!(list[1]["fault"], "oom-killed");
    assert_eq!(list[1]["namespace"], "payments");
    assert_eq!(list[1]["kind"], "Deployment");
    assert_eq!(list[1]["name"], "checkout-api");
    assert_eq!(list[1]["opened_at"], t(0).to_string());
    assert_eq!(list[1]["updated_at"], t(5).to_string());

    let (status, text) = s.get("/api/incidents?state=pr_open").await;
    assert_eq!(status, StatusCode::OK);
    let open: Value = serde_json::from_str(&text).expect("json");
    let keys: Vec<&str> = open
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|i| i["key"].as_str())
        .collect();
    assert_eq!(keys, [GH_KEY]);
    assert_eq!(
        s.get("/api/incidents?state=bogus").await.0,
        StatusCode::BAD_REQUEST
    );

    let (status, text) = s.get(&format!("/api/incidents/{GH_KEY}")).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let detail: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(detail["key"], GH_KEY);
    assert_eq!(detail["cluster"], "prod");
    let hops: Vec<(&str, &str)> = detail["hops"]
        .as_array()
        .expect("hops")
        .iter()
        .map(|h| {
            (
                h["kind"].as_str().unwrap_or(""),
                h["to_state"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        hops,
        [
            ("detected", "open"),
            ("proposed", "proposed"),
            ("pr_opened", "pr_open")
        ]
    );
    assert_eq!(detail["pull_requests"][0]["number"], 2);
    assert_eq!(detail["pull_requests"][0]["repo"], "Codertocat/Hello-World");

    let (status, text) = s
        .get("/api/incidents/prod/payments/Deployment/nope/oom-killed")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        serde_json::from_str::<Value>(&text).expect("json")["error"],
        "no such incident"
    );
    s.stop().await;
}

/// What the tracing subscriber wrote, for the log test.
#[derive(Clone, Default)]
struct LogBuffer(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut log) = self.0.lock() {
            log.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn rejections_are_logged_once_each_without_secrets_signatures_or_bodies() {
    let log = LogBuffer::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(move || writer.clone())
        .finish();
    // A current-thread runtime: the server's tasks run on this thread, under this subscriber.
    let _guard = tracing::subscriber::set_default(subscriber);
    let s = Suture::start(sqlite_db().await, 16).await;
    let marker = "BODY-MARKER-7f3a";
    let body = format!(r#"{{"action":"closed","note":"{marker}"}}"#).into_bytes();
    // Signed with a secret suture does not know: the signature must not be echoed.
    let signature = github_signature(&Secret::new("attacker-secret"), &body);
    let hex = signature.trim_start_matches("sha256=").to_string();
    let headers = [
        ("X-GitHub-Event", "pull_request"),
        ("X-GitHub-Delivery", "d-log"),
        ("X-Hub-Signature-256", signature.as_str()),
    ];
    let (status, text) = s
        .request(Method::POST, "/webhooks/github", &headers, body.clone())
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(!text.contains(&hex), "{text}");
    // Correctly signed but malformed: the parser's detail (quoting the body) stays inside.
    assert_eq!(
        s.github("pull_request", "d-log-2", GITHUB_SECRET, &body)
            .await,
        StatusCode::BAD_REQUEST
    );
    let wrong_token = "gl-wrong-token-5e1d";
    assert_eq!(
        gitlab_post(
            &s,
            Some(wrong_token),
            &[("Idempotency-Key", "k")],
            body.clone()
        )
        .await,
        StatusCode::UNAUTHORIZED
    );
    let wrong_bearer = "am-wrong-bearer-9c2b";
    assert_eq!(
        alert_post(&s, Some(format!("Bearer {wrong_bearer}")), body).await,
        StatusCode::UNAUTHORIZED
    );
    s.stop().await;

    let text =
        String::from_utf8(log.0.lock().map(|l| l.clone()).unwrap_or_default()).expect("utf-8 log");
    let rejected: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("webhook rejected"))
        .collect();
    assert_eq!(rejected.len(), 4, "{text}");
    assert!(rejected[0].contains("status=401") && rejected[0].contains("source=\"github\""));
    assert!(rejected[1].contains("status=400"), "{}", rejected[1]);
    for secret in [
        hex.as_str(),
        marker,
        wrong_token,
        wrong_bearer,
        GITHUB_SECRET,
        GITLAB_TOKEN,
        ALERTMANAGER_TOKEN,
        "attacker-secret",
    ] {
        assert!(
            !text.contains(secret),
            "{secret:?} reached the log:\n{text}"
        );
    }
}

async fn ack(s: &Suture, key: &str, auth: Option<&str>) -> (StatusCode, String) {
    ack_by(s, key, auth, Vec::new()).await
}

async fn ack_by(s: &Suture, key: &str, auth: Option<&str>, body: Vec<u8>) -> (StatusCode, String) {
    let bearer = auth.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = bearer
        .as_deref()
        .map(|b| vec![("Authorization", b)])
        .unwrap_or_default();
    s.request(
        Method::POST,
        &format!("/api/incidents/{key}/ack"),
        &headers,
        body,
    )
    .await
}

async fn acknowledged_hops(ledger: &Ledger, key: &str) -> Vec<Value> {
    ledger
        .hops(key)
        .await
        .expect("hops")
        .into_iter()
        .filter(|h| h.kind == "acknowledged")
        .map(|h| h.detail)
        .collect()
}

/// The ack endpoint: a bearer token first (nothing about keys leaks without it), then the
/// incident (keys with slashes), once however often it is called.
async fn ack_is_authenticated_found_and_idempotent(db: TestDb) {
    let s = Suture::start(db, 8).await;
    seed(&s.ledger, GH_KEY, "oom-killed", "payments", "checkout-api").await;
    s.ledger
        .transition(
            GH_KEY,
            IncidentState::PrOpen,
            IncidentState::Escalated,
            &Hop::new("escalated", json!({"reason": "probable leak"})),
            t(10),
        )
        .await
        .expect("escalate");

    for auth in [None, Some("wrong-token"), Some("")] {
        let (status, body) = ack(&s, GH_KEY, auth).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{auth:?}: {body}");
        assert!(!body.contains(ACK_TOKEN));
    }
    // Unknown keys are 404 only once authenticated.
    let (status, _) = ack(&s, "prod/none/Deployment/x/oom-killed", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = ack(&s, "prod/none/Deployment/x/oom-killed", Some(ACK_TOKEN)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(acknowledged_hops(&s.ledger, GH_KEY).await.is_empty());

    let (status, _) = ack_by(&s, GH_KEY, Some(ACK_TOKEN), b"{\"who\": 1}".to_vec()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = ack_by(&s, GH_KEY, Some(ACK_TOKEN), br#"{"by": "alice"}"#.to_vec()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let doc: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(doc["key"], GH_KEY);
    assert_eq!(doc["state"], "escalated");
    let last = doc["hops"].as_array().and_then(|h| h.last()).cloned();
    assert_eq!(
        last.as_ref().map(|h| &h["kind"]),
        Some(&json!("acknowledged"))
    );
    assert_eq!(
        last.map(|h| h["at"].clone()),
        Some(json!(t(1000).to_string()))
    );

    let (status, body) = ack(&s, GH_KEY, Some(ACK_TOKEN)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let hops = acknowledged_hops(&s.ledger, GH_KEY).await;
    assert_eq!(hops.len(), 1, "{hops:?}");
    assert_eq!(hops[0]["by"], "alice");

    // A POST elsewhere under the incident path is no route; reading still works.
    let (status, _) = s
        .request(
            Method::POST,
            &format!("/api/incidents/{GH_KEY}"),
            &[],
            Vec::new(),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = s.get(&format!("/api/incidents/{GH_KEY}")).await;
    assert_eq!(status, StatusCode::OK);
    s.stop().await;
}

#[tokio::test]
async fn sqlite_ack_is_authenticated_found_and_idempotent() {
    ack_is_authenticated_found_and_idempotent(sqlite_db().await).await;
}

#[tokio::test]
async fn postgres_ack_is_authenticated_found_and_idempotent() {
    ack_is_authenticated_found_and_idempotent(postgres_db().await).await;
}
