//! Webhook delivery as both forges do it: one POST per hook and event, recorded attempt by
//! attempt so tests can look at each one, and redelivery of a past attempt with the same id,
//! headers and bytes. The forge decides the headers (signature, token, event names).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use tokio::runtime::Handle;
use tokio::task::JoinHandle;

/// Both forges give a receiver 10 s.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// One delivery attempt (a redelivery is a new attempt with the same id, headers and body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// What identifies the delivery across redeliveries: GitHub's `X-GitHub-Delivery`, GitLab's
    /// `Idempotency-Key`.
    pub id: String,
    pub event: String,
    /// The payload's action (`opened`, `merge`, ...).
    pub action: Option<String>,
    pub url: String,
    /// The exact bytes sent (and, on GitHub, signed).
    pub body: Vec<u8>,
    /// The forge's own headers as sent, names in lowercase.
    pub headers: Vec<(String, String)>,
    pub redelivery: bool,
    /// The receiver's status, once it answered.
    pub status: Option<u16>,
    /// Why no status: connection refused, timeout...
    pub error: Option<String>,
    /// Whether the attempt has finished (answered or failed).
    pub done: bool,
}

impl Delivery {
    /// A first attempt, not sent yet.
    pub(crate) fn new(
        id: String,
        event: &str,
        url: &str,
        payload: &Value,
        action: Option<&Value>,
    ) -> Delivery {
        Delivery {
            id,
            event: event.to_owned(),
            action: action.and_then(Value::as_str).map(str::to_owned),
            url: url.to_owned(),
            body: payload.to_string().into_bytes(),
            headers: Vec::new(),
            redelivery: false,
            status: None,
            error: None,
            done: false,
        }
    }

    pub(crate) fn header(mut self, name: &str, value: impl Into<String>) -> Delivery {
        self.headers.push((name.to_ascii_lowercase(), value.into()));
        self
    }

    /// The body parsed as JSON.
    pub fn payload(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// A header as sent (`x-hub-signature-256`, `x-gitlab-token`, ...), by name in any case.
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Whether a hook subscribed to `events` wants `event`: empty or `*` means every event.
pub(crate) fn wants(events: &[String], event: &str) -> bool {
    events.is_empty() || events.iter().any(|e| e == "*" || e == event)
}

/// The deliveries of one simulator and the HTTP client they go out with, on its runtime.
#[derive(Debug, Clone)]
pub(crate) struct Outbox {
    client: Client<HttpConnector, Full<Bytes>>,
    rt: Handle,
    log: Arc<Mutex<Vec<Delivery>>>,
}

impl Outbox {
    pub fn new(rt: Handle) -> Self {
        Outbox {
            client: Client::builder(TokioExecutor::new()).build_http(),
            rt,
            log: Arc::default(),
        }
    }

    /// Record `delivery` and send it; the task finishes once the attempt is recorded as done.
    pub fn send(&self, delivery: Delivery) -> JoinHandle<()> {
        let index = {
            let mut log = self.lock();
            log.push(delivery.clone());
            log.len() - 1
        };
        let (client, log) = (self.client.clone(), self.log.clone());
        self.rt.spawn(async move {
            let result = tokio::time::timeout(DELIVERY_TIMEOUT, post(&client, &delivery)).await;
            let mut log = log.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(d) = log.get_mut(index) {
                match result {
                    Ok(Ok(status)) => d.status = Some(status),
                    Ok(Err(e)) => d.error = Some(e),
                    Err(_) => d.error = Some("timed out".to_owned()),
                }
                d.done = true;
            }
        })
    }

    /// Send the latest attempt of delivery `id` again; returns the new attempt once it
    /// finished, or `None` for an unknown id.
    pub async fn redeliver(&self, id: &str) -> Option<Delivery> {
        let mut again = self.lock().iter().rev().find(|d| d.id == id)?.clone();
        again.redelivery = true;
        again.status = None;
        again.error = None;
        again.done = false;
        let index = self.lock().len();
        let _ = self.send(again).await;
        self.lock().get(index).cloned()
    }

    /// Every attempt so far, oldest first.
    pub fn all(&self) -> Vec<Delivery> {
        self.lock().clone()
    }

    /// Wait until every attempt so far has finished (up to `timeout`); true if they all did.
    pub async fn wait_all(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if self.lock().iter().all(|d| d.done) {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Delivery>> {
        self.log.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Wait for the sends `emit` started (each records its own outcome).
pub(crate) async fn finish(sends: Vec<JoinHandle<()>>) {
    for s in sends {
        let _ = s.await;
    }
}

async fn post(client: &Client<HttpConnector, Full<Bytes>>, d: &Delivery) -> Result<u16, String> {
    let mut req = hyper::Request::post(&d.url);
    if d.header_value("content-type").is_none() {
        req = req.header("content-type", "application/json");
    }
    for (name, value) in &d.headers {
        req = req.header(name, value);
    }
    let req = req
        .body(Full::new(Bytes::from(d.body.clone())))
        .map_err(|e| e.to_string())?;
    let resp = client.request(req).await.map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    // Drain the body so the connection can be reused; its content does not matter.
    let _ = resp.into_body().collect().await;
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hooks_filter_events() {
        let one = vec!["pull_request".to_owned()];
        assert!(wants(&one, "pull_request"));
        assert!(!wants(&one, "push"));
        assert!(wants(&[], "push"));
        assert!(wants(&["*".to_owned()], "push"));
    }

    #[test]
    fn a_delivery_keeps_its_bytes_action_and_headers() {
        let payload = json!({"action": "opened", "number": 1});
        let d = Delivery::new(
            "id-1".into(),
            "pull_request",
            "http://x",
            &payload,
            payload.get("action"),
        )
        .header("X-GitHub-Event", "pull_request");
        assert_eq!(d.payload(), payload);
        assert_eq!(d.action.as_deref(), Some("opened"));
        assert_eq!(d.header_value("x-github-event"), Some("pull_request"));
        assert_eq!(d.header_value("X-GITHUB-EVENT"), Some("pull_request"));
        assert_eq!(d.header_value("x-hub-signature-256"), None);
    }

    #[tokio::test]
    async fn redelivery_repeats_id_headers_and_body_and_records_both_attempts() {
        // Nothing listens on port 9 of loopback: both attempts fail, and both are recorded.
        let outbox = Outbox::new(Handle::current());
        let payload = json!({"action": "closed"});
        let d = Delivery::new("k".into(), "e", "http://127.0.0.1:9/", &payload, None)
            .header("idempotency-key", "k");
        outbox.send(d).await.unwrap();
        let again = outbox.redeliver("k").await.unwrap();
        assert!(again.redelivery && again.done && again.error.is_some());
        let all = outbox.all();
        assert_eq!(all.len(), 2);
        assert!(!all[0].redelivery);
        assert_eq!(all[0].body, all[1].body);
        assert_eq!(all[0].headers, all[1].headers);
        assert!(outbox.redeliver("unknown").await.is_none());
        assert!(outbox.wait_all(Duration::from_secs(1)).await);
    }
}
