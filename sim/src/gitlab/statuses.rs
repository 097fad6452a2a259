//! External commit statuses: `POST /projects/:id/statuses/:sha` and `GET
//! /projects/:id/repository/commits/:sha/statuses`, with GitLab's shapes and its job state
//! machine. A post updates the pending or running status of the same name and ref, and is
//! refused when that transition does not exist (`pending` twice is the common case); once a
//! status has finished, the next post with its name starts a new one and the old one counts
//! as retried. The commit must exist in the project's Git repository.

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, State as AxState};
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::params::Params;
use super::projects::user;
use super::routes::{ApiError, ApiResult, Ctx, Login, reply};
use super::state::{CommitStatusRec, State, now};

const STATES: [&str; 6] = [
    "pending", "running", "success", "failed", "canceled", "skipped",
];

/// The full sha of `rev`, or GitLab's 404.
fn commit(ctx: &Ctx, path: &str, rev: &str) -> Result<String, ApiError> {
    ctx.store
        .commit_info(path, rev)
        .map(|c| c.sha)
        .map_err(|_| ApiError::not_found("Commit"))
}

/// The first branch (by name) containing `sha`, as GitLab picks a ref when none is given.
fn branch_containing(ctx: &Ctx, path: &str, sha: &str) -> Option<String> {
    let branches = ctx.store.branches(path).ok()?;
    branches
        .into_iter()
        .find(|(_, tip)| ctx.store.is_ancestor(path, sha, tip).unwrap_or(false))
        .map(|(name, _)| name)
}

fn render(ctx: &Ctx, st: &mut State, s: &CommitStatusRec) -> Value {
    let author = st.user(&s.author);
    json!({
        "id": s.id,
        "sha": s.sha,
        "ref": s.ref_,
        "status": s.status,
        "name": s.name,
        "target_url": s.target_url,
        "description": s.description,
        "created_at": s.created_at,
        "started_at": s.started_at,
        "finished_at": s.finished_at,
        "allow_failure": false,
        "coverage": null,
        "pipeline_id": s.pipeline_id,
        "author": user(&ctx.urls, &author),
    })
}

/// Apply the event `state` asks for to a status in `from`; GitLab's message when there is no
/// such transition.
fn transition(from: &str, to: &str) -> Result<(), ApiError> {
    let (event, allowed): (&str, &[&str]) = match to {
        "pending" => ("enqueue", &["created"]),
        // GitLab enqueues first (quietly, if it cannot) and then runs.
        "running" => ("run", &["created", "pending"]),
        "success" => ("success", &["created", "pending", "running"]),
        "failed" => ("drop", &["created", "pending", "running"]),
        "canceled" => ("cancel", &["created", "pending", "running"]),
        _ => ("skip", &["created", "pending"]),
    };
    if allowed.contains(&from) {
        return Ok(());
    }
    Err(ApiError::bad_request(format!(
        "Cannot transition status via :{event} from :{from} (Reason(s): Status cannot transition via \"{event}\")"
    )))
}

pub(crate) async fn create(
    AxState(ctx): AxState<Arc<Ctx>>,
    Extension(Login(login)): Extension<Login>,
    Path((id, sha)): Path<(String, String)>,
    params: Params,
) -> ApiResult {
    let state = params.required("state")?;
    if !STATES.contains(&state.as_str()) {
        return Err(ApiError::error(
            StatusCode::BAD_REQUEST,
            "state does not have a valid value",
        ));
    }
    let name = match params.str("name")? {
        Some(n) => n,
        None => params.str("context")?.unwrap_or_else(|| "default".into()),
    };
    let ref_param = params.str("ref")?;
    let description = params.str("description")?;
    let target_url = params.str("target_url")?;
    let path = {
        let st = ctx.lock();
        let pid = st.project_key(&id)?;
        st.project(pid)?.path.clone()
    };
    let sha = commit(&ctx, &path, &sha)?;
    let ref_ = ref_param.or_else(|| branch_containing(&ctx, &path, &sha));

    let mut st = ctx.lock();
    let pid = st.project_key(&id)?;
    let fresh_id = st.id();
    let fresh_pipeline = st.id();
    let p = st.project_mut(pid)?;
    let open = p.statuses.iter().position(|s| {
        s.sha == sha
            && s.name == name
            && s.ref_ == ref_
            && !s.retried
            && matches!(s.status.as_str(), "pending" | "running")
    });
    let index = match open {
        Some(i) => i,
        None => {
            let pipeline_id = p
                .statuses
                .iter()
                .find(|s| s.sha == sha && s.ref_ == ref_)
                .map_or(fresh_pipeline, |s| s.pipeline_id);
            for old in p
                .statuses
                .iter_mut()
                .filter(|s| s.sha == sha && s.name == name && s.ref_ == ref_)
            {
                old.retried = true;
            }
            p.statuses.push(CommitStatusRec {
                id: fresh_id,
                pipeline_id,
                sha,
                ref_,
                name,
                status: "created".into(),
                description: None,
                target_url: None,
                author: login,
                created_at: now(),
                started_at: None,
                finished_at: None,
                retried: false,
            });
            p.statuses.len() - 1
        }
    };
    let rec = &mut p.statuses[index];
    transition(&rec.status, &state)?;
    let t = now();
    if state == "running" {
        rec.started_at = Some(t.clone());
    }
    if matches!(
        state.as_str(),
        "success" | "failed" | "canceled" | "skipped"
    ) {
        rec.finished_at = Some(t);
    }
    rec.status = state;
    if description.is_some() {
        rec.description = description;
    }
    if target_url.is_some() {
        rec.target_url = target_url;
    }
    let rec = rec.clone();
    Ok(reply(StatusCode::CREATED, render(&ctx, &mut st, &rec)))
}

pub(crate) async fn list(
    AxState(ctx): AxState<Arc<Ctx>>,
    Path((id, sha)): Path<(String, String)>,
    params: Params,
) -> ApiResult {
    let path = {
        let st = ctx.lock();
        let pid = st.project_key(&id)?;
        st.project(pid)?.path.clone()
    };
    let sha = commit(&ctx, &path, &sha)?;
    let all = params.bool("all")?.unwrap_or(false);
    let ref_ = params.str("ref")?;
    let name = params.str("name")?;
    let mut st = ctx.lock();
    let pid = st.project_key(&id)?;
    let mut found: Vec<CommitStatusRec> = st
        .project(pid)?
        .statuses
        .iter()
        .filter(|s| s.sha == sha && (all || !s.retried))
        .filter(|s| ref_.is_none() || s.ref_ == ref_)
        .filter(|s| name.as_ref().is_none_or(|n| *n == s.name))
        .cloned()
        .collect();
    // GitLab orders by id, ascending unless asked otherwise.
    if params.str("sort")?.as_deref() == Some("desc") {
        found.reverse();
    }
    let out: Vec<Value> = found.iter().map(|s| render(&ctx, &mut st, s)).collect();
    Ok(reply(StatusCode::OK, Value::Array(out)))
}
