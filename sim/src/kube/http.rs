//! The REST surface: path routing (`/api/v1/...`, `/apis/{group}/{version}/...`), verbs, query
//! parameters, content types and `Status` error bodies. Every request goes through one
//! fallback handler that parses the path itself, so no input can reach a panic in routing.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

use super::discovery;
use super::inject::Faults;
use super::openapi;
use super::params::{
    Query, content_type, delete_options, flag, list_options, parse_json, read_body, require_json,
    selectors, write_options,
};
use super::patch::PatchType;
use super::registry::ResId;
use super::respond::{
    aggregated_response, error_response, json_response, list_json, raw_json, text_response,
};
use super::status::{ApiError, Reason};
use super::store::{Store, Subresource};
use super::table;
use super::watch::WatchOptions;

pub(crate) struct App {
    pub store: Store,
    pub faults: Faults,
    pub token: Option<String>,
    pub bookmark_interval: Duration,
    pub openapi_v2: Option<Bytes>,
    pub server_address: String,
}

pub(crate) fn router(app: Arc<App>) -> Router {
    Router::new().fallback(handle).with_state(app)
}

async fn handle(State(app): State<Arc<App>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    // Re-checked while waiting, so clearing the rule releases held requests.
    let arrived = tokio::time::Instant::now();
    while let Some(delay) = app.faults.latency(&path) {
        let waited = arrived.elapsed();
        if waited >= delay {
            break;
        }
        tokio::time::sleep((delay - waited).min(Duration::from_millis(20))).await;
    }
    if let Some(err) = app.faults.take_failure(&path) {
        return error_response(&err);
    }
    let query: Query = form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
        .into_owned()
        .collect();
    let public = matches!(
        path.as_str(),
        "/healthz" | "/livez" | "/readyz" | "/version"
    );
    if !public && !authorized(&app, &parts.headers) {
        return error_response(&ApiError::unauthorized());
    }
    match serve(&app, &parts.method, &path, &parts.headers, &query, body).await {
        Ok(resp) => resp,
        Err(err) => error_response(&err),
    }
}

fn authorized(app: &App, headers: &HeaderMap) -> bool {
    let Some(token) = &app.token else {
        return true;
    };
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|given| given.trim() == token)
}

/// A resource request after routing.
struct Target {
    res: ResId,
    ns: Option<String>,
    name: Option<String>,
    status: bool,
}

fn segments(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect()
}

async fn serve(
    app: &App,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    query: &Query,
    body: Body,
) -> Result<Response, ApiError> {
    let segs = segments(path);
    let seg: Vec<&str> = segs.iter().map(String::as_str).collect();
    let registry = app.store.registry();
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let read_only = |v: Value| -> Result<Response, ApiError> {
        if method == Method::GET {
            Ok(json_response(StatusCode::OK, &v, &[]))
        } else {
            Err(ApiError::method_not_allowed())
        }
    };
    match seg.as_slice() {
        [] => read_only(json!({"paths": ["/api", "/api/v1", "/apis", "/healthz", "/version"]})),
        ["healthz" | "livez" | "readyz"] => Ok(text_response(StatusCode::OK, "ok")),
        ["version"] => read_only(discovery::version()),
        // client-go asks for protobuf here; only JSON is served, when configured.
        ["openapi", "v2"] => match &app.openapi_v2 {
            Some(doc) if accept.is_empty() || accept.contains("json") || accept.contains("*/*") => {
                Ok(raw_json(StatusCode::OK, doc.clone()))
            }
            Some(_) => Err(ApiError::new(
                Reason::NotAcceptable,
                "only application/json is served for /openapi/v2",
            )),
            None => Err(ApiError::no_such_resource()),
        },
        ["openapi", "v3"] => read_only(openapi::index(registry)),
        ["openapi", "v3", rest @ ..] => read_only(
            openapi::group_version(registry, &rest.join("/"))
                .ok_or_else(ApiError::no_such_resource)?,
        ),
        ["api"] if discovery::wants_aggregated(accept) => {
            aggregated_response(discovery::aggregated(registry, true))
        }
        ["api"] => read_only(discovery::api_versions(&app.server_address)),
        ["apis"] if discovery::wants_aggregated(accept) => {
            aggregated_response(discovery::aggregated(registry, false))
        }
        ["apis"] => read_only(discovery::api_group_list(registry)),
        ["apis", group] => {
            read_only(discovery::api_group(registry, group).ok_or_else(ApiError::no_such_resource)?)
        }
        ["api", version] => read_only(
            discovery::resource_list(registry, "", version)
                .ok_or_else(ApiError::no_such_resource)?,
        ),
        ["apis", group, version] => read_only(
            discovery::resource_list(registry, group, version)
                .ok_or_else(ApiError::no_such_resource)?,
        ),
        ["api", version, rest @ ..] => {
            let target = route(app, "", version, rest)?;
            resource(app, method, headers, query, body, target).await
        }
        ["apis", group, version, rest @ ..] => {
            let target = route(app, group, version, rest)?;
            resource(app, method, headers, query, body, target).await
        }
        _ => Err(ApiError::no_such_resource()),
    }
}

/// Resolves `[namespaces/{ns}/]{plural}[/{name}[/status]]` within a group version.
fn route(app: &App, group: &str, version: &str, rest: &[&str]) -> Result<Target, ApiError> {
    let registry = app.store.registry();
    let not_found = ApiError::no_such_resource;
    let (ns, rest) = match rest {
        ["namespaces", ns, plural, tail @ ..]
            if registry
                .find(group, version, plural)
                .and_then(|r| registry.get(r))
                .is_some_and(|t| t.namespaced) =>
        {
            (Some(ns.to_string()), {
                let mut v = vec![*plural];
                v.extend_from_slice(tail);
                v
            })
        }
        other => (None, other.to_vec()),
    };
    let (plural, name, sub) = match rest.as_slice() {
        [plural] => (*plural, None, None),
        [plural, name] => (*plural, Some(*name), None),
        [plural, name, sub] => (*plural, Some(*name), Some(*sub)),
        _ => return Err(not_found()),
    };
    let res = registry
        .find(group, version, plural)
        .ok_or_else(not_found)?;
    let rt = registry.get(res).ok_or_else(not_found)?;
    // Named namespaced objects need their namespace in the path.
    if rt.namespaced && ns.is_none() && name.is_some() {
        return Err(not_found());
    }
    let status = match sub {
        None => false,
        Some("status") if rt.status_subresource => true,
        Some(_) => return Err(not_found()),
    };
    Ok(Target {
        res,
        ns,
        name: name.map(str::to_string),
        status,
    })
}

async fn resource(
    app: &App,
    method: &Method,
    headers: &HeaderMap,
    query: &Query,
    body: Body,
    t: Target,
) -> Result<Response, ApiError> {
    let store = &app.store;
    let ns = t.ns.as_deref();
    let sub = if t.status {
        Subresource::Status
    } else {
        Subresource::Main
    };
    match (method.clone(), t.name.as_deref()) {
        (Method::GET, None) if flag(query, "watch") => watch(app, t.res, ns, query, headers),
        (Method::GET, None) => list(store, t.res, ns, query, headers),
        (Method::GET, Some(name)) => {
            let obj = store.get(t.res, ns, name)?;
            if let Some(version) = table::wanted(accept(headers)) {
                let rt = store.resource(t.res)?;
                let meta = json!({"resourceVersion": obj.pointer("/metadata/resourceVersion")});
                let include = table::Include::parse(query.get("includeObject").map(String::as_str));
                let doc = table::table(rt, version, std::slice::from_ref(&obj), meta, include);
                return Ok(json_response(StatusCode::OK, &doc, &[]));
            }
            Ok(json_response(StatusCode::OK, &obj, &[]))
        }
        (Method::POST, None) => {
            require_json(headers)?;
            let opts = write_options(query, sub)?;
            let obj = parse_json(&read_body(body).await?)?;
            let written = store.create(t.res, ns, obj, &opts)?;
            Ok(json_response(
                StatusCode::CREATED,
                &written.object,
                &written.warnings,
            ))
        }
        (Method::PUT, Some(name)) => {
            require_json(headers)?;
            let opts = write_options(query, sub)?;
            let obj = parse_json(&read_body(body).await?)?;
            let written = store.update(t.res, ns, name, obj, &opts)?;
            Ok(json_response(
                StatusCode::OK,
                &written.object,
                &written.warnings,
            ))
        }
        (Method::PATCH, Some(name)) => {
            let rt = store.resource(t.res)?;
            let ct = content_type(headers);
            let Some(kind) = PatchType::from_content_type(&ct) else {
                let mut accepted = vec![PatchType::JSON, PatchType::MERGE];
                if rt.typed.is_some() {
                    accepted.push(PatchType::STRATEGIC);
                }
                return Err(ApiError::unsupported_media_type(&ct, &accepted));
            };
            let opts = write_options(query, sub)?;
            let patch = parse_json(&read_body(body).await?)?;
            let written = store.patch(t.res, ns, name, &patch, kind, &opts)?;
            Ok(json_response(
                StatusCode::OK,
                &written.object,
                &written.warnings,
            ))
        }
        (Method::DELETE, Some(name)) if !t.status => {
            let opts = delete_options(query, &read_body(body).await?)?;
            let obj = store.delete(t.res, ns, name, &opts)?;
            let gone = obj.pointer("/metadata/deletionTimestamp").is_none() || opts.dry_run;
            let code = if gone {
                StatusCode::OK
            } else {
                StatusCode::ACCEPTED
            };
            Ok(json_response(code, &obj, &[]))
        }
        (Method::DELETE, None) => {
            let opts = delete_options(query, &read_body(body).await?)?;
            let listed = store.list(t.res, ns, &list_options(store, t.res, query)?)?;
            let mut deleted = Vec::new();
            for item in listed.items {
                let item_ns = item.pointer("/metadata/namespace").and_then(Value::as_str);
                let name = item
                    .pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                match store.delete(t.res, item_ns, name, &opts) {
                    Ok(obj) => deleted.push(obj),
                    Err(e) if e.reason == Reason::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
            let rt = store.resource(t.res)?;
            let list = list_json(
                rt.typed.is_some(),
                &rt.list_kind(),
                &rt.api_version(),
                deleted,
                store.resource_version(),
                None,
                None,
            );
            Ok(json_response(StatusCode::OK, &list, &[]))
        }
        _ => Err(ApiError::method_not_allowed()),
    }
}

fn accept(headers: &HeaderMap) -> &str {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

fn list(
    store: &Store,
    res: ResId,
    ns: Option<&str>,
    query: &Query,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let rt = store.resource(res)?;
    let result = store.list(res, ns, &list_options(store, res, query)?)?;
    if let Some(version) = table::wanted(accept(headers)) {
        let mut meta = json!({"resourceVersion": result.resource_version.to_string()});
        if let Some(c) = &result.continue_token {
            meta["continue"] = json!(c);
        }
        let include = table::Include::parse(query.get("includeObject").map(String::as_str));
        let doc = table::table(rt, version, &result.items, meta, include);
        return Ok(json_response(StatusCode::OK, &doc, &[]));
    }
    let list = list_json(
        rt.typed.is_some(),
        &rt.list_kind(),
        &rt.api_version(),
        result.items,
        result.resource_version,
        result.continue_token,
        result.remaining,
    );
    Ok(json_response(StatusCode::OK, &list, &[]))
}

/// Default watch length when the client sets no `timeoutSeconds` (the real server picks
/// 30-60 minutes).
const DEFAULT_WATCH_TIMEOUT: Duration = Duration::from_secs(30 * 60);

const MAX_WATCH_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);

fn watch(
    app: &App,
    res: ResId,
    ns: Option<&str>,
    query: &Query,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let timeout = match query.get("timeoutSeconds").map(String::as_str) {
        None | Some("") => DEFAULT_WATCH_TIMEOUT,
        // Capped so a huge value cannot overflow the deadline.
        Some(s) => Duration::from_secs(s.parse::<u64>().map_err(|_| {
            ApiError::bad_request(format!("timeoutSeconds: Invalid value: \"{s}\""))
        })?)
        .min(MAX_WATCH_TIMEOUT),
    };
    let send_initial_events = flag(query, "sendInitialEvents");
    if send_initial_events && !flag(query, "allowWatchBookmarks") {
        return Err(ApiError::invalid(
            app.store.resource(res)?,
            "",
            vec![super::status::cause(
                "FieldValueForbidden",
                "allowWatchBookmarks",
                "Forbidden: allowWatchBookmarks must be set to true when sendInitialEvents is set",
            )],
        ));
    }
    let watcher = app.store.watch(
        res,
        ns,
        WatchOptions {
            resource_version: query.get("resourceVersion").cloned(),
            selectors: selectors(&app.store, res, query)?,
            send_initial_events,
        },
    )?;
    let bookmarks = flag(query, "allowWatchBookmarks").then(|| {
        // tokio intervals panic on a zero period.
        let period = app.bookmark_interval.max(Duration::from_millis(10));
        tokio::time::interval_at(tokio::time::Instant::now() + period, period)
    });
    // kubectl get --watch asks for Tables: each event then carries a one-row Table.
    let render: Option<super::stream::Render> = match table::wanted(accept(headers)) {
        Some(version) => {
            let rt = app.store.resource(res)?.clone();
            let include = table::Include::parse(query.get("includeObject").map(String::as_str));
            Some(Box::new(move |obj: &Value| {
                let meta = json!({"resourceVersion": obj.pointer("/metadata/resourceVersion")});
                table::table(&rt, version, std::slice::from_ref(obj), meta, include)
            }))
        }
        None => None,
    };
    let stream = super::stream::WatchStream {
        watcher,
        render,
        bookmarks,
        deadline: tokio::time::Instant::now() + timeout,
        drops: app.faults.watch_drops(),
        done: false,
    };
    let body = Body::from_stream(futures_util::stream::unfold(stream, |mut s| async move {
        let chunk = s.next_chunk().await?;
        Some((Ok::<Bytes, Infallible>(chunk), s))
    }));
    let mut resp = Response::new(body);
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(resp)
}
