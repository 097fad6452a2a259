//! Plain directory sources: every YAML/JSON manifest under `path` (subdirectories with
//! `directory.recurse`), filtered by the `include`/`exclude` globs on the path relative to the
//! source directory, exactly as Argo CD's repo server walks it.

use globset::{GlobBuilder, GlobMatcher};

use super::manifest::{self, concat, field_keys, field_path, field_value, objects, parse_docs};
use super::{Ctx, FileChange, LocateError, LocateRequest, Located, SourceCtx, paths};
use crate::gitops::edit::{PathSeg, YamlEdit, YamlOp};

pub(crate) fn locate<'a>(
    ctx: &Ctx<'_, 'a>,
    src: &SourceCtx<'_, 'a>,
) -> Result<Located, LocateError> {
    let req = ctx.req;
    let dir = src.effective.directory.clone().unwrap_or_default();
    let include = glob(dir.include.as_deref())?;
    let exclude = glob(dir.exclude.as_deref())?;
    let recurse = dir.recurse.unwrap_or(false);
    let name = req.workload.name.as_str();
    // Through the index, only the files that mention the name are read; a miss is scanned
    // again in full so its message (jsonnet files, files that do not parse) is exact.
    let indexed = src
        .tree
        .index()
        .entries_mentioning(name, &src.app_dir)
        .map(|entries| {
            entries
                .into_iter()
                .map(|path| relative(&src.app_dir, path).to_string())
                .filter(|rel| recurse || !rel.contains('/'))
                .collect::<Vec<_>>()
        });
    let mut scan = match indexed {
        Some(rels) => search(ctx, src, include.as_ref(), exclude.as_ref(), rels)?,
        None => Scan::default(),
    };
    if scan.hits.is_empty() {
        let all = paths::list(src.tree, &src.app_dir, recurse);
        scan = search(ctx, src, include.as_ref(), exclude.as_ref(), all)?;
    }
    let Scan {
        hits,
        jsonnet,
        unreadable,
    } = scan;
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

/// What a pass over the files found.
#[derive(Default)]
struct Scan {
    /// (file, document, path of the object in it, declares the container)
    hits: Vec<(String, usize, Vec<PathSeg>, bool)>,
    jsonnet: bool,
    unreadable: Vec<String>,
}

/// Read the listed files (paths relative to the source directory, sorted) for the workload.
fn search(
    ctx: &Ctx<'_, '_>,
    src: &SourceCtx<'_, '_>,
    include: Option<&GlobMatcher>,
    exclude: Option<&GlobMatcher>,
    rels: Vec<String>,
) -> Result<Scan, LocateError> {
    let req = ctx.req;
    let name = req.workload.name.as_str();
    let mut scan = Scan::default();
    for rel in rels {
        if !is_manifest_name(&rel) || paths::file_name(&rel).starts_with(".argocd-source") {
            continue;
        }
        if exclude.is_some_and(|g| g.is_match(&rel)) || include.is_some_and(|g| !g.is_match(&rel)) {
            continue;
        }
        if rel.ends_with(".jsonnet") {
            scan.jsonnet = true;
            continue;
        }
        let path = paths::child(&src.app_dir, &rel);
        // A manifest declaring the workload names it; skipping files that do not even contain
        // the name keeps a 10,000-file directory from being parsed for every proposal. (A
        // listed regular file is its own canonical path; symlinks go through `read`.)
        if src
            .tree
            .file(&path)
            .is_some_and(|text| !text.contains(name))
        {
            continue;
        }
        let Some((real, text)) = paths::read(src.tree, &path)? else {
            continue;
        };
        if !text.contains(name) {
            continue;
        }
        // A file that does not parse is not a manifest Argo CD applies (its sync fails on
        // it); skip it, but name it if the workload is not found elsewhere.
        let Some(docs) = parse_docs(&real, text) else {
            scan.unreadable.push(real);
            continue;
        };
        for obj in objects(&docs) {
            if is_workload(obj.value, req, ctx.dest_namespace()) {
                let has_container =
                    manifest::get(obj.value, &manifest::container_path(req)).is_some();
                scan.hits
                    .push((real.clone(), obj.doc, obj.prefix.clone(), has_container));
            }
        }
    }
    Ok(scan)
}

/// `path` relative to the directory `dir` it is under.
fn relative<'p>(dir: &str, path: &'p str) -> &'p str {
    if dir.is_empty() {
        path
    } else {
        &path[dir.len() + 1..]
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
