//! Kubernetes objects out of manifest text, as the simulated Argo CD and scenarios read them.
//!
//! Kept apart from the product's snapshot parsing on purpose: the simulators are the oracle
//! suture is tested against, and sharing the code under test would hide its bugs.

use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum ObjectsError {
    #[error("invalid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("invalid YAML: {0}")]
    Yaml(String),
}

/// The objects in `text`: a YAML stream (`---` separated) or one JSON value (an object or an
/// array of them). Empty documents are dropped and `kind: *List` objects are replaced by their
/// `items`, as `kubectl apply -f` does.
pub fn parse(text: &str) -> Result<Vec<Value>, ObjectsError> {
    let body = text.strip_prefix('\u{feff}').unwrap_or(text);
    let docs = match body.trim_start().as_bytes().first() {
        Some(b'{' | b'[') => match serde_json::from_str(body)? {
            Value::Array(items) => items,
            one => vec![one],
        },
        _ => {
            // Later duplicate keys win, as in the Go YAML decoders kubectl and Argo CD use.
            let options = serde_saphyr::options! {
                duplicate_keys: serde_saphyr::DuplicateKeyPolicy::LastWins,
            };
            serde_saphyr::from_multiple_with_options::<Value>(body, options)
                .map_err(|e| ObjectsError::Yaml(e.to_string()))?
        }
    };
    let mut out = Vec::with_capacity(docs.len());
    let mut stack: Vec<Value> = docs.into_iter().rev().collect();
    while let Some(doc) = stack.pop() {
        let is_list = doc
            .get("kind")
            .and_then(Value::as_str)
            .is_some_and(|k| k.ends_with("List"))
            && doc.get("items").is_some_and(Value::is_array);
        match doc {
            Value::Null => {}
            Value::Object(mut map) if is_list => {
                if let Some(Value::Array(items)) = map.remove("items") {
                    stack.extend(items.into_iter().rev());
                }
            }
            other => out.push(other),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn yaml_stream_with_empty_documents() {
        let text = "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n---\n# only a comment\n---\nkind: Secret\n";
        let objs = parse(text).unwrap();
        assert_eq!(objs.len(), 2);
        assert_eq!(objs[0]["metadata"]["name"], "a");
        assert_eq!(objs[1]["kind"], "Secret");
    }

    #[test]
    fn lists_are_flattened_in_order_even_nested() {
        let text = r#"{"kind": "List", "items": [
            {"kind": "Pod", "metadata": {"name": "p1"}},
            {"kind": "PodList", "items": [{"kind": "Pod", "metadata": {"name": "p2"}}]},
            {"kind": "Pod", "metadata": {"name": "p3"}}]}"#;
        let names: Vec<_> = parse(text)
            .unwrap()
            .iter()
            .map(|o| o["metadata"]["name"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(names, ["p1", "p2", "p3"]);
    }

    #[test]
    fn json_array_and_bom() {
        let objs = parse("\u{feff}  [{\"kind\": \"A\"}, {\"kind\": \"B\"}]").unwrap();
        assert_eq!(objs, vec![json!({"kind": "A"}), json!({"kind": "B"})]);
        // A JSON 6902 patch is a list of operations: kept as one array inside the array.
        let ops = parse("[[{\"op\": \"remove\", \"path\": \"/a\"}]]").unwrap();
        assert!(ops[0].is_array());
    }

    #[test]
    fn yaml_scalars_keep_their_types() {
        let objs = parse("a: 1\nb: \"1\"\nc: true\nd: 1.5\ne: null\n").unwrap();
        assert_eq!(
            objs[0],
            json!({"a": 1, "b": "1", "c": true, "d": 1.5, "e": null})
        );
    }

    #[test]
    fn later_duplicate_key_wins() {
        let objs = parse("kind: A\nkind: B\n").unwrap();
        assert_eq!(objs[0]["kind"], "B");
    }

    #[test]
    fn a_kind_ending_in_list_without_items_is_an_object() {
        let objs = parse("kind: AllowList\nspec: {}\n").unwrap();
        assert_eq!(objs[0]["kind"], "AllowList");
    }

    #[test]
    fn broken_input_is_an_error_naming_the_format() {
        assert!(matches!(parse("{\"a\": "), Err(ObjectsError::Json(_))));
        assert!(matches!(parse("a: [1, 2\n"), Err(ObjectsError::Yaml(_))));
    }
}
