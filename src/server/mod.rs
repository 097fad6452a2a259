//! The HTTP surface of `suture serve` (axum): forge and Alertmanager webhooks, the incident API,
//! health and Prometheus metrics, and the acknowledgement of escalations. Handlers verify and parse with the pure `forge::webhook` and
//! `alerts` modules, record delivery ids in the ledger and hand work to the incident runner's
//! bounded queue; they never act on an incident themselves.

pub mod api;
pub mod health;
pub mod metrics;
pub mod webhooks;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use tokio::sync::mpsc;

use crate::clock::Clock;
use crate::incident::event::Inbound;
use crate::ledger::Ledger;

pub use health::Readiness;
pub use metrics::{ForgeStats, Metrics};
pub use webhooks::WebhookSecrets;

/// What every handler shares. Built once by `serve` (or a test) and moved into [`router`].
pub struct AppState {
    pub ledger: Ledger,
    pub webhooks: WebhookSecrets,
    /// The incident runner's queue; bounded, so a full queue answers 503 (the forge redelivers).
    pub queue: mpsc::Sender<Inbound>,
    pub clock: Clock,
    pub ready: Readiness,
    pub metrics: Metrics,
    /// Webhook bodies above this are refused with 413 before any verification.
    pub max_body_bytes: usize,
    /// Bearer tokens accepted by `POST /api/incidents/{key}/ack`; empty: every ack is refused.
    pub ack_tokens: Vec<crate::forge::webhook::Secret>,
}

/// Every route of `suture serve`.
pub fn router(state: AppState) -> Router {
    let limit = DefaultBodyLimit::max(state.max_body_bytes);
    let webhooks = Router::new()
        .route("/webhooks/github", post(webhooks::github))
        .route("/webhooks/gitlab", post(webhooks::gitlab))
        .route("/webhooks/alertmanager", post(webhooks::alertmanager))
        .layer(limit);
    Router::new()
        .merge(webhooks)
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::scrape))
        .route("/api/incidents", get(api::list))
        .route("/api/incidents/{*key}", get(api::show).post(api::ack))
        .with_state(Arc::new(state))
}

/// Serve `router` on `listener` until `shutdown` resolves, then finish in-flight requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

/// A JSON error body: a short reason for the caller, never internal error text.
fn error_body(status: axum::http::StatusCode, reason: &str) -> axum::response::Response {
    use axum::response::IntoResponse;
    (status, axum::Json(serde_json::json!({ "error": reason }))).into_response()
}
