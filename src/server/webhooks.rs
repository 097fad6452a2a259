//! `POST /webhooks/{github,gitlab,alertmanager}`. Each request is, in order: size-limited (413),
//! authenticated over the raw body (401), parsed (400), dropped when suture does not manage what
//! it is about (204), given a queue slot (503 when the runner is behind, retryable), recorded by
//! delivery id (a redelivery is acknowledged with 200 and not queued again) and queued (202).
//! Nothing is recorded or queued for a rejected request, and a delivery is only recorded once
//! its queue slot is held, so a recorded delivery is always queued.

use std::borrow::Cow;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc::error::TrySendError;

use super::AppState;
use crate::alerts::{self, AlertError};
use crate::config::Settings;
use crate::forge::webhook::{self, ChangeEvent, ForgeEvent, Secret, WebhookError};
use crate::incident::event::Inbound;

/// The accepted credentials per source, several each so they can be rotated.
#[derive(Clone, Debug, Default)]
pub struct WebhookSecrets {
    pub github: Vec<Secret>,
    pub gitlab: Vec<Secret>,
    pub alertmanager: Vec<Secret>,
}

impl WebhookSecrets {
    pub fn from_settings(settings: &Settings) -> Self {
        let secrets = |loaded: &[crate::config::LoadedSecret]| {
            loaded.iter().map(|l| l.secret.clone()).collect()
        };
        WebhookSecrets {
            github: secrets(&settings.github_secrets),
            gitlab: secrets(&settings.gitlab_tokens),
            alertmanager: secrets(&settings.alertmanager_tokens),
        }
    }
}

/// How one delivery ended: its response and its `status` metric label.
#[derive(Debug)]
enum Outcome {
    Queued,
    /// Already seen: acknowledged so the sender stops redelivering.
    Duplicate,
    /// Authentic, but nothing suture acts on.
    Ignored,
    Rejected {
        status: StatusCode,
        reason: Cow<'static, str>,
    },
}

impl Outcome {
    fn rejected(status: StatusCode, reason: impl Into<Cow<'static, str>>) -> Outcome {
        Outcome::Rejected {
            status,
            reason: reason.into(),
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            Outcome::Queued => StatusCode::ACCEPTED,
            Outcome::Duplicate => StatusCode::OK,
            Outcome::Ignored => StatusCode::NO_CONTENT,
            Outcome::Rejected { status, .. } => *status,
        }
    }
}

impl From<WebhookError> for Outcome {
    fn from(e: WebhookError) -> Self {
        let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
        // The parser's detail may quote the body; the caller gets only the kind of problem.
        let reason: Cow<'static, str> = match e {
            WebhookError::Malformed(_) => "malformed payload".into(),
            other => other.to_string().into(),
        };
        Outcome::Rejected { status, reason }
    }
}

impl From<BytesRejection> for Outcome {
    fn from(r: BytesRejection) -> Self {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Outcome::rejected(StatusCode::PAYLOAD_TOO_LARGE, "body too large")
        } else {
            Outcome::rejected(StatusCode::BAD_REQUEST, "unreadable body")
        }
    }
}

/// Count the request, log a rejection (status and reason only), and answer.
fn finish(state: &AppState, source: &'static str, outcome: Outcome) -> Response {
    let status = outcome.status();
    state.metrics.webhook_request(source, status.as_u16());
    match outcome {
        Outcome::Queued => {
            (status, axum::Json(serde_json::json!({"status": "queued"}))).into_response()
        }
        Outcome::Duplicate => (
            status,
            axum::Json(serde_json::json!({"status": "duplicate"})),
        )
            .into_response(),
        Outcome::Ignored => status.into_response(),
        Outcome::Rejected { status, reason } => {
            tracing::warn!(source, status = status.as_u16(), %reason, "webhook rejected");
            super::error_body(status, &reason)
        }
    }
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn ledger_down(e: &crate::ledger::LedgerError) -> Outcome {
    tracing::warn!(error = %e, "webhook: ledger unavailable");
    Outcome::rejected(StatusCode::SERVICE_UNAVAILABLE, "ledger unavailable")
}

/// Hold a queue slot, record the delivery id, then queue: the order that makes "recorded" imply
/// "queued" and a full queue leave the delivery unrecorded for its redelivery.
async fn deliver(state: &AppState, source: &str, delivery: &str, item: Inbound) -> Outcome {
    let permit = match state.queue.try_reserve() {
        Ok(permit) => permit,
        Err(TrySendError::Full(())) => {
            return Outcome::rejected(
                StatusCode::SERVICE_UNAVAILABLE,
                "queue full, redeliver later",
            );
        }
        Err(TrySendError::Closed(())) => {
            return Outcome::rejected(StatusCode::SERVICE_UNAVAILABLE, "runner stopped");
        }
    };
    match state
        .ledger
        .first_delivery(source, delivery, state.clock.now())
        .await
    {
        Ok(true) => {
            permit.send(item);
            Outcome::Queued
        }
        Ok(false) => Outcome::Duplicate,
        Err(e) => ledger_down(&e),
    }
}

/// A verified change event: queued only for a PR/MR suture opened (a row in the ledger for
/// this forge, repository and head branch); anything else is not trusted and ignored.
async fn change(
    state: &AppState,
    forge: &'static str,
    delivery: &str,
    event: ForgeEvent,
) -> Outcome {
    let event: ChangeEvent = match event {
        ForgeEvent::Change(event) => event,
        ForgeEvent::Ignored { .. } => return Outcome::Ignored,
    };
    match state
        .ledger
        .pull_request_by_branch(forge, &event.repo.path, &event.head_branch)
        .await
    {
        Ok(Some(_)) => {}
        Ok(None) => return Outcome::Ignored,
        Err(e) => return ledger_down(&e),
    }
    let item = Inbound::Change {
        delivery: delivery.to_string(),
        event,
    };
    deliver(state, forge, delivery, item).await
}

pub async fn github(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let outcome = github_outcome(&state, &headers, body).await;
    finish(&state, "github", outcome)
}

async fn github_outcome(
    state: &AppState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Outcome {
    let body = match body {
        Ok(body) => body,
        Err(r) => return r.into(),
    };
    let signature = header(headers, "X-Hub-Signature-256");
    if let Err(e) = webhook::verify_github(&state.webhooks.github, signature, &body) {
        return e.into();
    }
    let event = match webhook::parse_github(header(headers, "X-GitHub-Event"), &body) {
        Ok(event) => event,
        Err(e) => return e.into(),
    };
    let Some(delivery) = header(headers, "X-GitHub-Delivery").filter(|d| !d.is_empty()) else {
        return WebhookError::MissingHeader("X-GitHub-Delivery").into();
    };
    change(state, "github", delivery, event).await
}

pub async fn gitlab(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let outcome = gitlab_outcome(&state, &headers, body).await;
    finish(&state, "gitlab", outcome)
}

async fn gitlab_outcome(
    state: &AppState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Outcome {
    let body = match body {
        Ok(body) => body,
        Err(r) => return r.into(),
    };
    if let Err(e) =
        webhook::verify_gitlab(&state.webhooks.gitlab, header(headers, "X-Gitlab-Token"))
    {
        return e.into();
    }
    let event = match webhook::parse_gitlab(header(headers, "X-Gitlab-Event"), &body) {
        Ok(event) => event,
        Err(e) => return e.into(),
    };
    // GitLab sends `Idempotency-Key` (same on every retry) and `X-Gitlab-Event-UUID`.
    let delivery = header(headers, "Idempotency-Key")
        .or_else(|| header(headers, "X-Gitlab-Event-UUID"))
        .filter(|d| !d.is_empty());
    let Some(delivery) = delivery else {
        return WebhookError::MissingHeader("Idempotency-Key").into();
    };
    change(state, "gitlab", delivery, event).await
}

pub async fn alertmanager(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let outcome = alertmanager_outcome(&state, &headers, body).await;
    finish(&state, "alertmanager", outcome)
}

async fn alertmanager_outcome(
    state: &AppState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Outcome {
    let body = match body {
        Ok(body) => body,
        Err(r) => return r.into(),
    };
    if let Err(e) = webhook::verify_bearer(
        &state.webhooks.alertmanager,
        header(headers, "Authorization"),
    ) {
        return e.into();
    }
    let notification = match alerts::parse(&body) {
        Ok(n) => n,
        Err(AlertError::Version(_)) => {
            return Outcome::rejected(StatusCode::BAD_REQUEST, "unsupported payload version");
        }
        Err(AlertError::Malformed(_)) => {
            return Outcome::rejected(StatusCode::BAD_REQUEST, "malformed payload");
        }
    };
    // Alertmanager sends no delivery id; a retry of the same notification has the same body.
    let delivery = match header(headers, "Idempotency-Key").filter(|k| !k.is_empty()) {
        Some(key) => key.to_string(),
        None => format!("sha256:{}", hex::encode(Sha256::digest(&body))),
    };
    let item = Inbound::Alerts {
        delivery: delivery.clone(),
        alerts: notification.alerts,
    };
    deliver(state, "alertmanager", &delivery, item).await
}
