//! An index of one repository snapshot, built once per tree (on its first locate) so that 500
//! locates in a 10,000-file repository do not read every file 500 times.
//!
//! The index only narrows the files a locator reads; the locator still parses and checks
//! each candidate as it does on a full scan, so results are the same. Narrowing is by the
//! words a file contains: a YAML or JSON scalar written without escapes appears in the text as
//! a whole word, bounded by characters that cannot continue it (`: `, quotes, spaces, flow
//! indicators). A file holding a backslash may spell a value with escapes, so it is always a
//! candidate; so is every symlink, whose target is resolved when it is read.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use super::super::tree::{Entry, RepoTree};

/// Which files of a tree mention which words.
#[derive(Debug, Default)]
pub(crate) struct RepoIndex {
    /// Paths of the regular files, in the tree's (sorted) order; ids index this.
    files: Vec<String>,
    /// Word -> ids of the files containing it, ascending.
    words: HashMap<Box<str>, Vec<u32>>,
    /// Ids of files with a backslash: escapes can hide any word.
    escaped: Vec<u32>,
    /// Symlink entries, sorted.
    symlinks: Vec<String>,
    /// Source directory -> the files an Application with that directory deploys, filled as
    /// Kustomize locates ask (each asks about every other app of the repository).
    reached: Mutex<HashMap<String, Arc<BTreeSet<String>>>>,
}

/// Characters of a word: those of Kubernetes names and labels (and of YAML plain scalars that
/// could continue such a name), so a name never ends inside a word.
fn is_word_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-')
}

/// True when `word` is made of word characters only, so the index can answer for it.
pub(crate) fn is_word(word: &str) -> bool {
    !word.is_empty() && word.bytes().all(is_word_char)
}

impl RepoIndex {
    pub(crate) fn build(tree: &RepoTree) -> RepoIndex {
        let mut index = RepoIndex::default();
        let mut seen: Vec<&str> = Vec::new();
        for (path, entry) in &tree.entries {
            let text = match entry {
                Entry::File(text) => text,
                Entry::Symlink(_) => {
                    index.symlinks.push(path.clone());
                    continue;
                }
            };
            let id = index.files.len() as u32;
            index.files.push(path.clone());
            if text.contains('\\') {
                index.escaped.push(id);
            }
            seen.clear();
            seen.extend(
                text.split(|c: char| !c.is_ascii() || !is_word_char(c as u8))
                    .filter(|w| !w.is_empty()),
            );
            seen.sort_unstable();
            seen.dedup();
            for word in &seen {
                match index.words.get_mut(*word) {
                    Some(ids) => ids.push(id),
                    None => {
                        index.words.insert((*word).into(), vec![id]);
                    }
                }
            }
        }
        index
    }

    /// Entries (file or symlink paths) under `dir` that may hold `word`, sorted; `None` when
    /// `word` is not something the index can answer for (the caller scans instead).
    pub(crate) fn entries_mentioning(&self, word: &str, dir: &str) -> Option<Vec<&str>> {
        if !is_word(word) || scan_only() {
            return None;
        }
        let ids = self.words.get(word).map_or(&[][..], Vec::as_slice);
        let mut out: BTreeSet<&str> = ids
            .iter()
            .chain(&self.escaped)
            .map(|&id| self.files[id as usize].as_str())
            .collect();
        out.extend(self.symlinks.iter().map(String::as_str));
        Some(
            out.into_iter()
                .filter(|p| super::paths::is_under(p, dir))
                .collect(),
        )
    }

    /// Symlink entries, sorted.
    pub(crate) fn symlinks(&self) -> &[String] {
        &self.symlinks
    }

    /// The files reached from source directory `dir`, computed by `compute` the first time.
    pub(crate) fn reached(
        &self,
        dir: &str,
        compute: impl FnOnce() -> BTreeSet<String>,
    ) -> Arc<BTreeSet<String>> {
        if scan_only() {
            return Arc::new(compute());
        }
        let lock = || self.reached.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(files) = lock().get(dir) {
            return files.clone();
        }
        // Computed without the lock held: the computation reads the tree (and its index).
        let files = Arc::new(compute());
        lock().entry(dir.to_string()).or_insert(files).clone()
    }
}

#[cfg(test)]
thread_local! {
    static SCAN_ONLY: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Tests compare locating through the index with locating by scanning every file.
#[cfg(test)]
fn scan_only() -> bool {
    SCAN_ONLY.get()
}

#[cfg(not(test))]
fn scan_only() -> bool {
    false
}

/// Run `f` with the index unused: every lookup scans, as before the index existed.
#[cfg(test)]
pub(crate) fn scanning<T>(f: impl FnOnce() -> T) -> T {
    SCAN_ONLY.set(true);
    let out = f();
    SCAN_ONLY.set(false);
    out
}

#[cfg(test)]
mod tests;
