//! Sandbox faults: the container runtime could not create the pod sandbox (CNI, runtime class,
//! cgroup errors), reported by the kubelet as `FailedCreatePodSandBox` events.

use super::common::{PodCtx, event_summary};
use super::evidence::{Facts, PodEventFacts};
use super::volumes::not_started;
use super::{FaultId, Finding};

pub fn sandbox_creation_failed(ctx: &PodCtx) -> Option<Finding> {
    if !not_started(ctx) {
        return None;
    }
    let events = ctx.events_with(&["FailedCreatePodSandBox"]);
    if events.is_empty() {
        return None;
    }
    let facts = PodEventFacts {
        events: event_summary(&events)?,
        volume: None,
        node: ctx.pod.spec.as_ref().and_then(|s| s.node_name.clone()),
        runtime_class: ctx
            .pod
            .spec
            .as_ref()
            .and_then(|s| s.runtime_class_name.clone()),
    };
    Some(ctx.finding(
        FaultId::SandboxCreationFailed,
        None,
        Facts::PodEvents(facts),
    ))
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{pod_event, run};
    use super::*;

    #[test]
    fn sandbox_failure_on_pending_pod() {
        let pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: web-1, namespace: shop, uid: p-1}\nspec: {nodeName: n1, containers: [{name: web, image: web}]}\nstatus: {phase: Pending}\n";
        let msg = "Failed to create pod sandbox: rpc error: code = Unknown desc = failed to setup network for sandbox \"abc\": plugin type=\"calico\" failed (add): error getting ClusterInformation: connection is unauthorized";
        let found = run(&(pod.to_string() + &pod_event("FailedCreatePodSandBox", None, msg, 3)));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].fault, FaultId::SandboxCreationFailed);
        assert_eq!(found[0].evidence["node"], "n1");
        assert_eq!(found[0].evidence["event_count"], 3);
        assert!(run(pod).is_empty());
    }
}
