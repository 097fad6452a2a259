//! A cached bare mirror per GitOps repository (git2): incremental fetch, the files of a commit as a
//! [`RepoTree`] (read from Git objects, no checkout), a commit of edited files on top of a base,
//! and a push that refuses to overwrite a branch someone else moved.
//!
//! I/O: the runner holds one lock per repository around these calls (git2 repositories are not
//! shared between threads).

use std::path::{Path, PathBuf};

use git2::{Oid, Repository};
use sha2::{Digest, Sha256};

use super::tree::RepoTree;
use crate::forge::webhook::Secret;
use crate::inputs::MAX_FILE_BYTES;

#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    #[error("git {op}: {message}")]
    Git { op: &'static str, message: String },
    #[error("the remote refused the credentials")]
    Auth,
    #[error("{0} is not in the repository")]
    NotFound(String),
    /// The branch on the remote is not where suture expected it: someone else pushed.
    #[error("branch {branch} moved on the remote (expected {expected}, found {actual})")]
    Moved {
        branch: String,
        expected: String,
        actual: String,
    },
    #[error("the remote rejected the push of {branch}: {reason}")]
    Rejected { branch: String, reason: String },
    #[error("unsafe path {0:?}")]
    Path(String),
}

impl RepoError {
    fn git(op: &'static str) -> impl FnOnce(git2::Error) -> RepoError {
        move |e| {
            if e.class() == git2::ErrorClass::Http && e.message().contains("401")
                || e.code() == git2::ErrorCode::Auth
            {
                RepoError::Auth
            } else {
                RepoError::Git {
                    op,
                    message: e.message().to_string(),
                }
            }
        }
    }

    /// Worth retrying later: the network or the remote failed, not the request.
    pub fn is_transient(&self) -> bool {
        matches!(self, RepoError::Git { op, .. } if matches!(*op, "fetch" | "push" | "connect"))
    }
}

type Result<T, E = RepoError> = std::result::Result<T, E>;

/// HTTPS credentials: a forge token as the password (GitHub `x-access-token`, GitLab
/// `oauth2` or any user name for an access token).
#[derive(Clone, Debug)]
pub struct Credentials {
    pub username: String,
    pub token: Secret,
}

/// What the remote branch must be for a push to go ahead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// A new branch: it must not exist yet.
    Absent,
    /// Replacing suture's own earlier push: the branch must still be there.
    At(Oid),
}

pub struct Mirror {
    repo: Repository,
    url: String,
}

impl std::fmt::Debug for Mirror {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mirror").field("url", &self.url).finish()
    }
}

/// The mirror's directory for `url` under `cache`: one per URL, named by its hash so any URL is
/// a safe directory name.
pub fn mirror_dir(cache: &Path, url: &str) -> PathBuf {
    let digest = Sha256::digest(url.as_bytes());
    cache.join(format!("{}.git", hex::encode(&digest[..12])))
}

impl Mirror {
    /// Open the mirror of `url` in `cache`, creating it (empty) the first time.
    pub fn open(cache: &Path, url: &str) -> Result<Mirror> {
        let dir = mirror_dir(cache, url);
        let repo = match Repository::open_bare(&dir) {
            Ok(r) => r,
            Err(_) => {
                std::fs::create_dir_all(&dir).map_err(|e| RepoError::Git {
                    op: "init",
                    message: e.to_string(),
                })?;
                let r = Repository::init_bare(&dir).map_err(RepoError::git("init"))?;
                r.remote_with_fetch("origin", url, "+refs/heads/*:refs/remotes/origin/*")
                    .map_err(RepoError::git("init"))?;
                r
            }
        };
        Ok(Mirror {
            repo,
            url: url.to_string(),
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    fn callbacks(creds: Option<&Credentials>) -> git2::RemoteCallbacks<'_> {
        let mut cb = git2::RemoteCallbacks::new();
        let mut tried = false;
        cb.credentials(move |_url, _user, _allowed| match creds {
            // libgit2 asks again after a refusal; answering twice would loop.
            Some(c) if !tried => {
                tried = true;
                let token = String::from_utf8_lossy(c.token.expose()).into_owned();
                git2::Cred::userpass_plaintext(&c.username, &token)
            }
            _ => Err(git2::Error::from_str("authentication required")),
        });
        cb
    }

    /// Fetch every branch (incremental: only new objects travel). Deleted remote branches are
    /// pruned so a stale suture branch is not mistaken for a live one.
    pub fn fetch(&self, creds: Option<&Credentials>) -> Result<()> {
        let mut remote = self
            .repo
            .find_remote("origin")
            .map_err(RepoError::git("fetch"))?;
        let mut opts = git2::FetchOptions::new();
        opts.remote_callbacks(Self::callbacks(creds));
        opts.prune(git2::FetchPrune::On);
        remote
            .fetch(&[] as &[&str], Some(&mut opts), None)
            .map_err(RepoError::git("fetch"))
    }

    /// The commit `branch` pointed at on the remote as of the last fetch.
    pub fn remote_branch(&self, branch: &str) -> Option<Oid> {
        self.repo
            .refname_to_id(&format!("refs/remotes/origin/{branch}"))
            .ok()
    }

    /// The files of a commit: text files up to [`MAX_FILE_BYTES`] and symlinks (never followed).
    pub fn tree(&self, commit: Oid) -> Result<RepoTree> {
        let commit = self
            .repo
            .find_commit(commit)
            .map_err(|_| RepoError::NotFound(commit.to_string()))?;
        let tree = commit.tree().map_err(RepoError::git("read"))?;
        let mut out = RepoTree::default();
        let mut failure = None;
        tree.walk(git2::TreeWalkMode::PreOrder, |dir, entry| {
            let Ok(name) = entry.name() else {
                return git2::TreeWalkResult::Skip;
            };
            let path = format!("{dir}{name}");
            match entry.filemode() {
                0o120000 => {
                    if let Ok(blob) = self.repo.find_blob(entry.id())
                        && let Ok(target) = std::str::from_utf8(blob.content())
                    {
                        out.insert_symlink(path, target);
                    }
                }
                0o100644 | 0o100755 => match self.repo.find_blob(entry.id()) {
                    Ok(blob) if blob.size() as u64 <= MAX_FILE_BYTES => {
                        if let Ok(text) = std::str::from_utf8(blob.content()) {
                            out.insert_file(path, text);
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        failure = Some(e);
                        return git2::TreeWalkResult::Abort;
                    }
                },
                _ => {}
            }
            git2::TreeWalkResult::Ok
        })
        .map_err(RepoError::git("read"))?;
        match failure {
            Some(e) => Err(RepoError::git("read")(e)),
            None => Ok(out),
        }
    }

    /// Commit `files` (path, new text) on top of `parent`; returns the new commit. No branch or
    /// working tree is touched: the commit exists only in the mirror until pushed.
    pub fn commit(
        &self,
        parent: Oid,
        files: &[(String, String)],
        author_name: &str,
        author_email: &str,
        message: &str,
        when: jiff::Timestamp,
    ) -> Result<Oid> {
        let parent = self
            .repo
            .find_commit(parent)
            .map_err(|_| RepoError::NotFound(parent.to_string()))?;
        let base = parent.tree().map_err(RepoError::git("commit"))?;
        let mut update = git2::build::TreeUpdateBuilder::new();
        for (path, text) in files {
            if path.is_empty()
                || path.starts_with('/')
                || path
                    .split('/')
                    .any(|c| c.is_empty() || c == "." || c == ".." || c == ".git")
            {
                return Err(RepoError::Path(path.clone()));
            }
            let blob = self
                .repo
                .blob(text.as_bytes())
                .map_err(RepoError::git("commit"))?;
            // Keep an existing file's mode (an executable script stays executable).
            let mode = base
                .get_path(Path::new(path))
                .map(|e| e.filemode())
                .ok()
                .filter(|m| *m == 0o100755)
                .map_or(git2::FileMode::Blob, |_| git2::FileMode::BlobExecutable);
            update.upsert(path.as_str(), blob, mode);
        }
        let tree_id = update
            .create_updated(&self.repo, &base)
            .map_err(RepoError::git("commit"))?;
        let tree = self
            .repo
            .find_tree(tree_id)
            .map_err(RepoError::git("commit"))?;
        let time = git2::Time::new(when.as_second(), 0);
        let sig = git2::Signature::new(author_name, author_email, &time)
            .map_err(RepoError::git("commit"))?;
        self.repo
            .commit(None, &sig, &sig, message, &tree, &[&parent])
            .map_err(RepoError::git("commit"))
    }

    /// Where `branch` is on the remote right now (asks the remote, not the last fetch).
    pub fn ls_remote(&self, branch: &str, creds: Option<&Credentials>) -> Result<Option<Oid>> {
        let mut remote = self
            .repo
            .remote_anonymous(&self.url)
            .map_err(RepoError::git("connect"))?;
        let conn = remote
            .connect_auth(git2::Direction::Fetch, Some(Self::callbacks(creds)), None)
            .map_err(RepoError::git("connect"))?;
        let want = format!("refs/heads/{branch}");
        let found = conn
            .list()
            .map_err(RepoError::git("connect"))?
            .iter()
            .find(|h| h.name() == want)
            .map(|h| h.oid());
        Ok(found)
    }

    /// Push `commit` to `branch`, only if the remote branch is as `expect` says.
    pub fn push(
        &self,
        commit: Oid,
        branch: &str,
        expect: Expect,
        creds: Option<&Credentials>,
    ) -> Result<()> {
        if git2::Branch::name_is_valid(branch).ok() != Some(true) {
            return Err(RepoError::Path(branch.to_string()));
        }
        let actual = self.ls_remote(branch, creds)?;
        let ok = match expect {
            Expect::Absent => actual.is_none(),
            Expect::At(oid) => actual == Some(oid),
        };
        if !ok {
            return Err(RepoError::Moved {
                branch: branch.to_string(),
                expected: match expect {
                    Expect::Absent => "no branch".into(),
                    Expect::At(oid) => oid.to_string(),
                },
                actual: actual.map_or("no branch".into(), |o| o.to_string()),
            });
        }
        if actual == Some(commit) {
            return Ok(());
        }
        // Push from a private ref; force only to replace suture's own earlier push.
        let local = format!("refs/suture/push/{branch}");
        self.repo
            .reference(&local, commit, true, "suture push")
            .map_err(RepoError::git("push"))?;
        let force = if matches!(expect, Expect::At(_)) {
            "+"
        } else {
            ""
        };
        let spec = format!("{force}{local}:refs/heads/{branch}");
        let mut remote = self
            .repo
            .find_remote("origin")
            .map_err(RepoError::git("push"))?;
        let mut rejected: Option<String> = None;
        let mut cb = Self::callbacks(creds);
        cb.push_update_reference(|_refname, status| {
            if let Some(reason) = status {
                rejected = Some(reason.to_string());
            }
            Ok(())
        });
        let mut opts = git2::PushOptions::new();
        opts.remote_callbacks(cb);
        let pushed = remote
            .push(&[spec.as_str()], Some(&mut opts))
            .map_err(RepoError::git("push"));
        // The callback borrows `rejected` until the options are gone.
        drop(opts);
        pushed?;
        if let Some(reason) = rejected {
            return Err(RepoError::Rejected {
                branch: branch.to_string(),
                reason,
            });
        }
        Ok(())
    }

    /// Author email and message of a commit (to tell suture's commits from a person's).
    pub fn commit_info(&self, commit: Oid) -> Result<(String, String)> {
        let c = self
            .repo
            .find_commit(commit)
            .map_err(|_| RepoError::NotFound(commit.to_string()))?;
        Ok((
            c.author().email().unwrap_or_default().to_string(),
            c.message().unwrap_or_default().to_string(),
        ))
    }

    /// The parents of a commit, first parent first.
    pub fn parents(&self, commit: Oid) -> Result<Vec<Oid>> {
        let c = self
            .repo
            .find_commit(commit)
            .map_err(|_| RepoError::NotFound(commit.to_string()))?;
        Ok(c.parent_ids().collect())
    }

    /// Commits reachable from `head` and not from `base`, newest first.
    pub fn commits_between(&self, base: Oid, head: Oid) -> Result<Vec<Oid>> {
        let mut walk = self.repo.revwalk().map_err(RepoError::git("log"))?;
        walk.push(head).map_err(RepoError::git("log"))?;
        walk.hide(base).map_err(RepoError::git("log"))?;
        walk.collect::<Result<Vec<_>, _>>()
            .map_err(RepoError::git("log"))
    }
}

#[cfg(test)]
mod tests;
