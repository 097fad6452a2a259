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

/// Record and send `payload` to every hook that wants `event`. Returns the tasks sending, which
/// finish once each attempt is recorded as done.
pub(crate) fn emit(
    ctx: &Arc<Ctx>,
    st: &State,
    event: &str,
    payload: &Value,
) -> Vec<JoinHandle<()>> {
    st.hooks
        .iter()
        .filter(|h| wants(&h.events, event))
        .map(|hook| {
            let id = uuid::Uuid::new_v4().to_string();
            let d = Delivery::new(id.clone(), event, &hook.url, payload, payload.get("action"));
            let sig = signature(&hook.secret, &d.body);
            let d = d
                .header("user-agent", USER_AGENT)
                .header("x-github-event", event)
                .header("x-github-delivery", id)
                .header("x-github-hook-id", "1")
                .header("x-github-hook-installation-target-type", "integration")
                .header("x-hub-signature-256", sig);
            ctx.outbox.send(d)
        })
        .collect()
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
