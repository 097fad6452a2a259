//! GitLab's side of webhook delivery: one POST per hook with `X-Gitlab-Event`, the hook's
//! secret in `X-Gitlab-Token`, and an `Idempotency-Key` that stays the same when the delivery is
//! retried. Recording, sending and redelivery are the shared [`crate::forge::webhook`].

use std::sync::Arc;

use serde_json::Value;
use tokio::task::JoinHandle;

use super::routes::Ctx;
use super::state::State;
use crate::forge::webhook::{Delivery, wants};

/// The GitLab version the simulator claims, in `User-Agent` and `X-Gitlab-Instance` terms.
pub const GITLAB_VERSION: &str = "17.11.0";
/// The event name of merge request webhooks.
pub const MERGE_REQUEST_HOOK: &str = "Merge Request Hook";
/// The event name of push webhooks.
pub const PUSH_HOOK: &str = "Push Hook";
/// The event name of comment webhooks.
pub const NOTE_HOOK: &str = "Note Hook";

/// A project webhook: where to POST, the secret token, and the events it wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookConfig {
    pub url: String,
    /// Sent verbatim as `X-Gitlab-Token`.
    pub token: String,
    /// Event names (`Merge Request Hook`, ...); empty or `*` means every event.
    pub events: Vec<String>,
    /// `X-Gitlab-Webhook-UUID`.
    pub uuid: String,
}

impl WebhookConfig {
    /// A hook for merge request events, which is what suture subscribes to.
    pub fn merge_requests(url: impl Into<String>, token: impl Into<String>) -> Self {
        WebhookConfig {
            url: url.into(),
            token: token.into(),
            events: vec![MERGE_REQUEST_HOOK.to_owned()],
            uuid: uuid::Uuid::new_v4().to_string(),
        }
    }
}

/// Record and send `payload` to every hook that wants `event`: the simulator-wide ones and the
/// hooks of project `pid` whose flag for it is on (`branch`: the pushed branch, for the push
/// filter). Returns the tasks sending, which finish once each attempt is recorded as done.
pub(crate) fn emit(
    ctx: &Arc<Ctx>,
    st: &State,
    pid: u64,
    event: &str,
    branch: Option<&str>,
    payload: &Value,
) -> Vec<JoinHandle<()>> {
    let global = st
        .hooks
        .iter()
        .filter(|h| wants(&h.events, event))
        .map(|h| send(ctx, &h.url, &h.token, &h.uuid, event, payload));
    let project = st
        .projects
        .get(&pid)
        .into_iter()
        .flat_map(|p| &p.hooks)
        .filter(|h| h.wants(event, branch))
        .map(|h| send(ctx, &h.url, &h.token, &h.uuid, event, payload));
    global.chain(project).collect()
}

/// One delivery; the delivery id is the `Idempotency-Key`. GitLab sends `X-Gitlab-Token` only
/// when the hook has a token.
fn send(
    ctx: &Ctx,
    url: &str,
    token: &str,
    hook_uuid: &str,
    event: &str,
    payload: &Value,
) -> JoinHandle<()> {
    let action = payload.pointer("/object_attributes/action");
    let key = uuid::Uuid::new_v4().to_string();
    let mut d = Delivery::new(key.clone(), event, url, payload, action)
        .header("user-agent", format!("GitLab/{GITLAB_VERSION}"))
        .header("x-gitlab-event", event);
    if !token.is_empty() {
        d = d.header("x-gitlab-token", token);
    }
    let d = d
        .header("idempotency-key", key)
        .header("x-gitlab-event-uuid", uuid::Uuid::new_v4().to_string())
        .header("x-gitlab-webhook-uuid", hook_uuid)
        .header("x-gitlab-instance", &ctx.urls.web);
    ctx.outbox.send(d)
}
