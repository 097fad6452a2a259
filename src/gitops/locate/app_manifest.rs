//! App of apps: when the winning value is set on the Application itself, the Application may be
//! declared in Git (e.g. `argocd-example-apps/apps/`). Then the fix goes into that manifest.

use serde_json::Value;

use super::manifest::{self, concat, objects, parse_docs};
use super::{Ctx, FileChange, LocateError, Located, SourceCtx, app_sources, same_repo};
use crate::gitops::edit::{PathSeg, YamlEdit, YamlOp};

/// Edit the Application's manifest in Git at `rel` (a path inside its source) if a plain YAML
/// manifest of it is found in a repository we have and declares that field; else `NotInGit`
/// with `what` as the reason.
pub(crate) fn edit_or_not_in_git(
    ctx: &Ctx<'_, '_>,
    src: &SourceCtx<'_, '_>,
    rel: &[PathSeg],
    value: Value,
    what: &str,
) -> Result<Located, LocateError> {
    let path = concat(&src.app_source_path(ctx.app), rel);
    if let Some((repo_url, file, doc, full)) = find(ctx, &path) {
        let edit = YamlEdit {
            document: doc,
            op: YamlOp::Set { path: full, value },
        };
        return Ok(Located {
            repo_url,
            why: format!(
                "{what}; the Application is declared in Git in {file}, so the value is changed there."
            ),
            changes: vec![FileChange::Edit { file, edit }],
        });
    }
    Err(LocateError::NotInGit(format!(
        "{what}, and no manifest of that Application was found in Git"
    )))
}

/// (repoURL, file, document, full path) of the Application's manifest declaring `path`.
fn find(ctx: &Ctx<'_, '_>, path: &[PathSeg]) -> Option<(String, String, usize, Vec<PathSeg>)> {
    let name = ctx.app.metadata.name.as_deref()?;
    let namespace = ctx.app.metadata.namespace.as_deref();
    let mut repos: Vec<&str> = Vec::new();
    for app in ctx.all_apps.iter().chain(std::iter::once(ctx.app)) {
        for s in app_sources(app) {
            if !repos.iter().any(|r| same_repo(r, &s.repo_url)) {
                repos.push(&s.repo_url);
            }
        }
    }
    for repo_url in repos {
        let Some(tree) = (ctx.repo_for)(repo_url) else {
            continue;
        };
        // Only files that mention the word can declare an Application (see `index`).
        let candidates = tree
            .index()
            .entries_mentioning("Application", "")
            .unwrap_or_else(|| tree.entries.keys().map(String::as_str).collect());
        for file in candidates {
            let Some(text) = tree.file(file) else {
                continue;
            };
            // Cheap filter before parsing: only files that can hold an Application.
            if !(file.ends_with(".yaml") || file.ends_with(".yml") || file.ends_with(".json"))
                || !text.contains("Application")
            {
                continue;
            }
            let Some(docs) = parse_docs(file, text) else {
                continue;
            };
            for obj in objects(&docs) {
                let v = obj.value;
                let is_it = manifest::kind(v) == Some("Application")
                    && manifest::group(v) == Some("argoproj.io")
                    && manifest::name(v) == Some(name)
                    && manifest::namespace(v).is_none_or(|ns| Some(ns) == namespace);
                if is_it && manifest::get(v, path).is_some() {
                    return Some((
                        repo_url.to_string(),
                        file.to_string(),
                        obj.doc,
                        concat(&obj.prefix, path),
                    ));
                }
            }
        }
    }
    None
}
