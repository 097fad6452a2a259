//! A minimal OpenAPI v3 surface generated from the registry: the `/openapi/v3` index and one
//! document per group version listing each resource's operations with their
//! `x-kubernetes-group-version-kind` and query parameters. kubectl reads it to learn that the
//! server does field validation (`fieldValidation`), so `kubectl create/apply` validates
//! server-side. Schemas (`components`) are left empty: `kubectl explain` is not supported.

use serde_json::{Map, Value, json};

use super::registry::Registry;

fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// The `/openapi/v3` index.
pub fn index(registry: &Registry) -> Value {
    let mut paths = Map::new();
    for (group, versions) in registry.groups() {
        for version in versions {
            let p = gv_path(&group, &version);
            paths.insert(
                p.clone(),
                json!({"serverRelativeURL": format!("/openapi/v3/{p}?hash=sim-{}", registry.iter().count())}),
            );
        }
    }
    json!({"paths": paths})
}

fn param(name: &str) -> Value {
    json!({"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": true}})
}

/// The document for `api/v1` or `apis/{group}/{version}`, `None` when not served.
pub fn group_version(registry: &Registry, path: &str) -> Option<Value> {
    let (group, version) = match path.split('/').collect::<Vec<_>>().as_slice() {
        ["api", v] => (String::new(), v.to_string()),
        ["apis", g, v] => (g.to_string(), v.to_string()),
        _ => return None,
    };
    let mut paths = Map::new();
    for (_, t) in registry.iter() {
        if t.group != group || t.version != version {
            continue;
        }
        let gvk = json!({"group": t.group, "version": t.version, "kind": t.kind});
        let op = |action: &str, params: &[&str]| {
            json!({
                "operationId": format!("{action}{}", t.kind),
                "parameters": params.iter().map(|p| param(p)).collect::<Vec<_>>(),
                "responses": {"200": {"description": "OK"}},
                "x-kubernetes-action": action,
                "x-kubernetes-group-version-kind": gvk,
            })
        };
        let write = ["dryRun", "fieldManager", "fieldValidation"];
        let item = format!(
            "/{}/{{name}}",
            t.collection_path(Some("{namespace}"))
                .trim_start_matches('/')
        );
        paths.insert(
            t.collection_path(Some("{namespace}")),
            json!({"get": op("list", &["labelSelector", "fieldSelector", "limit", "continue", "watch"]),
                   "post": op("post", &write)}),
        );
        paths.insert(
            item,
            json!({"get": op("get", &[]), "put": op("put", &write),
                   "patch": op("patch", &["dryRun", "fieldManager", "fieldValidation", "force"]),
                   "delete": op("delete", &["dryRun"])}),
        );
    }
    if paths.is_empty() {
        return None;
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": format!("v{}.{}.0", super::discovery::MAJOR, super::discovery::MINOR)},
        "paths": paths,
        "components": {"schemas": {}},
    }))
}
