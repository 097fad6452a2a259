//! The runner's Git work on cached mirrors: one lock per repository, git2 off the async threads.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use git2::Oid;

use super::RunError;
use crate::config::ForgeKind;
use crate::forge::{Forge, ForgeError, ForgeSettings};
use crate::gitops::repo::{Credentials, Expect, Mirror, RepoError};
use crate::gitops::tree::RepoTree;

/// Who suture commits as, and where its mirrors live (config `git:`).
#[derive(Clone, Debug)]
pub struct GitIdentity {
    pub cache_dir: PathBuf,
    pub author_name: String,
    pub author_email: String,
}

/// One configured forge: the API client and the Git credentials for its repositories.
#[derive(Clone, Debug)]
pub struct ForgeEntry {
    pub settings: ForgeSettings,
    pub forge: Forge,
    /// The token forge's Git credentials; for a GitHub App see [`ForgeEntry::git_creds`].
    pub creds: Option<Credentials>,
}

impl ForgeEntry {
    /// The client, and the forge token as the HTTPS Git password (GitHub takes it with the
    /// user `x-access-token`, GitLab with `oauth2`). A GitHub App forge has no fixed password:
    /// [`ForgeEntry::git_creds`] gets its installation token per push.
    pub fn new(settings: ForgeSettings) -> Result<ForgeEntry, ForgeError> {
        if settings.app.is_some() {
            return Ok(ForgeEntry {
                forge: Forge::new(&settings)?,
                creds: None,
                settings,
            });
        }
        let username = match settings.kind {
            ForgeKind::Github => "x-access-token",
            ForgeKind::Gitlab => "oauth2",
        };
        Ok(ForgeEntry {
            forge: Forge::new(&settings)?,
            creds: Some(Credentials {
                username: username.into(),
                token: settings.token.clone(),
            }),
            settings,
        })
    }

    /// The credentials for one Git operation on this forge: the token, or a GitHub App's
    /// installation token (renewed by octocrab before it expires) as `x-access-token`.
    pub async fn git_creds(&self) -> Result<Option<Credentials>, ForgeError> {
        match self.forge.app_git_token().await? {
            Some(token) => Ok(Some(Credentials {
                username: "x-access-token".into(),
                token,
            })),
            None => Ok(self.creds.clone()),
        }
    }

    /// `github` or `gitlab`, as the ledger records it.
    pub fn kind(&self) -> &'static str {
        match self.settings.kind {
            ForgeKind::Github => "github",
            ForgeKind::Gitlab => "gitlab",
        }
    }
}

/// One async lock per repository URL: two incidents never race on one mirror.
#[derive(Default)]
pub struct Locks(Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>);

impl Locks {
    pub fn of(&self, url: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(url.to_string()).or_default().clone()
    }
}

/// What pushing the incident's branch found and did.
#[derive(Clone, Debug, PartialEq)]
pub enum Push {
    /// The branch is new and holds suture's commit.
    New(Oid),
    /// The branch was already there with only suture's commits (an earlier run pushed it).
    Adopted(Oid),
    /// Someone else committed to the branch: suture stops pushing there.
    Foreign { authors: Vec<String> },
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, RepoError> + Send + 'static,
) -> Result<T, RunError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| RunError::Join(e.to_string()))?
        .map_err(RunError::Repo)
}

/// Fetch `url` into its mirror and read `branch`'s tip and files.
pub async fn checkout(
    identity: &GitIdentity,
    url: &str,
    branch: &str,
    creds: Option<&Credentials>,
) -> Result<(Oid, RepoTree), RunError> {
    let (cache, url, branch, creds) = (
        identity.cache_dir.clone(),
        url.to_string(),
        branch.to_string(),
        creds.cloned(),
    );
    blocking(move || {
        let mirror = Mirror::open(&cache, &url)?;
        mirror.fetch(creds.as_ref())?;
        let tip = mirror
            .remote_branch(&branch)
            .ok_or_else(|| RepoError::NotFound(format!("branch {branch}")))?;
        Ok((tip, mirror.tree(tip)?))
    })
    .await
}

/// The commit to push: `files` on top of `base`, by suture.
pub struct FixCommit {
    pub base: Oid,
    pub branch: String,
    pub files: Vec<(String, String)>,
    pub message: String,
    pub when: jiff::Timestamp,
}

/// Push the fix to its branch, or adopt what an earlier run pushed there. A branch carrying a
/// commit by anyone else is left alone.
pub async fn push_fix(
    identity: &GitIdentity,
    url: &str,
    fix: FixCommit,
    creds: Option<&Credentials>,
) -> Result<Push, RunError> {
    let (identity, url, creds) = (identity.clone(), url.to_string(), creds.cloned());
    blocking(move || {
        let mirror = Mirror::open(&identity.cache_dir, &url)?;
        if let Some(tip) = mirror.ls_remote(&fix.branch, creds.as_ref())? {
            mirror.fetch(creds.as_ref())?;
            let mut authors = Vec::new();
            for commit in mirror.commits_between(fix.base, tip)? {
                let (email, _) = mirror.commit_info(commit)?;
                if email != identity.author_email {
                    authors.push(email);
                }
            }
            return Ok(if authors.is_empty() {
                Push::Adopted(tip)
            } else {
                Push::Foreign { authors }
            });
        }
        let commit = mirror.commit(
            fix.base,
            &fix.files,
            &identity.author_name,
            &identity.author_email,
            &fix.message,
            fix.when,
        )?;
        mirror.push(commit, &fix.branch, Expect::Absent, creds.as_ref())?;
        Ok(Push::New(commit))
    })
    .await
}

/// Authors other than suture of the commits on `branch` past `base` (a person pushed there).
pub async fn foreign_authors(
    identity: &GitIdentity,
    url: &str,
    branch: &str,
    creds: Option<&Credentials>,
) -> Result<Vec<String>, RunError> {
    let (identity, url, branch, creds) = (
        identity.clone(),
        url.to_string(),
        branch.to_string(),
        creds.cloned(),
    );
    blocking(move || {
        let mirror = Mirror::open(&identity.cache_dir, &url)?;
        mirror.fetch(creds.as_ref())?;
        let Some(tip) = mirror.remote_branch(&branch) else {
            return Ok(Vec::new());
        };
        let mut authors = Vec::new();
        // Walk back from the tip until the first commit by suture: what lies above it is not ours.
        let mut walk = vec![tip];
        while let Some(commit) = walk.pop() {
            let (email, _) = mirror.commit_info(commit)?;
            if email == identity.author_email {
                break;
            }
            authors.push(email);
            walk.extend(mirror.parents(commit)?.into_iter().take(1));
            if authors.len() > 50 {
                break;
            }
        }
        Ok(authors)
    })
    .await
}

/// Where the base stands against a pushed fix commit: the fix's parent, the base's tip and its
/// files, and which of the fix's files differ between the two.
pub struct BaseMove {
    pub tip: Oid,
    pub tree: RepoTree,
    pub changed: Vec<String>,
    /// The fix commit's message, for the commit that replaces it.
    pub message: String,
}

/// `None` when `base_branch` is still where `commit` was made, or moved without touching
/// `files`. `fetch`: bring the mirror up to date first (once per repository per pass).
pub async fn base_move(
    identity: &GitIdentity,
    url: &str,
    base_branch: &str,
    commit: Oid,
    files: Vec<String>,
    fetch: bool,
    creds: Option<&Credentials>,
) -> Result<Option<BaseMove>, RunError> {
    let (cache, url, branch, creds) = (
        identity.cache_dir.clone(),
        url.to_string(),
        base_branch.to_string(),
        creds.cloned(),
    );
    blocking(move || {
        let mirror = Mirror::open(&cache, &url)?;
        // Already fetched in this reconcile pass for another pull request of the repository.
        if fetch {
            mirror.fetch(creds.as_ref())?;
        }
        let tip = mirror
            .remote_branch(&branch)
            .ok_or_else(|| RepoError::NotFound(format!("branch {branch}")))?;
        let Some(parent) = mirror.parents(commit)?.first().copied() else {
            return Ok(None);
        };
        if parent == tip {
            return Ok(None);
        }
        let (before, tree) = (mirror.tree(parent)?, mirror.tree(tip)?);
        let changed: Vec<String> = files
            .into_iter()
            .filter(|f| before.file(f) != tree.file(f))
            .collect();
        let (_, message) = mirror.commit_info(commit)?;
        Ok((!changed.is_empty()).then_some(BaseMove {
            tip,
            tree,
            changed,
            message,
        }))
    })
    .await
}

/// Replace suture's commit `old` on `fix.branch` by `fix` (a rebase), only while the branch
/// still points at `old`: anything pushed there since is left alone.
pub async fn replace_fix(
    identity: &GitIdentity,
    url: &str,
    fix: FixCommit,
    old: Oid,
    creds: Option<&Credentials>,
) -> Result<Oid, RunError> {
    let (identity, url, creds) = (identity.clone(), url.to_string(), creds.cloned());
    blocking(move || {
        let mirror = Mirror::open(&identity.cache_dir, &url)?;
        let commit = mirror.commit(
            fix.base,
            &fix.files,
            &identity.author_name,
            &identity.author_email,
            &fix.message,
            fix.when,
        )?;
        mirror.push(commit, &fix.branch, Expect::At(old), creds.as_ref())?;
        Ok(commit)
    })
    .await
}
