//! Repo-relative path arithmetic that never leaves the repository. Argo CD refuses to render a
//! source whose paths or symlinks point outside the checkout; so do we, before reading.

use std::collections::VecDeque;

use super::LocateError;
use crate::gitops::tree::{Entry, RepoTree};

/// Symlink hops before a path is taken for a loop (Linux's own limit).
const MAX_HOPS: usize = 40;

/// `rel` resolved against the directory `base` ("" = repo root), without `.`/`..`. A leading
/// `/` means the repo root, as for Argo CD's `path` and value files.
pub(crate) fn join(base: &str, rel: &str) -> Result<String, LocateError> {
    let start = if rel.starts_with('/') { "" } else { base };
    let mut parts: Vec<&str> = Vec::new();
    for seg in start.split('/').chain(rel.split('/')) {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(outside(&format!("{base}/{rel}")));
                }
            }
            s => parts.push(s),
        }
    }
    Ok(parts.join("/"))
}

/// Like [`join`], but an absolute path is a path on the repo server's disk (Kustomize
/// resources), which is outside the repository.
pub(crate) fn join_relative(base: &str, rel: &str) -> Result<String, LocateError> {
    if rel.starts_with('/') {
        return Err(LocateError::Refused(format!(
            "absolute path {rel} points outside the repository"
        )));
    }
    join(base, rel)
}

pub(crate) fn child(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

pub(crate) fn file_name(path: &str) -> &str {
    path.rsplit_once('/').map_or(path, |(_, name)| name)
}

/// `path` relative to directory `dir` (for `patches: - path: x.yaml` entries).
pub(crate) fn relative_to(dir: &str, path: &str) -> String {
    if dir.is_empty() {
        return path.to_string();
    }
    let d: Vec<&str> = dir.split('/').collect();
    let p: Vec<&str> = path.split('/').collect();
    let common = d.iter().zip(&p).take_while(|(a, b)| a == b).count();
    let mut out: Vec<&str> = vec![".."; d.len() - common];
    out.extend(&p[common..]);
    out.join("/")
}

fn outside(path: &str) -> LocateError {
    LocateError::Refused(format!("path {path} resolves outside the repository"))
}

/// `path` with every symlink on the way resolved, as the OS would, refusing links that leave
/// the repository (absolute targets included: they point at the repo server's disk).
pub(crate) fn canonical(tree: &RepoTree, path: &str) -> Result<String, LocateError> {
    let mut todo: VecDeque<String> = path.split('/').map(str::to_string).collect();
    let mut done: Vec<String> = Vec::new();
    let mut hops = 0;
    while let Some(seg) = todo.pop_front() {
        match seg.as_str() {
            "" | "." => continue,
            ".." => {
                if done.pop().is_none() {
                    return Err(outside(path));
                }
                continue;
            }
            _ => done.push(seg),
        }
        let current = done.join("/");
        if let Some(Entry::Symlink(target)) = tree.entries.get(&current) {
            hops += 1;
            if hops > MAX_HOPS {
                return Err(LocateError::Refused(format!("symlink loop at {current}")));
            }
            if target.starts_with('/') {
                return Err(LocateError::Refused(format!(
                    "symlink {current} -> {target} points outside the repository"
                )));
            }
            done.pop();
            let base = done.join("/");
            if join(&base, target).is_err() {
                return Err(LocateError::Refused(format!(
                    "symlink {current} -> {target} points outside the repository"
                )));
            }
            for t in target.split('/').rev() {
                todo.push_front(t.to_string());
            }
        }
    }
    Ok(done.join("/"))
}

/// Refuse a source directory holding a symlink that leaves the repository (Argo CD refuses to
/// render such a repository).
pub(crate) fn check_symlinks_under(tree: &RepoTree, dir: &str) -> Result<(), LocateError> {
    for path in tree.index().symlinks() {
        if is_under(path, dir) {
            canonical(tree, path)?;
        }
    }
    Ok(())
}

pub(crate) fn is_under(path: &str, dir: &str) -> bool {
    dir.is_empty()
        || path
            .strip_prefix(dir)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// The text of the file at `path` (symlinks resolved) and its real path; `None` if absent.
pub(crate) fn read<'t>(
    tree: &'t RepoTree,
    path: &str,
) -> Result<Option<(String, &'t str)>, LocateError> {
    let real = canonical(tree, path)?;
    Ok(tree.file(&real).map(|text| (real, text)))
}

/// Files in `dir` (and its subdirectories with `recurse`), as paths relative to `dir`, sorted.
/// Symlinked files are listed under their link name; read them with [`read`].
pub(crate) fn list(tree: &RepoTree, dir: &str, recurse: bool) -> Vec<String> {
    let mut out = Vec::new();
    for path in entries_under(tree, dir) {
        let rel = if dir.is_empty() {
            path.as_str()
        } else {
            &path[dir.len() + 1..]
        };
        if recurse || !rel.contains('/') {
            out.push(rel.to_string());
        }
    }
    out
}

/// Paths of the entries under `dir`, sorted: one range of the sorted tree.
fn entries_under<'t>(tree: &'t RepoTree, dir: &str) -> impl Iterator<Item = &'t String> {
    let prefix = if dir.is_empty() {
        String::new()
    } else {
        format!("{dir}/")
    };
    tree.entries
        .range(prefix.clone()..)
        .map(|(path, _)| path)
        .take_while(move |path| path.starts_with(&prefix))
}

/// True when `dir` holds any entry (a directory in the snapshot).
pub(crate) fn is_dir(tree: &RepoTree, dir: &str) -> bool {
    let prefix = format!("{dir}/");
    tree.entries
        .range(prefix.clone()..)
        .next()
        .is_some_and(|(k, _)| k.starts_with(&prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_stays_inside() {
        assert_eq!(join("a/b", "../c/./d.yaml"), Ok("a/c/d.yaml".into()));
        assert_eq!(join("a/b", "/x.yaml"), Ok("x.yaml".into()));
        assert_eq!(join("", "."), Ok(String::new()));
        assert!(matches!(
            join("a", "../../etc/passwd"),
            Err(LocateError::Refused(_))
        ));
        assert!(matches!(join("", ".."), Err(LocateError::Refused(_))));
        assert!(matches!(
            join_relative("a", "/etc/passwd"),
            Err(LocateError::Refused(_))
        ));
    }

    #[test]
    fn relative_paths_between_dirs() {
        assert_eq!(relative_to("overlays/dev", "overlays/dev/p.yaml"), "p.yaml");
        assert_eq!(
            relative_to("overlays/dev", "bases/x.yaml"),
            "../../bases/x.yaml"
        );
        assert_eq!(relative_to("", "a/b.yaml"), "a/b.yaml");
    }

    #[test]
    fn symlinks_inside_are_followed_outside_refused() {
        let mut tree = RepoTree::default();
        tree.insert_file("real/deploy.yaml", "kind: Deployment\n");
        tree.insert_symlink("app/link", "../real");
        tree.insert_symlink("app/escape", "../../outside");
        tree.insert_symlink("app/abs", "/etc");
        tree.insert_symlink("loop/a", "b");
        tree.insert_symlink("loop/b", "a");
        assert_eq!(
            canonical(&tree, "app/link/deploy.yaml"),
            Ok("real/deploy.yaml".into())
        );
        assert!(
            matches!(read(&tree, "app/link/deploy.yaml"), Ok(Some((p, _))) if p == "real/deploy.yaml")
        );
        assert!(matches!(
            canonical(&tree, "app/escape/x"),
            Err(LocateError::Refused(_))
        ));
        assert!(matches!(
            canonical(&tree, "app/abs"),
            Err(LocateError::Refused(_))
        ));
        assert!(matches!(
            canonical(&tree, "loop/a"),
            Err(LocateError::Refused(_))
        ));
        assert!(check_symlinks_under(&tree, "real").is_ok());
        assert!(check_symlinks_under(&tree, "app").is_err());
        assert!(is_dir(&tree, "real") && !is_dir(&tree, "rea"));
    }
}
