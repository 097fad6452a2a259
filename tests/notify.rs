//! Escalation notifications end to end: the real notifier posting over real HTTP to a local
//! receiver (an axum server in the test) that can fail on demand, with the outbox in a real
//! ledger (SQLite and PostgreSQL) and time driven through `Clock::external`.

#[path = "support/testdb.rs"]
mod testdb;

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use suture::clock::Clock;
use suture::forge::webhook::Secret;
use suture::incident::IncidentState;
use suture::ledger::{Hop, Ledger, NewIncident, PullRequest};
use suture::notify::{Format, Notifier, Pass, Receiver, Repeats};
use testdb::{TestDb, postgres_db, sqlite_db};

const KEY: &str = "prod/payments/Deployment/checkout-api/oom-killed";
const TOKEN: &str = "generic-receiver-token";
/// The path part of the receiver URL stands for the secret in a Slack webhook URL.
const URL_SECRET: &str = "T000/B000/XXXXXXXXXXXXXXXX";

fn t(s: i64) -> Timestamp {
    Timestamp::from_second(1_764_000_000 + s).expect("time")
}

/// A receiver that answers 500 while `down`, and records every request it gets.
#[derive(Default)]
struct Inbox {
    down: AtomicBool,
    attempts: AtomicI64,
    /// (Authorization header, body) of each accepted request.
    accepted: Mutex<Vec<(Option<String>, Value)>>,
}

impl Inbox {
    fn accepted(&self) -> Vec<(Option<String>, Value)> {
        self.accepted.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

async fn receive(State(inbox): State<Arc<Inbox>>, headers: HeaderMap, body: String) -> StatusCode {
    inbox.attempts.fetch_add(1, Ordering::SeqCst);
    if inbox.down.load(Ordering::SeqCst) {
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    if let Ok(mut v) = inbox.accepted.lock() {
        v.push((auth, body));
    }
    StatusCode::OK
}

/// Start a receiver; returns its state and its URL.
async fn start_receiver() -> (Arc<Inbox>, String) {
    let inbox = Arc::new(Inbox::default());
    let app = Router::new()
        .route("/hooks/{*rest}", post(receive))
        .with_state(inbox.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (inbox, format!("http://{addr}/hooks/{URL_SECRET}"))
}

/// The simulated time, in seconds after `t(0)`.
#[derive(Clone, Default)]
struct Time(Arc<AtomicI64>);

impl Time {
    fn set(&self, s: i64) {
        self.0.store(s, Ordering::SeqCst);
    }
    fn clock(&self) -> Clock {
        let at = self.0.clone();
        Clock::external(move || t(at.load(Ordering::SeqCst)))
    }
}

fn notifier(ledger: &Ledger, time: &Time, url: &str, format: Format) -> Notifier {
    let (name, token) = match format {
        Format::Slack => ("slack", None),
        Format::Generic => ("webhook", Some(Secret::new(TOKEN))),
    };
    let receiver = Receiver::new(name, format, Secret::new(url), token);
    Notifier::new(
        ledger.clone(),
        time.clock(),
        vec![receiver],
        Repeats::new(
            SignedDuration::from_mins(10),
            &[(vec!["fast-*".into()], SignedDuration::from_mins(2))],
        ),
        Some("https://suture.example.com".into()),
    )
}

async fn seed(ledger: &Ledger, key: &str, namespace: &str) {
    let new = NewIncident {
        key: key.into(),
        fault: "oom-killed".into(),
        cluster: "prod".into(),
        namespace: namespace.into(),
        kind: "Deployment".into(),
        name: "checkout-api".into(),
        detail: json!({"evidence": {"container": "web", "limit": "512Mi", "restarts": 4}}),
    };
    assert!(
        ledger
            .open_incident(&new, &Hop::new("detected", json!({})), t(0))
            .await
            .expect("open")
    );
}

async fn escalate(ledger: &Ledger, key: &str, at: i64, reason: &str) {
    let state = ledger
        .incident(key)
        .await
        .expect("read")
        .expect("incident")
        .state;
    let hop = Hop::new("escalated", json!({"note": reason}));
    if state == IncidentState::Escalated {
        // What the alert path does for an incident already escalated: a new escalation.
        ledger.append_hop(key, &hop, t(at)).await.expect("append");
    } else {
        ledger
            .transition(key, state, IncidentState::Escalated, &hop, t(at))
            .await
            .expect("escalate");
    }
}

async fn pass(n: &Notifier) -> Pass {
    n.pass().await.expect("notify pass")
}

/// The receiver fails for ten minutes of simulated time; the notifier keeps trying with a
/// growing back-off (never more than the cap apart) and delivers exactly once when it is back.
async fn a_receiver_down_for_minutes_loses_nothing(db: TestDb) {
    let l = &db.ledger;
    let (inbox, url) = start_receiver().await;
    let time = Time::default();
    seed(l, KEY, "payments").await;
    l.record_pull_request(&PullRequest {
        incident_key: KEY.into(),
        forge: "github".into(),
        repo: "org/gitops".into(),
        number: 7,
        url: "https://github.com/org/gitops/pull/7".into(),
        head_branch: "suture/oom-killed/payments/checkout-api-1a2b3c4d".into(),
        state: "closed".into(),
        merge_sha: None,
        opened_at: t(1),
        updated_at: t(2),
    })
    .await
    .expect("pr");
    escalate(l, KEY, 5, "no memory limit set: the OOM is the node's").await;
    let n = notifier(l, &time, &url, Format::Generic);

    inbox.down.store(true, Ordering::SeqCst);
    let mut tries = Vec::new();
    for s in (10..=600).step_by(5) {
        time.set(s);
        let p = pass(&n).await;
        assert_eq!(p.delivered, 0);
        if p.failed == 1 {
            tries.push(s);
        }
    }
    assert!(tries.len() >= 5, "{tries:?}");
    // Doubling from seconds to minutes, never more than the cap (5 minutes) apart.
    let gaps: Vec<i64> = tries.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(gaps[..4].windows(2).all(|g| g[1] + 5 >= g[0]), "{gaps:?}");
    assert!(gaps.iter().max().is_some_and(|g| *g >= 60), "{gaps:?}");
    assert!(gaps.iter().all(|g| *g <= 305), "{gaps:?}");
    let rows = l.notifications(KEY).await.expect("rows");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].sends, 0);
    assert_eq!(rows[0].attempts, i64::try_from(tries.len()).unwrap_or(0));
    let error = rows[0].last_error.clone().unwrap_or_default();
    assert_eq!(error, "receiver answered HTTP 500");
    assert!(inbox.accepted().is_empty());

    // Back up: the next due attempt delivers, once.
    inbox.down.store(false, Ordering::SeqCst);
    let mut delivered_at = None;
    for s in (605..=1000).step_by(5) {
        time.set(s);
        if pass(&n).await.delivered == 1 {
            delivered_at.get_or_insert(s);
        }
    }
    let delivered_at = delivered_at.expect("delivered after recovery");
    assert!(delivered_at <= 600 + 305, "{delivered_at}");
    let got = inbox.accepted();
    // Once: the repeat is 10 minutes after the delivery, past this window.
    assert_eq!(got.len(), 1);
    let (auth, doc) = &got[0];
    assert_eq!(auth.as_deref(), Some("Bearer generic-receiver-token"));
    assert_eq!(doc["kind"], "suture.escalation");
    assert_eq!(doc["incident"]["key"], KEY);
    assert_eq!(doc["incident"]["state"], "escalated");
    assert_eq!(doc["incident"]["namespace"], "payments");
    assert_eq!(doc["incident"]["kind"], "Deployment");
    assert_eq!(doc["incident"]["name"], "checkout-api");
    assert_eq!(doc["incident"]["fault"], "oom-killed");
    assert_eq!(doc["reason"], "no memory limit set: the OOM is the node's");
    assert_eq!(doc["evidence"]["limit"], "512Mi");
    assert_eq!(doc["evidence"]["restarts"], "4");
    assert_eq!(
        doc["links"]["pull_request"],
        "https://github.com/org/gitops/pull/7"
    );
    assert_eq!(
        doc["links"]["incident"],
        format!("https://suture.example.com/api/incidents/{KEY}")
    );
    assert!(
        doc["decide"]
            .as_str()
            .is_some_and(|d| d.contains("suture ack"))
    );
    assert_eq!(doc["attempt"], 1);
    assert_eq!(doc["first_escalated_at"], t(5).to_string());
    let rows = l.notifications(KEY).await.expect("rows");
    assert_eq!((rows[0].attempts, rows[0].last_error.clone()), (0, None));
}

/// The outbox survives the notifier: escalations recorded while none runs, and a send that
/// failed before a restart, are delivered by the next notifier on another connection.
async fn no_escalation_is_lost_across_a_restart(db: TestDb) {
    let (inbox, url) = start_receiver().await;
    let time = Time::default();
    seed(&db.ledger, KEY, "payments").await;
    escalate(&db.ledger, KEY, 5, "image pull unauthorized").await;
    let other = "prod/shop/Deployment/web/crash-loop-back-off";
    seed(&db.ledger, other, "shop").await;

    inbox.down.store(true, Ordering::SeqCst);
    time.set(10);
    let first = notifier(&db.ledger, &time, &url, Format::Slack);
    let p = pass(&first).await;
    assert_eq!((p.queued, p.failed, p.delivered), (1, 1, 0));
    drop(first);
    // Escalated while no notifier runs.
    escalate(&db.ledger, other, 20, "node not ready").await;

    let ledger = Ledger::open(&db.url).await.expect("second connection");
    inbox.down.store(false, Ordering::SeqCst);
    time.set(400);
    let second = notifier(&ledger, &time, &url, Format::Slack);
    let p = pass(&second).await;
    assert_eq!((p.queued, p.delivered, p.failed), (1, 2, 0));
    let bodies: Vec<Value> = inbox.accepted().into_iter().map(|(_, b)| b).collect();
    assert_eq!(bodies.len(), 2);
    let texts: Vec<&str> = bodies.iter().filter_map(|b| b["text"].as_str()).collect();
    assert!(
        texts.contains(
            &"suture escalated payments/checkout-api (oom-killed): image pull unauthorized"
        ),
        "{texts:?}"
    );
    assert!(
        texts.contains(&"suture escalated shop/checkout-api (oom-killed): node not ready"),
        "{texts:?}"
    );
    let blocks = bodies[0]["blocks"].to_string();
    assert!(blocks.contains("*Evidence*"), "{blocks}");
    assert!(blocks.contains(&format!(
        "<https://suture.example.com/api/incidents/{KEY}|incident record>"
    )));
    // Nothing is sent twice: the next pass before the repeat interval is quiet.
    time.set(500);
    assert_eq!(pass(&second).await, Pass::default());
    ledger.close().await;
}

/// Unacknowledged, an escalation repeats every interval (per namespace); acknowledged, it
/// stops; a new escalation on the same incident notifies again.
async fn repeats_until_acknowledged(db: TestDb) {
    let l = &db.ledger;
    let (inbox, url) = start_receiver().await;
    let time = Time::default();
    seed(l, KEY, "payments").await;
    let fast = "prod/fast-lane/Deployment/api/oom-killed";
    seed(l, fast, "fast-lane").await;
    escalate(l, KEY, 0, "over the cap").await;
    escalate(l, fast, 0, "over the cap").await;
    let n = notifier(l, &time, &url, Format::Generic);
    let count = |key: &str| {
        inbox
            .accepted()
            .iter()
            .filter(|(_, b)| b["incident"]["key"] == key)
            .count()
    };

    for s in (0..=1500).step_by(30) {
        time.set(s);
        pass(&n).await;
    }
    // At 0, 600, 1200 (10m) and every 2 minutes for the fast-lane override.
    assert_eq!(count(KEY), 3);
    assert!((12..=13).contains(&count(fast)), "{}", count(fast));
    let attempts: Vec<Value> = inbox
        .accepted()
        .iter()
        .filter(|(_, b)| b["incident"]["key"] == KEY)
        .map(|(_, b)| b["attempt"].clone())
        .collect();
    assert_eq!(attempts, vec![json!(1), json!(2), json!(3)]);

    assert!(l.acknowledge(KEY, "alice", t(1510)).await.expect("ack"));
    assert!(
        !l.acknowledge(KEY, "bob", t(1520))
            .await
            .expect("second ack")
    );
    for s in (1530..=4000).step_by(60) {
        time.set(s);
        pass(&n).await;
    }
    assert_eq!(count(KEY), 3, "no repeat after the ack");
    let rows = l.notifications(KEY).await.expect("rows");
    assert_eq!(rows[0].closed_reason.as_deref(), Some("acknowledged"));
    let acks: Vec<_> = l
        .hops(KEY)
        .await
        .expect("hops")
        .into_iter()
        .filter(|h| h.kind == "acknowledged")
        .collect();
    assert_eq!(acks.len(), 1);
    assert_eq!(acks[0].detail["by"], "alice");

    // A new escalation later: notified again, from attempt 1, and repeating again.
    escalate(
        l,
        KEY,
        4010,
        "still firing after the second bump: probable leak",
    )
    .await;
    for s in (4020..=4700).step_by(60) {
        time.set(s);
        pass(&n).await;
    }
    let fresh: Vec<Value> = inbox
        .accepted()
        .into_iter()
        .map(|(_, b)| b)
        .filter(|b| b["incident"]["key"] == KEY)
        .skip(3)
        .collect();
    assert_eq!(fresh.len(), 2, "{fresh:?}");
    assert_eq!(fresh[0]["attempt"], 1);
    assert_eq!(
        fresh[0]["reason"],
        "still firing after the second bump: probable leak"
    );
    assert_eq!(fresh[0]["first_escalated_at"], t(4010).to_string());
    assert_eq!(fresh[1]["attempt"], 2);
    // Acking now does not lose the record: one ack per escalation.
    assert!(l.acknowledge(KEY, "cli", t(4800)).await.expect("ack again"));
}

/// A superseded escalation stops repeating (one reminder per incident), and a resolved
/// incident is not nagged about.
async fn superseded_and_resolved_escalations_stop(db: TestDb) {
    let l = &db.ledger;
    let (inbox, url) = start_receiver().await;
    let time = Time::default();
    seed(l, KEY, "payments").await;
    escalate(l, KEY, 0, "first").await;
    let n = notifier(l, &time, &url, Format::Generic);
    pass(&n).await;
    escalate(l, KEY, 60, "second").await;
    time.set(700);
    let p = pass(&n).await;
    assert_eq!((p.queued, p.delivered, p.closed), (1, 1, 1));
    let reasons: Vec<Value> = inbox
        .accepted()
        .into_iter()
        .map(|(_, b)| b["reason"].clone())
        .collect();
    assert_eq!(reasons, vec![json!("first"), json!("second")]);

    l.transition(
        KEY,
        IncidentState::Escalated,
        IncidentState::Resolved,
        &Hop::new("resolved", json!({})),
        t(800),
    )
    .await
    .expect("resolve");
    time.set(1400);
    let p = pass(&n).await;
    assert_eq!((p.delivered, p.closed), (0, 1));
    let rows = l.notifications(KEY).await.expect("rows");
    let reasons: Vec<_> = rows.iter().map(|r| r.closed_reason.clone()).collect();
    assert_eq!(
        reasons,
        vec![Some("superseded".into()), Some("resolved".into())]
    );
}

/// Escalations already in the ledger when notifications arrive are history: never sent.
async fn escalations_before_the_migration_are_not_sent(db: TestDb) {
    let l = &db.ledger;
    seed(l, KEY, "payments").await;
    escalate(l, KEY, 5, "old").await;
    // Pretend this hop predates migration 2.
    sqlx::query("UPDATE notify_baseline SET hop_id = (SELECT MAX(id) FROM hops)")
        .execute(l.pool())
        .await
        .expect("baseline");
    let (inbox, url) = start_receiver().await;
    let time = Time::default();
    time.set(10);
    let n = notifier(l, &time, &url, Format::Slack);
    assert_eq!(pass(&n).await, Pass::default());
    assert!(inbox.accepted().is_empty());
    assert_eq!(inbox.attempts.load(Ordering::SeqCst), 0);
}

macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(super::sqlite_db().await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(super::postgres_db().await).await;
                }
            )*
        }
    };
}

on_both!(
    a_receiver_down_for_minutes_loses_nothing,
    no_escalation_is_lost_across_a_restart,
    repeats_until_acknowledged,
    superseded_and_resolved_escalations_stop,
    escalations_before_the_migration_are_not_sent,
);
