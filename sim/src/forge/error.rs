//! The errors both forge simulators answer and return: a status, the forge's JSON body and any
//! extra headers (`Retry-After`), in the forge's dialect.

use std::fmt::{self, Debug};
use std::marker::PhantomData;

use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::git::GitSimError;

/// How one forge words its errors.
pub trait Dialect: Debug + Clone + Send + Sync + 'static {
    /// `GitHub`, `GitLab`.
    const NAME: &'static str;
    const CONTENT_TYPE: &'static str;
    /// The human-readable message of an error body.
    fn text(body: &Value) -> String;
}

/// An error answered the way the forge `D` does.
#[derive(Debug, Clone)]
pub struct ApiError<D: Dialect> {
    pub status: StatusCode,
    pub body: Value,
    headers: Vec<(HeaderName, String)>,
    dialect: PhantomData<D>,
}

impl<D: Dialect> ApiError<D> {
    pub(crate) fn with_body(status: StatusCode, body: Value) -> Self {
        ApiError {
            status,
            body,
            headers: Vec::new(),
            dialect: PhantomData,
        }
    }

    pub(crate) fn with_header(mut self, name: HeaderName, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// The message as text.
    pub fn text(&self) -> String {
        D::text(&self.body)
    }
}

impl<D: Dialect> fmt::Display for ApiError<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.text())
    }
}

impl<D: Dialect> std::error::Error for ApiError<D> {}

impl<D: Dialect> IntoResponse for ApiError<D> {
    fn into_response(self) -> Response {
        let mut resp = reply::<D>(self.status, &self.body);
        for (name, value) in self.headers {
            if let Ok(v) = HeaderValue::from_str(&value) {
                resp.headers_mut().insert(name, v);
            }
        }
        resp
    }
}

/// A JSON response with the forge's content type.
pub(crate) fn reply<D: Dialect>(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, D::CONTENT_TYPE)],
        body.to_string(),
    )
        .into_response()
}

/// Errors of a simulator's helper API (what a test or the world calls directly); an
/// [`ApiError`] is what the REST API would have answered.
#[derive(Debug, thiserror::Error)]
pub enum SimError<D: Dialect> {
    #[error("{name} API: {0}", name = D::NAME)]
    Api(#[from] ApiError<D>),
    #[error(transparent)]
    Git(#[from] GitSimError),
    #[error("unknown delivery {0}")]
    UnknownDelivery(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}
