//! The guards that refuse before any sizing or revert logic runs: each test drives `propose`
//! to one refusal and pins the whole sentence a reviewer reads in the escalation.

use super::*;
use crate::detection::evidence::EvictionFacts;

/// Deployment `shop/web` (uid d1) with revision 1 (`aaa`, 2 available pods) and revision 2
/// (`bbb`, the failing pod `web-bbb-1`), each with the given `(container, image)`s.
fn revisions(old: &[(&str, &str)], new: &[(&str, &str)]) -> String {
    let rs = |rev: i32, hash: &str, containers: &[(&str, &str)], available: i32| {
        let list: Vec<String> = containers
            .iter()
            .map(|(n, i)| format!("        - {{name: {n}, image: \"{i}\"}}\n"))
            .collect();
        format!(
            "---\napiVersion: apps/v1\nkind: ReplicaSet\nmetadata:\n  name: web-{hash}\n  namespace: shop\n  labels: {{pod-template-hash: {hash}}}\n  annotations: {{deployment.kubernetes.io/revision: \"{rev}\"}}\n  ownerReferences: [{{apiVersion: apps/v1, kind: Deployment, name: web, uid: d1, controller: true}}]\nspec:\n  selector: {{matchLabels: {{app: web}}}}\n  template:\n    spec:\n      containers:\n{}status: {{replicas: {available}, availableReplicas: {available}}}\n",
            list.concat()
        )
    };
    let pod = "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: web-bbb-1\n  namespace: shop\n  labels: {pod-template-hash: bbb}\nspec:\n  containers: [{name: app, image: \"shop/web:tag2\"}]\n";
    format!(
        "{}{}{}{pod}",
        deployment(Some("512Mi"), None),
        rs(1, "aaa", old, 2),
        rs(2, "bbb", new, 0)
    )
}

/// A crash loop of `container` (none: a workload-level finding) in pod `web-bbb-1`.
fn crash(container: Option<&str>) -> Finding {
    let mut f = finding(FaultId::CrashLoopBackOff, container.unwrap_or("app"));
    f.pod = Some("web-bbb-1".into());
    f.container = container.map(str::to_string);
    f
}

fn refusal(state_yaml: &str, f: &Finding) -> String {
    reason(run(state_yaml, f, History::default()))
}

// ---- revert-image ------------------------------------------------------------------------

#[test]
fn a_replica_set_whose_owner_is_missing_names_the_owner() {
    let rs = "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata:\n  name: web-bbb\n  namespace: shop\n  uid: rs1\n  ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: web, uid: d1, controller: true}]\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    spec:\n      containers: [{name: app, image: \"shop/web:tag2\"}]\n";
    let mut f = crash(Some("app"));
    f.owner = ObjectRef::workload(WorkloadKind::ReplicaSet, "shop", "web-bbb");
    assert_eq!(
        refusal(rs, &f),
        "container app shows crash-loop-back-off; the Deployment web owning ReplicaSet web-bbb \
         is not in the snapshot, so revisions cannot be compared"
    );
}

#[test]
fn a_workload_finding_with_two_changed_images_does_not_guess_the_container() {
    let state = revisions(
        &[("sidecar", "envoy:1"), ("app", "shop/web:tag1")],
        &[("sidecar", "envoy:2"), ("app", "shop/web:tag2")],
    );
    assert_eq!(
        refusal(&state, &crash(None)),
        "Deployment web shows crash-loop-back-off; cannot tell which container's image to revert"
    );
    // One changed image: that container is reverted (the guard above is what refused).
    let state = revisions(
        &[("sidecar", "envoy:1"), ("app", "shop/web:tag1")],
        &[("sidecar", "envoy:1"), ("app", "shop/web:tag2")],
    );
    let d = draft(run(&state, &crash(None), History::default()));
    assert_eq!(d.target.container, "app");
}

#[test]
fn a_container_missing_from_the_newest_replica_set_is_not_reverted() {
    let state = revisions(&[("app", "shop/web:tag1")], &[("app", "shop/web:tag2")]);
    assert_eq!(
        refusal(&state, &crash(Some("worker"))),
        "container worker shows crash-loop-back-off; container worker not in the newest ReplicaSet"
    );
}

#[test]
fn a_container_the_healthy_revision_lacks_is_not_reverted() {
    let state = revisions(
        &[("app", "shop/web:tag1")],
        &[("app", "shop/web:tag2"), ("cache", "redis:7")],
    );
    assert_eq!(
        refusal(&state, &crash(Some("cache"))),
        "container cache shows crash-loop-back-off; container cache not in revision 1"
    );
}

// ---- memory sizing -----------------------------------------------------------------------

#[test]
fn an_oom_without_a_container_or_its_template_is_refused() {
    let mut f = finding(FaultId::OomKilled, "app");
    f.container = None;
    assert_eq!(
        refusal(&deployment(Some("512Mi"), None), &f),
        "the OOM finding names no container"
    );
    let f = finding(FaultId::OomKilled, "app");
    assert_eq!(
        refusal("apiVersion: v1\nkind: List\nitems: []\n", &f),
        "Deployment shop/web is not in the snapshot: cannot read its template"
    );
    let f = finding(FaultId::OomKilled, "worker");
    assert_eq!(
        refusal(&deployment(Some("512Mi"), None), &f),
        "container worker not found in the Deployment template"
    );
}

fn eviction(container: Option<&str>) -> Finding {
    let mut f = finding(FaultId::Evicted, "app");
    f.container = None;
    f.evidence = Evidence::from(Facts::Eviction(EvictionFacts {
        message: Some("The node was low on resource: memory.".into()),
        resource: Some("memory".into()),
        container: container.map(str::to_string),
        usage: Some("700Mi".into()),
        ..EvictionFacts::default()
    }));
    f
}

#[test]
fn an_eviction_without_a_container_or_its_template_is_refused() {
    assert_eq!(
        refusal(&deployment(Some("512Mi"), None), &eviction(None)),
        "eviction message names no container: \"The node was low on resource: memory.\""
    );
    assert_eq!(
        refusal(
            "apiVersion: v1\nkind: List\nitems: []\n",
            &eviction(Some("app"))
        ),
        "Deployment shop/web is not in the snapshot"
    );
    assert_eq!(
        refusal(&deployment(Some("512Mi"), None), &eviction(Some("worker"))),
        "container worker not found in the template"
    );
}

// ---- probe tuning ------------------------------------------------------------------------

#[test]
fn a_probe_finding_without_a_container_or_its_template_is_refused() {
    let mut f = probe_finding(FaultId::StartupProbeFailure, None, Some(60));
    f.container = None;
    assert_eq!(
        refusal(&probe_deployment(""), &f),
        "the probe finding names no container"
    );
    let f = probe_finding(FaultId::StartupProbeFailure, None, Some(60));
    assert_eq!(
        refusal("apiVersion: v1\nkind: List\nitems: []\n", &f),
        "Deployment shop/web is not in the snapshot"
    );
    let mut f = probe_finding(FaultId::StartupProbeFailure, None, Some(60));
    f.container = Some("worker".into());
    assert_eq!(
        refusal(&probe_deployment(""), &f),
        "container worker not in the template"
    );
}

#[test]
fn a_container_without_a_liveness_probe_gets_no_startup_probe_derived_from_one() {
    let f = probe_finding(FaultId::StartupProbeFailure, None, Some(60));
    assert_eq!(
        refusal(&deployment(Some("512Mi"), None), &f),
        "container app has no liveness probe to derive a startup probe from"
    );
}
