//! Reading `plan`'s inputs from disk: state files and directories, repo checkouts.
//! The only file I/O of the offline path; everything after is pure.

use std::path::{Path, PathBuf};

use crate::gitops::argocd::normalize_repo_url;
use crate::gitops::tree::RepoTree;
use crate::plan::Repos;
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

/// Load every state path. Unreadable files are returned as errors (the rest still loads);
/// objects that do not decode are returned as warnings.
pub fn load_state(paths: &[PathBuf]) -> (ClusterState, Vec<StateError>, Vec<String>) {
    let mut state = ClusterState::default();
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
            let name = file.display().to_string();
            match std::fs::read_to_string(&file) {
                Ok(text) => match state.add_text(&name, &text) {
                    Ok(w) => warnings.extend(w),
                    Err(e) => errors.push(e),
                },
                Err(e) => errors.push(StateError::Unreadable {
                    file: name,
                    reason: e.to_string(),
                }),
            }
        }
    }
    (state, errors, warnings)
}

/// `--repo URL=DIR` or `--repo DIR`.
pub fn load_repos(args: &[String]) -> Result<Repos, String> {
    let mut repos = Repos::default();
    for arg in args {
        // A URL contains "://" or "@host:"; split at the last '=' so DIR may not contain '='.
        let (url, dir) = match arg.rsplit_once('=') {
            Some((u, d)) if !u.is_empty() => (Some(u), d),
            _ => (None, arg.as_str()),
        };
        let tree = RepoTree::load(Path::new(dir))
            .map_err(|e| format!("--repo {arg}: cannot read {dir}: {e}"))?;
        match url {
            Some(u) => {
                repos.by_url.insert(normalize_repo_url(u), tree);
            }
            None => repos.fallback = Some(tree),
        }
    }
    Ok(repos)
}
