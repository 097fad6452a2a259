//! A snapshot of a Git checkout's files, so `locate` stays a pure function.
//!
//! Loading reads the disk (the only I/O here); everything else works on the snapshot.

use std::collections::BTreeMap;
use std::path::Path;
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

    /// Load a checkout from disk, skipping `.git`. Only text files are kept (UTF-8, at most
    /// [`MAX_FILE_BYTES`]); symlinks are recorded with their target and never followed, so a
    /// link out of the checkout cannot make us read outside it.
    pub fn load(root: &Path) -> std::io::Result<RepoTree> {
        let mut tree = RepoTree::default();
        let mut dirs = vec![(root.to_path_buf(), String::new())];
        while let Some((dir, prefix)) = dirs.pop() {
            for entry in std::fs::read_dir(&dir)? {
                let entry = entry?;
                // Names that are not UTF-8 cannot be named in YAML we would edit.
                let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                    continue;
                };
                if name == ".git" {
                    continue;
                }
                let key = if prefix.is_empty() {
                    name
                } else {
                    format!("{prefix}/{name}")
                };
                let file_type = entry.file_type()?;
                if file_type.is_symlink() {
                    if let Some(target) = std::fs::read_link(entry.path())?.to_str() {
                        tree.insert_symlink(key, target);
                    }
                } else if file_type.is_dir() {
                    dirs.push((entry.path(), key));
                } else if file_type.is_file()
                    && entry.metadata()?.len() <= MAX_FILE_BYTES
                    && let Ok(text) = String::from_utf8(std::fs::read(entry.path())?)
                {
                    tree.insert_file(key, text);
                }
            }
        }
        Ok(tree)
    }
}

/// Larger files are not manifests a human edits (and would only cost memory).
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_keeps_text_records_symlinks_and_skips_git() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let root = dir.path();
        std::fs::create_dir_all(root.join("app/sub"))?;
        std::fs::create_dir_all(root.join(".git/objects"))?;
        std::fs::write(root.join("app/sub/deploy.yaml"), "kind: Deployment\n")?;
        std::fs::write(root.join("app/_helpers.tpl"), "{{ define \"x\" }}{{ end }}")?;
        std::fs::write(root.join("app/blob.bin"), [0xff, 0xfe, 0x00])?;
        std::fs::write(
            root.join("app/huge.yaml"),
            vec![b'a'; MAX_FILE_BYTES as usize + 1],
        )?;
        std::fs::write(root.join(".git/HEAD"), "ref: refs/heads/main\n")?;
        std::os::unix::fs::symlink("../../etc", root.join("app/escape"))?;
        std::os::unix::fs::symlink("sub", root.join("app/inside"))?;
        let tree = RepoTree::load(root)?;
        let keys: Vec<&str> = tree.entries.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "app/_helpers.tpl",
                "app/escape",
                "app/inside",
                "app/sub/deploy.yaml"
            ]
        );
        assert_eq!(tree.file("app/sub/deploy.yaml"), Some("kind: Deployment\n"));
        assert_eq!(
            tree.entries.get("app/escape"),
            Some(&Entry::Symlink("../../etc".into()))
        );
        assert_eq!(tree.file("app/inside"), None);
        Ok(())
    }

    #[test]
    fn loads_the_fixture_repos() -> std::io::Result<()> {
        let root = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/gitops-repos/argocd-example-apps"
        );
        let tree = RepoTree::load(Path::new(root))?;
        assert!(
            tree.file("guestbook/guestbook-ui-deployment.yaml")
                .is_some()
        );
        assert!(tree.file("helm-guestbook/templates/_helpers.tpl").is_some());
        assert!(
            tree.entries
                .keys()
                .all(|k| !k.starts_with('/') && !k.contains('\\'))
        );
        Ok(())
    }
}
