//! PATCH bodies: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and strategic merge patch
//! for built-in kinds (lists merged by their merge key, e.g. containers by `name`).

use serde_json::{Map, Value};

use super::status::{ApiError, Reason};

/// The patch content types the server accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchType {
    Merge,
    Json,
    Strategic,
}

impl PatchType {
    pub const MERGE: &'static str = "application/merge-patch+json";
    pub const JSON: &'static str = "application/json-patch+json";
    pub const STRATEGIC: &'static str = "application/strategic-merge-patch+json";

    /// The patch type for a `Content-Type` header (parameters ignored).
    pub fn from_content_type(ct: &str) -> Option<Self> {
        match ct.split(';').next().unwrap_or("").trim() {
            Self::MERGE => Some(PatchType::Merge),
            Self::JSON => Some(PatchType::Json),
            Self::STRATEGIC => Some(PatchType::Strategic),
            _ => None,
        }
    }
}

/// Applies `patch` to `doc`; `typed` kinds support strategic merge, custom resources do not
/// (415, like the real server).
pub fn apply(doc: &Value, patch: &Value, kind: PatchType, typed: bool) -> Result<Value, ApiError> {
    match kind {
        PatchType::Merge => {
            if !patch.is_object() {
                return Err(ApiError::bad_request(
                    "json: cannot unmarshal a merge patch that is not an object",
                ));
            }
            let mut out = doc.clone();
            json_patch::merge(&mut out, patch);
            Ok(out)
        }
        PatchType::Json => {
            let ops: json_patch::Patch = serde_json::from_value(patch.clone())
                .map_err(|e| ApiError::bad_request(format!("invalid JSON patch: {e}")))?;
            let mut out = doc.clone();
            json_patch::patch(&mut out, &ops).map_err(|e| {
                ApiError::new(
                    Reason::Invalid,
                    format!("the server rejected our request due to an error in our request: {e}"),
                )
            })?;
            Ok(out)
        }
        PatchType::Strategic if !typed => Err(ApiError::unsupported_media_type(
            PatchType::STRATEGIC,
            &[PatchType::JSON, PatchType::MERGE],
        )),
        PatchType::Strategic => {
            if !patch.is_object() {
                return Err(ApiError::bad_request(
                    "strategic merge patch must be a JSON object",
                ));
            }
            strategic(doc, patch)
        }
    }
}

/// The merge key of list fields that strategic merge patches merge rather than replace.
fn merge_key(field: &str) -> Option<&'static [&'static str]> {
    Some(match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets"
        | "resourceClaims" => &["name"],
        // Container ports merge by containerPort; service ports by port.
        "ports" => &["containerPort", "port"],
        "volumeMounts" => &["mountPath"],
        "volumeDevices" => &["devicePath"],
        "conditions" => &["type"],
        "ownerReferences" => &["uid"],
        "hostAliases" => &["ip"],
        "topologySpreadConstraints" => &["topologyKey"],
        _ => return None,
    })
}

/// Lists of scalars merged as sets.
fn is_set_list(field: &str) -> bool {
    field == "finalizers"
}

fn strategic(doc: &Value, patch: &Value) -> Result<Value, ApiError> {
    match (doc, patch) {
        (Value::Object(d), Value::Object(p)) => Ok(Value::Object(merge_map(d, p)?)),
        _ => Ok(patch.clone()),
    }
}

fn refuse(directive: &str) -> ApiError {
    ApiError::bad_request(format!(
        "strategic merge patch directive {directive} is not supported by this server"
    ))
}

fn merge_map(
    doc: &Map<String, Value>,
    patch: &Map<String, Value>,
) -> Result<Map<String, Value>, ApiError> {
    match patch.get("$patch").and_then(Value::as_str) {
        None | Some("merge") => {}
        Some("replace") => {
            let mut out = patch.clone();
            out.remove("$patch");
            return Ok(out);
        }
        Some(other) => return Err(refuse(&format!("$patch: {other}"))),
    }
    let mut out = doc.clone();
    for (key, value) in patch {
        if key == "$patch" || key.starts_with("$setElementOrder/") {
            continue;
        }
        if key.starts_with('$') {
            return Err(refuse(key));
        }
        match value {
            Value::Null => {
                out.remove(key);
            }
            Value::Object(pm) => {
                let merged = match out.get(key) {
                    Some(Value::Object(dm)) => merge_map(dm, pm)?,
                    _ => merge_map(&Map::new(), pm)?,
                };
                out.insert(key.clone(), Value::Object(merged));
            }
            Value::Array(items) => {
                let current = out.get(key).and_then(Value::as_array);
                let merged = merge_list(key, current, items)?;
                out.insert(key.clone(), Value::Array(merged));
            }
            scalar => {
                out.insert(key.clone(), scalar.clone());
            }
        }
    }
    Ok(out)
}

fn merge_list(
    field: &str,
    doc: Option<&Vec<Value>>,
    patch: &[Value],
) -> Result<Vec<Value>, ApiError> {
    let doc = doc.cloned().unwrap_or_default();
    if is_set_list(field) {
        let mut out = doc;
        for v in patch {
            if !out.contains(v) {
                out.push(v.clone());
            }
        }
        return Ok(out);
    }
    let Some(keys) = merge_key(field) else {
        return Ok(patch.to_vec());
    };
    // The merge key is the first candidate the patch items carry.
    let key_of = |v: &Value| -> Option<(String, Value)> {
        keys.iter()
            .find_map(|k| v.get(*k).map(|x| (k.to_string(), x.clone())))
    };
    if patch
        .iter()
        .any(|p| p.get("$patch").and_then(Value::as_str) == Some("replace"))
    {
        return Ok(patch
            .iter()
            .filter(|p| p.get("$patch").is_none())
            .cloned()
            .collect());
    }
    let mut out = doc;
    for item in patch {
        let Some((k, kv)) = key_of(item) else {
            return Err(ApiError::bad_request(format!(
                "map: {item} does not contain declared merge key: {}",
                keys[0]
            )));
        };
        let pos = out.iter().position(|d| d.get(&k) == Some(&kv));
        let delete = item.get("$patch").and_then(Value::as_str) == Some("delete");
        match (pos, delete) {
            (Some(i), true) => {
                out.remove(i);
            }
            (None, true) => {}
            (Some(i), false) => {
                let merged = match (&out[i], item) {
                    (Value::Object(d), Value::Object(p)) => Value::Object(merge_map(d, p)?),
                    _ => item.clone(),
                };
                out[i] = merged;
            }
            (None, false) => {
                let fresh = match item {
                    Value::Object(p) => Value::Object(merge_map(&Map::new(), p)?),
                    other => other.clone(),
                };
                out.push(fresh);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc() -> Value {
        json!({"spec": {"containers": [
            {"name": "a", "image": "a:1", "env": [{"name": "X", "value": "1"}],
             "ports": [{"containerPort": 80}], "resources": {"limits": {"memory": "1Gi"}}},
            {"name": "b", "image": "b:1"}
        ]}, "metadata": {"finalizers": ["f1"]}, "status": {"conditions": [
            {"type": "Ready", "status": "False"}, {"type": "Scheduled", "status": "True"}
        ]}})
    }

    #[test]
    fn strategic_merges_lists_by_key() {
        let patch = json!({
            "spec": {"containers": [
                {"name": "a", "env": [{"name": "Y", "value": "2"}], "ports": [{"containerPort": 80, "name": "http"}],
                 "resources": {"limits": {"memory": null, "cpu": "1"}}},
                {"name": "c", "image": "c:1"}
            ]},
            "metadata": {"finalizers": ["f2", "f1"]},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]}
        });
        let out = apply(&doc(), &patch, PatchType::Strategic, true).unwrap();
        let containers = out["spec"]["containers"].as_array().unwrap();
        assert_eq!(containers.len(), 3);
        assert_eq!(containers[0]["image"], "a:1");
        assert_eq!(containers[0]["env"].as_array().unwrap().len(), 2);
        assert_eq!(
            containers[0]["ports"],
            json!([{"containerPort": 80, "name": "http"}])
        );
        assert_eq!(containers[0]["resources"], json!({"limits": {"cpu": "1"}}));
        assert_eq!(containers[1], json!({"name": "b", "image": "b:1"}));
        assert_eq!(containers[2]["name"], "c");
        assert_eq!(out["metadata"]["finalizers"], json!(["f1", "f2"]));
        assert_eq!(
            out["status"]["conditions"][0],
            json!({"type": "Ready", "status": "True"})
        );
        assert_eq!(out["status"]["conditions"][1]["type"], "Scheduled");
    }

    #[test]
    fn strategic_directives() {
        let delete = json!({"spec": {"containers": [{"name": "b", "$patch": "delete"}]}});
        let out = apply(&doc(), &delete, PatchType::Strategic, true).unwrap();
        assert_eq!(out["spec"]["containers"].as_array().unwrap().len(), 1);
        let replace = json!({"spec": {"$patch": "replace", "replicas": 1}});
        let out = apply(&doc(), &replace, PatchType::Strategic, true).unwrap();
        assert_eq!(out["spec"], json!({"replicas": 1}));
        let retain = json!({"spec": {"$retainKeys": ["x"]}});
        assert!(apply(&doc(), &retain, PatchType::Strategic, true).is_err());
        let no_key = json!({"spec": {"containers": [{"image": "x"}]}});
        assert!(apply(&doc(), &no_key, PatchType::Strategic, true).is_err());
        let e = apply(&doc(), &json!({}), PatchType::Strategic, false).unwrap_err();
        assert_eq!(e.code, 415);
    }

    #[test]
    fn merge_and_json_patch() {
        let out = apply(
            &doc(),
            &json!({"spec": {"containers": []}}),
            PatchType::Merge,
            true,
        )
        .unwrap();
        assert_eq!(out["spec"]["containers"], json!([]));
        assert_eq!(
            apply(&doc(), &json!([1]), PatchType::Merge, true)
                .unwrap_err()
                .code,
            400
        );
        let ops = json!([{"op": "replace", "path": "/spec/containers/1/image", "value": "b:2"}]);
        let out = apply(&doc(), &ops, PatchType::Json, true).unwrap();
        assert_eq!(out["spec"]["containers"][1]["image"], "b:2");
        let failing = json!([{"op": "test", "path": "/spec/containers/1/image", "value": "zzz"}]);
        assert_eq!(
            apply(&doc(), &failing, PatchType::Json, true)
                .unwrap_err()
                .code,
            422
        );
        assert_eq!(
            apply(&doc(), &json!({"op": "add"}), PatchType::Json, true)
                .unwrap_err()
                .code,
            400
        );
    }
}
