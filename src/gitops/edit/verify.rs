//! Verification: parse before and after with serde-saphyr (independent of the syntax tree
//! used to edit) and require that the only difference is the intended one.

use serde_json::{Map, Value};

use super::{EditError, PathSeg, YamlEdit, YamlOp, cst, path_to_string};

/// One document of a file: its byte range and what it parses to (`None`: an empty or null
/// document, which serde-saphyr skips in a stream).
#[derive(Debug)]
pub(super) struct Doc {
    pub start: usize,
    pub end: usize,
    pub value: Option<Value>,
}

fn options() -> serde_saphyr::Options {
    // `.inf`/`.nan` must not make a file uneditable; compare them as strings.
    serde_saphyr::options! {
        non_finite_float_policy: serde_saphyr::NonFiniteFloatPolicy::AsString,
    }
}

fn first_line(e: &serde_saphyr::Error) -> String {
    e.to_string().lines().next().unwrap_or_default().to_string()
}

fn parse_stream(text: &str) -> Result<Vec<Value>, EditError> {
    serde_saphyr::from_multiple_with_options::<Value>(text, options())
        .map_err(|e| EditError::Parse(first_line(&e)))
}

/// Parse `text` as a whole and document by document (using the syntax tree's document
/// ranges); the two must agree, so per-document comparisons are sound.
pub(super) fn documents(text: &str) -> Result<Vec<Doc>, EditError> {
    let all = parse_stream(text)?;
    let root = cst::parse(text)?;
    let mut docs = Vec::new();
    for node in cst::documents(&root) {
        let (start, end) = cst::range(&node);
        let slice = text.get(start..end).unwrap_or_default();
        let mut values = parse_stream(slice).map_err(|e| split_error(&e.to_string()))?;
        if values.len() > 1 {
            return Err(split_error("one syntax-tree document holds several"));
        }
        docs.push(Doc {
            start,
            end,
            value: values.pop(),
        });
    }
    let split: Vec<&Value> = docs.iter().filter_map(|d| d.value.as_ref()).collect();
    if split.len() != all.len() || split.iter().zip(&all).any(|(a, b)| *a != b) {
        return Err(split_error("they differ from the file parsed as a whole"));
    }
    Ok(docs)
}

fn split_error(why: &str) -> EditError {
    EditError::Unsafe(format!(
        "cannot split the file into documents reliably: {why}"
    ))
}

/// Check `after` against `before` with `edit` applied on the parsed model.
pub(super) fn check(
    before: &[Doc],
    old: &str,
    new: &str,
    edit: &YamlEdit,
) -> Result<(), EditError> {
    let fail = |why: String| EditError::Verify(why);
    let after = documents(new).map_err(|e| fail(format!("the edited file does not parse: {e}")))?;
    if after.len() != before.len() {
        return Err(fail(format!(
            "the file has {} documents after the edit, {} before",
            after.len(),
            before.len()
        )));
    }
    let i = edit.document;
    let (Some(b), Some(a)) = (before.get(i), after.get(i)) else {
        return Err(EditError::NoDocument(i));
    };
    // Other documents and any text between them: byte for byte.
    if old.get(..b.start) != new.get(..a.start) || old.get(b.end..) != new.get(a.end..) {
        return Err(fail("text outside the edited document changed".into()));
    }
    let mut expected = b.value.clone().unwrap_or(Value::Null);
    apply_op(&mut expected, &edit.op)?;
    let got = a.value.clone().unwrap_or(Value::Null);
    if got != expected {
        return Err(fail(format!(
            "document {i} would read {} instead of {}",
            brief(&got),
            brief(&expected)
        )));
    }
    Ok(())
}

fn brief(v: &Value) -> String {
    let s = v.to_string();
    match s.char_indices().nth(300) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s,
    }
}

/// `op` on the JSON model: what the document must parse to after the edit.
fn apply_op(doc: &mut Value, op: &YamlOp) -> Result<(), EditError> {
    model_op(doc, op).map_err(EditError::Verify)
}

fn model_op(doc: &mut Value, op: &YamlOp) -> Result<(), String> {
    match op {
        YamlOp::Set { path, value } => {
            *slot(doc, path)? = value.clone();
        }
        YamlOp::Append { path, value } => {
            let target = slot(doc, path)?;
            if target.is_null() {
                *target = Value::Array(Vec::new());
            }
            let Value::Array(items) = target else {
                return Err(format!("{} is not a sequence", path_to_string(path)));
            };
            items.push(value.clone());
        }
        YamlOp::Remove { path } => {
            let Some((PathSeg::Key(k), parent)) = path.split_last() else {
                return Err(format!("{} is not a mapping key", path_to_string(path)));
            };
            let removed = match slot(doc, parent)? {
                Value::Object(map) => map.shift_remove(k),
                _ => None,
            };
            if removed.is_none() {
                return Err(format!(
                    "{} not found in the parsed document",
                    path_to_string(path)
                ));
            }
        }
    }
    Ok(())
}

/// The value at `path`, creating missing mapping keys (a null becomes a mapping).
fn slot<'v>(mut v: &'v mut Value, path: &[PathSeg]) -> Result<&'v mut Value, String> {
    for (i, seg) in path.iter().enumerate() {
        let missing = || {
            format!(
                "{} not found in the parsed document",
                path_to_string(&path[..=i])
            )
        };
        v = match seg {
            PathSeg::Key(k) => {
                if v.is_null() {
                    *v = Value::Object(Map::new());
                }
                let Value::Object(map) = v else {
                    return Err(missing());
                };
                map.entry(k.clone()).or_insert(Value::Null)
            }
            PathSeg::Index(n) => v.get_mut(*n).ok_or_else(missing)?,
            PathSeg::Match { key, value } => {
                let Value::Array(items) = v else {
                    return Err(missing());
                };
                items
                    .iter_mut()
                    .find(|item| item.get(key).is_some_and(|x| scalar_is(x, value)))
                    .ok_or_else(missing)?
            }
        };
    }
    Ok(v)
}

fn scalar_is(v: &Value, s: &str) -> bool {
    match v {
        Value::String(x) => x == s,
        Value::Number(n) => n.to_string() == s,
        Value::Bool(b) => b.to_string() == s,
        _ => false,
    }
}
