//! Every verdict and edge, on small hand-built worlds: a Deployment `shop/web` whose pods of
//! revision `old111` OOMed at detection, and the merge rolling out revision `new222`.

use super::*;
use crate::detection::FaultId;
use crate::gitops::argocd::Application;
use crate::objref::WorkloadKind;

const SHA: &str = "0123456789abcdef0123456789abcdef01234567";
const OTHER_SHA: &str = "fedcba9876543210fedcba9876543210fedcba98";
const RESUMED: &str = "2026-01-01T01:00:00Z";
const SYNC_STARTED: &str = "2026-01-01T01:01:00Z";
const DEPLOYED: &str = "2026-01-01T01:01:10Z";
const NEW_POD_CREATED: &str = "2026-01-01T01:01:20Z";
/// Inside the 10-minute window (which ends 01:11:10).
const DURING: &str = "2026-01-01T01:05:00Z";
const AFTER: &str = "2026-01-01T01:12:00Z";

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn workload() -> ObjectRef {
    ObjectRef::workload(WorkloadKind::Deployment, "shop", "web").with_uid(Some("d-1".into()))
}

fn deployment(generation: i64, replicas: i32) -> String {
    format!(
        "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: web, namespace: shop, uid: d-1, generation: {generation}}}\nspec: {{replicas: {replicas}, selector: {{matchLabels: {{app: web}}}}, template: {{metadata: {{labels: {{app: web}}}}, spec: {{containers: [{{name: web, image: 'shop/web:2.0'}}]}}}}}}\n"
    )
}

fn replica_set(hash: &str, revision: u32) -> String {
    format!(
        "---\napiVersion: apps/v1\nkind: ReplicaSet\nmetadata:\n  name: web-{hash}\n  namespace: shop\n  uid: rs-{hash}\n  labels: {{app: web, pod-template-hash: {hash}}}\n  annotations: {{deployment.kubernetes.io/revision: '{revision}'}}\n  ownerReferences: [{{apiVersion: apps/v1, kind: Deployment, name: web, uid: d-1, controller: true}}]\nspec: {{selector: {{matchLabels: {{app: web}}}}}}\n"
    )
}

const RUNNING: &str =
    "    restartCount: 0\n    state: {running: {startedAt: '2026-01-01T01:01:30Z'}}\n";
const OOM: &str = "    restartCount: 2\n    state: {running: {startedAt: '2026-01-01T01:04:00Z'}}\n    lastState: {terminated: {exitCode: 137, reason: OOMKilled, finishedAt: '2026-01-01T01:03:59Z'}}\n";
const PULL: &str = "    restartCount: 0\n    state: {waiting: {reason: ImagePullBackOff, message: 'Back-off pulling image \"shop/web:2.1\"'}}\n";

/// A pod of revision `hash` created at `created`; `web` has the status lines given.
fn pod(name: &str, hash: &str, created: &str, web: &str) -> String {
    format!(
        "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: shop\n  uid: u-{name}\n  creationTimestamp: '{created}'\n  labels: {{app: web, pod-template-hash: {hash}}}\n  ownerReferences: [{{apiVersion: apps/v1, kind: ReplicaSet, name: web-{hash}, uid: rs-{hash}, controller: true}}]\nspec:\n  containers: [{{name: web, image: 'shop/web:2.0', resources: {{limits: {{memory: 640Mi}}}}}}]\nstatus:\n  phase: Running\n  containerStatuses:\n  - name: web\n    image: 'shop/web:2.0'\n    imageID: ''\n    ready: true\n{web}"
    )
}

/// A pod of the new revision the scheduler cannot place.
fn pending_pod(name: &str, message: &str) -> String {
    format!(
        "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: shop\n  uid: u-{name}\n  creationTimestamp: '{NEW_POD_CREATED}'\n  labels: {{app: web, pod-template-hash: new222}}\n  ownerReferences: [{{apiVersion: apps/v1, kind: ReplicaSet, name: web-new222, uid: rs-new222, controller: true}}]\nspec:\n  containers: [{{name: web, image: 'shop/web:2.0'}}]\nstatus:\n  phase: Pending\n  conditions:\n  - {{type: PodScheduled, status: 'False', reason: Unschedulable, message: '{message}', lastTransitionTime: '{NEW_POD_CREATED}'}}\n"
    )
}

fn old_pods() -> String {
    pod("web-old111-a", "old111", "2026-01-01T00:00:00Z", OOM)
}

fn world(extra: &[String]) -> ClusterState {
    let mut text = deployment(2, 1) + &replica_set("old111", 1) + &replica_set("new222", 2);
    for e in extra {
        text.push_str(e);
    }
    ClusterState::from_text(&text).unwrap()
}

fn baseline() -> Baseline {
    let at_detection = world(&[old_pods()]);
    Baseline {
        key: IncidentKey::new("prod", &workload(), FaultId::OomKilled),
        workload: workload(),
        container: Some("web".into()),
        pods: revision::baseline_pods(&at_detection, &workload()),
        merge_sha: SHA.into(),
        resumed_at: t(RESUMED),
        resumed_auto_sync: true,
        alert_sourced: false,
    }
}

fn synced(sha: &str) -> DeployStatus {
    DeployStatus {
        operation_phase: Some("Succeeded".into()),
        sync_revision: Some(sha.into()),
        started_at: Some(t(SYNC_STARTED)),
        finished_at: Some(t(DEPLOYED)),
        sync_status: Some("Synced".into()),
        target_revision: Some(sha.into()),
        auto_sync: true,
        ..DeployStatus::default()
    }
}

fn not_yet() -> DeployStatus {
    DeployStatus {
        operation_phase: Some("Running".into()),
        operation_message: Some("one or more tasks are running".into()),
        sync_status: Some("OutOfSync".into()),
        auto_sync: true,
        ..DeployStatus::default()
    }
}

struct Case {
    baseline: Baseline,
    argo: DeployStatus,
    state: ClusterState,
    alert: Option<bool>,
    mark: Option<DeployMark>,
}

impl Case {
    fn new(argo: DeployStatus, extra: &[String]) -> Case {
        Case {
            baseline: baseline(),
            argo,
            state: world(extra),
            alert: None,
            mark: None,
        }
    }

    fn at(&self, now: &str) -> Report {
        verify(&Inputs {
            baseline: &self.baseline,
            argo: &self.argo,
            state: &self.state,
            alert: self.alert,
            mark: self.mark.as_ref(),
            windows: Windows::default(),
            now: t(now),
        })
    }
}

fn healthy_new() -> String {
    pod("web-new222-a", "new222", NEW_POD_CREATED, RUNNING)
}

fn reasons(v: &Verdict) -> &[Inconclusive] {
    match v {
        Verdict::Inconclusive { reasons, .. } => reasons,
        other => panic!("not inconclusive: {other:?}"),
    }
}

#[test]
fn healthy_at_window_end_and_pending_before() {
    let case = Case::new(synced(SHA), &[old_pods(), healthy_new()]);
    let during = case.at(DURING);
    assert_eq!(during.verdict.name(), "pending");
    assert!(matches!(
        during.verdict,
        Verdict::Pending { waiting: Waiting::Window { ends_at }, .. } if ends_at == t("2026-01-01T01:11:10Z")
    ));
    let mark = during.mark.unwrap();
    assert_eq!(mark.revision.as_deref(), Some("new222"));
    assert_eq!((mark.at, mark.since), (t(DEPLOYED), t(SYNC_STARTED)));

    let report = case.at(AFTER);
    assert_eq!(report.verdict.name(), "healthy");
    assert!(report.verdict.is_final());
    let ev = report.verdict.evidence();
    assert_eq!(ev.new_pods, ["web-new222-a"]);
    assert_eq!(ev.baseline_revisions, ["old111"]);
    let rows = ev.rows();
    assert!(rows.contains(&("merge_sha".to_string(), SHA.to_string())));
    assert!(rows.contains(&("deployed_revision".to_string(), "new222".to_string())));
    assert!(rows.contains(&("fault".to_string(), "oom-killed".to_string())));
}

#[test]
fn the_same_fault_on_new_pods_ends_the_window_early_as_still_firing() {
    let case = Case::new(
        synced(SHA),
        &[
            old_pods(),
            pod("web-new222-a", "new222", NEW_POD_CREATED, OOM),
        ],
    );
    match case.at(DURING).verdict {
        Verdict::StillFiring { findings, evidence } => {
            assert_eq!(findings.len(), 1);
            assert_eq!(findings[0].fault, FaultId::OomKilled);
            assert_eq!(findings[0].pod.as_deref(), Some("web-new222-a"));
            assert_eq!(evidence.faults, ["oom-killed on web-new222-a/web"]);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_different_fault_on_new_pods_is_regressed_at_once() {
    let case = Case::new(
        synced(SHA),
        &[
            old_pods(),
            pod("web-new222-a", "new222", NEW_POD_CREATED, PULL),
        ],
    );
    match case.at(DURING).verdict {
        Verdict::Regressed { findings, .. } => {
            assert_eq!(findings[0].fault, FaultId::ImagePullBackOff);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn old_pods_restarting_during_the_window_do_not_count() {
    // The old revision's pod keeps OOMing while the rollout goes on; a new pod is healthy.
    let still_old = pod(
        "web-old111-b",
        "old111",
        "2026-01-01T00:30:00Z",
        "    restartCount: 7\n    state: {running: {startedAt: '2026-01-01T01:08:00Z'}}\n    lastState: {terminated: {exitCode: 137, reason: OOMKilled, finishedAt: '2026-01-01T01:07:59Z'}}\n",
    );
    let case = Case::new(synced(SHA), &[old_pods(), still_old, healthy_new()]);
    assert_eq!(case.at(DURING).verdict.name(), "pending");
    assert_eq!(case.at(AFTER).verdict.name(), "healthy");
    // A pod of the new revision created before the sync began (labels alone would take it)
    // is not the merge's.
    let early = pod("web-new222-z", "new222", "2026-01-01T00:59:00Z", OOM);
    let case = Case::new(synced(SHA), &[old_pods(), early, healthy_new()]);
    assert_eq!(case.at(AFTER).verdict.name(), "healthy");
}

#[test]
fn a_second_rollout_during_the_window_is_inconclusive_only_at_its_end() {
    let mut case = Case::new(
        synced(SHA),
        &[
            old_pods(),
            healthy_new(),
            replica_set("third333", 3),
            pod(
                "web-third333-a",
                "third333",
                "2026-01-01T01:06:00Z",
                RUNNING,
            ),
        ],
    );
    case.mark = case.at(DURING).mark;
    assert_eq!(
        case.mark.as_ref().unwrap().revision.as_deref(),
        Some("new222")
    );
    assert_eq!(case.at(DURING).verdict.name(), "pending");
    let v = case.at(AFTER).verdict;
    assert_eq!(
        reasons(&v),
        [Inconclusive::SecondRollout {
            revisions: vec!["third333".into()]
        }]
    );
    assert!(
        v.evidence()
            .reasons
            .iter()
            .any(|r| r.contains("another rollout"))
    );
}

#[test]
fn a_spec_change_past_the_merged_generation_is_inconclusive_but_a_scale_is_not() {
    let mut case = Case::new(synced(SHA), &[old_pods(), healthy_new()]);
    case.mark = case.at(DURING).mark;
    assert_eq!(case.mark.as_ref().unwrap().generation, Some(2));
    let bumped = |generation, replicas| {
        let mut text = deployment(generation, replicas)
            + &replica_set("old111", 1)
            + &replica_set("new222", 2);
        text.push_str(&old_pods());
        text.push_str(&healthy_new());
        ClusterState::from_text(&text).unwrap()
    };
    case.state = bumped(3, 1);
    assert_eq!(
        reasons(&case.at(AFTER).verdict),
        [Inconclusive::GenerationMoved { from: 2, to: 3 }]
    );
    case.state = bumped(3, 4);
    assert_eq!(case.at(AFTER).verdict.name(), "healthy");
}

#[test]
fn an_app_paused_by_someone_else_is_inconclusive_at_window_end() {
    let mut argo = synced(SHA);
    argo.auto_sync = false;
    let mut case = Case::new(argo, &[old_pods(), healthy_new()]);
    assert_eq!(case.at(DURING).verdict.name(), "pending");
    assert_eq!(
        reasons(&case.at(AFTER).verdict),
        [Inconclusive::PausedByOther]
    );
    // An app that never had auto-sync is not "paused by someone else".
    case.baseline.resumed_auto_sync = false;
    assert_eq!(case.at(AFTER).verdict.name(), "healthy");
}

#[test]
fn a_node_lost_leaving_new_pods_unschedulable_is_regressed() {
    let case = Case::new(
        synced(SHA),
        &[
            old_pods(),
            pending_pod(
                "web-new222-b",
                "0/2 nodes are available: 1 Insufficient memory, 1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }. preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod.",
            ),
        ],
    );
    match case.at(DURING).verdict {
        Verdict::Regressed { findings, evidence } => {
            assert_eq!(findings[0].fault, FaultId::Unschedulable);
            assert_eq!(evidence.new_pods, ["web-new222-b"]);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn no_new_pods_is_inconclusive_at_window_end() {
    let case = Case::new(synced(SHA), &[old_pods()]);
    assert_eq!(case.at(DURING).verdict.name(), "pending");
    let report = case.at(AFTER);
    assert_eq!(reasons(&report.verdict), [Inconclusive::NoNewPods]);
    assert_eq!(report.mark.unwrap().revision, None);
}

#[test]
fn an_alert_sourced_incident_needs_the_alert_false() {
    let mut case = Case::new(synced(SHA), &[old_pods(), healthy_new()]);
    case.baseline.alert_sourced = true;
    assert_eq!(
        reasons(&case.at(AFTER).verdict),
        [Inconclusive::AlertMissing]
    );
    case.alert = Some(true);
    let v = case.at(AFTER).verdict;
    assert!(matches!(&v, Verdict::StillFiring { findings, .. } if findings.is_empty()));
    assert_eq!(v.evidence().alert_firing, Some(Some(true)));
    // The alert is only read at the window's end: a true result mid-window waits.
    assert_eq!(case.at(DURING).verdict.name(), "pending");
    case.alert = Some(false);
    assert_eq!(case.at(AFTER).verdict.name(), "healthy");
}

#[test]
fn not_deployed_after_the_timeout_with_what_argo_reported() {
    let case = Case::new(not_yet(), &[old_pods()]);
    let early = case.at("2026-01-01T01:10:00Z");
    assert!(matches!(
        early.verdict,
        Verdict::Pending { waiting: Waiting::Deploy { deadline }, .. } if deadline == t("2026-01-01T01:15:00Z")
    ));
    assert_eq!(early.mark, None);
    let late = case.at("2026-01-01T01:15:00Z");
    assert_eq!(late.verdict.name(), "not_deployed");
    let ev = late.verdict.evidence();
    assert_eq!(ev.operation_phase.as_deref(), Some("Running"));
    assert_eq!(ev.sync_status.as_deref(), Some("OutOfSync"));
    // Synced, but to another commit: still not the merge.
    let case = Case::new(synced(OTHER_SHA), &[old_pods(), healthy_new()]);
    let v = case.at("2026-01-01T01:20:00Z").verdict;
    assert_eq!(v.name(), "not_deployed");
    assert_eq!(v.evidence().synced_revisions, [OTHER_SHA]);
}

#[test]
fn a_later_commit_synced_on_top_of_the_merge_is_inconclusive() {
    let mut case = Case::new(synced(SHA), &[old_pods(), healthy_new()]);
    case.mark = case.at(DURING).mark;
    case.argo = synced(OTHER_SHA);
    assert_eq!(case.at(DURING).verdict.name(), "pending");
    assert_eq!(
        reasons(&case.at(AFTER).verdict),
        [Inconclusive::Superseded {
            revisions: vec![OTHER_SHA.into()]
        }]
    );
}

#[test]
fn multi_source_revisions_match_the_merge_and_are_read_from_the_application() {
    let app: Application = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "web", "namespace": "argocd"},
        "spec": {
            "sources": [{"repoURL": "https://github.com/acme/charts"}, {"repoURL": "https://github.com/acme/gitops", "ref": "values"}],
            "syncPolicy": {"automated": {"prune": true}}
        },
        "status": {
            "sync": {"status": "Synced", "revisions": ["aaaa", SHA]},
            "operationState": {
                "phase": "Succeeded",
                "startedAt": SYNC_STARTED,
                "finishedAt": DEPLOYED,
                "syncResult": {"revisions": ["aaaa", SHA.to_uppercase()]}
            }
        }
    }))
    .unwrap();
    let argo = DeployStatus::from_application(&app);
    assert!(argo.auto_sync);
    assert_eq!(argo.finished_at, Some(t(DEPLOYED)));
    assert!(argo.deployed(SHA));
    assert!(!argo.deployed(OTHER_SHA));
    let case = Case::new(argo, &[old_pods(), healthy_new()]);
    assert_eq!(case.at(AFTER).verdict.name(), "healthy");
}

#[test]
fn auto_sync_read_from_the_policy() {
    let with = |policy: serde_json::Value| {
        let app: Application = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web"},
            "spec": {"syncPolicy": policy}
        }))
        .unwrap();
        DeployStatus::from_application(&app).auto_sync
    };
    assert!(with(serde_json::json!({"automated": {}})));
    assert!(!with(serde_json::json!({"automated": {"enabled": false}})));
    assert!(!with(serde_json::json!({"automated": null})));
    assert!(!with(serde_json::json!({})));
}

/// The revert of a fix that left `web-new222-b` unschedulable: verified against that fault.
fn revert_case(argo: DeployStatus, extra: &[String]) -> Case {
    let mut case = Case::new(argo, extra);
    case.baseline.key = IncidentKey::new("prod", &workload(), FaultId::Unschedulable);
    case
}

impl Case {
    fn revert_at(&self, now: &str) -> Report {
        verify_revert(&Inputs {
            baseline: &self.baseline,
            argo: &self.argo,
            state: &self.state,
            alert: self.alert,
            mark: self.mark.as_ref(),
            windows: Windows::default(),
            now: t(now),
        })
    }
}

const NO_ROOM: &str = "0/2 nodes are available: 2 Insufficient memory.";

#[test]
fn a_revert_waits_for_its_deploy_and_then_for_the_window() {
    let case = revert_case(
        not_yet(),
        &[old_pods(), pending_pod("web-new222-b", NO_ROOM)],
    );
    assert!(matches!(
        case.revert_at(DURING).verdict,
        Verdict::Pending {
            waiting: Waiting::Deploy { .. },
            ..
        }
    ));
    assert_eq!(case.revert_at(AFTER).verdict.name(), "pending");
    assert_eq!(
        case.revert_at("2026-01-01T01:16:00Z").verdict.name(),
        "not_deployed"
    );
}

#[test]
fn a_revert_passes_when_the_regression_is_gone_though_the_old_fault_is_back() {
    // The revert brought back the old ReplicaSet: no new pods, and its pod OOMs as before.
    let case = revert_case(synced(SHA), &[old_pods()]);
    assert_eq!(case.revert_at(DURING).verdict.name(), "pending");
    let report = case.revert_at(AFTER);
    assert_eq!(report.verdict.name(), "healthy", "{:?}", report.verdict);
    assert_eq!(report.verdict.evidence().fault, "unschedulable");
    assert_eq!(report.verdict.evidence().new_pods, ["web-old111-a"]);
}

#[test]
fn a_revert_that_leaves_the_regression_in_place_fails_at_window_end() {
    let case = revert_case(
        synced(SHA),
        &[old_pods(), pending_pod("web-new222-b", NO_ROOM)],
    );
    // Pods of the reverted ReplicaSet may take a while to go: no early verdict.
    assert_eq!(case.revert_at(DURING).verdict.name(), "pending");
    match case.revert_at(AFTER).verdict {
        Verdict::StillFiring { findings, evidence } => {
            assert_eq!(findings[0].fault, FaultId::Unschedulable);
            assert_eq!(evidence.faults, ["unschedulable on web-new222-b"]);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_revert_of_a_workload_without_pods_proves_nothing() {
    let case = revert_case(synced(SHA), &[]);
    assert_eq!(
        reasons(&case.revert_at(AFTER).verdict),
        [Inconclusive::NoNewPods]
    );
}
