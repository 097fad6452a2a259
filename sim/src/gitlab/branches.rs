//! Branches: list, get, create from a ref, delete.

use std::sync::Arc;

use axum::extract::{Path, State as AxState};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{Value, json};

use super::commits::commit_json;
use super::params::Params;
use super::projects::{default_branch, web_url};
use super::routes::{ApiError, ApiResult, Ctx, reply};
use super::state::ProjectRec;
use crate::git::GitSimError;

fn branch(ctx: &Ctx, p: &ProjectRec, name: &str, sha: &str) -> Value {
    let default = default_branch(ctx, p);
    let merged = name != default
        && ctx
            .store
            .is_ancestor(&p.path, sha, &default)
            .unwrap_or(false);
    json!({
        "name": name,
        "merged": merged,
        "protected": name == default,
        "default": name == default,
        "developers_can_push": false,
        "developers_can_merge": false,
        "can_push": true,
        "web_url": format!("{}/-/tree/{name}", web_url(&ctx.urls, p)),
        "commit": commit_json(ctx, p, sha),
    })
}

pub(crate) async fn list(
    AxState(ctx): AxState<Arc<Ctx>>,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult {
    let st = ctx.lock();
    let p = st.project(st.project_key(&id)?)?;
    let search = params.str("search")?;
    let out: Vec<Value> = ctx
        .store
        .branches(&p.path)
        .unwrap_or_default()
        .iter()
        .filter(|(n, _)| search.as_deref().is_none_or(|s| n.contains(s)))
        .map(|(n, sha)| branch(&ctx, p, n, sha))
        .collect();
    Ok(reply(StatusCode::OK, Value::Array(out)))
}

pub(crate) async fn get(
    AxState(ctx): AxState<Arc<Ctx>>,
    Path((id, name)): Path<(String, String)>,
) -> ApiResult {
    let st = ctx.lock();
    let p = st.project(st.project_key(&id)?)?;
    let sha = ctx
        .store
        .branch_sha(&p.path, &name)
        .ok()
        .flatten()
        .ok_or_else(|| ApiError::not_found("Branch"))?;
    Ok(reply(StatusCode::OK, branch(&ctx, p, &name, &sha)))
}

pub(crate) async fn create(
    AxState(ctx): AxState<Arc<Ctx>>,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult {
    let (name, rev) = match (params.str("branch")?, params.str("ref")?) {
        (Some(b), Some(r)) => (b, r),
        (None, None) => return Err(ApiError::missing(&["branch", "ref"])),
        (None, _) => return Err(ApiError::missing(&["branch"])),
        (_, None) => return Err(ApiError::missing(&["ref"])),
    };
    let st = ctx.lock();
    let p = st.project(st.project_key(&id)?)?;
    let sha = ctx
        .store
        .commit_info(&p.path, &rev)
        .map_err(|_| ApiError::bad_request("Invalid reference name: ref"))?
        .sha;
    match ctx
        .store
        .create_ref(&p.path, &format!("refs/heads/{name}"), &sha)
    {
        Ok(()) => Ok(reply(StatusCode::CREATED, branch(&ctx, p, &name, &sha))),
        Err(GitSimError::RefExists(_)) => Err(ApiError::bad_request("Branch already exists")),
        Err(GitSimError::InvalidRef(_)) => Err(ApiError::bad_request("Branch name is invalid")),
        Err(_) => Err(ApiError::server_error()),
    }
}

pub(crate) async fn delete(
    AxState(ctx): AxState<Arc<Ctx>>,
    Path((id, name)): Path<(String, String)>,
) -> ApiResult {
    let st = ctx.lock();
    let p = st.project(st.project_key(&id)?)?;
    if name == default_branch(&ctx, p) {
        return Err(ApiError::message(
            StatusCode::METHOD_NOT_ALLOWED,
            "405 Method Not Allowed",
        ));
    }
    match ctx.store.delete_ref(&p.path, &format!("refs/heads/{name}")) {
        Ok(()) => Ok(StatusCode::NO_CONTENT.into_response()),
        Err(GitSimError::RefNotFound(_) | GitSimError::InvalidRef(_)) => {
            Err(ApiError::not_found("Branch"))
        }
        Err(_) => Err(ApiError::server_error()),
    }
}
