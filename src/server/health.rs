//! `/healthz` (the process answers) and `/readyz` (the caches have synced and the ledger
//! answers), for Kubernetes probes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::State;
use axum::http::StatusCode;

use super::AppState;

/// Set by the cluster watcher once its caches have synced; until then `/readyz` answers 503.
#[derive(Clone, Debug, Default)]
pub struct Readiness(Arc<AtomicBool>);

impl Readiness {
    pub fn new() -> Self {
        Readiness::default()
    }

    pub fn set_synced(&self, synced: bool) {
        self.0.store(synced, Ordering::Release);
    }

    pub fn is_synced(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

pub async fn healthz() -> &'static str {
    "ok\n"
}

pub async fn readyz(State(state): State<Arc<AppState>>) -> (StatusCode, &'static str) {
    if !state.ready.is_synced() {
        return (StatusCode::SERVICE_UNAVAILABLE, "caches not synced\n");
    }
    match state.ledger.ping().await {
        Ok(()) => (StatusCode::OK, "ready\n"),
        Err(e) => {
            tracing::warn!(error = %e, "readyz: ledger does not answer");
            (StatusCode::SERVICE_UNAVAILABLE, "ledger unavailable\n")
        }
    }
}
