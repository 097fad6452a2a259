//! Validation like the real apiserver's for the cases clients hit: shape (decode through the
//! real k8s-openapi type), unknown fields (`fieldValidation`), object names, a few per-kind
//! rules (pods need containers, a Deployment's selector must match its template, pod specs
//! are mostly immutable).

use serde_json::{Map, Value};

use super::registry::ResourceType;
use super::status::{ApiError, Cause, cause};

/// The `fieldValidation` query parameter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FieldValidation {
    Ignore,
    /// Default since 1.27: unknown fields are dropped and reported in `Warning` headers.
    #[default]
    Warn,
    Strict,
}

impl FieldValidation {
    pub fn parse(s: &str) -> Result<Self, ApiError> {
        match s {
            "Ignore" => Ok(FieldValidation::Ignore),
            "Warn" | "" => Ok(FieldValidation::Warn),
            "Strict" => Ok(FieldValidation::Strict),
            other => Err(ApiError::bad_request(format!(
                "fieldValidation parameter unsupported: {other}"
            ))),
        }
    }
}

/// Checks the shape of `obj` for typed kinds and drops unknown fields (and nulls) in place, as
/// the real server's decode does. Returns the warnings to send.
pub fn shape(
    rt: &ResourceType,
    obj: &mut Value,
    mode: FieldValidation,
) -> Result<Vec<String>, ApiError> {
    let Some(check) = rt.typed else {
        return Ok(Vec::new());
    };
    let cannot = |why: String| {
        ApiError::bad_request(format!(
            "{} in version \"{}\" cannot be handled as a {}: {why}",
            rt.kind, rt.version, rt.kind
        ))
    };
    let known = check(obj).map_err(cannot)?;
    let mut unknown = Vec::new();
    prune(obj, &known, "", &mut unknown);
    let messages: Vec<String> = unknown
        .iter()
        .map(|path| format!("unknown field \"{path}\""))
        .collect();
    match mode {
        FieldValidation::Strict if !messages.is_empty() => Err(cannot(format!(
            "strict decoding error: {}",
            messages.join(", ")
        ))),
        FieldValidation::Ignore => Ok(Vec::new()),
        _ => Ok(messages),
    }
}

/// Removes from `input` every key the typed round trip `known` lacks, recording its path.
fn prune(input: &mut Value, known: &Value, path: &str, unknown: &mut Vec<String>) {
    match (input, known) {
        (Value::Object(map), Value::Object(known_map)) => {
            let keys: Vec<String> = map.keys().cloned().collect();
            for key in keys {
                let child_path = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                match (map.get_mut(&key), known_map.get(&key)) {
                    (Some(Value::Null), _) => {
                        map.remove(&key);
                    }
                    (Some(child), Some(known_child)) => {
                        prune(child, known_child, &child_path, unknown)
                    }
                    _ => {
                        map.remove(&key);
                        unknown.push(child_path);
                    }
                }
            }
        }
        (Value::Array(items), Value::Array(known_items)) => {
            for (i, (item, known_item)) in items.iter_mut().zip(known_items).enumerate() {
                prune(item, known_item, &format!("{path}[{i}]"), unknown);
            }
        }
        _ => {}
    }
}

const DNS1123_SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

fn is_dns1123_subdomain(s: &str) -> bool {
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    !s.is_empty() && s.len() <= 253 && s.split('.').all(label_ok)
}

/// Per-kind semantic checks on a create or update (`old` is the stored object on update).
pub fn semantics(rt: &ResourceType, obj: &Value, old: Option<&Value>) -> Result<(), ApiError> {
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let mut causes: Vec<Cause> = Vec::new();
    if !is_dns1123_subdomain(name) {
        causes.push(cause(
            "FieldValueInvalid",
            "metadata.name",
            format!("Invalid value: \"{name}\": {DNS1123_SUBDOMAIN_MSG}"),
        ));
    }
    if rt.group.is_empty() && rt.kind == "Pod" {
        pod_rules(obj, old, &mut causes);
    }
    if rt.group == "apps" {
        selector_rules(obj, old, &mut causes);
    }
    if causes.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(rt, name, causes))
    }
}

fn non_empty_array(v: Option<&Value>) -> bool {
    v.and_then(Value::as_array).is_some_and(|a| !a.is_empty())
}

fn pod_rules(obj: &Value, old: Option<&Value>, causes: &mut Vec<Cause>) {
    if !non_empty_array(obj.pointer("/spec/containers")) {
        causes.push(cause(
            "FieldValueRequired",
            "spec.containers",
            "Required value",
        ));
    }
    if let Some(old) = old
        && mutable_pod_spec(obj) != mutable_pod_spec(old)
    {
        causes.push(cause(
            "FieldValueForbidden",
            "spec",
            "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
        ));
    }
}

/// The pod spec with the fields an update may change blanked out.
fn mutable_pod_spec(pod: &Value) -> Value {
    let mut spec = pod.get("spec").cloned().unwrap_or(Value::Null);
    if let Value::Object(map) = &mut spec {
        for key in [
            "activeDeadlineSeconds",
            "tolerations",
            "terminationGracePeriodSeconds",
        ] {
            map.remove(key);
        }
        for list in ["containers", "initContainers"] {
            if let Some(Value::Array(items)) = map.get_mut(list) {
                for c in items.iter_mut().filter_map(Value::as_object_mut) {
                    c.remove("image");
                }
            }
        }
    }
    spec
}

/// Workload selectors: required, must match the template labels, immutable.
fn selector_rules(obj: &Value, old: Option<&Value>, causes: &mut Vec<Cause>) {
    let Some(selector) = obj.pointer("/spec/selector") else {
        causes.push(cause(
            "FieldValueRequired",
            "spec.selector",
            "Required value",
        ));
        return;
    };
    let labels = obj
        .pointer("/spec/template/metadata/labels")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let match_labels = selector
        .get("matchLabels")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_else(Map::new);
    let has_expressions = non_empty_array(selector.get("matchExpressions"));
    if match_labels.is_empty() && !has_expressions {
        causes.push(cause(
            "FieldValueInvalid",
            "spec.selector",
            "Invalid value: {}: empty selector is invalid for deployment",
        ));
    } else if match_labels.iter().any(|(k, v)| labels.get(k) != Some(v)) {
        causes.push(cause(
            "FieldValueInvalid",
            "spec.template.metadata.labels",
            format!(
                "Invalid value: {}: `selector` does not match template `labels`",
                Value::Object(labels.clone())
            ),
        ));
    }
    if let Some(old) = old
        && old.pointer("/spec/selector") != Some(selector)
    {
        causes.push(cause(
            "FieldValueInvalid",
            "spec.selector",
            format!("Invalid value: {selector}: field is immutable"),
        ));
    }
}
