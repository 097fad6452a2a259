//! Escalation reasons: for every fault suture does not fix, one sentence a human can act on,
//! built from the evidence (the missing key, the insufficient resource, the taint).

use super::Ctx;
use crate::detection::FaultId;
use crate::detection::evidence::{
    ContainerFacts, Facts, JobFacts, NodePressureFacts, TerminatingFacts, UnschedulableFacts,
};

/// The first value `get` finds in the incident's facts, as text ("" when none states it).
fn first<T: ToString>(ctx: &Ctx, get: impl Fn(&Facts) -> Option<T>) -> String {
    ctx.facts()
        .find_map(get)
        .map(|v| v.to_string())
        .unwrap_or_default()
}

/// A list as compact JSON, as the evidence table shows it.
fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

fn container_of(f: &Facts) -> Option<&ContainerFacts> {
    match f {
        Facts::Container(c) => Some(c),
        _ => None,
    }
}

fn with(detail: String, fallback: &str) -> String {
    if matches!(detail.trim(), "" | "[]" | "{}" | "null") {
        fallback.to_string()
    } else {
        detail
    }
}

/// The reason a fault is escalated rather than fixed.
pub(super) fn reason(ctx: &Ctx, fault: FaultId) -> String {
    let f = ctx.finding;
    let container = f.container.clone().unwrap_or_default();
    let message = first(ctx, |x| x.message().map(str::to_string));
    let subject = format!("{} {}/{}", f.subject.kind, f.namespace, f.subject.name);
    match fault {
        FaultId::CreateContainerConfigError => {
            let (kind, name, key) = (
                first(ctx, |x| container_of(x)?.missing_kind.clone()),
                first(ctx, |x| container_of(x)?.missing_name.clone()),
                first(ctx, |x| container_of(x)?.missing_key.clone()),
            );
            let missing = match (kind.is_empty(), key.is_empty()) {
                (false, false) => format!("key {key} in {kind} {name}"),
                (false, true) => format!("{kind} {name}"),
                _ => with(message.clone(), "a ConfigMap or Secret"),
            };
            format!(
                "container {container} cannot start: it references {missing}, which does not exist. suture never creates ConfigMaps or Secrets: create it or fix the reference ({message})"
            )
        }
        FaultId::ContainerErrorExit => format!(
            "container {container} exits with code {} ({}), restart count {}: an application error, not a resource or rollout problem suture can fix; see its logs",
            first(ctx, |x| container_of(x)?.exit_code),
            with(first(ctx, |x| container_of(x)?.reason.clone()), "Error"),
            first(ctx, Facts::restart_count)
        ),
        FaultId::Unschedulable => {
            let histogram = first(ctx, |x| {
                let reasons = sched(x)?.reasons.as_ref()?;
                Some(
                    reasons
                        .iter()
                        .map(|(k, v)| format!("{v} × {k}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                )
            });
            format!(
                "{subject} cannot be scheduled ({} of {} nodes available): {}. Free or add capacity, or fix taints/affinity; suture does not lower requests on its own",
                with(first(ctx, |x| sched(x)?.nodes_available), "0"),
                with(first(ctx, |x| sched(x)?.nodes_total), "?"),
                with(histogram, &with(message, "no scheduler message"))
            )
        }
        FaultId::ReadinessProbeFailure => format!(
            "container {container} runs but fails its readiness probe ({}): it receives no traffic; this is an application or dependency problem, not restarts to tune away",
            with(message, "no probe message")
        ),
        FaultId::FailedMount => format!(
            "{subject} cannot mount its volumes: {}. Check the volume, PVC, Secret or CSI driver it names",
            with(message, "no event message")
        ),
        FaultId::SandboxCreationFailed => format!(
            "{subject}: the runtime could not create the pod sandbox ({}); a node or CNI problem",
            with(message, "no event message")
        ),
        FaultId::StuckTerminating => format!(
            "{subject} has been terminating since {} (finalizers: {}); suture never force-deletes",
            first(ctx, |x| terminating(x)
                .map(|t| t.deletion_timestamp.clone())),
            with(
                first(ctx, |x| terminating(x)?.finalizers.as_ref().map(json)),
                "none"
            )
        ),
        FaultId::JobBackoffLimitExceeded => format!(
            "Job {}/{} failed after reaching its backoff limit ({}); failing pods: {}",
            f.namespace,
            f.subject.name,
            with(message, "BackoffLimitExceeded"),
            with(
                first(ctx, |x| job(x).map(|j| json(&j.failing_pods))),
                "none recorded"
            )
        ),
        FaultId::JobDeadlineExceeded => format!(
            "Job {}/{} exceeded its activeDeadlineSeconds ({}); a longer deadline or a faster job is a human decision",
            f.namespace,
            f.subject.name,
            with(message, "DeadlineExceeded")
        ),
        FaultId::ReplicaFailure => format!(
            "ReplicaSet {}/{} cannot create pods: {}. Check quota and admission policies",
            f.namespace,
            f.subject.name,
            with(message, "FailedCreate")
        ),
        FaultId::PvcPending => format!(
            "PersistentVolumeClaim {}/{} is Pending: {}. Check the StorageClass and provisioner",
            f.namespace,
            f.subject.name,
            with(message, "no binding event")
        ),
        FaultId::NodePressure => format!(
            "Node {} reports {}: workload fixes for pods evicted by it are suppressed; free the node or add capacity",
            f.subject.name,
            with(
                first(ctx, |x| node_pressure(x).map(|n| json(&n.pressures))),
                "pressure"
            )
        ),
        FaultId::NodeNotReady => format!(
            "Node {} is not Ready ({}); pods on it are not fixed by suture until it recovers",
            f.subject.name,
            with(message, "no condition message")
        ),
        other => format!("{other} on {subject}: {}", with(message, "see evidence")),
    }
}

fn sched(f: &Facts) -> Option<&UnschedulableFacts> {
    match f {
        Facts::Unschedulable(u) => Some(u),
        _ => None,
    }
}

fn terminating(f: &Facts) -> Option<&TerminatingFacts> {
    match f {
        Facts::Terminating(t) => Some(t),
        _ => None,
    }
}

fn job(f: &Facts) -> Option<&JobFacts> {
    match f {
        Facts::Job(j) => Some(j),
        _ => None,
    }
}

fn node_pressure(f: &Facts) -> Option<&NodePressureFacts> {
    match f {
        Facts::NodePressure(n) => Some(n),
        _ => None,
    }
}

/// Pods on a NotReady node, and pods evicted by a node under pressure, are the node's fault:
/// changing the workload would not help.
pub(super) fn suppressed_by_node(ctx: &Ctx) -> Option<String> {
    let f = ctx.finding;
    if matches!(f.fault, FaultId::NodePressure | FaultId::NodeNotReady) {
        return None;
    }
    let pod_name = f.pod.as_deref()?;
    let pod = ctx.state.pods.iter().find(|p| {
        p.metadata.name.as_deref() == Some(pod_name)
            && p.metadata.namespace.as_deref().unwrap_or_default() == f.namespace
    })?;
    let node_name = pod.spec.as_ref()?.node_name.as_deref()?;
    let node = ctx
        .state
        .nodes
        .iter()
        .find(|n| n.metadata.name.as_deref() == Some(node_name))?;
    let conditions = node.status.as_ref()?.conditions.as_deref()?;
    let ready = conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .map(|c| c.status.as_str());
    if ready.is_some_and(|s| s != "True") {
        return Some(format!(
            "pod {pod_name} runs on node {node_name}, which is not Ready: the node is at fault, not the workload"
        ));
    }
    let pressure: Vec<&str> = conditions
        .iter()
        .filter(|c| c.status == "True" && c.type_.ends_with("Pressure"))
        .map(|c| c.type_.as_str())
        .collect();
    if f.fault == FaultId::Evicted && !pressure.is_empty() {
        return Some(format!(
            "pod {pod_name} was evicted by node {node_name}, which still reports {}: the node is at fault; free it or add capacity",
            pressure.join(", ")
        ));
    }
    None
}
