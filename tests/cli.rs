//! The `suture` binary as a user runs it: `demo`, and `plan` over files on disk.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn suture(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_suture"))
        .args(args)
        .output()
        .expect("suture runs")
}

fn scenario(path: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios/oom")
        .join(path)
        .display()
        .to_string()
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// The changed lines of a unified diff (without the `---`/`+++` headers).
#[cfg(feature = "sim")]
fn changed_lines(diff: &str) -> Vec<&str> {
    diff.lines()
        .filter(|l| {
            (l.starts_with('+') || l.starts_with('-'))
                && !l.starts_with("+++")
                && !l.starts_with("---")
        })
        .collect()
}

/// `suture demo --format json` on one forge: the whole loop, checked as a reviewer would.
#[cfg(feature = "sim")]
fn demo_on(forge: &str) {
    let out = suture(&["demo", "--forge", forge, "--format", "json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = json(&out);
    assert_eq!(
        report["incident"]["key"],
        "sim/payments/Deployment/checkout-api/oom-killed"
    );
    // The merge was deployed and the new pods stayed healthy through the window.
    assert_eq!(report["incident"]["state"], "resolved");
    let verification = &report["verification"];
    assert_eq!(verification["verdict"], "healthy", "{verification}");
    assert_eq!(
        verification["merge_sha"].as_str().map(str::len),
        Some(40),
        "{verification}"
    );
    assert!(
        verification["evidence"]["new_pods"]
            .as_array()
            .is_some_and(|p| !p.is_empty()),
        "{verification}"
    );
    let pr = &report["pull_request"];
    assert_eq!(
        pr["title"],
        "fix(payments/checkout-api): raise memory limit 512Mi -> 640Mi"
    );
    let mut labels: Vec<&str> = pr["labels"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l.as_str())
        .collect();
    labels.sort_unstable();
    assert_eq!(labels, ["fault/oom-killed", "suture"]);
    let diff = pr["diff"].as_str().unwrap();
    assert_eq!(
        changed_lines(diff),
        [
            "-              memory: 512Mi",
            "+              memory: 640Mi"
        ],
        "{diff}"
    );
    let app = &report["application"];
    assert_eq!(app["paused_during_review"], true);
    assert_eq!(app["sync_after"]["enabled"], true, "{app}");
    let hops: Vec<&str> = report["hops"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|h| h["kind"].as_str())
        .collect();
    for kind in [
        "detected",
        "proposed",
        "pushed",
        "sync_paused",
        "pr_opened",
        "merged",
        "verification_started",
        "sync_resumed",
        "verdict",
        "verified",
    ] {
        assert_eq!(
            hops.iter().filter(|k| **k == kind).count(),
            1,
            "{kind} in {hops:?}"
        );
    }
    assert!(!hops.contains(&"escalated"), "{hops:?}");
}

#[cfg(feature = "sim")]
#[test]
fn demo_runs_the_loop_on_github() {
    demo_on("github");
}

#[cfg(feature = "sim")]
#[test]
fn demo_runs_the_loop_on_gitlab() {
    demo_on("gitlab");
}

/// The hop kinds of a demo report, in order.
#[cfg(feature = "sim")]
fn hop_kinds(report: &serde_json::Value) -> Vec<String> {
    report["hops"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|h| h["kind"].as_str().map(str::to_string))
        .collect()
}

/// `oom-unschedulable`: the bump passes the checks, then a node is lost and the bigger pods
/// no longer fit -> regressed -> revert PR -> merged -> verified -> reverted.
#[cfg(feature = "sim")]
#[test]
fn demo_reverts_a_fix_that_no_longer_fits() {
    let out = suture(&[
        "demo",
        "--scenario",
        "oom-unschedulable",
        "--format",
        "json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = json(&out);
    assert_eq!(report["incident"]["state"], "reverted", "{report}");
    let changes = report["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 2, "{changes:?}");
    assert!(
        changes[1]["head_branch"]
            .as_str()
            .is_some_and(|b| b.starts_with("suture/revert/")),
        "{changes:?}"
    );
    assert!(
        changes.iter().all(|c| c["state"] == "merged"),
        "{changes:?}"
    );
    // The fix raised the request too (Guaranteed QoS): the node-fit check ran and passed.
    let diff = report["pull_request"]["diff"].as_str().unwrap();
    assert_eq!(changed_lines(diff).len(), 4, "{diff}");
    let kinds = hop_kinds(&report);
    let at = |k: &str| kinds.iter().position(|h| h == k).unwrap_or(usize::MAX);
    for kind in [
        "regressed",
        "revert_pushed",
        "revert_opened",
        "revert_merged",
        "reverted",
    ] {
        assert!(kinds.iter().any(|h| h == kind), "{kind} in {kinds:?}");
    }
    assert!(at("regressed") < at("revert_opened") && at("revert_merged") < at("reverted"));
    // The last verdict is the revert's own verification.
    assert_eq!(report["verification"]["verdict"], "healthy");
    assert_eq!(report["verification"]["evidence"]["fault"], "unschedulable");
}

/// `leak`: the working set keeps growing -> still_firing -> second bump -> still_firing ->
/// escalated as a probable leak, with no third bump.
#[cfg(feature = "sim")]
#[test]
fn demo_escalates_a_leak_after_two_bumps() {
    let out = suture(&[
        "demo",
        "--scenario",
        "leak",
        "--forge",
        "gitlab",
        "--format",
        "json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = json(&out);
    assert_eq!(report["incident"]["state"], "escalated", "{report}");
    let changes = report["changes"].as_array().unwrap();
    let branches: Vec<&str> = changes
        .iter()
        .filter_map(|c| c["head_branch"].as_str())
        .collect();
    assert_eq!(branches.len(), 2, "{branches:?}");
    assert_eq!(format!("{}-2", branches[0]), branches[1]);
    assert_eq!(report["verification"]["verdict"], "still_firing");
    let kinds = hop_kinds(&report);
    assert_eq!(
        kinds.iter().filter(|k| *k == "still_firing").count(),
        2,
        "{kinds:?}"
    );
    let leak = report["hops"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|h| h["why"].as_str())
        .any(|why| why.contains("probable leak"));
    assert!(leak, "{kinds:?}");
}

#[test]
fn plan_reads_state_and_maps_the_repo_url() {
    // Mapped with a different spelling of the same URL: case of the host, no `.git`, a slash.
    let repo = format!(
        "HTTPS://Git.Example.com/platform/gitops/={}",
        scenario("repo")
    );
    let out = suture(&[
        "plan",
        "--state",
        &scenario("cluster.yaml"),
        "--repo",
        &repo,
        "--format",
        "json",
        "--now",
        "2026-11-23T08:45:00Z",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan = json(&out);
    assert_eq!(
        plan["proposals"][0]["file"],
        "apps/checkout-api/deployment.yaml"
    );
}

#[test]
fn plan_without_a_checkout_still_proposes_but_says_where_it_stopped() {
    let out = suture(&[
        "plan",
        "--state",
        &scenario("cluster.yaml"),
        "--format",
        "json",
    ]);
    assert!(out.status.success());
    let p = &json(&out)["proposals"][0];
    assert_eq!(p["change"]["to"], "640Mi");
    assert!(p["diff"].is_null());
    assert!(p["note"].as_str().unwrap().contains("--repo"), "{p}");
}

fn temp_file(name: &str, text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

#[test]
fn unreadable_state_names_the_file_exits_2_and_plans_the_rest() {
    let (_dir, bad) = temp_file(
        "broken.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: [unclosed\n",
    );
    let out = suture(&[
        "plan",
        "--state",
        &scenario("cluster.yaml"),
        "--state",
        bad.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("broken.yaml") && stderr.contains("invalid YAML"),
        "{stderr}"
    );
    assert_eq!(
        json(&out)["proposals"].as_array().unwrap().len(),
        1,
        "the readable file is still planned"
    );
}

#[test]
fn missing_path_is_exit_2() {
    let out = suture(&["plan", "--state", "/nonexistent/state.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/state.yaml"));
}

#[test]
fn objects_that_do_not_decode_are_warnings_not_failures() {
    let (_dir, odd) = temp_file(
        "odd.json",
        r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"},"spec":{"containers":3}}"#,
    );
    let out = suture(&["plan", "--state", odd.to_str().unwrap(), "--format", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let warnings = json(&out)["warnings"].to_string();
    assert!(warnings.contains("Pod x"), "{warnings}");
}

#[test]
fn bad_now_is_a_clear_error() {
    let out = suture(&[
        "plan",
        "--state",
        &scenario("cluster.yaml"),
        "--now",
        "yesterday",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--now"));
}

#[test]
fn real_captured_objects_are_escalated_with_reasons_a_human_can_act_on() {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/kubernetes/argo-health-testdata"
    );
    let out = suture(&[
        "plan",
        "--state",
        dir,
        "--format",
        "json",
        "--now",
        "2026-01-01T00:00:00Z",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan = json(&out);
    assert!(
        plan["proposals"].as_array().unwrap().is_empty(),
        "nothing there is safe to fix"
    );
    let escalations = plan["escalations"].as_array().unwrap();
    let reason = |fault: &str| -> String {
        escalations
            .iter()
            .find(|e| e["fault"] == fault)
            .unwrap_or_else(|| panic!("no {fault} escalation"))["reason"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(reason("job-backoff-limit-exceeded").contains("Job argoci-workflows/fail"));
    assert!(reason("container-error-exit").contains("exits with code 1"));
    assert!(reason("stuck-terminating").contains("never force-deletes"));
    assert!(reason("progress-deadline-exceeded").contains("guestbook-ui-75dd4d49d5"));
    let pull = reason("image-pull-back-off");
    assert!(
        pull.contains("ks-guestbook-demo:0.3") || pull.contains("alpine"),
        "{pull}"
    );
}
