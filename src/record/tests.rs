use jiff::{SignedDuration, Timestamp};
use serde_json::json;

use super::*;
use crate::incident::IncidentState as S;

fn t(s: i64) -> Timestamp {
    Timestamp::from_second(1_764_000_000 + s).unwrap_or_default()
}

const KEY: &str = "prod/payments/Deployment/checkout-api/oom-killed";

fn hop(id: i64, at: i64, kind: &str, from: Option<S>, to: Option<S>, detail: Value) -> HopRecord {
    HopRecord {
        id,
        at: t(at),
        kind: kind.into(),
        from_state: from,
        to_state: to,
        detail,
    }
}

/// An OOM fixed by a merged limit bump: detection, PR after 90 s, merge after 1 h, resolved.
fn resolved() -> Record {
    Record {
        incident: Incident {
            key: KEY.into(),
            state: S::Resolved,
            fault: "oom-killed".into(),
            cluster: "prod".into(),
            namespace: "payments".into(),
            kind: "Deployment".into(),
            name: "checkout-api".into(),
            detail: json!({"evidence": {"container": "web", "limit": "512Mi", "exit_code": 137}}),
            opened_at: t(0),
            updated_at: t(4000),
        },
        hops: vec![
            hop(
                1,
                0,
                "detected",
                None,
                Some(S::Open),
                json!({"evidence": {"limit": "512Mi"}}),
            ),
            hop(
                2,
                30,
                "proposed",
                Some(S::Open),
                Some(S::Proposed),
                json!({"note": null}),
            ),
            hop(
                3,
                40,
                "pushed",
                None,
                None,
                json!({
                "branch": "suture/oom-killed/payments/checkout-api-1a2b3c4d",
                "commit": "0123abcd",
                "diff": "--- a/deploy.yaml\n+++ b/deploy.yaml\n-  memory: 512Mi\n+  memory: 640Mi\n",
                "change": "raise memory limit 512Mi -> 640Mi",
                "basis": "max(512Mi x 1.2, 512Mi + 100Mi) = 614.4Mi, rounded up to 640Mi",
                "rollback": "set memory back to 512Mi"}),
            ),
            hop(
                4,
                60,
                "sync_paused",
                None,
                None,
                json!({"app": "payments", "mode": "enabled"}),
            ),
            hop(
                5,
                90,
                "pr_opened",
                Some(S::Proposed),
                Some(S::PrOpen),
                json!({"note": null}),
            ),
            hop(
                6,
                3690,
                "merged",
                Some(S::PrOpen),
                Some(S::Merged),
                json!({}),
            ),
            hop(
                7,
                3700,
                "checks",
                None,
                None,
                json!({"checks": [
                {"name": "dry-run", "result": "pass", "detail": "dryRun=All accepted"},
                {"name": "fits | node", "result": "pass", "detail": "node-a has 2Gi free"}]}),
            ),
            hop(
                8,
                3990,
                "verified",
                Some(S::Merged),
                Some(S::Resolved),
                json!({"verdict": "healthy"}),
            ),
        ],
        pull_requests: vec![PullRequest {
            incident_key: KEY.into(),
            forge: "github".into(),
            repo: "org/gitops".into(),
            number: 7,
            url: "https://github.com/org/gitops/pull/7".into(),
            head_branch: "suture/oom-killed/payments/checkout-api-1a2b3c4d".into(),
            state: "merged".into(),
            merge_sha: Some("feedbeef".into()),
            opened_at: t(90),
            updated_at: t(3690),
        }],
    }
}

fn escalated() -> Record {
    let mut r = resolved();
    r.incident.state = S::Escalated;
    r.incident.detail = json!({});
    r.pull_requests.clear();
    r.hops = vec![
        hop(1, 0, "detected", None, Some(S::Open), json!({})),
        hop(
            2,
            5,
            "escalated",
            Some(S::Open),
            Some(S::Escalated),
            json!({"note": "no memory limit set | <b>"}),
        ),
        hop(
            3,
            700,
            "acknowledged",
            None,
            None,
            json!({"by": "alice", "escalation_id": 2}),
        ),
    ];
    r
}

#[test]
fn times_come_from_the_hops_and_unreached_ones_are_na() {
    let r = resolved();
    let got = times(&r);
    assert_eq!(got.to_pr, Some(SignedDuration::from_secs(90)));
    assert_eq!(got.to_merge, Some(SignedDuration::from_secs(3690)));
    assert_eq!(got.to_resolved, Some(SignedDuration::from_secs(3990)));
    assert_eq!(times(&escalated()), Times::default());
    assert_eq!(human(None), "n/a");
    assert_eq!(human(Some(SignedDuration::from_secs(45))), "45s");
    assert_eq!(human(Some(SignedDuration::from_secs(200))), "3m 20s");
    assert_eq!(human(Some(SignedDuration::from_secs(7500))), "2h 5m");
    assert_eq!(human(Some(SignedDuration::from_hours(27))), "1d 3h");
}

#[test]
fn the_postmortem_has_every_section_in_order() {
    let md = postmortem::markdown(&resolved());
    let order = [
        "# Postmortem: Deployment payments/checkout-api (oom-killed)",
        "## Summary",
        "## Time to",
        "## Timeline",
        "## Evidence",
        "## The change and its basis",
        "## Checks",
        "## Verification",
        "## Revert",
        "## Escalations and acknowledgements",
    ];
    let mut at = 0;
    for heading in order {
        let found = md[at..].find(heading).map(|p| p + at);
        assert!(found.is_some(), "{heading} missing or out of order:\n{md}");
        at = found.unwrap_or(at);
    }
    assert!(
        md.contains("| pull request | 1m 30s |\n| merge | 1h 1m |\n| resolved | 1h 6m |"),
        "{md}"
    );
    assert!(md.contains(
        "- Pull request: [org/gitops #7](https://github.com/org/gitops/pull/7) (merged)"
    ));
    assert!(md.contains("the incident is resolved"));
    assert!(
        md.contains(&format!("| {} | pr_opened | proposed -> pr_open |", t(90))),
        "{md}"
    );
    assert!(md.contains("| limit | 512Mi |"));
    assert!(
        md.contains("- Change: raise memory limit 512Mi -&gt; 640Mi"),
        "{md}"
    );
    assert!(md.contains("- Basis: max(512Mi x 1.2, 512Mi + 100Mi) = 614.4Mi, rounded up to 640Mi"));
    assert!(md.contains("- Rollback: set memory back to 512Mi"));
    assert!(md.contains(
        "```diff\n--- a/deploy.yaml\n+++ b/deploy.yaml\n-  memory: 512Mi\n+  memory: 640Mi\n```"
    ));
    // Checks are tabled; a pipe in copied text cannot break the table.
    assert!(
        md.contains("| dry-run | pass | dryRun=All accepted |"),
        "{md}"
    );
    assert!(
        md.contains("| fits \\| node | pass | node-a has 2Gi free |"),
        "{md}"
    );
    assert!(md.contains("verified: verdict=healthy"));
    assert!(md.contains("## Revert\n\nNo revert.\n"));
}

#[test]
fn an_escalated_postmortem_says_who_acknowledged_and_what_was_not_reached() {
    let md = postmortem::markdown(&escalated());
    assert!(md.contains("| pull request | n/a |\n| merge | n/a |\n| resolved | n/a |"));
    assert!(md.contains("No evidence recorded."));
    assert!(md.contains("No change was made."));
    assert!(md.contains("No checks recorded."));
    assert!(md.contains("No verification recorded."));
    assert!(md.contains("acknowledged: by=alice"));
    assert!(
        md.contains("escalated: note=no memory limit set \\| &lt;b&gt;"),
        "{md}"
    );
    assert!(!md.contains("<b>"));
}

#[test]
fn a_diff_holding_backticks_gets_a_longer_fence() {
    let mut r = resolved();
    r.hops[2].detail["diff"] = json!("+ run: ```x```\n");
    let md = postmortem::markdown(&r);
    assert!(md.contains("````diff\n+ run: ```x```\n````"), "{md}");
}

#[test]
fn show_text_prints_the_whole_timeline() {
    let text = show_text(&resolved());
    assert!(text.starts_with(&format!("incident  {KEY}\nstate     resolved\n")));
    assert!(text.contains("target    Deployment payments/checkout-api (cluster prod)"));
    assert!(text.contains("  github org/gitops #7 merged https://github.com/org/gitops/pull/7"));
    let timeline: Vec<&str> = text
        .lines()
        .skip_while(|l| *l != "timeline")
        .skip(1)
        .collect();
    assert_eq!(timeline.len(), 8, "{text}");
    assert!(timeline[0].contains("detected") && timeline[0].contains("-> open"));
    assert!(timeline[2].contains("change=raise memory limit 512Mi -> 640Mi"));
    // The bulky detail stays out of the line.
    assert!(!timeline[2].contains("memory: 640Mi"));
    assert!(timeline[7].contains("merged -> resolved") && timeline[7].ends_with("verdict=healthy"));
}

#[test]
fn show_json_is_the_api_document_and_list_has_one_line_each() {
    let r = resolved();
    let doc = show_json(&r);
    assert_eq!(doc["key"], KEY);
    assert_eq!(doc["state"], "resolved");
    assert_eq!(doc["cluster"], "prod");
    assert_eq!(doc["pull_requests"][0]["number"], 7);
    assert_eq!(doc["hops"].as_array().map(Vec::len), Some(8));
    assert_eq!(doc["hops"][4]["to_state"], "pr_open");
    let list = [r.incident.clone(), escalated().incident];
    let text = list_text(&list);
    assert_eq!(text.lines().count(), 2);
    assert!(text.lines().all(|l| l.ends_with(KEY)));
    assert!(text.contains("  resolved   prod/"), "{text}");
    assert_eq!(list_json(&list)[1]["state"], "escalated");
    assert_eq!(list_text(&[]), "no incidents\n");
}
