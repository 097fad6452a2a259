//! Pull requests: create, list (by head, as suture looks for an existing PR), get, update, merge.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State as AxState};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use super::render::{self, PullLive};
use super::routes::{
    ApiError, ApiResult, Ctx, Login, default_branch, full_name, json_body, number, opt_bool,
    opt_str, reply,
};
use super::state::{Item, PrRec, State, now};
use super::webhook;
use crate::git::{GitSimError, MergeMethod, MergeOutcome};

const NOT_MERGEABLE: &str = "Pull Request is not mergeable";

/// Follow the branches of an open pull request, as GitHub does on every push.
fn refresh(ctx: &Ctx, full: &str, item: &mut Item) {
    let Some(pr) = item.pr.as_mut() else { return };
    if !item.open {
        return;
    }
    if let Ok(Some(sha)) = ctx.store.branch_sha(full, &pr.head_ref) {
        pr.head_sha = sha;
    }
    if let Ok(Some(sha)) = ctx.store.branch_sha(full, &pr.base_ref) {
        pr.base_sha = sha;
    }
}

fn live(ctx: &Ctx, full: &str, item: &Item) -> PullLive {
    let Some(pr) = &item.pr else {
        return PullLive::default();
    };
    let s = &ctx.store;
    let mergeable = if item.open {
        s.can_merge(full, &pr.base_sha, &pr.head_sha).ok()
    } else {
        None
    };
    let commits = s
        .commits_between(full, &pr.base_sha, &pr.head_sha)
        .map(|c| c.len() as u64)
        .unwrap_or(0);
    let (additions, deletions, changed_files) = s
        .diff_stats(full, &pr.base_sha, &pr.head_sha)
        .unwrap_or_default();
    PullLive {
        mergeable,
        commits,
        additions,
        deletions,
        changed_files,
    }
}

/// The pull request as GitHub renders it, after catching up with its branches.
pub(crate) fn render_pull(
    ctx: &Ctx,
    st: &mut State,
    full: &str,
    n: u64,
) -> Result<Value, ApiError> {
    st.pull(full, n)?;
    let item = st.item_mut(full, n)?;
    refresh(ctx, full, item);
    let st = &*st;
    let repo = st.repo(full)?;
    let item = st.pull(full, n)?;
    let live = live(ctx, full, item);
    Ok(render::pull(
        &ctx.urls,
        st,
        repo,
        &default_branch(ctx, full),
        item,
        &live,
    ))
}

/// A `pull_request` webhook payload.
pub(crate) fn payload(
    ctx: &Ctx,
    st: &mut State,
    full: &str,
    n: u64,
    action: &str,
    sender: &str,
) -> Result<Value, ApiError> {
    let pr = render_pull(ctx, st, full, n)?;
    st.user_id(sender);
    let repo = st.repo(full)?;
    Ok(json!({
        "action": action,
        "number": n,
        "pull_request": pr,
        "repository": render::repo(&ctx.urls, st, repo, &default_branch(ctx, full)),
        "sender": render::user(&ctx.urls, st, sender),
        "installation": {"id": 1, "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uMQ=="},
    }))
}

pub(crate) fn emit(
    ctx: &Arc<Ctx>,
    st: &mut State,
    full: &str,
    n: u64,
    action: &str,
    sender: &str,
) -> Vec<JoinHandle<()>> {
    match payload(ctx, st, full, n, action, sender) {
        Ok(p) => webhook::emit(ctx, st, full, "pull_request", &p),
        Err(_) => Vec::new(),
    }
}

type NumPath = Path<(String, String, String)>;

pub(crate) async fn list(
    AxState(ctx): AxState<Arc<Ctx>>,
    Path((owner, repo)): Path<(String, String)>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> ApiResult {
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let full = full_name(&owner, &repo);
    let mut st = ctx.lock();
    st.repo(&full)?;
    let state = q.get("state").map(String::as_str).unwrap_or("open");
    if !matches!(state, "open" | "closed" | "all") {
        return Err(ApiError::field("PullRequest", "invalid", "state"));
    }
    // `head` must be `owner:branch`: GitHub silently ignores a bare branch name and lists
    // every PR, a pitfall worth reproducing. A head in another owner's fork never matches.
    let head = q
        .get("head")
        .and_then(|h| h.split_once(':'))
        .map(|(o, b)| (o.to_owned(), b.to_owned()));
    let base = q.get("base");
    let per_page = q
        .get("per_page")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(30)
        .clamp(1, 100);
    let page = q
        .get("page")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let ascending = q.get("direction").map(String::as_str) == Some("asc");

    let mut numbers: Vec<u64> = st
        .repo(&full)?
        .items
        .values()
        .filter(|i| {
            let Some(pr) = &i.pr else { return false };
            let state_ok = match state {
                "open" => i.open,
                "closed" => !i.open,
                _ => true,
            };
            let head_ok = head
                .as_ref()
                .is_none_or(|(o, b)| *o == owner && *b == pr.head_ref);
            let base_ok = base.is_none_or(|b| *b == pr.base_ref);
            state_ok && head_ok && base_ok
        })
        .map(|i| i.number)
        .collect();
    if !ascending {
        numbers.reverse();
    }
    let total = numbers.len();
    let pages = total.div_ceil(per_page).max(1);
    let mut out = Vec::new();
    for n in numbers
        .into_iter()
        .skip((page - 1).saturating_mul(per_page))
        .take(per_page)
    {
        out.push(render_pull(&ctx, &mut st, &full, n)?);
    }
    let mut resp = reply(StatusCode::OK, Value::Array(out));
    if let Some(link) = link_header(&ctx, &full, &q, page, pages)
        && let Ok(v) = HeaderValue::from_str(&link)
    {
        resp.headers_mut().insert(header::LINK, v);
    }
    Ok(resp)
}

/// RFC 8288 `Link` with `next`/`last`/`prev`/`first`, as GitHub paginates.
fn link_header(
    ctx: &Ctx,
    full: &str,
    q: &HashMap<String, String>,
    page: usize,
    pages: usize,
) -> Option<String> {
    if pages <= 1 {
        return None;
    }
    let mut params: Vec<(String, String)> = q
        .iter()
        .filter(|(k, _)| k.as_str() != "page")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    params.sort();
    let url = |p: usize| {
        let mut query: Vec<String> = params
            .iter()
            .map(|(k, v)| format!("{}={}", render::encode_path(k), render::encode_path(v)))
            .collect();
        query.push(format!("page={p}"));
        format!("<{}/repos/{full}/pulls?{}>", ctx.urls.api, query.join("&"))
    };
    let mut links = Vec::new();
    if page < pages {
        links.push(format!("{}; rel=\"next\"", url(page + 1)));
        links.push(format!("{}; rel=\"last\"", url(pages)));
    }
    if page > 1 {
        links.push(format!("{}; rel=\"prev\"", url(page - 1)));
        links.push(format!("{}; rel=\"first\"", url(1)));
    }
    Some(links.join(", "))
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
    if v.get("issue").is_some() {
        return Err(ApiError::invalid(
            "Converting an issue is not supported by the simulator",
        ));
    }
    let title = opt_str(&v, "title")?.filter(|t| !t.trim().is_empty());
    let head = opt_str(&v, "head")?;
    let base = opt_str(&v, "base")?;
    let text = opt_str(&v, "body")?.map(str::to_owned);
    let draft = opt_bool(&v, "draft")?.unwrap_or(false);
    let maintainer_can_modify = opt_bool(&v, "maintainer_can_modify")?.unwrap_or(true);
    let head = head.ok_or_else(|| ApiError::field("PullRequest", "missing_field", "head"))?;
    let base = base.ok_or_else(|| ApiError::field("PullRequest", "missing_field", "base"))?;
    let title = title.ok_or_else(|| ApiError::field("PullRequest", "missing_field", "title"))?;
    let (head_owner, head_ref) = head.split_once(':').unwrap_or((owner.as_str(), head));
    let invalid = |field: &str| ApiError::field("PullRequest", "invalid", field);
    if head_owner != owner {
        return Err(invalid("head"));
    }
    let head_sha = ctx
        .store
        .branch_sha(&full, head_ref)
        .ok()
        .flatten()
        .ok_or_else(|| invalid("head"))?;
    let base_sha = ctx
        .store
        .branch_sha(&full, base)
        .ok()
        .flatten()
        .ok_or_else(|| invalid("base"))?;
    let exists = st.repo(&full)?.items.values().any(|i| {
        i.open
            && i.pr
                .as_ref()
                .is_some_and(|p| p.head_ref == head_ref && p.base_ref == base)
    });
    if exists {
        return Err(ApiError::custom(
            "PullRequest",
            "head",
            format!("A pull request already exists for {owner}:{head_ref}."),
        ));
    }
    if ctx
        .store
        .is_ancestor(&full, &head_sha, &base_sha)
        .unwrap_or(false)
    {
        return Err(ApiError::custom(
            "PullRequest",
            "base",
            format!("No commits between {base} and {head_ref}"),
        ));
    }

    st.user_id(&login);
    let (issue_id, pr_id) = (st.id(), st.id());
    let ts = now();
    let r = st.repo_mut(&full)?;
    r.next_number += 1;
    let n = r.next_number;
    r.items.insert(
        n,
        Item {
            number: n,
            id: issue_id,
            title: title.to_owned(),
            body: text,
            user: login.clone(),
            open: true,
            created_at: ts.clone(),
            updated_at: ts,
            closed_at: None,
            labels: Vec::new(),
            comments: Vec::new(),
            pr: Some(PrRec {
                id: pr_id,
                head_ref: head_ref.to_owned(),
                head_sha,
                base_ref: base.to_owned(),
                base_sha,
                draft,
                maintainer_can_modify,
                merged_at: None,
                merged_by: None,
                merge_commit_sha: None,
            }),
        },
    );
    emit(&ctx, &mut st, &full, n, "opened", &login);
    let out = render_pull(&ctx, &mut st, &full, n)?;
    let location = format!("{}/repos/{full}/pulls/{n}", ctx.urls.api);
    Ok((
        [(header::LOCATION, location)],
        reply(StatusCode::CREATED, out),
    )
        .into_response())
}

pub(crate) async fn get(
    AxState(ctx): AxState<Arc<Ctx>>,
    Path((owner, repo, n)): NumPath,
) -> ApiResult {
    let full = full_name(&owner, &repo);
    let n = number(&n)?;
    let mut st = ctx.lock();
    Ok(reply(StatusCode::OK, render_pull(&ctx, &mut st, &full, n)?))
}

pub(crate) async fn update(
    AxState(ctx): AxState<Arc<Ctx>>,
    Extension(Login(login)): Extension<Login>,
    Path((owner, repo, n)): NumPath,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let full = full_name(&owner, &repo);
    let n = number(&n)?;
    let v = json_body(body)?;
    let mut st = ctx.lock();
    st.pull(&full, n)?;
    let title = opt_str(&v, "title")?.map(str::to_owned);
    let text = opt_str(&v, "body")?.map(str::to_owned);
    let state = opt_str(&v, "state")?;
    let base = opt_str(&v, "base")?;
    if let Some(b) = base
        && ctx.store.branch_sha(&full, b).ok().flatten().is_none()
    {
        return Err(ApiError::field("PullRequest", "invalid", "base"));
    }
    let action = match state {
        None => None,
        Some("closed") => Some(close(&ctx, &mut st, &full, n, &login)?),
        Some("open") => Some(reopen(&ctx, &mut st, &full, n, &login)?),
        Some(_) => return Err(ApiError::field("PullRequest", "invalid", "state")),
    };
    let item = st.item_mut(&full, n)?;
    if let Some(t) = title {
        item.title = t;
    }
    if text.is_some() {
        item.body = text;
    }
    if let (Some(b), Some(pr)) = (base, item.pr.as_mut()) {
        pr.base_ref = b.to_owned();
    }
    item.updated_at = now();
    if let Some(Some(action)) = action {
        emit(&ctx, &mut st, &full, n, action, &login);
    }
    Ok(reply(StatusCode::OK, render_pull(&ctx, &mut st, &full, n)?))
}

/// Close without merging; the webhook action to send, if the state changed.
fn close(
    ctx: &Ctx,
    st: &mut State,
    full: &str,
    n: u64,
    _login: &str,
) -> Result<Option<&'static str>, ApiError> {
    let item = st.item_mut(full, n)?;
    refresh(ctx, full, item);
    if !item.open {
        return Ok(None);
    }
    let ts = now();
    item.open = false;
    item.closed_at = Some(ts.clone());
    item.updated_at = ts;
    Ok(Some("closed"))
}

fn reopen(
    ctx: &Ctx,
    st: &mut State,
    full: &str,
    n: u64,
    _login: &str,
) -> Result<Option<&'static str>, ApiError> {
    let item = st.pull(full, n)?;
    if item.open {
        return Ok(None);
    }
    let pr = item.pr.as_ref().ok_or_else(ApiError::not_found)?;
    if pr.merged_at.is_some() {
        return Err(ApiError::custom(
            "PullRequest",
            "state",
            "state cannot be changed. The pull request cannot be reopened.",
        ));
    }
    let (head, base) = (pr.head_ref.clone(), pr.base_ref.clone());
    let duplicate = st.repo(full)?.items.values().any(|i| {
        i.open
            && i.pr
                .as_ref()
                .is_some_and(|p| p.head_ref == head && p.base_ref == base)
    });
    if duplicate {
        let owner = full.split('/').next().unwrap_or_default();
        return Err(ApiError::custom(
            "PullRequest",
            "head",
            format!("A pull request already exists for {owner}:{head}."),
        ));
    }
    if ctx.store.branch_sha(full, &head).ok().flatten().is_none() {
        return Err(ApiError::custom(
            "PullRequest",
            "state",
            "state cannot be changed. The head branch was deleted.",
        ));
    }
    let item = st.item_mut(full, n)?;
    item.open = true;
    item.closed_at = None;
    item.updated_at = now();
    refresh(ctx, full, item);
    Ok(Some("reopened"))
}

/// Close pull request `n` without merging and send the webhook (a helper for scenarios).
pub(crate) fn close_pr(
    ctx: &Arc<Ctx>,
    st: &mut State,
    full: &str,
    n: u64,
    login: &str,
) -> Result<Vec<JoinHandle<()>>, ApiError> {
    st.pull(full, n)?;
    match close(ctx, st, full, n, login)? {
        Some(action) => Ok(emit(ctx, st, full, n, action, login)),
        None => Ok(Vec::new()),
    }
}

/// What a merge was asked for.
#[derive(Debug, Clone)]
pub(crate) struct MergeRequest {
    pub method: MergeMethod,
    pub sha: Option<String>,
    pub title: Option<String>,
    pub message: Option<String>,
}

/// Merge pull request `n` as `login`: the real Git merge, the state change and the webhook.
pub(crate) fn merge_pr(
    ctx: &Arc<Ctx>,
    st: &mut State,
    full: &str,
    n: u64,
    login: &str,
    req: &MergeRequest,
) -> Result<(String, Vec<JoinHandle<()>>), ApiError> {
    st.pull(full, n)?;
    let item = st.item_mut(full, n)?;
    refresh(ctx, full, item);
    let not_mergeable = || ApiError::new(StatusCode::METHOD_NOT_ALLOWED, NOT_MERGEABLE);
    let pr = item.pr.as_ref().ok_or_else(ApiError::not_found)?;
    if !item.open || pr.draft {
        return Err(not_mergeable());
    }
    if req.sha.as_ref().is_some_and(|s| *s != pr.head_sha) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "Head branch was modified. Review and try the merge again.",
        ));
    }
    let owner = full.split('/').next().unwrap_or_default();
    let message = match req.method {
        MergeMethod::Merge => {
            let title = req
                .title
                .clone()
                .unwrap_or_else(|| format!("Merge pull request #{n} from {owner}/{}", pr.head_ref));
            let body = req.message.clone().unwrap_or_else(|| item.title.clone());
            format!("{title}\n\n{body}")
        }
        MergeMethod::Squash => {
            let title = req
                .title
                .clone()
                .unwrap_or_else(|| format!("{} (#{n})", item.title));
            match &req.message {
                Some(m) if !m.is_empty() => format!("{title}\n\n{m}"),
                _ => title,
            }
        }
        MergeMethod::Rebase => String::new(),
    };
    let outcome = ctx.store.merge(
        full,
        &pr.base_ref,
        &pr.head_sha,
        req.method,
        &message,
        login,
    );
    let sha = match outcome {
        Ok(MergeOutcome::Merged { sha }) => sha,
        Ok(MergeOutcome::Conflict { .. }) => return Err(not_mergeable()),
        Err(GitSimError::RefMoved(_)) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "Base branch was modified. Review and try the merge again.",
            ));
        }
        Err(GitSimError::RefNotFound(_) | GitSimError::ObjectNotFound(_)) => {
            return Err(not_mergeable());
        }
        Err(e) => {
            tracing::warn!(error = %e, "simulated merge failed");
            return Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Server Error",
            ));
        }
    };
    st.user_id(login);
    let item = st.item_mut(full, n)?;
    let ts = now();
    item.open = false;
    item.closed_at = Some(ts.clone());
    item.updated_at = ts.clone();
    if let Some(pr) = item.pr.as_mut() {
        pr.merged_at = Some(ts);
        pr.merged_by = Some(login.to_owned());
        pr.merge_commit_sha = Some(sha.clone());
    }
    let sends = emit(ctx, st, full, n, "closed", login);
    Ok((sha, sends))
}

pub(crate) async fn merge(
    AxState(ctx): AxState<Arc<Ctx>>,
    Extension(Login(login)): Extension<Login>,
    Path((owner, repo, n)): NumPath,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let full = full_name(&owner, &repo);
    let n = number(&n)?;
    let v = json_body(body)?;
    let method = match opt_str(&v, "merge_method")? {
        None => MergeMethod::Merge,
        Some(m) => MergeMethod::parse(m).ok_or_else(|| {
            ApiError::invalid(format!(
                "Invalid request.\n\n{m:?} is not a member of [\"merge\", \"squash\", \"rebase\"]."
            ))
        })?,
    };
    let req = MergeRequest {
        method,
        sha: opt_str(&v, "sha")?.map(str::to_owned),
        title: opt_str(&v, "commit_title")?.map(str::to_owned),
        message: opt_str(&v, "commit_message")?.map(str::to_owned),
    };
    let mut st = ctx.lock();
    let (sha, _sending) = merge_pr(&ctx, &mut st, &full, n, &login, &req)?;
    Ok(reply(
        StatusCode::OK,
        json!({"sha": sha, "merged": true, "message": "Pull Request successfully merged"}),
    ))
}

pub(crate) async fn is_merged(
    AxState(ctx): AxState<Arc<Ctx>>,
    Path((owner, repo, n)): NumPath,
) -> ApiResult {
    let full = full_name(&owner, &repo);
    let n = number(&n)?;
    let st = ctx.lock();
    let merged = st
        .pull(&full, n)?
        .pr
        .as_ref()
        .is_some_and(|p| p.merged_at.is_some());
    if merged {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::not_found())
    }
}
