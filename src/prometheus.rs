//! Evaluating an alert's own PromQL expression over a window, through the Prometheus HTTP API
//! (`GET /api/v1/query_range`). This is the I/O edge behind the verification's
//! `alert: Option<bool>` ([`Condition::as_alert`]).
//!
//! An alerting expression is true at a step when it returns any sample there: PromQL
//! comparisons (`x > 5`) drop the series for which they are false, so "no samples" is "false".
//!
//! **Clear or no data.** An empty result alone cannot tell "evaluated, false throughout" from
//! "nothing to evaluate" (a metric that was never scraped, a typo in the rule). Prometheus tells
//! us which: the range query is sent with `stats=all`, and its `totalQueryableSamples` counts
//! the samples the evaluation read from storage. The rule:
//!
//! - any sample in the result: [`Condition::Firing`];
//! - no sample, and the evaluation read at least one sample: [`Condition::Clear`];
//! - no sample, and it read none at all (none of the expression's selectors matched data in the
//!   window, or the expression has no selector): [`Condition::NoData`];
//! - no sample and no statistics in the answer (a Prometheus-compatible server that ignores
//!   `stats`): [`Condition::Clear`], the plain reading of a successful, empty evaluation.
//!
//! So `a > 5 and on() missing_metric` is Clear when `a` had data: some selector had data and
//! the expression was evaluated to false. Only an expression that had no data at all is NoData.
//!
//! The bearer token is sent as a sensitive header and never reaches an error, a log line or
//! `Debug` output; nor does the base URL (it may hold credentials).

use std::time::Duration;

use reqwest::Url;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use serde::Deserialize;

use crate::config::PrometheusSettings;
use crate::forge::webhook::Secret;

/// Prometheus answers within this unless the configuration says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Steps are never finer than this: Prometheus' own resolution for scraped data is the scrape
/// interval, rarely under a second, and a finer step only multiplies the points returned.
const MIN_STEP: Duration = Duration::from_secs(1);
/// Nor coarser than this (a common rule evaluation interval), so a condition that held for one
/// rule evaluation is not stepped over, unless the window needs it for the point limit.
const MAX_STEP: Duration = Duration::from_secs(15);
/// About this many steps per window.
const STEPS: u32 = 60;
/// Prometheus refuses a range query of more than 11,000 points per series.
const MAX_POINTS: u64 = 11_000;

/// What the expression did over the window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Condition {
    /// True (some sample) at some step in the window.
    Firing,
    /// Evaluated over data, never true.
    Clear,
    /// The evaluation read no data at all: nothing to say about the alert.
    NoData,
}

impl Condition {
    /// The verification's input: `Some(true)` still firing, `Some(false)` clear, `None` unknown.
    pub fn as_alert(self) -> Option<bool> {
        match self {
            Condition::Firing => Some(true),
            Condition::Clear => Some(false),
            Condition::NoData => None,
        }
    }
}

/// Why an evaluation failed. No variant holds the bearer token or the base URL.
#[derive(Debug, thiserror::Error)]
pub enum PromError {
    /// The request did not get an answer (connect, timeout, TLS, body read).
    #[error("request to Prometheus failed: {0}")]
    Http(#[source] reqwest::Error),
    /// Prometheus (or a proxy in front of it) answered with an error.
    #[error("Prometheus answered HTTP {code} {error_type}: {message}")]
    Status {
        code: u16,
        /// Prometheus' `errorType` (`bad_data`, `execution`, `timeout`, ...); empty when the
        /// body was not a Prometheus error.
        error_type: String,
        /// Prometheus' `error`, or the start of a body that was not a Prometheus error.
        message: String,
    },
    /// The answer was not the range-query document expected.
    #[error("unexpected answer from Prometheus: {0}")]
    Decode(String),
    /// The bearer token cannot be sent as an HTTP header (a control character in the file).
    #[error("the Prometheus bearer token is not a valid header value")]
    InvalidToken,
}

/// A client for one Prometheus server.
#[derive(Clone)]
pub struct Prometheus {
    client: reqwest::Client,
    query_range: Url,
    authorization: Option<HeaderValue>,
}

impl std::fmt::Debug for Prometheus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prometheus")
            .field(
                "bearer_token",
                &self.authorization.as_ref().map(|_| "<redacted>"),
            )
            .finish_non_exhaustive()
    }
}

impl Prometheus {
    /// `base_url` is where Prometheus serves its API (`http://prometheus:9090`, or with a path
    /// prefix, `https://example.com/prometheus/`); `bearer_token` is sent as
    /// `Authorization: Bearer`; every request gives up after `timeout`.
    pub fn new(
        base_url: Url,
        bearer_token: Option<Secret>,
        timeout: Duration,
    ) -> Result<Prometheus, PromError> {
        let mut base = base_url;
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        base.set_query(None);
        base.set_fragment(None);
        let query_range = base
            .join("api/v1/query_range")
            .map_err(|_| PromError::Decode("the base URL cannot be joined".into()))?;
        let authorization = match bearer_token {
            None => None,
            Some(token) => {
                let value = [b"Bearer ".as_slice(), token.expose()].concat();
                let mut header =
                    HeaderValue::from_bytes(&value).map_err(|_| PromError::InvalidToken)?;
                header.set_sensitive(true);
                Some(header)
            }
        };
        let client = reqwest::Client::builder()
            .timeout(timeout)
            // A redirect could carry the query (and the token) somewhere not configured.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| PromError::Http(e.without_url()))?;
        Ok(Prometheus {
            client,
            query_range,
            authorization,
        })
    }

    /// The client `prometheus:` in the configuration describes.
    pub fn from_settings(settings: &PrometheusSettings) -> Result<Prometheus, PromError> {
        Prometheus::new(
            settings.url.clone(),
            settings.bearer_token.as_ref().map(|t| t.secret.clone()),
            settings.timeout,
        )
    }

    /// Evaluate `expr` at every step of `[from, to]` (Prometheus' time, the wall clock) and say
    /// whether it was true at any of them (see the module documentation for the rule). A
    /// window with `to` before `from` is evaluated at `from` only.
    pub async fn condition_over(
        &self,
        expr: &str,
        from: jiff::Timestamp,
        to: jiff::Timestamp,
    ) -> Result<Condition, PromError> {
        let to = to.max(from);
        let window = to.duration_since(from).unsigned_abs();
        let step = step_for(window);
        let mut url = self.query_range.clone();
        url.query_pairs_mut()
            .append_pair("query", expr)
            .append_pair("start", &unix_seconds(from))
            .append_pair("end", &unix_seconds(to))
            .append_pair("step", &step.as_secs_f64().to_string())
            .append_pair("stats", "all");
        let mut request = self.client.get(url);
        if let Some(header) = &self.authorization {
            request = request.header(AUTHORIZATION, header.clone());
        }
        let response = request
            .send()
            .await
            .map_err(|e| PromError::Http(e.without_url()))?;
        let code = response.status().as_u16();
        let body = response
            .bytes()
            .await
            .map_err(|e| PromError::Http(e.without_url()))?;
        let condition = decode(code, &body)?;
        tracing::debug!(
            ?condition,
            step_secs = step.as_secs_f64(),
            "prometheus: evaluated"
        );
        Ok(condition)
    }
}

/// The step for a window: about [`STEPS`] of them, within [`MIN_STEP`]..=[`MAX_STEP`], and
/// coarser only if the window would otherwise exceed Prometheus' point limit.
pub fn step_for(window: Duration) -> Duration {
    let even = (window / STEPS).clamp(MIN_STEP, MAX_STEP);
    let limit = Duration::from_secs(window.as_secs().div_ceil(MAX_POINTS - 1));
    even.max(limit)
}

fn unix_seconds(t: jiff::Timestamp) -> String {
    let ms = t.as_millisecond();
    format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
}

#[derive(Deserialize)]
struct Answer {
    status: String,
    #[serde(default)]
    data: Option<Data>,
    #[serde(rename = "errorType", default)]
    error_type: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
struct Data {
    #[serde(rename = "resultType")]
    result_type: String,
    result: Vec<Series>,
    #[serde(default)]
    stats: Option<Stats>,
}

#[derive(Deserialize)]
struct Series {
    #[serde(default)]
    values: Vec<(f64, String)>,
    /// Native histograms (Prometheus 2.40+) come as `histograms`; a sample is a sample.
    #[serde(default)]
    histograms: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct Stats {
    samples: Option<SampleStats>,
}

#[derive(Deserialize)]
struct SampleStats {
    #[serde(rename = "totalQueryableSamples")]
    total_queryable_samples: Option<u64>,
}

/// Read a `query_range` answer (HTTP status and body) into a condition. Pure, for the tests.
pub fn decode(code: u16, body: &[u8]) -> Result<Condition, PromError> {
    let answer = serde_json::from_slice::<Answer>(body);
    let answer = match answer {
        Ok(a) if a.status == "success" && (200..300).contains(&code) => a,
        Ok(a) if a.status == "error" || !(200..300).contains(&code) => {
            return Err(PromError::Status {
                code,
                error_type: a.error_type.unwrap_or_default(),
                message: a.error.unwrap_or_default(),
            });
        }
        Ok(a) => return Err(PromError::Decode(format!("status {:?}", a.status))),
        Err(_) if !(200..300).contains(&code) => {
            return Err(PromError::Status {
                code,
                error_type: String::new(),
                message: start_of(body),
            });
        }
        Err(e) => return Err(PromError::Decode(e.to_string())),
    };
    let data = answer
        .data
        .ok_or_else(|| PromError::Decode("no data in a successful answer".into()))?;
    if data.result_type != "matrix" {
        return Err(PromError::Decode(format!(
            "resultType {:?}, expected matrix",
            data.result_type
        )));
    }
    if data
        .result
        .iter()
        .any(|s| !s.values.is_empty() || !s.histograms.is_empty())
    {
        return Ok(Condition::Firing);
    }
    let read = data
        .stats
        .and_then(|s| s.samples)
        .and_then(|s| s.total_queryable_samples);
    Ok(match read {
        Some(0) => Condition::NoData,
        Some(_) | None => Condition::Clear,
    })
}

/// The first characters of a body that is not a Prometheus answer (a proxy's error page).
fn start_of(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    match text.char_indices().nth(200) {
        Some((i, _)) => format!("{}...", &text[..i]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests;
