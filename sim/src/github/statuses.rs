//! Commit statuses: `POST /repos/{owner}/{repo}/statuses/{sha}`, `GET
//! /repos/{owner}/{repo}/commits/{ref}/statuses` (every status, newest first) and `GET
//! /repos/{owner}/{repo}/commits/{ref}/status` (the combined state and the latest status per
//! context), shaped as GitHub's REST API documents them. The commit must exist in the Git
//! repository; GitHub answers 422 for a sha it does not know.

use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State as AxState};
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::render::{self, Urls};
use super::routes::{ApiError, ApiResult, Ctx, Login, full_name, json_body, opt_str, reply};
use super::state::{State, StatusRec, now};

const STATES: [&str; 4] = ["error", "failure", "pending", "success"];
/// GitHub refuses more statuses than this per sha and context.
const MAX_PER_CONTEXT: usize = 1000;

fn no_commit(rev: &str) -> ApiError {
    ApiError::invalid(format!("No commit found for SHA: {rev}"))
}

/// The full sha of `rev` in the repository's Git data.
fn resolve(ctx: &Ctx, full: &str, rev: &str) -> Option<String> {
    ctx.store.commit_info(full, rev).ok().map(|c| c.sha)
}

/// A status as the create and list endpoints render it.
fn status(u: &Urls, st: &State, full: &str, s: &StatusRec) -> Value {
    let mut v = simple(u, st, full, s);
    v["creator"] = render::user(u, st, &s.creator);
    v
}

/// The combined endpoint's entries: no creator.
fn simple(u: &Urls, st: &State, full: &str, s: &StatusRec) -> Value {
    let creator_id = st.users.get(&s.creator).copied().unwrap_or(0);
    json!({
        "url": format!("{}/repos/{full}/statuses/{}", u.api, s.sha),
        "avatar_url": format!("{}/avatars/u/{creator_id}?v=4", u.web),
        "id": s.id,
        "node_id": render::node_id("SC_", s.id),
        "state": s.state,
        "description": s.description,
        "target_url": s.target_url,
        "context": s.context,
        "created_at": s.created_at,
        "updated_at": s.created_at,
    })
}

pub(crate) async fn create(
    AxState(ctx): AxState<Arc<Ctx>>,
    Extension(Login(login)): Extension<Login>,
    Path((owner, repo, sha)): Path<(String, String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let full = full_name(&owner, &repo);
    let v = json_body(body)?;
    ctx.lock().repo(&full)?;
    // A sha, not a branch name: GitHub does not resolve refs here.
    let is_hex = (4..=40).contains(&sha.len()) && sha.bytes().all(|b| b.is_ascii_hexdigit());
    let sha = is_hex
        .then(|| resolve(&ctx, &full, &sha))
        .flatten()
        .ok_or_else(|| no_commit(&sha))?;
    let state = match opt_str(&v, "state")? {
        None => return Err(ApiError::field("Status", "missing_field", "state")),
        Some(s) if STATES.contains(&s) => s.to_owned(),
        Some(s) => {
            return Err(ApiError::invalid(format!(
                "Invalid request.\n\nFor 'state', \"{s}\" is not a member of [\"error\", \"failure\", \"pending\", \"success\"]."
            )));
        }
    };
    let context = opt_str(&v, "context")?.unwrap_or("default").to_owned();
    let description = opt_str(&v, "description")?.map(str::to_owned);
    let target_url = opt_str(&v, "target_url")?.map(str::to_owned);
    let mut st = ctx.lock();
    st.user_id(&login);
    let id = st.id();
    let r = st.repo_mut(&full)?;
    let same = r
        .statuses
        .iter()
        .filter(|s| s.sha == sha && s.context.eq_ignore_ascii_case(&context))
        .count();
    if same >= MAX_PER_CONTEXT {
        return Err(ApiError::custom(
            "Status",
            "context",
            "This SHA and context has reached the maximum number of statuses.",
        ));
    }
    let rec = StatusRec {
        id,
        sha,
        state,
        context,
        description,
        target_url,
        creator: login,
        created_at: now(),
    };
    r.statuses.push(rec.clone());
    Ok(reply(
        StatusCode::CREATED,
        status(&ctx.urls, &st, &full, &rec),
    ))
}

/// `GET .../commits/{ref}/statuses` or `.../commits/{ref}/status`.
pub(crate) async fn for_ref(
    AxState(ctx): AxState<Arc<Ctx>>,
    Path((owner, repo, rest)): Path<(String, String, String)>,
) -> ApiResult {
    let full = full_name(&owner, &repo);
    ctx.lock().repo(&full)?;
    let (rev, combined) = if let Some(rev) = rest.strip_suffix("/statuses") {
        (rev, false)
    } else if let Some(rev) = rest.strip_suffix("/status") {
        (rev, true)
    } else {
        return Err(ApiError::not_found());
    };
    let sha = resolve(&ctx, &full, rev).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!("No commit found for SHA: {rev}"),
        )
    })?;
    let st = ctx.lock();
    let r = st.repo(&full)?;
    let newest_first: Vec<&StatusRec> = r.statuses.iter().rev().filter(|s| s.sha == sha).collect();
    if !combined {
        let list = newest_first
            .iter()
            .map(|s| status(&ctx.urls, &st, &full, s));
        return Ok(reply(StatusCode::OK, Value::Array(list.collect())));
    }
    let mut latest: Vec<&StatusRec> = Vec::new();
    for s in newest_first {
        if !latest
            .iter()
            .any(|l| l.context.eq_ignore_ascii_case(&s.context))
        {
            latest.push(s);
        }
    }
    let state = if latest
        .iter()
        .any(|s| s.state == "error" || s.state == "failure")
    {
        "failure"
    } else if latest.is_empty() || latest.iter().any(|s| s.state == "pending") {
        "pending"
    } else {
        "success"
    };
    let default_branch = super::routes::default_branch(&ctx, &full);
    Ok(reply(
        StatusCode::OK,
        json!({
            "state": state,
            "statuses": latest.iter().map(|s| simple(&ctx.urls, &st, &full, s)).collect::<Vec<_>>(),
            "sha": sha,
            "total_count": latest.len(),
            "repository": render::repo(&ctx.urls, &st, r, &default_branch),
            "commit_url": format!("{}/repos/{full}/commits/{sha}", ctx.urls.api),
            "url": format!("{}/repos/{full}/commits/{sha}/status", ctx.urls.api),
        }),
    ))
}
