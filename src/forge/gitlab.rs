//! GitLab through the `gitlab` crate: its typed endpoints build each request and its async
//! client carries the token; suture sends them through `AsyncClient::rest_async` so the retry
//! loop sees every status and `RateLimit-*` header (the crate's `query_async` keeps only the
//! body).

use std::borrow::Cow;
use std::sync::Arc;

use gitlab::api::projects::Project;
use gitlab::api::projects::merge_requests::notes::CreateMergeRequestNote;
use gitlab::api::projects::merge_requests::{
    CreateMergeRequest, EditMergeRequest, MergeMergeRequest, MergeRequest, MergeRequestState,
    MergeRequestStateEvent, MergeRequests,
};
use gitlab::api::projects::repository::commits::{
    CommitStatusState, CommitStatuses, CreateCommitStatus,
};
use gitlab::api::{ApiError, AsyncClient as _, Endpoint};
use gitlab::{AsyncGitlab, GitlabBuilder, GitlabError, RestError};
use serde::Deserialize;
use tokio::sync::OnceCell;

use super::call::{self, Reply, Transport};
use super::status::{CommitStatus, PostedStatus, StatusState, newest_first};
use super::webhook::Secret;
use super::{
    ChangeRequest, ChangeState, ForgeError, ForgeSettings, ForgeStats, NewChange, RepoPath,
    RetryPolicy, already_exists,
};

/// A GitLab API client for one project or group access token.
#[derive(Clone)]
pub struct GitLab {
    /// What `GitlabBuilder::new` takes: the API URL without its scheme and `/api/v4`.
    host: String,
    /// `http://` (the simulators, a sidecar): the crate's `insecure()`.
    plain_http: bool,
    token: Secret,
    policy: RetryPolicy,
    stats: Arc<ForgeStats>,
    /// Built on first use: building checks the token with a request.
    client: OnceCell<AsyncGitlab>,
}

impl std::fmt::Debug for GitLab {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitLab")
            .field("host", &self.host)
            .field("plain_http", &self.plain_http)
            .finish_non_exhaustive()
    }
}

/// The fields of a merge request suture reads.
#[derive(Deserialize)]
struct Mr {
    iid: u64,
    web_url: String,
    source_branch: String,
    target_branch: String,
    state: String,
    title: String,
    description: Option<String>,
    merge_commit_sha: Option<String>,
    squash_commit_sha: Option<String>,
    #[serde(default)]
    labels: Vec<String>,
}

/// The fields of a commit status suture reads.
#[derive(Deserialize)]
struct Status {
    id: u64,
    status: String,
    name: String,
    description: Option<String>,
    target_url: Option<String>,
    created_at: Option<String>,
}

#[derive(Deserialize)]
struct ProjectInfo {
    default_branch: Option<String>,
}

impl GitLab {
    pub fn new(settings: &ForgeSettings) -> Result<GitLab, ForgeError> {
        let bad = || {
            ForgeError::Config(format!(
                "forge {}: api_url must look like https://host/api/v4 (no credentials)",
                settings.host
            ))
        };
        let url = settings.api_url.trim_end_matches('/');
        let (plain_http, rest) = if let Some(rest) = url.strip_prefix("http://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("https://") {
            (false, rest)
        } else {
            return Err(bad());
        };
        // `https://host/api/v4`, or the instance URL itself.
        let host = rest.strip_suffix("/api/v4").unwrap_or(rest);
        if host.is_empty() || host.contains('@') {
            return Err(bad());
        }
        Ok(GitLab {
            host: host.to_owned(),
            plain_http,
            token: settings.token.clone(),
            policy: settings.policy.clone(),
            stats: settings.stats.clone(),
            client: OnceCell::new(),
        })
    }

    pub fn stats(&self) -> &Arc<ForgeStats> {
        &self.stats
    }

    async fn client(&self) -> Result<&AsyncGitlab, ForgeError> {
        self.client
            .get_or_try_init(|| async {
                let token = String::from_utf8(self.token.expose().to_vec())
                    .map_err(|_| ForgeError::Config("the GitLab token is not UTF-8".into()))?;
                let mut builder = GitlabBuilder::new(self.host.clone(), token);
                if self.plain_http {
                    builder.insecure();
                }
                // Building asks for the current user: one call.
                self.stats
                    .calls
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                builder.build_async().await.map_err(build_error)
            })
            .await
    }

    /// One endpoint through the retry loop.
    async fn send<E: Endpoint + Sync>(&self, endpoint: &E) -> Result<Reply, ForgeError> {
        let gl = self.client().await?;
        let mut url = endpoint
            .url_base()
            .endpoint_for(gl, &endpoint.endpoint())
            .map_err(|e| ForgeError::Config(format!("GitLab URL: {e}")))?;
        endpoint.parameters().add_to_url(&mut url);
        let uri: http::Uri = url
            .as_str()
            .parse()
            .map_err(|e| ForgeError::Config(format!("GitLab URL: {e}")))?;
        let body = endpoint
            .body()
            .map_err(|e| ForgeError::Unexpected(format!("request body: {e}")))?;
        let method = endpoint.method();
        call::run(&self.policy, &self.stats, || {
            let mut req = http::Request::builder()
                .method(method.clone())
                .uri(uri.clone());
            let data = match &body {
                Some((mime, data)) => {
                    req = req.header(http::header::CONTENT_TYPE, *mime);
                    data.clone()
                }
                None => Vec::new(),
            };
            async move {
                let rsp = gl.rest_async(req, data).await.map_err(transport)?;
                let (parts, body) = rsp.into_parts();
                Ok(Reply {
                    status: parts.status.as_u16(),
                    headers: parts.headers,
                    body,
                })
            }
        })
        .await
    }

    pub async fn find_open(
        &self,
        repo: &RepoPath,
        head_branch: &str,
    ) -> Result<Option<ChangeRequest>, ForgeError> {
        let endpoint = MergeRequests::builder()
            .project(repo.as_str())
            .state(MergeRequestState::Opened)
            .source_branch(head_branch)
            .build()
            .map_err(builder)?;
        let mrs: Vec<Mr> = self.send(&endpoint).await?.json()?;
        Ok(mrs
            .into_iter()
            .map(change)
            .find(|c| c.head_branch == head_branch && c.state == ChangeState::Open))
    }

    pub async fn open(
        &self,
        repo: &RepoPath,
        new: &NewChange,
    ) -> Result<ChangeRequest, ForgeError> {
        if let Some(existing) = self.find_open(repo, &new.head).await? {
            return Ok(existing);
        }
        let endpoint = CreateMergeRequest::builder()
            .project(repo.as_str())
            .source_branch(new.head.as_str())
            .target_branch(new.base.as_str())
            .title(new.title.as_str())
            .description(new.body.as_str())
            .labels(new.labels.iter().map(|l| Cow::from(l.as_str())))
            .build()
            .map_err(builder)?;
        match self.send(&endpoint).await.and_then(|r| r.json::<Mr>()) {
            Ok(mr) => Ok(change(mr)),
            // 409 "Another open merge request already exists for this source branch" after a
            // create that had worked, or its answer lost: adopt what exists now.
            Err(e) if already_exists(&e) || matches!(e, ForgeError::Transient(_)) => {
                self.find_open(repo, &new.head).await?.ok_or(e)
            }
            Err(e) => Err(e),
        }
    }

    pub async fn get(&self, repo: &RepoPath, number: u64) -> Result<ChangeRequest, ForgeError> {
        let endpoint = MergeRequest::builder()
            .project(repo.as_str())
            .merge_request(number)
            .build()
            .map_err(builder)?;
        Ok(change(self.send(&endpoint).await?.json()?))
    }

    pub async fn comment(
        &self,
        repo: &RepoPath,
        number: u64,
        body: &str,
    ) -> Result<(), ForgeError> {
        let endpoint = CreateMergeRequestNote::builder()
            .project(repo.as_str())
            .merge_request(number)
            .body(body)
            .build()
            .map_err(builder)?;
        self.send(&endpoint).await?;
        Ok(())
    }

    pub async fn merge(&self, repo: &RepoPath, number: u64) -> Result<String, ForgeError> {
        let endpoint = MergeMergeRequest::builder()
            .project(repo.as_str())
            .merge_request(number)
            .build()
            .map_err(builder)?;
        let mr: Mr = self.send(&endpoint).await?.json()?;
        match change(mr).state {
            ChangeState::Merged { merge_sha } if !merge_sha.is_empty() => Ok(merge_sha),
            _ => Err(ForgeError::Unexpected(
                "merge answered without a sha".into(),
            )),
        }
    }

    pub async fn close(&self, repo: &RepoPath, number: u64) -> Result<(), ForgeError> {
        let endpoint = EditMergeRequest::builder()
            .project(repo.as_str())
            .merge_request(number)
            .state_event(MergeRequestStateEvent::Close)
            .build()
            .map_err(builder)?;
        self.send(&endpoint).await?;
        Ok(())
    }

    pub async fn default_branch(&self, repo: &RepoPath) -> Result<String, ForgeError> {
        let endpoint = Project::builder()
            .project(repo.as_str())
            .build()
            .map_err(builder)?;
        let p: ProjectInfo = self.send(&endpoint).await?.json()?;
        p.default_branch
            .ok_or_else(|| ForgeError::Unexpected("project without a default branch".into()))
    }
}

impl GitLab {
    pub async fn set_status(
        &self,
        repo: &RepoPath,
        sha: &str,
        status: &CommitStatus,
    ) -> Result<PostedStatus, ForgeError> {
        let state = match status.state {
            StatusState::Pending => CommitStatusState::Pending,
            StatusState::Success => CommitStatusState::Success,
            // GitLab has no `error`.
            StatusState::Failure | StatusState::Error => CommitStatusState::Failed,
        };
        let mut b = CreateCommitStatus::builder();
        b.project(repo.as_str())
            .commit(sha)
            .state(state)
            .name(status.context.as_str());
        if let Some(d) = &status.description {
            b.description(d.as_str());
        }
        if let Some(u) = &status.target_url {
            b.target_url(u.as_str());
        }
        let endpoint = b.build().map_err(builder)?;
        match self.send(&endpoint).await {
            Ok(reply) => Ok(posted(reply.json()?)),
            // GitLab refuses pending -> pending ("Cannot transition status via :enqueue"): a
            // retry whose first attempt had landed. What is there already is the answer.
            Err(ForgeError::Rejected {
                status: 400,
                message,
            }) if message.contains("Cannot transition status") => {
                let wanted = match status.state {
                    StatusState::Error => StatusState::Failure,
                    s => s,
                };
                self.statuses(repo, sha)
                    .await?
                    .into_iter()
                    .find(|s| s.status.context == status.context && s.status.state == wanted)
                    .ok_or(ForgeError::Rejected {
                        status: 400,
                        message,
                    })
            }
            Err(ForgeError::NotFound) => Err(self.not_found(repo, sha).await),
            Err(e) => Err(e),
        }
    }

    pub async fn statuses(
        &self,
        repo: &RepoPath,
        sha: &str,
    ) -> Result<Vec<PostedStatus>, ForgeError> {
        let endpoint = CommitStatuses::builder()
            .project(repo.as_str())
            .commit(sha)
            .build()
            .map_err(builder)?;
        let list: Vec<Status> = match self.send(&endpoint).await {
            Ok(reply) => reply.json()?,
            Err(ForgeError::NotFound) => return Err(self.not_found(repo, sha).await),
            Err(e) => return Err(e),
        };
        Ok(newest_first(list.into_iter().map(posted).collect()))
    }

    /// A 404 names the project or the commit; the project is looked up to tell which.
    async fn not_found(&self, repo: &RepoPath, sha: &str) -> ForgeError {
        match self.default_branch(repo).await {
            Ok(_) => ForgeError::UnknownCommit { sha: sha.into() },
            Err(e) => e,
        }
    }
}

fn posted(s: Status) -> PostedStatus {
    PostedStatus {
        id: s.id,
        status: CommitStatus {
            state: StatusState::from_gitlab(&s.status),
            context: s.name,
            description: s.description,
            target_url: s.target_url,
        },
        created_at: s.created_at.and_then(|t| t.parse().ok()),
    }
}

/// An endpoint builder refused its input (a required field missing): suture's own bug.
fn builder(e: impl std::fmt::Display) -> ForgeError {
    ForgeError::Unexpected(format!("GitLab request: {e}"))
}

/// reqwest's errors name the URL, never the `PRIVATE-TOKEN` header.
fn transport(e: ApiError<RestError>) -> Transport {
    Transport(e.to_string())
}

/// Building the client checks the token against `/user`.
fn build_error(e: GitlabError) -> ForgeError {
    match e {
        GitlabError::Api { source } => match source {
            ApiError::GitlabWithStatus { status, msg } => status_error(status.as_u16(), msg),
            ApiError::GitlabObjectWithStatus { status, obj }
            | ApiError::GitlabUnrecognizedWithStatus { status, obj } => {
                status_error(status.as_u16(), call::message(obj.to_string().as_bytes()))
            }
            ApiError::GitlabService { status, .. } => status_error(status.as_u16(), String::new()),
            ApiError::GitlabRateLimited { .. } => ForgeError::RateLimited { until: None },
            other => ForgeError::Transient(other.to_string()),
        },
        GitlabError::UrlParse { .. } => ForgeError::Config("GitLab URL does not parse".into()),
        other => ForgeError::Transient(other.to_string()),
    }
}

fn status_error(status: u16, message: String) -> ForgeError {
    match status {
        404 => ForgeError::NotFound,
        429 => ForgeError::RateLimited { until: None },
        s if s >= 500 => ForgeError::Transient(format!("HTTP {s}")),
        s => ForgeError::Rejected { status: s, message },
    }
}

fn change(mr: Mr) -> ChangeRequest {
    let state = match mr.state.as_str() {
        "merged" => ChangeState::Merged {
            merge_sha: mr
                .merge_commit_sha
                .or(mr.squash_commit_sha)
                .unwrap_or_default(),
        },
        "closed" => ChangeState::Closed,
        _ => ChangeState::Open,
    };
    ChangeRequest {
        number: mr.iid,
        url: mr.web_url,
        head_branch: mr.source_branch,
        base_branch: mr.target_branch,
        state,
        title: mr.title,
        body: mr.description.unwrap_or_default(),
        labels: mr.labels,
    }
}
