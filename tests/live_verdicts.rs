//! The verdicts other than `healthy` and `regressed`, end to end through the real clients and
//! the simulated world: `still_firing` (a leak: two bounded bumps, then escalated as a leak),
//! `not_deployed` (Argo CD cannot apply the merge) and `inconclusive` (someone else paused the
//! app during the window). Each reaches reviewers as a failed `suture/verify` status and a
//! comment, and is escalated.
#![cfg(feature = "sim")]

#[path = "support/live.rs"]
#[allow(dead_code)]
mod live;
#[path = "support/testdb.rs"]
#[allow(dead_code)]
mod testdb;

use live::{Db, Live, count, kinds};
use suture::incident::IncidentState;
use suture_sim::world::Forge;

const KEY: &str = "sim/payments/Deployment/checkout-api/oom-killed";

/// Wait for the verdict comment on `number` and return it.
async fn verdict_comment(live: &mut Live, number: u64, verdict: &str) -> String {
    let want = format!("suture verification: {verdict}");
    live.until(&format!("the {verdict} comment on #{number}"), || async {
        live.comments(number)
            .into_iter()
            .find(|c| c.contains(&want))
    })
    .await;
    let all = live.take_comments(number);
    all.into_iter()
        .find(|c| c.contains(&want))
        .expect("the verdict comment")
}

/// `leak`: every limit is reached. Bump -> still_firing -> the next bounded bump on its own
/// branch -> still_firing -> no third bump: escalated as a probable leak.
async fn leak(forge: Forge, db: Db) {
    let window = [("SUTURE_POLICY__VERIFICATION_WINDOW", "2m")];
    let mut live = Live::start("leak", forge, db, 30.0, &window).await;
    live.incident_in(IncidentState::PrOpen).await;
    let first = live.take_changes().remove(0);
    assert_eq!(
        first.title,
        "fix(payments/checkout-api): raise memory limit 512Mi -> 640Mi"
    );
    let first_sha = live.merge(first.number).await;
    let comment = verdict_comment(&mut live, first.number, "still_firing").await;
    assert!(comment.contains("oom-killed"), "{comment}");

    // The next sighting proposes the second bounded step.
    live.until("the second pull request", || async {
        let changes = live.changes();
        (changes.len() == 2 && changes.iter().any(|c| c.state == "open")).then_some(())
    })
    .await;
    let second = live
        .take_changes()
        .into_iter()
        .find(|c| c.number != first.number)
        .expect("second");
    assert_eq!(second.head, format!("{}-2", first.head));
    assert!(
        second.title.contains("640Mi -> "),
        "the second bump starts from the first's value: {}",
        second.title
    );
    let second_sha = live.merge(second.number).await;
    verdict_comment(&mut live, second.number, "still_firing").await;

    let escalated = live.incident_in(IncidentState::Escalated).await;
    assert_eq!(escalated.key, KEY);
    let hops = live.hops(KEY).await;
    assert_eq!(count(&hops, "still_firing"), 2, "{:?}", kinds(&hops));
    let leak_reason = hops
        .iter()
        .filter(|h| h.kind.starts_with("escalat"))
        // The transition hop notes the reason; the escalation hop written after it repeats it.
        .filter_map(|h| h.detail["reason"].as_str().or(h.detail["note"].as_str()))
        .find(|r| r.contains("probable leak"));
    assert!(leak_reason.is_some(), "{:?}", kinds(&hops));
    for sha in [&first_sha, &second_sha] {
        let states = live.verify_states(sha);
        assert_eq!(
            states.last().map(String::as_str),
            Some("failure"),
            "{states:?}"
        );
    }
    let prs = live.ledger().pull_requests(KEY).await.unwrap();
    assert_eq!(prs.len(), 2, "no third bump: {prs:?}");
    live.take_changes();
    live.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leak_is_still_firing_twice_then_escalated_on_github_with_postgres() {
    leak(Forge::GitHub, Db::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leak_is_still_firing_twice_then_escalated_on_gitlab_with_sqlite() {
    leak(Forge::GitLab, Db::Sqlite).await;
}

/// A teammate lands a manifest the API server refuses while the fix waits for review: the
/// merge commit cannot be applied, Argo CD never deploys it, and the deploy timeout ends the
/// verification as `not_deployed` with what Argo CD reported.
async fn not_deployed(forge: Forge, db: Db) {
    let env = [
        ("SUTURE_POLICY__VERIFICATION_WINDOW", "2m"),
        ("SUTURE_POLICY__DEPLOY_TIMEOUT", "2m"),
    ];
    let mut live = Live::start("oom", forge, db, 30.0, &env).await;
    live.incident_in(IncidentState::PrOpen).await;
    let pr = live.take_changes().remove(0);
    let scenario = live.world().scenario.clone();
    live.world()
        .repos
        .commit_files_as(
            scenario.repo,
            scenario.branch,
            [(
                "apps/checkout-api/config.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Checkout_Settings\ndata:\n  mode: fast\n",
            )],
            "checkout-api: settings",
            ("Dana Developer", "dana@example.com"),
        )
        .expect("a teammate's commit");
    let merge_sha = live.merge(pr.number).await;

    let escalated = live.incident_in(IncidentState::Escalated).await;
    assert_eq!(escalated.key, KEY);
    let hops = live.hops(KEY).await;
    assert_eq!(count(&hops, "not_deployed"), 1, "{:?}", kinds(&hops));
    assert_eq!(count(&hops, "deploy_seen"), 0, "{:?}", kinds(&hops));
    let verdict = hops.iter().find(|h| h.kind == "verdict").expect("verdict");
    assert_eq!(verdict.detail["verdict"], "not_deployed");
    assert_eq!(verdict.detail["merge_sha"], merge_sha.as_str());
    // What Argo CD reported is the evidence: the failed operation and its message.
    let evidence = &verdict.detail["evidence"];
    assert_eq!(evidence["operation_phase"], "Failed", "{evidence}");
    assert!(
        evidence["operation_message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{evidence}"
    );
    assert!(evidence["deploy_deadline"].is_string(), "{evidence}");
    let comment = verdict_comment(&mut live, pr.number, "not_deployed").await;
    assert!(comment.contains("Failed"), "{comment}");
    let states = live.verify_states(&merge_sha);
    assert_eq!(
        states.last().map(String::as_str),
        Some("failure"),
        "{states:?}"
    );
    live.take_changes();
    live.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merge_argo_cd_cannot_apply_is_not_deployed_on_github_with_sqlite() {
    not_deployed(Forge::GitHub, Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merge_argo_cd_cannot_apply_is_not_deployed_on_gitlab_with_postgres() {
    not_deployed(Forge::GitLab, Db::Postgres).await;
}

/// Someone switches auto-sync off during the window: the pods look fine, but the verdict
/// cannot be trusted, so the window ends `inconclusive` and is escalated, never passed.
async fn inconclusive(forge: Forge, db: Db) {
    let window = [("SUTURE_POLICY__VERIFICATION_WINDOW", "3m")];
    let mut live = Live::start("oom", forge, db, 30.0, &window).await;
    live.incident_in(IncidentState::PrOpen).await;
    let pr = live.take_changes().remove(0);
    let merge_sha = live.merge(pr.number).await;
    live.until("the merge to be seen deployed", || async {
        let hops = live.hops(KEY).await;
        (count(&hops, "deploy_seen") > 0).then_some(())
    })
    .await;
    // An operator pauses the app by hand (as `argocd app set --sync-policy none` does).
    live.pause_by_hand().await;
    live.expect_paused();

    let escalated = live.incident_in(IncidentState::Escalated).await;
    assert_eq!(escalated.key, KEY);
    let hops = live.hops(KEY).await;
    assert_eq!(
        count(&hops, "verification_inconclusive"),
        1,
        "{:?}",
        kinds(&hops)
    );
    let verdict = hops.iter().find(|h| h.kind == "verdict").expect("verdict");
    assert_eq!(verdict.detail["verdict"], "inconclusive");
    let reasons = verdict.detail["evidence"]["reasons"].to_string();
    assert!(
        reasons.contains("switched off by someone other than suture"),
        "{reasons}"
    );
    // The window ran to its end before the verdict: inconclusive never ends early.
    let ends: jiff::Timestamp = verdict.detail["evidence"]["window_ends_at"]
        .as_str()
        .expect("window end")
        .parse()
        .expect("time");
    assert!(verdict.at >= ends, "{} < {ends}", verdict.at);
    verdict_comment(&mut live, pr.number, "inconclusive").await;
    let states = live.verify_states(&merge_sha);
    assert_eq!(
        states.last().map(String::as_str),
        Some("failure"),
        "{states:?}"
    );
    live.take_changes();
    live.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn someone_pausing_the_app_in_the_window_is_inconclusive_on_github_with_postgres() {
    inconclusive(Forge::GitHub, Db::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn someone_pausing_the_app_in_the_window_is_inconclusive_on_gitlab_with_sqlite() {
    inconclusive(Forge::GitLab, Db::Sqlite).await;
}
