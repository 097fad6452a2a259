//! Locate: from an Application's source and its repository files to the exact file and field
//! that declares a workload's value. Pure: the repo snapshot comes in as a `RepoTree`.

use serde::Serialize;

use super::argocd::{Application, WorkloadId};
use super::edit::YamlEdit;
use super::tree::RepoTree;

/// What is to be changed on the workload's pod template.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum FieldTarget {
    /// A field under the container, e.g. `["resources", "limits", "memory"]` or
    /// `["startupProbe"]`. `value` is the full new value at that path.
    Container {
        field: Vec<String>,
        value: serde_json::Value,
    },
    /// The container image, from `current` (the live image) to `desired` (a full reference).
    /// Written where the image is declared: manifest, Kustomize `images[]`, Helm values.
    Image { current: String, desired: String },
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LocateRequest {
    pub workload: WorkloadId,
    pub container: String,
    /// The container is in `initContainers`.
    pub init_container: bool,
    pub target: FieldTarget,
}

/// One change to the repository.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum FileChange {
    /// Edit an existing file in place.
    Edit { file: String, edit: YamlEdit },
    /// Create a new file (e.g. an overlay patch when the value lives in a shared base).
    Create { file: String, content: String },
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Located {
    /// The repoURL of the source the change goes to.
    pub repo_url: String,
    /// Changes, applied in order; the first one is the file a reviewer looks at.
    pub changes: Vec<FileChange>,
    /// Why this place (e.g. "Helm valueFiles values-prod.yaml sets resources.limits.memory").
    pub why: String,
}

/// Why no file could be chosen; every variant becomes an escalation a human can act on.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LocateError {
    #[error("no checkout given for repository {0}")]
    NoRepo(String),
    #[error("the value is not declared in Git: {0}")]
    NotInGit(String),
    #[error("workload not found in the application's source: {0}")]
    NotFound(String),
    #[error("refused: {0}")]
    Refused(String),
    #[error("source type not supported: {0}")]
    Unsupported(String),
}

/// Locate where to write `req` for `app`. `repo_for` maps a source repoURL to its checkout;
/// `all_apps` tells which Kustomize bases are shared with other apps.
pub fn locate<'a>(
    app: &Application,
    all_apps: &[Application],
    repo_for: &dyn Fn(&str) -> Option<&'a RepoTree>,
    req: &LocateRequest,
) -> Result<Located, LocateError> {
    let _ = (app, all_apps, repo_for, req);
    Err(LocateError::Unsupported("not implemented".into()))
}
