//! Webhook delivery as GitLab does it: one POST per hook with `X-Gitlab-Event`, the hook's
//! secret in `X-Gitlab-Token`, and an `Idempotency-Key` that stays the same when the delivery
//! is retried, recorded so tests can look at every attempt and redeliver one.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use tokio::runtime::Handle;
use tokio::task::JoinHandle;

use super::routes::Ctx;
use super::state::State;

/// GitLab gives a receiver 10 s by default.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);
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

    fn wants(&self, event: &str) -> bool {
        self.events.is_empty() || self.events.iter().any(|e| e == "*" || e == event)
    }
}

/// One delivery attempt (a redelivery is a new attempt with the same key, uuids and body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The `Idempotency-Key`.
    pub idempotency_key: String,
    /// `X-Gitlab-Event-UUID`
    pub event_uuid: String,
    /// `X-Gitlab-Webhook-UUID`
    pub webhook_uuid: String,
    /// `X-Gitlab-Event`
    pub event: String,
    /// `object_attributes.action`
    pub action: Option<String>,
    pub url: String,
    /// `X-Gitlab-Token`
    pub token: String,
    /// The exact bytes sent.
    pub body: Vec<u8>,
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
    instance: String,
}

impl Sender {
    pub fn new(rt: Handle, instance: String) -> Self {
        Sender {
            client: Client::builder(TokioExecutor::new()).build_http(),
            rt,
            instance,
        }
    }
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
        .pointer("/object_attributes/action")
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
                idempotency_key: uuid::Uuid::new_v4().to_string(),
                event_uuid: uuid::Uuid::new_v4().to_string(),
                webhook_uuid: hook.uuid.clone(),
                event: event.to_owned(),
                action: action.clone(),
                url: hook.url.clone(),
                token: hook.token.clone(),
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

/// Send the delivery with `idempotency_key` again: same key, uuids, token and body.
pub(crate) fn redeliver(
    ctx: &Arc<Ctx>,
    st: &mut State,
    idempotency_key: &str,
) -> Option<JoinHandle<()>> {
    let mut again = st
        .deliveries
        .iter()
        .rev()
        .find(|d| d.idempotency_key == idempotency_key)?
        .clone();
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
        .header("user-agent", format!("GitLab/{GITLAB_VERSION}"))
        .header("x-gitlab-event", &d.event)
        .header("x-gitlab-token", &d.token)
        .header("idempotency-key", &d.idempotency_key)
        .header("x-gitlab-event-uuid", &d.event_uuid)
        .header("x-gitlab-webhook-uuid", &d.webhook_uuid)
        .header("x-gitlab-instance", &sender.instance)
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
    fn hooks_filter_events() {
        let h = WebhookConfig::merge_requests("http://x", "s");
        assert!(h.wants(MERGE_REQUEST_HOOK));
        assert!(!h.wants("Push Hook"));
        let all = WebhookConfig {
            events: vec![],
            ..h
        };
        assert!(all.wants("Push Hook"));
    }
}
