//! Which pods belong to which revision of the workload, and whether another rollout started:
//! read from the pods' revision labels, the ReplicaSets' revision numbers and the workload's
//! generation.

use std::collections::BTreeSet;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod;

use super::BaselinePod;
use crate::objref::{ObjectRef, WorkloadKind};
use crate::state::ClusterState;

/// Labels naming a pod's template revision: Deployments' ReplicaSets, Argo Rollouts'
/// ReplicaSets, StatefulSets and DaemonSets (ControllerRevisions).
const REVISION_LABELS: [&str; 3] = [
    "pod-template-hash",
    "rollouts-pod-template-hash",
    "controller-revision-hash",
];

pub fn pod_revision(pod: &Pod) -> Option<String> {
    let labels = pod.metadata.labels.as_ref()?;
    REVISION_LABELS.iter().find_map(|l| labels.get(*l)).cloned()
}

fn created(pod: &Pod) -> Option<Timestamp> {
    pod.metadata.creation_timestamp.as_ref().map(|t| t.0)
}

/// The pods of `workload` in `state` (controller chain resolved, uid-checked).
pub fn workload_pods<'a>(state: &'a ClusterState, workload: &ObjectRef) -> Vec<&'a Pod> {
    let owners = crate::owner::Index::new(state);
    state
        .pods
        .iter()
        .filter(|p| p.metadata.namespace.as_deref() == Some(workload.namespace.as_str()))
        .filter(|p| {
            owners
                .resolve(WorkloadKind::Pod, &p.metadata)
                .same_object(workload)
        })
        .collect()
}

/// The pods of `workload` as the baseline records them.
pub fn baseline_pods(state: &ClusterState, workload: &ObjectRef) -> Vec<BaselinePod> {
    workload_pods(state, workload)
        .into_iter()
        .map(|p| BaselinePod {
            name: p.metadata.name.clone().unwrap_or_default(),
            uid: p.metadata.uid.clone(),
            revision: pod_revision(p),
        })
        .collect()
}

/// The workload's pods now, split by revision against the baseline.
#[derive(Debug, Default)]
pub struct Split<'a> {
    /// Pods of a revision the baseline did not have, created at or after the deploy began:
    /// older pods' restarts are the old revision's and do not count.
    pub new: Vec<&'a Pod>,
    /// The revision the merge rolled out: the stored mark's, else the oldest new pod's.
    pub deployed: Option<String>,
    /// Revisions newer than `deployed` seen during the window.
    pub later: BTreeSet<String>,
}

pub fn split<'a>(
    state: &'a ClusterState,
    workload: &ObjectRef,
    baseline: &[BaselinePod],
    since: Timestamp,
    deployed: Option<&str>,
) -> Split<'a> {
    let old: BTreeSet<&str> = baseline
        .iter()
        .filter_map(|p| p.revision.as_deref())
        .collect();
    let old_uids: BTreeSet<&str> = baseline.iter().filter_map(|p| p.uid.as_deref()).collect();
    let mut fresh: Vec<(&Pod, String)> = workload_pods(state, workload)
        .into_iter()
        .filter(|p| {
            p.metadata
                .uid
                .as_deref()
                .is_none_or(|u| !old_uids.contains(u))
        })
        // Without a creation time the revision label alone decides.
        .filter(|p| created(p).is_none_or(|c| c >= since))
        .filter_map(|p| Some((p, pod_revision(p).filter(|r| !old.contains(r.as_str()))?)))
        .collect();
    fresh.sort_by_key(|(p, _)| created(p));
    let deployed = deployed
        .map(str::to_owned)
        .or_else(|| fresh.first().map(|(_, r)| r.clone()));
    let mut later: BTreeSet<String> = fresh
        .iter()
        .filter(|(_, r)| Some(r) != deployed.as_ref())
        .map(|(_, r)| r.clone())
        .collect();
    if let Some(d) = &deployed {
        later.extend(newer_replica_sets(state, workload, d));
    }
    Split {
        new: fresh
            .into_iter()
            .filter(|(_, r)| Some(r) == deployed.as_ref())
            .map(|(p, _)| p)
            .collect(),
        deployed,
        later,
    }
}

/// ReplicaSets of a Deployment or Rollout with a higher revision number than the one holding
/// `deployed`: a rollout (or a rollback, which renumbers the old ReplicaSet) after the merge's.
fn newer_replica_sets(state: &ClusterState, workload: &ObjectRef, deployed: &str) -> Vec<String> {
    let Some(annotation) = workload
        .workload_kind()
        .and_then(|k| k.revision_annotation())
    else {
        return Vec::new();
    };
    let owners = crate::owner::Index::new(state);
    let sets: Vec<(i64, String)> = state
        .replica_sets
        .iter()
        .filter(|rs| {
            owners
                .resolve(WorkloadKind::ReplicaSet, &rs.metadata)
                .same_object(workload)
        })
        .filter_map(|rs| {
            let m = &rs.metadata;
            let number = m.annotations.as_ref()?.get(annotation)?.parse().ok()?;
            let hash = REVISION_LABELS
                .iter()
                .find_map(|l| m.labels.as_ref()?.get(*l))?;
            Some((number, hash.clone()))
        })
        .collect();
    let Some(mine) = sets.iter().find(|(_, h)| h == deployed).map(|(n, _)| *n) else {
        return Vec::new();
    };
    sets.into_iter()
        .filter(|(n, h)| *n > mine && h != deployed)
        .map(|(_, h)| h)
        .collect()
}

/// The workload's `metadata.generation` and `spec.replicas`.
pub fn generation(state: &ClusterState, workload: &ObjectRef) -> (Option<i64>, Option<i32>) {
    let (ns, name) = (workload.namespace.as_str(), workload.name.as_str());
    let meta = workload
        .workload_kind()
        .and_then(|k| crate::owner::workload_meta(state, k, ns, name));
    let replicas = match workload.workload_kind() {
        Some(WorkloadKind::Deployment) => find(&state.deployments, ns, name, |o| &o.metadata)
            .and_then(|d| d.spec.as_ref()?.replicas),
        Some(WorkloadKind::StatefulSet) => find(&state.stateful_sets, ns, name, |o| &o.metadata)
            .and_then(|s| s.spec.as_ref()?.replicas),
        Some(WorkloadKind::Rollout) => find(&state.rollouts, ns, name, |o| &o.metadata)
            .and_then(|r| r.spec.get("replicas")?.as_i64()?.try_into().ok()),
        _ => None,
    };
    (meta.and_then(|m| m.generation), replicas)
}

fn find<'a, T>(
    items: &'a [T],
    ns: &str,
    name: &str,
    meta: impl Fn(&T) -> &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
) -> Option<&'a T> {
    items.iter().find(|o| {
        let m = meta(o);
        m.namespace.as_deref() == Some(ns) && m.name.as_deref() == Some(name)
    })
}

/// The part of `state` detection runs on: the new revision's pods, with what their findings
/// read (owners, events, nodes).
pub fn slice(state: &ClusterState, pods: &[&Pod]) -> ClusterState {
    ClusterState {
        pods: pods.iter().map(|p| (*p).clone()).collect(),
        replica_sets: state.replica_sets.clone(),
        deployments: state.deployments.clone(),
        stateful_sets: state.stateful_sets.clone(),
        daemon_sets: state.daemon_sets.clone(),
        rollouts: state.rollouts.clone(),
        events: state.events.clone(),
        nodes: state.nodes.clone(),
        limit_ranges: state.limit_ranges.clone(),
        resource_quotas: state.resource_quotas.clone(),
        ..ClusterState::default()
    }
}
