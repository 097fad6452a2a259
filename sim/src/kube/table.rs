//! Server-side printing: `meta.k8s.io/v1` `Table` responses, which kubectl asks for on `get`
//! (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`), with the columns the real server
//! prints for the common kinds (pods: READY, STATUS, RESTARTS, ...) and NAME/AGE otherwise.

use serde_json::{Value, json};

use super::registry::ResourceType;

/// The Table version the client accepts (`v1` or `v1beta1`), if it asks for one.
pub fn wanted(accept: &str) -> Option<&'static str> {
    let mut found = None;
    for part in accept.split(',') {
        let params: Vec<&str> = part.split(';').map(str::trim).collect();
        if !params.contains(&"as=Table") || !params.contains(&"g=meta.k8s.io") {
            continue;
        }
        if params.contains(&"v=v1") {
            return Some("v1");
        }
        if params.contains(&"v=v1beta1") {
            found = Some("v1beta1");
        }
    }
    found
}

/// `includeObject`: what each row carries besides its cells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Include {
    None,
    Metadata,
    Object,
}

impl Include {
    pub fn parse(s: Option<&str>) -> Include {
        match s {
            Some("None") => Include::None,
            Some("Object") => Include::Object,
            _ => Include::Metadata,
        }
    }
}

struct Column {
    name: &'static str,
    ty: &'static str,
    priority: u8,
}

const fn col(name: &'static str, ty: &'static str, priority: u8) -> Column {
    Column { name, ty, priority }
}

fn columns(rt: &ResourceType) -> Vec<Column> {
    let name = col("Name", "string", 0);
    let age = col("Age", "string", 0);
    match (rt.group.as_str(), rt.kind.as_str()) {
        ("", "Pod") => vec![
            name,
            col("Ready", "string", 0),
            col("Status", "string", 0),
            col("Restarts", "string", 0),
            age,
            col("IP", "string", 1),
            col("Node", "string", 1),
        ],
        ("apps", "Deployment") => vec![
            name,
            col("Ready", "string", 0),
            col("Up-to-date", "integer", 0),
            col("Available", "integer", 0),
            age,
            col("Containers", "string", 1),
            col("Images", "string", 1),
        ],
        ("apps", "ReplicaSet") => vec![
            name,
            col("Desired", "integer", 0),
            col("Current", "integer", 0),
            col("Ready", "integer", 0),
            age,
        ],
        ("apps", "StatefulSet") => vec![name, col("Ready", "string", 0), age],
        ("", "Namespace") => vec![name, col("Status", "string", 0), age],
        ("", "Node") => vec![name, col("Status", "string", 0), age],
        ("", "Event") => vec![
            col("Last Seen", "string", 0),
            col("Type", "string", 0),
            col("Reason", "string", 0),
            col("Object", "string", 0),
            col("Message", "string", 0),
            col("Name", "string", 1),
        ],
        // The Argo CD CRD's additionalPrinterColumns.
        ("argoproj.io", "Application") => vec![
            name,
            col("Sync Status", "string", 0),
            col("Health Status", "string", 0),
            col("Revision", "string", 10),
            col("Project", "string", 10),
        ],
        _ => vec![name, age],
    }
}

fn s<'a>(obj: &'a Value, pointer: &str) -> &'a str {
    obj.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

fn n(obj: &Value, pointer: &str) -> i64 {
    obj.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

fn items<'a>(obj: &'a Value, pointer: &str) -> &'a [Value] {
    obj.pointer(pointer)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// kubectl's short human durations: 42s, 3m20s, 5h, 4d.
fn human_age(timestamp: &str, now: jiff::Timestamp) -> String {
    let Ok(then) = timestamp.parse::<jiff::Timestamp>() else {
        return "<unknown>".into();
    };
    let secs = (now.as_second() - then.as_second()).max(0);
    match secs {
        0..120 => format!("{secs}s"),
        120..600 => format!("{}m{}s", secs / 60, secs % 60),
        600..10_800 => format!("{}m", secs / 60),
        10_800..28_800 => format!("{}h{}m", secs / 3600, (secs % 3600) / 60),
        28_800..172_800 => format!("{}h", secs / 3600),
        172_800..691_200 => format!("{}d{}h", secs / 86_400, (secs % 86_400) / 3600),
        _ => format!("{}d", secs / 86_400),
    }
}

/// The STATUS column of `kubectl get pods`, following kubectl's printer.
fn pod_status(pod: &Value) -> String {
    let mut reason = s(pod, "/status/phase").to_string();
    if !s(pod, "/status/reason").is_empty() {
        reason = s(pod, "/status/reason").to_string();
    }
    let mut running = false;
    for cs in items(pod, "/status/containerStatuses").iter().rev() {
        let waiting = s(cs, "/state/waiting/reason");
        let terminated = s(cs, "/state/terminated/reason");
        if !waiting.is_empty() {
            reason = waiting.to_string();
        } else if !terminated.is_empty() {
            reason = terminated.to_string();
        } else if cs.pointer("/state/terminated").is_some() {
            reason = format!("ExitCode:{}", n(cs, "/state/terminated/exitCode"));
        } else if cs.get("ready").and_then(Value::as_bool) == Some(true)
            && cs.pointer("/state/running").is_some()
        {
            running = true;
        }
    }
    if reason == "Completed" && running {
        reason = "Running".into();
    }
    if pod.pointer("/metadata/deletionTimestamp").is_some() {
        reason = "Terminating".into();
    }
    if reason.is_empty() {
        "Pending".into()
    } else {
        reason
    }
}

fn cells(rt: &ResourceType, obj: &Value, now: jiff::Timestamp) -> Vec<Value> {
    let name = json!(s(obj, "/metadata/name"));
    let age = json!(human_age(s(obj, "/metadata/creationTimestamp"), now));
    let containers = |p: &str| {
        items(obj, p)
            .iter()
            .map(|c| s(c, "/name"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let images = |p: &str| {
        items(obj, p)
            .iter()
            .map(|c| s(c, "/image"))
            .collect::<Vec<_>>()
            .join(",")
    };
    match (rt.group.as_str(), rt.kind.as_str()) {
        ("", "Pod") => {
            let statuses = items(obj, "/status/containerStatuses");
            let ready = statuses
                .iter()
                .filter(|c| c.get("ready").and_then(Value::as_bool) == Some(true))
                .count();
            let total = items(obj, "/spec/containers").len();
            let restarts: i64 = statuses.iter().map(|c| n(c, "/restartCount")).sum();
            let none = |v: &str| {
                if v.is_empty() {
                    "<none>".to_string()
                } else {
                    v.to_string()
                }
            };
            vec![
                name,
                json!(format!("{ready}/{total}")),
                json!(pod_status(obj)),
                json!(restarts.to_string()),
                age,
                json!(none(s(obj, "/status/podIP"))),
                json!(none(s(obj, "/spec/nodeName"))),
            ]
        }
        ("apps", "Deployment") => vec![
            name,
            json!(format!(
                "{}/{}",
                n(obj, "/status/readyReplicas"),
                n(obj, "/spec/replicas")
            )),
            json!(n(obj, "/status/updatedReplicas")),
            json!(n(obj, "/status/availableReplicas")),
            age,
            json!(containers("/spec/template/spec/containers")),
            json!(images("/spec/template/spec/containers")),
        ],
        ("apps", "ReplicaSet") => vec![
            name,
            json!(n(obj, "/spec/replicas")),
            json!(n(obj, "/status/replicas")),
            json!(n(obj, "/status/readyReplicas")),
            age,
        ],
        ("apps", "StatefulSet") => vec![
            name,
            json!(format!(
                "{}/{}",
                n(obj, "/status/readyReplicas"),
                n(obj, "/spec/replicas")
            )),
            age,
        ],
        ("", "Namespace") => vec![name, json!(s(obj, "/status/phase")), age],
        ("", "Node") => {
            let ready = items(obj, "/status/conditions")
                .iter()
                .find(|c| s(c, "/type") == "Ready")
                .map(|c| {
                    if s(c, "/status") == "True" {
                        "Ready"
                    } else {
                        "NotReady"
                    }
                })
                .unwrap_or("Unknown");
            vec![name, json!(ready), age]
        }
        ("", "Event") => {
            let last = [
                "/lastTimestamp",
                "/eventTime",
                "/firstTimestamp",
                "/metadata/creationTimestamp",
            ]
            .iter()
            .map(|p| s(obj, p))
            .find(|t| !t.is_empty())
            .unwrap_or("");
            vec![
                json!(human_age(last, now)),
                json!(s(obj, "/type")),
                json!(s(obj, "/reason")),
                json!(format!(
                    "{}/{}",
                    s(obj, "/involvedObject/kind").to_ascii_lowercase(),
                    s(obj, "/involvedObject/name")
                )),
                json!(s(obj, "/message")),
                name,
            ]
        }
        ("argoproj.io", "Application") => vec![
            name,
            json!(s(obj, "/status/sync/status")),
            json!(s(obj, "/status/health/status")),
            json!(s(obj, "/status/sync/revision")),
            json!(s(obj, "/spec/project")),
        ],
        _ => vec![name, age],
    }
}

fn row(rt: &ResourceType, obj: &Value, include: Include, now: jiff::Timestamp) -> Value {
    let mut row = json!({"cells": cells(rt, obj, now)});
    match include {
        Include::None => {}
        Include::Metadata => {
            row["object"] = json!({
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": obj.get("metadata").cloned().unwrap_or(json!({})),
            });
        }
        Include::Object => {
            let mut full = obj.clone();
            full["kind"] = json!(rt.kind);
            full["apiVersion"] = json!(rt.api_version());
            row["object"] = full;
        }
    }
    row
}

/// A Table of `objects`; `list_meta` becomes its `metadata` (resourceVersion, continue).
pub fn table(
    rt: &ResourceType,
    version: &str,
    objects: &[Value],
    list_meta: Value,
    include: Include,
) -> Value {
    let now = jiff::Timestamp::now();
    let defs: Vec<Value> = columns(rt)
        .iter()
        .map(|c| {
            let format = if c.name == "Name" { "name" } else { "" };
            json!({"name": c.name, "type": c.ty, "format": format, "description": "", "priority": c.priority})
        })
        .collect();
    let rows: Vec<Value> = objects.iter().map(|o| row(rt, o, include, now)).collect();
    json!({
        "kind": "Table",
        "apiVersion": format!("meta.k8s.io/{version}"),
        "metadata": list_meta,
        "columnDefinitions": defs,
        "rows": rows,
    })
}
