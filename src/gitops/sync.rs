//! Argo CD auto-sync pause and resume against the API server (I/O). The decisions are
//! `gitops::pause`'s (pure); this module sends its JSON Patches, reads the Application back and
//! retries in the older mode when a pre-3.1 CRD drops `automated.enabled`.
//!
//! Every patch starts with a `test` op of the policy suture read, so a person's concurrent edit
//! makes the API server refuse the patch (422) instead of being overwritten.

use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams};
use kube::core::GroupVersionKind;
use serde_json::Value;

use crate::gitops::argocd::ApplicationSet;
use crate::gitops::pause::{self, PauseMode, PausePlan, PauseRecord, PauseRefusal, ReadBack};
use crate::gitops::place::AppRef;

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("Application {0} not found")]
    NotFound(String),
    /// The policy changed between read and patch (the `test` op failed): read again.
    #[error("Application {0} changed while suture patched it")]
    Conflict(String),
    #[error("Application {app}: {reason}")]
    NotPaused { app: String, reason: ReadBack },
    /// Network errors and 5xx: worth retrying.
    #[error("Kubernetes API: {0}")]
    Api(#[source] kube::Error),
}

impl SyncError {
    pub fn is_transient(&self) -> bool {
        match self {
            SyncError::Conflict(_) => true,
            SyncError::Api(kube::Error::Api(s)) => s.code >= 500 || s.code == 429,
            SyncError::Api(_) => true,
            _ => false,
        }
    }
}

/// What a pause did.
#[derive(Clone, Debug, PartialEq)]
pub enum Paused {
    /// Auto-sync is off now (or was already, by suture for this incident).
    Paused(PauseRecord),
    /// Auto-sync was not on: nothing paused, nothing to resume.
    NotAutomated,
    /// Not paused, and the pull request says why.
    Refused(PauseRefusal),
}

/// What a resume did.
#[derive(Clone, Debug, PartialEq)]
pub enum Resumed {
    /// The prior policy is back, verbatim.
    Restored,
    /// A person changed the policy during the pause: theirs stays, suture's record is removed.
    LeftAsChanged(Value),
    /// Nothing of this incident's to undo.
    NotPaused,
}

/// The Applications of one Argo CD instance (which may be another cluster than the workloads').
#[derive(Clone)]
pub struct ArgoApps {
    client: kube::Client,
    resource: ApiResource,
}

impl ArgoApps {
    pub fn new(client: kube::Client) -> ArgoApps {
        let gvk = GroupVersionKind::gvk("argoproj.io", "v1alpha1", "Application");
        ArgoApps {
            client,
            resource: ApiResource::from_gvk_with_plural(&gvk, "applications"),
        }
    }

    fn api(&self, namespace: &str) -> Api<DynamicObject> {
        Api::namespaced_with(self.client.clone(), namespace, &self.resource)
    }

    /// The Application as JSON, as the API server has it now.
    pub async fn get(&self, app: &AppRef) -> Result<Value, SyncError> {
        match self.api(&app.namespace).get(&app.name).await {
            Ok(obj) => {
                serde_json::to_value(obj).map_err(|e| SyncError::Api(kube::Error::SerdeError(e)))
            }
            Err(kube::Error::Api(s)) if s.code == 404 => Err(SyncError::NotFound(name(app))),
            Err(e) => Err(SyncError::Api(e)),
        }
    }

    async fn patch(&self, app: &AppRef, patch: json_patch::Patch) -> Result<Value, SyncError> {
        let params = PatchParams::default();
        match self
            .api(&app.namespace)
            .patch(&app.name, &params, &Patch::<()>::Json(patch))
            .await
        {
            Ok(obj) => {
                serde_json::to_value(obj).map_err(|e| SyncError::Api(kube::Error::SerdeError(e)))
            }
            Err(kube::Error::Api(s)) if s.code == 404 => Err(SyncError::NotFound(name(app))),
            // A failed `test` op: someone changed the policy after suture read it.
            Err(kube::Error::Api(s)) if s.code == 422 || s.code == 409 => {
                Err(SyncError::Conflict(name(app)))
            }
            Err(e) => Err(SyncError::Api(e)),
        }
    }

    /// Pause auto-sync of `app` for `incident` (design.md §6): the 3.1 `enabled: false` flag,
    /// read back; where the CRD drops the flag, `automated: null` with the prior object kept.
    pub async fn pause(
        &self,
        app: &AppRef,
        appsets: &[ApplicationSet],
        incident: &str,
        now: jiff::Timestamp,
        expires_at: jiff::Timestamp,
    ) -> Result<Paused, SyncError> {
        let mut mode = PauseMode::EnabledFlag;
        loop {
            let current = self.get(app).await?;
            let (patch, record) =
                match pause::plan_pause(&current, appsets, mode, incident, now, expires_at) {
                    PausePlan::Patch { patch, record } => (patch, record),
                    PausePlan::NotAutomated => return Ok(Paused::NotAutomated),
                    PausePlan::AlreadyPaused(record) => return Ok(Paused::Paused(record)),
                    PausePlan::Refused(why) => return Ok(Paused::Refused(why)),
                };
            let after = self.patch(app, patch).await?;
            match pause::confirm(&after, &record) {
                Ok(()) => return Ok(Paused::Paused(record)),
                Err(ReadBack::FlagDropped) if mode == PauseMode::EnabledFlag => {
                    mode = PauseMode::NullAutomated;
                }
                Err(reason) => {
                    return Err(SyncError::NotPaused {
                        app: name(app),
                        reason,
                    });
                }
            }
        }
    }

    /// Resume auto-sync of `app` paused for `incident`: the prior policy restored verbatim,
    /// guarded by a `test` of the paused state.
    pub async fn resume(&self, app: &AppRef, incident: &str) -> Result<Resumed, SyncError> {
        let current = self.get(app).await?;
        match pause::plan_resume(&current, incident) {
            pause::ResumePlan::Patch(patch) => {
                self.patch(app, patch).await?;
                Ok(Resumed::Restored)
            }
            pause::ResumePlan::ChangedSince { patch, current } => {
                self.patch(app, patch).await?;
                Ok(Resumed::LeftAsChanged(current))
            }
            pause::ResumePlan::NotPaused
            | pause::ResumePlan::OtherIncident(_)
            | pause::ResumePlan::Unreadable(_) => Ok(Resumed::NotPaused),
        }
    }
}

fn name(app: &AppRef) -> String {
    format!("{}/{}", app.namespace, app.name)
}
