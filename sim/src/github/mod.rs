//! A GitHub REST simulator for the endpoints suture calls (repos, git refs, pulls, issue labels
//! and comments, repository hooks, commit statuses), with GitHub's shapes, status codes, error bodies and rate-limit headers, real
//! Git merges in a [`GitServer`] it owns, signed `pull_request` webhooks, and fault injection.
//!
//! Like the Git remote, it serves from its own thread and runtime on `127.0.0.1:0`; point
//! octocrab at [`GitHubSim::api_url`] and git at [`GitHubSim::clone_url`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use suture_sim::github::{Fault, GitHubSim};
//! let sim = GitHubSim::start()?;
//! sim.add_token("ghs_bot", "suture-bot");
//! sim.create_repo("acme/gitops", "main")?;
//! sim.store().commit_files("acme/gitops", "main", [("app.yaml", "a: 1\n")], "seed")?;
//! sim.add_webhook("http://127.0.0.1:8080/hooks/github", "secret");
//! // ... suture pushes a branch to sim.clone_url("acme/gitops") and opens PR #1 ...
//! sim.faults().inject(Fault::Status(502), 1, Some("/repos/acme/gitops/pulls"));
//! let merge_sha = sim.merge_pr("acme/gitops", 1).await?; // a human clicks merge
//! # let _ = merge_sha; Ok(()) }
//! ```

mod apps;
mod hooks;
mod issues;
mod pulls;
mod refs;
mod render;
mod routes;
mod state;
mod statuses;
mod webhook;

use std::sync::{Arc, Mutex};

pub use crate::forge::{Delivery, Fault, Faults};
pub use routes::{ApiError, GitHub};
pub use webhook::{WebhookConfig, signature};

use crate::forge::RateLimit;
use crate::forge::webhook::{Outbox, finish};
use crate::git::{GitServer, GitSimError, MergeMethod, RepoStore, Tokens};
use crate::serve::{Server, Sim};
use render::Urls;
use routes::{Ctx, RATE_WINDOW_SECS};
use state::{RepoRec, State, now};

/// Errors of the helper API; an [`ApiError`] is what the REST API would have answered.
pub type SimError = crate::forge::SimError<GitHub>;

/// A pull request as tests assert on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullSnapshot {
    pub number: u64,
    pub title: String,
    pub body: Option<String>,
    /// `open` or `closed`
    pub state: String,
    pub user: String,
    pub head_ref: String,
    pub head_sha: String,
    pub base_ref: String,
    pub draft: bool,
    pub merged: bool,
    pub merged_by: Option<String>,
    pub merge_commit_sha: Option<String>,
    pub labels: Vec<String>,
    pub comments: Vec<CommentSnapshot>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentSnapshot {
    pub id: u64,
    pub user: String,
    pub body: String,
}

fn comment_snapshot(c: &state::CommentRec) -> CommentSnapshot {
    CommentSnapshot {
        id: c.id,
        user: c.user.clone(),
        body: c.body.clone(),
    }
}

/// A commit status as tests assert on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusSnapshot {
    pub id: u64,
    pub sha: String,
    pub state: String,
    pub context: String,
    pub description: Option<String>,
    pub target_url: Option<String>,
    pub creator: String,
}

/// A running GitHub simulator. Dropping it stops both servers.
#[derive(Debug)]
pub struct GitHubSim {
    ctx: Arc<Ctx>,
    git: GitServer,
    api: Server,
}

impl GitHubSim {
    /// Start with repositories in a fresh temporary directory.
    pub fn start() -> Result<GitHubSim, SimError> {
        Self::start_with_store(RepoStore::temp()?)
    }

    /// Start over an existing store; its repositories are added with [`GitHubSim::create_repo`]
    /// (which adopts a repository already on disk).
    pub fn start_with_store(store: RepoStore) -> Result<GitHubSim, SimError> {
        let tokens = Tokens::new();
        let git = GitServer::start(store.clone(), tokens.clone())?;
        let web = git.url();
        let mut ctx_out = None;
        let api = Server::start("sim-github", None, |addr| {
            let ctx = Arc::new(Ctx {
                state: Mutex::new(State::default()),
                store,
                tokens,
                faults: Faults::default(),
                rate: RateLimit::new(5000, RATE_WINDOW_SECS),
                urls: Urls {
                    api: format!("http://{addr}"),
                    web,
                },
                outbox: Outbox::new(tokio::runtime::Handle::current()),
            });
            ctx_out = Some(ctx.clone());
            Ok(routes::router(ctx))
        })?;
        let ctx = ctx_out.ok_or_else(|| std::io::Error::other("simulator did not start"))?;
        Ok(GitHubSim { ctx, git, api })
    }

    /// `http://127.0.0.1:PORT`, for `Octocrab::builder().base_uri(..)` (the same as `url()`).
    pub fn api_url(&self) -> String {
        self.ctx.urls.api.clone()
    }

    /// The Git remote behind the repositories.
    pub fn git(&self) -> &GitServer {
        &self.git
    }

    pub fn store(&self) -> &RepoStore {
        &self.ctx.store
    }

    /// Tokens accepted by both the API and the Git remote.
    pub fn tokens(&self) -> &Tokens {
        &self.ctx.tokens
    }

    /// `http://127.0.0.1:PORT/owner/name.git` (the repository's `clone_url`).
    pub fn clone_url(&self, full_name: &str) -> String {
        self.git.repo_url(full_name)
    }

    pub fn faults(&self) -> &Faults {
        &self.ctx.faults
    }

    /// Register a user; returns its id.
    pub fn add_user(&self, login: &str) -> u64 {
        self.ctx.lock().user_id(login)
    }

    /// Accept `token` as `login` on the API and the Git remote.
    pub fn add_token(&self, token: &str, login: &str) {
        self.add_user(login);
        self.ctx.tokens.insert(token, login);
    }

    /// Create an empty `owner/name` whose HEAD names `default_branch`, or adopt the bare
    /// repository already in the store (its own HEAD then wins).
    pub fn create_repo(&self, full_name: &str, default_branch: &str) -> Result<(), SimError> {
        if !self.ctx.store.exists(full_name) {
            self.ctx.store.create(full_name, default_branch)?;
        }
        let (owner, name) = full_name
            .split_once('/')
            .ok_or_else(|| GitSimError::InvalidRepoName(full_name.to_owned()))?;
        let mut st = self.ctx.lock();
        if st.repos.contains_key(full_name) {
            return Err(GitSimError::RepoExists(full_name.to_owned()).into());
        }
        st.user_id(owner);
        let id = st.id();
        st.repos.insert(
            full_name.to_owned(),
            RepoRec {
                id,
                owner: owner.to_owned(),
                name: name.to_owned(),
                created_at: now(),
                next_number: 0,
                items: Default::default(),
                labels: Default::default(),
                statuses: Vec::new(),
            },
        );
        Ok(())
    }

    /// Register GitHub App `app_id` (slug `app-<id>`, client id `Iv1.<id>`) with its public key
    /// (PEM, `-----BEGIN PUBLIC KEY-----`), installed as `installation_id` on `account`. JWTs
    /// signed by its private key then get installation tokens at
    /// `POST /app/installations/{installation_id}/access_tokens`, accepted by the API and the Git
    /// remote as `<slug>[bot]` until they expire. Returns that login.
    pub fn register_app(
        &self,
        app_id: u64,
        installation_id: u64,
        account: &str,
        public_key_pem: &str,
    ) -> Result<String, SimError> {
        let key = jsonwebtoken::DecodingKey::from_rsa_pem(public_key_pem.as_bytes())
            .map_err(|e| std::io::Error::other(format!("App {app_id}: public key: {e}")))?;
        let app = apps::AppRec {
            id: app_id,
            client_id: format!("Iv1.{app_id:016x}"),
            slug: format!("app-{app_id}"),
            key: Arc::new(key),
        };
        let login = app.bot_login();
        let mut st = self.ctx.lock();
        st.user_id(account);
        st.user_id(&login);
        st.apps.insert(app_id, app);
        st.installations.insert(
            installation_id,
            apps::InstallationRec {
                id: installation_id,
                app_id,
                account: account.to_owned(),
                created_at: now(),
                tokens_issued: 0,
            },
        );
        Ok(login)
    }

    /// How long installation tokens issued from now on live (GitHub: one hour).
    pub fn set_installation_token_ttl(&self, ttl: std::time::Duration) {
        self.ctx.lock().installation_token_ttl =
            Some(jiff::SignedDuration::try_from(ttl).unwrap_or(apps::DEFAULT_TOKEN_TTL));
    }

    /// Installation tokens issued so far for `installation_id`.
    pub fn installation_tokens_issued(&self, installation_id: u64) -> u64 {
        self.ctx
            .lock()
            .installations
            .get(&installation_id)
            .map_or(0, |i| i.tokens_issued)
    }

    /// Send `pull_request` events to `url`, signed with `secret`.
    pub fn add_webhook(&self, url: &str, secret: &str) {
        self.add_webhook_config(WebhookConfig::pull_requests(url, secret));
    }

    pub fn add_webhook_config(&self, hook: WebhookConfig) {
        self.ctx.lock().hooks.push(hook);
    }

    /// The primary rate limit per hour (default 5000); resets the count.
    pub fn set_rate_limit(&self, limit: u64) {
        self.ctx.rate.reset(limit);
    }

    /// Requests counted against the rate limit so far.
    pub fn rate_limit_used(&self) -> u64 {
        self.ctx.rate.window().used
    }

    /// Every pull request of a repository, by number.
    pub fn pulls(&self, full_name: &str) -> Vec<PullSnapshot> {
        let st = self.ctx.lock();
        let Ok(r) = st.repo(full_name) else {
            return Vec::new();
        };
        r.items
            .values()
            .filter_map(|i| {
                let pr = i.pr.as_ref()?;
                Some(PullSnapshot {
                    number: i.number,
                    title: i.title.clone(),
                    body: i.body.clone(),
                    state: if i.open { "open" } else { "closed" }.to_owned(),
                    user: i.user.clone(),
                    head_ref: pr.head_ref.clone(),
                    head_sha: pr.head_sha.clone(),
                    base_ref: pr.base_ref.clone(),
                    draft: pr.draft,
                    merged: pr.merged_at.is_some(),
                    merged_by: pr.merged_by.clone(),
                    merge_commit_sha: pr.merge_commit_sha.clone(),
                    labels: i.labels.clone(),
                    comments: i.comments.iter().map(comment_snapshot).collect(),
                })
            })
            .collect()
    }

    pub fn pull(&self, full_name: &str, number: u64) -> Option<PullSnapshot> {
        self.pulls(full_name)
            .into_iter()
            .find(|p| p.number == number)
    }

    /// Labels on issue or pull request `number`.
    pub fn labels(&self, full_name: &str, number: u64) -> Vec<String> {
        self.ctx
            .lock()
            .item(full_name, number)
            .map(|i| i.labels.clone())
            .unwrap_or_default()
    }

    /// Comments on issue or pull request `number`.
    pub fn comments(&self, full_name: &str, number: u64) -> Vec<CommentSnapshot> {
        self.ctx
            .lock()
            .item(full_name, number)
            .map(|i| i.comments.iter().map(comment_snapshot).collect())
            .unwrap_or_default()
    }

    /// Every commit status of a repository, oldest first.
    pub fn statuses(&self, full_name: &str) -> Vec<StatusSnapshot> {
        let st = self.ctx.lock();
        let Ok(r) = st.repo(full_name) else {
            return Vec::new();
        };
        r.statuses
            .iter()
            .map(|s| StatusSnapshot {
                id: s.id,
                sha: s.sha.clone(),
                state: s.state.clone(),
                context: s.context.clone(),
                description: s.description.clone(),
                target_url: s.target_url.clone(),
                creator: s.creator.clone(),
            })
            .collect()
    }

    /// Full names of the repositories the API knows.
    pub fn repo_names(&self) -> Vec<String> {
        self.ctx.lock().repos.keys().cloned().collect()
    }

    /// Every delivery attempt so far, oldest first.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.ctx.outbox.all()
    }

    /// A human clicks "Merge pull request" (merge commit, as the repository owner). Returns the
    /// merge commit sha once the webhooks have been delivered (or failed).
    pub async fn merge_pr(&self, full_name: &str, number: u64) -> Result<String, SimError> {
        let owner = full_name.split('/').next().unwrap_or_default().to_owned();
        self.merge_pr_as(full_name, number, &owner, MergeMethod::Merge)
            .await
    }

    pub async fn merge_pr_as(
        &self,
        full_name: &str,
        number: u64,
        login: &str,
        method: MergeMethod,
    ) -> Result<String, SimError> {
        let req = pulls::MergeRequest {
            method,
            sha: None,
            title: None,
            message: None,
        };
        let (sha, sends) = {
            let mut st = self.ctx.lock();
            pulls::merge_pr(&self.ctx, &mut st, full_name, number, login, &req)?
        };
        finish(sends).await;
        Ok(sha)
    }

    /// A human closes the pull request without merging; returns once webhooks are sent.
    pub async fn close_pr(&self, full_name: &str, number: u64) -> Result<(), SimError> {
        let owner = full_name.split('/').next().unwrap_or_default().to_owned();
        let sends = {
            let mut st = self.ctx.lock();
            pulls::close_pr(&self.ctx, &mut st, full_name, number, &owner)?
        };
        finish(sends).await;
        Ok(())
    }

    /// Send a past delivery again with the same id, body and signature; returns the new
    /// attempt once it finished.
    pub async fn redeliver(&self, delivery_id: &str) -> Result<Delivery, SimError> {
        self.ctx.redeliver(delivery_id).await
    }

    /// Wait until every delivery so far has finished (up to `timeout`); true if they all did.
    pub async fn wait_for_deliveries(&self, timeout: std::time::Duration) -> bool {
        self.ctx.wait_for_deliveries(timeout).await
    }
}

impl Sim for GitHubSim {
    fn server(&self) -> &Server {
        &self.api
    }

    /// Stops the API, then the Git remote.
    async fn shutdown(self) {
        self.api.shutdown().await;
        self.git.shutdown().await;
    }
}
