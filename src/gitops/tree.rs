//! A snapshot of a Git checkout's files, so `locate` stays a pure function. Reading a checkout
//! from disk is the edge's job (`inputs::load_tree`).

use std::collections::BTreeMap;

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
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RepoTree {
    pub entries: BTreeMap<String, Entry>,
}

impl RepoTree {
    pub fn file(&self, path: &str) -> Option<&str> {
        match self.entries.get(path) {
            Some(Entry::File(text)) => Some(text),
            _ => None,
        }
    }

    pub fn insert_file(&mut self, path: impl Into<String>, text: impl Into<String>) {
        self.entries.insert(path.into(), Entry::File(text.into()));
    }

    pub fn insert_symlink(&mut self, path: impl Into<String>, target: impl Into<String>) {
        self.entries
            .insert(path.into(), Entry::Symlink(target.into()));
    }
}
