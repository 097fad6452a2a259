//! Merge requests: create, list (by `source_branch`, as suture looks for its existing MR), get,
//! edit (title, description, labels, `state_event`), merge (a real Git merge), and the
//! `Merge Request Hook` payloads they send.

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, State as AxState};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value, json};
use tokio::task::JoinHandle;

use super::labels::hook_label;
use super::params::Params;
use super::projects::{hook_project, hook_repository, hook_user, user, user_opt, web_url};
use super::routes::{ApiError, ApiResult, Ctx, Login, number, reply};
use super::state::{MrRec, MrState, State, hook_time, now};
use super::webhook::{self, MERGE_REQUEST_HOOK};
use crate::git::{GitSimError, MergeMethod, MergeOutcome};

fn duplicate(iid: u64) -> ApiError {
    ApiError::messages(
        StatusCode::CONFLICT,
        vec![format!(
            "Another open merge request already exists for this source branch: !{iid}"
        )],
    )
}

/// Follow the source branch of an open merge request, as GitLab does on every push.
fn refresh(ctx: &Ctx, path: &str, mr: &mut MrRec) {
    if mr.state == MrState::Opened
        && let Ok(Some(sha)) = ctx.store.branch_sha(path, &mr.source_branch)
    {
        mr.sha = sha;
    }
}

/// (merge_status, detailed_merge_status, has_conflicts) as GitLab computes them.
fn mergeability(ctx: &Ctx, path: &str, mr: &MrRec) -> (&'static str, &'static str, bool) {
    if mr.state != MrState::Opened {
        let s = if mr.state == MrState::Merged {
            "can_be_merged"
        } else {
            "unchecked"
        };
        return (s, "not_open", false);
    }
    let Ok(Some(_)) = ctx.store.branch_sha(path, &mr.source_branch) else {
        return ("cannot_be_merged", "broken_status", false);
    };
    match ctx.store.can_merge(path, &mr.target_branch, &mr.sha) {
        Ok(true) if mr.draft() => ("can_be_merged", "draft_status", false),
        Ok(true) => ("can_be_merged", "mergeable", false),
        Ok(false) => ("cannot_be_merged", "conflict", true),
        Err(_) => ("cannot_be_merged", "broken_status", false),
    }
}

/// Catch up with the branches, then render merge request `iid` as the REST API does.
pub(crate) fn render(ctx: &Ctx, st: &mut State, pid: u64, iid: u64) -> Result<Value, ApiError> {
    let path = st.project(pid)?.path.clone();
    let mr = st.mr_mut(pid, iid)?;
    refresh(ctx, &path, mr);
    let mr = mr.clone();
    let (merge_status, detailed, conflicts) = mergeability(ctx, &path, &mr);
    let urls = &ctx.urls;
    let author = user(urls, &st.user(&mr.author));
    let merged_by = user_opt(urls, st, mr.merged_by.as_deref());
    let closed_by = user_opt(urls, st, mr.closed_by.as_deref());
    let web = format!(
        "{}/-/merge_requests/{}",
        web_url(urls, st.project(pid)?),
        mr.iid
    );
    let mut out = json!({
        "id": mr.id,
        "iid": mr.iid,
        "project_id": pid,
        "title": mr.title,
        "description": mr.description,
        "state": mr.state.as_str(),
        "created_at": mr.created_at,
        "updated_at": mr.updated_at,
        "merged_by": merged_by,
        "merge_user": merged_by,
        "merged_at": mr.merged_at,
        "closed_by": closed_by,
        "closed_at": mr.closed_at,
    });
    let more = json!({
        "target_branch": mr.target_branch,
        "source_branch": mr.source_branch,
        "user_notes_count": mr.notes.len(),
        "upvotes": 0,
        "downvotes": 0,
        "author": author,
        "assignees": [],
        "assignee": null,
        "reviewers": [],
        "source_project_id": pid,
        "target_project_id": pid,
        "labels": mr.labels,
        "draft": mr.draft(),
        "work_in_progress": mr.draft(),
        "milestone": null,
        "merge_when_pipeline_succeeds": false,
        "merge_status": merge_status,
        "detailed_merge_status": detailed,
        "has_conflicts": conflicts,
        "blocking_discussions_resolved": true,
        "sha": mr.sha,
        "merge_commit_sha": mr.merge_commit_sha,
        "squash_commit_sha": null,
        "discussion_locked": null,
        "should_remove_source_branch": mr.remove_source_branch,
        "force_remove_source_branch": mr.remove_source_branch,
        "prepared_at": mr.created_at,
        "reference": format!("!{}", mr.iid),
        "references": {
            "short": format!("!{}", mr.iid),
            "relative": format!("!{}", mr.iid),
            "full": format!("{}!{}", st.project(pid)?.path, mr.iid),
        },
        "web_url": web,
        "time_stats": {"time_estimate": 0, "total_time_spent": 0, "human_time_estimate": null, "human_total_time_spent": null},
        "squash": mr.squash,
        "squash_on_merge": mr.squash,
        "task_completion_status": {"count": 0, "completed_count": 0},
        "has_ci": false,
        "imported": false,
        "imported_from": "none",
    });
    if let (Value::Object(o), Value::Object(m)) = (&mut out, more) {
        o.extend(m);
    }
    Ok(out)
}

/// A `Merge Request Hook` payload, shaped like GitLab's (see the fixtures).
pub(crate) fn hook_payload(
    ctx: &Ctx,
    st: &mut State,
    pid: u64,
    iid: u64,
    action: &str,
    by: &str,
    changes: Value,
) -> Result<Value, ApiError> {
    let path = st.project(pid)?.path.clone();
    let mr = st.mr(pid, iid)?.clone();
    let (merge_status, detailed, _) = mergeability(ctx, &path, &mr);
    let by = st.user(by);
    let author = st.user(&mr.author);
    let p = st.project(pid)?;
    let project = hook_project(ctx, p);
    let labels: Vec<Value> = mr
        .labels
        .iter()
        .filter_map(|l| p.labels.get(l))
        .map(|l| hook_label(p, l))
        .collect();
    let web = web_url(&ctx.urls, p);
    let last_commit = match ctx.store.commit_info(&path, &mr.sha) {
        Ok(c) => json!({
            "id": c.sha,
            "message": c.message,
            "title": c.message.lines().next().unwrap_or_default(),
            "timestamp": super::commits::commit_json(ctx, p, &c.sha)["committed_date"],
            "url": format!("{web}/-/commit/{}", c.sha),
            "author": {"name": c.author_name, "email": c.author_email},
        }),
        Err(_) => Value::Null,
    };
    let attrs = json!({
        "id": mr.id,
        "iid": mr.iid,
        "target_branch": mr.target_branch,
        "source_branch": mr.source_branch,
        "source_project_id": pid,
        "author_id": author.id,
        "assignee_ids": [],
        "assignee_id": null,
        "reviewer_ids": [],
        "title": mr.title,
        "created_at": hook_time(&mr.created_at),
        "updated_at": hook_time(&mr.updated_at),
        "last_edited_at": null,
        "last_edited_by_id": null,
        "milestone_id": null,
        "state_id": mr.state.id(),
        "state": mr.state.as_str(),
        "blocking_discussions_resolved": true,
        "work_in_progress": mr.draft(),
        "draft": mr.draft(),
        "first_contribution": false,
        "merge_status": merge_status,
        "target_project_id": pid,
        "description": mr.description,
        "prepared_at": hook_time(&mr.created_at),
        "total_time_spent": 0,
        "time_change": 0,
        "human_total_time_spent": null,
        "human_time_change": null,
        "human_time_estimate": null,
        "url": format!("{web}/-/merge_requests/{}", mr.iid),
        "source": project,
        "target": project,
        "last_commit": last_commit,
        "labels": labels,
        "action": action,
        "detailed_merge_status": detailed,
        "merge_commit_sha": mr.merge_commit_sha,
    });
    Ok(json!({
        "object_kind": "merge_request",
        "event_type": "merge_request",
        "user": hook_user(&by),
        "project": project,
        "repository": hook_repository(ctx, p),
        "object_attributes": attrs,
        "labels": labels,
        "changes": changes,
        "assignees": [],
        "reviewers": [],
    }))
}

/// Send a `Merge Request Hook` for `action` by `by`.
pub(crate) fn emit(
    ctx: &Arc<Ctx>,
    st: &mut State,
    pid: u64,
    iid: u64,
    action: &str,
    by: &str,
    changes: Value,
) -> Vec<JoinHandle<()>> {
    match hook_payload(ctx, st, pid, iid, action, by, changes) {
        Ok(p) => webhook::emit(ctx, st, pid, MERGE_REQUEST_HOOK, None, &p),
        Err(_) => Vec::new(),
    }
}

fn change(previous: impl Into<Value>, current: impl Into<Value>) -> Value {
    json!({"previous": previous.into(), "current": current.into()})
}

fn label_objects(st: &State, pid: u64, titles: &[String]) -> Value {
    let Ok(p) = st.project(pid) else {
        return json!([]);
    };
    titles
        .iter()
        .filter_map(|t| p.labels.get(t))
        .map(|l| hook_label(p, l))
        .collect()
}

pub(crate) async fn list(
    AxState(ctx): AxState<Arc<Ctx>>,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult {
    let mut st = ctx.lock();
    let pid = st.project_key(&id)?;
    let state = params.str("state")?.unwrap_or_else(|| "all".to_owned());
    let want: Option<MrState> = match state.as_str() {
        "all" => None,
        "opened" => Some(MrState::Opened),
        "closed" => Some(MrState::Closed),
        "merged" => Some(MrState::Merged),
        // Nothing is ever locked here.
        "locked" => return page(&ctx, pid, Vec::new(), &params),
        _ => {
            return Err(ApiError::error(
                StatusCode::BAD_REQUEST,
                "state does not have a valid value",
            ));
        }
    };
    let source = params.str("source_branch")?;
    let target = params.str("target_branch")?;
    let author = params.str("author_username")?;
    let labels = params.list("labels")?.unwrap_or_default();
    let iids: Option<Vec<u64>> = params
        .list("iids")?
        .map(|v| {
            v.iter()
                .map(|s| s.parse().map_err(|_| ApiError::invalid("iids")))
                .collect()
        })
        .transpose()?;
    let path = st.project(pid)?.path.clone();
    let mut found: Vec<u64> = Vec::new();
    for mr in st.project_mut(pid)?.mrs.values_mut() {
        refresh(&ctx, &path, mr);
        let ok = want.is_none_or(|w| mr.state == w)
            && source.as_ref().is_none_or(|s| *s == mr.source_branch)
            && target.as_ref().is_none_or(|t| *t == mr.target_branch)
            && author.as_ref().is_none_or(|a| *a == mr.author)
            && labels.iter().all(|l| mr.labels.contains(l))
            && iids.as_ref().is_none_or(|i| i.contains(&mr.iid));
        if ok {
            found.push(mr.iid);
        }
    }
    // Newest first, GitLab's default `order_by=created_at&sort=desc`.
    if params.str("sort")?.as_deref() != Some("asc") {
        found.reverse();
    }
    let mut out = Vec::new();
    for iid in found {
        out.push(render(&ctx, &mut st, pid, iid)?);
    }
    page(&ctx, pid, out, &params)
}

/// Offset pagination with GitLab's `X-*` headers and `Link`.
fn page(ctx: &Ctx, pid: u64, items: Vec<Value>, params: &Params) -> ApiResult {
    let per_page = params.u64("per_page")?.unwrap_or(20).clamp(1, 100);
    let page = params.u64("page")?.unwrap_or(1).max(1);
    let total = items.len() as u64;
    let pages = total.div_ceil(per_page).max(1);
    let skip = usize::try_from((page - 1).saturating_mul(per_page)).unwrap_or(usize::MAX);
    let out: Vec<Value> = items
        .into_iter()
        .skip(skip)
        .take(per_page as usize)
        .collect();
    let mut resp: Response = reply(StatusCode::OK, Value::Array(out));
    let mut query: Vec<(String, String)> = params
        .0
        .iter()
        .filter(|(k, _)| k.as_str() != "page")
        .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned())))
        .collect();
    query.sort();
    let url = |p: u64| {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &query {
            s.append_pair(k, v);
        }
        s.append_pair("page", &p.to_string());
        format!(
            "<{}/api/v4/projects/{pid}/merge_requests?{}>",
            ctx.urls.api,
            s.finish()
        )
    };
    let mut links = Vec::new();
    if page < pages {
        links.push(format!("{}; rel=\"next\"", url(page + 1)));
    }
    if page > 1 {
        links.push(format!("{}; rel=\"prev\"", url(page - 1)));
    }
    links.push(format!("{}; rel=\"first\"", url(1)));
    links.push(format!("{}; rel=\"last\"", url(pages)));
    let next = if page < pages {
        (page + 1).to_string()
    } else {
        String::new()
    };
    let prev = if page > 1 {
        (page - 1).to_string()
    } else {
        String::new()
    };
    let headers = [
        ("x-page", page.to_string()),
        ("x-per-page", per_page.to_string()),
        ("x-total", total.to_string()),
        ("x-total-pages", pages.to_string()),
        ("x-next-page", next),
        ("x-prev-page", prev),
        ("link", links.join(", ")),
    ];
    for (name, value) in headers {
        if let Ok(v) = HeaderValue::from_str(&value) {
            resp.headers_mut().insert(HeaderName::from_static(name), v);
        }
    }
    Ok(resp)
}

pub(crate) async fn create(
    AxState(ctx): AxState<Arc<Ctx>>,
    Extension(Login(login)): Extension<Login>,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult {
    let source = params.str("source_branch")?.filter(|s| !s.is_empty());
    let target = params.str("target_branch")?.filter(|s| !s.is_empty());
    let title = params.str("title")?.filter(|s| !s.trim().is_empty());
    let (Some(source), Some(target), Some(title)) = (source.clone(), target.clone(), title.clone())
    else {
        let missing: Vec<&str> = [
            ("source_branch", source.is_none()),
            ("target_branch", target.is_none()),
            ("title", title.is_none()),
        ]
        .iter()
        .filter(|(_, m)| *m)
        .map(|(k, _)| *k)
        .collect();
        return Err(ApiError::missing(&missing));
    };
    let description = params.str("description")?.unwrap_or_default();
    let labels = params.list("labels")?.unwrap_or_default();
    let remove_source_branch = params.bool("remove_source_branch")?.unwrap_or(false);
    let squash = params.bool("squash")?.unwrap_or(false);
    if let Some(t) = params.u64("target_project_id")? {
        let st = ctx.lock();
        if st.project_key(&id)? != t {
            return Err(ApiError::bad_request(
                "Forks are not supported by the simulator",
            ));
        }
    }

    let mut st = ctx.lock();
    let pid = st.project_key(&id)?;
    let path = st.project(pid)?.path.clone();
    let unprocessable = |m: String| ApiError::messages(StatusCode::UNPROCESSABLE_ENTITY, vec![m]);
    if source == target {
        return Err(unprocessable(
            "You can't use same project/branch for source and target".to_owned(),
        ));
    }
    let sha = ctx
        .store
        .branch_sha(&path, &source)
        .ok()
        .flatten()
        .ok_or_else(|| unprocessable(format!("Source branch \"{source}\" does not exist")))?;
    if ctx
        .store
        .branch_sha(&path, &target)
        .ok()
        .flatten()
        .is_none()
    {
        return Err(unprocessable(format!(
            "Target branch \"{target}\" does not exist"
        )));
    }
    let open = st.project(pid)?.mrs.values().find(|m| {
        m.state == MrState::Opened && m.source_branch == source && m.target_branch == target
    });
    if let Some(m) = open {
        return Err(duplicate(m.iid));
    }
    st.ensure_labels(pid, &labels)?;
    st.user(&login);
    let id = st.id();
    let ts = now();
    let p = st.project_mut(pid)?;
    p.next_iid += 1;
    let iid = p.next_iid;
    p.mrs.insert(
        iid,
        MrRec {
            id,
            iid,
            title: title.clone(),
            description: description.clone(),
            author: login.clone(),
            state: MrState::Opened,
            source_branch: source.clone(),
            target_branch: target.clone(),
            sha,
            labels: labels.clone(),
            notes: Vec::new(),
            remove_source_branch,
            squash,
            created_at: ts.clone(),
            updated_at: ts.clone(),
            closed_at: None,
            closed_by: None,
            merged_at: None,
            merged_by: None,
            merge_commit_sha: None,
        },
    );
    let author_id = st.user(&login).id;
    let mut changes = json!({
        "author_id": change(Value::Null, author_id),
        "created_at": change(Value::Null, hook_time(&ts)),
        "description": change(Value::Null, description),
        "id": change(Value::Null, id),
        "iid": change(Value::Null, iid),
        "source_branch": change(Value::Null, source),
        "source_project_id": change(Value::Null, pid),
        "target_branch": change(Value::Null, target),
        "target_project_id": change(Value::Null, pid),
        "title": change(Value::Null, title),
        "updated_at": change(Value::Null, hook_time(&ts)),
        "state_id": change(Value::Null, MrState::Opened.id()),
    });
    if !labels.is_empty() {
        changes["labels"] = change(json!([]), label_objects(&st, pid, &labels));
    }
    emit(&ctx, &mut st, pid, iid, "open", &login, changes);
    Ok(reply(StatusCode::CREATED, render(&ctx, &mut st, pid, iid)?))
}

pub(crate) async fn get(
    AxState(ctx): AxState<Arc<Ctx>>,
    Path((id, iid)): Path<(String, String)>,
) -> ApiResult {
    let iid = number(&iid)?;
    let mut st = ctx.lock();
    let pid = st.project_key(&id)?;
    Ok(reply(StatusCode::OK, render(&ctx, &mut st, pid, iid)?))
}

const EDIT_KEYS: [&str; 10] = [
    "title",
    "description",
    "labels",
    "add_labels",
    "remove_labels",
    "state_event",
    "target_branch",
    "remove_source_branch",
    "squash",
    "assignee_id",
];

pub(crate) async fn edit(
    AxState(ctx): AxState<Arc<Ctx>>,
    Extension(Login(login)): Extension<Login>,
    Path((id, iid)): Path<(String, String)>,
    params: Params,
) -> ApiResult {
    let iid = number(&iid)?;
    if !EDIT_KEYS.iter().any(|k| params.get(k).is_some()) {
        return Err(ApiError::error(
            StatusCode::BAD_REQUEST,
            format!(
                "{} are missing, at least one parameter must be provided",
                EDIT_KEYS.join(", ")
            ),
        ));
    }
    let state_event = params.str("state_event")?;
    if state_event
        .as_deref()
        .is_some_and(|s| s != "close" && s != "reopen")
    {
        return Err(ApiError::error(
            StatusCode::BAD_REQUEST,
            "state_event does not have a valid value",
        ));
    }
    let mut st = ctx.lock();
    let pid = st.project_key(&id)?;
    let path = st.project(pid)?.path.clone();
    let before = st.mr(pid, iid)?.clone();
    if let Some(t) = params.str("target_branch")?
        && ctx.store.branch_sha(&path, &t).ok().flatten().is_none()
    {
        return Err(ApiError::messages(
            StatusCode::UNPROCESSABLE_ENTITY,
            vec![format!("Target branch \"{t}\" does not exist")],
        ));
    }
    if state_event.as_deref() == Some("reopen") && before.state == MrState::Closed {
        let other = st.project(pid)?.mrs.values().find(|m| {
            m.iid != iid
                && m.state == MrState::Opened
                && m.source_branch == before.source_branch
                && m.target_branch == before.target_branch
        });
        if let Some(m) = other {
            return Err(duplicate(m.iid));
        }
    }
    let mut labels = before.labels.clone();
    if let Some(l) = params.list("labels")? {
        labels = l;
    }
    for l in params.list("add_labels")?.unwrap_or_default() {
        if !labels.contains(&l) {
            labels.push(l);
        }
    }
    let remove = params.list("remove_labels")?.unwrap_or_default();
    labels.retain(|l| !remove.contains(l));
    st.ensure_labels(pid, &labels)?;

    let ts = now();
    let mr = st.mr_mut(pid, iid)?;
    if let Some(t) = params.str("title")?.filter(|t| !t.trim().is_empty()) {
        mr.title = t;
    }
    if let Some(d) = params.str("description")? {
        mr.description = d;
    }
    if let Some(t) = params.str("target_branch")? {
        mr.target_branch = t;
    }
    if let Some(r) = params.bool("remove_source_branch")? {
        mr.remove_source_branch = r;
    }
    if let Some(s) = params.bool("squash")? {
        mr.squash = s;
    }
    mr.labels = labels;
    let action = match (state_event.as_deref(), mr.state) {
        (Some("close"), MrState::Opened) => {
            mr.state = MrState::Closed;
            mr.closed_at = Some(ts.clone());
            mr.closed_by = Some(login.clone());
            "close"
        }
        (Some("reopen"), MrState::Closed) => {
            mr.state = MrState::Opened;
            mr.closed_at = None;
            mr.closed_by = None;
            refresh(&ctx, &path, mr);
            "reopen"
        }
        _ => "update",
    };
    let after = mr.clone();
    let mut changes = Map::new();
    if before.title != after.title {
        changes.insert(
            "title".into(),
            change(before.title.clone(), after.title.clone()),
        );
    }
    if before.description != after.description {
        changes.insert(
            "description".into(),
            change(before.description.clone(), after.description.clone()),
        );
    }
    if before.state != after.state {
        changes.insert(
            "state_id".into(),
            change(before.state.id(), after.state.id()),
        );
    }
    if before.target_branch != after.target_branch {
        changes.insert(
            "target_branch".into(),
            change(before.target_branch.clone(), after.target_branch.clone()),
        );
    }
    if before.labels != after.labels {
        changes.insert(
            "labels".into(),
            change(
                label_objects(&st, pid, &before.labels),
                label_objects(&st, pid, &after.labels),
            ),
        );
    }
    if !changes.is_empty() {
        let mr = st.mr_mut(pid, iid)?;
        mr.updated_at = ts.clone();
        changes.insert(
            "updated_at".into(),
            change(hook_time(&before.updated_at), hook_time(&ts)),
        );
        emit(
            &ctx,
            &mut st,
            pid,
            iid,
            action,
            &login,
            Value::Object(changes),
        );
    }
    Ok(reply(StatusCode::OK, render(&ctx, &mut st, pid, iid)?))
}

/// What a merge was asked for.
#[derive(Debug, Clone, Default)]
pub(crate) struct MergeOptions {
    pub sha: Option<String>,
    pub message: Option<String>,
    pub squash: Option<bool>,
    pub remove_source_branch: Option<bool>,
}

/// Merge `iid` as `login`: the real Git merge, the state change and the webhook.
pub(crate) fn merge_mr(
    ctx: &Arc<Ctx>,
    st: &mut State,
    pid: u64,
    iid: u64,
    login: &str,
    opts: &MergeOptions,
) -> Result<(String, Vec<JoinHandle<()>>), ApiError> {
    let path = st.project(pid)?.path.clone();
    let mr = st.mr_mut(pid, iid)?;
    refresh(ctx, &path, mr);
    let mr = mr.clone();
    let not_allowed =
        || ApiError::message(StatusCode::METHOD_NOT_ALLOWED, "405 Method Not Allowed");
    let cannot = || ApiError::message(StatusCode::NOT_ACCEPTABLE, "Branch cannot be merged");
    if mr.state != MrState::Opened || mr.draft() {
        return Err(not_allowed());
    }
    if ctx
        .store
        .branch_sha(&path, &mr.source_branch)
        .ok()
        .flatten()
        .is_none()
    {
        return Err(not_allowed());
    }
    if opts.sha.as_ref().is_some_and(|s| *s != mr.sha) {
        return Err(ApiError::message(
            StatusCode::CONFLICT,
            format!("SHA does not match HEAD of source branch: {}", mr.sha),
        ));
    }
    let squash = opts.squash.unwrap_or(mr.squash);
    let message = opts.message.clone().unwrap_or_else(|| {
        format!(
            "Merge branch '{}' into '{}'\n\n{}\n\nSee merge request {path}!{iid}",
            mr.source_branch, mr.target_branch, mr.title
        )
    });
    let method = if squash {
        MergeMethod::Squash
    } else {
        MergeMethod::Merge
    };
    let before = ctx
        .store
        .branch_sha(&path, &mr.target_branch)
        .ok()
        .flatten();
    let sha = match ctx
        .store
        .merge(&path, &mr.target_branch, &mr.sha, method, &message, login)
    {
        Ok(MergeOutcome::Merged { sha }) => sha,
        Ok(MergeOutcome::Conflict { .. }) => return Err(cannot()),
        Err(GitSimError::RefMoved(_)) => {
            return Err(ApiError::message(
                StatusCode::CONFLICT,
                "The target branch was updated while merging; try again",
            ));
        }
        Err(GitSimError::RefNotFound(_) | GitSimError::ObjectNotFound(_)) => return Err(cannot()),
        Err(e) => {
            tracing::warn!(error = %e, "simulated merge failed");
            return Err(ApiError::server_error());
        }
    };
    if opts.remove_source_branch.unwrap_or(mr.remove_source_branch) {
        let _ = ctx
            .store
            .delete_ref(&path, &format!("refs/heads/{}", mr.source_branch));
    }
    st.user(login);
    let ts = now();
    let m = st.mr_mut(pid, iid)?;
    m.state = MrState::Merged;
    m.merged_at = Some(ts.clone());
    m.merged_by = Some(login.to_owned());
    m.merge_commit_sha = Some(sha.clone());
    m.updated_at = ts.clone();
    let changes = json!({
        "state_id": change(MrState::Opened.id(), MrState::Merged.id()),
        "updated_at": change(hook_time(&mr.updated_at), hook_time(&ts)),
    });
    let mut sends = emit(ctx, st, pid, iid, "merge", login, changes);
    sends.extend(super::events::emit_push(
        ctx,
        st,
        pid,
        &mr.target_branch,
        before.as_deref(),
        &sha,
        login,
    ));
    Ok((sha, sends))
}

pub(crate) async fn merge(
    AxState(ctx): AxState<Arc<Ctx>>,
    Extension(Login(login)): Extension<Login>,
    Path((id, iid)): Path<(String, String)>,
    params: Params,
) -> ApiResult {
    let iid = number(&iid)?;
    let squash = params.bool("squash")?;
    let opts = MergeOptions {
        sha: params.str("sha")?,
        message: if squash == Some(true) {
            params.str("squash_commit_message")?
        } else {
            params.str("merge_commit_message")?
        },
        squash,
        remove_source_branch: params.bool("should_remove_source_branch")?,
    };
    let mut st = ctx.lock();
    let pid = st.project_key(&id)?;
    let (_sha, _sending) = merge_mr(&ctx, &mut st, pid, iid, &login, &opts)?;
    Ok(reply(StatusCode::OK, render(&ctx, &mut st, pid, iid)?))
}

/// Close `iid` without merging and send the webhook (a helper for scenarios).
pub(crate) fn close_mr(
    ctx: &Arc<Ctx>,
    st: &mut State,
    pid: u64,
    iid: u64,
    login: &str,
) -> Result<Vec<JoinHandle<()>>, ApiError> {
    let mr = st.mr_mut(pid, iid)?;
    if mr.state != MrState::Opened {
        return Ok(Vec::new());
    }
    let ts = now();
    let before = mr.updated_at.clone();
    mr.state = MrState::Closed;
    mr.closed_at = Some(ts.clone());
    mr.closed_by = Some(login.to_owned());
    mr.updated_at = ts.clone();
    let changes = json!({
        "state_id": change(MrState::Opened.id(), MrState::Closed.id()),
        "updated_at": change(hook_time(&before), hook_time(&ts)),
    });
    Ok(emit(ctx, st, pid, iid, "close", login, changes))
}
