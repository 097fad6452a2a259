//! The router, GitHub's error bodies, and its auth, rate-limit headers and fault answers for
//! the shared request gate.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Request, State as AxState};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware;
use axum::response::Response;
use axum::routing::{delete, get, post, put};
use serde_json::{Value, json};

use super::render;
use super::state::State;
use super::{apps, hooks, issues, pulls, refs, statuses};
use crate::forge::Dialect;
use crate::forge::gate::{Gate, gate};
use crate::forge::rate::Window;

/// Bodies above this are refused (GitHub's own limits are far higher; suture sends small ones).
pub(crate) const MAX_BODY: usize = 1024 * 1024;
const DOCS: &str = "https://docs.github.com/rest";

/// Everything a request handler needs.
pub(crate) type Ctx = crate::forge::context::Ctx<State>;

/// GitHub's primary ("core") rate limit is counted per hour.
pub(crate) const RATE_WINDOW_SECS: i64 = 3600;

pub(crate) use crate::forge::gate::Login;

/// GitHub's error dialect: `{"message", "documentation_url", "status"}`.
#[derive(Debug, Clone)]
pub struct GitHub;

impl Dialect for GitHub {
    const NAME: &'static str = "GitHub";
    const CONTENT_TYPE: &'static str = "application/json; charset=utf-8";
    fn text(body: &Value) -> String {
        body["message"].as_str().unwrap_or_default().to_owned()
    }
}

/// An error answered the way GitHub does: a status and `{"message", "documentation_url", ...}`.
pub type ApiError = crate::forge::ApiError<GitHub>;

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self::with_body(
            status,
            json!({
                "message": message.into(),
                "documentation_url": DOCS,
                "status": status.as_u16().to_string(),
            }),
        )
    }

    pub(crate) fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "Not Found")
    }

    /// 422 Validation Failed with GitHub's `errors` list.
    pub(crate) fn validation(errors: Vec<Value>) -> Self {
        let mut e = Self::new(StatusCode::UNPROCESSABLE_ENTITY, "Validation Failed");
        e.body["errors"] = Value::Array(errors);
        e
    }

    /// 422 `{resource, code, field}`, e.g. a missing or invalid field.
    pub(crate) fn field(resource: &str, code: &str, field: &str) -> Self {
        Self::validation(vec![
            json!({"resource": resource, "code": code, "field": field}),
        ])
    }

    /// 422 with a custom message, as GitHub reports rule violations.
    pub(crate) fn custom(resource: &str, field: &str, message: impl Into<String>) -> Self {
        Self::validation(vec![json!({
            "resource": resource,
            "code": "custom",
            "field": field,
            "message": message.into(),
        })])
    }

    /// 422 for a request that does not fit the schema.
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, message)
    }

    /// The same error pointing at another page of GitHub's docs.
    pub(crate) fn with_docs(mut self, url: &str) -> Self {
        self.body["documentation_url"] = Value::String(url.to_owned());
        self
    }

    pub fn message(&self) -> &str {
        self.body["message"].as_str().unwrap_or_default()
    }
}

pub(crate) type ApiResult = Result<Response, ApiError>;

/// A JSON response.
pub(crate) fn reply(status: StatusCode, body: Value) -> Response {
    crate::forge::error::reply::<GitHub>(status, &body)
}

/// The request body as JSON; empty means `{}`.
pub(crate) fn json_body(body: Result<Bytes, BytesRejection>) -> Result<Value, ApiError> {
    let bytes = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "Payload too large")
        } else {
            ApiError::new(StatusCode::BAD_REQUEST, "Problems parsing JSON")
        }
    })?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    serde_json::from_slice(&bytes)
        .map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, "Problems parsing JSON"))
}

/// An optional string field; a wrong type is GitHub's 422 "Invalid request".
pub(crate) fn opt_str<'a>(v: &'a Value, key: &str) -> Result<Option<&'a str>, ApiError> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(ApiError::invalid(format!(
            "Invalid request.\n\nFor '{key}', {other} is not a string."
        ))),
    }
}

pub(crate) fn opt_bool(v: &Value, key: &str) -> Result<Option<bool>, ApiError> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(ApiError::invalid(format!(
            "Invalid request.\n\nFor '{key}', {other} is not a boolean."
        ))),
    }
}

/// An issue or pull number from the path; anything else is "Not Found", as on GitHub.
pub(crate) fn number(s: &str) -> Result<u64, ApiError> {
    s.parse::<u64>().map_err(|_| ApiError::not_found())
}

pub(crate) fn full_name(owner: &str, repo: &str) -> String {
    format!("{owner}/{repo}")
}

pub(crate) fn router(ctx: Arc<Ctx>) -> Router {
    let repo = "/repos/{owner}/{repo}";
    Router::new()
        .route("/user", get(current_user))
        .route("/rate_limit", get(rate_limit))
        .route(
            "/app/installations/{id}/access_tokens",
            post(apps::create_token),
        )
        .route("/app/installations/{id}", get(apps::get_installation))
        .route(repo, get(get_repo))
        .route(&format!("{repo}/git/ref/{{*rest}}"), get(refs::get_ref))
        .route(
            &format!("{repo}/git/matching-refs/{{*rest}}"),
            get(refs::matching_refs),
        )
        .route(&format!("{repo}/git/refs"), post(refs::create_ref))
        .route(
            &format!("{repo}/git/refs/{{*rest}}"),
            get(refs::get_ref)
                .patch(refs::update_ref)
                .delete(refs::delete_ref),
        )
        .route(
            &format!("{repo}/pulls"),
            get(pulls::list).post(pulls::create),
        )
        .route(
            &format!("{repo}/pulls/{{number}}"),
            get(pulls::get).patch(pulls::update),
        )
        .route(
            &format!("{repo}/pulls/{{number}}/merge"),
            put(pulls::merge).get(pulls::is_merged),
        )
        .route(
            &format!("{repo}/hooks"),
            get(hooks::list).post(hooks::create),
        )
        .route(
            &format!("{repo}/hooks/{{id}}"),
            get(hooks::get).delete(hooks::delete),
        )
        .route(&format!("{repo}/issues/{{number}}"), get(issues::get))
        .route(
            &format!("{repo}/issues/{{number}}/labels"),
            get(issues::list_labels)
                .post(issues::add_labels)
                .put(issues::set_labels),
        )
        .route(
            &format!("{repo}/issues/{{number}}/labels/{{name}}"),
            delete(issues::remove_label),
        )
        .route(
            &format!("{repo}/issues/{{number}}/comments"),
            get(issues::list_comments).post(issues::create_comment),
        )
        .route(&format!("{repo}/statuses/{{sha}}"), post(statuses::create))
        // `{ref}/statuses` and `{ref}/status`; a branch ref may contain slashes.
        .route(&format!("{repo}/commits/{{*rest}}"), get(statuses::for_ref))
        .fallback(not_found)
        .method_not_allowed_fallback(not_found)
        .layer(middleware::from_fn_with_state(ctx.clone(), gate::<GitHub>))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(ctx)
}

async fn not_found() -> ApiError {
    ApiError::not_found()
}

/// GitHub's words at each step of the shared request gate.
impl Gate for GitHub {
    type State = State;

    fn server_error(code: u16) -> ApiError {
        let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        ApiError::new(status, "Server Error")
    }

    fn throttled(retry_after_secs: u64) -> ApiError {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "You have exceeded a secondary rate limit. Please wait a few minutes before you try \
             again. If you reach out to GitHub Support for help, please include the request ID.",
        )
        .with_header(header::RETRY_AFTER, retry_after_secs.to_string())
    }

    /// The `/app` endpoints take the App's JWT, everything else a token.
    fn authenticate(ctx: &Ctx, req: &mut Request) -> Result<String, ApiError> {
        if is_app_path(req.uri().path()) {
            let header = req
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok());
            apps::authenticate(ctx, header).map(|app| {
                req.extensions_mut().insert(apps::AppCaller(app));
                format!("app/{app}")
            })
        } else {
            authenticate(ctx, req.headers())
        }
    }

    /// GitHub's primary rate-limit 403.
    fn over_limit(ctx: &Ctx, login: &str, _: Window) -> ApiError {
        let id = ctx.lock().users.get(login).copied().unwrap_or(0);
        ApiError::new(
            StatusCode::FORBIDDEN,
            format!("API rate limit exceeded for user ID {id}."),
        )
    }

    fn rate_headers(rate: Window) -> Vec<(&'static str, String)> {
        vec![
            ("x-ratelimit-limit", rate.limit.to_string()),
            ("x-ratelimit-remaining", rate.remaining().to_string()),
            ("x-ratelimit-reset", rate.reset.to_string()),
            ("x-ratelimit-used", rate.used.to_string()),
            ("x-ratelimit-resource", "core".to_owned()),
            ("x-github-api-version-selected", "2022-11-28".to_owned()),
            ("x-github-request-id", uuid::Uuid::new_v4().to_string()),
        ]
    }
}

fn is_app_path(path: &str) -> bool {
    path == "/app" || path.starts_with("/app/")
}

fn authenticate(ctx: &Ctx, headers: &HeaderMap) -> Result<String, ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "Requires authentication",
        ));
    };
    value
        .to_str()
        .ok()
        .and_then(|h| ctx.tokens.authenticate(h))
        .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "Bad credentials"))
}

async fn current_user(
    AxState(ctx): AxState<Arc<Ctx>>,
    axum::Extension(Login(login)): axum::Extension<Login>,
) -> Response {
    let st = ctx.lock();
    reply(StatusCode::OK, render::user(&ctx.urls, &st, &login))
}

async fn rate_limit(AxState(ctx): AxState<Arc<Ctx>>) -> Response {
    let r = ctx.rate.window();
    let core = json!({
        "limit": r.limit,
        "remaining": r.remaining(),
        "reset": r.reset,
        "used": r.used,
        "resource": "core",
    });
    reply(
        StatusCode::OK,
        json!({"resources": {"core": core}, "rate": core}),
    )
}

async fn get_repo(
    AxState(ctx): AxState<Arc<Ctx>>,
    Path((owner, repo)): Path<(String, String)>,
) -> ApiResult {
    let full = full_name(&owner, &repo);
    let st = ctx.lock();
    let r = st.repo(&full)?;
    let default_branch = default_branch(&ctx, &full);
    Ok(reply(
        StatusCode::OK,
        render::repo(&ctx.urls, &st, r, &default_branch),
    ))
}

pub(crate) fn default_branch(ctx: &Ctx, full: &str) -> String {
    ctx.store
        .default_branch(full)
        .unwrap_or_else(|_| "main".to_owned())
}
