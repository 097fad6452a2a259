//! GitHub through octocrab. octocrab carries the token and the transport; suture sends its
//! requests raw (`_get`, `_post`, ...) so the retry loop sees every status and rate-limit
//! header, and decodes the bodies into octocrab's own models.

use std::sync::Arc;

use http::Method;
use http_body_util::BodyExt as _;
use octocrab::Octocrab;
use octocrab::models::IssueState;
use octocrab::models::pulls::PullRequest;
use octocrab::models::{AppId, InstallationId};
use octocrab::service::middleware::retry::RetryConfig;
use serde_json::{Value, json};
use tokio::sync::OnceCell;

use super::call::{self, Reply, Transport};
use super::status::{CommitStatus, PostedStatus, StatusState, newest_first};
use super::webhook::Secret;
use super::{
    ChangeRequest, ChangeState, ForgeError, ForgeSettings, ForgeStats, NewChange, RepoPath,
    RetryPolicy, already_exists,
};

/// A GitHub (or GitHub Enterprise) API client for one token or one GitHub App installation.
#[derive(Clone)]
pub struct GitHub {
    api_url: http::Uri,
    token: Secret,
    /// GitHub App authentication: octocrab signs the App's JWT with the key, mints installation
    /// tokens and refreshes them before they expire.
    app: Option<App>,
    policy: RetryPolicy,
    stats: Arc<ForgeStats>,
    /// Built on first use: octocrab's service needs a running tokio runtime.
    client: OnceCell<Octocrab>,
}

#[derive(Clone)]
struct App {
    app_id: u64,
    installation_id: u64,
    key: octocrab::EncodingKey,
}

impl std::fmt::Debug for GitHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitHub")
            .field("api_url", &self.api_url)
            .finish_non_exhaustive()
    }
}

impl GitHub {
    pub fn new(settings: &ForgeSettings) -> Result<GitHub, ForgeError> {
        let api_url = settings
            .api_url
            .parse::<http::Uri>()
            .ok()
            .filter(|u| u.scheme().is_some() && u.authority().is_some())
            .ok_or_else(|| {
                ForgeError::Config(format!(
                    "forge {}: api_url is not an http(s) URL",
                    settings.host
                ))
            })?;
        let app = match &settings.app {
            None => None,
            Some(a) => Some(App {
                app_id: a.app_id,
                installation_id: a.installation_id,
                key: app_key(a.private_key.expose()).ok_or_else(|| {
                    ForgeError::Config(format!(
                        "forge {}: the GitHub App private key is not an RSA private key in PEM \
                         form",
                        settings.host
                    ))
                })?,
            }),
        };
        Ok(GitHub {
            api_url,
            token: settings.token.clone(),
            app,
            policy: settings.policy.clone(),
            stats: settings.stats.clone(),
            client: OnceCell::new(),
        })
    }

    pub fn stats(&self) -> &Arc<ForgeStats> {
        &self.stats
    }

    async fn client(&self) -> Result<&Octocrab, ForgeError> {
        self.client
            .get_or_try_init(|| async {
                let builder = Octocrab::builder()
                    .base_uri(self.api_url.clone())
                    .map_err(|e| ForgeError::Config(format!("GitHub client: {e}")))?
                    // `call::run` is the one retry loop.
                    .add_retry_config(RetryConfig::None);
                let built = match &self.app {
                    None => {
                        let token =
                            String::from_utf8(self.token.expose().to_vec()).map_err(|_| {
                                ForgeError::Config("the GitHub token is not UTF-8".into())
                            })?;
                        builder.personal_token(token).build()
                    }
                    // The installation client asks for its token itself, and again shortly
                    // before it expires (tokens live an hour).
                    Some(app) => builder
                        .app(AppId(app.app_id), app.key.clone())
                        .build()
                        .and_then(|c| c.installation(InstallationId(app.installation_id))),
                };
                built.map_err(|e| ForgeError::Config(format!("GitHub client: {e}")))
            })
            .await
    }

    /// A GitHub App's installation token, valid for at least another minute: octocrab's cached
    /// one, or a new one from `POST /app/installations/{id}/access_tokens`. `None` for a token
    /// client. The token is for Git over HTTPS and is never logged.
    pub async fn app_token(&self) -> Result<Option<Secret>, ForgeError> {
        use octocrab::secrecy::ExposeSecret as _;
        let Some(app) = &self.app else {
            return Ok(None);
        };
        let gh = self.client().await?;
        let token = gh
            .installation_token_with_buffer(TOKEN_RENEWAL)
            .await
            .map_err(|e| app_error(app, e))?;
        Ok(Some(Secret::new(token.expose_secret().as_bytes())))
    }

    /// One API call through the retry loop.
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Reply, ForgeError> {
        let gh = self.client().await?;
        // An App client gets its installation token first, so a refusal is told as such
        // rather than as a transport failure inside the retry loop.
        self.app_token().await?;
        call::run(&self.policy, &self.stats, || {
            let method = method.clone();
            async move {
                let path = path.to_owned();
                let resp = match method {
                    Method::GET => gh._get(path).await,
                    Method::POST => gh._post(path, body).await,
                    Method::PUT => gh._put(path, body).await,
                    Method::PATCH => gh._patch(path, body).await,
                    _ => gh._delete(path, body).await,
                }
                .map_err(transport)?;
                let (parts, body) = resp.into_parts();
                let body = body.collect().await.map_err(transport)?.to_bytes();
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
        let (owner, _) = repo.split();
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("state", "open")
            .append_pair("head", &format!("{owner}:{head_branch}"))
            .finish();
        let pulls: Vec<PullRequest> = self
            .send(Method::GET, &format!("/repos/{repo}/pulls?{query}"), None)
            .await?
            .json()?;
        // The filter is GitHub's; the head is checked again rather than trusted.
        Ok(pulls
            .into_iter()
            .map(change)
            .find(|c| c.head_branch == head_branch && c.state == ChangeState::Open))
    }

    pub async fn open(
        &self,
        repo: &RepoPath,
        new: &NewChange,
    ) -> Result<ChangeRequest, ForgeError> {
        let pr = match self.find_open(repo, &new.head).await? {
            Some(existing) => existing,
            None => {
                let body = json!({
                    "title": new.title,
                    "body": new.body,
                    "head": new.head,
                    "base": new.base,
                });
                let created = self
                    .send(Method::POST, &format!("/repos/{repo}/pulls"), Some(&body))
                    .await
                    .and_then(|r| r.json::<PullRequest>());
                match created {
                    Ok(pr) => change(pr),
                    // A retried create that had worked (422 "already exists"), or an answer
                    // lost on the way: whatever exists now is the one.
                    Err(e) if already_exists(&e) || matches!(e, ForgeError::Transient(_)) => {
                        self.find_open(repo, &new.head).await?.ok_or(e)?
                    }
                    Err(e) => return Err(e),
                }
            }
        };
        self.ensure_labels(repo, pr, &new.labels).await
    }

    /// Add the labels the pull request lacks (adding is idempotent on GitHub).
    async fn ensure_labels(
        &self,
        repo: &RepoPath,
        mut pr: ChangeRequest,
        labels: &[String],
    ) -> Result<ChangeRequest, ForgeError> {
        let missing: Vec<&String> = labels.iter().filter(|l| !pr.labels.contains(l)).collect();
        if missing.is_empty() {
            return Ok(pr);
        }
        let now: Vec<octocrab::models::Label> = self
            .send(
                Method::POST,
                &format!("/repos/{repo}/issues/{}/labels", pr.number),
                Some(&json!({ "labels": missing })),
            )
            .await?
            .json()?;
        pr.labels = now.into_iter().map(|l| l.name).collect();
        Ok(pr)
    }

    pub async fn get(&self, repo: &RepoPath, number: u64) -> Result<ChangeRequest, ForgeError> {
        let pr: PullRequest = self
            .send(Method::GET, &format!("/repos/{repo}/pulls/{number}"), None)
            .await?
            .json()?;
        Ok(change(pr))
    }

    pub async fn comment(
        &self,
        repo: &RepoPath,
        number: u64,
        body: &str,
    ) -> Result<(), ForgeError> {
        self.send(
            Method::POST,
            &format!("/repos/{repo}/issues/{number}/comments"),
            Some(&json!({ "body": body })),
        )
        .await?;
        Ok(())
    }

    pub async fn merge(&self, repo: &RepoPath, number: u64) -> Result<String, ForgeError> {
        let merged: octocrab::models::pulls::Merge = self
            .send(
                Method::PUT,
                &format!("/repos/{repo}/pulls/{number}/merge"),
                Some(&json!({ "merge_method": "merge" })),
            )
            .await?
            .json()?;
        match merged.sha {
            Some(sha) if merged.merged => Ok(sha),
            _ => Err(ForgeError::Unexpected(
                "merge answered without a sha".into(),
            )),
        }
    }

    pub async fn close(&self, repo: &RepoPath, number: u64) -> Result<(), ForgeError> {
        self.send(
            Method::PATCH,
            &format!("/repos/{repo}/pulls/{number}"),
            Some(&json!({ "state": "closed" })),
        )
        .await?;
        Ok(())
    }

    pub async fn default_branch(&self, repo: &RepoPath) -> Result<String, ForgeError> {
        let r: octocrab::models::Repository = self
            .send(Method::GET, &format!("/repos/{repo}"), None)
            .await?
            .json()?;
        r.default_branch
            .ok_or_else(|| ForgeError::Unexpected("repository without a default branch".into()))
    }
}

impl GitHub {
    pub async fn set_status(
        &self,
        repo: &RepoPath,
        sha: &str,
        status: &CommitStatus,
    ) -> Result<PostedStatus, ForgeError> {
        let body = json!({
            "state": status.state.github(),
            "context": status.context,
            "description": status.description,
            "target_url": status.target_url,
        });
        let posted: octocrab::models::Status = self
            .send(
                Method::POST,
                &format!("/repos/{repo}/statuses/{sha}"),
                Some(&body),
            )
            .await
            .map_err(|e| unknown_commit(e, sha))?
            .json()?;
        Ok(posted_status(posted))
    }

    pub async fn statuses(
        &self,
        repo: &RepoPath,
        sha: &str,
    ) -> Result<Vec<PostedStatus>, ForgeError> {
        let path = format!("/repos/{repo}/commits/{sha}/statuses?per_page=100");
        let list: Vec<octocrab::models::Status> = match self.send(Method::GET, &path, None).await {
            Ok(reply) => reply.json()?,
            // A 404 names the repository or the commit; the repository is looked up to tell.
            Err(ForgeError::NotFound) => {
                return Err(match self.default_branch(repo).await {
                    Ok(_) => ForgeError::UnknownCommit { sha: sha.into() },
                    Err(e) => e,
                });
            }
            Err(e) => return Err(e),
        };
        Ok(newest_first(list.into_iter().map(posted_status).collect()))
    }
}

/// GitHub answers a sha it does not have with 422 "No commit found for SHA".
fn unknown_commit(e: ForgeError, sha: &str) -> ForgeError {
    match e {
        ForgeError::Rejected {
            status: 422,
            message,
        } if message.contains("No commit found") => ForgeError::UnknownCommit { sha: sha.into() },
        e => e,
    }
}

fn posted_status(s: octocrab::models::Status) -> PostedStatus {
    use octocrab::models::StatusState as S;
    let state = match s.state {
        S::Success => StatusState::Success,
        S::Failure => StatusState::Failure,
        S::Error => StatusState::Error,
        _ => StatusState::Pending,
    };
    PostedStatus {
        id: s.id.map_or(0, |id| id.0),
        status: CommitStatus {
            state,
            context: s.context.unwrap_or_else(|| "default".into()),
            description: s.description,
            target_url: s.target_url,
        },
        created_at: s
            .created_at
            .and_then(|t| jiff::Timestamp::from_second(t.timestamp()).ok()),
    }
}

/// A GitHub App's private key (PEM) ready to sign its JWTs, if it is one: the key is tried on
/// a throwaway JWT, since a public key or a mangled one parses but cannot sign.
pub fn app_key(pem: &[u8]) -> Option<octocrab::EncodingKey> {
    use octocrab::jsonwebtoken::{Algorithm, Header, encode};
    let key = octocrab::EncodingKey::from_rsa_pem(pem).ok()?;
    encode(&Header::new(Algorithm::RS256), &json!({"iss": 0}), &key).ok()?;
    Some(key)
}

/// An installation token is renewed this long before it expires, so a fetch and push that
/// started with it finish before GitHub stops accepting it.
const TOKEN_RENEWAL: chrono::Duration = chrono::Duration::minutes(5);

/// The installation token request failed: GitHub's refusal (401 for a JWT it cannot verify,
/// 404 for an installation the App does not have) or no answer.
fn app_error(app: &App, e: octocrab::Error) -> ForgeError {
    match e {
        octocrab::Error::GitHub { source, .. } => {
            let status = source.status_code.as_u16();
            if status >= 500 {
                ForgeError::Transient(format!(
                    "GitHub App installation token: HTTP {status}: {}",
                    source.message
                ))
            } else {
                ForgeError::AppAuth {
                    app_id: app.app_id,
                    installation_id: app.installation_id,
                    status,
                    message: source.message.clone(),
                }
            }
        }
        octocrab::Error::JWT { .. } => ForgeError::Config(
            "the GitHub App JWT cannot be signed with the configured private key".into(),
        ),
        other => ForgeError::Transient(format!("GitHub App installation token: {other}")),
    }
}

/// octocrab's transport errors name the URL, never the Authorization header.
fn transport(e: octocrab::Error) -> Transport {
    Transport(e.to_string())
}

fn change(pr: PullRequest) -> ChangeRequest {
    let state = match (&pr.merged_at, &pr.state) {
        (Some(_), _) => ChangeState::Merged {
            merge_sha: pr.merge_commit_sha.clone().unwrap_or_default(),
        },
        (None, Some(IssueState::Closed)) => ChangeState::Closed,
        _ => ChangeState::Open,
    };
    ChangeRequest {
        number: pr.number,
        url: pr.html_url.map(|u| u.to_string()).unwrap_or_default(),
        head_branch: pr.head.ref_field,
        base_branch: pr.base.ref_field,
        state,
        title: pr.title.unwrap_or_default(),
        body: pr.body.unwrap_or_default(),
        labels: pr
            .labels
            .unwrap_or_default()
            .into_iter()
            .map(|l| l.name)
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PRIVATE: &str = include_str!("../../tests/fixtures/github-app/app.private-key.pem");
    const PUBLIC: &str = include_str!("../../tests/fixtures/github-app/app.public-key.pem");
    const PKCS8: &str = include_str!("../../tests/fixtures/github-app/app.private-key.pkcs8.pem");

    #[test]
    fn forge_app_key_must_be_an_rsa_private_key_that_signs() {
        assert!(app_key(PRIVATE.as_bytes()).is_some());
        assert!(app_key(PKCS8.as_bytes()).is_some(), "PKCS#8 works too");
        assert!(
            app_key(PUBLIC.as_bytes()).is_none(),
            "a public key cannot sign"
        );
        assert!(app_key(b"ghp_not_a_key").is_none());
        let cut = &PRIVATE[..PRIVATE.len() / 2];
        assert!(app_key(cut.as_bytes()).is_none());
    }

    #[test]
    fn forge_app_settings_build_a_client_and_a_bad_key_is_a_config_error() {
        let app = |key: &str| super::super::GithubApp {
            app_id: 1,
            installation_id: 2,
            private_key: Secret::new(key),
        };
        let ok = ForgeSettings::github_app("github.com", "https://api.github.com", app(PRIVATE));
        assert!(GitHub::new(&ok).is_ok());
        assert!(!format!("{ok:?}").contains("PRIVATE KEY"), "{ok:?}");
        let bad = ForgeSettings::github_app("github.com", "https://api.github.com", app(PUBLIC));
        match GitHub::new(&bad) {
            Err(ForgeError::Config(m)) => assert!(m.contains("not an RSA private key"), "{m}"),
            other => panic!("{other:?}"),
        }
    }
}
