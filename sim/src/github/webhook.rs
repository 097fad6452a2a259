//! GitHub's side of webhook delivery: one POST per hook with `X-GitHub-Event`,
//! `X-GitHub-Delivery` and `X-Hub-Signature-256` (HMAC-SHA256 of the raw body). Recording,
//! sending and redelivery are the shared [`crate::forge::webhook`].

use std::sync::Arc;

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use tokio::task::JoinHandle;

use super::routes::Ctx;
use super::state::State;
use crate::forge::webhook::{Delivery, wants};

const USER_AGENT: &str = "GitHub-Hookshot/sim";

/// A webhook: where to POST, the secret to sign with, and the events it wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookConfig {
    pub url: String,
    pub secret: String,
    /// Event names (`pull_request`, ...); empty or `*` means every event.
    pub events: Vec<String>,
}

impl WebhookConfig {
    /// A hook for `pull_request` events, which is what suture subscribes to.
    pub fn pull_requests(url: impl Into<String>, secret: impl Into<String>) -> Self {
        WebhookConfig {
            url: url.into(),
            secret: secret.into(),
            events: vec!["pull_request".to_owned()],
        }
    }
}

/// `sha256=<hex HMAC-SHA256(secret, body)>`, as in `X-Hub-Signature-256`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    // HMAC accepts keys of any length: the error branch is never taken.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let mut hex = String::with_capacity(7 + 64);
    hex.push_str("sha256=");
    for b in digest {
        hex.push_str(&format!("{b:02x}"));
    }
    hex
}

/// A hook registered on one repository (`POST /repos/{owner}/{repo}/hooks`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RepoHook {
    pub id: u64,
    pub config: WebhookConfig,
    pub active: bool,
    /// `json` or `form` (GitHub's default: `payload=<json>` form-encoded).
    pub content_type: String,
    /// `"0"` or `"1"`, as GitHub keeps it.
    pub insecure_ssl: String,
    pub created_at: String,
    pub updated_at: String,
}

/// Record and send `payload` to every hook that wants `event`: the simulator-wide ones and the
/// active hooks of repository `full`. Returns the tasks sending, which finish once each
/// attempt is recorded as done.
pub(crate) fn emit(
    ctx: &Arc<Ctx>,
    st: &State,
    full: &str,
    event: &str,
    payload: &Value,
) -> Vec<JoinHandle<()>> {
    let global = st
        .hooks
        .iter()
        .filter(|h| wants(&h.events, event))
        .map(|hook| send(ctx, hook, None, event, payload));
    let target_id = st.repos.get(full).map(|r| r.id).unwrap_or(0);
    let repo = st
        .repo_hooks
        .get(full)
        .into_iter()
        .flatten()
        .filter(|h| h.active && wants(&h.config.events, event))
        .map(|h| send(ctx, &h.config, Some((h, target_id)), event, payload));
    global.chain(repo).collect()
}

/// One delivery to one hook, signed with its secret (no signature header without one, as on
/// GitHub).
pub(crate) fn send(
    ctx: &Arc<Ctx>,
    hook: &WebhookConfig,
    repo_hook: Option<(&RepoHook, u64)>,
    event: &str,
    payload: &Value,
) -> JoinHandle<()> {
    let id = uuid::Uuid::new_v4().to_string();
    let mut d = Delivery::new(id.clone(), event, &hook.url, payload, payload.get("action"));
    if repo_hook.is_some_and(|(h, _)| h.content_type == "form") {
        d.body = form_urlencoded::Serializer::new(String::new())
            .append_pair("payload", &payload.to_string())
            .finish()
            .into_bytes();
        d = d.header("content-type", "application/x-www-form-urlencoded");
    }
    let (hook_id, target, target_id) = match repo_hook {
        Some((h, repo_id)) => (h.id, "repository", repo_id),
        None => (1, "integration", 1),
    };
    let mut d = d
        .header("user-agent", USER_AGENT)
        .header("x-github-event", event)
        .header("x-github-delivery", id)
        .header("x-github-hook-id", hook_id.to_string())
        .header("x-github-hook-installation-target-type", target)
        .header(
            "x-github-hook-installation-target-id",
            target_id.to_string(),
        );
    if !hook.secret.is_empty() {
        let sig = signature(&hook.secret, &d.body);
        d = d.header("x-hub-signature-256", sig);
    }
    ctx.outbox.send(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_githubs_documented_example() {
        // From GitHub's "Validating webhook deliveries" docs.
        assert_eq!(
            signature("It's a Secret to Everybody", b"Hello, World!"),
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
    }
}
