//! `suture incidents list|show` and `suture ack` as an operator runs them, on a ledger (SQLite
//! and PostgreSQL) seeded with a realistic incident: an OOM fixed by a merged limit bump that
//! did not hold, escalated as a probable leak.

#[path = "support/testdb.rs"]
mod testdb;

use std::process::{Command, Output};

use serde_json::{Value, json};
use suture::incident::IncidentState as S;
use suture::ledger::{Hop, Ledger, NewIncident, PullRequest};
use testdb::{TestDb, postgres_db, sqlite_db};

const KEY: &str = "prod/payments/Deployment/checkout-api/oom-killed";
const OTHER: &str = "prod/shop/Deployment/web/image-pull-back-off";

fn t(s: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_second(1_764_000_000 + s).expect("time")
}

fn suture(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_suture"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("suture runs")
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn seed(l: &Ledger) {
    let new = NewIncident {
        key: KEY.into(),
        fault: "oom-killed".into(),
        cluster: "prod".into(),
        namespace: "payments".into(),
        kind: "Deployment".into(),
        name: "checkout-api".into(),
        detail: json!({"evidence": {"container": "web", "exit_code": 137,
                                    "reason": "OOMKilled", "limit": "512Mi", "restart_count": 6}}),
    };
    let detected = Hop::new("detected", json!({"evidence": {"limit": "512Mi"}}));
    assert!(l.open_incident(&new, &detected, t(0)).await.expect("open"));
    let step = |from, to, kind: &'static str, at, detail: Value| async move {
        l.transition(KEY, from, to, &Hop::new(kind, detail), t(at))
            .await
            .expect("transition");
    };
    step(S::Open, S::Proposed, "proposed", 20, json!({"note": null})).await;
    l.append_hop(
        KEY,
        &Hop::new(
            "pushed",
            json!({"branch": "suture/oom-killed/payments/checkout-api-1a2b3c4d",
                   "commit": "9f8e7d6c",
                   "diff": "-            memory: 512Mi\n+            memory: 640Mi\n",
                   "change": "raise memory limit 512Mi -> 640Mi",
                   "basis": "max(512Mi x 1.2, 512Mi + 100Mi) = 614.4Mi, rounded up to 640Mi",
                   "rollback": "memory limit back to 512Mi"}),
        ),
        t(30),
    )
    .await
    .expect("pushed");
    l.append_hop(
        KEY,
        &Hop::new("sync_paused", json!({"app": "payments", "mode": "enabled"})),
        t(40),
    )
    .await
    .expect("paused");
    step(
        S::Proposed,
        S::PrOpen,
        "pr_opened",
        75,
        json!({"note": null}),
    )
    .await;
    l.record_pull_request(&PullRequest {
        incident_key: KEY.into(),
        forge: "github".into(),
        repo: "org/gitops".into(),
        number: 7,
        url: "https://github.com/org/gitops/pull/7".into(),
        head_branch: "suture/oom-killed/payments/checkout-api-1a2b3c4d".into(),
        state: "merged".into(),
        merge_sha: Some("abc123".into()),
        opened_at: t(75),
        updated_at: t(1875),
    })
    .await
    .expect("pr");
    step(S::PrOpen, S::Merged, "merged", 1875, json!({})).await;
    step(
        S::Merged,
        S::Escalated,
        "escalated",
        2500,
        json!({"reason": "OOMKilled again at 640Mi: probable leak, no third bump"}),
    )
    .await;

    let other = NewIncident {
        key: OTHER.into(),
        fault: "image-pull-back-off".into(),
        cluster: "prod".into(),
        namespace: "shop".into(),
        kind: "Deployment".into(),
        name: "web".into(),
        detail: json!({}),
    };
    assert!(
        l.open_incident(&other, &Hop::new("detected", json!({})), t(3000))
            .await
            .expect("open")
    );
}

async fn record_cli(db: TestDb) {
    seed(&db.ledger).await;
    let url = db.url.as_str();

    let list = stdout(&suture(&["incidents", "list", "--ledger", url]));
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 2, "{list}");
    assert!(
        lines[0].ends_with(OTHER) && lines[0].contains(" open "),
        "{list}"
    );
    assert!(
        lines[1].ends_with(KEY) && lines[1].contains(" escalated "),
        "{list}"
    );
    let escalated = stdout(&suture(&[
        "incidents",
        "list",
        "--ledger",
        url,
        "--state",
        "escalated",
        "--format",
        "json",
    ]));
    let doc: Value = serde_json::from_str(&escalated).expect("json list");
    assert_eq!(doc.as_array().map(Vec::len), Some(1));
    assert_eq!(doc[0]["key"], KEY);
    let bad = suture(&["incidents", "list", "--ledger", url, "--state", "nope"]);
    assert_eq!(bad.status.code(), Some(2));

    let text = stdout(&suture(&["incidents", "show", KEY, "--ledger", url]));
    assert!(
        text.starts_with(&format!("incident  {KEY}\nstate     escalated\n")),
        "{text}"
    );
    for kind in [
        "detected",
        "proposed",
        "pushed",
        "sync_paused",
        "pr_opened",
        "merged",
        "escalated",
    ] {
        assert!(text.contains(&format!("  {kind} ")), "{kind}: {text}");
    }
    assert!(text.contains("reason=OOMKilled again at 640Mi: probable leak, no third bump"));

    let json_doc: Value = serde_json::from_str(&stdout(&suture(&[
        "incidents",
        "show",
        KEY,
        "--ledger",
        url,
        "--format",
        "json",
    ])))
    .expect("json show");
    assert_eq!(json_doc["hops"].as_array().map(Vec::len), Some(7));
    assert_eq!(
        json_doc["pull_requests"][0]["url"],
        "https://github.com/org/gitops/pull/7"
    );

    let md = stdout(&suture(&[
        "incidents",
        "show",
        KEY,
        "--ledger",
        url,
        "--format",
        "markdown",
    ]));
    assert!(
        md.starts_with("# Postmortem: Deployment payments/checkout-api (oom-killed)\n"),
        "{md}"
    );
    assert!(
        md.contains("| pull request | 1m 15s |\n| merge | 31m 15s |\n| resolved | n/a |"),
        "{md}"
    );
    assert!(
        md.contains(&format!(
            "| {} | escalated | merged -> escalated |",
            t(2500)
        )),
        "{md}"
    );
    assert!(md.contains("| reason | OOMKilled |"));
    assert!(md.contains("- Basis: max(512Mi x 1.2, 512Mi + 100Mi) = 614.4Mi, rounded up to 640Mi"));
    assert!(md.contains("```diff\n-            memory: 512Mi\n+            memory: 640Mi\n```"));

    let missing = suture(&[
        "incidents",
        "show",
        "prod/x/Deployment/y/oom-killed",
        "--ledger",
        url,
    ]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&missing.stderr)
            .contains("no incident prod/x/Deployment/y/oom-killed")
    );

    // Ack through the ledger: once with --ledger and a name, again through a config file.
    let out = stdout(&suture(&["ack", KEY, "--ledger", url, "--by", "alice"]));
    assert_eq!(out, format!("acknowledged {KEY}\n"));
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("suture.yaml");
    std::fs::write(&config, format!("ledger: {url:?}\n")).expect("write config");
    let config = config.display().to_string();
    let out = stdout(&suture(&["ack", KEY, "--config", &config]));
    assert_eq!(out, format!("{KEY} was already acknowledged\n"));
    let acks: Vec<Value> = db
        .ledger
        .hops(KEY)
        .await
        .expect("hops")
        .into_iter()
        .filter(|h| h.kind == "acknowledged")
        .map(|h| h.detail)
        .collect();
    assert_eq!(acks.len(), 1, "{acks:?}");
    assert_eq!(acks[0]["by"], "alice");
    let md = stdout(&suture(&[
        "incidents",
        "show",
        KEY,
        "--config",
        &config,
        "--format",
        "markdown",
    ]));
    assert!(md.contains("acknowledged: by=alice"), "{md}");
    let unknown = suture(&["ack", "prod/x/Deployment/y/oom-killed", "--ledger", url]);
    assert_eq!(unknown.status.code(), Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_incident_record_and_ack_cli() {
    record_cli(sqlite_db().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_incident_record_and_ack_cli() {
    record_cli(postgres_db().await).await;
}

#[test]
fn a_missing_sqlite_ledger_is_an_error_not_a_new_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("typo.db");
    let url = format!("sqlite://{}", path.display());
    let out = suture(&["incidents", "list", "--ledger", &url]);
    assert_eq!(out.status.code(), Some(1));
    assert!(!path.exists());
    let neither = suture(&["incidents", "list"]);
    assert_eq!(neither.status.code(), Some(2));
}
