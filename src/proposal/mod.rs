//! Proposals: findings + the objects they name + policy -> a typed, reversible fix, or an
//! escalation a human can act on. Pure: no clients, no clock.
//!
//! One file per primitive: `memory` (raise-memory-limit, raise-memory-request,
//! raise-ephemeral-storage-limit), `image` (revert-image), `probe` (tune-probe); `escalate`
//! words the reason for every fault suture does not fix; `workload` reads pod templates.

mod escalate;
mod image;
mod memory;
mod probe;
pub mod workload;

use serde::Serialize;

use crate::detection::evidence::Table;
use crate::detection::{Facts, FaultId, Finding};
use crate::gitops::locate::FieldTarget;
use crate::incident::IncidentKey;
use crate::objref::ObjectRef;
use crate::quantity::MI;
use crate::state::ClusterState;

/// The fix primitives suture knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Primitive {
    RaiseMemoryLimit,
    RaiseMemoryRequest,
    RaiseEphemeralStorageLimit,
    RevertImage,
    TuneProbe,
}

impl Primitive {
    pub fn as_str(self) -> &'static str {
        match self {
            Primitive::RaiseMemoryLimit => "raise-memory-limit",
            Primitive::RaiseMemoryRequest => "raise-memory-request",
            Primitive::RaiseEphemeralStorageLimit => "raise-ephemeral-storage-limit",
            Primitive::RevertImage => "revert-image",
            Primitive::TuneProbe => "tune-probe",
        }
    }
}

/// How a proposal reaches the cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rail {
    PullRequest,
    DirectApply,
    EscalateOnly,
}

/// The workload and container a proposal changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub workload: ObjectRef,
    pub container: String,
    pub init_container: bool,
}

/// The plan JSON's `target`: `{kind, namespace, name, container, init_container?}`.
impl Serialize for Target {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct View<'a> {
            kind: &'a str,
            namespace: &'a str,
            name: &'a str,
            container: &'a str,
            #[serde(skip_serializing_if = "std::ops::Not::not")]
            init_container: bool,
        }
        View {
            kind: &self.workload.kind,
            namespace: &self.workload.namespace,
            name: &self.workload.name,
            container: &self.container,
            init_container: self.init_container,
        }
        .serialize(s)
    }
}

/// One field change on the workload: `field` is the path in the workload object.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Change {
    pub field: String,
    pub from: serde_json::Value,
    pub to: serde_json::Value,
}

/// An estimate of how likely the change fixes the fault, from the fault type and the evidence.
/// Not a measured success rate, and labelled `est.` wherever it is shown.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Confidence {
    pub est: f64,
    pub why: String,
}

impl std::fmt::Display for Confidence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "est. {:.0}% ({})", self.est * 100.0, self.why)
    }
}

/// The exact prior values, so a revert restores them verbatim.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Rollback {
    pub changes: Vec<Change>,
    pub description: String,
}

/// A fix before it has been located in Git.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Draft {
    pub key: IncidentKey,
    pub fault: FaultId,
    pub primitive: Primitive,
    pub target: Target,
    /// The primary change (e.g. the memory limit).
    pub change: Change,
    /// Changes that must go with it (e.g. the request, to keep Guaranteed QoS).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub also: Vec<Change>,
    pub basis: String,
    pub rollback: Rollback,
    pub confidence: Confidence,
    pub rail: Rail,
    /// What to write in Git, one entry per change (primary first).
    #[serde(skip)]
    pub writes: Vec<FieldTarget>,
}

/// A fault suture will not fix, with the evidence a human needs (as a table: the finding's
/// facts, plus what the escalation adds, such as every affected pod).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Escalation {
    pub key: IncidentKey,
    pub fault: FaultId,
    pub reason: String,
    pub evidence: Table,
}

/// Why a primitive does not apply: the sentence a human reads in the escalation.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refusal(pub String);

impl From<String> for Refusal {
    fn from(reason: String) -> Refusal {
        Refusal(reason)
    }
}

impl From<&str> for Refusal {
    fn from(reason: &str) -> Refusal {
        Refusal(reason.to_string())
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Propose(Box<Draft>),
    Escalate(Escalation),
}

/// The numbers behind every sizing change; all of them are cited in the basis.
#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    /// VPA recommender `OOMBumpUpRatio`, as a fraction num/den.
    pub bump_ratio: (i128, i128),
    /// VPA recommender `OOMMinBumpUp`, bytes.
    pub min_bump_bytes: i128,
    /// Round new values up to this many bytes.
    pub round_bytes: i128,
    /// Never propose more than `old × cap_ratio` (num/den).
    pub cap_ratio: (i128, i128),
    /// After this many bumps for one incident key, escalate as a probable leak.
    pub max_bumps: u32,
    /// Safety margin over an observed start time when sizing a startup probe (num/den).
    pub start_margin: (i64, i64),
    pub rail: Rail,
    /// The cluster name in incident keys.
    pub cluster: String,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            bump_ratio: (12, 10),
            min_bump_bytes: 100 * MI,
            round_bytes: 64 * MI,
            cap_ratio: (2, 1),
            max_bumps: 2,
            start_margin: (3, 2),
            rail: Rail::PullRequest,
            cluster: "default".into(),
        }
    }
}

/// What the ledger knows of earlier fixes for one incident key (offline: nothing).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct History {
    pub prior_bumps: u32,
}

/// Findings that share an incident key (one workload, one fault), most informative first.
pub fn group_findings<'a>(
    findings: &'a [Finding],
    cluster: &str,
) -> Vec<(IncidentKey, Vec<&'a Finding>)> {
    let mut groups: Vec<(IncidentKey, Vec<&Finding>)> = Vec::new();
    for f in findings {
        let key = IncidentKey::new(cluster, &f.owner, f.fault);
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, members)) => members.push(f),
            None => groups.push((key, vec![f])),
        }
    }
    groups
}

/// Decide what to do about one incident: the findings of one key.
pub fn propose(
    key: &IncidentKey,
    findings: &[&Finding],
    state: &ClusterState,
    policy: &Policy,
    history: History,
) -> Outcome {
    let Some(first) = findings.first() else {
        return Outcome::Escalate(Escalation {
            key: key.clone(),
            fault: FaultId::ContainerErrorExit,
            reason: "no finding".into(),
            evidence: Table::new(),
        });
    };
    let ctx = Ctx {
        key,
        finding: first,
        all: findings,
        state,
        policy,
        history,
    };
    if let Some(reason) = escalate::suppressed_by_node(&ctx) {
        return ctx.escalate(reason);
    }
    let fault = match first.fault {
        FaultId::InitContainerFailure => first.cause.unwrap_or(FaultId::ContainerErrorExit),
        other => other,
    };
    let result = match fault {
        FaultId::OomKilled => memory::raise_limit(&ctx),
        FaultId::Evicted => memory::after_eviction(&ctx),
        FaultId::CrashLoopBackOff
        | FaultId::ImagePullBackOff
        | FaultId::InvalidImageName
        | FaultId::CreateContainerError
        | FaultId::ProgressDeadlineExceeded => image::revert(&ctx, fault),
        FaultId::LivenessProbeFailure | FaultId::StartupProbeFailure => probe::tune(&ctx, fault),
        _ => Err(Refusal(escalate::reason(&ctx, fault))),
    };
    match result {
        Ok(draft) => Outcome::Propose(Box::new(draft)),
        Err(Refusal(reason)) => ctx.escalate(reason),
    }
}

/// Everything a primitive reads, borrowed.
pub(crate) struct Ctx<'a> {
    pub key: &'a IncidentKey,
    pub finding: &'a Finding,
    pub all: &'a [&'a Finding],
    pub state: &'a ClusterState,
    pub policy: &'a Policy,
    pub history: History,
}

impl Ctx<'_> {
    fn escalate(&self, reason: String) -> Outcome {
        let mut evidence = self.finding.evidence.table().clone();
        if self.all.len() > 1 {
            let pods: Vec<_> = self.all.iter().filter_map(|f| f.pod.clone()).collect();
            evidence.insert("affected_pods".into(), pods.into());
        }
        Outcome::Escalate(Escalation {
            key: self.key.clone(),
            fault: self.finding.fault,
            reason,
            evidence,
        })
    }

    pub fn target(&self, container: &str) -> Target {
        Target {
            workload: self.finding.owner.clone(),
            container: container.to_string(),
            init_container: self.finding.init_container,
        }
    }

    /// The facts of every finding of the incident, the first finding's first.
    pub fn facts(&self) -> impl Iterator<Item = &Facts> + '_ {
        self.all.iter().map(|f| f.evidence.facts())
    }
}

impl Draft {
    /// The change in words, for PR titles: `raise memory limit 512Mi -> 640Mi`.
    pub fn summary(&self) -> String {
        let v = |x: &serde_json::Value| match x {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let (from, to) = (v(&self.change.from), v(&self.change.to));
        match self.primitive {
            Primitive::RaiseMemoryLimit => format!("raise memory limit {from} -> {to}"),
            Primitive::RaiseMemoryRequest => format!("raise memory request {from} -> {to}"),
            Primitive::RaiseEphemeralStorageLimit => {
                format!("raise ephemeral-storage limit {from} -> {to}")
            }
            Primitive::RevertImage => format!("revert {} image to {to}", self.target.container),
            Primitive::TuneProbe if self.change.from.is_null() => {
                format!("add a startup probe to {}", self.target.container)
            }
            Primitive::TuneProbe => format!("raise startup probe failureThreshold {from} -> {to}"),
        }
    }

    /// `fix(<namespace>/<name>): <change in words>`.
    pub fn title(&self) -> String {
        self.key.pr_title(&self.summary())
    }
}

#[cfg(test)]
mod tests;
