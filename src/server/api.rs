//! `GET /api/incidents` and `GET /api/incidents/{key}`: the ledger as JSON; and
//! `POST /api/incidents/{key}/ack`, the one write: a human acknowledges an escalation.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::{AppState, error_body};
use crate::incident::IncidentState;
use crate::ledger::{HopRecord, Incident, PullRequest};

/// The list is bounded; the newest-updated incidents come first.
const LIST_LIMIT: i64 = 500;

#[derive(Debug, Serialize)]
pub struct IncidentSummary {
    pub key: String,
    pub state: IncidentState,
    pub fault: String,
    pub namespace: String,
    pub kind: String,
    pub name: String,
    pub opened_at: jiff::Timestamp,
    pub updated_at: jiff::Timestamp,
}

impl From<&Incident> for IncidentSummary {
    fn from(i: &Incident) -> Self {
        IncidentSummary {
            key: i.key.clone(),
            state: i.state,
            fault: i.fault.clone(),
            namespace: i.namespace.clone(),
            kind: i.kind.clone(),
            name: i.name.clone(),
            opened_at: i.opened_at,
            updated_at: i.updated_at,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct HopView {
    pub at: jiff::Timestamp,
    pub kind: String,
    pub from_state: Option<IncidentState>,
    pub to_state: Option<IncidentState>,
    pub detail: serde_json::Value,
}

impl From<HopRecord> for HopView {
    fn from(h: HopRecord) -> Self {
        HopView {
            at: h.at,
            kind: h.kind,
            from_state: h.from_state,
            to_state: h.to_state,
            detail: h.detail,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct PullRequestView {
    pub forge: String,
    pub repo: String,
    pub number: i64,
    pub url: String,
    pub state: String,
}

impl From<PullRequest> for PullRequestView {
    fn from(p: PullRequest) -> Self {
        PullRequestView {
            forge: p.forge,
            repo: p.repo,
            number: p.number,
            url: p.url,
            state: p.state,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct IncidentDetail {
    #[serde(flatten)]
    pub summary: IncidentSummary,
    pub cluster: String,
    pub pull_requests: Vec<PullRequestView>,
    pub hops: Vec<HopView>,
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    pub state: Option<String>,
}

fn ledger_down(e: &crate::ledger::LedgerError) -> Response {
    tracing::warn!(error = %e, "api: ledger unavailable");
    error_body(StatusCode::SERVICE_UNAVAILABLE, "ledger unavailable")
}

pub async fn list(State(state): State<Arc<AppState>>, Query(q): Query<ListQuery>) -> Response {
    let filter = match q.state.as_deref().map(str::parse::<IncidentState>) {
        None => None,
        Some(Ok(s)) => Some(s),
        Some(Err(_)) => return error_body(StatusCode::BAD_REQUEST, "unknown state"),
    };
    match state.ledger.incidents(filter, LIST_LIMIT).await {
        Ok(incidents) => {
            let list: Vec<IncidentSummary> = incidents.iter().map(IncidentSummary::from).collect();
            Json(list).into_response()
        }
        Err(e) => ledger_down(&e),
    }
}

pub async fn show(State(state): State<Arc<AppState>>, Path(key): Path<String>) -> Response {
    detail(&state, &key).await
}

/// `POST /api/incidents/{key}/ack` with `Authorization: Bearer <api.ack_token_file>`. Keys hold
/// slashes, so the route is the incident wildcard and `/ack` is read off its end. An optional
/// body `{"by": "name"}` says who (default `api`). Acknowledging twice records one hop; the
/// answer is the incident either way.
pub async fn ack(
    State(state): State<Arc<AppState>>,
    Path(path): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let Some(key) = path.strip_suffix("/ack") else {
        return error_body(StatusCode::NOT_FOUND, "no such route");
    };
    // Checked before the ledger is read: an unauthenticated caller learns nothing about keys.
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if crate::forge::webhook::verify_bearer(&state.ack_tokens, authorization).is_err() {
        return error_body(StatusCode::UNAUTHORIZED, "a valid bearer token is required");
    }
    let by = if body.is_empty() {
        Ok("api".to_string())
    } else {
        serde_json::from_slice::<AckBody>(&body).map(|b| b.by)
    };
    let by = match by {
        Ok(by) if !by.trim().is_empty() && by.chars().count() <= 100 => by,
        _ => return error_body(StatusCode::BAD_REQUEST, "body must be {\"by\": \"name\"}"),
    };
    let now = state.clock.now();
    match state.ledger.acknowledge(key, &by, now).await {
        Ok(_) => detail(&state, key).await,
        Err(crate::ledger::LedgerError::NotFound(_)) => {
            error_body(StatusCode::NOT_FOUND, "no such incident")
        }
        Err(e) => ledger_down(&e),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AckBody {
    by: String,
}

async fn detail(state: &AppState, key: &str) -> Response {
    let key = key.to_string();
    let incident = match state.ledger.incident(&key).await {
        Ok(Some(incident)) => incident,
        Ok(None) => return error_body(StatusCode::NOT_FOUND, "no such incident"),
        Err(e) => return ledger_down(&e),
    };
    let hops = match state.ledger.hops(&key).await {
        Ok(hops) => hops,
        Err(e) => return ledger_down(&e),
    };
    let pull_requests = match state.ledger.pull_requests(&key).await {
        Ok(prs) => prs,
        Err(e) => return ledger_down(&e),
    };
    Json(IncidentDetail {
        summary: IncidentSummary::from(&incident),
        cluster: incident.cluster,
        pull_requests: pull_requests
            .into_iter()
            .map(PullRequestView::from)
            .collect(),
        hops: hops.into_iter().map(HopView::from).collect(),
    })
    .into_response()
}
