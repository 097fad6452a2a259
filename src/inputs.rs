//! Reading `plan`'s inputs from disk: state files and directories, repo checkouts.
//! The only file I/O of the offline path; everything after is pure.

use std::path::{Path, PathBuf};

use crate::cluster::{Ready, Tables};
use crate::gitops::argocd::normalize_repo_url;
use crate::gitops::tree::RepoTree;
use crate::plan::Repos;
use crate::snapshot::{self, Streamed};
use crate::state::{ClusterState, StateError};

/// The state files under `path`: the file itself, or every `.yaml`/`.yml`/`.json` below a
/// directory, in a stable order.
fn state_files(path: &Path) -> Result<Vec<PathBuf>, StateError> {
    let unreadable = |reason: String| StateError::Unreadable {
        file: path.display().to_string(),
        reason,
    };
    let meta = std::fs::metadata(path).map_err(|e| unreadable(e.to_string()))?;
    if meta.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut out = Vec::new();
    let mut dirs = vec![path.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).map_err(|e| unreadable(e.to_string()))? {
            let p = entry.map_err(|e| unreadable(e.to_string()))?.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"))
            {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Load every state path into the tables `plan` reads. Unreadable files are returned as
/// errors (the rest still loads); objects that do not decode are returned as warnings.
pub fn load_snapshot(paths: &[PathBuf]) -> (Tables, Vec<StateError>, Vec<String>) {
    let mut parts = Vec::new();
    let (mut errors, mut warnings) = (Vec::new(), Vec::new());
    for path in paths {
        let files = match state_files(path) {
            Ok(f) => f,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        for file in files {
            match load_file(&file) {
                Ok((p, w)) => {
                    parts.extend(p);
                    warnings.extend(w);
                }
                Err(e) => errors.push(e),
            }
        }
    }
    (Tables::of_snapshot(parts), errors, warnings)
}

/// One state file: a JSON List streamed and decoded on every core, anything else read whole.
fn load_file(file: &Path) -> Result<(Vec<Ready>, Vec<String>), StateError> {
    let name = file.display().to_string();
    let unreadable = |e: std::io::Error| StateError::Unreadable {
        file: name.clone(),
        reason: e.to_string(),
    };
    let reader = std::fs::File::open(file).map_err(unreadable)?;
    if let Streamed::List { parts, problems } = snapshot::read_json(reader).map_err(unreadable)? {
        let problems = problems.into_iter().map(|p| format!("{name}: {p}"));
        return Ok((parts, problems.collect()));
    }
    let text = std::fs::read_to_string(file).map_err(unreadable)?;
    let mut state = ClusterState::default();
    let problems = state.add_text(&name, &text)?;
    Ok((vec![Ready::of(state)], problems))
}

/// A `--repo` argument whose checkout cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("--repo {arg}: cannot read {dir}: {source}")]
pub struct RepoArgError {
    pub arg: String,
    pub dir: String,
    #[source]
    pub source: std::io::Error,
}

/// `--repo URL=DIR` or `--repo DIR`.
pub fn load_repos(args: &[String]) -> Result<Repos, RepoArgError> {
    let mut repos = Repos::default();
    for arg in args {
        // A URL contains "://" or "@host:"; split at the last '=' so DIR may not contain '='.
        let (url, dir) = match arg.rsplit_once('=') {
            Some((u, d)) if !u.is_empty() => (Some(u), d),
            _ => (None, arg.as_str()),
        };
        let tree = load_tree(Path::new(dir)).map_err(|source| RepoArgError {
            arg: arg.clone(),
            dir: dir.to_string(),
            source,
        })?;
        match url {
            Some(u) => {
                repos.by_url.insert(normalize_repo_url(u), tree);
            }
            None => repos.fallback = Some(tree),
        }
    }
    Ok(repos)
}

/// Load a checkout from disk, skipping `.git`. Only text files are kept (UTF-8, at most
/// [`MAX_FILE_BYTES`]); symlinks are recorded with their target and never followed, so a
/// link out of the checkout cannot make us read outside it.
pub fn load_tree(root: &Path) -> std::io::Result<RepoTree> {
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

/// Larger files are not manifests a human edits (and would only cost memory).
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gitops::tree::Entry;

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
        let tree = load_tree(root)?;
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
        let tree = load_tree(Path::new(root))?;
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
