//! The checks before a PR, end to end: the server-side dry run (`dryRun=All`) of suture's fix
//! against the simulated API server, through the real kube-rs client. Behind an admission
//! webhook that caps memory limits the fix is denied and escalated with no PR; without one
//! the PR's Checks table shows the dry run passed.
#![cfg(feature = "sim")]

#[path = "support/live.rs"]
#[allow(dead_code)]
mod live;
#[path = "support/testdb.rs"]
#[allow(dead_code)]
mod testdb;

use live::{Db, Live};
use suture::incident::IncidentState;
use suture_sim::world::Forge;

const KEY: &str = "sim/payments/Deployment/checkout-api/oom-killed";
const DENIED: &str = "check dry_run failed: admission webhook \"memory-ceiling.policy.example.com\" denied the request";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admission_webhook_denial_in_the_dry_run_escalates_without_a_pr() {
    let live = Live::start("oom-policy", Forge::GitHub, Db::Sqlite, 30.0, &[]).await;
    let incident = live.incident_in(IncidentState::Escalated).await;
    assert_eq!(incident.key, KEY);
    assert_eq!(incident.state, IncidentState::Escalated);

    // The notifier's hop is written just after the transition.
    let hops = live
        .until("the escalation hop", || async {
            let hops = live.hops(KEY).await;
            hops.iter().any(|h| h.kind == "escalation").then_some(hops)
        })
        .await;
    let kinds: Vec<&str> = hops.iter().map(|h| h.kind.as_str()).collect();
    let escalated = hops
        .iter()
        .find(|h| h.kind == "escalated")
        .unwrap_or_else(|| panic!("an escalated hop in {kinds:?}"));
    let reason = escalated.detail["note"].as_str().unwrap_or_default();
    assert!(reason.starts_with(DENIED), "{reason}");
    // The webhook's reason, and the value it denied: 512Mi -> 640Mi over a 600Mi ceiling.
    assert!(
        reason.contains("memory limit 640Mi exceeds the ceiling 600Mi"),
        "{reason}"
    );
    assert!(reason.ends_with("(HTTP 403 Forbidden)"), "{reason}");
    // The notifier's hop carries the same reason.
    let notified = hops
        .iter()
        .find(|h| h.kind == "escalation")
        .unwrap_or_else(|| panic!("an escalation hop in {kinds:?}"));
    assert_eq!(notified.detail["reason"].as_str(), Some(reason));
    for kind in ["pr_opened", "sync_paused"] {
        assert!(!kinds.contains(&kind), "{kind} in {kinds:?}");
    }
    assert!(live.changes().is_empty(), "{:?}", live.changes());
    assert!(
        live.ledger().pull_requests(KEY).await.unwrap().is_empty(),
        "no pull request recorded"
    );
    // The dry run persisted nothing: the live Deployment still has the 512Mi limit.
    let store = live.world().kube.store();
    let res = store.res("apps/v1", "Deployment").unwrap();
    let deployment = store.get(res, Some("payments"), "checkout-api").unwrap();
    let containers = deployment["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap();
    let api = containers.iter().find(|c| c["name"] == "api").unwrap();
    assert_eq!(api["resources"]["limits"]["memory"], "512Mi");
    live.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_accepted_dry_run_is_a_passed_row_in_the_pr() {
    let mut live = Live::start("oom", Forge::GitHub, Db::Sqlite, 30.0, &[]).await;
    let incident = live.incident_in(IncidentState::PrOpen).await;
    assert_eq!(incident.key, KEY);
    let changes = live.take_changes();
    assert_eq!(changes.len(), 1, "{changes:?}");
    let body = &changes[0].body;
    let row = "| dry\\_run | passed | the API server accepted the change as a server-side dry run (dryRun=All); nothing was persisted |";
    assert!(body.contains(row), "no {row:?} in\n{body}");
    // The dry run is listed with the other checks, before drift.
    let at = |needle: &str| body.find(needle).unwrap_or_else(|| panic!("{needle}"));
    assert!(at("| limit\\_range |") < at("| dry\\_run |"));
    assert!(at("| dry\\_run |") < at("| drift |"));
    // The PR waits for review with auto-sync paused.
    live.expect_paused();
    live.finish().await;
}
