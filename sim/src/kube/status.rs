//! API errors as real `meta/v1` `Status` objects, with the reasons, codes and message shapes of
//! the real apiserver (`pods "x" not found`, `deployments.apps "x" already exists`, ...).

use serde_json::{Value, json};

use super::registry::ResourceType;

/// The `reason` of a failed `Status`. Callers branch on it (retry, conflict, give up).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    NotFound,
    AlreadyExists,
    Conflict,
    Invalid,
    BadRequest,
    MethodNotAllowed,
    NotAcceptable,
    UnsupportedMediaType,
    RequestEntityTooLarge,
    Expired,
    Gone,
    Unauthorized,
    /// 403: RBAC, or an admission webhook that denied the request.
    Forbidden,
    InternalError,
    ServiceUnavailable,
    Timeout,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::NotFound => "NotFound",
            Reason::AlreadyExists => "AlreadyExists",
            Reason::Conflict => "Conflict",
            Reason::Invalid => "Invalid",
            Reason::BadRequest => "BadRequest",
            Reason::MethodNotAllowed => "MethodNotAllowed",
            Reason::NotAcceptable => "NotAcceptable",
            Reason::UnsupportedMediaType => "UnsupportedMediaType",
            Reason::RequestEntityTooLarge => "RequestEntityTooLarge",
            Reason::Expired => "Expired",
            Reason::Gone => "Gone",
            Reason::Unauthorized => "Unauthorized",
            Reason::Forbidden => "Forbidden",
            Reason::InternalError => "InternalError",
            Reason::ServiceUnavailable => "ServiceUnavailable",
            Reason::Timeout => "Timeout",
        }
    }

    /// The HTTP status code the real apiserver uses for this reason.
    pub fn code(self) -> u16 {
        match self {
            Reason::NotFound => 404,
            Reason::AlreadyExists | Reason::Conflict => 409,
            Reason::Invalid => 422,
            Reason::BadRequest => 400,
            Reason::MethodNotAllowed => 405,
            Reason::NotAcceptable => 406,
            Reason::UnsupportedMediaType => 415,
            Reason::RequestEntityTooLarge => 413,
            Reason::Expired | Reason::Gone => 410,
            Reason::Unauthorized => 401,
            Reason::Forbidden => 403,
            Reason::InternalError => 500,
            Reason::ServiceUnavailable => 503,
            Reason::Timeout => 504,
        }
    }
}

/// One entry of `details.causes` (field-level validation errors).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cause {
    pub reason: String,
    pub message: String,
    pub field: String,
}

/// A failed request, rendered as a `Status` body with `code` as the HTTP status.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{} ({}): {message}", reason.as_str(), code)]
pub struct ApiError {
    pub reason: Reason,
    pub code: u16,
    pub message: String,
    /// Boxed to keep `Result<_, ApiError>` small.
    pub details: Box<Details>,
}

/// `details` of a `Status`: `kind` is the resource plural for not-found and conflict errors and
/// the Kind for Invalid, as the real server does.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Details {
    pub name: Option<String>,
    pub group: Option<String>,
    pub kind: Option<String>,
    pub causes: Vec<Cause>,
}

impl ApiError {
    pub fn new(reason: Reason, message: impl Into<String>) -> Self {
        ApiError {
            reason,
            code: reason.code(),
            message: message.into(),
            details: Box::default(),
        }
    }

    fn about(mut self, rt: &ResourceType, name: &str) -> Self {
        self.details.name = Some(name.to_string());
        if !rt.group.is_empty() {
            self.details.group = Some(rt.group.clone());
        }
        self.details.kind = Some(rt.plural.clone());
        self
    }

    pub fn not_found(rt: &ResourceType, name: &str) -> Self {
        let msg = format!("{} \"{name}\" not found", rt.group_resource());
        ApiError::new(Reason::NotFound, msg).about(rt, name)
    }

    pub fn already_exists(rt: &ResourceType, name: &str) -> Self {
        let msg = format!("{} \"{name}\" already exists", rt.group_resource());
        ApiError::new(Reason::AlreadyExists, msg).about(rt, name)
    }

    /// Optimistic-concurrency failure: the object changed since the client read it.
    pub fn conflict(rt: &ResourceType, name: &str) -> Self {
        Self::conflict_because(
            rt,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    pub fn conflict_because(rt: &ResourceType, name: &str, why: &str) -> Self {
        let msg = format!(
            "Operation cannot be fulfilled on {} \"{name}\": {why}",
            rt.group_resource()
        );
        ApiError::new(Reason::Conflict, msg).about(rt, name)
    }

    /// 422 with field causes, e.g. `Pod "x" is invalid: metadata.name: Required value`.
    pub fn invalid(rt: &ResourceType, name: &str, causes: Vec<Cause>) -> Self {
        let list: Vec<String> = causes
            .iter()
            .map(|c| format!("{}: {}", c.field, c.message))
            .collect();
        let joined = if list.len() == 1 {
            list[0].clone()
        } else {
            format!("[{}]", list.join(", "))
        };
        let msg = format!("{} \"{name}\" is invalid: {joined}", rt.kind);
        let mut e = ApiError::new(Reason::Invalid, msg);
        e.details.name = Some(name.to_string());
        if !rt.group.is_empty() {
            e.details.group = Some(rt.group.clone());
        }
        e.details.kind = Some(rt.kind.clone());
        e.details.causes = causes;
        e
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(Reason::BadRequest, message)
    }

    /// 410 for a watch or list from a resourceVersion older than the retained history.
    pub fn expired(message: impl Into<String>) -> Self {
        ApiError::new(Reason::Expired, message)
    }

    pub fn too_old(requested: u64, oldest: u64) -> Self {
        Self::expired(format!("too old resource version: {requested} ({oldest})"))
    }

    pub fn unsupported_media_type(content_type: &str, accepted: &[&str]) -> Self {
        let _ = content_type;
        ApiError::new(
            Reason::UnsupportedMediaType,
            format!(
                "the body of the request was in an unknown format - accepted media types include: {}",
                accepted.join(", ")
            ),
        )
    }

    pub fn method_not_allowed() -> Self {
        ApiError::new(
            Reason::MethodNotAllowed,
            "the server does not allow this method on the requested resource",
        )
    }

    /// Unknown path or resource: the real server's generic 404.
    pub fn no_such_resource() -> Self {
        ApiError::new(
            Reason::NotFound,
            "the server could not find the requested resource",
        )
    }

    /// 403 from admission, e.g. `pods "x" is forbidden: exceeded quota: ...`.
    pub fn forbidden(rt: &ResourceType, name: &str, why: &str) -> Self {
        let msg = format!("{} \"{name}\" is forbidden: {why}", rt.group_resource());
        ApiError::new(Reason::Forbidden, msg).about(rt, name)
    }

    pub fn unauthorized() -> Self {
        ApiError::new(Reason::Unauthorized, "Unauthorized")
    }

    pub fn internal(message: &str) -> Self {
        ApiError::new(
            Reason::InternalError,
            format!("Internal error occurred: {message}"),
        )
    }

    /// The `Status` object sent as the response body (and inside watch ERROR events).
    pub fn to_status(&self) -> Value {
        let mut details = serde_json::Map::new();
        let d = &self.details;
        if let Some(n) = &d.name {
            details.insert("name".into(), json!(n));
        }
        if let Some(g) = &d.group {
            details.insert("group".into(), json!(g));
        }
        if let Some(k) = &d.kind {
            details.insert("kind".into(), json!(k));
        }
        if !d.causes.is_empty() {
            let causes: Vec<Value> = d
                .causes
                .iter()
                .map(|c| json!({"reason": c.reason, "message": c.message, "field": c.field}))
                .collect();
            details.insert("causes".into(), Value::Array(causes));
        }
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason.as_str(),
            "code": self.code,
        });
        if !details.is_empty() {
            status["details"] = Value::Object(details);
        }
        status
    }
}

/// A field-level validation failure (`FieldValueRequired`, `FieldValueInvalid`, ...).
pub fn cause(reason: &str, field: &str, message: impl Into<String>) -> Cause {
    Cause {
        reason: reason.to_string(),
        message: message.into(),
        field: field.to_string(),
    }
}
