//! Forge webhooks: authenticate a delivery and read what it says. Pure: headers and the raw body
//! in, a verdict out. The HTTP layer maps [`WebhookError::status`] to the response code and
//! records nothing for a rejected request.
//!
//! GitHub signs the raw body: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256>`. GitLab sends the
//! configured secret verbatim in `X-Gitlab-Token`. Alertmanager sends its
//! `http_config.authorization` credentials as `Authorization: Bearer <token>`. Every comparison
//! is constant time, and several secrets may be accepted at once so they can be rotated.

use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// A webhook secret or token. Its bytes never reach `Debug` output, logs or error texts.
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl Secret {
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Secret(bytes.into())
    }

    /// The secret's bytes, to compute or compare credentials or to send them; never to log.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Why a delivery was refused. No variant carries a secret or the body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("missing {0} header")]
    MissingCredential(&'static str),
    #[error("{0} header is not in the expected form")]
    MalformedCredential(&'static str),
    #[error("credentials do not match any configured secret")]
    BadCredential,
    #[error("missing {0} header")]
    MissingHeader(&'static str),
    #[error("malformed payload: {0}")]
    Malformed(String),
}

impl WebhookError {
    /// The HTTP status a server answers with: 401 for authentication, 400 for the rest.
    pub fn status(&self) -> u16 {
        match self {
            WebhookError::MissingCredential(_)
            | WebhookError::MalformedCredential(_)
            | WebhookError::BadCredential => 401,
            WebhookError::MissingHeader(_) | WebhookError::Malformed(_) => 400,
        }
    }
}

const GITHUB_SIGNATURE: &str = "X-Hub-Signature-256";
const GITLAB_TOKEN: &str = "X-Gitlab-Token";
const AUTHORIZATION: &str = "Authorization";

/// Check `X-Hub-Signature-256` against every accepted secret.
pub fn verify_github(
    secrets: &[Secret],
    signature: Option<&str>,
    body: &[u8],
) -> Result<(), WebhookError> {
    let signature = signature.ok_or(WebhookError::MissingCredential(GITHUB_SIGNATURE))?;
    let hex_digest = signature
        .trim()
        .strip_prefix("sha256=")
        .ok_or(WebhookError::MalformedCredential(GITHUB_SIGNATURE))?;
    let digest =
        hex::decode(hex_digest).map_err(|_| WebhookError::MalformedCredential(GITHUB_SIGNATURE))?;
    // `verify_slice` compares in constant time. Which of the secrets matched is not secret.
    let matched = secrets.iter().any(|secret| {
        Hmac::<Sha256>::new_from_slice(secret.expose())
            .map(|mut mac| {
                mac.update(body);
                mac.verify_slice(&digest).is_ok()
            })
            .unwrap_or(false)
    });
    if matched {
        Ok(())
    } else {
        Err(WebhookError::BadCredential)
    }
}

/// The `sha256=<hex>` header value GitHub would send for `body` signed with `secret`.
pub fn github_signature(secret: &Secret, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.expose()).expect("HMAC accepts keys of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Check `X-Gitlab-Token` against every accepted secret, in constant time.
pub fn verify_gitlab(secrets: &[Secret], token: Option<&str>) -> Result<(), WebhookError> {
    let token = token.ok_or(WebhookError::MissingCredential(GITLAB_TOKEN))?;
    matches_any(secrets, token.as_bytes())
}

/// Check an `Authorization: Bearer <token>` header (Alertmanager's `http_config.authorization`).
pub fn verify_bearer(tokens: &[Secret], authorization: Option<&str>) -> Result<(), WebhookError> {
    let value = authorization.ok_or(WebhookError::MissingCredential(AUTHORIZATION))?;
    let (scheme, token) = value
        .trim()
        .split_once(' ')
        .ok_or(WebhookError::MalformedCredential(AUTHORIZATION))?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(WebhookError::MalformedCredential(AUTHORIZATION));
    }
    matches_any(tokens, token.trim().as_bytes())
}

fn matches_any(secrets: &[Secret], given: &[u8]) -> Result<(), WebhookError> {
    // `ct_eq` on slices of different lengths returns false without comparing bytes; the length
    // of a secret is not worth hiding, its content is.
    let matched = secrets.iter().fold(subtle::Choice::from(0), |acc, s| {
        acc | s.expose().ct_eq(given)
    });
    if bool::from(matched) && !given.is_empty() {
        Ok(())
    } else {
        Err(WebhookError::BadCredential)
    }
}

/// The repository a delivery is about, as the forge names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepoId {
    /// `owner/name` (GitHub `full_name`) or `group/subgroup/project` (GitLab
    /// `path_with_namespace`).
    pub path: String,
    /// The HTTPS clone URL, to match against Application `repoURL`s.
    pub clone_url: String,
}

/// What happened to a pull request / merge request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChangeAction {
    Opened,
    Reopened,
    /// Closed with the change merged into the base branch.
    Merged {
        merge_sha: String,
    },
    /// Closed without merging.
    Closed,
    /// New commits on the head branch.
    Updated,
    /// Labels, titles, reviews and the like: recorded, not acted on.
    Other(String),
}

/// A pull request (GitHub) or merge request (GitLab) event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangeEvent {
    pub repo: RepoId,
    /// PR number / MR iid.
    pub number: u64,
    pub action: ChangeAction,
    pub head_branch: String,
    pub base_branch: String,
    pub url: String,
}

/// What a verified delivery means to suture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ForgeEvent {
    Change(ChangeEvent),
    /// A delivery suture has nothing to do with (a push, a ping, an issue comment).
    Ignored {
        event: String,
    },
}

#[derive(Deserialize)]
struct GhRepo {
    full_name: String,
    clone_url: String,
}

#[derive(Deserialize)]
struct GhRef {
    #[serde(rename = "ref")]
    ref_: String,
}

#[derive(Deserialize)]
struct GhPull {
    number: u64,
    html_url: String,
    #[serde(default)]
    merged: Option<bool>,
    #[serde(default)]
    merge_commit_sha: Option<String>,
    head: GhRef,
    base: GhRef,
}

#[derive(Deserialize)]
struct GhPullEvent {
    action: String,
    pull_request: GhPull,
    repository: GhRepo,
}

/// Read a GitHub delivery (`X-GitHub-Event` names the event). Only `pull_request` matters.
pub fn parse_github(event: Option<&str>, body: &[u8]) -> Result<ForgeEvent, WebhookError> {
    let event = event.ok_or(WebhookError::MissingHeader("X-GitHub-Event"))?;
    if event != "pull_request" {
        // Still must be JSON: a garbled body is a broken sender, not an ignorable event.
        serde_json::from_slice::<serde::de::IgnoredAny>(body)
            .map_err(|e| WebhookError::Malformed(e.to_string()))?;
        return Ok(ForgeEvent::Ignored {
            event: event.to_string(),
        });
    }
    let p: GhPullEvent =
        serde_json::from_slice(body).map_err(|e| WebhookError::Malformed(e.to_string()))?;
    let action = match p.action.as_str() {
        "opened" => ChangeAction::Opened,
        "reopened" => ChangeAction::Reopened,
        "synchronize" => ChangeAction::Updated,
        // Only `merged == true` means merged: `merge_commit_sha` is set on unmerged PRs too.
        "closed" if p.pull_request.merged == Some(true) => ChangeAction::Merged {
            merge_sha: p.pull_request.merge_commit_sha.clone().ok_or_else(|| {
                WebhookError::Malformed("merged pull request without merge_commit_sha".into())
            })?,
        },
        "closed" => ChangeAction::Closed,
        other => ChangeAction::Other(other.to_string()),
    };
    Ok(ForgeEvent::Change(ChangeEvent {
        repo: RepoId {
            path: p.repository.full_name,
            clone_url: p.repository.clone_url,
        },
        number: p.pull_request.number,
        action,
        head_branch: p.pull_request.head.ref_,
        base_branch: p.pull_request.base.ref_,
        url: p.pull_request.html_url,
    }))
}

#[derive(Deserialize)]
struct GlProject {
    path_with_namespace: String,
    #[serde(default)]
    git_http_url: Option<String>,
    #[serde(default)]
    http_url: Option<String>,
}

#[derive(Deserialize)]
struct GlAttributes {
    iid: u64,
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    merge_commit_sha: Option<String>,
    source_branch: String,
    target_branch: String,
    url: String,
}

#[derive(Deserialize)]
struct GlMergeRequestEvent {
    object_kind: String,
    project: GlProject,
    object_attributes: GlAttributes,
}

/// Read a GitLab delivery (`X-Gitlab-Event` names the event). Only merge request hooks matter.
pub fn parse_gitlab(event: Option<&str>, body: &[u8]) -> Result<ForgeEvent, WebhookError> {
    let event = event.ok_or(WebhookError::MissingHeader("X-Gitlab-Event"))?;
    if event != "Merge Request Hook" {
        serde_json::from_slice::<serde::de::IgnoredAny>(body)
            .map_err(|e| WebhookError::Malformed(e.to_string()))?;
        return Ok(ForgeEvent::Ignored {
            event: event.to_string(),
        });
    }
    let m: GlMergeRequestEvent =
        serde_json::from_slice(body).map_err(|e| WebhookError::Malformed(e.to_string()))?;
    if m.object_kind != "merge_request" {
        return Err(WebhookError::Malformed(format!(
            "Merge Request Hook with object_kind {:?}",
            m.object_kind
        )));
    }
    let a = m.object_attributes;
    let action = match (a.action.as_deref(), a.state.as_deref()) {
        (Some("open"), _) => ChangeAction::Opened,
        (Some("reopen"), _) => ChangeAction::Reopened,
        (Some("merge"), _) => ChangeAction::Merged {
            merge_sha: a.merge_commit_sha.clone().ok_or_else(|| {
                WebhookError::Malformed("merge event without merge_commit_sha".into())
            })?,
        },
        (Some("close"), _) => ChangeAction::Closed,
        // `update` also fires for label and title changes; `oldrev` would tell new commits, but
        // suture re-reads the branch anyway.
        (Some("update"), _) => ChangeAction::Updated,
        (Some(other), _) => ChangeAction::Other(other.to_string()),
        (None, state) => ChangeAction::Other(state.unwrap_or("unknown").to_string()),
    };
    let clone_url = m
        .project
        .git_http_url
        .or(m.project.http_url)
        .unwrap_or_default();
    Ok(ForgeEvent::Change(ChangeEvent {
        repo: RepoId {
            path: m.project.path_with_namespace,
            clone_url,
        },
        number: a.iid,
        action,
        head_branch: a.source_branch,
        base_branch: a.target_branch,
        url: a.url,
    }))
}

#[cfg(test)]
mod tests;
