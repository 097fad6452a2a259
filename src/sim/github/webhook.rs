//! Webhook delivery as GitHub does it: one POST per hook with `X-GitHub-Event`,
//! `X-GitHub-Delivery` and `X-Hub-Signature-256` (HMAC-SHA256 of the raw body), recorded so tests
//! can look at every attempt and redeliver one.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hmac::{Hmac, Mac};
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use sha2::Sha256;
use tokio::runtime::Handle;
use tokio::task::JoinHandle;

use super::routes::Ctx;
use super::state::State;

/// GitHub waits 10 s for a webhook receiver.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);
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

    fn wants(&self, event: &str) -> bool {
        self.events.is_empty() || self.events.iter().any(|e| e == "*" || e == event)
    }
}

/// One delivery attempt (a redelivery is a new attempt with the same id and body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The `X-GitHub-Delivery` GUID.
    pub id: String,
    pub event: String,
    pub action: Option<String>,
    pub url: String,
    /// The exact bytes sent (and signed).
    pub body: Vec<u8>,
    /// `sha256=<hex>`
    pub signature: String,
    pub redelivery: bool,
    /// The receiver's status, once it answered.
    pub status: Option<u16>,
    /// Why no status: connection refused, timeout...
    pub error: Option<String>,
    /// Whether the attempt has finished (answered or failed).
    pub done: bool,
}

impl Delivery {
    /// The body parsed as JSON.
    pub fn payload(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// The HTTP client deliveries go out with, on the simulator's runtime.
#[derive(Debug, Clone)]
pub(crate) struct Sender {
    client: Client<HttpConnector, Full<Bytes>>,
    rt: Handle,
}

impl Sender {
    pub fn new(rt: Handle) -> Self {
        Sender {
            client: Client::builder(TokioExecutor::new()).build_http(),
            rt,
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
    st: &mut State,
    event: &str,
    payload: &Value,
) -> Vec<JoinHandle<()>> {
    let body = payload.to_string().into_bytes();
    let action = payload
        .get("action")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let hooks: Vec<WebhookConfig> = st
        .hooks
        .iter()
        .filter(|h| h.wants(event))
        .cloned()
        .collect();
    hooks
        .into_iter()
        .map(|hook| {
            let delivery = Delivery {
                id: uuid::Uuid::new_v4().to_string(),
                event: event.to_owned(),
                action: action.clone(),
                url: hook.url.clone(),
                signature: signature(&hook.secret, &body),
                body: body.clone(),
                redelivery: false,
                status: None,
                error: None,
                done: false,
            };
            start(ctx, st, delivery)
        })
        .collect()
}

/// Send delivery `id` again: same id, body and signature.
pub(crate) fn redeliver(ctx: &Arc<Ctx>, st: &mut State, id: &str) -> Option<JoinHandle<()>> {
    let mut again = st.deliveries.iter().rev().find(|d| d.id == id)?.clone();
    again.redelivery = true;
    again.status = None;
    again.error = None;
    again.done = false;
    Some(start(ctx, st, again))
}

fn start(ctx: &Arc<Ctx>, st: &mut State, delivery: Delivery) -> JoinHandle<()> {
    let index = st.deliveries.len();
    st.deliveries.push(delivery.clone());
    let ctx2 = ctx.clone();
    ctx.sender.rt.spawn(async move {
        let result = tokio::time::timeout(DELIVERY_TIMEOUT, send(&ctx2.sender, &delivery)).await;
        let mut st = ctx2.lock();
        if let Some(d) = st.deliveries.get_mut(index) {
            match result {
                Ok(Ok(status)) => d.status = Some(status),
                Ok(Err(e)) => d.error = Some(e),
                Err(_) => d.error = Some("timed out".to_owned()),
            }
            d.done = true;
        }
    })
}

async fn send(sender: &Sender, d: &Delivery) -> Result<u16, String> {
    let req = hyper::Request::post(&d.url)
        .header("content-type", "application/json")
        .header("user-agent", USER_AGENT)
        .header("x-github-event", &d.event)
        .header("x-github-delivery", &d.id)
        .header("x-github-hook-id", "1")
        .header("x-github-hook-installation-target-type", "integration")
        .header("x-hub-signature-256", &d.signature)
        .body(Full::new(Bytes::from(d.body.clone())))
        .map_err(|e| e.to_string())?;
    let resp = sender
        .client
        .request(req)
        .await
        .map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    // Drain the body so the connection can be reused; its content does not matter.
    let _ = resp.into_body().collect().await;
    Ok(status)
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

    #[test]
    fn hooks_filter_events() {
        let h = WebhookConfig::pull_requests("http://x", "s");
        assert!(h.wants("pull_request"));
        assert!(!h.wants("push"));
        let all = WebhookConfig {
            events: vec![],
            ..h
        };
        assert!(all.wants("push"));
    }
}
