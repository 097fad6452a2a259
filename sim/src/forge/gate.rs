//! The steps every request of either forge goes through, in the same order: an injected fault,
//! then auth, then the rate limit, then the handler; rate-limit headers on every response.
//! Each forge supplies only its own words for each step ([`Gate`]).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::context::Ctx;
use super::rate::Window;
use super::{ApiError, Dialect, Fault};

/// The login a request authenticated as, for the handlers.
#[derive(Debug, Clone)]
pub(crate) struct Login(pub String);

/// What differs between the forges at each step, answered in the forge's own error dialect.
pub(crate) trait Gate: Dialect {
    type State: Send + 'static;

    /// The answer to an injected [`Fault::Status`] or [`Fault::StatusAfterEffect`].
    fn server_error(code: u16) -> ApiError<Self>;

    /// The answer to an injected [`Fault::RateLimit`].
    fn throttled(retry_after_secs: u64) -> ApiError<Self>;

    /// The login behind the request, or the refusal. May leave extensions on the request for
    /// the handlers (who the caller is beyond its login).
    fn authenticate(ctx: &Ctx<Self::State>, req: &mut Request) -> Result<String, ApiError<Self>>;

    /// The refusal once `window` is used up.
    fn over_limit(ctx: &Ctx<Self::State>, login: &str, window: Window) -> ApiError<Self>;

    /// The headers every response carries, from the window as it is after the request.
    fn rate_headers(window: Window) -> Vec<(&'static str, String)>;
}

/// The middleware: `middleware::from_fn_with_state(ctx, gate::<Forge>)`.
pub(crate) async fn gate<G: Gate>(
    State(ctx): State<Arc<Ctx<G::State>>>,
    req: Request,
    next: Next,
) -> Response {
    let fault = ctx.faults.take(req.method().as_str(), req.uri().path());
    let mut resp = match fault {
        Some(Fault::Status(code)) => G::server_error(code).into_response(),
        Some(Fault::RateLimit { retry_after_secs }) => {
            G::throttled(retry_after_secs).into_response()
        }
        other => {
            if let Some(Fault::Hang(d)) = other {
                tokio::time::sleep(d).await;
            }
            match admit::<G>(&ctx, req, next).await {
                // Only once the handler ran: the change took effect, the client never learns.
                Ok(_) if let Some(Fault::StatusAfterEffect(code)) = other => {
                    G::server_error(code).into_response()
                }
                Ok(resp) => resp,
                Err(refused) => refused.into_response(),
            }
        }
    };
    let headers = resp.headers_mut();
    for (name, value) in G::rate_headers(ctx.rate.window()) {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), v);
        }
    }
    resp
}

/// Auth, the rate limit, then the handler; `Err` with the refusal if it never ran.
async fn admit<G: Gate>(
    ctx: &Ctx<G::State>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError<G>> {
    let login = G::authenticate(ctx, &mut req)?;
    if let Err(window) = ctx.rate.take() {
        return Err(G::over_limit(ctx, &login, window));
    }
    req.extensions_mut().insert(Login(login));
    Ok(next.run(req).await)
}
