//! What a pull request shows, built from the placed fix and the finding it answers (pure).
//! Everything copied from the cluster is escaped by the templates (`forge::body`), not here.

use serde_json::{Value, json};

use crate::checks::CheckResult;
use crate::detection::Finding;
use crate::forge::body::{ChangeView, CheckView, PullRequestView};
use crate::gitops::place::Placed;
use crate::proposal::{Change, Draft};

/// Where the fault catalog lives: one anchor per fault id.
const FAULT_DOCS: &str = "https://github.com/suture-dev/suture/blob/main/docs/faults.md";

/// The Argo CD line of the body: how auto-sync stands while the change is reviewed.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "sync", rename_all = "snake_case")]
pub enum SyncNote {
    Paused { app: String, until: jiff::Timestamp },
    NotAutomated { app: String },
    NotPaused { app: String, why: String },
    DryRun { app: String },
}

impl SyncNote {
    pub fn sentence(&self) -> String {
        match self {
            SyncNote::Paused { app, until } => format!(
                "Auto-sync of {app} is paused while this is reviewed, until {until} at the \
                 latest; suture resumes it on merge or close."
            ),
            SyncNote::NotAutomated { app } => {
                format!("{app} has no automated sync; nothing was paused.")
            }
            SyncNote::NotPaused { app, why } => format!(
                "Auto-sync of {app} was NOT paused: {why}. Argo CD may revert a manual change \
                 while this is open."
            ),
            SyncNote::DryRun { app } => {
                format!("Dry run: suture would pause auto-sync of {app} while this is reviewed.")
            }
        }
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "(not set)".into(),
        other => other.to_string(),
    }
}

fn change_view(c: &Change) -> ChangeView {
    ChangeView {
        field: c.field.clone(),
        from: text(&c.from),
        to: text(&c.to),
    }
}

/// One sentence on what happened, from the finding's typed facts (a renamed field breaks the
/// build, not the PR body).
pub fn root_cause(finding: &Finding) -> String {
    let facts = finding.evidence.facts();
    let mut out = match (&finding.pod, &finding.container) {
        (Some(pod), Some(c)) => format!("Container {c} of pod {pod}: {}", finding.fault),
        (Some(pod), None) => format!("Pod {pod}: {}", finding.fault),
        _ => format!(
            "{} {}: {}",
            finding.subject.kind, finding.subject.name, finding.fault
        ),
    };
    if let Some(reason) = facts.reason() {
        out.push_str(&format!(" (reason {reason}"));
        if let Some(code) = facts.exit_code() {
            out.push_str(&format!(", exit code {code}"));
        }
        out.push(')');
    }
    if let Some(n) = facts.restart_count() {
        out.push_str(&format!(", {n} restarts"));
    }
    out
}

/// The view a pull request body and title are rendered from.
pub fn pull_request(
    draft: &Draft,
    placed: &Placed,
    finding: &Finding,
    sync: &SyncNote,
    checks: &[CheckResult],
) -> PullRequestView {
    let key = draft.key.ledger_key();
    let fault = draft.fault.as_str();
    let changes: Vec<ChangeView> = std::iter::once(&draft.change)
        .chain(&draft.also)
        .map(change_view)
        .collect();
    PullRequestView {
        incident_key: key.clone(),
        fault: fault.to_string(),
        fault_doc: format!("{FAULT_DOCS}#{fault}"),
        kind: draft.target.workload.kind.clone(),
        namespace: draft.target.workload.namespace.clone(),
        name: draft.target.workload.name.clone(),
        container: draft.target.container.clone(),
        summary: draft.summary(),
        root_cause: root_cause(finding),
        evidence: finding.evidence.rows(),
        basis: draft.basis.clone(),
        confidence: draft.confidence.to_string(),
        changes,
        rollback: draft.rollback.changes.iter().map(change_view).collect(),
        rollback_description: draft.rollback.description.clone(),
        application: format!(
            "{}/{}",
            placed.application.namespace, placed.application.name
        ),
        file: placed
            .files
            .first()
            .map(|f| f.path.clone())
            .unwrap_or_default(),
        sync: sync.sentence(),
        verification: "After the merge, suture resumes auto-sync, waits until Argo CD has \
                       deployed the merge commit and watches the new pods for the fault."
            .into(),
        checks: checks
            .iter()
            .map(|c| CheckView {
                name: c.name.clone(),
                result: c.outcome.as_str().to_string(),
                detail: c.detail.clone(),
            })
            .collect(),
        machine: json!({
            "incident": key,
            "fault": fault,
            "primitive": draft.primitive.as_str(),
            "target": draft.target,
            "change": draft.change,
            "also": draft.also,
            "rollback": draft.rollback,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detection::FaultId;
    use crate::detection::evidence::{ContainerBase, ContainerFacts, Evidence, Facts, JobFacts};
    use crate::objref::{ObjectRef, WorkloadKind};

    fn finding(fault: FaultId, pod: Option<&str>, facts: Facts) -> Finding {
        Finding {
            fault,
            namespace: "shop".into(),
            pod: pod.map(str::to_string),
            container: pod.map(|_| "api".to_string()),
            init_container: false,
            cause: None,
            subject: ObjectRef::workload(WorkloadKind::Job, "shop", "nightly"),
            owner: ObjectRef::workload(WorkloadKind::Job, "shop", "nightly"),
            evidence: Evidence::from(facts),
        }
    }

    #[test]
    fn the_root_cause_reads_reason_exit_code_and_restarts_from_the_facts() {
        let oom = Facts::Container(ContainerFacts {
            base: ContainerBase {
                container: "api".into(),
                image: None,
                restart_count: 4,
            },
            exit_code: Some(137),
            reason: Some("OOMKilled".into()),
            ..ContainerFacts::default()
        });
        assert_eq!(
            root_cause(&finding(FaultId::OomKilled, Some("web-1"), oom)),
            "Container api of pod web-1: oom-killed (reason OOMKilled, exit code 137), 4 restarts"
        );
        let job = Facts::Job(JobFacts {
            reason: Some("BackoffLimitExceeded".into()),
            ..JobFacts::default()
        });
        assert_eq!(
            root_cause(&finding(FaultId::JobBackoffLimitExceeded, None, job)),
            "Job nightly: job-backoff-limit-exceeded (reason BackoffLimitExceeded)"
        );
        // No reason stated: no parenthesis, and an exit code alone is not shown.
        let bare = Facts::Container(ContainerFacts {
            exit_code: Some(1),
            ..ContainerFacts::default()
        });
        assert_eq!(
            root_cause(&finding(FaultId::CrashLoopBackOff, Some("web-1"), bare)),
            "Container api of pod web-1: crash-loop-back-off, 0 restarts"
        );
    }
}
