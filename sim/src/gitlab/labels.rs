//! Project labels: `GET/POST /projects/:id/labels`.

use std::sync::Arc;

use axum::extract::{Path, State as AxState};
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::params::Params;
use super::routes::{ApiError, ApiResult, Ctx, reply};
use super::state::{LabelRec, ProjectRec, now};

/// A label as the labels API renders it.
pub(crate) fn label(l: &LabelRec) -> Value {
    json!({
        "id": l.id,
        "name": l.name,
        "color": l.color,
        "text_color": "#FFFFFF",
        "description": l.description,
        "description_html": l.description.clone().unwrap_or_default(),
        "open_issues_count": 0,
        "closed_issues_count": 0,
        "open_merge_requests_count": 0,
        "subscribed": false,
        "priority": null,
        "is_project_label": true,
    })
}

/// A label as webhooks embed it.
pub(crate) fn hook_label(p: &ProjectRec, l: &LabelRec) -> Value {
    json!({
        "id": l.id,
        "title": l.name,
        "color": l.color,
        "project_id": p.id,
        "created_at": l.created_at,
        "updated_at": l.created_at,
        "template": false,
        "description": l.description,
        "type": "ProjectLabel",
        "group_id": null,
    })
}

pub(crate) async fn list(AxState(ctx): AxState<Arc<Ctx>>, Path(id): Path<String>) -> ApiResult {
    let st = ctx.lock();
    let p = st.project(st.project_key(&id)?)?;
    Ok(reply(
        StatusCode::OK,
        Value::Array(p.labels.values().map(label).collect()),
    ))
}

/// `#rgb`/`#rrggbb` or a CSS colour name, as GitLab validates `color`.
fn valid_color(c: &str) -> bool {
    match c.strip_prefix('#') {
        Some(hex) => matches!(hex.len(), 3 | 6) && hex.chars().all(|c| c.is_ascii_hexdigit()),
        None => !c.is_empty() && c.len() <= 30 && c.chars().all(|c| c.is_ascii_alphabetic()),
    }
}

pub(crate) async fn create(
    AxState(ctx): AxState<Arc<Ctx>>,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult {
    let mut st = ctx.lock();
    let pid = st.project_key(&id)?;
    let name = params.str("name")?.filter(|s| !s.trim().is_empty());
    let color = params.str("color")?.filter(|s| !s.trim().is_empty());
    let (name, color) = match (name, color) {
        (Some(n), Some(c)) => (n.trim().to_owned(), c.trim().to_owned()),
        (None, None) => return Err(ApiError::missing(&["name", "color"])),
        (None, _) => return Err(ApiError::missing(&["name"])),
        (_, None) => return Err(ApiError::missing(&["color"])),
    };
    if !valid_color(&color) {
        return Err(ApiError::with_body(
            StatusCode::BAD_REQUEST,
            json!({"message": {"color": ["must be a valid color code"]}}),
        ));
    }
    if name.contains(',') {
        return Err(ApiError::with_body(
            StatusCode::BAD_REQUEST,
            json!({"message": {"title": ["is invalid"]}}),
        ));
    }
    if st.project(pid)?.labels.contains_key(&name) {
        return Err(ApiError::message(
            StatusCode::CONFLICT,
            "Label already exists",
        ));
    }
    let rec = LabelRec {
        id: st.id(),
        name: name.clone(),
        color,
        description: params.str("description")?,
        created_at: now(),
    };
    let out = label(&rec);
    st.project_mut(pid)?.labels.insert(name, rec);
    Ok(reply(StatusCode::CREATED, out))
}
