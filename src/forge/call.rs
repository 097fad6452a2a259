//! The one retry loop every forge call goes through: send, read status and headers, count the
//! call and the quota left, ask [`Backoff::decide`], sleep or give up with a [`ForgeError`].

use std::future::Future;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;

use super::retry::{Backoff, Decision, GiveUp, Response};
use super::{DEFAULT_TIMEOUT, ForgeError, ForgeStats};

/// How hard one call tries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts, back-off and the longest wait slept through (longer: `RateLimited`).
    pub backoff: Backoff,
    /// Each attempt's limit; a request that takes longer is treated as a timeout and retried
    /// (creates are safe: `open` looks up by head before and after).
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            backoff: Backoff::default(),
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

/// A response as both clients hand it over.
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, ForgeError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            ForgeError::Unexpected(format!("HTTP {} body does not decode: {e}", self.status))
        })
    }
}

/// No response: connection refused or reset, timeout. The text names no credential.
#[derive(Debug)]
pub(crate) struct Transport(pub String);

/// Send until done or given up. `send` makes one attempt.
pub(crate) async fn run<F, Fut>(
    policy: &RetryPolicy,
    stats: &ForgeStats,
    mut send: F,
) -> Result<Reply, ForgeError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Reply, Transport>>,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        stats.calls.fetch_add(1, Ordering::Relaxed);
        let outcome = match tokio::time::timeout(policy.timeout, send()).await {
            Ok(outcome) => outcome,
            Err(_) => Err(Transport(format!("no answer within {:?}", policy.timeout))),
        };
        let (response, reply) = match outcome {
            Ok(reply) => (observe(stats, &reply), Ok(reply)),
            Err(t) => (Response::default(), Err(t)),
        };
        let now = jiff::Timestamp::now();
        match policy
            .backoff
            .decide(&response, attempt, now, fastrand::f64())
        {
            Decision::Done => {
                return reply.map_err(|t| ForgeError::Transient(t.0));
            }
            Decision::RetryAfter(wait) => {
                tracing::debug!(
                    status = response.status,
                    attempt,
                    wait_ms = wait.as_millis() as u64,
                    "forge call retried"
                );
                tokio::time::sleep(wait).await;
            }
            Decision::GiveUp(why) => return Err(give_up(why, &response, reply)),
        }
    }
}

/// Reduce a reply to what the policy reads; record the quota left.
fn observe(stats: &ForgeStats, reply: &Reply) -> Response {
    let headers = reply
        .headers
        .iter()
        .filter_map(|(n, v)| Some((n.as_str(), v.to_str().ok()?)));
    let mut r = Response::from_parts(Some(reply.status), headers);
    if let Some(left) = r.ratelimit_remaining {
        stats
            .rate_limit_remaining
            .store(i64::try_from(left).unwrap_or(i64::MAX), Ordering::Relaxed);
    }
    r.rate_limit_message = matches!(reply.status, 403 | 429)
        && message(&reply.body)
            .to_ascii_lowercase()
            .contains("secondary rate limit");
    r
}

fn give_up(why: GiveUp, r: &Response, reply: Result<Reply, Transport>) -> ForgeError {
    match (why, reply) {
        (GiveUp::Rejected(404), _) => ForgeError::NotFound,
        (GiveUp::Rejected(status), Ok(reply)) => ForgeError::Rejected {
            status,
            message: message(&reply.body),
        },
        (GiveUp::Rejected(status), Err(_)) => ForgeError::Rejected {
            status,
            message: String::new(),
        },
        (GiveUp::RateLimitedUntil { until }, _) => ForgeError::RateLimited { until: Some(until) },
        (GiveUp::Exhausted { .. }, _) if matches!(r.status, Some(403 | 429)) => {
            ForgeError::RateLimited {
                until: r
                    .ratelimit_reset
                    .filter(|_| r.ratelimit_remaining == Some(0))
                    .and_then(|s| jiff::Timestamp::from_second(s).ok()),
            }
        }
        (GiveUp::Exhausted { attempts }, Ok(reply)) => {
            ForgeError::Transient(format!("HTTP {} after {attempts} attempts", reply.status))
        }
        (GiveUp::Exhausted { attempts }, Err(t)) => {
            ForgeError::Transient(format!("{} after {attempts} attempts", t.0))
        }
    }
}

/// The forge's own error message, bounded: GitHub `{"message", "errors": [{"message"}]}`,
/// GitLab `{"message": "..." | [...] | {field: [...]}}` or `{"error": "..."}`.
pub(crate) fn message(body: &[u8]) -> String {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return String::new();
    };
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut out = v
        .get("message")
        .or_else(|| v.get("error"))
        .map(text)
        .unwrap_or_default();
    if let Some(errors) = v.get("errors").and_then(|e| e.as_array()) {
        for e in errors {
            if let Some(m) = e.get("message").and_then(|m| m.as_str()) {
                out.push_str(": ");
                out.push_str(m);
            }
        }
    }
    if out.len() > 300 {
        let mut end = 300;
        while !out.is_char_boundary(end) {
            end -= 1;
        }
        out.truncate(end);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_of_both_forges() {
        let gh = br#"{"message":"Validation Failed","errors":[{"resource":"PullRequest","code":"custom","message":"A pull request already exists for acme:x."}]}"#;
        assert_eq!(
            message(gh),
            "Validation Failed: A pull request already exists for acme:x."
        );
        assert_eq!(
            message(br#"{"message":"401 Unauthorized"}"#),
            "401 Unauthorized"
        );
        assert_eq!(
            message(br#"{"error":"title is missing"}"#),
            "title is missing"
        );
        assert_eq!(
            message(br#"{"message":["Another open merge request already exists"]}"#),
            r#"["Another open merge request already exists"]"#
        );
        assert_eq!(message(b"<html>"), "");
        assert!(message(format!(r#"{{"message":"{}"}}"#, "é".repeat(400)).as_bytes()).len() <= 300);
    }
}
