//! GitOps: from a workload to the line in Git that declares it.
//!
//! `argocd` finds the Application that owns a workload, `tree` is a snapshot of a repository's
//! files, `locate` decides which file and field to change, `drift` checks Git against the live
//! value, `edit` makes the minimal-diff edit, `compose` applies several edits and diffs them,
//! and `place` runs all of it for one proposal. `pause` plans the Argo CD auto-sync pause and
//! resume around a review; `repo` (I/O) keeps a cached mirror per repository and commits and
//! pushes suture's branches.

pub mod argocd;
pub mod compose;
pub mod drift;
pub mod edit;
pub mod locate;
pub mod pause;
pub mod place;
pub mod repo;
pub mod revert;
pub mod sync;
pub mod tree;
