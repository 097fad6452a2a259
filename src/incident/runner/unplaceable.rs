//! Why a sighting gets no fix in Git: every reason escalates. One type for the runner, built
//! on the core's [`PlaceError`]; it becomes text only in the `escalated` hop.

use crate::gitops::place::PlaceError;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum Unplaceable {
    #[error("{kind} is a forbidden kind (policy.forbidden_kinds): suture does not change it")]
    ForbiddenKind { kind: String },
    /// The proposal's own escalation reason (`proposal::propose` refused or found no fix).
    #[error("{0}")]
    Refused(String),
    /// Placement said no (no Application, a change spanning repositories, drift, an edit).
    #[error(transparent)]
    Place(PlaceError),
    #[error("no forge is configured for {url}: suture cannot open a pull request there")]
    NoForge { url: String },
    #[error(
        "{url} has no branch {branch} (the Application's targetRevision): a pull request needs a branch to target"
    )]
    NoBranch { url: String, branch: String },
    /// Placement named a repository suture did not check out (a bug, not an input).
    #[error("{url} was not fetched")]
    NotFetched { url: String },
    #[error("the fix reads more repositories than suture fetches")]
    TooManyRepositories,
    #[error("no finding")]
    NoFinding,
    /// A check against the live cluster failed: its sentence (`checks::failure`).
    #[error("{0}")]
    CheckFailed(String),
}
