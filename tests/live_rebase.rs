//! The base branch moves under an open fix (a teammate's commit to the same manifest): suture
//! rebuilds its commit on the new tip from the fix's own records, keeping the teammate's change,
//! and force-pushes over its own commit only; when the teammate changed the very line, suture
//! does not rebase over it and says so on the pull request, once.
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
const MANIFEST: &str = "apps/checkout-api/deployment.yaml";
const WINDOW: &[(&str, &str)] = &[("SUTURE_POLICY__VERIFICATION_WINDOW", "2m")];

fn read(live: &Live, rev: &str) -> String {
    let repo = live.world().scenario.repo;
    let bytes = live
        .world()
        .repos
        .read_file(repo, rev, MANIFEST)
        .expect("read")
        .expect("the manifest");
    String::from_utf8(bytes).expect("utf-8")
}

/// A teammate's commit on main, replacing `from` with `to` in the manifest.
fn teammate_edits(live: &Live, from: &str, to: &str) -> String {
    let scenario = live.world().scenario.clone();
    let text = read(live, scenario.branch);
    assert!(text.contains(from), "{text}");
    live.world()
        .repos
        .commit_files_as(
            scenario.repo,
            scenario.branch,
            [(MANIFEST, text.replace(from, to))],
            "checkout-api: teammate's change",
            ("Dana Developer", "dana@example.com"),
        )
        .expect("a teammate's commit")
}

async fn rebased_over_a_neighbouring_change(forge: Forge, db: Db) {
    let mut live = Live::start("oom", forge, db, 30.0, WINDOW).await;
    live.incident_in(IncidentState::PrOpen).await;
    let pr = live.take_changes().remove(0);
    let tip = teammate_edits(&live, "fluent-bit:3.1.4", "fluent-bit:3.1.5");

    let rebased = live
        .until("the rebase", || async {
            live.hops(KEY)
                .await
                .into_iter()
                .find(|h| h.kind == "rebased")
        })
        .await;
    assert_eq!(rebased.detail["base"], tip.as_str());
    assert_eq!(rebased.detail["files"], serde_json::json!([MANIFEST]));
    // On the branch: the teammate's line and suture's, nothing else changed against main.
    let branch = read(&live, &pr.head);
    assert!(branch.contains("fluent-bit:3.1.5"), "{branch}");
    assert!(branch.contains("memory: 640Mi"), "{branch}");
    let main = read(&live, live.world().scenario.branch);
    assert_eq!(branch, main.replacen("memory: 512Mi", "memory: 640Mi", 1));
    let repo = live.world().scenario.repo;
    let ahead = live
        .world()
        .repos
        .commits_between(repo, &tip, &pr.head)
        .expect("commits");
    assert_eq!(ahead.len(), 1, "one commit on the new tip: {ahead:?}");
    // Still one PR, still open; a force-push by suture itself is not a human push.
    let hops = live.hops(KEY).await;
    assert!(!hops.iter().any(|h| h.kind == "human_pushed"), "{hops:?}");
    let changes = live.take_changes();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].state, "open");

    // The rebased fix merges and verifies as any other.
    live.merge(pr.number).await;
    live.incident_in(IncidentState::Resolved).await;
    live.until("the verdict comment", || async {
        let hops = live.hops(KEY).await;
        hops.iter()
            .any(|h| h.kind == "commented" && h.detail["kind"] == "verdict")
            .then_some(())
    })
    .await;
    live.take_comments(pr.number);
    live.take_changes();
    live.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fix_is_rebased_over_a_teammates_neighbouring_change_on_github() {
    rebased_over_a_neighbouring_change(Forge::GitHub, Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fix_is_rebased_over_a_teammates_neighbouring_change_on_gitlab() {
    rebased_over_a_neighbouring_change(Forge::GitLab, Db::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fix_is_not_rebased_over_a_change_to_its_own_line() {
    let mut live = Live::start("oom", Forge::GitHub, Db::Sqlite, 30.0, WINDOW).await;
    live.incident_in(IncidentState::PrOpen).await;
    live.expect_paused();
    let pr = live.take_changes().remove(0);
    let before = read(&live, &pr.head);
    teammate_edits(&live, "memory: 512Mi", "memory: 768Mi");

    let comment = live
        .until("the comment on the pull request", || async {
            live.comments(pr.number)
                .into_iter()
                .find(|c| c.contains("will not rebase"))
        })
        .await;
    assert!(
        comment.contains("is now 768Mi") || comment.contains("to 768Mi"),
        "{comment}"
    );
    // A few more reconcile ticks: said once, and the branch is left as it was.
    let later = live.now() + jiff::SignedDuration::from_mins(3);
    live.until("three simulated minutes", || async {
        (live.now() > later).then_some(())
    })
    .await;
    let comments = live.take_comments(pr.number);
    assert_eq!(
        comments
            .iter()
            .filter(|c| c.contains("will not rebase"))
            .count(),
        1,
        "{comments:?}"
    );
    assert_eq!(read(&live, &pr.head), before);
    let hops = live.hops(KEY).await;
    assert_eq!(
        hops.iter().filter(|h| h.kind == "rebase_refused").count(),
        1
    );
    assert!(!hops.iter().any(|h| h.kind == "rebased"));
    live.take_changes();
    live.finish().await;
}
