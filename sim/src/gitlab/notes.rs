//! Merge request notes (comments): `GET/POST /projects/:id/merge_requests/:iid/notes`.

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, State as AxState};
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::params::Params;
use super::projects::user;
use super::routes::{ApiError, ApiResult, Ctx, Login, number, reply};
use super::state::{NoteRec, State, now};

/// Longest note GitLab accepts (1 MB of text).
const MAX_NOTE: usize = 1_000_000;

fn note(ctx: &Ctx, st: &mut State, project: u64, iid: u64, mr_id: u64, n: &NoteRec) -> Value {
    let author = st.user(&n.author);
    json!({
        "id": n.id,
        "type": null,
        "body": n.body,
        "attachment": null,
        "author": user(&ctx.urls, &author),
        "created_at": n.created_at,
        "updated_at": n.created_at,
        "system": false,
        "noteable_id": mr_id,
        "noteable_type": "MergeRequest",
        "project_id": project,
        "noteable_iid": iid,
        "resolvable": false,
        "confidential": false,
        "internal": false,
        "imported": false,
        "imported_from": "none",
    })
}

pub(crate) async fn list(
    AxState(ctx): AxState<Arc<Ctx>>,
    Path((id, iid)): Path<(String, String)>,
    params: Params,
) -> ApiResult {
    let iid = number(&iid)?;
    let mut st = ctx.lock();
    let pid = st.project_key(&id)?;
    let mr = st.mr(pid, iid)?.clone();
    let mut notes = mr.notes.clone();
    // GitLab lists newest first unless asked otherwise.
    if params.str("sort")?.as_deref() != Some("asc") {
        notes.reverse();
    }
    let out: Vec<Value> = notes
        .iter()
        .map(|n| note(&ctx, &mut st, pid, iid, mr.id, n))
        .collect();
    Ok(reply(StatusCode::OK, Value::Array(out)))
}

pub(crate) async fn create(
    AxState(ctx): AxState<Arc<Ctx>>,
    Extension(Login(login)): Extension<Login>,
    Path((id, iid)): Path<(String, String)>,
    params: Params,
) -> ApiResult {
    let iid = number(&iid)?;
    let body = params.required("body")?;
    if body.len() > MAX_NOTE {
        return Err(ApiError::with_body(
            StatusCode::BAD_REQUEST,
            json!({"message": {"note": ["is too long (maximum is 1000000 characters)"]}}),
        ));
    }
    let mut st = ctx.lock();
    let pid = st.project_key(&id)?;
    st.mr(pid, iid)?;
    let rec = NoteRec {
        id: st.id(),
        author: login,
        body,
        created_at: now(),
    };
    let mr = st.mr_mut(pid, iid)?;
    mr.notes.push(rec.clone());
    let mr_id = mr.id;
    let out = note(&ctx, &mut st, pid, iid, mr_id, &rec);
    let _sending = super::events::emit_note(&ctx, &mut st, pid, iid, &rec);
    Ok(reply(StatusCode::CREATED, out))
}
