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

/// Record and send `payload` to every hook that wants `event`. Returns the tasks sending, which
/// finish once each attempt is recorded as done. The delivery id is the `Idempotency-Key`.
pub(crate) fn emit(
    ctx: &Arc<Ctx>,
    st: &State,
    event: &str,
    payload: &Value,
) -> Vec<JoinHandle<()>> {
    let action = payload.pointer("/object_attributes/action");
    st.hooks
        .iter()
        .filter(|h| wants(&h.events, event))
        .map(|hook| {
            let key = uuid::Uuid::new_v4().to_string();
            let d = Delivery::new(key.clone(), event, &hook.url, payload, action)
                .header("user-agent", format!("GitLab/{GITLAB_VERSION}"))
                .header("x-gitlab-event", event)
                .header("x-gitlab-token", &hook.token)
                .header("idempotency-key", key)
                .header("x-gitlab-event-uuid", uuid::Uuid::new_v4().to_string())
                .header("x-gitlab-webhook-uuid", &hook.uuid)
                .header("x-gitlab-instance", &ctx.urls.web);
            ctx.outbox.send(d)
        })
        .collect()
}
