//! Plain directory sources: every YAML/JSON manifest under `path` (subdirectories with
//! `directory.recurse`), filtered by the `include`/`exclude` globs on the path relative to the
//! source directory, exactly as Argo CD's repo server walks it.

use globset::{GlobBuilder, GlobMatcher};

use super::manifest::{self, concat, field_keys, field_path, field_value, objects, parse_docs};
use super::{Ctx, FileChange, LocateError, LocateRequest, Located, SourceCtx, paths};
use crate::gitops::edit::{YamlEdit, YamlOp};

pub(crate) fn locate<'a>(
    ctx: &Ctx<'_, 'a>,
    src: &SourceCtx<'_, 'a>,
) -> Result<Located, LocateError> {
    let req = ctx.req;
    let dir = src.effective.directory.clone().unwrap_or_default();
    let include = glob(dir.include.as_deref())?;
    let exclude = glob(dir.exclude.as_deref())?;
    let mut hits = Vec::new();
    let mut jsonnet = false;
    let mut unreadable: Vec<String> = Vec::new();
    for rel in paths::list(src.tree, &src.app_dir, dir.recurse.unwrap_or(false)) {
        if !is_manifest_name(&rel) || paths::file_name(&rel).starts_with(".argocd-source") {
            continue;
        }
        if exclude.as_ref().is_some_and(|g| g.is_match(&rel))
            || include.as_ref().is_some_and(|g| !g.is_match(&rel))
        {
            continue;
        }
        if rel.ends_with(".jsonnet") {
            jsonnet = true;
            continue;
        }
        let Some((real, text)) = paths::read(src.tree, &paths::child(&src.app_dir, &rel))? else {
            continue;
        };
        // A file that does not parse is not a manifest Argo CD applies (its sync fails on
        // it); skip it, but name it if the workload is not found elsewhere.
        let Some(docs) = parse_docs(&real, text) else {
            unreadable.push(real);
            continue;
        };
        for obj in objects(&docs) {
            if is_workload(obj.value, req, ctx.dest_namespace()) {
                let has_container =
                    manifest::get(obj.value, &manifest::container_path(req)).is_some();
                hits.push((real.clone(), obj.doc, obj.prefix.clone(), has_container));
            }
        }
    }
    let w = &req.workload;
    match hits.as_slice() {
        [] if jsonnet => Err(LocateError::Unsupported(format!(
            "{} {} is not in a plain manifest of {} and jsonnet files are not evaluated",
            w.kind, w.name, src.app_dir
        ))),
        [] => Err(LocateError::NotFound(format!(
            "no manifest of {} {} in directory {}{}",
            w.kind,
            w.name,
            shown(&src.app_dir),
            match unreadable.is_empty() {
                true => String::new(),
                false => format!("; not valid YAML, so skipped: {}", unreadable.join(", ")),
            }
        ))),
        [(file, doc, prefix, has_container)] => {
            if !has_container {
                return Err(no_container(req, file));
            }
            let edit = YamlEdit {
                document: *doc,
                op: YamlOp::Set {
                    path: concat(prefix, &field_path(req)),
                    value: field_value(req),
                },
            };
            Ok(Located {
                repo_url: src.source.repo_url.clone(),
                why: format!(
                    "Plain directory source {}: {file} declares {} {}, so container {} {} is written there.",
                    shown(&src.app_dir),
                    w.kind,
                    w.name,
                    req.container,
                    manifest::dotted(&field_keys(req))
                ),
                changes: vec![FileChange::Edit {
                    file: file.clone(),
                    edit,
                }],
            })
        }
        many => Err(LocateError::Refused(format!(
            "{} {} is declared {} times in {} ({}); Argo CD cannot apply that either",
            w.kind,
            w.name,
            many.len(),
            shown(&src.app_dir),
            many.iter()
                .map(|h| h.0.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

pub(crate) fn shown(dir: &str) -> &str {
    if dir.is_empty() { "." } else { dir }
}

pub(crate) fn no_container(req: &LocateRequest, file: &str) -> LocateError {
    let list = if req.init_container {
        "initContainers"
    } else {
        "containers"
    };
    LocateError::NotFound(format!(
        "{file} declares {} {} but no {list} entry named {}",
        req.workload.kind, req.workload.name, req.container
    ))
}

/// The object is the workload: kind/group, name, and namespace (its own, else `default_ns`).
pub(crate) fn is_workload(
    v: &serde_json::Value,
    req: &LocateRequest,
    default_ns: Option<&str>,
) -> bool {
    let w = &req.workload;
    manifest::same_kind(v, w)
        && manifest::name(v) == Some(w.name.as_str())
        && manifest::namespace(v)
            .or(default_ns)
            .is_none_or(|ns| ns == w.namespace)
}

/// Argo CD's manifest file pattern `^.*\.(yaml|yml|json|jsonnet)$`.
fn is_manifest_name(rel: &str) -> bool {
    [".yaml", ".yml", ".json", ".jsonnet"]
        .iter()
        .any(|ext| rel.ends_with(ext))
}

/// Argo CD matches with gobwas/glob without separators: `*` crosses `/`, `{a,b}` alternates.
fn glob(pattern: Option<&str>) -> Result<Option<GlobMatcher>, LocateError> {
    let Some(pattern) = pattern.filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    GlobBuilder::new(pattern)
        .literal_separator(false)
        .backslash_escape(true)
        .build()
        .map(|g| Some(g.compile_matcher()))
        .map_err(|e| LocateError::Refused(format!("directory glob {pattern:?} is invalid: {e}")))
}

#[cfg(test)]
mod tests;
