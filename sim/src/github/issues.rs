//! Issue endpoints suture uses on its pull requests: labels and comments (PR numbers are issue
//! numbers).

use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State as AxState};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde_json::Value;

use super::render;
use super::routes::{ApiError, ApiResult, Ctx, Login, full_name, json_body, number, reply};
use super::state::{CommentRec, LabelRec, State, now};
use super::{pulls, webhook};

type NumPath = Path<(String, String, String)>;

pub(crate) async fn get(
    AxState(ctx): AxState<Arc<Ctx>>,
    Path((owner, repo, n)): NumPath,
) -> ApiResult {
    let full = full_name(&owner, &repo);
    let n = number(&n)?;
    let st = ctx.lock();
    let item = st.item(&full, n)?;
    Ok(reply(
        StatusCode::OK,
        render::issue(&ctx.urls, &st, st.repo(&full)?, item),
    ))
}

fn labels_reply(ctx: &Ctx, st: &State, full: &str, n: u64, status: StatusCode) -> ApiResult {
    let r = st.repo(full)?;
    let item = st.item(full, n)?;
    Ok(reply(
        status,
        Value::Array(render::labels(&ctx.urls, r, item)),
    ))
}

pub(crate) async fn list_labels(
    AxState(ctx): AxState<Arc<Ctx>>,
    Path((owner, repo, n)): NumPath,
) -> ApiResult {
    let full = full_name(&owner, &repo);
    let n = number(&n)?;
    let st = ctx.lock();
    labels_reply(&ctx, &st, &full, n, StatusCode::OK)
}

/// Label names from `{"labels": [...]}` or a bare array, of names or `{"name": ...}` objects.
fn label_names(v: &Value) -> Result<Vec<String>, ApiError> {
    let list = match v {
        Value::Array(a) => a,
        Value::Object(o) => match o.get("labels") {
            Some(Value::Array(a)) => a,
            _ => return Err(ApiError::field("Label", "missing_field", "labels")),
        },
        _ => {
            return Err(ApiError::invalid(
                "Invalid request.\n\nlabels must be an array.",
            ));
        }
    };
    let mut names = Vec::new();
    for l in list {
        let name = match l {
            Value::String(s) => s.as_str(),
            Value::Object(o) => o.get("name").and_then(Value::as_str).unwrap_or_default(),
            _ => "",
        };
        let name = name.trim();
        if name.is_empty() || name.len() > 50 {
            return Err(ApiError::field("Label", "invalid", "name"));
        }
        if !names.iter().any(|n| n == name) {
            names.push(name.to_owned());
        }
    }
    Ok(names)
}

/// Add labels (creating repository labels on first use); returns the names newly on the item.
fn add(st: &mut State, full: &str, n: u64, names: &[String]) -> Result<Vec<String>, ApiError> {
    st.item(full, n)?;
    let mut fresh_ids = Vec::new();
    for name in names {
        if !st.repo(full)?.labels.contains_key(name) {
            fresh_ids.push((name.clone(), st.id()));
        }
    }
    let r = st.repo_mut(full)?;
    for (name, id) in fresh_ids {
        r.labels.insert(
            name.clone(),
            LabelRec {
                id,
                name,
                color: "ededed".to_owned(),
                description: None,
            },
        );
    }
    let item = r.items.get_mut(&n).ok_or_else(ApiError::not_found)?;
    let mut added = Vec::new();
    for name in names {
        if !item.labels.contains(name) {
            item.labels.push(name.clone());
            added.push(name.clone());
        }
    }
    if !added.is_empty() {
        item.updated_at = now();
    }
    Ok(added)
}

/// `pull_request` `labeled` webhooks for labels added to a pull request.
fn emit_labeled(ctx: &Arc<Ctx>, st: &mut State, full: &str, n: u64, login: &str, added: &[String]) {
    if st.pull(full, n).is_err() {
        return;
    }
    for name in added {
        let Ok(mut payload) = pulls::payload(ctx, st, full, n, "labeled", login) else {
            return;
        };
        if let Ok(r) = st.repo(full)
            && let Some(l) = r.labels.get(name)
        {
            payload["label"] = render::label(&ctx.urls, full, l);
        }
        webhook::emit(ctx, st, full, "pull_request", &payload);
    }
}

pub(crate) async fn add_labels(
    AxState(ctx): AxState<Arc<Ctx>>,
    Extension(Login(login)): Extension<Login>,
    Path((owner, repo, n)): NumPath,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let full = full_name(&owner, &repo);
    let n = number(&n)?;
    let v = json_body(body)?;
    let mut st = ctx.lock();
    st.item(&full, n)?;
    let names = label_names(&v)?;
    let added = add(&mut st, &full, n, &names)?;
    emit_labeled(&ctx, &mut st, &full, n, &login, &added);
    labels_reply(&ctx, &st, &full, n, StatusCode::OK)
}

pub(crate) async fn set_labels(
    AxState(ctx): AxState<Arc<Ctx>>,
    Extension(Login(login)): Extension<Login>,
    Path((owner, repo, n)): NumPath,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let full = full_name(&owner, &repo);
    let n = number(&n)?;
    let v = json_body(body)?;
    let mut st = ctx.lock();
    st.item(&full, n)?;
    let names = label_names(&v)?;
    st.item_mut(&full, n)?.labels.retain(|l| names.contains(l));
    let added = add(&mut st, &full, n, &names)?;
    emit_labeled(&ctx, &mut st, &full, n, &login, &added);
    labels_reply(&ctx, &st, &full, n, StatusCode::OK)
}

pub(crate) async fn remove_label(
    AxState(ctx): AxState<Arc<Ctx>>,
    Path((owner, repo, n, name)): Path<(String, String, String, String)>,
) -> ApiResult {
    let full = full_name(&owner, &repo);
    let n = number(&n)?;
    let mut st = ctx.lock();
    let item = st.item_mut(&full, n)?;
    let before = item.labels.len();
    item.labels.retain(|l| *l != name);
    if item.labels.len() == before {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "Label does not exist"));
    }
    item.updated_at = now();
    labels_reply(&ctx, &st, &full, n, StatusCode::OK)
}

pub(crate) async fn list_comments(
    AxState(ctx): AxState<Arc<Ctx>>,
    Path((owner, repo, n)): NumPath,
) -> ApiResult {
    let full = full_name(&owner, &repo);
    let n = number(&n)?;
    let st = ctx.lock();
    let item = st.item(&full, n)?;
    let out = item
        .comments
        .iter()
        .map(|c| render::comment(&ctx.urls, &st, &full, n, c))
        .collect();
    Ok(reply(StatusCode::OK, Value::Array(out)))
}

pub(crate) async fn create_comment(
    AxState(ctx): AxState<Arc<Ctx>>,
    Extension(Login(login)): Extension<Login>,
    Path((owner, repo, n)): NumPath,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let full = full_name(&owner, &repo);
    let n = number(&n)?;
    let v = json_body(body)?;
    let mut st = ctx.lock();
    st.item(&full, n)?;
    let text = match v.get("body") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => return Err(ApiError::field("IssueComment", "missing_field", "body")),
    };
    // GitHub's limit on a comment body.
    if text.chars().count() > 65536 {
        return Err(ApiError::custom(
            "IssueComment",
            "body",
            "Body is too long (maximum is 65536 characters)",
        ));
    }
    st.user_id(&login);
    let id = st.id();
    let ts = now();
    let c = CommentRec {
        id,
        user: login,
        body: text,
        created_at: ts.clone(),
        updated_at: ts.clone(),
    };
    let item = st.item_mut(&full, n)?;
    item.comments.push(c.clone());
    item.updated_at = ts;
    let out = render::comment(&ctx.urls, &st, &full, n, &c);
    let location = format!("{}/repos/{full}/issues/comments/{id}", ctx.urls.api);
    Ok((
        [(header::LOCATION, location)],
        reply(StatusCode::CREATED, out),
    )
        .into_response())
}
