//! Properties over generated objects: no panic on any combination of statuses, events and
//! numbers, at most one finding per container, sorted output.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::{detect, parse_eviction, parse_missing, parse_scheduler_message};
use crate::state::ClusterState;

fn reason() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "CrashLoopBackOff",
            "ImagePullBackOff",
            "ErrImagePull",
            "InvalidImageName",
            "CreateContainerConfigError",
            "CreateContainerError",
            "RunContainerError",
            "ContainerCreating",
            "OOMKilled",
            "Error",
            "StartError",
            "Completed",
            "ContainerCannotRun",
        ])
        .prop_map(str::to_string),
        ".{0,12}",
    ]
}

fn time() -> impl Strategy<Value = String> {
    (0i64..4_000_000_000).prop_map(|s| jiff::Timestamp::from_second(s).unwrap().to_string())
}

fn terminated() -> impl Strategy<Value = Value> {
    (any::<i32>(), reason(), time(), time()).prop_map(|(code, reason, started, finished)| {
        json!({"exitCode": code, "reason": reason, "startedAt": started, "finishedAt": finished})
    })
}

fn container_state() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!({})),
        (reason(), ".{0,40}").prop_map(|(r, m)| json!({"waiting": {"reason": r, "message": m}})),
        time().prop_map(|t| json!({"running": {"startedAt": t}})),
        terminated().prop_map(|t| json!({"terminated": t})),
    ]
}

fn status(name: &'static str) -> impl Strategy<Value = Value> {
    (
        container_state(),
        proptest::option::of(terminated()),
        any::<i32>(),
        any::<bool>(),
    )
        .prop_map(move |(state, last, restarts, ready)| {
            let last = last.map_or(json!({}), |t| json!({"terminated": t}));
            json!({"name": name, "image": "", "imageID": "", "ready": ready,
                   "restartCount": restarts, "state": state, "lastState": last})
        })
}

fn event() -> impl Strategy<Value = Value> {
    let reasons = prop::sample::select(vec![
        "Unhealthy",
        "Killing",
        "Failed",
        "FailedMount",
        "FailedCreatePodSandBox",
        "FailedScheduling",
    ]);
    let messages = prop_oneof![
        Just("Liveness probe failed: x".to_string()),
        Just("Container web failed liveness probe, will be restarted".to_string()),
        Just("Startup probe failed: x".to_string()),
        Just("Readiness probe failed: x".to_string()),
        ".{0,40}",
    ];
    let paths = prop::sample::select(vec![
        "spec.containers{web}",
        "spec.initContainers{init}",
        "",
    ]);
    (reasons, messages, paths, any::<i32>()).prop_map(|(reason, message, path, count)| {
        json!({"apiVersion": "v1", "kind": "Event", "metadata": {"namespace": "p"},
               "involvedObject": {"kind": "Pod", "name": "pod", "namespace": "p", "fieldPath": path},
               "reason": reason, "message": message, "count": count})
    })
}

fn pod() -> impl Strategy<Value = Value> {
    let phase = prop::sample::select(vec!["Pending", "Running", "Failed", "Succeeded", ""]);
    (
        status("web"),
        status("init"),
        phase,
        proptest::option::of(".{0,80}"),
        proptest::option::of((time(), any::<i64>())),
        any::<i64>(),
        any::<i32>(),
        any::<bool>(),
    )
        .prop_map(|(web, init, phase, evicted, deletion, grace, probe, unschedulable)| {
            let mut pod = json!({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "pod", "namespace": "p"},
                "spec": {"terminationGracePeriodSeconds": grace,
                    "initContainers": [{"name": "init"}],
                    "containers": [{"name": "web", "livenessProbe": {"periodSeconds": probe, "failureThreshold": probe}}]},
                "status": {"phase": phase, "containerStatuses": [web], "initContainerStatuses": [init]}
            });
            if unschedulable {
                pod["status"]["conditions"] = json!([{"type": "PodScheduled", "status": "False",
                    "reason": "Unschedulable", "message": "0/1 nodes are available: 1 x, y."}]);
            }
            if let Some(message) = evicted {
                pod["status"]["reason"] = json!("Evicted");
                pod["status"]["message"] = json!(message);
            }
            if let Some((at, g)) = deletion {
                pod["metadata"]["deletionTimestamp"] = json!(at);
                pod["metadata"]["deletionGracePeriodSeconds"] = json!(g);
            }
            pod
        })
}

proptest! {
    #[test]
    fn any_pod_yields_at_most_one_finding_per_container(
        pod in pod(),
        events in prop::collection::vec(event(), 0..6),
        now in time(),
    ) {
        let mut state = ClusterState::default();
        state.add_object(pod).unwrap();
        for e in events {
            state.add_object(e).unwrap();
        }
        let found = detect(&state, now.parse().unwrap());
        let mut containers: Vec<_> = found.iter().filter_map(|f| f.container.as_deref()).collect();
        let total = containers.len();
        containers.sort_unstable();
        containers.dedup();
        prop_assert_eq!(total, containers.len(), "{:#?}", found);
    }

    #[test]
    fn message_parsers_accept_any_text(text in ".{0,200}") {
        let _ = parse_eviction(&text);
        let _ = parse_missing(&text);
        let _ = parse_scheduler_message(&text);
    }
}
