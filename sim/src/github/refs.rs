//! Git references through the REST API, backed by the bare repository.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State as AxState};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde_json::Value;

use super::render;
use super::routes::{
    ApiError, ApiResult, Ctx, default_branch, full_name, json_body, opt_bool, opt_str, reply,
};
use crate::git::GitSimError;

type RefPath = Path<(String, String, String)>;

/// `heads/main` (as in the URL) -> `refs/heads/main`.
fn full_ref(rest: &str) -> String {
    let rest = rest.trim_start_matches('/');
    if rest.starts_with("refs/") {
        rest.to_owned()
    } else {
        format!("refs/{rest}")
    }
}

/// The repository must be known to the API, not only on disk.
fn known(ctx: &Ctx, full: &str) -> Result<(), ApiError> {
    ctx.lock().repo(full).map(|_| ())
}

fn git_error(e: GitSimError) -> ApiError {
    match e {
        GitSimError::RefExists(_) => ApiError::invalid("Reference already exists"),
        GitSimError::RefNotFound(_) => ApiError::invalid("Reference does not exist"),
        GitSimError::ObjectNotFound(_) => ApiError::invalid("Object does not exist"),
        GitSimError::NotFastForward(_) => ApiError::invalid("Update is not a fast forward"),
        GitSimError::InvalidRef(_) => ApiError::invalid("Reference name is invalid"),
        GitSimError::RefMoved(_) => ApiError::new(StatusCode::CONFLICT, "Reference update failed"),
        GitSimError::RepoNotFound(_) | GitSimError::InvalidRepoName(_) => ApiError::not_found(),
        other => {
            tracing::warn!(error = %other, "simulated ref operation failed");
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "Server Error")
        }
    }
}

pub(crate) async fn get_ref(
    AxState(ctx): AxState<Arc<Ctx>>,
    Path((owner, repo, rest)): RefPath,
) -> ApiResult {
    let full = full_name(&owner, &repo);
    known(&ctx, &full)?;
    let refname = full_ref(&rest);
    let sha = ctx
        .store
        .ref_target(&full, &refname)
        .ok()
        .flatten()
        .ok_or_else(ApiError::not_found)?;
    Ok(reply(
        StatusCode::OK,
        render::git_ref(&ctx.urls, &full, &refname, &sha),
    ))
}

pub(crate) async fn matching_refs(
    AxState(ctx): AxState<Arc<Ctx>>,
    Path((owner, repo, rest)): RefPath,
) -> ApiResult {
    let full = full_name(&owner, &repo);
    known(&ctx, &full)?;
    let prefix = full_ref(&rest);
    let refs = ctx.store.refs(&full).map_err(git_error)?;
    let out = refs
        .iter()
        .filter(|(name, _)| name.starts_with(&prefix))
        .map(|(name, sha)| render::git_ref(&ctx.urls, &full, name, sha))
        .collect();
    Ok(reply(StatusCode::OK, Value::Array(out)))
}

pub(crate) async fn create_ref(
    AxState(ctx): AxState<Arc<Ctx>>,
    Path((owner, repo)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let full = full_name(&owner, &repo);
    let v = json_body(body)?;
    known(&ctx, &full)?;
    let refname =
        opt_str(&v, "ref")?.ok_or_else(|| ApiError::field("Reference", "missing_field", "ref"))?;
    let sha =
        opt_str(&v, "sha")?.ok_or_else(|| ApiError::field("Reference", "missing_field", "sha"))?;
    if !refname.starts_with("refs/") || refname.matches('/').count() < 2 {
        return Err(ApiError::invalid(
            "ref must start with 'refs' and have at least two slashes.",
        ));
    }
    ctx.store
        .create_ref(&full, refname, sha)
        .map_err(git_error)?;
    let location = format!("{}/repos/{full}/git/{refname}", ctx.urls.api);
    Ok((
        [(header::LOCATION, location)],
        reply(
            StatusCode::CREATED,
            render::git_ref(&ctx.urls, &full, refname, sha),
        ),
    )
        .into_response())
}

pub(crate) async fn update_ref(
    AxState(ctx): AxState<Arc<Ctx>>,
    Path((owner, repo, rest)): RefPath,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let full = full_name(&owner, &repo);
    let v = json_body(body)?;
    known(&ctx, &full)?;
    let refname = full_ref(&rest);
    let sha =
        opt_str(&v, "sha")?.ok_or_else(|| ApiError::field("Reference", "missing_field", "sha"))?;
    let force = opt_bool(&v, "force")?.unwrap_or(false);
    ctx.store
        .update_ref(&full, &refname, sha, force)
        .map_err(git_error)?;
    Ok(reply(
        StatusCode::OK,
        render::git_ref(&ctx.urls, &full, &refname, sha),
    ))
}

pub(crate) async fn delete_ref(
    AxState(ctx): AxState<Arc<Ctx>>,
    Path((owner, repo, rest)): RefPath,
) -> ApiResult {
    let full = full_name(&owner, &repo);
    known(&ctx, &full)?;
    let refname = full_ref(&rest);
    // GitHub refuses to delete the default branch.
    if refname == format!("refs/heads/{}", default_branch(&ctx, &full)) {
        return Err(ApiError::invalid("Cannot delete the default branch"));
    }
    ctx.store.delete_ref(&full, &refname).map_err(git_error)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
