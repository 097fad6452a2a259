//! Forges: GitHub and GitLab. `webhook` authenticates and reads their deliveries, `body` renders
//! what suture writes on them, `retry` decides when a failed API call is tried again (all
//! pure); `github` (octocrab) and `gitlab` (the `gitlab` crate) are the API clients, behind one
//! [`Forge`] enum chosen per repository by its URL's host, and every call goes through the one
//! retry loop in `call`.

pub mod body;
mod call;
pub mod github;
pub mod gitlab;
pub mod repo_url;
pub mod retry;
pub mod status;
pub mod webhook;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use crate::config::{ForgeKind, Settings};
pub use call::RetryPolicy;
pub use repo_url::{RepoPath, RepoUrl};
pub use status::{CommitStatus, PostedStatus, StatusState, VERIFY_CONTEXT};
use webhook::Secret;

/// Why a forge call failed, so the caller can decide: retry later, wait, escalate or report.
/// No variant carries a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ForgeError {
    /// 5xx, timeouts, refused or reset connections, still failing after the retries.
    #[error("forge unavailable: {0}")]
    Transient(String),
    /// A primary or secondary rate limit longer than suture waits inside one call.
    #[error("forge rate limit reached{}", until.map(|u| format!(" until {u}")).unwrap_or_default())]
    RateLimited { until: Option<jiff::Timestamp> },
    /// The forge refused the request (4xx other than rate limits and 404).
    #[error("forge refused the request (HTTP {status}): {message}")]
    Rejected { status: u16, message: String },
    /// The repository, project, pull or merge request does not exist (or is not visible).
    #[error("not found on the forge")]
    NotFound,
    /// A commit status for a sha the repository does not have.
    #[error("the repository has no commit {sha}")]
    UnknownCommit { sha: String },
    #[error("no forge is configured for host {host}")]
    UnknownHost { host: String },
    #[error("forge configuration: {0}")]
    Config(String),
    /// GitHub refused the App's installation token request (a wrong private key, App id or
    /// installation, a revoked installation, a JWT outside its validity window).
    #[error(
        "GitHub App {app_id} could not get a token for installation {installation_id} \
         (HTTP {status}): {message}"
    )]
    AppAuth {
        app_id: u64,
        installation_id: u64,
        status: u16,
        message: String,
    },
    /// A success whose body is not what the API documents.
    #[error("unexpected answer from the forge: {0}")]
    Unexpected(String),
}

/// API calls and the last rate-limit quota seen, shared with the server's `/metrics`.
#[derive(Debug)]
pub struct ForgeStats {
    /// HTTP requests sent, retries included.
    pub calls: AtomicU64,
    /// The last `x-ratelimit-remaining` / `ratelimit-remaining` seen; -1 before any.
    pub rate_limit_remaining: AtomicI64,
}

impl Default for ForgeStats {
    fn default() -> Self {
        ForgeStats {
            calls: AtomicU64::new(0),
            rate_limit_remaining: AtomicI64::new(-1),
        }
    }
}

impl ForgeStats {
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// `None` until a response carried the header.
    pub fn rate_limit_remaining(&self) -> Option<i64> {
        Some(self.rate_limit_remaining.load(Ordering::Relaxed)).filter(|r| *r >= 0)
    }
}

/// One configured forge host with its token, ready to build a client.
#[derive(Clone, Debug)]
pub struct ForgeSettings {
    /// The host of repository URLs (`github.com`, `gitlab.example.com`, `127.0.0.1:8080`).
    pub host: String,
    pub kind: ForgeKind,
    /// API base: `https://api.github.com`, `https://gitlab.example.com/api/v4`.
    pub api_url: String,
    /// The token (GitHub PAT, GitLab access token); empty when `app` is set.
    pub token: Secret,
    /// GitHub App authentication instead of `token`: installation tokens minted and refreshed
    /// by octocrab, for the API and for Git pushes.
    pub app: Option<GithubApp>,
    pub policy: RetryPolicy,
    pub stats: Arc<ForgeStats>,
}

/// A GitHub App installation suture acts as.
#[derive(Clone)]
pub struct GithubApp {
    pub app_id: u64,
    pub installation_id: u64,
    /// The App's RSA private key, PEM.
    pub private_key: Secret,
}

impl std::fmt::Debug for GithubApp {
    /// The ids only: the key is a credential.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GithubApp")
            .field("app_id", &self.app_id)
            .field("installation_id", &self.installation_id)
            .finish_non_exhaustive()
    }
}

impl ForgeSettings {
    /// Default retry policy and fresh stats.
    pub fn new(host: &str, kind: ForgeKind, api_url: &str, token: Secret) -> ForgeSettings {
        ForgeSettings {
            host: host.to_owned(),
            kind,
            api_url: api_url.to_owned(),
            token,
            app: None,
            policy: RetryPolicy::default(),
            stats: Arc::default(),
        }
    }

    /// A GitHub forge authenticated as a GitHub App installation.
    pub fn github_app(host: &str, api_url: &str, app: GithubApp) -> ForgeSettings {
        ForgeSettings {
            app: Some(app),
            ..ForgeSettings::new(host, ForgeKind::Github, api_url, Secret::new(Vec::new()))
        }
    }

    /// The `forges:` of a loaded configuration, all counting into `stats`: a token, or a GitHub
    /// App (`forges[].app`).
    pub fn from_settings(
        settings: &Settings,
        stats: &Arc<ForgeStats>,
    ) -> Result<Vec<ForgeSettings>, ForgeError> {
        settings
            .config
            .forges
            .iter()
            .map(|f| {
                let api_url = f.api_url.clone().unwrap_or_else(|| match f.kind {
                    ForgeKind::Github if f.host == "github.com" => "https://api.github.com".into(),
                    ForgeKind::Github => format!("https://{}/api/v3", f.host),
                    ForgeKind::Gitlab => format!("https://{}/api/v4", f.host),
                });
                let base = if let Some(app) = settings.forge_apps.get(&f.host) {
                    ForgeSettings::github_app(
                        &f.host,
                        &api_url,
                        GithubApp {
                            app_id: app.app_id,
                            installation_id: app.installation_id,
                            private_key: app.private_key.secret.clone(),
                        },
                    )
                } else {
                    let token = settings.forge_tokens.get(&f.host).ok_or_else(|| {
                        ForgeError::Config(format!("forge {}: no token_file and no app", f.host))
                    })?;
                    ForgeSettings::new(&f.host, f.kind, &api_url, token.secret.clone())
                };
                Ok(ForgeSettings {
                    stats: stats.clone(),
                    ..base
                })
            })
            .collect()
    }
}

/// A pull request (GitHub) or merge request (GitLab).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangeRequest {
    /// GitHub's number, GitLab's iid.
    pub number: u64,
    /// The web page a reviewer opens.
    pub url: String,
    pub head_branch: String,
    pub base_branch: String,
    pub state: ChangeState,
    pub title: String,
    pub body: String,
    pub labels: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChangeState {
    Open,
    Merged {
        merge_sha: String,
    },
    /// Closed without merging.
    Closed,
}

/// What to open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewChange {
    pub title: String,
    pub body: String,
    /// The branch suture pushed.
    pub head: String,
    /// The branch to merge into.
    pub base: String,
    pub labels: Vec<String>,
}

/// The forge of one repository. An enum rather than a trait object: there are exactly two.
#[derive(Clone, Debug)]
pub enum Forge {
    GitHub(github::GitHub),
    GitLab(gitlab::GitLab),
}

impl Forge {
    /// A client for the forge that serves `settings.host`. Builds nothing yet: the first call
    /// connects.
    pub fn new(settings: &ForgeSettings) -> Result<Forge, ForgeError> {
        Ok(match settings.kind {
            ForgeKind::Github => Forge::GitHub(github::GitHub::new(settings)?),
            ForgeKind::Gitlab => Forge::GitLab(gitlab::GitLab::new(settings)?),
        })
    }

    /// The forge configured for `repo_url`'s host, and the repository's path on it (`owner/name`
    /// on GitHub, `group/sub/project` on GitLab).
    pub fn for_repo(
        forges: &[ForgeSettings],
        repo_url: &str,
    ) -> Result<(Forge, RepoPath), ForgeError> {
        let url = RepoUrl::parse(repo_url)?;
        let settings =
            forges
                .iter()
                .find(|f| url.is_on(&f.host))
                .ok_or_else(|| ForgeError::UnknownHost {
                    host: url.authority.clone(),
                })?;
        if settings.kind == ForgeKind::Github && url.path.as_str().split('/').count() != 2 {
            return Err(ForgeError::Config(format!(
                "a GitHub repository is owner/name, not {}",
                url.path
            )));
        }
        Ok((Forge::new(settings)?, url.path))
    }

    /// The HTTPS Git credentials of a GitHub App forge: a fresh (or still valid) installation
    /// token as `x-access-token`. `None` for a token forge (its token is the password).
    pub async fn app_git_token(&self) -> Result<Option<Secret>, ForgeError> {
        match self {
            Forge::GitHub(f) => f.app_token().await,
            Forge::GitLab(_) => Ok(None),
        }
    }

    pub fn stats(&self) -> &Arc<ForgeStats> {
        match self {
            Forge::GitHub(f) => f.stats(),
            Forge::GitLab(f) => f.stats(),
        }
    }

    /// The open pull/merge request whose head is `head_branch`, if any.
    pub async fn find_open(
        &self,
        repo: &RepoPath,
        head_branch: &str,
    ) -> Result<Option<ChangeRequest>, ForgeError> {
        match self {
            Forge::GitHub(f) => f.find_open(repo, head_branch).await,
            Forge::GitLab(f) => f.find_open(repo, head_branch).await,
        }
    }

    /// Open `change`, or adopt the open one with the same head: whatever the retries, at most
    /// one is ever created.
    pub async fn open(
        &self,
        repo: &RepoPath,
        change: &NewChange,
    ) -> Result<ChangeRequest, ForgeError> {
        match self {
            Forge::GitHub(f) => f.open(repo, change).await,
            Forge::GitLab(f) => f.open(repo, change).await,
        }
    }

    pub async fn get(&self, repo: &RepoPath, number: u64) -> Result<ChangeRequest, ForgeError> {
        match self {
            Forge::GitHub(f) => f.get(repo, number).await,
            Forge::GitLab(f) => f.get(repo, number).await,
        }
    }

    /// A comment on the pull request (GitHub issue comment) or merge request (GitLab note).
    pub async fn comment(
        &self,
        repo: &RepoPath,
        number: u64,
        body: &str,
    ) -> Result<(), ForgeError> {
        match self {
            Forge::GitHub(f) => f.comment(repo, number, body).await,
            Forge::GitLab(f) => f.comment(repo, number, body).await,
        }
    }

    /// Merge (as `suture demo`'s reviewer does); returns the merge commit's sha.
    pub async fn merge(&self, repo: &RepoPath, number: u64) -> Result<String, ForgeError> {
        match self {
            Forge::GitHub(f) => f.merge(repo, number).await,
            Forge::GitLab(f) => f.merge(repo, number).await,
        }
    }

    /// Close without merging.
    pub async fn close(&self, repo: &RepoPath, number: u64) -> Result<(), ForgeError> {
        match self {
            Forge::GitHub(f) => f.close(repo, number).await,
            Forge::GitLab(f) => f.close(repo, number).await,
        }
    }

    pub async fn default_branch(&self, repo: &RepoPath) -> Result<String, ForgeError> {
        match self {
            Forge::GitHub(f) => f.default_branch(repo).await,
            Forge::GitLab(f) => f.default_branch(repo).await,
        }
    }

    /// Post a commit status on `sha` (a full sha); returns it as the forge recorded it.
    pub async fn set_status(
        &self,
        repo: &RepoPath,
        sha: &str,
        status: &CommitStatus,
    ) -> Result<PostedStatus, ForgeError> {
        match self {
            Forge::GitHub(f) => f.set_status(repo, sha, status).await,
            Forge::GitLab(f) => f.set_status(repo, sha, status).await,
        }
    }

    /// The statuses on `sha`, newest first. GitHub keeps every post; GitLab updates a pending
    /// status in place, so there a pending -> success is one entry.
    pub async fn statuses(
        &self,
        repo: &RepoPath,
        sha: &str,
    ) -> Result<Vec<PostedStatus>, ForgeError> {
        match self {
            Forge::GitHub(f) => f.statuses(repo, sha).await,
            Forge::GitLab(f) => f.statuses(repo, sha).await,
        }
    }
}

/// An `open` whose create failed because one already exists for the head (GitHub 422 "A pull
/// request already exists", GitLab 409): the one to adopt is looked up again.
fn already_exists(e: &ForgeError) -> bool {
    matches!(
        e,
        ForgeError::Rejected {
            status: 409 | 422,
            ..
        }
    )
}

/// Per-attempt timeout used when none is configured.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
