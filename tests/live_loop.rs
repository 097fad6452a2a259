//! The live loop end to end: `suture serve`'s wiring against a simulated world, through the
//! real clients (kube-rs, git2, octocrab, the gitlab crate) and the real router, with the ledger
//! on SQLite and on PostgreSQL. Each test ends with the harness's teardown check: no pull
//! request, comment or paused Application the test did not expect.
#![cfg(feature = "sim")]

#[path = "support/live.rs"]
#[allow(dead_code)]
mod live;
#[path = "support/testdb.rs"]
#[allow(dead_code)]
mod testdb;

use live::{Db, Live, auto_sync_on, count, kinds};
use suture::incident::IncidentState;
use suture_sim::forge::Fault;
use suture_sim::world::Forge;

const KEY: &str = "sim/payments/Deployment/checkout-api/oom-killed";
/// A verification window of a few simulated minutes keeps the tests short.
const WINDOW: &[(&str, &str)] = &[("SUTURE_POLICY__VERIFICATION_WINDOW", "3m")];

/// The one-line limit change, read off the `pushed` hop's diff.
fn changed_lines(hops: &[suture::ledger::HopRecord]) -> Vec<String> {
    let pushed = hops
        .iter()
        .find(|h| h.kind == "pushed")
        .expect("pushed hop");
    let diff = pushed.detail["diff"].as_str().expect("diff");
    diff.lines()
        .filter(|l| {
            (l.starts_with('+') || l.starts_with('-'))
                && !l.starts_with("+++")
                && !l.starts_with("---")
        })
        .map(str::to_string)
        .collect()
}

/// OOM -> one PR/MR with the one-line change, the app paused; merge -> webhook -> resumed.
async fn oom_to_merge(forge: Forge, db: Db) {
    let mut live = Live::start("oom", forge, db, 30.0, WINDOW).await;
    let incident = live.incident_in(IncidentState::PrOpen).await;
    assert_eq!(incident.key, KEY);

    let changes = live.take_changes();
    assert_eq!(changes.len(), 1, "{changes:?}");
    let pr = &changes[0];
    assert_eq!(
        pr.title,
        "fix(payments/checkout-api): raise memory limit 512Mi -> 640Mi"
    );
    assert_eq!(pr.state, "open");
    let mut labels = pr.labels.clone();
    labels.sort();
    assert_eq!(labels, ["fault/oom-killed", "suture"]);
    for section in ["Root cause", "Evidence", "Checks", "Rollback"] {
        assert!(pr.body.contains(section), "no {section:?} in\n{}", pr.body);
    }
    // The limit bump raises no request (node fit skipped); the scenario has no LimitRange.
    for row in [
        "| node\\_fit | skipped | the change raises no request |",
        "| limit\\_range | passed | no LimitRange in payments bounds the changed values |",
        "| drift | passed |",
    ] {
        assert!(pr.body.contains(row), "no {row:?} in\n{}", pr.body);
    }
    let hops = live.hops(KEY).await;
    assert_eq!(
        changed_lines(&hops),
        [
            "-              memory: 512Mi",
            "+              memory: 640Mi"
        ]
    );
    assert!(
        !auto_sync_on(&live.application().await),
        "auto-sync must be paused while the change waits for review"
    );
    let recorded = live.ledger().pull_requests(KEY).await.unwrap();
    assert_eq!(recorded.len(), 1);
    assert_eq!(u64::try_from(recorded[0].number).unwrap(), pr.number);

    let merge_sha = live.merge(pr.number).await;
    // Merge -> baseline -> resume -> Argo CD deploys the merge -> a window of healthy pods.
    let resolved = live.incident_in(IncidentState::Resolved).await;
    assert_eq!(resolved.key, KEY);
    assert!(
        auto_sync_on(&live.application().await),
        "auto-sync is back on after the merge"
    );
    // The verdict is reported after the state moves: wait for its comment to be recorded.
    live.until("the verdict comment", || async {
        let hops = live.hops(KEY).await;
        hops.iter()
            .any(|h| h.kind == "commented" && h.detail["kind"] == "verdict")
            .then_some(())
    })
    .await;
    let hops = live.hops(KEY).await;
    for kind in [
        "detected",
        "proposed",
        "pushed",
        "sync_paused",
        "pr_opened",
        "merged",
        "verification_started",
        "sync_resumed",
        "deploy_seen",
        "verdict",
        "verified",
    ] {
        assert_eq!(count(&hops, kind), 1, "{kind} in {:?}", kinds(&hops));
    }
    assert_eq!(count(&hops, "escalated"), 0, "{:?}", kinds(&hops));
    let verdict = hops.iter().find(|h| h.kind == "verdict").expect("verdict");
    assert_eq!(verdict.detail["verdict"], "healthy");
    assert_eq!(verdict.detail["merge_sha"], merge_sha.as_str());
    let new_pods = verdict.detail["evidence"]["new_pods"]
        .as_array()
        .map_or(0, Vec::len);
    assert!(
        new_pods > 0,
        "healthy needs pods of the new revision: {verdict:?}"
    );
    // The baseline was captured before the deploy: its pods are the old revision's.
    let started = hops
        .iter()
        .position(|h| h.kind == "verification_started")
        .unwrap_or(usize::MAX);
    let resumed = hops
        .iter()
        .position(|h| h.kind == "sync_resumed")
        .unwrap_or(0);
    assert!(started < resumed, "{:?}", kinds(&hops));

    // Reviewers see it: suture/verify pending -> success on the merge commit, and a comment.
    let states = live.verify_states(&merge_sha);
    // GitHub keeps each status; GitLab moves its one unfinished status to the new state.
    let want: &[&str] = match forge {
        Forge::GitHub => &["pending", "success"],
        Forge::GitLab => &["success"],
    };
    assert_eq!(states, want);
    let posted: Vec<&str> = hops
        .iter()
        .filter(|h| h.kind == "status_posted")
        .filter_map(|h| h.detail["state"].as_str())
        .collect();
    assert_eq!(posted, ["pending", "success"], "{:?}", kinds(&hops));
    let comments = live.take_comments(pr.number);
    let verdicts: Vec<&String> = comments
        .iter()
        .filter(|c| c.contains("suture verification"))
        .collect();
    assert_eq!(verdicts.len(), 1, "{comments:?}");
    assert!(verdicts[0].contains("healthy"), "{}", verdicts[0]);

    // The postmortem reads the real hops: the checks table and the verification lines.
    let record = suture::record::Record {
        incident: live
            .ledger()
            .incident(KEY)
            .await
            .unwrap()
            .expect("incident"),
        hops: live.hops(KEY).await,
        pull_requests: live.ledger().pull_requests(KEY).await.unwrap(),
    };
    let md = suture::record::postmortem::markdown(&record);
    let section = |title: &str| -> String {
        let start = md.find(&format!("## {title}\n")).unwrap_or(md.len());
        let rest = &md[start..];
        let end = rest[3..].find("\n## ").map_or(rest.len(), |i| i + 3);
        rest[..end].to_string()
    };
    let checks = section("Checks");
    assert!(checks.contains("| limit_range | passed |"), "{checks}");
    assert!(checks.contains("| drift | passed |"), "{checks}");
    let verification = section("Verification");
    for kind in ["verification_started", "deploy_seen", "verdict", "verified"] {
        assert!(verification.contains(kind), "no {kind} in {verification}");
    }
    assert_eq!(live.take_changes()[0].state, "merged");
    live.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oom_to_merge_on_github_with_sqlite() {
    oom_to_merge(Forge::GitHub, Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oom_to_merge_on_github_with_postgres() {
    oom_to_merge(Forge::GitHub, Db::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oom_to_merge_on_gitlab_with_sqlite() {
    oom_to_merge(Forge::GitLab, Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oom_to_merge_on_gitlab_with_postgres() {
    oom_to_merge(Forge::GitLab, Db::Postgres).await;
}

/// The fault keeps recurring on new containers for hours of simulated time: still one PR, and
/// recurrence comments at most one per `comment_interval`.
async fn recurrence_for_hours(forge: Forge) {
    // 600 simulated seconds per wall second: three hours pass in 18 s.
    let mut live = Live::start(
        "oom",
        forge,
        Db::Sqlite,
        600.0,
        &[("SUTURE_POLICY__COMMENT_INTERVAL", "1h")],
    )
    .await;
    let opened = live.incident_in(IncidentState::PrOpen).await;
    let start = live.now();
    live.until("three simulated hours", || async {
        (live.now().duration_since(start).as_secs() >= 3 * 3600).then_some(())
    })
    .await;
    // Let the reconcile that falls due at the end run once more.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let elapsed_h = live.now().duration_since(start).as_secs() / 3600;

    let changes = live.take_changes();
    assert_eq!(changes.len(), 1, "one change whatever recurs: {changes:?}");
    let comments = live.take_comments(changes[0].number);
    assert!(
        !comments.is_empty(),
        "a recurrence over hours is worth telling the reviewer"
    );
    // One comment per interval at most (the first may come at once).
    assert!(
        comments.len() as i64 <= elapsed_h + 1,
        "{} comments in {elapsed_h} h: {comments:#?}",
        comments.len()
    );
    let hops = live.hops(&opened.key).await;
    assert_eq!(count(&hops, "pr_opened"), 1, "{:?}", kinds(&hops));
    live.expect_paused();
    live.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recurrence_for_hours_keeps_one_pr_and_bounded_comments_on_github() {
    recurrence_for_hours(Forge::GitHub).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recurrence_for_hours_keeps_one_mr_and_bounded_comments_on_gitlab() {
    recurrence_for_hours(Forge::GitLab).await;
}

/// The forge made the PR but the answer was lost (a gateway 502 after the write): the retry
/// finds it, and there is one PR.
async fn lost_create_response(forge: Forge) {
    let mut live = Live::start("oom", forge, Db::Sqlite, 30.0, &[]).await;
    let path = live.create_change_path();
    live.faults()
        .inject_for("POST", Fault::StatusAfterEffect(502), 1, Some(&path));
    live.incident_in(IncidentState::PrOpen).await;
    assert_eq!(live.faults().pending(), 0, "the fault was not exercised");
    let changes = live.take_changes();
    assert_eq!(changes.len(), 1, "{changes:?}");
    let recorded = live.ledger().pull_requests(KEY).await.unwrap();
    assert_eq!(recorded.len(), 1);
    assert_eq!(
        u64::try_from(recorded[0].number).unwrap(),
        changes[0].number
    );
    live.expect_paused();
    live.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_create_response_leaves_one_pr_on_github() {
    lost_create_response(Forge::GitHub).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_create_response_leaves_one_mr_on_gitlab() {
    lost_create_response(Forge::GitLab).await;
}

/// Rate limits on the create are waited out and retried; no duplicate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limited_create_is_retried_without_a_duplicate() {
    let mut live = Live::start("oom", Forge::GitHub, Db::Sqlite, 30.0, &[]).await;
    let path = live.create_change_path();
    live.faults().inject_for(
        "POST",
        Fault::RateLimit {
            retry_after_secs: 1,
        },
        2,
        Some(&path),
    );
    live.incident_in(IncidentState::PrOpen).await;
    assert_eq!(live.faults().pending(), 0);
    assert_eq!(live.take_changes().len(), 1);
    live.expect_paused();
    live.finish().await;
}

/// suture stops after the push and the pause but before the PR exists (the forge refuses every
/// create meanwhile); restarted, it finishes the same incident: one PR, one pause, one branch
/// commit.
async fn restart_before_the_pr(forge: Forge) {
    let mut live = Live::start("oom", forge, Db::Sqlite, 30.0, &[]).await;
    let path = live.create_change_path();
    live.faults()
        .inject_for("POST", Fault::Status(503), 10_000, Some(&path));
    let ledger = live.ledger().clone();
    live.until("the push and the pause", || async {
        let hops = ledger.hops(KEY).await.ok()?;
        (count(&hops, "pushed") == 1 && count(&hops, "sync_paused") == 1).then_some(())
    })
    .await;
    live.stop_service().await;
    assert!(live.changes().is_empty(), "the forge refused every create");
    assert!(
        !auto_sync_on(&live.application().await),
        "the pause is what the restarted suture must pair with a PR"
    );
    live.faults().clear();

    live.start_service().await;
    let incident = live.incident_in(IncidentState::PrOpen).await;
    assert_eq!(incident.key, KEY);
    let changes = live.take_changes();
    assert_eq!(changes.len(), 1, "{changes:?}");
    let hops = live.hops(KEY).await;
    assert_eq!(count(&hops, "pushed"), 1, "{:?}", kinds(&hops));
    assert_eq!(count(&hops, "pr_opened"), 1, "{:?}", kinds(&hops));
    let pauses = live.ledger().incident_pauses(KEY).await.unwrap();
    assert_eq!(pauses.len(), 1, "{pauses:?}");
    assert!(!auto_sync_on(&live.application().await));
    live.expect_paused();
    live.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_before_the_pr_finishes_one_pr_on_github() {
    restart_before_the_pr(Forge::GitHub).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_before_the_pr_finishes_one_mr_on_gitlab() {
    restart_before_the_pr(Forge::GitLab).await;
}

/// suture restarts in the middle of a verification window: the restarted process resumes the
/// window from the ledger (baseline and deploy mark) and reaches one verdict, posted once.
async fn restart_in_the_window(forge: Forge, db: Db) {
    let window = [("SUTURE_POLICY__VERIFICATION_WINDOW", "6m")];
    let mut live = Live::start("oom", forge, db, 30.0, &window).await;
    live.incident_in(IncidentState::PrOpen).await;
    let pr = live.take_changes().remove(0);
    let merge_sha = live.merge(pr.number).await;
    live.until("the merge to be seen deployed", || async {
        let hops = live.hops(KEY).await;
        (count(&hops, "deploy_seen") > 0).then_some(())
    })
    .await;
    live.stop_service().await;
    let down_at = live.now();
    // The window runs on while suture is down (about 90 simulated seconds).
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert_eq!(
        live.ledger().incident(KEY).await.unwrap().map(|i| i.state),
        Some(IncidentState::Verifying),
        "still verifying when suture stopped"
    );
    live.start_service().await;

    live.incident_in(IncidentState::Resolved).await;
    live.until("the verdict comment", || async {
        let hops = live.hops(KEY).await;
        hops.iter()
            .any(|h| h.kind == "commented" && h.detail["kind"] == "verdict")
            .then_some(())
    })
    .await;
    let hops = live.hops(KEY).await;
    // Nothing lost, nothing done twice: one baseline, one mark, one verdict, two statuses.
    for (kind, n) in [
        ("verification_started", 1),
        ("deploy_seen", 1),
        ("verdict", 1),
        ("verified", 1),
        ("status_posted", 2),
    ] {
        assert_eq!(count(&hops, kind), n, "{kind} in {:?}", kinds(&hops));
    }
    let verdict = hops.iter().find(|h| h.kind == "verdict").expect("verdict");
    assert_eq!(verdict.detail["verdict"], "healthy");
    assert!(verdict.at > down_at, "the verdict came after the restart");
    // The window counts from the deploy mark stored before the stop, not from the restart.
    let mark = hops.iter().find(|h| h.kind == "deploy_seen").expect("mark");
    let ends = verdict.detail["evidence"]["window_ends_at"]
        .as_str()
        .unwrap_or_default();
    let deployed = mark.detail["at"].as_str().unwrap_or_default();
    let (ends, deployed): (jiff::Timestamp, jiff::Timestamp) =
        (ends.parse().unwrap(), deployed.parse().unwrap());
    assert_eq!(
        ends.duration_since(deployed),
        jiff::SignedDuration::from_mins(6)
    );
    let verify = live.verify_states(&merge_sha);
    assert_eq!(
        verify.last().map(String::as_str),
        Some("success"),
        "{verify:?}"
    );
    let comments = live.take_comments(pr.number);
    assert_eq!(
        comments
            .iter()
            .filter(|c| c.contains("suture verification"))
            .count(),
        1,
        "{comments:?}"
    );
    live.take_changes();
    live.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_in_the_verification_window_resumes_it_on_github_with_postgres() {
    restart_in_the_window(Forge::GitHub, Db::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_in_the_verification_window_resumes_it_on_gitlab_with_sqlite() {
    restart_in_the_window(Forge::GitLab, Db::Sqlite).await;
}
