//! A fix the namespace's ResourceQuota cannot hold, end to end: on `oom-quota` the bump
//! (512Mi -> 640Mi with requests == limits) adds 2 x 128Mi to a quota with 128Mi of headroom,
//! so the `resource_quota` check fails before the PR and suture escalates, naming the quota,
//! and opens no PR/MR. Through the real clients against the simulated world.
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

/// Every escalation reason recorded on the incident's hops.
fn reasons(hops: &[suture::ledger::HopRecord]) -> Vec<String> {
    hops.iter()
        .filter(|h| h.kind == "escalated" || h.kind == "escalation")
        .flat_map(|h| ["reason", "note"].map(|k| h.detail[k].as_str().map(str::to_string)))
        .flatten()
        .collect()
}

async fn quota_escalates(forge: Forge) {
    let live = Live::start("oom-quota", forge, Db::Sqlite, 30.0, &[]).await;
    let incident = live.incident_in(IncidentState::Escalated).await;
    assert_eq!(incident.key, KEY);
    assert_eq!(incident.state.as_str(), "escalated");
    let hops = live.hops(KEY).await;
    let kinds: Vec<&str> = hops.iter().map(|h| h.kind.as_str()).collect();
    let reasons = reasons(&hops);
    let reason = reasons
        .iter()
        .find(|r| r.starts_with("check resource_quota failed:"))
        .unwrap_or_else(|| panic!("no resource_quota escalation in {reasons:?} ({kinds:?})"));
    assert!(
        reason.contains("ResourceQuota payments/compute requests.memory"),
        "{reason}"
    );
    assert!(
        reason.contains(
            "used 1280Mi + increase 256Mi (2 replicas x +128Mi) = 1536Mi exceeds hard 1408Mi"
        ),
        "{reason}"
    );
    for kind in ["pushed", "pr_opened", "sync_paused"] {
        assert!(!kinds.contains(&kind), "{kind} in {kinds:?}");
    }
    assert!(live.changes().is_empty(), "{:?}", live.changes());
    live.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bump_over_the_quota_escalates_without_a_pr_on_github() {
    quota_escalates(Forge::GitHub).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bump_over_the_quota_escalates_without_an_mr_on_gitlab() {
    quota_escalates(Forge::GitLab).await;
}
