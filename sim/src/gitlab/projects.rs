//! `GET /user`, `GET /projects/:id` (numeric id or URL-encoded `group/name`), and the JSON
//! shapes of users and projects shared by the other endpoints and the webhooks.

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, State as AxState};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::routes::{ApiResult, Ctx, Login, Urls, reply};
use super::state::{ProjectRec, State, UserRec};

pub(crate) async fn current_user(
    AxState(ctx): AxState<Arc<Ctx>>,
    Extension(Login(login)): Extension<Login>,
) -> Response {
    let u = ctx.lock().user(&login);
    let mut v = user(&ctx.urls, &u);
    v["email"] = json!(email(&u));
    v["is_admin"] = json!(u.username == "root");
    v["bot"] = json!(false);
    reply(StatusCode::OK, v)
}

pub(crate) async fn get(AxState(ctx): AxState<Arc<Ctx>>, Path(id): Path<String>) -> ApiResult {
    let st = ctx.lock();
    let p = st.project(st.project_key(&id)?)?;
    Ok(reply(StatusCode::OK, project(&ctx, p)))
}

pub(crate) fn email(u: &UserRec) -> String {
    format!("{}@example.com", u.username)
}

/// GitLab's default avatar for a user who uploaded none: Gravatar's identicon for the email
/// (GitLab hashes it with SHA-256).
pub(crate) fn avatar_url(u: &UserRec) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(email(u).to_lowercase().as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("https://www.gravatar.com/avatar/{hex}?s=80&d=identicon")
}

/// A user as the REST API embeds it (`author`, `merged_by`, ...).
pub(crate) fn user(urls: &Urls, u: &UserRec) -> Value {
    json!({
        "id": u.id,
        "username": u.username,
        "name": u.name,
        "state": "active",
        "locked": false,
        "avatar_url": avatar_url(u),
        "web_url": format!("{}/{}", urls.web, u.username),
    })
}

/// A user by name, or `null`.
pub(crate) fn user_opt(urls: &Urls, st: &mut State, username: Option<&str>) -> Value {
    username.map_or(Value::Null, |n| user(urls, &st.user(n)))
}

pub(crate) fn web_url(urls: &Urls, p: &ProjectRec) -> String {
    format!("{}/{}", urls.web, p.path)
}

pub(crate) fn http_url(urls: &Urls, p: &ProjectRec) -> String {
    format!("{}/{}.git", urls.web, p.path)
}

pub(crate) fn default_branch(ctx: &Ctx, p: &ProjectRec) -> String {
    ctx.store
        .default_branch(&p.path)
        .unwrap_or_else(|_| "main".to_owned())
}

fn host(urls: &Urls) -> &str {
    urls.web.split("://").nth(1).unwrap_or(&urls.web)
}

/// `GET /projects/:id`.
pub(crate) fn project(ctx: &Ctx, p: &ProjectRec) -> Value {
    let urls = &ctx.urls;
    let web = web_url(urls, p);
    let empty = ctx.store.branches(&p.path).map_or(true, |b| b.is_empty());
    json!({
        "id": p.id,
        "description": null,
        "name": p.name(),
        "name_with_namespace": format!("{} / {}", p.namespace(), p.name()),
        "path": p.name(),
        "path_with_namespace": p.path,
        "created_at": p.created_at,
        "last_activity_at": p.created_at,
        "default_branch": default_branch(ctx, p),
        "tag_list": [],
        "topics": [],
        "ssh_url_to_repo": format!("git@{}:{}.git", host(urls), p.path),
        "http_url_to_repo": http_url(urls, p),
        "web_url": web,
        "readme_url": null,
        "avatar_url": null,
        "forks_count": 0,
        "star_count": 0,
        "empty_repo": empty,
        "archived": false,
        "visibility": "private",
        "namespace": {
            "id": p.id,
            "name": p.namespace(),
            "path": p.namespace(),
            "kind": "group",
            "full_path": p.namespace(),
            "parent_id": null,
            "avatar_url": null,
            "web_url": format!("{}/groups/{}", urls.web, p.namespace()),
        },
        "_links": {
            "self": format!("{}/api/v4/projects/{}", urls.api, p.id),
            "merge_requests": format!("{}/api/v4/projects/{}/merge_requests", urls.api, p.id),
            "repo_branches": format!("{}/api/v4/projects/{}/repository/branches", urls.api, p.id),
            "labels": format!("{}/api/v4/projects/{}/labels", urls.api, p.id),
        },
        "merge_requests_enabled": true,
        "merge_method": "merge",
        "squash_option": "default_off",
        "remove_source_branch_after_merge": true,
        "only_allow_merge_if_pipeline_succeeds": false,
        "only_allow_merge_if_all_discussions_are_resolved": false,
        "permissions": {"project_access": {"access_level": 40, "notification_level": 3}, "group_access": null},
    })
}

/// A project as webhooks embed it (`project`, `source`, `target`).
pub(crate) fn hook_project(ctx: &Ctx, p: &ProjectRec) -> Value {
    let urls = &ctx.urls;
    let web = web_url(urls, p);
    let ssh = format!("git@{}:{}.git", host(urls), p.path);
    let http = http_url(urls, p);
    json!({
        "id": p.id,
        "name": p.name(),
        "description": "",
        "web_url": web,
        "avatar_url": null,
        "git_ssh_url": ssh,
        "git_http_url": http,
        "namespace": p.namespace(),
        "visibility_level": 0,
        "path_with_namespace": p.path,
        "default_branch": default_branch(ctx, p),
        "ci_config_path": "",
        "homepage": web,
        "url": http,
        "ssh_url": ssh,
        "http_url": http,
    })
}

/// The legacy `repository` block of webhooks.
pub(crate) fn hook_repository(ctx: &Ctx, p: &ProjectRec) -> Value {
    json!({
        "name": p.name(),
        "url": http_url(&ctx.urls, p),
        "description": "",
        "homepage": web_url(&ctx.urls, p),
    })
}

/// A user as webhooks embed it.
pub(crate) fn hook_user(u: &UserRec) -> Value {
    json!({
        "id": u.id,
        "name": u.name,
        "username": u.username,
        "avatar_url": avatar_url(u),
        "email": email(u),
    })
}
