//! The router, GitLab's error bodies, and its `PRIVATE-TOKEN` auth, `RateLimit-*` headers and
//! fault answers for the shared request gate.

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware;
use axum::response::Response;
use axum::routing::{get, put};
use serde_json::{Value, json};

use super::state::State;
use super::{branches, commits, hooks, labels, merge_requests, notes, projects, statuses};
use crate::forge::Dialect;
use crate::forge::gate::{Gate, gate};
use crate::forge::rate::Window;

/// Bodies above this are refused; suture sends small ones (a commit of a few manifests).
pub(crate) const MAX_BODY: usize = 4 * 1024 * 1024;
/// GitLab's default authenticated API throttle window.
pub(crate) const RATE_WINDOW_SECS: i64 = 60;

pub(crate) use crate::forge::context::Urls;

/// Everything a request handler needs.
pub(crate) type Ctx = crate::forge::context::Ctx<State>;

pub(crate) use crate::forge::gate::Login;

/// GitLab's error dialect: `{"message": ...}` (a string, a list or an object of field errors)
/// or Grape's `{"error": "..."}`.
#[derive(Debug, Clone)]
pub struct GitLab;

impl Dialect for GitLab {
    const NAME: &'static str = "GitLab";
    const CONTENT_TYPE: &'static str = "application/json";
    /// The message as text (a list is joined with "; ").
    fn text(body: &Value) -> String {
        match body.get("message").or_else(|| body.get("error")) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join("; "),
            Some(other) => other.to_string(),
            None => String::new(),
        }
    }
}

/// An error answered the way GitLab does.
pub type ApiError = crate::forge::ApiError<GitLab>;

impl ApiError {
    /// `{"message": "<msg>"}`
    pub(crate) fn message(status: StatusCode, msg: impl Into<String>) -> Self {
        Self::with_body(status, json!({ "message": msg.into() }))
    }

    /// `{"message": ["<msg>", ...]}`, as model validation errors are rendered.
    pub(crate) fn messages(status: StatusCode, msgs: Vec<String>) -> Self {
        Self::with_body(status, json!({ "message": msgs }))
    }

    /// Grape's `{"error": "<msg>"}`.
    pub(crate) fn error(status: StatusCode, msg: impl Into<String>) -> Self {
        Self::with_body(status, json!({ "error": msg.into() }))
    }

    /// `404 <What> Not Found`; an empty `what` is GitLab's plain `404 Not found`.
    pub(crate) fn not_found(what: &str) -> Self {
        if what.is_empty() {
            Self::message(StatusCode::NOT_FOUND, "404 Not found")
        } else {
            Self::message(StatusCode::NOT_FOUND, format!("404 {what} Not Found"))
        }
    }

    pub(crate) fn missing(keys: &[&str]) -> Self {
        let msg: Vec<String> = keys.iter().map(|k| format!("{k} is missing")).collect();
        Self::error(StatusCode::BAD_REQUEST, msg.join(", "))
    }

    pub(crate) fn invalid(key: &str) -> Self {
        Self::error(StatusCode::BAD_REQUEST, format!("{key} is invalid"))
    }

    pub(crate) fn bad_request(msg: impl Into<String>) -> Self {
        Self::message(StatusCode::BAD_REQUEST, msg)
    }

    pub(crate) fn server_error() -> Self {
        Self::message(
            StatusCode::INTERNAL_SERVER_ERROR,
            "500 Internal Server Error",
        )
    }
}

pub(crate) type ApiResult = Result<Response, ApiError>;

/// A JSON response.
pub(crate) fn reply(status: StatusCode, body: Value) -> Response {
    crate::forge::error::reply::<GitLab>(status, &body)
}

/// An iid or other number from the path; anything else is "404 Not found", as on GitLab.
pub(crate) fn number(s: &str) -> Result<u64, ApiError> {
    s.parse::<u64>().map_err(|_| ApiError::not_found(""))
}

pub(crate) fn router(ctx: Arc<Ctx>) -> Router {
    let p = "/api/v4/projects/{id}";
    let mr = format!("{p}/merge_requests/{{iid}}");
    Router::new()
        .route("/api/v4/user", get(projects::current_user))
        .route(p, get(projects::get))
        .route(
            &format!("{p}/repository/branches"),
            get(branches::list).post(branches::create),
        )
        .route(
            &format!("{p}/repository/branches/{{*branch}}"),
            get(branches::get).delete(branches::delete),
        )
        .route(
            &format!("{p}/repository/commits"),
            axum::routing::post(commits::create),
        )
        .route(
            &format!("{p}/repository/commits/{{sha}}"),
            get(commits::get),
        )
        .route(
            &format!("{p}/repository/commits/{{sha}}/statuses"),
            get(statuses::list),
        )
        .route(
            &format!("{p}/statuses/{{sha}}"),
            axum::routing::post(statuses::create),
        )
        .route(
            &format!("{p}/repository/files/{{*path}}"),
            get(commits::file),
        )
        .route(
            &format!("{p}/merge_requests"),
            get(merge_requests::list).post(merge_requests::create),
        )
        .route(&mr, get(merge_requests::get).put(merge_requests::edit))
        .route(&format!("{mr}/merge"), put(merge_requests::merge))
        .route(&format!("{mr}/notes"), get(notes::list).post(notes::create))
        .route(&format!("{p}/hooks"), get(hooks::list).post(hooks::create))
        .route(
            &format!("{p}/hooks/{{hook_id}}"),
            get(hooks::get).delete(hooks::delete),
        )
        .route(
            &format!("{p}/labels"),
            get(labels::list).post(labels::create),
        )
        .fallback(unknown_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(ctx.clone(), gate::<GitLab>))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(ctx)
}

async fn unknown_route() -> ApiError {
    ApiError::error(StatusCode::NOT_FOUND, "404 Not Found")
}

async fn method_not_allowed() -> ApiError {
    ApiError::error(StatusCode::METHOD_NOT_ALLOWED, "405 Not Allowed")
}

/// GitLab's words at each step of the shared request gate.
impl Gate for GitLab {
    type State = State;

    fn server_error(code: u16) -> ApiError {
        let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let reason = status.canonical_reason().unwrap_or("Error");
        ApiError::message(status, format!("{} {reason}", status.as_u16()))
    }

    fn throttled(retry_after_secs: u64) -> ApiError {
        throttled(retry_after_secs)
    }

    fn authenticate(ctx: &Ctx, req: &mut Request) -> Result<String, ApiError> {
        authenticate(ctx, req.headers())
            .ok_or_else(|| ApiError::message(StatusCode::UNAUTHORIZED, "401 Unauthorized"))
    }

    /// The throttle's 429, waiting out the window.
    fn over_limit(_: &Ctx, _: &str, window: Window) -> ApiError {
        let wait = (window.reset - jiff::Timestamp::now().as_second()).max(1);
        throttled(wait.unsigned_abs())
    }

    fn rate_headers(rate: Window) -> Vec<(&'static str, String)> {
        let reset_time = jiff::Timestamp::from_second(rate.reset)
            .map(|t| format!("{}", t.strftime("%a, %d %b %Y %H:%M:%S GMT")))
            .unwrap_or_default();
        vec![
            ("ratelimit-name", "throttle_authenticated_api".to_owned()),
            ("ratelimit-limit", rate.limit.to_string()),
            ("ratelimit-observed", rate.used.to_string()),
            ("ratelimit-remaining", rate.remaining().to_string()),
            ("ratelimit-reset", rate.reset.to_string()),
            ("ratelimit-resettime", reset_time),
            ("x-request-id", uuid::Uuid::new_v4().simple().to_string()),
            ("x-gitlab-meta", r#"{"correlation_id":"sim"}"#.to_owned()),
        ]
    }
}

/// `PRIVATE-TOKEN: <t>`, or `Authorization: Bearer <t>` (OAuth2 and the newer token form).
fn authenticate(ctx: &Ctx, headers: &HeaderMap) -> Option<String> {
    if let Some(v) = headers.get("private-token") {
        return v.to_str().ok().and_then(|t| ctx.tokens.login(t.trim()));
    }
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.trim().split_once(' ')?;
    if scheme.eq_ignore_ascii_case("bearer") {
        ctx.tokens.login(token.trim())
    } else {
        None
    }
}

/// GitLab's Rack::Attack answer: 429 "Retry later" with `Retry-After`.
fn throttled(retry_after_secs: u64) -> ApiError {
    ApiError::with_body(
        StatusCode::TOO_MANY_REQUESTS,
        json!({"message": "Retry later"}),
    )
    .with_header(header::RETRY_AFTER, retry_after_secs.to_string())
}
