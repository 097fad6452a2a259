//! A GitLab REST v4 simulator for the endpoints suture calls (projects by id or path, branches,
//! commits, merge requests, notes, labels), with GitLab's shapes, status codes, error bodies
//! (`{"message": ...}`, Grape's `{"error": ...}`) and `RateLimit-*` headers, `PRIVATE-TOKEN`
//! auth, real Git merges in a [`GitServer`] it owns, `Merge Request Hook` webhooks carrying
//! `X-Gitlab-Token` and `Idempotency-Key`, and fault injection.
//!
//! Like the Git remote, it serves from its own thread and runtime on `127.0.0.1:0`; point the
//! gitlab crate at [`GitLabSim::host`] (with `insecure()`, it is plain http) and git at
//! [`GitLabSim::clone_url`] (user `oauth2`, the token as password).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use suture_sim::gitlab::{Fault, GitLabSim};
//! let sim = GitLabSim::start()?;
//! sim.add_token("glpat-bot", "suture-bot");
//! sim.create_project("acme/gitops", "main")?;
//! sim.store().commit_files("acme/gitops", "main", [("app.yaml", "a: 1\n")], "seed")?;
//! sim.add_webhook("http://127.0.0.1:8080/hooks/gitlab", "secret");
//! // ... suture pushes a branch and opens !1 ...
//! sim.faults().inject(Fault::Status(502), 1, Some("/api/v4/projects"));
//! let merge_sha = sim.merge_mr("acme/gitops", 1).await?; // a human clicks merge
//! # let _ = merge_sha; Ok(()) }
//! ```
//!
//! Simplifications: projects live at `group/name` (one namespace level, as the Git remote
//! stores them); merge commits are written by the shared Git helpers (committer `GitHub`);
//! `squash` lands one squashed commit without an extra merge commit.

mod branches;
mod commits;
mod events;
mod hooks;
mod labels;
mod merge_requests;
mod notes;
mod params;
mod projects;
mod routes;
mod state;
mod statuses;
mod webhook;

use std::sync::{Arc, Mutex};

pub use crate::forge::{Delivery, Fault, Faults};
pub use hooks::NewHook;
pub use routes::{ApiError, GitLab};
pub use webhook::{GITLAB_VERSION, MERGE_REQUEST_HOOK, NOTE_HOOK, PUSH_HOOK, WebhookConfig};

use crate::forge::RateLimit;
use crate::forge::webhook::{Outbox, finish};
use crate::git::{GitServer, GitSimError, RepoStore, Tokens};
use crate::serve::{Server, Sim};
use merge_requests::MergeOptions;
use routes::{Ctx, RATE_WINDOW_SECS, Urls};
use state::{ProjectRec, State, now};

/// GitLab's default `throttle_authenticated_api` limit per minute.
const DEFAULT_RATE_LIMIT: u64 = 2000;
/// Who merges and closes in the helpers: GitLab's first administrator.
const HUMAN: &str = "root";

/// Errors of the helper API; an [`ApiError`] is what the REST API would have answered.
pub type SimError = crate::forge::SimError<GitLab>;

/// A commit status as tests assert on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitStatusSnapshot {
    pub id: u64,
    pub sha: String,
    pub ref_: Option<String>,
    pub name: String,
    pub status: String,
    pub description: Option<String>,
    pub target_url: Option<String>,
    pub author: String,
    pub retried: bool,
}

/// A merge request as tests assert on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeRequestSnapshot {
    pub id: u64,
    pub iid: u64,
    pub title: String,
    pub description: String,
    /// `opened`, `closed` or `merged`
    pub state: String,
    pub author: String,
    pub source_branch: String,
    pub target_branch: String,
    pub sha: String,
    pub labels: Vec<String>,
    pub merged_by: Option<String>,
    pub merge_commit_sha: Option<String>,
    pub notes: Vec<NoteSnapshot>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSnapshot {
    pub id: u64,
    pub author: String,
    pub body: String,
}

/// A running GitLab simulator. Dropping it stops both servers.
#[derive(Debug)]
pub struct GitLabSim {
    ctx: Arc<Ctx>,
    git: GitServer,
    api: Server,
}

impl GitLabSim {
    /// Start with repositories in a fresh temporary directory.
    pub fn start() -> Result<GitLabSim, SimError> {
        Self::start_with_store(RepoStore::temp()?)
    }

    /// Start over an existing store; its repositories are added with
    /// [`GitLabSim::create_project`] (which adopts a repository already on disk).
    pub fn start_with_store(store: RepoStore) -> Result<GitLabSim, SimError> {
        let tokens = Tokens::new();
        let git = GitServer::start(store.clone(), tokens.clone())?;
        let web = git.url();
        let mut ctx_out = None;
        let api = Server::start("sim-gitlab", None, |addr| {
            let mut state = State::default();
            let mut root = state.user(HUMAN);
            root.name = "Administrator".to_owned();
            state.users.insert(HUMAN.to_owned(), root);
            let ctx = Arc::new(Ctx {
                state: Mutex::new(state),
                store,
                tokens,
                faults: Faults::default(),
                rate: RateLimit::new(DEFAULT_RATE_LIMIT, RATE_WINDOW_SECS),
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
        Ok(GitLabSim { ctx, git, api })
    }

    /// `http://127.0.0.1:PORT`; the REST API is under `/api/v4`.
    pub fn api_url(&self) -> String {
        self.ctx.urls.api.clone()
    }

    /// `127.0.0.1:PORT`, for `gitlab::GitlabBuilder::new(host, token).insecure()`.
    pub fn host(&self) -> String {
        self.ctx.urls.api.trim_start_matches("http://").to_owned()
    }

    /// The Git remote behind the projects.
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

    /// `http://127.0.0.1:PORT/group/name.git` (the project's `http_url_to_repo`).
    pub fn clone_url(&self, path: &str) -> String {
        self.git.repo_url(path)
    }

    pub fn faults(&self) -> &Faults {
        &self.ctx.faults
    }

    /// Register a user; returns its id.
    pub fn add_user(&self, username: &str) -> u64 {
        self.ctx.lock().user(username).id
    }

    /// Accept `token` as `username` on the API and the Git remote.
    pub fn add_token(&self, token: &str, username: &str) {
        self.add_user(username);
        self.ctx.tokens.insert(token, username);
    }

    /// Create an empty `group/name` whose HEAD names `default_branch`, or adopt the bare
    /// repository already in the store (its own HEAD then wins). Returns the project id.
    pub fn create_project(&self, path: &str, default_branch: &str) -> Result<u64, SimError> {
        if !self.ctx.store.exists(path) {
            self.ctx.store.create(path, default_branch)?;
        }
        let mut st = self.ctx.lock();
        if st.projects.values().any(|p| p.path == path) {
            return Err(GitSimError::RepoExists(path.to_owned()).into());
        }
        let id = st.id();
        st.projects.insert(
            id,
            ProjectRec {
                id,
                path: path.to_owned(),
                created_at: now(),
                next_iid: 0,
                mrs: Default::default(),
                labels: Default::default(),
                hooks: Vec::new(),
                statuses: Vec::new(),
            },
        );
        Ok(id)
    }

    /// The id of project `group/name`.
    pub fn project_id(&self, path: &str) -> Option<u64> {
        self.ctx.lock().project_key(path).ok()
    }

    /// Send merge request events to `url` with `X-Gitlab-Token: <token>`.
    pub fn add_webhook(&self, url: &str, token: &str) {
        self.add_webhook_config(WebhookConfig::merge_requests(url, token));
    }

    pub fn add_webhook_config(&self, hook: WebhookConfig) {
        self.ctx.lock().hooks.push(hook);
    }

    /// Register a project hook on `group/name`, as `POST /projects/:id/hooks` does; returns
    /// the hook's id.
    pub fn add_project_hook(&self, path: &str, hook: NewHook) -> Result<u64, SimError> {
        let pid = self.ctx.lock().project_key(path)?;
        let out = hooks::add(&self.ctx, pid, hook)?;
        Ok(out["id"].as_u64().unwrap_or_default())
    }

    /// The authenticated API limit per minute (default 2000); resets the count.
    pub fn set_rate_limit(&self, limit: u64) {
        self.ctx.rate.reset(limit);
    }

    /// Requests counted against the rate limit in the current window.
    pub fn rate_limit_used(&self) -> u64 {
        self.ctx.rate.window().used
    }

    /// Every commit status of a project, oldest first (retried ones included).
    pub fn commit_statuses(&self, path: &str) -> Vec<CommitStatusSnapshot> {
        let st = self.ctx.lock();
        let Some(p) = st
            .project_key(path)
            .ok()
            .and_then(|id| st.projects.get(&id))
        else {
            return Vec::new();
        };
        p.statuses
            .iter()
            .map(|s| CommitStatusSnapshot {
                id: s.id,
                sha: s.sha.clone(),
                ref_: s.ref_.clone(),
                name: s.name.clone(),
                status: s.status.clone(),
                description: s.description.clone(),
                target_url: s.target_url.clone(),
                author: s.author.clone(),
                retried: s.retried,
            })
            .collect()
    }

    /// Every merge request of a project, by iid.
    pub fn merge_requests(&self, path: &str) -> Vec<MergeRequestSnapshot> {
        let st = self.ctx.lock();
        let Some(p) = st
            .project_key(path)
            .ok()
            .and_then(|id| st.projects.get(&id))
        else {
            return Vec::new();
        };
        p.mrs
            .values()
            .map(|m| MergeRequestSnapshot {
                id: m.id,
                iid: m.iid,
                title: m.title.clone(),
                description: m.description.clone(),
                state: m.state.as_str().to_owned(),
                author: m.author.clone(),
                source_branch: m.source_branch.clone(),
                target_branch: m.target_branch.clone(),
                sha: m.sha.clone(),
                labels: m.labels.clone(),
                merged_by: m.merged_by.clone(),
                merge_commit_sha: m.merge_commit_sha.clone(),
                notes: m
                    .notes
                    .iter()
                    .map(|n| NoteSnapshot {
                        id: n.id,
                        author: n.author.clone(),
                        body: n.body.clone(),
                    })
                    .collect(),
            })
            .collect()
    }

    pub fn merge_request(&self, path: &str, iid: u64) -> Option<MergeRequestSnapshot> {
        self.merge_requests(path).into_iter().find(|m| m.iid == iid)
    }

    /// Notes on merge request `iid`, oldest first.
    pub fn notes(&self, path: &str, iid: u64) -> Vec<NoteSnapshot> {
        self.merge_request(path, iid)
            .map(|m| m.notes)
            .unwrap_or_default()
    }

    /// Titles of the project's labels.
    pub fn labels(&self, path: &str) -> Vec<String> {
        let st = self.ctx.lock();
        st.project_key(path)
            .ok()
            .and_then(|id| st.projects.get(&id))
            .map(|p| p.labels.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Paths of the projects the API knows.
    pub fn project_paths(&self) -> Vec<String> {
        self.ctx
            .lock()
            .projects
            .values()
            .map(|p| p.path.clone())
            .collect()
    }

    /// Every delivery attempt so far, oldest first.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.ctx.outbox.all()
    }

    /// A human (`root`) clicks "Merge". Returns the merge commit sha once the webhooks have
    /// been delivered (or failed).
    pub async fn merge_mr(&self, path: &str, iid: u64) -> Result<String, SimError> {
        self.merge_mr_as(path, iid, HUMAN).await
    }

    pub async fn merge_mr_as(
        &self,
        path: &str,
        iid: u64,
        username: &str,
    ) -> Result<String, SimError> {
        let (sha, sends) = {
            let mut st = self.ctx.lock();
            let pid = st.project_key(path)?;
            merge_requests::merge_mr(
                &self.ctx,
                &mut st,
                pid,
                iid,
                username,
                &MergeOptions::default(),
            )?
        };
        finish(sends).await;
        Ok(sha)
    }

    /// A human closes the merge request without merging; returns once webhooks are sent.
    pub async fn close_mr(&self, path: &str, iid: u64) -> Result<(), SimError> {
        let sends = {
            let mut st = self.ctx.lock();
            let pid = st.project_key(path)?;
            merge_requests::close_mr(&self.ctx, &mut st, pid, iid, HUMAN)?
        };
        finish(sends).await;
        Ok(())
    }

    /// Send a past delivery again with the same `Idempotency-Key`, uuids, token and body;
    /// returns the new attempt once it finished.
    pub async fn redeliver(&self, idempotency_key: &str) -> Result<Delivery, SimError> {
        self.ctx.redeliver(idempotency_key).await
    }

    /// Wait until every delivery so far has finished (up to `timeout`); true if they all did.
    pub async fn wait_for_deliveries(&self, timeout: std::time::Duration) -> bool {
        self.ctx.wait_for_deliveries(timeout).await
    }
}

impl Sim for GitLabSim {
    fn server(&self) -> &Server {
        &self.api
    }

    /// Stops the API, then the Git remote.
    async fn shutdown(self) {
        self.api.shutdown().await;
        self.git.shutdown().await;
    }
}
