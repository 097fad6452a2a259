//! Checks before the PR (design §7): pure functions of the cluster slice, the draft's changes
//! and the target workload's pod template. Each returns a [`CheckResult`] naming the values it
//! used, so a reviewer can verify it.

pub mod dry_run;
pub mod limit_range;
pub mod node_fit;
pub mod resource_quota;

use k8s_openapi::api::core::v1::PodSpec;

use crate::forge::body::escape_markdown;
use crate::proposal::{Change, Draft};
use crate::quantity::Quantity;
use crate::state::ClusterState;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckOutcome {
    Passed,
    Failed,
    Skipped,
}

impl CheckOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckOutcome::Passed => "passed",
            CheckOutcome::Failed => "failed",
            CheckOutcome::Skipped => "skipped",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckResult {
    pub name: String,
    pub outcome: CheckOutcome,
    pub detail: String,
}

impl CheckResult {
    pub fn new(name: &str, outcome: CheckOutcome, detail: impl Into<String>) -> CheckResult {
        CheckResult {
            name: name.to_string(),
            outcome,
            detail: detail.into(),
        }
    }
}

/// A resource value a draft sets on its container: `kind` is `requests` or `limits`,
/// `resource` is `memory`, `cpu`, ...
#[derive(Clone, Debug, PartialEq)]
pub struct ResourceChange {
    pub kind: String,
    pub resource: String,
    pub from: Option<Quantity>,
    pub to: Quantity,
    pub to_text: String,
}

/// The resource changes among `changes` (fields ending in `resources.<kind>.<resource>`).
pub fn resource_changes(changes: &[&Change]) -> Vec<ResourceChange> {
    changes
        .iter()
        .filter_map(|c| {
            let rest = c.field.rsplit_once("].resources.")?.1;
            let (kind, resource) = rest.split_once('.')?;
            let to_text = c.to.as_str()?.to_string();
            let to = Quantity::parse(&to_text).ok()?.0;
            let from = c
                .from
                .as_str()
                .and_then(|s| Quantity::parse(s).ok())
                .map(|q| q.0);
            Some(ResourceChange {
                kind: kind.to_string(),
                resource: resource.to_string(),
                from,
                to,
                to_text,
            })
        })
        .collect()
}

/// The pure checks for `draft` on `slice`.
pub fn run(slice: &ClusterState, draft: &Draft) -> Vec<CheckResult> {
    let changes: Vec<&Change> = std::iter::once(&draft.change)
        .chain(draft.also.iter())
        .collect();
    let changes = resource_changes(&changes);
    let ns = &draft.target.workload.namespace;
    let spec = crate::proposal::workload::pod_spec(slice, ns, &draft.target.workload)
        .map(|(s, _)| s)
        .unwrap_or_default();
    vec![
        node_fit::check(slice, &spec, &draft.target.container, &changes),
        limit_range::check(slice, ns, &changes),
        resource_quota::check(
            slice,
            &draft.target.workload,
            &spec,
            &draft.target.container,
            draft.target.init_container,
            &changes,
        ),
    ]
}

/// The first failed check as an escalation reason.
pub fn failure(results: &[CheckResult]) -> Option<String> {
    results
        .iter()
        .find(|r| r.outcome == CheckOutcome::Failed)
        .map(|r| format!("check {} failed: {}", r.name, r.detail))
}

/// The `Checks` table for the PR body.
pub fn render_table(results: &[CheckResult]) -> String {
    let mut out = String::from("| check | result | detail |\n|---|---|---|\n");
    for r in results {
        out.push_str(&format!(
            "| {} | {} | {} |\n",
            escape_markdown(&r.name, 80),
            r.outcome.as_str(),
            escape_markdown(&r.detail, 600)
        ));
    }
    out
}

/// Millis of a quantity in the container's requests (0 when unset).
pub(crate) fn spec_request_millis(spec: &PodSpec, resource: &str) -> i128 {
    spec.containers
        .iter()
        .filter_map(|c| c.resources.as_ref()?.requests.as_ref()?.get(resource))
        .filter_map(|q| Quantity::parse(&q.0).ok())
        .map(|q| q.0.millis())
        .sum()
}

/// A quantity for a detail line: bytes for memory (`Display`), millicores for cpu.
pub(crate) fn show(resource: &str, millis: i128) -> String {
    if resource == "cpu" {
        format!("{millis}m")
    } else {
        Quantity::from_millis(millis).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_escapes_detail() {
        let t = render_table(&[CheckResult::new(
            "node_fit",
            CheckOutcome::Failed,
            "no node | fits *now*",
        )]);
        assert!(
            t.contains("| node\\_fit | failed | no node \\| fits \\*now\\* |"),
            "{t}"
        );
        assert_eq!(
            failure(&[CheckResult::new(
                "limit_range",
                CheckOutcome::Failed,
                "max 1Gi"
            )]),
            Some("check limit_range failed: max 1Gi".into())
        );
    }
}
