//! What each real object captured by Argo CD's health tests yields.

use super::{FaultId, Finding, detect};
use crate::state::ClusterState;

macro_rules! fixture {
    ($file:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/kubernetes/argo-health-testdata/",
            $file
        ))
    };
}

/// Well after every fixture's timestamps.
const NOW: &str = "2019-06-01T00:00:00Z";

fn run(text: &str) -> Vec<Finding> {
    detect(
        &ClusterState::from_text(text).unwrap(),
        NOW.parse().unwrap(),
    )
}

fn faults(found: &[Finding]) -> Vec<(FaultId, Option<&str>)> {
    found
        .iter()
        .map(|f| (f.fault, f.container.as_deref()))
        .collect()
}

#[test]
fn crashloop_with_exit_1_is_crash_loop_back_off() {
    for text in [
        fixture!("pod-crashloop.yaml"),
        fixture!("pod-running-restart-onfailure.yaml"),
    ] {
        let found = run(text);
        assert_eq!(
            faults(&found),
            vec![(FaultId::CrashLoopBackOff, Some("main"))]
        );
        let e = &found[0].evidence;
        assert_eq!(
            (&e["exit_code"], &e["reason"]),
            (&1.into(), &"Error".into())
        );
        assert_eq!(e["image"], "alpine:latest");
        assert_eq!(
            (found[0].owner.kind.as_str(), found[0].owner.name.as_str()),
            ("Pod", "my-pod")
        );
    }
    assert_eq!(
        run(fixture!("pod-crashloop.yaml"))[0].evidence["restart_count"],
        3
    );
}

#[test]
fn image_pull_back_off_resolves_to_the_uncaptured_replicaset() {
    let found = run(fixture!("pod-imagepullbackoff.yaml"));
    assert_eq!(
        faults(&found),
        vec![(FaultId::ImagePullBackOff, Some("errimagepullbackoff"))]
    );
    let f = &found[0];
    assert_eq!(
        f.evidence["image"],
        "gcr.io/heptio-images/ks-guestbook-demo:0.3"
    );
    // `Back-off pulling image` does not say why, and no event was captured: the typed fact says
    // so, the JSON keeps writing `other`.
    assert_eq!(f.evidence["pull_error"], "other");
    assert!(matches!(
        f.evidence.facts(),
        super::Facts::Container(c) if c.pull_error == Some(super::PullCause::NotReported)
    ));
    assert_eq!(
        (
            f.owner.group.as_str(),
            f.owner.kind.as_str(),
            f.owner.name.as_str()
        ),
        (
            "apps",
            "ReplicaSet",
            "guestbook-ui-errimagepullbackoff-66cfffb669"
        )
    );
    let found = run(fixture!(
        "pod-running-restart-never-with-ignore-annotation-backoff.yaml"
    ));
    assert_eq!(
        faults(&found),
        vec![(FaultId::ImagePullBackOff, Some("main"))]
    );
}

#[test]
fn terminated_error_is_container_error_exit() {
    for text in [fixture!("pod-error.yaml"), fixture!("pod-failed.yaml")] {
        let found = run(text);
        assert_eq!(
            faults(&found),
            vec![(FaultId::ContainerErrorExit, Some("main"))]
        );
        assert_eq!(found[0].evidence["exit_code"], 1);
    }
    assert_eq!(
        run(fixture!("pod-error.yaml"))[0].evidence["previous_exit_code"],
        1
    );
}

#[test]
fn deletion_is_stuck_only_after_grace_and_margin() {
    let state = ClusterState::from_text(fixture!("pod-deletion.yaml")).unwrap();
    // deletionTimestamp 2018-12-03T10:16:04Z, grace 30s (spec), margin 300s.
    assert!(detect(&state, "2018-12-03T10:21:00Z".parse().unwrap()).is_empty());
    let found = detect(&state, "2018-12-03T10:21:35Z".parse().unwrap());
    assert_eq!(faults(&found), vec![(FaultId::StuckTerminating, None)]);
    assert_eq!(
        found[0].evidence["grace_period_source"],
        "spec.terminationGracePeriodSeconds"
    );
}

#[test]
fn running_not_ready_needs_readiness_events() {
    let pod = fixture!("pod-running-not-ready.yaml");
    assert!(run(pod).is_empty());
    let event = "---\napiVersion: v1\nkind: Event\nmetadata: {name: e, namespace: argocd}\ninvolvedObject: {kind: Pod, name: never-ready, namespace: argocd, uid: 5aa62a14-f61d-11e8-a058-fe5f49266390, fieldPath: 'spec.containers{main}'}\nreason: Unhealthy\ntype: Warning\ncount: 40\nmessage: 'Readiness probe failed: dial tcp 172.17.0.9:8080: connect: connection refused'\n";
    let found = run(&format!("{pod}{event}"));
    assert_eq!(
        faults(&found),
        vec![(FaultId::ReadinessProbeFailure, Some("main"))]
    );
    let e = &found[0].evidence;
    assert_eq!(
        (&e["initial_delay_seconds"], &e["unhealthy_events"]),
        (&10.into(), &40.into())
    );
}

#[test]
fn job_failed_is_backoff_limit_exceeded() {
    let found = run(fixture!("job-failed.yaml"));
    assert_eq!(
        faults(&found),
        vec![(FaultId::JobBackoffLimitExceeded, None)]
    );
    let f = &found[0];
    assert_eq!(
        (f.subject.kind.as_str(), f.owner.name.as_str()),
        ("Job", "fail")
    );
    assert_eq!(
        (&f.evidence["failed"], &f.evidence["backoff_limit"]),
        (&1.into(), &0.into())
    );
    assert_eq!(f.evidence["failing_pods"], serde_json::json!([]));
}

#[test]
fn pvc_pending_needs_failure_events() {
    let pvc = fixture!("pvc-pending.yaml");
    assert!(run(pvc).is_empty());
    let event = "---\napiVersion: v1\nkind: Event\nmetadata: {name: e, namespace: argocd}\ninvolvedObject: {kind: PersistentVolumeClaim, name: testpvc-2, namespace: argocd, uid: 0cedfc44-aa4d-11e8-a271-025000000001}\nreason: ProvisioningFailed\ntype: Warning\nmessage: 'storageclass.storage.k8s.io \"slow\" not found'\n";
    let found = run(&format!("{pvc}{event}"));
    assert_eq!(faults(&found), vec![(FaultId::PvcPending, None)]);
    assert_eq!(found[0].evidence["storage_class"], "slow");
    assert_eq!(found[0].evidence["request_storage"], "2Gi");
}

#[test]
fn deployment_degraded_is_progress_deadline_exceeded() {
    let found = run(fixture!("deployment-degraded.yaml"));
    assert_eq!(
        faults(&found),
        vec![(FaultId::ProgressDeadlineExceeded, None)]
    );
    let e = &found[0].evidence;
    // No ReplicaSet captured: the condition message names the new one.
    assert_eq!(e["new_replica_set"], "guestbook-ui-75dd4d49d5");
    assert_eq!(e["revision"], "4");
    assert_eq!(
        e["images"]["guestbook-ui"],
        "gcr.io/heptio-images/ks-guestbook-demo:0.3"
    );
}

#[test]
fn healthy_and_in_progress_objects_yield_nothing() {
    let quiet = [
        fixture!("pod-succeeded.yaml"),
        fixture!("pod-pending.yaml"),
        fixture!("pod-running-restart-always.yaml"),
        fixture!("pod-running-restart-never.yaml"),
        fixture!("pod-running-restart-never-with-ignore-annotation.yaml"),
        fixture!("pod-running-restart-never-hook-with-ignore-annotation.yaml"),
        fixture!("job-succeeded.yaml"),
        fixture!("job-running.yaml"),
        fixture!("job-suspended.yaml"),
        fixture!("pvc-bound.yaml"),
        fixture!("deployment-progressing.yaml"),
        fixture!("deployment-suspended.yaml"),
        fixture!("daemonset-ondelete.yaml"),
        fixture!("statefulset.yaml"),
        fixture!("statefulset-ondelete.yaml"),
        fixture!("application-healthy.yaml"),
        fixture!("application-degraded.yaml"),
    ];
    for text in quiet {
        let found = run(text);
        assert!(found.is_empty(), "{found:#?}");
    }
}

#[test]
fn all_fixtures_together_are_sorted_and_stable() {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/kubernetes/argo-health-testdata"
    );
    let mut state = ClusterState::default();
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    for path in &paths {
        let text = std::fs::read_to_string(path).unwrap();
        state.add_text(&path.display().to_string(), &text).unwrap();
    }
    let now = NOW.parse().unwrap();
    // Several fixtures reuse argocd/my-pod, so only same-input stability is meaningful here.
    let found = detect(&state, now);
    assert_eq!(found, detect(&state, now));
    assert!(found.len() >= 8, "{}", found.len());
    let keys: Vec<_> = found
        .iter()
        .map(|f| (&f.namespace, &f.owner.kind, &f.owner.name, f.fault))
        .collect();
    assert!(keys.windows(2).all(|w| w[0] <= w[1]), "{keys:#?}");
}
