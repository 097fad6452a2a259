//! The ledger suite, run twice: on a real SQLite file and on the real PostgreSQL at
//! 127.0.0.1:5432 (a fresh database per test, dropped at teardown even when the test fails).
//! `SUTURE_TEST_POSTGRES_URL` points elsewhere; a missing server fails the tests, never skips.

use std::sync::Arc;

use serde_json::json;
use suture::incident::IncidentState;
use suture::ledger::{Dialect, Effect, Hop, Ledger, LedgerError, NewIncident, PullRequest};

const KEY: &str = "prod/payments/Deployment/checkout-api/oom-killed";

fn admin_url() -> String {
    std::env::var("SUTURE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A database for one test. Dropping it removes the SQLite file or the PostgreSQL database.
struct TestDb {
    ledger: Ledger,
    cleanup: Cleanup,
}

enum Cleanup {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin: String, name: String },
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Cleanup::Postgres { admin, name } = &self.cleanup {
            let (admin, name) = (admin.clone(), name.clone());
            // Drop runs inside the test's runtime; the teardown needs its own.
            let done = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("teardown runtime");
                rt.block_on(async move {
                    let admin = Ledger::connect(&admin).await.expect("admin connection");
                    let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                        .execute(admin.pool())
                        .await
                        .expect("drop test database");
                    admin.close().await;
                })
            })
            .join();
            if done.is_err() && !std::thread::panicking() {
                panic!("test database teardown failed");
            }
        }
    }
}

async fn sqlite_db(migrate: bool) -> TestDb {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("suture.db").display());
    let ledger = Ledger::connect(&url).await.expect("open sqlite");
    if migrate {
        ledger.migrate().await.expect("migrate");
    }
    TestDb {
        ledger,
        cleanup: Cleanup::Sqlite(dir),
    }
}

async fn postgres_db(migrate: bool) -> TestDb {
    let admin = admin_url();
    let name = format!("suture_test_{}", uuid::Uuid::new_v4().simple());
    let conn = Ledger::connect(&admin)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {admin} is required by the ledger tests: {e}"));
    let sql = format!("CREATE DATABASE \"{name}\"");
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(conn.pool())
        .await
        .expect("create test database");
    conn.close().await;
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
    let ledger = Ledger::connect(&format!("{base}/{name}"))
        .await
        .expect("connect test database");
    if migrate {
        ledger.migrate().await.expect("migrate");
    }
    TestDb {
        ledger,
        cleanup: Cleanup::Postgres { admin, name },
    }
}

fn t(s: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_second(1_764_000_000 + s).expect("time")
}

fn new_incident() -> NewIncident {
    NewIncident {
        key: KEY.into(),
        fault: "oom-killed".into(),
        cluster: "prod".into(),
        namespace: "payments".into(),
        kind: "Deployment".into(),
        name: "checkout-api".into(),
        detail: json!({"limit": "512Mi"}),
    }
}

fn detected() -> Hop {
    Hop::new("detected", json!({"pod": "checkout-api-7d9f8c6b5d-x2k4p"}))
}

async fn open_is_once_with_its_first_hop(l: &Ledger) {
    assert!(
        l.open_incident(&new_incident(), &detected(), t(0))
            .await
            .unwrap()
    );
    assert!(
        !l.open_incident(&new_incident(), &detected(), t(5))
            .await
            .unwrap()
    );
    let inc = l.incident(KEY).await.unwrap().expect("incident");
    assert_eq!(inc.state, IncidentState::Open);
    assert_eq!(inc.opened_at, t(0));
    assert_eq!(inc.updated_at, t(0));
    assert_eq!(inc.detail, json!({"limit": "512Mi"}));
    assert_eq!(
        (inc.namespace.as_str(), inc.name.as_str()),
        ("payments", "checkout-api")
    );
    let hops = l.hops(KEY).await.unwrap();
    assert_eq!(hops.len(), 1, "{hops:?}");
    assert_eq!(hops[0].kind, "detected");
    assert_eq!(hops[0].from_state, None);
    assert_eq!(hops[0].to_state, Some(IncidentState::Open));
    assert_eq!(hops[0].detail["pod"], "checkout-api-7d9f8c6b5d-x2k4p");
    assert!(
        l.incident("prod/x/Deployment/y/oom-killed")
            .await
            .unwrap()
            .is_none()
    );
}

async fn transitions_compare_and_set(l: &Ledger) {
    l.open_incident(&new_incident(), &detected(), t(0))
        .await
        .unwrap();
    let proposed = Hop::new("proposed", json!({"to": "640Mi"}));
    l.transition(
        KEY,
        IncidentState::Open,
        IncidentState::Proposed,
        &proposed,
        t(1),
    )
    .await
    .unwrap();
    // A stale writer that still thinks the incident is open changes nothing.
    let stale = l
        .transition(
            KEY,
            IncidentState::Open,
            IncidentState::Escalated,
            &proposed,
            t(2),
        )
        .await;
    match stale {
        Err(LedgerError::StateConflict {
            expected, actual, ..
        }) => {
            assert_eq!(expected, IncidentState::Open);
            assert_eq!(actual, IncidentState::Proposed);
        }
        other => panic!("expected a state conflict, got {other:?}"),
    }
    let inc = l.incident(KEY).await.unwrap().expect("incident");
    assert_eq!(inc.state, IncidentState::Proposed);
    assert_eq!(inc.updated_at, t(1));
    let hops = l.hops(KEY).await.unwrap();
    let kinds: Vec<_> = hops.iter().map(|h| h.kind.as_str()).collect();
    assert_eq!(kinds, ["detected", "proposed"]);
    assert_eq!(hops[1].from_state, Some(IncidentState::Open));
    assert_eq!(hops[1].to_state, Some(IncidentState::Proposed));
    assert!(matches!(
        l.transition(
            "no/such/Deployment/x/oom-killed",
            IncidentState::Open,
            IncidentState::Proposed,
            &proposed,
            t(3)
        )
        .await,
        Err(LedgerError::NotFound(_))
    ));
}

async fn concurrent_transitions_have_one_winner(l: &Ledger) {
    l.open_incident(&new_incident(), &detected(), t(0))
        .await
        .unwrap();
    let l = Arc::new(l.clone());
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let l = Arc::clone(&l);
            tokio::spawn(async move {
                let hop = Hop::new("pr_opened", json!({ "worker": i }));
                l.transition(KEY, IncidentState::Open, IncidentState::PrOpen, &hop, t(1))
                    .await
            })
        })
        .collect();
    let mut won = 0;
    for task in tasks {
        match task.await.expect("task") {
            Ok(()) => won += 1,
            Err(LedgerError::StateConflict { actual, .. }) => {
                assert_eq!(actual, IncidentState::PrOpen)
            }
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    assert_eq!(won, 1);
    let hops = l.hops(KEY).await.unwrap();
    assert_eq!(hops.iter().filter(|h| h.kind == "pr_opened").count(), 1);
}

async fn hops_without_state_change(l: &Ledger) {
    l.open_incident(&new_incident(), &detected(), t(0))
        .await
        .unwrap();
    l.append_hop(KEY, &Hop::new("recurred", json!({"restarts": 4})), t(60))
        .await
        .unwrap();
    let inc = l.incident(KEY).await.unwrap().expect("incident");
    assert_eq!(inc.state, IncidentState::Open);
    assert_eq!(inc.updated_at, t(60));
    let hops = l.hops(KEY).await.unwrap();
    assert_eq!(hops.len(), 2);
    assert_eq!(hops[1].kind, "recurred");
    assert_eq!(hops[1].at, t(60));
    assert_eq!((hops[1].from_state, hops[1].to_state), (None, None));
    assert!(hops[0].id < hops[1].id);
    assert!(matches!(
        l.append_hop("nope", &detected(), t(61)).await,
        Err(LedgerError::NotFound(k)) if k == "nope"
    ));
}

async fn effects_are_claimed_once(l: &Ledger) {
    let idem = format!("open-pr:{KEY}");
    assert_eq!(
        l.begin_effect(&idem, KEY, "open-pr", t(0)).await.unwrap(),
        Effect::Claimed
    );
    // A crash before `finish_effect`: the restarted runner learns it was started.
    assert_eq!(
        l.begin_effect(&idem, KEY, "open-pr", t(30)).await.unwrap(),
        Effect::Started { at: t(0) }
    );
    l.finish_effect(&idem, &json!({"number": 7}), t(31))
        .await
        .unwrap();
    assert_eq!(
        l.begin_effect(&idem, KEY, "open-pr", t(40)).await.unwrap(),
        Effect::Done {
            result: json!({"number": 7})
        }
    );
    assert!(matches!(
        l.finish_effect("never-begun", &json!(null), t(41)).await,
        Err(LedgerError::NotFound(_))
    ));
}

async fn deliveries_dedup_under_concurrency(l: &Ledger) {
    let l = Arc::new(l.clone());
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let l = Arc::clone(&l);
            tokio::spawn(async move { l.first_delivery("github", "d-1", t(0)).await })
        })
        .collect();
    let mut first = 0;
    for task in tasks {
        if task.await.expect("task").unwrap() {
            first += 1;
        }
    }
    assert_eq!(first, 1, "exactly one delivery is the first");
    assert!(l.first_delivery("gitlab", "d-1", t(1)).await.unwrap());
    assert!(!l.first_delivery("gitlab", "d-1", t(2)).await.unwrap());
}

fn pr(state: &str, merge_sha: Option<&str>, at: i64) -> PullRequest {
    PullRequest {
        incident_key: KEY.into(),
        forge: "github".into(),
        repo: "org/gitops".into(),
        number: 7,
        url: "https://github.com/org/gitops/pull/7".into(),
        head_branch: "suture/oom-killed/payments/checkout-api-1a2b3c4d".into(),
        state: state.into(),
        merge_sha: merge_sha.map(str::to_string),
        opened_at: t(0),
        updated_at: t(at),
    }
}

async fn pull_requests_by_branch(l: &Ledger) {
    l.open_incident(&new_incident(), &detected(), t(0))
        .await
        .unwrap();
    l.record_pull_request(&pr("open", None, 0)).await.unwrap();
    let branch = "suture/oom-killed/payments/checkout-api-1a2b3c4d";
    let found = l
        .pull_request_by_branch("github", "org/gitops", branch)
        .await
        .unwrap();
    assert_eq!(found, Some(pr("open", None, 0)));
    assert_eq!(
        l.pull_request_by_branch("github", "org/gitops", "feature/x")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        l.pull_request_by_branch("gitlab", "org/gitops", branch)
            .await
            .unwrap(),
        None
    );
    l.record_pull_request(&pr("merged", Some("c4295bd7"), 90))
        .await
        .unwrap();
    let all = l.pull_requests(KEY).await.unwrap();
    assert_eq!(all, vec![pr("merged", Some("c4295bd7"), 90)]);
}

async fn pull_request_budget_and_reconcile_lists(l: &Ledger) {
    l.open_incident(&new_incident(), &detected(), t(0))
        .await
        .unwrap();
    let mut older = pr("open", None, 0);
    older.number = 3;
    older.opened_at = t(-7200);
    l.record_pull_request(&older).await.unwrap();
    l.record_pull_request(&pr("open", None, 0)).await.unwrap();
    let mut merged = pr("merged", Some("c4295bd7"), 10);
    merged.number = 9;
    l.record_pull_request(&merged).await.unwrap();
    // Two open; two opened within the hour before t(0) (the merged one counts: it was opened).
    assert_eq!(l.pull_request_budget(t(-3600)).await.unwrap(), (2, 2));
    let open: Vec<i64> = l
        .pull_requests_in("open")
        .await
        .unwrap()
        .iter()
        .map(|p| p.number)
        .collect();
    assert_eq!(open, vec![3, 7]);
    let id = l
        .record_pause(
            KEY,
            "argocd",
            "checkout",
            &serde_json::json!({"prune": true}),
            t(0),
            t(60),
        )
        .await
        .unwrap();
    assert_eq!(l.incident_pauses(KEY).await.unwrap().len(), 1);
    assert!(l.resume_pause(id, "merged", t(5)).await.unwrap());
    assert!(l.incident_pauses(KEY).await.unwrap().is_empty());
}

async fn pauses_expire_and_resume_once(l: &Ledger) {
    l.open_incident(&new_incident(), &detected(), t(0))
        .await
        .unwrap();
    let policy = json!({"prune": true, "selfHeal": true});
    let short = l
        .record_pause(KEY, "argocd", "payments", &policy, t(0), t(100))
        .await
        .unwrap();
    let long = l
        .record_pause(KEY, "argocd", "orders", &json!({}), t(0), t(86_400))
        .await
        .unwrap();
    assert_ne!(short, long);
    let expired = l.open_pauses(Some(t(101))).await.unwrap();
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].id, short);
    assert_eq!(expired[0].prior_policy, policy);
    assert_eq!(expired[0].app_name, "payments");
    assert_eq!(expired[0].expires_at, t(100));
    assert_eq!(l.open_pauses(None).await.unwrap().len(), 2);
    assert!(l.resume_pause(short, "expired", t(102)).await.unwrap());
    assert!(!l.resume_pause(short, "merged", t(103)).await.unwrap());
    let open = l.open_pauses(None).await.unwrap();
    assert_eq!(open.iter().map(|p| p.id).collect::<Vec<_>>(), [long]);
}

async fn listing_and_counts(l: &Ledger) {
    for (i, name) in ["a", "b", "c"].iter().enumerate() {
        let mut n = new_incident();
        n.key = format!("prod/payments/Deployment/{name}/oom-killed");
        n.name = name.to_string();
        l.open_incident(&n, &detected(), t(i as i64)).await.unwrap();
    }
    l.transition(
        "prod/payments/Deployment/b/oom-killed",
        IncidentState::Open,
        IncidentState::Escalated,
        &Hop::new("escalated", json!({})),
        t(10),
    )
    .await
    .unwrap();
    let all = l.incidents(None, 10).await.unwrap();
    let names: Vec<_> = all.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["b", "c", "a"], "most recently updated first");
    assert_eq!(l.incidents(None, 2).await.unwrap().len(), 2);
    let open = l.incidents(Some(IncidentState::Open), 10).await.unwrap();
    assert_eq!(open.len(), 2);
    assert_eq!(
        l.counts().await.unwrap(),
        vec![
            ("oom-killed".to_string(), IncidentState::Escalated, 1),
            ("oom-killed".to_string(), IncidentState::Open, 2),
        ]
    );
    l.ping().await.unwrap();
}

async fn migrating_twice_is_a_no_op(l: &Ledger) {
    l.open_incident(&new_incident(), &detected(), t(0))
        .await
        .unwrap();
    l.migrate().await.unwrap();
    assert!(l.incident(KEY).await.unwrap().is_some());
}

macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let db = super::sqlite_db(true).await;
                    assert_eq!(db.ledger.dialect(), suture::ledger::Dialect::Sqlite);
                    super::$name(&db.ledger).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let db = super::postgres_db(true).await;
                    assert_eq!(db.ledger.dialect(), suture::ledger::Dialect::Postgres);
                    super::$name(&db.ledger).await;
                }
            )*
        }
    };
}

on_both!(
    open_is_once_with_its_first_hop,
    pull_request_budget_and_reconcile_lists,
    transitions_compare_and_set,
    concurrent_transitions_have_one_winner,
    hops_without_state_change,
    effects_are_claimed_once,
    deliveries_dedup_under_concurrency,
    pull_requests_by_branch,
    pauses_expire_and_resume_once,
    listing_and_counts,
    migrating_twice_is_a_no_op,
);

/// Each migration is applied to data the previous schema holds: migrate to version v, write
/// the seed of v as raw SQL, migrate to the newest, and read everything back through the API.
async fn every_migration_applies_to_seeded_data(db: TestDb) {
    let l = &db.ledger;
    let versions = suture::ledger::migrations::versions();
    assert!(!versions.is_empty());
    for v in &versions {
        l.migrate_to(Some(*v)).await.unwrap();
        let seed = format!(
            "{}/tests/ledger_seeds/{v:04}.sql",
            env!("CARGO_MANIFEST_DIR")
        );
        if let Ok(sql) = std::fs::read_to_string(&seed) {
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(l.pool())
                .await
                .unwrap_or_else(|e| panic!("{seed}: {e}"));
        }
    }
    l.migrate().await.unwrap();
    // What the version-1 seed wrote survives every later migration.
    let inc = l.incident(KEY).await.unwrap().expect("seeded incident");
    assert_eq!(inc.state, IncidentState::PrOpen);
    assert_eq!(inc.detail, json!({"limit": "512Mi"}));
    let hops = l.hops(KEY).await.unwrap();
    assert_eq!(hops.len(), 3);
    assert_eq!(hops[1].detail, json!({"number": 7}));
    // The version-2 seed: the outbox row waits for its repeat; an ack closes it.
    let outbox = l.notifications(KEY).await.unwrap();
    assert_eq!(outbox.len(), 1);
    assert_eq!((outbox[0].escalation_id, outbox[0].sends), (hops[2].id, 1));
    let pr = l
        .pull_request_by_branch(
            "github",
            "org/gitops",
            "suture/oom-killed/payments/checkout-api-1a2b3c4d",
        )
        .await
        .unwrap()
        .expect("seeded PR");
    assert_eq!(pr.number, 7);
    assert_eq!(l.open_pauses(None).await.unwrap().len(), 1);
    assert_eq!(
        l.begin_effect(&format!("open-pr:{KEY}"), KEY, "open-pr", t(99))
            .await
            .unwrap(),
        Effect::Done {
            result: json!({"number": 7})
        }
    );
    assert!(
        !l.first_delivery("github", "72d3162e-cc78-11e3-81ab-4c9367dc0958", t(99))
            .await
            .unwrap()
    );
    assert!(l.acknowledge(KEY, "seed", t(99)).await.unwrap());
    let outbox = l.notifications(KEY).await.unwrap();
    assert_eq!(outbox[0].closed_reason.as_deref(), Some("acknowledged"));
    // The new state and hop still go in together after migrating.
    l.transition(
        KEY,
        IncidentState::PrOpen,
        IncidentState::Merged,
        &Hop::new("merged", json!({})),
        t(100),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn sqlite_every_migration_applies_to_seeded_data() {
    every_migration_applies_to_seeded_data(sqlite_db(false).await).await;
}

#[tokio::test]
async fn postgres_every_migration_applies_to_seeded_data() {
    every_migration_applies_to_seeded_data(postgres_db(false).await).await;
}

#[test]
fn both_dialects_have_the_same_migrations() {
    let names = |dialect: &str| {
        let dir = format!("{}/migrations/{dialect}", env!("CARGO_MANIFEST_DIR"));
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{dir}: {e}"))
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .collect();
        names.sort();
        names
    };
    let sqlite = names("sqlite");
    assert_eq!(sqlite, names("postgres"));
    // Every file is compiled in, with the version its name starts with.
    let versions: Vec<i64> = sqlite
        .iter()
        .filter_map(|n| n.split('_').next()?.parse().ok())
        .collect();
    assert_eq!(versions, suture::ledger::migrations::versions());
}

#[tokio::test]
async fn sqlite_file_is_created_and_keeps_its_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("ledger.db");
    let url = format!("sqlite://{}", path.display());
    let l = Ledger::open(&url).await.unwrap();
    l.open_incident(&new_incident(), &detected(), t(0))
        .await
        .unwrap();
    l.close().await;
    assert!(path.is_file());
    let again = Ledger::open(&url).await.unwrap();
    assert_eq!(
        again.incident(KEY).await.unwrap().map(|i| i.state),
        Some(IncidentState::Open)
    );
}

#[tokio::test]
async fn bad_urls_fail_clearly_without_the_password() {
    let err = Ledger::connect("mysql://root:hunter2@db/x")
        .await
        .unwrap_err();
    assert!(matches!(err, LedgerError::UnsupportedUrl(_)));
    assert!(!err.to_string().contains("hunter2"));
    // Nothing listens on port 1.
    let err = Ledger::connect("postgres://suture:hunter2@127.0.0.1:1/x")
        .await
        .unwrap_err();
    assert!(!err.to_string().contains("hunter2"), "{err}");
    assert!(err.is_transient(), "{err:?}");
    assert_eq!(Dialect::of("sqlite://x").ok(), Some(Dialect::Sqlite));
}

#[tokio::test]
async fn suture_migrate_creates_the_ledger_and_reports_bad_urls() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("suture.db");
    let url = format!("sqlite://{}", path.display());
    let run = |url: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_suture"))
            .args(["migrate", "--ledger", url])
            .output()
            .expect("suture runs")
    };
    let out = run(&url);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let newest = suture::ledger::migrations::versions()
        .last()
        .copied()
        .unwrap_or(0);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("ledger migrated to version {newest}")
    );
    // The file is a migrated ledger the library opens; running again changes nothing.
    assert!(run(&url).status.success());
    let l = Ledger::connect(&url).await.unwrap();
    l.open_incident(&new_incident(), &detected(), t(0))
        .await
        .unwrap();
    let out = run("redis://:hunter2@localhost");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unsupported ledger URL scheme \"redis\""),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "{err}");
}
