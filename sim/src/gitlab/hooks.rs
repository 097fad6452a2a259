//! Project webhooks: `GET/POST /projects/:id/hooks`, `GET/DELETE /projects/:id/hooks/:hook_id`,
//! shaped as GitLab's REST API renders them (the token is never shown back; `push_events` is on
//! unless turned off, every other event flag off unless turned on).

use std::sync::Arc;

use axum::extract::{Path, State as AxState};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{Value, json};

use super::params::Params;
use super::routes::{ApiError, ApiResult, Ctx, number, reply};
use super::state::{ProjectHook, now};

/// A hook as the hooks API renders it; flags the simulator does not deliver are `false`.
pub(crate) fn hook(project_id: u64, h: &ProjectHook) -> Value {
    json!({
        "id": h.id,
        "url": h.url,
        "name": h.name,
        "description": h.description,
        "project_id": project_id,
        "created_at": h.created_at,
        "push_events": h.push_events,
        "push_events_branch_filter": h.push_events_branch_filter,
        "branch_filter_strategy": "wildcard",
        "tag_push_events": h.tag_push_events,
        "merge_requests_events": h.merge_requests_events,
        "note_events": h.note_events,
        "confidential_note_events": false,
        "issues_events": h.issues_events,
        "confidential_issues_events": false,
        "job_events": false,
        "pipeline_events": false,
        "wiki_page_events": false,
        "deployment_events": false,
        "feature_flag_events": false,
        "releases_events": false,
        "milestone_events": false,
        "emoji_events": false,
        "resource_access_token_events": false,
        "repository_update_events": false,
        "enable_ssl_verification": h.enable_ssl_verification,
        "alert_status": "executable",
        "disabled_until": null,
        "url_variables": [],
        "custom_webhook_template": null,
        "custom_headers": [],
    })
}

pub(crate) async fn list(AxState(ctx): AxState<Arc<Ctx>>, Path(id): Path<String>) -> ApiResult {
    let st = ctx.lock();
    let p = st.project(st.project_key(&id)?)?;
    let out = p.hooks.iter().map(|h| hook(p.id, h)).collect();
    Ok(reply(StatusCode::OK, Value::Array(out)))
}

pub(crate) async fn get(
    AxState(ctx): AxState<Arc<Ctx>>,
    Path((id, hook_id)): Path<(String, String)>,
) -> ApiResult {
    let hook_id = number(&hook_id)?;
    let st = ctx.lock();
    let p = st.project(st.project_key(&id)?)?;
    let h = p
        .hooks
        .iter()
        .find(|h| h.id == hook_id)
        .ok_or_else(|| ApiError::not_found(""))?;
    Ok(reply(StatusCode::OK, hook(p.id, h)))
}

/// What `POST /projects/:id/hooks` asks for, with GitLab's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewHook {
    pub url: String,
    pub token: String,
    pub name: String,
    pub description: String,
    pub push_events: bool,
    pub push_events_branch_filter: String,
    pub tag_push_events: bool,
    pub merge_requests_events: bool,
    pub note_events: bool,
    pub issues_events: bool,
    pub enable_ssl_verification: bool,
}

impl NewHook {
    /// A hook for merge request events only (push events off), which is what suture needs.
    pub fn merge_requests(url: impl Into<String>, token: impl Into<String>) -> NewHook {
        NewHook {
            url: url.into(),
            token: token.into(),
            name: String::new(),
            description: String::new(),
            push_events: false,
            push_events_branch_filter: String::new(),
            tag_push_events: false,
            merge_requests_events: true,
            note_events: false,
            issues_events: false,
            enable_ssl_verification: true,
        }
    }

    fn from_params(params: &Params) -> Result<NewHook, ApiError> {
        let url = params
            .str("url")?
            .ok_or_else(|| ApiError::missing(&["url"]))?;
        let flag = |k: &str, default: bool| Ok::<_, ApiError>(params.bool(k)?.unwrap_or(default));
        Ok(NewHook {
            url,
            token: params.str("token")?.unwrap_or_default(),
            name: params.str("name")?.unwrap_or_default(),
            description: params.str("description")?.unwrap_or_default(),
            push_events: flag("push_events", true)?,
            push_events_branch_filter: params.str("push_events_branch_filter")?.unwrap_or_default(),
            tag_push_events: flag("tag_push_events", false)?,
            merge_requests_events: flag("merge_requests_events", false)?,
            note_events: flag("note_events", false)?,
            issues_events: flag("issues_events", false)?,
            enable_ssl_verification: flag("enable_ssl_verification", true)?,
        })
    }
}

/// Add a hook to project `pid` (GitLab's 422 for a URL that is not http(s)); returns it as
/// the API renders it.
pub(crate) fn add(ctx: &Ctx, pid: u64, new: NewHook) -> Result<Value, ApiError> {
    let scheme_ok = ["http://", "https://"]
        .iter()
        .any(|s| new.url.len() > s.len() && new.url.to_ascii_lowercase().starts_with(s));
    if !scheme_ok {
        return Err(ApiError::with_body(
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"message": {"url": ["is blocked: Only allowed schemes are http, https"]}}),
        ));
    }
    let mut st = ctx.lock();
    st.project(pid)?;
    let rec = ProjectHook {
        id: st.id(),
        url: new.url,
        name: new.name,
        description: new.description,
        token: new.token,
        push_events: new.push_events,
        push_events_branch_filter: new.push_events_branch_filter,
        tag_push_events: new.tag_push_events,
        merge_requests_events: new.merge_requests_events,
        note_events: new.note_events,
        issues_events: new.issues_events,
        enable_ssl_verification: new.enable_ssl_verification,
        uuid: uuid::Uuid::new_v4().to_string(),
        created_at: now(),
    };
    let out = hook(pid, &rec);
    st.project_mut(pid)?.hooks.push(rec);
    Ok(out)
}

pub(crate) async fn create(
    AxState(ctx): AxState<Arc<Ctx>>,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult {
    // Grape checks parameters before the endpoint looks the project up.
    let new = NewHook::from_params(&params)?;
    let pid = ctx.lock().project_key(&id)?;
    let out = add(&ctx, pid, new)?;
    Ok(reply(StatusCode::CREATED, out))
}

pub(crate) async fn delete(
    AxState(ctx): AxState<Arc<Ctx>>,
    Path((id, hook_id)): Path<(String, String)>,
) -> ApiResult {
    let hook_id = number(&hook_id)?;
    let mut st = ctx.lock();
    let pid = st.project_key(&id)?;
    let hooks = &mut st.project_mut(pid)?.hooks;
    let before = hooks.len();
    hooks.retain(|h| h.id != hook_id);
    if hooks.len() == before {
        return Err(ApiError::not_found(""));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
