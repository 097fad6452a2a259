//! Which patches of a Kustomize build set a field of one resource, in the order kustomize
//! applies them (inner layers first; per layer: components, `patchesStrategicMerge`, `patches`,
//! `patchesJson6902`), so the last one found is the one in effect.

use serde_json::Value;

use super::super::manifest::{self, parse_docs};
use super::super::source_overrides::Origin;
use super::super::{LocateError, paths};
use super::build::{Build, Layer, Res, is_path_like};
use crate::gitops::edit::PathSeg;
use crate::gitops::tree::RepoTree;
use crate::objref::ObjectRef;

/// Where a setting patch lives.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum PatchLoc {
    /// A patch file; the field is at `path` in document `doc`.
    File {
        file: String,
        doc: usize,
        path: Vec<PathSeg>,
    },
    /// A patch written as a string inside a kustomization (`place` says where).
    Inline { place: String },
    /// A patch in the Application's (or an override file's) `kustomize.patches`.
    Argo { origin: Origin, index: usize },
}

#[derive(Clone, Debug)]
pub(crate) struct Setter {
    pub loc: PatchLoc,
}

/// What the patches are looked at for: one resource, its names, the field path in it.
pub(crate) struct Query<'q> {
    pub res: &'q Res,
    pub names: &'q [String],
    /// Path of the field from the object root (`spec.template.spec.containers[name=c]....`).
    pub field: &'q [PathSeg],
    /// The same path as a JSON pointer with the container's index, for JSON 6902 ops.
    pub pointer: Option<String>,
}

pub(crate) fn setters(
    tree: &RepoTree,
    build: &Build,
    q: &Query<'_>,
    argo: Option<(&Origin, &Value)>,
) -> Result<Vec<Setter>, LocateError> {
    let mut out = Vec::new();
    for &li in &q.res.chain {
        let layer = &build.layers[li];
        for &c in &layer.components {
            layer_setters(tree, &build.layers[c], q, &mut out)?;
        }
        layer_setters(tree, layer, q, &mut out)?;
    }
    if let Some((origin, patches)) = argo {
        for (index, p) in patches
            .as_array()
            .map_or(&[][..], Vec::as_slice)
            .iter()
            .enumerate()
        {
            let body = p
                .get("patch")
                .and_then(Value::as_str)
                .and_then(|s| parse_docs("inline.yaml", s));
            if let Some(docs) = body
                && !sets(&docs, p.get("target"), q).is_empty()
            {
                out.push(Setter {
                    loc: PatchLoc::Argo {
                        origin: origin.clone(),
                        index,
                    },
                });
            }
        }
    }
    Ok(out)
}

fn layer_setters(
    tree: &RepoTree,
    layer: &Layer,
    q: &Query<'_>,
    out: &mut Vec<Setter>,
) -> Result<(), LocateError> {
    let mut found = |loc: PatchLoc| out.push(Setter { loc });
    for (i, entry) in layer.list("patchesStrategicMerge").iter().enumerate() {
        let Some(s) = entry.as_str() else { continue };
        if is_path_like(s) {
            for (file, doc, path) in file_sets(tree, &layer.dir, s, None, q)? {
                found(PatchLoc::File { file, doc, path });
            }
        } else if parse_docs("inline.yaml", s).is_some_and(|docs| !sets(&docs, None, q).is_empty())
        {
            found(PatchLoc::Inline {
                place: format!("inline patchesStrategicMerge[{i}] in {}", layer.file),
            });
        }
    }
    for key in ["patches", "patchesJson6902"] {
        for (i, entry) in layer.list(key).iter().enumerate() {
            let target = entry.get("target");
            if let Some(path) = entry.get("path").and_then(Value::as_str) {
                for (file, doc, path) in file_sets(tree, &layer.dir, path, target, q)? {
                    found(PatchLoc::File { file, doc, path });
                }
            } else if let Some(s) = entry.get("patch").and_then(Value::as_str)
                && parse_docs("inline.yaml", s)
                    .is_some_and(|docs| !sets(&docs, target, q).is_empty())
            {
                found(PatchLoc::Inline {
                    place: format!("inline {key}[{i}].patch in {}", layer.file),
                });
            }
        }
    }
    Ok(())
}

/// (file, document, path) for each place in the patch file `rel` that sets the field.
fn file_sets(
    tree: &RepoTree,
    dir: &str,
    rel: &str,
    target: Option<&Value>,
    q: &Query<'_>,
) -> Result<Vec<(String, usize, Vec<PathSeg>)>, LocateError> {
    let path = paths::join_relative(dir, rel)?;
    let Some((real, text)) = paths::read(tree, &path)? else {
        return Ok(Vec::new());
    };
    let docs = parse_docs(&real, text)
        .ok_or_else(|| LocateError::Refused(format!("patch {real} is not valid YAML")))?;
    Ok(sets(&docs, target, q)
        .into_iter()
        .map(|(doc, p)| (real.clone(), doc, p))
        .collect())
}

/// (document, path) of each patch document setting the field: a strategic merge patch naming
/// the resource (or selected by `target`), or a JSON 6902 op list whose op writes the field.
fn sets(docs: &[Value], target: Option<&Value>, q: &Query<'_>) -> Vec<(usize, Vec<PathSeg>)> {
    let mut out = Vec::new();
    for (i, doc) in docs.iter().enumerate() {
        if let Some(ops) = doc.as_array() {
            if target.is_some_and(|t| target_matches(t, q)) {
                out.extend(json6902_sets(ops, q).into_iter().map(|p| (i, p)));
            }
            continue;
        }
        let applies = match target {
            Some(t) => target_matches(t, q),
            None => {
                manifest::kind(doc) == manifest::kind(&q.res.obj)
                    && manifest::name(doc).is_some_and(|n| q.names.iter().any(|x| x == n))
            }
        };
        if applies && manifest::get(doc, q.field).is_some() {
            out.push((i, q.field.to_vec()));
        }
    }
    out
}

/// Paths in an op list (`[k].value...`) of ops that write the field or a parent of it.
fn json6902_sets(ops: &[Value], q: &Query<'_>) -> Vec<Vec<PathSeg>> {
    let Some(pointer) = q.pointer.as_deref() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (k, op) in ops.iter().enumerate() {
        let kind = op.get("op").and_then(Value::as_str).unwrap_or("");
        let Some(at) = op.get("path").and_then(Value::as_str) else {
            continue;
        };
        if !matches!(kind, "add" | "replace") {
            continue;
        }
        let rest = if at == pointer {
            ""
        } else if let Some(rest) = pointer.strip_prefix(at).and_then(|r| r.strip_prefix('/')) {
            rest
        } else {
            continue;
        };
        let mut path = vec![PathSeg::Index(k), PathSeg::Key("value".into())];
        path.extend(
            rest.split('/')
                .filter(|s| !s.is_empty())
                .map(|s| match s.parse::<usize>() {
                    Ok(i) => PathSeg::Index(i),
                    Err(_) => PathSeg::Key(s.replace("~1", "/").replace("~0", "~")),
                }),
        );
        if manifest::get(&Value::Array(ops.to_vec()), &path).is_some() {
            out.push(path);
        }
    }
    out
}

/// A patch `target` selecting the resource: kind, group, name (any of its names), namespace
/// and simple `k=v` label/annotation selectors.
fn target_matches(t: &Value, q: &Query<'_>) -> bool {
    let obj = &q.res.obj;
    let field = |k: &str| t.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
    let selector = |k: &str, meta: &str| {
        field(k).is_none_or(|sel| {
            sel.split(',').all(|kv| {
                let (key, val) = kv.split_once('=').unwrap_or((kv, ""));
                obj.get("metadata")
                    .and_then(|m| m.get(meta))
                    .and_then(|m| m.get(key.trim()))
                    .and_then(Value::as_str)
                    == Some(val.trim())
            })
        })
    };
    field("kind").is_none_or(|k| Some(k) == manifest::kind(obj))
        && field("group").is_none_or(|g| Some(g) == manifest::group(obj))
        && field("name").is_none_or(|n| q.names.iter().any(|x| x == n))
        && field("namespace").is_none_or(|ns| manifest::namespace(obj).is_none_or(|o| o == ns))
        && selector("labelSelector", "labels")
        && selector("annotationSelector", "annotations")
}

/// The JSON pointer of the field, with the container's index in the base resource.
pub(crate) fn pointer(
    res: &Res,
    workload: &ObjectRef,
    list: &str,
    container: &str,
    field: &[String],
) -> Option<String> {
    let spec = manifest::pod_spec_keys(workload);
    let mut v = &res.obj;
    for k in spec {
        v = v.get(k)?;
    }
    let index = v
        .get(list)?
        .as_array()?
        .iter()
        .position(|c| c.get("name").and_then(Value::as_str) == Some(container))?;
    let mut p = String::new();
    for k in spec.iter().copied().chain([list]) {
        p.push('/');
        p.push_str(k);
    }
    p.push_str(&format!("/{index}"));
    for k in field {
        p.push('/');
        p.push_str(&k.replace('~', "~0").replace('/', "~1"));
    }
    Some(p)
}
