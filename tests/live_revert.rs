//! A merged fix that made things worse, end to end: the verdict is `regressed`, suture opens a
//! revert PR/MR from the fix's rollback spec, a reviewer merges it, suture verifies the revert
//! the same way and the incident ends `reverted`, with the workload held (no new PR) after.
//! Through the real clients against the simulated world, on both forges and both ledgers.
#![cfg(feature = "sim")]

#[path = "support/live.rs"]
#[allow(dead_code)]
mod live;
#[path = "support/testdb.rs"]
#[allow(dead_code)]
mod testdb;

use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, ListParams, Patch, PatchParams};
use live::{Db, Live, count, kinds};
use suture::incident::IncidentState;
use suture_sim::world::Forge;

const KEY: &str = "sim/payments/Deployment/checkout-api/oom-killed";
const WINDOW: &[(&str, &str)] = &[("SUTURE_POLICY__VERIFICATION_WINDOW", "3m")];

/// `+`/`-` lines of a unified diff.
fn changed(diff: &str) -> Vec<String> {
    diff.lines()
        .filter(|l| {
            (l.starts_with('+') || l.starts_with('-'))
                && !l.starts_with("+++")
                && !l.starts_with("---")
        })
        .map(str::to_string)
        .collect()
}

/// Every node refuses new pods (a platform team's taint): pods already placed keep running,
/// the merge's new pods cannot be scheduled.
async fn taint_every_node(live: &Live) {
    let kube = suture::serve::kube_client(Some(&live.world().endpoints().kubeconfig), None)
        .await
        .expect("kube client");
    let nodes: Api<Node> = Api::all(kube);
    let list = nodes.list(&ListParams::default()).await.expect("nodes");
    assert!(!list.items.is_empty());
    let patch = serde_json::json!({"spec": {"taints": [
        {"key": "maintenance", "value": "true", "effect": "NoSchedule"}]}});
    for node in list.items {
        let name = node.metadata.name.expect("node name");
        nodes
            .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .expect("taint");
    }
}

async fn regressed_to_reverted(forge: Forge, db: Db, auto_merge: bool) {
    let mut env = WINDOW.to_vec();
    if auto_merge {
        env.push(("SUTURE_POLICY__AUTO_MERGE_REVERTS", "true"));
    }
    let mut live = Live::start("oom", forge, db, 30.0, &env).await;
    live.incident_in(IncidentState::PrOpen).await;
    let fix = live.take_changes().remove(0);
    taint_every_node(&live).await;
    let fix_sha = live.merge(fix.number).await;

    // regressed -> the revert PR is opened at once (no reviewer merges for suture by default).
    live.until("the revert to be opened", || async {
        let hops = live.hops(KEY).await;
        (count(&hops, "revert_opened") > 0).then_some(())
    })
    .await;
    if auto_merge {
        live.until("suture to merge its revert", || async {
            let hops = live.hops(KEY).await;
            (count(&hops, "revert_auto_merged") > 0).then_some(())
        })
        .await;
    } else {
        let waiting = live
            .ledger()
            .incident(KEY)
            .await
            .unwrap()
            .expect("incident");
        assert_eq!(waiting.state, IncidentState::Reverting);
    }
    let hops = live.hops(KEY).await;
    let verdict = hops.iter().find(|h| h.kind == "verdict").expect("verdict");
    assert_eq!(verdict.detail["verdict"], "regressed", "{verdict:?}");
    assert_eq!(verdict.detail["findings"][0]["fault"], "unschedulable");
    for kind in ["regressed", "escalated", "revert_pushed", "revert_opened"] {
        assert_eq!(count(&hops, kind), 1, "{kind} in {:?}", kinds(&hops));
    }
    let pushed = |kind: &str| {
        hops.iter()
            .find(|h| h.kind == kind)
            .and_then(|h| h.detail["diff"].as_str())
            .map(changed)
            .unwrap_or_default()
    };
    // The revert is the fix's diff the other way round: the exact prior value, same line.
    assert_eq!(
        pushed("pushed"),
        [
            "-              memory: 512Mi",
            "+              memory: 640Mi"
        ]
    );
    assert_eq!(
        pushed("revert_pushed"),
        [
            "-              memory: 640Mi",
            "+              memory: 512Mi"
        ]
    );

    let changes = live.take_changes();
    assert_eq!(
        changes.len(),
        2,
        "{:?}",
        changes.iter().map(|c| &c.title).collect::<Vec<_>>()
    );
    let revert = changes
        .iter()
        .find(|c| c.number != fix.number)
        .expect("the revert");
    assert_eq!(
        revert.title,
        "revert(payments/checkout-api): raise memory limit 512Mi -> 640Mi"
    );
    assert!(revert.head.starts_with("suture/revert/"), "{}", revert.head);
    assert_eq!(revert.state, if auto_merge { "merged" } else { "open" });
    let mut labels = revert.labels.clone();
    labels.sort();
    assert_eq!(labels, ["fault/oom-killed", "revert", "suture"]);
    for text in [
        "## What regressed",
        "unschedulable",
        "## The revert",
        "512Mi",
        "suture ack",
        "<!-- suture:incident",
    ] {
        assert!(
            revert.body.contains(text),
            "no {text:?} in\n{}",
            revert.body
        );
    }
    // The fix's merge commit failed verification, where reviewers look.
    let failed = live.verify_states(&fix_sha);
    assert_eq!(
        failed.last().map(String::as_str),
        Some("failure"),
        "{failed:?}"
    );
    let fix_comments = live.take_comments(fix.number);
    assert!(
        fix_comments
            .iter()
            .any(|c| c.contains("suture verification: regressed")),
        "{fix_comments:?}"
    );

    // A reviewer merges the revert (or suture itself, when policy allows); suture verifies
    // it and ends the incident `reverted`.
    let revert_sha = if auto_merge {
        live.incident_in(IncidentState::Reverted).await;
        let prs = live.ledger().pull_requests(KEY).await.unwrap();
        prs[0].merge_sha.clone().expect("suture merged its revert")
    } else {
        live.merge(revert.number).await
    };
    live.incident_in(IncidentState::Reverted).await;
    live.until("the revert's verdict comment", || async {
        let hops = live.hops(KEY).await;
        (count(&hops, "commented") >= 2).then_some(())
    })
    .await;
    let hops = live.hops(KEY).await;
    let started: Vec<_> = hops
        .iter()
        .filter(|h| h.kind == "verification_started")
        .collect();
    assert_eq!(started.len(), 2, "{:?}", kinds(&hops));
    assert_eq!(started[1].detail["revert"], true);
    assert_eq!(started[1].detail["fault"], "unschedulable");
    assert_eq!(started[1].detail["merge_sha"], revert_sha.as_str());
    let last = hops
        .iter()
        .rev()
        .find(|h| h.kind == "verdict")
        .expect("the revert's verdict");
    assert_eq!(
        (
            last.detail["verdict"].as_str(),
            last.detail["revert"].as_bool()
        ),
        (Some("healthy"), Some(true)),
        "{last:?}"
    );
    for kind in ["revert_merged", "reverted"] {
        assert_eq!(count(&hops, kind), 1, "{kind} in {:?}", kinds(&hops));
    }
    assert_eq!(
        live.verify_states(&revert_sha).last().map(String::as_str),
        Some("success")
    );
    let revert_comments = live.take_comments(revert.number);
    assert!(
        revert_comments
            .iter()
            .any(|c| c.contains("reverted: unschedulable is gone")),
        "{revert_comments:?}"
    );

    // The old pods still OOM (the revert restored what ran before): held, no new PR, for
    // a few simulated minutes of sightings.
    let held_until = live.now() + jiff::SignedDuration::from_mins(3);
    live.until("three simulated minutes", || async {
        (live.now() > held_until).then_some(())
    })
    .await;
    let incident = live
        .ledger()
        .incident(KEY)
        .await
        .unwrap()
        .expect("incident");
    assert_eq!(incident.state, IncidentState::Reverted);
    // The postmortem tells it: the outcome and the revert's own hops.
    let record = suture::record::Record {
        incident,
        hops: live.hops(KEY).await,
        pull_requests: live.ledger().pull_requests(KEY).await.unwrap(),
    };
    let md = suture::record::postmortem::markdown(&record);
    assert!(md.contains("was reverted"), "{md}");
    let revert_section = &md[md.find("## Revert\n").expect("a Revert section")..];
    for kind in [
        "revert_pushed",
        "revert_opened",
        "revert_merged",
        "reverted",
    ] {
        assert!(
            revert_section.contains(kind),
            "no {kind} in {revert_section}"
        );
    }
    let prs = live.ledger().pull_requests(KEY).await.unwrap();
    assert_eq!(prs.len(), 2, "{prs:?}");
    assert!(prs.iter().all(|p| p.state == "merged"), "{prs:?}");
    live.take_changes();
    live.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regressed_fix_is_reverted_on_github_with_sqlite() {
    regressed_to_reverted(Forge::GitHub, Db::Sqlite, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regressed_fix_is_reverted_on_gitlab_with_postgres() {
    regressed_to_reverted(Forge::GitLab, Db::Postgres, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_merge_reverts_lets_suture_merge_its_revert_on_github_with_postgres() {
    regressed_to_reverted(Forge::GitHub, Db::Postgres, true).await;
}

/// A teammate edits the line suture changed after its merge: the revert would overwrite
/// their change, so suture does not open one; it escalates and holds the workload.
async fn no_revert_over_others_edits(forge: Forge, db: Db) {
    let mut live = Live::start("oom-unschedulable", forge, db, 30.0, WINDOW).await;
    live.incident_in(IncidentState::PrOpen).await;
    let fix = live.take_changes().remove(0);
    live.merge(fix.number).await;
    live.until("the merge to be seen deployed", || async {
        let hops = live.hops(KEY).await;
        (count(&hops, "deploy_seen") > 0).then_some(())
    })
    .await;
    // The operator holds the app and a teammate raises the value again, by hand, in Git
    // (not deployed yet): what Git says is now theirs.
    live.pause_by_hand().await;
    live.expect_paused();
    let scenario = live.world().scenario.clone();
    let path = "apps/checkout-api/deployment.yaml";
    let text = live
        .world()
        .repos
        .read_file(scenario.repo, scenario.branch, path)
        .expect("read")
        .map(|b| String::from_utf8(b).expect("utf-8"))
        .expect("the manifest on main");
    assert!(text.contains("memory: 640Mi"), "{text}");
    live.world()
        .repos
        .commit_files_as(
            scenario.repo,
            scenario.branch,
            [(path, text.replace("memory: 640Mi", "memory: 700Mi"))],
            "checkout-api: more memory",
            ("Dana Developer", "dana@example.com"),
        )
        .expect("a teammate's commit");

    let refused = live
        .until("the revert to be refused", || async {
            let hops = live.hops(KEY).await;
            hops.iter()
                .find(|h| h.kind == "revert_refused")
                .map(|h| h.detail["reason"].as_str().unwrap_or_default().to_string())
        })
        .await;
    assert!(
        refused.contains("changed after suture's merge") && refused.contains("is now 700Mi"),
        "{refused}"
    );
    // The escalation is written just after the refusal.
    live.until("the refusal to be escalated", || async {
        let hops = live.hops(KEY).await;
        hops.iter()
            .any(|h| {
                h.kind == "escalated"
                    && h.detail["reason"]
                        .as_str()
                        .is_some_and(|r| r.starts_with("suture did not revert"))
            })
            .then_some(())
    })
    .await;
    let incident = live
        .ledger()
        .incident(KEY)
        .await
        .unwrap()
        .expect("incident");
    assert_eq!(incident.state, IncidentState::Regressed, "held");
    assert_eq!(count(&live.hops(KEY).await, "revert_pushed"), 0);
    let changes = live.take_changes();
    assert_eq!(changes.len(), 1, "no revert PR");
    live.take_comments(fix.number);
    live.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_revert_over_a_teammates_later_edit_on_gitlab_with_sqlite() {
    no_revert_over_others_edits(Forge::GitLab, Db::Sqlite).await;
}
