//! A Git remote for tests: bare repositories on disk served over smart HTTP by the system
//! `git http-backend`, with token auth like GitHub's, plus Rust helpers (seed, read, merge) that
//! the forge simulators and scenarios use.
//!
//! The server runs on its own thread and Tokio runtime, so blocking clients (git2, the `git` CLI)
//! can be driven from any test, sync or async, without starving it.

mod auth;
mod http;
mod repo;

pub use auth::{Credential, Tokens};
pub use http::GitServer;
pub use repo::{CommitInfo, MergeMethod, MergeOutcome, RepoStore};

/// Errors of the repository helpers; callers branch on these (e.g. a missing ref is a 404/422).
#[derive(Debug, thiserror::Error)]
pub enum GitSimError {
    #[error("invalid repository name {0:?} (want owner/name)")]
    InvalidRepoName(String),
    #[error("repository {0} not found")]
    RepoNotFound(String),
    #[error("repository {0} already exists")]
    RepoExists(String),
    #[error("invalid ref name {0:?}")]
    InvalidRef(String),
    #[error("ref {0} not found")]
    RefNotFound(String),
    #[error("ref {0} already exists")]
    RefExists(String),
    #[error("object {0} not found")]
    ObjectNotFound(String),
    #[error("update of {0} is not a fast-forward")]
    NotFastForward(String),
    #[error("ref {0} moved while it was being updated")]
    RefMoved(String),
    #[error("invalid file path {0:?}")]
    InvalidPath(String),
    #[error(transparent)]
    Git(#[from] git2::Error),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}
