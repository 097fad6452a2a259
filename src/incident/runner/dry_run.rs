//! The server-side dry run, I/O part: sends the draft's strategic merge patch to the workload
//! cluster with `dryRun=All` and hands the answer to [`crate::checks::dry_run::interpret`].
//!
//! suture never sends a workload a patch that is not a dry run: Git is the only way its
//! changes reach a workload. The one `PatchParams` this module uses comes from [`params`],
//! which always sets `dry_run` (asserted before every send, and by a unit test). RBAC cannot
//! tell a dry-run patch from a real one, which is why `deploy/rbac.yaml` grants `patch` on the
//! workload kinds.

use std::time::Duration;

use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};

use crate::checks::CheckResult;
use crate::checks::dry_run::{self, Answer, DryRunPatch};
use crate::proposal::Draft;

/// The field manager the API server records for suture's requests.
const FIELD_MANAGER: &str = "suture";

/// An API server that does not answer within this (wall) time is an outage for the check.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The parameters of every workload patch suture sends: always a dry run.
pub(crate) fn params() -> PatchParams {
    PatchParams {
        dry_run: true,
        field_manager: Some(FIELD_MANAGER.to_string()),
        ..PatchParams::default()
    }
}

/// The `dry_run` check for `draft`: skipped without a workload client or when the change
/// cannot be written as a strategic merge patch.
pub(crate) async fn check(client: Option<&kube::Client>, draft: &Draft) -> CheckResult {
    let Some(client) = client else {
        return dry_run::skipped("no workload client");
    };
    let patch = match dry_run::patch_for_draft(draft) {
        Ok(p) => p,
        Err(why) => return dry_run::skipped(why),
    };
    let answer = send(client, &patch).await;
    dry_run::interpret(&answer)
}

/// PATCH `?dryRun=All&fieldManager=suture` with the strategic merge patch.
async fn send(client: &kube::Client, patch: &DryRunPatch) -> Answer {
    let kind = patch.kind.kind();
    let gvk = GroupVersionKind::gvk(patch.kind.group(), "v1", kind);
    let resource =
        ApiResource::from_gvk_with_plural(&gvk, &format!("{}s", kind.to_ascii_lowercase()));
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &patch.namespace, &resource);
    let params = params();
    assert!(
        params.dry_run,
        "suture sends workloads dry-run patches only"
    );
    let body = Patch::Strategic(&patch.body);
    let sent = api.patch(&patch.name, &params, &body);
    match tokio::time::timeout(TIMEOUT, sent).await {
        Ok(Ok(_)) => Answer::Accepted,
        Ok(Err(kube::Error::Api(status))) => Answer::Rejected {
            code: status.code,
            reason: status.reason.clone(),
            message: status.message.clone(),
        },
        Ok(Err(e)) => Answer::Unreachable(e.to_string()),
        Err(_) => Answer::Unreachable(format!("no answer within {}s", TIMEOUT.as_secs())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_workload_patch_is_a_dry_run() {
        let p = params();
        assert!(p.dry_run);
        assert_eq!(p.field_manager.as_deref(), Some("suture"));
        assert!(!p.force);
    }
}
