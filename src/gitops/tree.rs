//! A snapshot of a Git checkout's files, so `locate` stays a pure function. Reading a checkout
//! from disk is the edge's job (`inputs::load_tree`).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use super::locate::index::RepoIndex;

/// One entry of a repository tree, keyed by its `/`-separated path from the repo root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entry {
    /// A regular file with its text (files that are not UTF-8 are skipped when loading).
    File(String),
    /// A symlink and its raw target, as stored; `locate` refuses targets leaving the repo.
    Symlink(String),
}

/// The files of one repository checkout (YAML, JSON and the few other text files Argo CD
/// reads: `.argocd-source*.yaml`, chart templates).
///
/// `locate` builds an index of the files on first use and keeps it for the life of the tree,
/// so a plan reads each repository once however many fixes it places. Change the files
/// through the methods here, which drop the index; after writing to `entries` directly, call
/// [`RepoTree::reindex`].
#[derive(Default)]
pub struct RepoTree {
    pub entries: BTreeMap<String, Entry>,
    index: OnceLock<RepoIndex>,
}

// The index is derived from the files: a copy starts without one, and equality, like the
// debug output, is that of the files.
impl Clone for RepoTree {
    fn clone(&self) -> RepoTree {
        RepoTree {
            entries: self.entries.clone(),
            index: OnceLock::new(),
        }
    }
}

impl std::fmt::Debug for RepoTree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RepoTree")
            .field("entries", &self.entries)
            .finish_non_exhaustive()
    }
}

impl PartialEq for RepoTree {
    fn eq(&self, other: &RepoTree) -> bool {
        self.entries == other.entries
    }
}

impl Eq for RepoTree {}

impl RepoTree {
    /// An empty tree, usable in a `static`.
    pub const fn new() -> RepoTree {
        RepoTree {
            entries: BTreeMap::new(),
            index: OnceLock::new(),
        }
    }

    /// Forget the index (it is rebuilt on next use): for after changing `entries` directly.
    pub fn reindex(&mut self) {
        self.index = OnceLock::new();
    }

    /// The index of the files, built on first use.
    pub(crate) fn index(&self) -> &RepoIndex {
        self.index.get_or_init(|| RepoIndex::build(self))
    }

    pub fn file(&self, path: &str) -> Option<&str> {
        match self.entries.get(path) {
            Some(Entry::File(text)) => Some(text),
            _ => None,
        }
    }

    pub fn insert_file(&mut self, path: impl Into<String>, text: impl Into<String>) {
        self.reindex();
        self.entries.insert(path.into(), Entry::File(text.into()));
    }

    pub fn insert_symlink(&mut self, path: impl Into<String>, target: impl Into<String>) {
        self.reindex();
        self.entries
            .insert(path.into(), Entry::Symlink(target.into()));
    }

    /// Remove a file or symlink; returns what was there.
    pub fn remove(&mut self, path: &str) -> Option<Entry> {
        self.reindex();
        self.entries.remove(path)
    }
}
