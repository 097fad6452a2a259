//! Request parameters: query flags, write/delete/list options, selectors, body and content
//! type checks, each failing with the real server's 400/413/415 `Status`.

use std::collections::HashMap;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, header};
use serde_json::Value;

use super::registry::ResId;
use super::selectors::{FieldSelector, LabelSelector, Selectors};
use super::status::{ApiError, Reason};
use super::store::{DeleteOptions, ListOptions, Store, Subresource, WriteOptions};
use super::validate::FieldValidation;

pub(crate) type Query = HashMap<String, String>;

/// Largest request body the real apiserver accepts (3 MiB).
const MAX_BODY: usize = 3 * 1024 * 1024;

pub(crate) fn flag(query: &Query, key: &str) -> bool {
    matches!(query.get(key).map(String::as_str), Some("true" | "1"))
}

pub(crate) fn write_options(
    query: &Query,
    subresource: Subresource,
) -> Result<WriteOptions, ApiError> {
    Ok(WriteOptions {
        subresource,
        dry_run: dry_run(query.get("dryRun").map(String::as_str))?,
        field_validation: FieldValidation::parse(
            query
                .get("fieldValidation")
                .map(String::as_str)
                .unwrap_or(""),
        )?,
    })
}

pub(crate) fn dry_run(value: Option<&str>) -> Result<bool, ApiError> {
    match value {
        None | Some("") => Ok(false),
        Some("All") => Ok(true),
        Some(other) => Err(ApiError::bad_request(format!(
            "dryRun: Unsupported value: \"{other}\": supported values: \"All\""
        ))),
    }
}

pub(crate) async fn read_body(body: Body) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|_| ApiError::new(Reason::RequestEntityTooLarge, "request is too large"))
}

pub(crate) fn parse_json(bytes: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::bad_request(format!("couldn't get version/kind; json parse error: {e}"))
    })
}

pub(crate) fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

/// POST and PUT bodies must be JSON (the real server also takes YAML and protobuf).
pub(crate) fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let ct = content_type(headers);
    let media = ct.split(';').next().unwrap_or("").trim();
    if media == "application/json" || media.is_empty() {
        Ok(())
    } else {
        Err(ApiError::unsupported_media_type(
            media,
            &["application/json"],
        ))
    }
}

/// DeleteOptions from the query and an optional JSON body (kube-rs sends the body).
pub(crate) fn delete_options(query: &Query, body: &[u8]) -> Result<DeleteOptions, ApiError> {
    let mut opts = DeleteOptions {
        dry_run: dry_run(query.get("dryRun").map(String::as_str))?,
        ..DeleteOptions::default()
    };
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(opts);
    }
    let v = parse_json(body)?;
    if let Some(list) = v.get("dryRun").and_then(Value::as_array) {
        for d in list {
            opts.dry_run |= dry_run(d.as_str())?;
        }
    }
    let pre = v.get("preconditions");
    opts.uid = pre
        .and_then(|p| p.get("uid"))
        .and_then(Value::as_str)
        .map(str::to_string);
    opts.resource_version = pre
        .and_then(|p| p.get("resourceVersion"))
        .and_then(Value::as_str)
        .map(str::to_string);
    Ok(opts)
}

pub(crate) fn selectors(store: &Store, res: ResId, query: &Query) -> Result<Selectors, ApiError> {
    let rt = store.resource(res)?;
    let get = |k: &str| query.get(k).map(String::as_str).unwrap_or("");
    Ok(Selectors {
        labels: LabelSelector::parse(get("labelSelector"))?,
        fields: FieldSelector::parse(get("fieldSelector"), rt)?,
    })
}

pub(crate) fn list_options(
    store: &Store,
    res: ResId,
    query: &Query,
) -> Result<ListOptions, ApiError> {
    let limit = match query.get("limit").map(String::as_str) {
        None | Some("") => None,
        Some(l) => Some(
            l.parse::<usize>()
                .map_err(|_| ApiError::bad_request(format!("limit: Invalid value: \"{l}\"")))?,
        ),
    };
    Ok(ListOptions {
        selectors: selectors(store, res, query)?,
        limit,
        continue_token: query.get("continue").cloned(),
        resource_version: query.get("resourceVersion").cloned(),
        resource_version_match: query.get("resourceVersionMatch").cloned(),
    })
}
