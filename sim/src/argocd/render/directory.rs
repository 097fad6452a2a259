//! Plain-directory sources: `*.yaml`, `*.yml`, `*.json` under the app path, optionally recursive,
//! filtered by `directory.include` / `directory.exclude` globs (brace lists allowed, as Argo CD).

use globset::{Glob, GlobMatcher};
use serde_json::Value;

use super::{RenderResult, Tree, parse_manifests};

pub fn render(
    tree: &Tree<'_>,
    path: &str,
    directory: Option<&Value>,
    max_objects: usize,
) -> RenderResult<Vec<Value>> {
    let opt = |k: &str| directory.and_then(|d| d.get(k));
    let recurse = opt("recurse").and_then(Value::as_bool).unwrap_or(false);
    let include = matcher(opt("include").and_then(Value::as_str).unwrap_or(""))?;
    let exclude = matcher(opt("exclude").and_then(Value::as_str).unwrap_or(""))?;
    let prefix_len = if path.is_empty() { 0 } else { path.len() + 1 };
    let mut out = Vec::new();
    for file in tree.files_under(path) {
        let rel = &file[prefix_len..];
        if !recurse && rel.contains('/') {
            continue;
        }
        if !(rel.ends_with(".yaml") || rel.ends_with(".yml") || rel.ends_with(".json")) {
            continue;
        }
        if include.as_ref().is_some_and(|m| !m.is_match(rel)) {
            continue;
        }
        if exclude.as_ref().is_some_and(|m| m.is_match(rel)) {
            continue;
        }
        out.extend(parse_manifests(&file, &tree.read(&file)?)?);
        if out.len() > max_objects {
            return Err(format!("more than {max_objects} objects rendered"));
        }
    }
    Ok(out)
}

fn matcher(pattern: &str) -> RenderResult<Option<GlobMatcher>> {
    if pattern.is_empty() {
        return Ok(None);
    }
    Glob::new(pattern)
        .map(|g| Some(g.compile_matcher()))
        .map_err(|e| format!("invalid glob {pattern:?}: {e}"))
}
