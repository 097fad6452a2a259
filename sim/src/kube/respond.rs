//! Response bodies: JSON objects and lists, `Status` errors, watch event lines, discovery.

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

use super::discovery;
use super::status::ApiError;
use super::watch::EventType;

pub(crate) fn list_json(
    typed: bool,
    list_kind: &str,
    api_version: &str,
    mut items: Vec<Value>,
    rv: u64,
    continue_token: Option<String>,
    remaining: Option<u64>,
) -> Value {
    // Typed lists carry their items without kind/apiVersion, as the real server encodes them.
    if typed {
        for item in &mut items {
            if let Some(map) = item.as_object_mut() {
                map.remove("kind");
                map.remove("apiVersion");
            }
        }
    }
    let mut metadata = json!({"resourceVersion": rv.to_string()});
    if let Some(c) = continue_token {
        metadata["continue"] = json!(c);
    }
    if let Some(r) = remaining {
        metadata["remainingItemCount"] = json!(r);
    }
    json!({"kind": list_kind, "apiVersion": api_version, "metadata": metadata, "items": items})
}

/// One watch event as the newline-delimited JSON line the real server sends.
pub(crate) fn event_line(kind: EventType, object: &Value) -> Bytes {
    let mut line = json!({"type": kind.as_str(), "object": object}).to_string();
    line.push('\n');
    Bytes::from(line)
}

pub(crate) fn error_line(err: &ApiError) -> Bytes {
    let mut line = json!({"type": "ERROR", "object": err.to_status()}).to_string();
    line.push('\n');
    Bytes::from(line)
}

pub(crate) fn json_response(code: StatusCode, body: &Value, warnings: &[String]) -> Response {
    let mut resp = raw_json(code, Bytes::from(body.to_string()));
    for w in warnings {
        let escaped = w.replace('\\', "\\\\").replace('"', "\\\"");
        if let Ok(v) = HeaderValue::from_str(&format!("299 - \"{escaped}\"")) {
            resp.headers_mut().append(header::WARNING, v);
        }
    }
    resp
}

pub(crate) fn raw_json(code: StatusCode, body: Bytes) -> Response {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = code;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

pub(crate) fn aggregated_response(doc: Value) -> Result<Response, ApiError> {
    let mut resp = raw_json(StatusCode::OK, Bytes::from(doc.to_string()));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(discovery::AGGREGATED_CONTENT_TYPE),
    );
    Ok(resp)
}

pub(crate) fn text_response(code: StatusCode, text: &'static str) -> Response {
    let mut resp = Response::new(Body::from(text));
    *resp.status_mut() = code;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    resp
}

pub(crate) fn error_response(err: &ApiError) -> Response {
    let code = StatusCode::from_u16(err.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json_response(code, &err.to_status(), &[])
}
