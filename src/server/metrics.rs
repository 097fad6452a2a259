//! Prometheus metrics (`GET /metrics`, text format 0.0.4) through `prometheus-client`. The
//! runner holds a [`Metrics`] clone to count PRs and time detection to PR; the webhook handlers
//! count every request; incident counts are read from the ledger at scrape time, and forge API
//! figures from whatever [`ForgeStats`] source the forge layer plugs in.

use std::sync::{Arc, RwLock};

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use super::AppState;
use crate::detection::FaultId;
use crate::ledger::{Ledger, LedgerError};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct IncidentLabels {
    fault: String,
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PullRequestLabels {
    forge: String,
    fault: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WebhookLabels {
    source: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ForgeLabels {
    forge: String,
}

/// One forge's API figures, as the forge layer counts them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForgeStats {
    /// `github` or `gitlab` (or the host, when several of a kind are configured).
    pub forge: String,
    /// API calls made since start.
    pub api_calls: u64,
    /// The last `x-ratelimit-remaining` (GitHub) / `ratelimit-remaining` (GitLab) seen.
    pub rate_limit_remaining: Option<u64>,
}

type ForgeStatsSource = Arc<dyn Fn() -> Vec<ForgeStats> + Send + Sync>;

/// Reads the forge figures on each scrape (they live in the forge layer, not here).
#[derive(Default)]
struct ForgeCollector {
    source: RwLock<Option<ForgeStatsSource>>,
}

impl std::fmt::Debug for ForgeCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ForgeCollector")
    }
}

impl Collector for ForgeCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let source = self.source.read().map(|s| s.clone()).unwrap_or(None);
        let Some(source) = source else {
            return Ok(());
        };
        let stats = source();
        let mut calls = encoder.encode_descriptor(
            "suture_forge_api_calls",
            "Forge API calls made since start",
            None,
            MetricType::Counter,
        )?;
        for s in &stats {
            let labels = ForgeLabels {
                forge: s.forge.clone(),
            };
            ConstCounter::new(s.api_calls).encode(calls.encode_family(&labels)?)?;
        }
        let mut remaining = encoder.encode_descriptor(
            "suture_forge_rate_limit_remaining",
            "Requests left in the forge's current rate-limit window, as last reported",
            None,
            MetricType::Gauge,
        )?;
        for s in &stats {
            if let Some(left) = s.rate_limit_remaining {
                let labels = ForgeLabels {
                    forge: s.forge.clone(),
                };
                let left = i64::try_from(left).unwrap_or(i64::MAX);
                ConstGauge::new(left).encode(remaining.encode_family(&labels)?)?;
            }
        }
        Ok(())
    }
}

struct Inner {
    registry: Registry,
    incidents: Family<IncidentLabels, Gauge>,
    pull_requests_opened: Family<PullRequestLabels, Counter>,
    webhook_requests: Family<WebhookLabels, Counter>,
    detection_to_pr: Histogram,
    forge: Arc<ForgeCollector>,
    /// One scrape at a time: the incident gauges are cleared and refilled from the ledger.
    scrape: tokio::sync::Mutex<()>,
}

/// suture's metrics; clones share them.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// Seconds from detection to an open PR: the goal is under 1 s, a slow forge takes minutes.
const DETECTION_TO_PR_BUCKETS: [f64; 14] = [
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
];

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let incidents = Family::<IncidentLabels, Gauge>::default();
        registry.register(
            "suture_incidents",
            "Incidents in the ledger by fault and state",
            incidents.clone(),
        );
        let pull_requests_opened = Family::<PullRequestLabels, Counter>::default();
        registry.register(
            "suture_pull_requests_opened",
            "Pull/merge requests opened",
            pull_requests_opened.clone(),
        );
        let webhook_requests = Family::<WebhookLabels, Counter>::default();
        registry.register(
            "suture_webhook_requests",
            "Webhook requests by source and response status, rejected ones included",
            webhook_requests.clone(),
        );
        let detection_to_pr = Histogram::new(DETECTION_TO_PR_BUCKETS);
        registry.register(
            "suture_detection_to_pr_seconds",
            "Time from a fault's detection to its pull/merge request being open",
            detection_to_pr.clone(),
        );
        let forge = Arc::new(ForgeCollector::default());
        registry.register_collector(Box::new(forge.clone()));
        Metrics {
            inner: Arc::new(Inner {
                registry,
                incidents,
                pull_requests_opened,
                webhook_requests,
                detection_to_pr,
                forge,
                scrape: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// The runner opened a PR/MR for an incident of `fault` (the incident key's fault: per
    /// fault, not per key, so the series stay few however many workloads fail).
    pub fn pull_request_opened(&self, forge: &str, fault: FaultId) {
        self.inner
            .pull_requests_opened
            .get_or_create(&PullRequestLabels {
                forge: forge.to_string(),
                fault: fault.as_str().to_string(),
            })
            .inc();
    }

    /// The runner's time from detection to the PR being open.
    pub fn detection_to_pr(&self, elapsed: std::time::Duration) {
        self.inner.detection_to_pr.observe(elapsed.as_secs_f64());
    }

    /// A webhook request answered with `status`.
    pub fn webhook_request(&self, source: &str, status: u16) {
        self.inner
            .webhook_requests
            .get_or_create(&WebhookLabels {
                source: source.to_string(),
                status,
            })
            .inc();
    }

    /// Where scrapes read the forge API figures from (replaces any earlier source).
    pub fn set_forge_stats(&self, source: impl Fn() -> Vec<ForgeStats> + Send + Sync + 'static) {
        if let Ok(mut slot) = self.inner.forge.source.write() {
            *slot = Some(Arc::new(source));
        }
    }

    /// The text exposition, with incident counts read from `ledger` now.
    pub async fn render(&self, ledger: &Ledger) -> Result<String, LedgerError> {
        let counts = ledger.counts().await?;
        let _one_scrape = self.inner.scrape.lock().await;
        self.inner.incidents.clear();
        for (fault, state, n) in counts {
            self.inner
                .incidents
                .get_or_create(&IncidentLabels {
                    fault,
                    state: state.as_str().to_string(),
                })
                .set(n);
        }
        let mut text = String::new();
        // Writing into a String cannot fail; an encoder error would be a bug in a label.
        if prometheus_client::encoding::prometheus_text::encode(&mut text, &self.inner.registry)
            .is_err()
        {
            tracing::error!("metrics: encoding failed");
        }
        Ok(text)
    }
}

pub async fn scrape(State(state): State<Arc<AppState>>) -> Response {
    match state.metrics.render(&state.ledger).await {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
            )],
            text,
        )
            .into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "metrics: ledger unavailable");
            super::error_body(StatusCode::SERVICE_UNAVAILABLE, "ledger unavailable")
        }
    }
}
