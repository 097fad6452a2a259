//! The Kubernetes OpenAPI (Swagger 2.0) document of the fixtures, and a check that a served
//! object only has property paths the schema declares, each with the declared JSON type.
#![allow(dead_code)]

use serde_json::Value;

pub fn swagger() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/kubernetes/swagger.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("swagger.json fixture"))
        .expect("swagger json")
}

pub fn definition_for(swagger: &Value, group: &str, version: &str, kind: &str) -> String {
    let defs = swagger["definitions"].as_object().unwrap();
    defs.iter()
        .find(|(_, d)| {
            d["x-kubernetes-group-version-kind"]
                .as_array()
                .is_some_and(|gvks| {
                    gvks.iter().any(|g| {
                        g["group"] == group && g["version"] == version && g["kind"] == kind
                    })
                })
        })
        .map(|(name, _)| name.clone())
        .unwrap_or_else(|| panic!("no definition for {group}/{version} {kind}"))
}

/// Every property path in `value` exists in the schema with the right JSON type.
pub fn check_schema(
    swagger: &Value,
    schema: &Value,
    value: &Value,
    path: &str,
    errors: &mut Vec<String>,
) {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let name = reference.trim_start_matches("#/definitions/");
        let def = &swagger["definitions"][name];
        if def.is_null() {
            errors.push(format!("{path}: unresolved {reference}"));
            return;
        }
        return check_schema(swagger, def, value, path, errors);
    }
    let format = schema.get("format").and_then(Value::as_str).unwrap_or("");
    let ty = schema.get("type").and_then(Value::as_str);
    let ok = match (ty, value) {
        (_, Value::Null) => true,
        (None, _) => true,
        (Some("string"), Value::String(_)) => true,
        (Some("string"), Value::Number(_)) => format == "int-or-string",
        (Some("integer"), Value::Number(n)) => n.is_i64() || n.is_u64(),
        (Some("number"), Value::Number(_)) => true,
        (Some("boolean"), Value::Bool(_)) => true,
        (Some("array"), Value::Array(_)) => true,
        (Some("object"), Value::Object(_)) => true,
        _ => false,
    };
    if !ok {
        errors.push(format!("{path}: expected {ty:?}, got {value}"));
        return;
    }
    match value {
        Value::Object(map) => {
            let props = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties");
            for (key, child) in map {
                let child_path = format!("{path}.{key}");
                match (props.and_then(|p| p.get(key)), additional) {
                    (Some(s), _) => check_schema(swagger, s, child, &child_path, errors),
                    (None, Some(s)) if s.is_object() => {
                        check_schema(swagger, s, child, &child_path, errors)
                    }
                    (None, _) if props.is_none() => {}
                    (None, _) => errors.push(format!("{child_path}: not in schema")),
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    check_schema(swagger, item_schema, item, &format!("{path}[{i}]"), errors);
                }
            }
        }
        _ => {}
    }
}
