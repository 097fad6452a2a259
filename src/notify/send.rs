//! Posting one notification to one receiver. Receiver URLs are secrets (a Slack webhook URL is
//! its own credential), so nothing here puts a URL in an error, a log line or `Debug` output.

use std::time::Duration;

use crate::forge::webhook::Secret;

/// A receiver answers within this or the attempt counts as failed.
const TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Slack-compatible incoming webhook (`text` + `blocks`).
    Slack,
    /// The generic `suture.escalation` document.
    Generic,
}

/// Where notifications go. `name` is what logs and the outbox show.
#[derive(Clone)]
pub struct Receiver {
    pub name: String,
    pub format: Format,
    url: Secret,
    token: Option<Secret>,
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("name", &self.name)
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

impl Receiver {
    pub fn new(name: &str, format: Format, url: Secret, token: Option<Secret>) -> Receiver {
        Receiver {
            name: name.to_string(),
            format,
            url,
            token,
        }
    }
}

/// Why a send failed, in words safe to store and log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("receiver answered HTTP {status}")]
    Status {
        status: u16,
        /// `Retry-After` in seconds, when the receiver asked for a pause (Slack's 429).
        retry_after: Option<u64>,
    },
    #[error("receiver timed out")]
    Timeout,
    #[error("could not connect to the receiver")]
    Connect,
    #[error("the receiver URL is not usable")]
    BadUrl,
    #[error("request to the receiver failed")]
    Request,
}

impl SendError {
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            SendError::Status {
                retry_after: Some(s),
                ..
            } => Some(Duration::from_secs(*s)),
            _ => None,
        }
    }
}

/// One HTTP client for every receiver (connection reuse; rustls).
#[derive(Clone, Debug)]
pub struct Sender {
    client: reqwest::Client,
}

impl Sender {
    pub fn new() -> Sender {
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            // A redirect would resend the body somewhere the operator did not configure.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Sender { client }
    }

    /// POST `body` as JSON; any 2xx is delivered.
    pub async fn send(&self, to: &Receiver, body: &serde_json::Value) -> Result<(), SendError> {
        let url = std::str::from_utf8(to.url.expose())
            .ok()
            .and_then(|u| reqwest::Url::parse(u.trim()).ok())
            .ok_or(SendError::BadUrl)?;
        let mut request = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string());
        if let Some(token) = &to.token {
            let value = [b"Bearer ".as_slice(), token.expose()].concat();
            let mut header =
                reqwest::header::HeaderValue::from_bytes(&value).map_err(|_| SendError::BadUrl)?;
            header.set_sensitive(true);
            request = request.header(reqwest::header::AUTHORIZATION, header);
        }
        let response = request.send().await.map_err(|e| {
            if e.is_timeout() {
                SendError::Timeout
            } else if e.is_connect() {
                SendError::Connect
            } else {
                SendError::Request
            }
        })?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok());
        Err(SendError::Status {
            status: status.as_u16(),
            retry_after,
        })
    }
}

impl Default for Sender {
    fn default() -> Self {
        Sender::new()
    }
}
