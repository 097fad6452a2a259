//! Helm sources. The chart's templates tell which values key feeds the field; then the key is
//! written where it takes effect, in Argo CD's order: `parameters` > `valuesObject` (which
//! replaces `values` entirely) > `values` > `valueFiles` (later file wins) > the chart's
//! `values.yaml`. `$ref/...` value files come from the source with that `ref`.

mod template;

use serde_json::Value;

use super::manifest::{self, field_keys, image_name, image_tag_digest, parse_docs};
use super::source_overrides::{Layers, Origin, describe};
use super::{Ctx, FileChange, LocateError, Located, SourceCtx, app_manifest, app_sources, paths};
use crate::gitops::argocd::ApplicationSource;
use crate::gitops::edit::{PathSeg, YamlEdit, YamlOp};
use template::Feed;

/// A chart in a Git repository (`path` with a `Chart.yaml`).
pub(crate) fn locate<'a>(
    ctx: &Ctx<'_, 'a>,
    src: &SourceCtx<'_, 'a>,
) -> Result<Located, LocateError> {
    let req = ctx.req;
    let field = field_keys(req);
    let (feed, template) = template::find(src.tree, &src.app_dir, req, &field)?;
    let chart = Chart::Git {
        values: paths::child(&src.app_dir, "values.yaml"),
    };
    let via = format!("template {template}");
    write_feed(ctx, src, &chart, &feed, &via)
}

/// A chart from a Helm repository: neither its templates nor its `values.yaml` are in Git, so
/// only `$ref` value files in Git can be edited; the key is the usual chart convention.
pub(crate) fn locate_chart_repo<'a>(
    ctx: &Ctx<'_, 'a>,
    index: usize,
    source: &ApplicationSource,
) -> Result<Located, LocateError> {
    let req = ctx.req;
    let chart_name = source.chart.clone().unwrap_or_default();
    let layers = Layers(vec![super::source_overrides::Layer {
        origin: Origin::App,
        src: serde_json::to_value(source).unwrap_or(Value::Null),
    }]);
    let src = SourceCtx {
        index,
        source,
        tree: &EMPTY,
        app_dir: String::new(),
        layers,
        effective: source.clone(),
    };
    let feed = match &req.target {
        super::FieldTarget::Image { .. } => Feed::Image {
            repository: Some(vec!["image".into(), "repository".into()]),
            tag: vec!["image".into(), "tag".into()],
            app_version_default: false,
        },
        super::FieldTarget::Container { field, .. } => Feed::Key(field.clone()),
    };
    let chart = Chart::Repo {
        name: chart_name,
        repo: source.repo_url.clone(),
    };
    write_feed(
        ctx,
        &src,
        &chart,
        &feed,
        "the usual chart convention (chart templates are not in Git)",
    )
}

/// The checkout of a source with no Git files to read (a chart from a Helm repository).
static EMPTY: crate::gitops::tree::RepoTree = crate::gitops::tree::RepoTree::new();

enum Chart {
    Git { values: String },
    Repo { name: String, repo: String },
}

fn write_feed<'a>(
    ctx: &Ctx<'_, 'a>,
    src: &SourceCtx<'_, 'a>,
    chart: &Chart,
    feed: &Feed,
    via: &str,
) -> Result<Located, LocateError> {
    let req = ctx.req;
    match (feed, &req.target) {
        (Feed::Key(key), _) => write(ctx, src, chart, key, manifest::field_value(req), via, false),
        (
            Feed::Image {
                repository,
                tag,
                app_version_default,
            },
            super::FieldTarget::Image { current, desired },
        ) => {
            let (d_tag, d_digest) = image_tag_digest(desired);
            let Some(d_tag) = d_tag.filter(|_| d_digest.is_none()) else {
                return Err(LocateError::Refused(format!(
                    "the chart takes a tag in {}; desired image {desired} is pinned by digest",
                    tag.join(".")
                )));
            };
            let mut located = write(
                ctx,
                src,
                chart,
                tag,
                Value::String(d_tag.into()),
                via,
                *app_version_default,
            )?;
            if image_name(desired) != image_name(current) {
                let Some(repo_key) = repository else {
                    return Err(LocateError::NotFound(format!(
                        "{via}: the image repository is not a values key"
                    )));
                };
                let repo = write(
                    ctx,
                    src,
                    chart,
                    repo_key,
                    Value::String(image_name(desired).into()),
                    via,
                    false,
                )?;
                if repo.repo_url != located.repo_url {
                    return Err(LocateError::Refused(
                        "image repository and tag are set in different repositories".into(),
                    ));
                }
                located.changes.extend(repo.changes);
                let tag_why = located.why.trim_end_matches('.');
                located.why = format!("{tag_why}; the image repository is changed alongside.");
            }
            Ok(located)
        }
        (Feed::Image { .. }, _) => Err(LocateError::NotFound(format!(
            "{via}: the field is part of the image"
        ))),
    }
}

/// Write `value` at values `key` where it takes effect.
fn write<'a>(
    ctx: &Ctx<'_, 'a>,
    src: &SourceCtx<'_, 'a>,
    chart: &Chart,
    key: &[String],
    value: Value,
    via: &str,
    create_in_defaults: bool,
) -> Result<Located, LocateError> {
    let dotted = key.join(".");
    let helm = src.effective.helm.clone().unwrap_or_default();
    let k = |s: &str| PathSeg::Key(s.into());
    let key_path: Vec<PathSeg> = key.iter().map(|s| k(s)).collect();
    let what = format!("values key {dotted} (from {via})");

    // 1. parameters (`--set`), the last layer's list in effect.
    if let Some((layer, params)) = src.layers.last(&[k("helm"), k("parameters")])
        && params.as_array().is_some_and(|ps| {
            ps.iter()
                .any(|p| p.get("name").and_then(Value::as_str) == Some(&dotted))
        })
    {
        let text = match &value {
            Value::String(s) => s.clone(),
            Value::Number(_) | Value::Bool(_) => value.to_string(),
            _ => {
                return Err(LocateError::Refused(format!(
                    "Helm parameter {dotted} cannot hold a structured value"
                )));
            }
        };
        let rel = vec![
            k("helm"),
            k("parameters"),
            PathSeg::Match {
                key: "name".into(),
                value: dotted.clone(),
            },
            k("value"),
        ];
        let place = describe(&layer.origin, ctx.app, &format!("Helm parameter {dotted}"));
        return on_layer(
            ctx,
            src,
            &layer.origin,
            rel,
            Value::String(text),
            &format!("{place} sets {what}"),
        );
    }
    // 2. valuesObject replaces `values` when set.
    if helm.values_object.as_ref().is_some_and(|v| !v.is_null()) {
        let mut path = vec![k("helm"), k("valuesObject")];
        path.extend(key_path.iter().cloned());
        if let Some((layer, _)) = src.layers.last(&path) {
            let place = describe(&layer.origin, ctx.app, "Helm valuesObject");
            return on_layer(
                ctx,
                src,
                &layer.origin,
                path,
                value,
                &format!("{place} sets {what}"),
            );
        }
    } else if let Some(values) = helm.values.as_deref()
        && serde_saphyr::from_str::<Value>(values)
            .ok()
            .is_some_and(|v| manifest::get(&v, &key_path).is_some())
    {
        let origin = src
            .layers
            .last(&[k("helm"), k("values")])
            .map_or(Origin::App, |(l, _)| l.origin.clone());
        let place = describe(&origin, ctx.app, "inline Helm values (a YAML string)");
        return Err(match origin {
            Origin::App => LocateError::NotInGit(format!("{place} set {what}")),
            Origin::File(_) => LocateError::Refused(format!(
                "{place} set {what}; a YAML string inside YAML is not edited automatically"
            )),
        });
    }
    // 3. valueFiles, the last one setting the key wins.
    let mut skipped = Vec::new();
    for file in helm.value_files.iter().rev() {
        let Some((repo_url, tree, path)) = value_file(ctx, src, file, &mut skipped)? else {
            continue;
        };
        let Some((real, text)) = paths::read(tree, &path)? else {
            skipped.push(format!("{file} (missing)"));
            continue;
        };
        let docs = parse_docs(&real, text)
            .ok_or_else(|| LocateError::Refused(format!("value file {real} is not valid YAML")))?;
        let (doc_index, doc) = values_doc(docs);
        if let Some(existing) = manifest::get(&doc, &key_path) {
            same_shape(existing, &value, &real, &dotted)?;
            return Ok(Located {
                repo_url,
                changes: vec![set_in(&real, doc_index, key_path, value)],
                why: format!(
                    "Helm value file {real} sets {what}, and no later value file, values or parameter overrides it."
                ),
            });
        }
    }
    let skipped = if skipped.is_empty() {
        String::new()
    } else {
        format!(" (not read: {})", skipped.join(", "))
    };
    // 4. The chart's defaults.
    match chart {
        Chart::Git { values } => {
            let (real, text) = paths::read(src.tree, values)?.ok_or_else(|| {
                LocateError::NotFound(format!(
                    "no value file sets {what} and the chart has no values.yaml{skipped}"
                ))
            })?;
            let (doc_index, doc) = values_doc(parse_docs(&real, text).unwrap_or_default());
            let existing = manifest::get(&doc, &key_path);
            if let Some(existing) = existing {
                same_shape(existing, &value, &real, &dotted)?;
            }
            let declared = existing.is_some();
            // A key the chart declares as a parent (`resources: {}`) is filled in; a key the
            // chart does not know at all is not invented.
            let parent_declared = key_path
                .first()
                .is_some_and(|first| manifest::get(&doc, std::slice::from_ref(first)).is_some());
            if declared || create_in_defaults || parent_declared {
                let how = if declared { "sets" } else { "is the place for" };
                Ok(Located {
                    repo_url: src.source.repo_url.clone(),
                    changes: vec![set_in(&real, doc_index, key_path, value)],
                    why: format!(
                        "The chart's {real} {how} {what}; no value file, values or parameter overrides it{skipped}."
                    ),
                })
            } else {
                Err(LocateError::NotFound(format!(
                    "nothing sets {what}: not the chart's values.yaml nor any value file{skipped}"
                )))
            }
        }
        Chart::Repo { name, repo } => Err(LocateError::NotInGit(format!(
            "{what} comes from the defaults of chart {name} in Helm repository {repo}, not from a value file in Git{skipped}"
        ))),
    }
}

/// Apply a change to a layer of source settings: an override file is edited; the Application
/// itself only if its manifest is in Git.
fn on_layer(
    ctx: &Ctx<'_, '_>,
    src: &SourceCtx<'_, '_>,
    origin: &Origin,
    rel: Vec<PathSeg>,
    value: Value,
    what: &str,
) -> Result<Located, LocateError> {
    match origin {
        Origin::File(file) => Ok(Located {
            repo_url: src.source.repo_url.clone(),
            changes: vec![set(file, rel, value)],
            why: format!("{what}, which takes precedence over value files; it is changed there."),
        }),
        Origin::App => app_manifest::edit_or_not_in_git(ctx, src, &rel, value, what),
    }
}

/// A map is not replaced by a scalar or the reverse: the template reads it differently then.
fn same_shape(existing: &Value, value: &Value, file: &str, key: &str) -> Result<(), LocateError> {
    let map = |v: &Value| v.is_object() || v.is_array();
    if !existing.is_null() && map(existing) != map(value) {
        return Err(LocateError::Refused(format!(
            "{file} holds {key} as {existing}, not a value like {value}; the template reads it differently"
        )));
    }
    Ok(())
}

/// A values file's document (the first non-empty one) and its index in the stream.
fn values_doc(docs: Vec<Value>) -> (usize, Value) {
    docs.into_iter()
        .enumerate()
        .find(|(_, d)| !d.is_null())
        .unwrap_or((0, Value::Null))
}

fn set(file: &str, path: Vec<PathSeg>, value: Value) -> FileChange {
    set_in(file, 0, path, value)
}

fn set_in(file: &str, document: usize, path: Vec<PathSeg>, value: Value) -> FileChange {
    FileChange::Edit {
        file: file.to_string(),
        edit: YamlEdit {
            document,
            op: YamlOp::Set { path, value },
        },
    }
}

/// Resolve a `valueFiles` entry: `$ref/path` in the source with that `ref`, else relative to
/// the chart directory (a leading `/` is the repo root). Remote URLs are not followed.
fn value_file<'a>(
    ctx: &Ctx<'_, 'a>,
    src: &SourceCtx<'_, 'a>,
    file: &str,
    skipped: &mut Vec<String>,
) -> Result<Option<(String, &'a crate::gitops::tree::RepoTree, String)>, LocateError> {
    if file.contains("://") {
        skipped.push(format!("{file} (remote)"));
        return Ok(None);
    }
    if let Some(rest) = file.strip_prefix('$') {
        let (name, path) = rest.split_once('/').unwrap_or((rest, ""));
        let Some(source) = app_sources(ctx.app)
            .into_iter()
            .find(|s| s.ref_.as_deref() == Some(name))
        else {
            skipped.push(format!("{file} (no source with ref {name})"));
            return Ok(None);
        };
        let tree = ctx.tree(&source.repo_url)?;
        let path = paths::join("", path)?;
        return Ok(Some((source.repo_url.clone(), tree, path)));
    }
    if src.source.chart.is_some() {
        skipped.push(format!("{file} (inside the packaged chart)"));
        return Ok(None);
    }
    let path = paths::join(&src.app_dir, file)?;
    Ok(Some((src.source.repo_url.clone(), src.tree, path)))
}

#[cfg(test)]
mod tests;
