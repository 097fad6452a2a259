//! GitOps: from a workload to the line in Git that declares it.
//!
//! `argocd` finds the Application that owns a workload, `tree` is a snapshot of a repository's
//! files, `locate` decides which file and field to change, `edit` makes the minimal-diff edit,
//! `pause` plans the Argo CD auto-sync pause and resume around a review; `repo` (I/O) keeps a
//! cached mirror per repository and commits and pushes suture's branches.

pub mod argocd;
pub mod drift;
pub mod edit;
pub mod locate;
pub mod pause;
pub mod repo;
pub mod tree;
