//! Detection: cluster state -> findings. Pure: plain objects and `now` in, findings out.
//!
//! One file per fault family. Every check walks optional fields with `?` and never assumes a
//! `status` is present: objects captured mid-creation have none.
//!
//! Precedence, so that one thing yields one most-specific finding:
//! - a pod being deleted yields only `stuck-terminating` (once overdue): its containers are on
//!   their way out;
//! - an evicted pod yields only `evicted`, an unschedulable one only `unschedulable`;
//! - a succeeded pod yields nothing;
//! - each container yields at most one finding (order in `container`);
//! - `failed-mount` / `sandbox-creation-failed` only while the pod has not started.
//!
//! Many failing pods of one workload are separate findings; grouping happens later.

mod common;
mod container;
pub mod evidence;
#[cfg(test)]
mod fixture_tests;
mod nodes;
mod probes;
#[cfg(test)]
mod robustness_tests;
mod sandbox;
mod scheduling;
#[cfg(test)]
mod testutil;
mod volumes;
mod waiting;
mod workloads;

pub use common::MAX_MESSAGE_CHARS;
pub use scheduling::{parse_eviction, parse_scheduler_message};
pub use waiting::{PullCause, classify_pull_error, parse_missing, pull_cause};

use serde::Serialize;

use crate::objref::ObjectRef;
use crate::state::ClusterState;
use common::PodCtx;

/// Stable fault ids (design.md §3). They appear in PR titles, labels, metrics and the ledger.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultId {
    OomKilled,
    CrashLoopBackOff,
    ImagePullBackOff,
    InvalidImageName,
    CreateContainerConfigError,
    CreateContainerError,
    ContainerErrorExit,
    Unschedulable,
    Evicted,
    LivenessProbeFailure,
    ReadinessProbeFailure,
    StartupProbeFailure,
    InitContainerFailure,
    FailedMount,
    SandboxCreationFailed,
    StuckTerminating,
    JobBackoffLimitExceeded,
    JobDeadlineExceeded,
    ProgressDeadlineExceeded,
    ReplicaFailure,
    PvcPending,
    NodePressure,
    NodeNotReady,
}

impl FaultId {
    pub const ALL: [FaultId; 23] = [
        FaultId::OomKilled,
        FaultId::CrashLoopBackOff,
        FaultId::ImagePullBackOff,
        FaultId::InvalidImageName,
        FaultId::CreateContainerConfigError,
        FaultId::CreateContainerError,
        FaultId::ContainerErrorExit,
        FaultId::Unschedulable,
        FaultId::Evicted,
        FaultId::LivenessProbeFailure,
        FaultId::ReadinessProbeFailure,
        FaultId::StartupProbeFailure,
        FaultId::InitContainerFailure,
        FaultId::FailedMount,
        FaultId::SandboxCreationFailed,
        FaultId::StuckTerminating,
        FaultId::JobBackoffLimitExceeded,
        FaultId::JobDeadlineExceeded,
        FaultId::ProgressDeadlineExceeded,
        FaultId::ReplicaFailure,
        FaultId::PvcPending,
        FaultId::NodePressure,
        FaultId::NodeNotReady,
    ];

    /// The kebab-case id, e.g. `oom-killed`.
    pub fn as_str(self) -> &'static str {
        match self {
            FaultId::OomKilled => "oom-killed",
            FaultId::CrashLoopBackOff => "crash-loop-back-off",
            FaultId::ImagePullBackOff => "image-pull-back-off",
            FaultId::InvalidImageName => "invalid-image-name",
            FaultId::CreateContainerConfigError => "create-container-config-error",
            FaultId::CreateContainerError => "create-container-error",
            FaultId::ContainerErrorExit => "container-error-exit",
            FaultId::Unschedulable => "unschedulable",
            FaultId::Evicted => "evicted",
            FaultId::LivenessProbeFailure => "liveness-probe-failure",
            FaultId::ReadinessProbeFailure => "readiness-probe-failure",
            FaultId::StartupProbeFailure => "startup-probe-failure",
            FaultId::InitContainerFailure => "init-container-failure",
            FaultId::FailedMount => "failed-mount",
            FaultId::SandboxCreationFailed => "sandbox-creation-failed",
            FaultId::StuckTerminating => "stuck-terminating",
            FaultId::JobBackoffLimitExceeded => "job-backoff-limit-exceeded",
            FaultId::JobDeadlineExceeded => "job-deadline-exceeded",
            FaultId::ProgressDeadlineExceeded => "progress-deadline-exceeded",
            FaultId::ReplicaFailure => "replica-failure",
            FaultId::PvcPending => "pvc-pending",
            FaultId::NodePressure => "node-pressure",
            FaultId::NodeNotReady => "node-not-ready",
        }
    }
}

impl std::fmt::Display for FaultId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `pad` so `{:<30}` aligns columns in text output.
        f.pad(self.as_str())
    }
}

impl std::str::FromStr for FaultId {
    type Err = UnknownFault;

    fn from_str(s: &str) -> Result<FaultId, UnknownFault> {
        FaultId::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| UnknownFault(s.to_string()))
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown fault id {0:?}")]
pub struct UnknownFault(pub String);

pub use evidence::{Evidence, Facts};

/// One detected fault on one object.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Finding {
    pub fault: FaultId,
    /// Namespace of the object; empty for cluster-scoped objects (Nodes).
    pub namespace: String,
    /// The pod the fault was seen on, when it is a pod-level fault.
    pub pod: Option<String>,
    /// The container (matched by name) the fault was seen on, when container-level.
    pub container: Option<String>,
    /// True when `container` is an init container (`spec.initContainers[]`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub init_container: bool,
    /// For `init-container-failure`: the underlying container fault (e.g. `oom-killed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<FaultId>,
    /// The object the fault was observed on (Pod, Job, Deployment, ReplicaSet, PVC, Node).
    #[serde(serialize_with = "crate::objref::serialize_kind_name")]
    pub subject: ObjectRef,
    /// The controlling workload, resolved through `ownerReferences` (the subject itself when
    /// it has no controller).
    #[serde(serialize_with = "crate::objref::serialize_kind_name")]
    pub owner: ObjectRef,
    pub evidence: Evidence,
}

/// Run every detector over the state. Findings are sorted by (namespace, owner kind, owner
/// name, fault, pod, container, subject), so equal input gives equal output.
pub fn detect(state: &ClusterState, now: jiff::Timestamp) -> Vec<Finding> {
    let events = common::index_events(state);
    let owners = crate::owner::Index::new(state);
    let mut out = Vec::new();
    for pod in &state.pods {
        detect_pod(&PodCtx::new(&owners, &events, pod), now, &mut out);
    }
    // Needs the pod findings: it reports what the new ReplicaSet's pods fail with.
    let deployments = workloads::progress_deadline(state, &out);
    out.extend(deployments);
    workloads::jobs(state, &mut out);
    workloads::replica_failure(state, &mut out);
    out.extend(volumes::pvc_pending(state, &events));
    nodes::detect(state, &mut out);
    out.sort_by(order);
    out
}

/// The order of [`detect`]'s findings, for findings detected apart (slice by slice).
pub fn order(a: &Finding, b: &Finding) -> std::cmp::Ordering {
    sort_key(a).cmp(&sort_key(b))
}

fn sort_key(f: &Finding) -> impl Ord + '_ {
    (
        &f.namespace,
        &f.owner.kind,
        &f.owner.name,
        f.fault,
        &f.pod,
        &f.container,
        &f.subject.kind,
        &f.subject.name,
    )
}

fn detect_pod(ctx: &PodCtx, now: jiff::Timestamp, out: &mut Vec<Finding>) {
    if ctx.pod.metadata.deletion_timestamp.is_some() {
        out.extend(scheduling::stuck_terminating(ctx, now));
        return;
    }
    if ctx.status().and_then(|s| s.phase.as_deref()) == Some("Succeeded") {
        return;
    }
    if let Some(f) = scheduling::evicted(ctx).or_else(|| scheduling::unschedulable(ctx)) {
        out.push(f);
        return;
    }
    container::detect(ctx, out);
    out.extend(volumes::failed_mount(ctx));
    out.extend(sandbox::sandbox_creation_failed(ctx));
}
