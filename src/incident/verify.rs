//! Verification after the merge (design.md §7): a pure function of the baseline captured at
//! detection, what Argo CD reports, the workload's state now, the alert's result and `now`.
//! The runner calls it on every observation and acts on the verdict; the verdict names its
//! evidence so a commit status, a PR comment or an escalation can show why.
//!
//! Verdict semantics follow Argo Rollouts' analysis: a fault on the new pods ends the window
//! early (a user wants the revert fast); success and "inconclusive" only at its end, and an
//! inconclusive window never passes silently.

mod argo;
mod evidence;
pub mod revision;
#[cfg(test)]
mod tests;

pub use argo::DeployStatus;
pub use evidence::VerifyEvidence;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use super::IncidentKey;
use crate::detection::{FaultId, Finding};
use crate::objref::ObjectRef;
use crate::state::ClusterState;

/// What was true at detection.
#[derive(Clone, Debug, PartialEq)]
pub struct Baseline {
    /// Its `fault` is the fault the change is meant to end.
    pub key: IncidentKey,
    pub workload: ObjectRef,
    pub container: Option<String>,
    /// The workload's pods at detection ([`revision::baseline_pods`]).
    pub pods: Vec<BaselinePod>,
    pub merge_sha: String,
    /// When suture resumed sync after the merge: the deploy timeout counts from here.
    pub resumed_at: Timestamp,
    /// Whether suture switched auto-sync back on (false for an app that never had it):
    /// auto-sync found off afterwards is someone else's pause.
    pub resumed_auto_sync: bool,
    /// Raised by an alert, so the alert's expression must be false for `healthy`.
    pub alert_sourced: bool,
}

impl Baseline {
    pub fn fault(&self) -> FaultId {
        self.key.fault
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaselinePod {
    pub name: String,
    pub uid: Option<String>,
    /// `pod-template-hash` / `controller-revision-hash`.
    pub revision: Option<String>,
}

/// How long to wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Windows {
    /// Observation after the deploy (default 10 minutes).
    pub window: SignedDuration,
    /// From the resume until Argo CD must have deployed the merge.
    pub deploy_timeout: SignedDuration,
}

impl Default for Windows {
    fn default() -> Self {
        Windows {
            window: SignedDuration::from_mins(10),
            deploy_timeout: SignedDuration::from_mins(15),
        }
    }
}

/// What the runner stores the first time it sees the merge deployed and hands back on every
/// later call: which revision the merge rolled out and the workload's generation then, so a
/// later rollout is told from the merge's own.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployMark {
    /// When the deploy finished: the window starts here.
    pub at: Timestamp,
    /// When its sync began: pods created since are the new revision's.
    pub since: Timestamp,
    pub revision: Option<String>,
    pub generation: Option<i64>,
    pub replicas: Option<i32>,
}

/// Everything one verification step reads.
#[derive(Clone, Copy, Debug)]
pub struct Inputs<'a> {
    pub baseline: &'a Baseline,
    pub argo: &'a DeployStatus,
    /// The cluster now (at least the workload, its ReplicaSets, pods and their events).
    pub state: &'a ClusterState,
    /// The alert's expression over the window: `Some(true)` still true, `Some(false)` false,
    /// `None` not evaluated or no data.
    pub alert: Option<bool>,
    pub mark: Option<&'a DeployMark>,
    pub windows: Windows,
    pub now: Timestamp,
}

/// Why a finished window proves nothing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "reason")]
pub enum Inconclusive {
    /// No pod of the new revision was seen.
    NoNewPods,
    /// An alert-sourced incident without the alert's result.
    AlertMissing,
    /// Auto-sync is off again after suture resumed it.
    PausedByOther,
    /// Pods or ReplicaSets of a revision after the merge's.
    SecondRollout { revisions: Vec<String> },
    /// The workload's spec changed past the merged generation (a scale alone does not count).
    GenerationMoved { from: i64, to: i64 },
    /// Argo CD synced another commit on top of the merge.
    Superseded { revisions: Vec<String> },
}

impl std::fmt::Display for Inconclusive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Inconclusive::NoNewPods => f.write_str("no pod of the new revision appeared"),
            Inconclusive::AlertMissing => f.write_str("the alert's expression returned no data"),
            Inconclusive::PausedByOther => {
                f.write_str("auto-sync was switched off by someone other than suture")
            }
            Inconclusive::SecondRollout { revisions } => {
                write!(f, "another rollout started: {}", revisions.join(", "))
            }
            Inconclusive::GenerationMoved { from, to } => {
                write!(
                    f,
                    "the workload changed after the merge (generation {from} -> {to})"
                )
            }
            Inconclusive::Superseded { revisions } => {
                write!(f, "Argo CD synced another commit: {}", revisions.join(", "))
            }
        }
    }
}

/// What a pending verification waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Waiting {
    Deploy { deadline: Timestamp },
    Window { ends_at: Timestamp },
}

#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    Pending {
        waiting: Waiting,
        evidence: VerifyEvidence,
    },
    /// The fault did not recur on the new pods, no other fault appeared, the alert is false.
    Healthy { evidence: VerifyEvidence },
    /// The original fault recurred on the new pods (or its alert is still true).
    StillFiring {
        findings: Vec<Finding>,
        evidence: VerifyEvidence,
    },
    /// A different fault appeared on the new pods.
    Regressed {
        findings: Vec<Finding>,
        evidence: VerifyEvidence,
    },
    Inconclusive {
        reasons: Vec<Inconclusive>,
        evidence: VerifyEvidence,
    },
    /// Argo CD did not deploy the merge within the timeout.
    NotDeployed { evidence: VerifyEvidence },
}

impl Verdict {
    /// `healthy`, `still_firing`, `regressed`, `inconclusive`, `not_deployed`, `pending`.
    pub fn name(&self) -> &'static str {
        match self {
            Verdict::Pending { .. } => "pending",
            Verdict::Healthy { .. } => "healthy",
            Verdict::StillFiring { .. } => "still_firing",
            Verdict::Regressed { .. } => "regressed",
            Verdict::Inconclusive { .. } => "inconclusive",
            Verdict::NotDeployed { .. } => "not_deployed",
        }
    }

    pub fn is_final(&self) -> bool {
        !matches!(self, Verdict::Pending { .. })
    }

    pub fn evidence(&self) -> &VerifyEvidence {
        match self {
            Verdict::Pending { evidence, .. }
            | Verdict::Healthy { evidence }
            | Verdict::StillFiring { evidence, .. }
            | Verdict::Regressed { evidence, .. }
            | Verdict::Inconclusive { evidence, .. }
            | Verdict::NotDeployed { evidence } => evidence,
        }
    }
}

/// One step's verdict, and the mark to store (set once the merge is seen deployed).
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    pub verdict: Verdict,
    pub mark: Option<DeployMark>,
}

pub fn verify(i: &Inputs) -> Report {
    let b = i.baseline;
    let mut ev = VerifyEvidence::new(b, i.argo, i.alert);
    let (mut mark, generation, replicas) = match deployed(i, &mut ev) {
        Ok(found) => found,
        Err(report) => return *report,
    };
    let split = revision::split(
        i.state,
        &b.workload,
        &b.pods,
        mark.since,
        mark.revision.as_deref(),
    );
    mark.revision = split.deployed.clone();
    let ends_at = mark.at.saturating_add(i.windows.window).unwrap_or(mark.at);
    ev.observe(&split, mark.at, ends_at);

    let findings = faults_on(i, &split);
    ev.faults = findings.iter().map(evidence::describe).collect();
    let (same, other): (Vec<Finding>, Vec<Finding>) = findings
        .into_iter()
        .partition(|f| f.fault == b.fault() || f.cause == Some(b.fault()));
    let verdict = if !same.is_empty() {
        Verdict::StillFiring {
            findings: same,
            evidence: ev,
        }
    } else if !other.is_empty() {
        Verdict::Regressed {
            findings: other,
            evidence: ev,
        }
    } else if i.now < ends_at {
        Verdict::Pending {
            waiting: Waiting::Window { ends_at },
            evidence: ev,
        }
    } else {
        at_window_end(i, &split, &mark, generation, replicas, ev)
    };
    Report {
        verdict,
        mark: Some(mark),
    }
}

/// The deploy mark, once Argo CD has deployed the merge; until then (or past the deploy
/// timeout) the report to return. Also the workload's generation and replicas now.
fn deployed(
    i: &Inputs,
    ev: &mut VerifyEvidence,
) -> Result<(DeployMark, Option<i64>, Option<i32>), Box<Report>> {
    let b = i.baseline;
    let deployed_now = i.argo.deployed(&b.merge_sha);
    if !deployed_now && i.mark.is_none() {
        let deadline = b
            .resumed_at
            .saturating_add(i.windows.deploy_timeout)
            .unwrap_or(b.resumed_at);
        ev.deploy_deadline = Some(deadline);
        let evidence = ev.clone();
        let verdict = match i.now >= deadline {
            true => Verdict::NotDeployed { evidence },
            false => Verdict::Pending {
                waiting: Waiting::Deploy { deadline },
                evidence,
            },
        };
        return Err(Box::new(Report {
            verdict,
            mark: None,
        }));
    }
    let (generation, replicas) = revision::generation(i.state, &b.workload);
    let at = i.argo.finished_at.unwrap_or(i.now);
    let mark = i.mark.cloned().unwrap_or(DeployMark {
        at,
        since: i.argo.started_at.map_or(at, |s| s.min(at)),
        revision: None,
        generation,
        replicas,
    });
    Ok((mark, generation, replicas))
}

/// The verification of suture's revert of a regressed fix (the baseline's fault is the
/// regression's). Once Argo CD has deployed the revert, the regression's fault must be gone
/// from every pod of the workload at the end of the window: a revert usually brings back an
/// earlier ReplicaSet, so there may be no new pods at all. The fault the fix was meant to end
/// may be back; that is what ran before, and the held incident is a person's to decide.
pub fn verify_revert(i: &Inputs) -> Report {
    let b = i.baseline;
    let mut ev = VerifyEvidence::new(b, i.argo, i.alert);
    let (mark, _, _) = match deployed(i, &mut ev) {
        Ok(found) => found,
        Err(report) => return *report,
    };
    let pods = revision::workload_pods(i.state, &b.workload);
    let all = revision::Split {
        new: pods.clone(),
        ..revision::Split::default()
    };
    let ends_at = mark.at.saturating_add(i.windows.window).unwrap_or(mark.at);
    ev.observe(&all, mark.at, ends_at);
    let findings: Vec<Finding> = faults_on(i, &all)
        .into_iter()
        .filter(|f| f.fault == b.fault() || f.cause == Some(b.fault()))
        .collect();
    ev.faults = findings.iter().map(evidence::describe).collect();
    let verdict = if i.now < ends_at {
        Verdict::Pending {
            waiting: Waiting::Window { ends_at },
            evidence: ev,
        }
    } else if !findings.is_empty() {
        Verdict::StillFiring {
            findings,
            evidence: ev,
        }
    } else if pods.is_empty() {
        ev.reasons = vec![Inconclusive::NoNewPods.to_string()];
        Verdict::Inconclusive {
            reasons: vec![Inconclusive::NoNewPods],
            evidence: ev,
        }
    } else {
        Verdict::Healthy { evidence: ev }
    };
    Report {
        verdict,
        mark: Some(mark),
    }
}

/// Detection over the new revision's pods only; pod-level findings on those pods.
fn faults_on(i: &Inputs, split: &revision::Split) -> Vec<Finding> {
    if split.new.is_empty() {
        return Vec::new();
    }
    let names: Vec<&str> = split
        .new
        .iter()
        .filter_map(|p| p.metadata.name.as_deref())
        .collect();
    crate::detection::detect(&revision::slice(i.state, &split.new), i.now)
        .into_iter()
        .filter(|f| f.pod.as_deref().is_some_and(|p| names.contains(&p)))
        .filter(|f| f.owner.same_object(&i.baseline.workload))
        .collect()
}

fn at_window_end(
    i: &Inputs,
    split: &revision::Split,
    mark: &DeployMark,
    generation: Option<i64>,
    replicas: Option<i32>,
    mut ev: VerifyEvidence,
) -> Verdict {
    let b = i.baseline;
    let mut reasons = Vec::new();
    if split.new.is_empty() {
        reasons.push(Inconclusive::NoNewPods);
    }
    if b.alert_sourced && i.alert.is_none() {
        reasons.push(Inconclusive::AlertMissing);
    }
    if b.resumed_auto_sync && !i.argo.auto_sync {
        reasons.push(Inconclusive::PausedByOther);
    }
    if !split.later.is_empty() {
        reasons.push(Inconclusive::SecondRollout {
            revisions: split.later.iter().cloned().collect(),
        });
    }
    // A scale (HPA, a person) also bumps the generation; only a spec change with the same
    // replica count is taken as someone else's rollout.
    if let (Some(from), Some(to)) = (mark.generation, generation)
        && to > from
        && replicas == mark.replicas
    {
        reasons.push(Inconclusive::GenerationMoved { from, to });
    }
    if !i.argo.synced(&b.merge_sha) && !i.argo.synced_revisions().is_empty() {
        reasons.push(Inconclusive::Superseded {
            revisions: i.argo.synced_revisions(),
        });
    }
    if !reasons.is_empty() {
        ev.reasons = reasons.iter().map(ToString::to_string).collect();
        return Verdict::Inconclusive {
            reasons,
            evidence: ev,
        };
    }
    match i.alert {
        Some(true) => Verdict::StillFiring {
            findings: Vec::new(),
            evidence: ev,
        },
        _ => Verdict::Healthy { evidence: ev },
    }
}
