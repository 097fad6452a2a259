//! Conversion between core/v1 Events (the storage shape) and events.k8s.io/v1 Events, with
//! the field renames of the real apiserver's conversion functions.

use serde_json::{Map, Value};

/// (events.k8s.io/v1 field, core/v1 field); the remaining fields have the same name.
const RENAMES: &[(&str, &str)] = &[
    ("regarding", "involvedObject"),
    ("note", "message"),
    ("reportingController", "reportingComponent"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
];

fn rename(obj: Value, api_version: &str, from_v1: bool) -> Value {
    let Value::Object(map) = obj else { return obj };
    let mut out = Map::new();
    for (key, value) in map {
        let renamed = RENAMES.iter().find_map(|(v1, core)| {
            let (from, to) = if from_v1 { (v1, core) } else { (core, v1) };
            (key == *from).then(|| to.to_string())
        });
        out.insert(renamed.unwrap_or(key), value);
    }
    out.insert("apiVersion".into(), Value::String(api_version.into()));
    Value::Object(out)
}

pub fn event_v1_to_core(obj: Value) -> Value {
    rename(obj, "v1", true)
}

pub fn event_core_to_v1(obj: Value) -> Value {
    rename(obj, "events.k8s.io/v1", false)
}
