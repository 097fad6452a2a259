//! The Application status Argo CD maintains: the comparison with Git (`sync`, `resources[]`,
//! `health`, `conditions`), `operationState` and `history[]`.

use serde_json::{Value, json};

use super::apply::{Target, Tracked, subset};
use super::health;
use crate::kube::Store;

/// The result of comparing the rendered manifests with the live objects.
pub struct Comparison {
    pub revision: String,
    pub status: &'static str,
    pub resources: Vec<Value>,
    pub health: (String, String),
    /// Tracked live objects no longer rendered.
    pub extra: Vec<Tracked>,
}

pub fn compare(
    store: &Store,
    revision: &str,
    targets: &[Target],
    tracked: Vec<Tracked>,
) -> Comparison {
    let mut resources = Vec::new();
    let mut synced = true;
    let mut worst = ("Healthy".to_string(), String::new());
    for t in targets {
        let live = t.live(store);
        let in_sync = live.as_ref().is_some_and(|l| subset(&t.desired, l));
        synced &= in_sync;
        let (h, msg) = health::assess(live.as_ref());
        if health::rank(h) > health::rank(&worst.0) {
            worst = (h.to_string(), msg.clone());
        }
        let mut health = json!({"status": h});
        if !msg.is_empty() {
            health["message"] = json!(msg);
        }
        resources.push(entry(
            &t.group,
            &t.version,
            &t.kind,
            t.namespace.as_deref(),
            &t.name,
            if in_sync { "Synced" } else { "OutOfSync" },
            Some(health),
        ));
    }
    let extra: Vec<Tracked> = tracked
        .into_iter()
        .filter(|x| {
            !targets
                .iter()
                .any(|t| t.res == x.res && t.namespace == x.namespace && t.name == x.name)
        })
        .collect();
    for x in &extra {
        let mut e = entry(
            &x.group,
            &x.version,
            &x.kind,
            x.namespace.as_deref(),
            &x.name,
            "OutOfSync",
            None,
        );
        e["requiresPruning"] = json!(true);
        resources.push(e);
        synced = false;
    }
    Comparison {
        revision: revision.to_string(),
        status: if synced { "Synced" } else { "OutOfSync" },
        resources,
        health: worst,
        extra,
    }
}

fn entry(
    group: &str,
    version: &str,
    kind: &str,
    ns: Option<&str>,
    name: &str,
    status: &str,
    health: Option<Value>,
) -> Value {
    let mut e =
        json!({"group": group, "version": version, "kind": kind, "name": name, "status": status});
    if let Some(ns) = ns {
        e["namespace"] = json!(ns);
    }
    if let Some(h) = health {
        e["health"] = h;
    }
    e
}

/// A `syncResult.resources[]` entry.
pub fn result_entry(t: &Target, status: &str, message: &str) -> Value {
    json!({
        "group": t.group, "version": t.version, "kind": t.kind,
        "namespace": t.namespace.clone().unwrap_or_default(), "name": t.name,
        "status": status, "message": message, "syncPhase": "Sync", "hookPhase": "Running",
    })
}

pub fn pruned_entry(x: &Tracked, status: &str, message: &str) -> Value {
    json!({
        "group": x.group, "version": x.version, "kind": x.kind,
        "namespace": x.namespace.clone().unwrap_or_default(), "name": x.name,
        "status": status, "message": message, "syncPhase": "Sync", "hookPhase": "Running",
    })
}

/// Appends a deployment to `history`, keeping the newest `limit` entries.
pub fn push_history(
    status: &mut Value,
    revision: &str,
    source: &Value,
    started: &str,
    finished: &str,
    initiated_by: &Value,
    limit: usize,
) {
    let mut history = status
        .get("history")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let id = history
        .iter()
        .filter_map(|h| h.get("id").and_then(Value::as_i64))
        .max()
        .map_or(0, |m| m + 1);
    history.push(json!({
        "id": id, "revision": revision, "source": source,
        "deployStartedAt": started, "deployedAt": finished, "initiatedBy": initiated_by,
    }));
    let drop = history.len().saturating_sub(limit.max(1));
    history.drain(..drop);
    status["history"] = Value::Array(history);
}

/// `status.conditions` with one ComparisonError (or none).
pub fn set_comparison_error(status: &mut Value, error: Option<&str>, now: &str) {
    let mut conditions: Vec<Value> = status
        .get("conditions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|c| c.get("type").and_then(Value::as_str) != Some("ComparisonError"))
        .collect();
    if let Some(msg) = error {
        let since = status
            .get("conditions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|c| {
                c.get("type").and_then(Value::as_str) == Some("ComparisonError")
                    && c.get("message").and_then(Value::as_str) == Some(msg)
            })
            .and_then(|c| c.get("lastTransitionTime").cloned())
            .unwrap_or(json!(now));
        conditions
            .push(json!({"type": "ComparisonError", "message": msg, "lastTransitionTime": since}));
    }
    match status.as_object_mut() {
        Some(m) if conditions.is_empty() => {
            m.remove("conditions");
        }
        Some(m) => {
            m.insert("conditions".into(), Value::Array(conditions));
        }
        None => {}
    }
}
