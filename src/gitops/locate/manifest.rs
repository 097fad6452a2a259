//! Kubernetes objects inside YAML/JSON files, and where a container's fields live in them.

use serde_json::Value;

use super::{FieldTarget, LocateRequest};
use crate::gitops::edit::PathSeg;
use crate::objref::{ObjectRef, WorkloadKind};

/// Documents of a YAML stream, indexed as the edit module counts them: every document of the
/// stream, an empty one (`---` with nothing after it) included as `null`. serde-saphyr skips
/// empty documents, so the stream is also split at its markers and the two readings must agree;
/// if they do not, serde-saphyr's own order is used. JSON files are one document.
pub(crate) fn parse_docs(path: &str, text: &str) -> Option<Vec<Value>> {
    if path.ends_with(".json") {
        return serde_json::from_str::<Value>(text).ok().map(|v| vec![v]);
    }
    let all = serde_saphyr::from_multiple::<Value>(text).ok()?;
    let split: Option<Vec<Value>> = split_stream(text)
        .iter()
        .map(|chunk| {
            if has_content(chunk) {
                serde_saphyr::from_str::<Value>(chunk).ok()
            } else {
                Some(Value::Null)
            }
        })
        .collect();
    if let Some(split) = split {
        let non_null: Vec<&Value> = split.iter().filter(|v| !v.is_null()).collect();
        if non_null.len() == all.len() && non_null.iter().zip(&all).all(|(a, b)| *a == b) {
            return Some(split);
        }
    }
    Some(all)
}

/// The stream's documents as text: an explicit document (after `---`) always counts, a bare
/// one (before the first `---` or after `...`) only when it has content.
fn split_stream(text: &str) -> Vec<String> {
    let mut docs = Vec::new();
    let mut current = String::new();
    let mut explicit = false;
    let flush = |current: &mut String, explicit: bool, docs: &mut Vec<String>| {
        if explicit || has_content(current) {
            docs.push(std::mem::take(current));
        }
        current.clear();
    };
    for line in text.split_inclusive('\n') {
        let bare = line.trim_end_matches(['\n', '\r']);
        if bare == "---" || bare.starts_with("--- ") || bare.starts_with("---\t") {
            flush(&mut current, explicit, &mut docs);
            explicit = true;
            current.push_str(&line[3..]);
        } else if bare == "..." || bare.starts_with("... ") {
            flush(&mut current, explicit, &mut docs);
            explicit = false;
        } else {
            current.push_str(line);
        }
    }
    flush(&mut current, explicit, &mut docs);
    docs
}

/// Anything besides blank lines, comments and directives.
fn has_content(chunk: &str) -> bool {
    chunk.lines().any(|l| {
        let t = l.trim();
        !t.is_empty() && !t.starts_with('#') && !l.starts_with('%')
    })
}

/// One Kubernetes object found in a file: document index, path of the object inside the
/// document (empty, or `items[i]` of a `kind: List`) and the object.
pub(crate) struct Obj<'v> {
    pub doc: usize,
    pub prefix: Vec<PathSeg>,
    pub value: &'v Value,
}

pub(crate) fn objects(docs: &[Value]) -> Vec<Obj<'_>> {
    let mut out = Vec::new();
    for (doc, value) in docs.iter().enumerate().filter(|(_, v)| !v.is_null()) {
        let items = value.get("items").and_then(Value::as_array);
        match items {
            Some(items) if str_at(value, &["kind"]).is_some_and(|k| k.ends_with("List")) => {
                for (i, item) in items.iter().enumerate() {
                    out.push(Obj {
                        doc,
                        prefix: vec![PathSeg::Key("items".into()), PathSeg::Index(i)],
                        value: item,
                    });
                }
            }
            _ => out.push(Obj {
                doc,
                prefix: Vec::new(),
                value,
            }),
        }
    }
    out
}

pub(crate) fn str_at<'v>(v: &'v Value, keys: &[&str]) -> Option<&'v str> {
    keys.iter().try_fold(v, |v, k| v.get(k))?.as_str()
}

pub(crate) fn kind(v: &Value) -> Option<&str> {
    str_at(v, &["kind"])
}

pub(crate) fn name(v: &Value) -> Option<&str> {
    str_at(v, &["metadata", "name"])
}

pub(crate) fn namespace(v: &Value) -> Option<&str> {
    str_at(v, &["metadata", "namespace"]).filter(|ns| !ns.is_empty())
}

/// The API group of `apiVersion` (`apps/v1` -> `apps`, `v1` -> "").
pub(crate) fn group(v: &Value) -> Option<&str> {
    let api = str_at(v, &["apiVersion"])?;
    Some(api.rsplit_once('/').map_or("", |(g, _)| g))
}

/// Kind and group match the workload (a missing apiVersion is not held against it: patches
/// often omit it).
pub(crate) fn same_kind(v: &Value, w: &ObjectRef) -> bool {
    kind(v) == Some(w.kind.as_str()) && group(v).is_none_or(|g| g == w.group)
}

/// Keys from the object root to the workload's pod spec. A kind suture does not edit has
/// none it knows; the common `spec.template.spec` is tried.
pub(crate) fn pod_spec_keys(workload: &ObjectRef) -> &'static [&'static str] {
    workload
        .workload_kind()
        .unwrap_or(WorkloadKind::Deployment)
        .pod_spec_keys()
}

pub(crate) fn keys(keys: &[&str]) -> Vec<PathSeg> {
    keys.iter().map(|k| PathSeg::Key(k.to_string())).collect()
}

/// Path from the object root to the requested container (`containers[name=c]`).
pub(crate) fn container_path(req: &LocateRequest) -> Vec<PathSeg> {
    let mut path = keys(pod_spec_keys(&req.workload));
    let list = if req.init_container {
        "initContainers"
    } else {
        "containers"
    };
    path.push(PathSeg::Key(list.into()));
    path.push(PathSeg::Match {
        key: "name".into(),
        value: req.container.clone(),
    });
    path
}

/// The field under the container that the request changes.
pub(crate) fn field_keys(req: &LocateRequest) -> Vec<String> {
    match &req.target {
        FieldTarget::Container { field, .. } => field.clone(),
        FieldTarget::Image { .. } => vec!["image".into()],
    }
}

/// The new value to write at the container field.
pub(crate) fn field_value(req: &LocateRequest) -> Value {
    match &req.target {
        FieldTarget::Container { value, .. } => value.clone(),
        FieldTarget::Image { desired, .. } => Value::String(desired.clone()),
    }
}

/// Full path from the object root to the requested field.
pub(crate) fn field_path(req: &LocateRequest) -> Vec<PathSeg> {
    let mut path = container_path(req);
    path.extend(field_keys(req).into_iter().map(PathSeg::Key));
    path
}

/// The value at `path`, following `Match` through sequences of mappings.
pub(crate) fn get<'v>(v: &'v Value, path: &[PathSeg]) -> Option<&'v Value> {
    path.iter().try_fold(v, |v, seg| match seg {
        PathSeg::Key(k) => v.get(k.as_str()),
        PathSeg::Index(i) => v.get(*i),
        PathSeg::Match { key, value } => v
            .as_array()?
            .iter()
            .find(|item| item.get(key.as_str()).and_then(Value::as_str) == Some(value.as_str())),
    })
}

/// The object's path joined with a path inside it.
pub(crate) fn concat(prefix: &[PathSeg], rest: &[PathSeg]) -> Vec<PathSeg> {
    prefix.iter().chain(rest).cloned().collect()
}

/// Render a field for the PR body: `resources.limits.memory`.
pub(crate) fn dotted(keys: &[String]) -> String {
    keys.join(".")
}

/// The image name without tag or digest (`ghcr.io:443/a/b:1.2@sha256:..` -> `ghcr.io:443/a/b`).
pub(crate) fn image_name(image: &str) -> &str {
    let no_digest = image.split_once('@').map_or(image, |(n, _)| n);
    match no_digest.rfind(':') {
        Some(i) if !no_digest[i..].contains('/') => &no_digest[..i],
        _ => no_digest,
    }
}

/// Tag and digest of an image reference.
pub(crate) fn image_tag_digest(image: &str) -> (Option<&str>, Option<&str>) {
    let (no_digest, digest) = match image.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (image, None),
    };
    let tag = match no_digest.rfind(':') {
        Some(i) if !no_digest[i..].contains('/') => Some(&no_digest[i + 1..]),
        _ => None,
    };
    (tag, digest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn image_parts() {
        assert_eq!(image_name("nginx"), "nginx");
        assert_eq!(image_name("nginx:1.2"), "nginx");
        assert_eq!(image_name("reg:5000/a/nginx:1.2"), "reg:5000/a/nginx");
        assert_eq!(image_name("reg:5000/a/nginx"), "reg:5000/a/nginx");
        assert_eq!(image_name("a/b:1@sha256:ab"), "a/b");
        assert_eq!(
            image_tag_digest("a/b:1@sha256:ab"),
            (Some("1"), Some("sha256:ab"))
        );
        assert_eq!(image_tag_digest("reg:5000/b"), (None, None));
    }

    #[test]
    fn lists_and_multi_docs() {
        let text = "---\nkind: List\napiVersion: v1\nitems:\n- {kind: Deployment, metadata: {name: a}}\n---\nkind: Service\n";
        let docs = parse_docs("x.yaml", text).unwrap_or_default();
        let objs = objects(&docs);
        assert_eq!(objs.len(), 2);
        assert_eq!(
            objs[0].prefix,
            vec![PathSeg::Key("items".into()), PathSeg::Index(0)]
        );
        assert_eq!((objs[1].doc, kind(objs[1].value)), (1, Some("Service")));
        assert!(parse_docs("x.yaml", "a: [").is_none());
    }

    #[test]
    fn document_indices_count_empty_documents() {
        let docs = |t: &str| parse_docs("x.yaml", t).unwrap_or_default();
        assert_eq!(
            docs("a: 1\n---\n---\na: 2\n"),
            [json!({"a": 1}), Value::Null, json!({"a": 2})]
        );
        assert_eq!(
            docs("# c\n---\na: 1\n...\n# between\n---\na: 2\n---\n"),
            [json!({"a": 1}), json!({"a": 2}), Value::Null]
        );
        assert_eq!(docs("%YAML 1.2\n--- |\n  text\n"), [json!("text\n")]);
        assert_eq!(docs("a: 1\n").len(), 1);
        assert_eq!(docs("key: |\n  ---\n  x\n"), [json!({"key": "---\nx\n"})]);
    }
}
