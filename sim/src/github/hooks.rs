//! Repository webhooks: `GET/POST /repos/{owner}/{repo}/hooks`, `GET/DELETE
//! /repos/{owner}/{repo}/hooks/{hook_id}`, shaped as GitHub's REST API documents them (the
//! secret is never shown back, only `********`), with the `ping` event GitHub sends to a new
//! hook.

use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State as AxState};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{Value, json};

use super::render::{self, Urls};
use super::routes::{
    ApiError, ApiResult, Ctx, Login, default_branch, full_name, json_body, number, opt_bool,
    opt_str, reply,
};
use super::state::now;
use super::webhook::{self, RepoHook, WebhookConfig};

/// A hook as the hooks API renders it.
pub(crate) fn hook(u: &Urls, full: &str, h: &RepoHook) -> Value {
    let url = format!("{}/repos/{full}/hooks/{}", u.api, h.id);
    let mut config = json!({
        "content_type": h.content_type,
        "insecure_ssl": h.insecure_ssl,
        "url": h.config.url,
    });
    if !h.config.secret.is_empty() {
        config["secret"] = json!("********");
    }
    json!({
        "type": "Repository",
        "id": h.id,
        "name": "web",
        "active": h.active,
        "events": h.config.events,
        "config": config,
        "updated_at": h.updated_at,
        "created_at": h.created_at,
        "url": url,
        "test_url": format!("{url}/test"),
        "ping_url": format!("{url}/pings"),
        "deliveries_url": format!("{url}/deliveries"),
        "last_response": {"code": null, "status": "unused", "message": null},
    })
}

pub(crate) async fn list(
    AxState(ctx): AxState<Arc<Ctx>>,
    Path((owner, repo)): Path<(String, String)>,
) -> ApiResult {
    let full = full_name(&owner, &repo);
    let st = ctx.lock();
    st.repo(&full)?;
    let hooks = st.repo_hooks.get(&full).into_iter().flatten();
    Ok(reply(
        StatusCode::OK,
        Value::Array(hooks.map(|h| hook(&ctx.urls, &full, h)).collect()),
    ))
}

pub(crate) async fn get(
    AxState(ctx): AxState<Arc<Ctx>>,
    Path((owner, repo, id)): Path<(String, String, String)>,
) -> ApiResult {
    let full = full_name(&owner, &repo);
    let id = number(&id)?;
    let st = ctx.lock();
    st.repo(&full)?;
    let h = st
        .repo_hooks
        .get(&full)
        .and_then(|hs| hs.iter().find(|h| h.id == id))
        .ok_or_else(ApiError::not_found)?;
    Ok(reply(StatusCode::OK, hook(&ctx.urls, &full, h)))
}

pub(crate) async fn create(
    AxState(ctx): AxState<Arc<Ctx>>,
    Extension(Login(login)): Extension<Login>,
    Path((owner, repo)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let full = full_name(&owner, &repo);
    let v = json_body(body)?;
    let mut st = ctx.lock();
    st.repo(&full)?;
    if let Some(name) = opt_str(&v, "name")?
        && name != "web"
    {
        return Err(ApiError::field("Hook", "invalid", "name"));
    }
    let active = opt_bool(&v, "active")?.unwrap_or(true);
    let events = match v.get("events") {
        None | Some(Value::Null) => vec!["push".to_owned()],
        Some(Value::Array(items)) => items
            .iter()
            .map(|e| e.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| {
                ApiError::invalid("Invalid request.\n\nFor 'events', items must be strings.")
            })?,
        Some(_) => {
            return Err(ApiError::invalid(
                "Invalid request.\n\nFor 'events', it is not an array.",
            ));
        }
    };
    let config = match v.get("config") {
        Some(c @ Value::Object(_)) => c,
        _ => return Err(ApiError::field("Hook", "missing_field", "config")),
    };
    let url = opt_str(config, "url")?
        .filter(|u| u.starts_with("http://") || u.starts_with("https://"))
        .ok_or_else(|| ApiError::custom("Hook", "url", "Config must contain a valid URL"))?
        .to_owned();
    let content_type = opt_str(config, "content_type")?
        .unwrap_or("form")
        .to_owned();
    if content_type != "json" && content_type != "form" {
        return Err(ApiError::field("Hook", "invalid", "content_type"));
    }
    let secret = opt_str(config, "secret")?.unwrap_or_default().to_owned();
    let insecure_ssl = match config.get("insecure_ssl") {
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) => s.clone(),
        _ => "0".to_owned(),
    };
    if st
        .repo_hooks
        .get(&full)
        .is_some_and(|hs| hs.iter().any(|h| h.config.url == url))
    {
        return Err(ApiError::custom(
            "Hook",
            "hook",
            "Hook already exists on this repository",
        ));
    }
    let at = now();
    let rec = RepoHook {
        id: st.id(),
        config: WebhookConfig {
            url,
            secret,
            events,
        },
        active,
        content_type,
        insecure_ssl,
        created_at: at.clone(),
        updated_at: at,
    };
    let out = hook(&ctx.urls, &full, &rec);
    // GitHub pings every new hook, whatever events it subscribed to.
    if rec.active
        && let Ok(r) = st.repo(&full)
    {
        let mut hook = out.clone();
        // A hook an App's installation created names the App in its ping.
        if let Some(app) = st.apps.values().find(|a| a.bot_login() == login) {
            hook["app_id"] = json!(app.id);
        }
        let ping = json!({
            "zen": "Design for failure.",
            "hook_id": rec.id,
            "hook": hook,
            "repository": render::repo(&ctx.urls, &st, r, &default_branch(&ctx, &full)),
            "sender": render::user(&ctx.urls, &st, &login),
        });
        let repo_id = r.id;
        webhook::send(&ctx, &rec.config, Some((&rec, repo_id)), "ping", &ping);
    }
    st.repo_hooks.entry(full).or_default().push(rec);
    Ok(reply(StatusCode::CREATED, out))
}

pub(crate) async fn delete(
    AxState(ctx): AxState<Arc<Ctx>>,
    Path((owner, repo, id)): Path<(String, String, String)>,
) -> ApiResult {
    let full = full_name(&owner, &repo);
    let id = number(&id)?;
    let mut st = ctx.lock();
    st.repo(&full)?;
    let hooks = st.repo_hooks.entry(full).or_default();
    let before = hooks.len();
    hooks.retain(|h| h.id != id);
    if hooks.len() == before {
        return Err(ApiError::not_found());
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
