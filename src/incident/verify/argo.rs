//! What Argo CD reports about the merge: read from the Application as stored, no client.

use serde::Serialize;
use serde_json::Value;

use crate::gitops::argocd::Application;

/// The Application's sync and operation state, as far as verification reads it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DeployStatus {
    /// `status.operationState.phase` (`Running`, `Succeeded`, `Failed`, `Error`).
    pub operation_phase: Option<String>,
    pub operation_message: Option<String>,
    /// `status.operationState.syncResult.revision` (single source).
    pub sync_revision: Option<String>,
    /// `status.operationState.syncResult.revisions` (multi-source), in source order.
    pub sync_revisions: Vec<String>,
    pub started_at: Option<jiff::Timestamp>,
    pub finished_at: Option<jiff::Timestamp>,
    /// `status.sync.status` (`Synced`, `OutOfSync`, `Unknown`).
    pub sync_status: Option<String>,
    /// `status.sync.revision` / `revisions`: what the app compares against now.
    pub target_revision: Option<String>,
    pub target_revisions: Vec<String>,
    /// False when `spec.syncPolicy.automated` is null/absent or `enabled: false`.
    pub auto_sync: bool,
}

impl DeployStatus {
    pub fn from_application(app: &Application) -> DeployStatus {
        let status = app.status.as_ref();
        let op = status.and_then(|s| s.operation_state.as_ref());
        let sync = status.and_then(|s| s.sync.as_ref());
        let result = op.and_then(|o| o.get("syncResult"));
        let auto_sync = app
            .spec
            .sync_policy
            .as_ref()
            .and_then(|p| p.get("automated"))
            .filter(|a| !a.is_null())
            .is_some_and(|a| a.get("enabled").and_then(Value::as_bool) != Some(false));
        DeployStatus {
            operation_phase: text(op, "phase"),
            operation_message: text(op, "message"),
            sync_revision: text(result, "revision"),
            sync_revisions: texts(result, "revisions"),
            started_at: time(op, "startedAt"),
            finished_at: time(op, "finishedAt"),
            sync_status: text(sync, "status"),
            target_revision: text(sync, "revision"),
            target_revisions: texts(sync, "revisions"),
            auto_sync,
        }
    }

    /// design.md §7's deployed-commit test: the last operation succeeded with the merge sha
    /// (one entry of `revisions` for a multi-source app) and the app is Synced. Health alone is
    /// not enough: a Deployment stays Healthy while its pods crash.
    pub fn deployed(&self, merge_sha: &str) -> bool {
        self.operation_phase.as_deref() == Some("Succeeded")
            && self.sync_status.as_deref() == Some("Synced")
            && self.synced(merge_sha)
    }

    /// Whether the last sync result names `sha` (whatever its phase).
    pub fn synced(&self, sha: &str) -> bool {
        self.sync_revision
            .iter()
            .chain(&self.sync_revisions)
            .any(|r| same_sha(r, sha))
    }

    /// The revisions the last sync applied, for people.
    pub fn synced_revisions(&self) -> Vec<String> {
        self.sync_revision
            .iter()
            .chain(&self.sync_revisions)
            .cloned()
            .collect()
    }
}

/// Full shas only: a prefix match could name another commit.
fn same_sha(a: &str, b: &str) -> bool {
    !a.is_empty() && a.eq_ignore_ascii_case(b)
}

fn text(v: Option<&Value>, key: &str) -> Option<String> {
    v?.get(key)?.as_str().map(str::to_owned)
}

fn texts(v: Option<&Value>, key: &str) -> Vec<String> {
    v.and_then(|v| v.get(key))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| r.as_str().map(str::to_owned))
        .collect()
}

fn time(v: Option<&Value>, key: &str) -> Option<jiff::Timestamp> {
    text(v, key)?.parse().ok()
}
