//! GitHub Apps: the App's JWT (RS256, signed by its private key) on the `/app/...` endpoints, and
//! installation access tokens (`POST /app/installations/{id}/access_tokens`) that the REST API
//! and the Git remote then accept like any token, until they expire.
//!
//! GitHub's rules for the JWT: `alg` RS256, `iss` the App's id (a number or a string; the client
//! id is accepted too), `iat` at most 60 s in the future, `exp` in the future and at most 10
//! minutes after `iat` (and after now).

use std::sync::Arc;

use axum::extract::{Path, State as AxState};
use axum::http::StatusCode;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};

use super::routes::{ApiError, ApiResult, Ctx, reply};

const DOCS: &str = "https://docs.github.com/rest";
const CREATE_TOKEN_DOCS: &str =
    "https://docs.github.com/rest/apps/apps#create-an-installation-access-token-for-an-app";
/// GitHub's installation tokens live one hour.
pub(crate) const DEFAULT_TOKEN_TTL: jiff::SignedDuration = jiff::SignedDuration::from_hours(1);

const NOT_DECODED: &str = "A JSON web token could not be decoded";
const EXP_PAST: &str = "'Expiration time' claim ('exp') must be a numeric value representing the \
                        future time at which the assertion expires";
const EXP_TOO_FAR: &str = "'Expiration time' claim ('exp') is too far in the future";
const IAT_BAD: &str = "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued";

/// A registered GitHub App.
#[derive(Clone)]
pub(crate) struct AppRec {
    pub id: u64,
    pub client_id: String,
    pub slug: String,
    pub key: Arc<DecodingKey>,
}

impl std::fmt::Debug for AppRec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppRec")
            .field("id", &self.id)
            .field("slug", &self.slug)
            .finish_non_exhaustive()
    }
}

impl AppRec {
    /// The login its installation tokens act as (`<slug>[bot]`).
    pub fn bot_login(&self) -> String {
        format!("{}[bot]", self.slug)
    }
}

/// One installation of an App (on an account).
#[derive(Debug, Clone)]
pub(crate) struct InstallationRec {
    pub id: u64,
    pub app_id: u64,
    pub account: String,
    pub created_at: String,
    /// Installation tokens issued so far.
    pub tokens_issued: u64,
}

/// The App a request's `Authorization: Bearer <JWT>` proves to be, verified against its public
/// key; GitHub's 401 otherwise.
pub(crate) fn authenticate(ctx: &Ctx, header: Option<&str>) -> Result<u64, ApiError> {
    let unauthorized = |m: &str| ApiError::new(StatusCode::UNAUTHORIZED, m).with_docs(DOCS);
    let Some(header) = header else {
        return Err(unauthorized(NOT_DECODED));
    };
    let jwt = match header.trim().split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        _ => return Err(unauthorized(NOT_DECODED)),
    };
    // Which App it claims to be, before the signature can be checked with that App's key.
    let claims = jsonwebtoken::dangerous::insecure_decode::<Value>(jwt)
        .map_err(|_| unauthorized(NOT_DECODED))?
        .claims;
    let app = {
        let st = ctx.lock();
        match &claims["iss"] {
            Value::Number(n) => n.as_u64().and_then(|id| st.apps.get(&id)),
            Value::String(s) => st
                .apps
                .values()
                .find(|a| a.client_id == *s || s.parse::<u64>().is_ok_and(|id| id == a.id)),
            _ => None,
        }
        .cloned()
    }
    .ok_or_else(|| unauthorized(NOT_DECODED))?;
    let mut validation = Validation::new(Algorithm::RS256);
    // The time claims are checked below, with GitHub's messages.
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    validation.validate_aud = false;
    jsonwebtoken::decode::<Value>(jwt, &app.key, &validation)
        .map_err(|_| unauthorized(NOT_DECODED))?;
    let now = jiff::Timestamp::now().as_second();
    let iat = claims["iat"]
        .as_i64()
        .ok_or_else(|| unauthorized(IAT_BAD))?;
    let exp = claims["exp"]
        .as_i64()
        .ok_or_else(|| unauthorized(EXP_PAST))?;
    if iat > now + 60 {
        return Err(unauthorized(IAT_BAD));
    }
    if exp <= now {
        return Err(unauthorized(EXP_PAST));
    }
    if exp - iat > 600 || exp > now + 600 {
        return Err(unauthorized(EXP_TOO_FAR));
    }
    Ok(app.id)
}

/// The App a JWT-authenticated request came from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AppCaller(pub u64);

fn installation_of(ctx: &Ctx, app: u64, id: &str) -> Result<InstallationRec, ApiError> {
    let id = id.parse::<u64>().map_err(|_| ApiError::not_found())?;
    let st = ctx.lock();
    st.installations
        .get(&id)
        .filter(|i| i.app_id == app)
        .cloned()
        .ok_or_else(ApiError::not_found)
}

fn permissions() -> Value {
    json!({"contents": "write", "pull_requests": "write", "statuses": "write", "metadata": "read"})
}

/// `POST /app/installations/{installation_id}/access_tokens`
pub(crate) async fn create_token(
    AxState(ctx): AxState<Arc<Ctx>>,
    axum::Extension(AppCaller(app)): axum::Extension<AppCaller>,
    Path(id): Path<String>,
) -> ApiResult {
    let inst = installation_of(&ctx, app, &id).map_err(|e| e.with_docs(CREATE_TOKEN_DOCS))?;
    let token = format!("ghs_{}", uuid::Uuid::new_v4().simple());
    let (login, ttl) = {
        let mut st = ctx.lock();
        let login = st
            .apps
            .get(&app)
            .map(AppRec::bot_login)
            .ok_or_else(ApiError::not_found)?;
        st.user_id(&login);
        if let Some(i) = st.installations.get_mut(&inst.id) {
            i.tokens_issued += 1;
        }
        (
            login,
            st.installation_token_ttl.unwrap_or(DEFAULT_TOKEN_TTL),
        )
    };
    let now = jiff::Timestamp::now();
    // The token lives its whole TTL; only the rendering is in whole seconds, as GitHub's is
    // (truncating the expiry itself left a 1 s token well under a second at times).
    let expires_at = now.saturating_add(ttl).unwrap_or(now);
    ctx.tokens.insert_until(token.clone(), login, expires_at);
    let expires_at = jiff::Timestamp::from_second(expires_at.as_second()).unwrap_or(expires_at);
    Ok(reply(
        StatusCode::CREATED,
        json!({
            "token": token,
            "expires_at": expires_at.to_string(),
            "permissions": {"contents": "write", "pull_requests": "write", "statuses": "write"},
            "repository_selection": "selected",
        }),
    ))
}

/// `GET /app/installations/{installation_id}`
pub(crate) async fn get_installation(
    AxState(ctx): AxState<Arc<Ctx>>,
    axum::Extension(AppCaller(app)): axum::Extension<AppCaller>,
    Path(id): Path<String>,
) -> ApiResult {
    let inst = installation_of(&ctx, app, &id)?;
    let st = ctx.lock();
    let slug = st
        .apps
        .get(&app)
        .map(|a| a.slug.clone())
        .unwrap_or_default();
    let account = super::render::user(&ctx.urls, &st, &inst.account);
    let api = &ctx.urls.api;
    Ok(reply(
        StatusCode::OK,
        json!({
            "id": inst.id,
            "account": account,
            "repository_selection": "selected",
            "access_tokens_url": format!("{api}/app/installations/{}/access_tokens", inst.id),
            "repositories_url": format!("{api}/installation/repositories"),
            "html_url": format!("{}/settings/installations/{}", ctx.urls.web, inst.id),
            "app_id": inst.app_id,
            "app_slug": slug,
            "target_id": st.users.get(&inst.account).copied().unwrap_or(0),
            "target_type": "Organization",
            "permissions": permissions(),
            "events": [],
            "created_at": inst.created_at,
            "updated_at": inst.created_at,
            "single_file_name": null,
            "has_multiple_single_files": false,
            "single_file_paths": [],
            "suspended_by": null,
            "suspended_at": null,
        }),
    ))
}
