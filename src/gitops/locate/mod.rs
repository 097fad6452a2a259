//! Locate: from an Application's source and its repository files to the exact file and field
//! that declares a workload's value. Pure: the repo snapshot comes in as a `RepoTree`.

//!
//! One module per source type (`directory`, `kustomize`, `helm`); `source_overrides` layers
//! `.argocd-source*.yaml` over the Application's source; `paths` keeps every path inside the
//! repository; `manifest` reads Kubernetes objects out of YAML; `app_manifest` finds an
//! Application's own manifest in Git (app of apps) when the value is set on the Application.

mod app_manifest;
mod directory;
mod helm;
pub(crate) mod index;
mod kustomize;
pub(crate) mod manifest;
mod paths;
mod source_overrides;
#[cfg(test)]
mod testutil;

use serde::Serialize;

use super::argocd::{Application, ApplicationSource, normalize_repo_url};
use super::edit::YamlEdit;
use super::tree::RepoTree;
use crate::objref::ObjectRef;

/// What is to be changed on the workload's pod template.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum FieldTarget {
    /// A field under the container, e.g. `["resources", "limits", "memory"]` or
    /// `["startupProbe"]`. `value` is the full new value at that path.
    Container {
        field: Vec<String>,
        value: serde_json::Value,
    },
    /// The container image, from `current` (the live image) to `desired` (a full reference).
    /// Written where the image is declared: manifest, Kustomize `images[]`, Helm values.
    Image { current: String, desired: String },
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LocateRequest {
    pub workload: ObjectRef,
    pub container: String,
    /// The container is in `initContainers`.
    pub init_container: bool,
    pub target: FieldTarget,
}

/// One change to the repository.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum FileChange {
    /// Edit an existing file in place.
    Edit { file: String, edit: YamlEdit },
    /// Create a new file (e.g. an overlay patch when the value lives in a shared base).
    Create { file: String, content: String },
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Located {
    /// The repoURL of the source the change goes to.
    pub repo_url: String,
    /// Changes, applied in order; the first one is the file a reviewer looks at.
    pub changes: Vec<FileChange>,
    /// Why this place (e.g. "Helm valueFiles values-prod.yaml sets resources.limits.memory").
    pub why: String,
}

/// Why no file could be chosen; every variant becomes an escalation a human can act on.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LocateError {
    #[error("no checkout given for repository {0}")]
    NoRepo(String),
    #[error("the value is not declared in Git: {0}")]
    NotInGit(String),
    #[error("workload not found in the application's source: {0}")]
    NotFound(String),
    #[error("refused: {0}")]
    Refused(String),
    #[error("source type not supported: {0}")]
    Unsupported(String),
}

/// Locate where to write `req` for `app`. `repo_for` maps a source repoURL to its checkout;
/// `all_apps` tells which Kustomize bases are shared with other apps.
pub fn locate<'a>(
    app: &Application,
    all_apps: &[Application],
    repo_for: &dyn Fn(&str) -> Option<&'a RepoTree>,
    req: &LocateRequest,
) -> Result<Located, LocateError> {
    let sources = app_sources(app);
    if sources.is_empty() {
        return Err(LocateError::NotFound(format!(
            "Application {} has no source",
            app_label(app)
        )));
    }
    let ctx = Ctx {
        app,
        all_apps,
        repo_for,
        req,
    };
    // Multi-source: the first source that declares the workload is the one to edit. Git
    // sources go first: a chart from a Helm repository cannot be searched for the workload.
    let mut order: Vec<(usize, &ApplicationSource)> = sources.iter().copied().enumerate().collect();
    order.sort_by_key(|(_, s)| s.chart.is_some());
    let mut misses = Vec::new();
    for (index, source) in order {
        if is_ref_only(source) {
            continue;
        }
        match locate_source(&ctx, index, source) {
            Err(LocateError::NotFound(why)) => misses.push(why),
            other => return other,
        }
    }
    Err(LocateError::NotFound(if misses.is_empty() {
        format!("Application {} has only `ref` sources", app_label(app))
    } else {
        misses.join("; ")
    }))
}

/// Everything a source locator needs besides the source itself.
pub(crate) struct Ctx<'c, 'a> {
    pub app: &'c Application,
    pub all_apps: &'c [Application],
    pub repo_for: &'c dyn Fn(&str) -> Option<&'a RepoTree>,
    pub req: &'c LocateRequest,
}

impl<'a> Ctx<'_, 'a> {
    pub fn tree(&self, repo_url: &str) -> Result<&'a RepoTree, LocateError> {
        (self.repo_for)(repo_url).ok_or_else(|| LocateError::NoRepo(repo_url.to_string()))
    }

    /// The destination namespace: where objects without `metadata.namespace` land.
    pub fn dest_namespace(&self) -> Option<&str> {
        self.app
            .spec
            .destination
            .as_ref()?
            .namespace
            .as_deref()
            .filter(|ns| !ns.is_empty())
    }
}

/// `spec.sources[]` when set (Argo CD then ignores `spec.source`), else `spec.source`.
pub(crate) fn app_sources(app: &Application) -> Vec<&ApplicationSource> {
    if app.spec.sources.is_empty() {
        app.spec.source.iter().collect()
    } else {
        app.spec.sources.iter().collect()
    }
}

/// A source that only names a repo for `$ref/...` value files and deploys nothing itself.
fn is_ref_only(source: &ApplicationSource) -> bool {
    source.ref_.is_some() && source.path.is_none() && source.chart.is_none()
}

pub(crate) fn app_label(app: &Application) -> String {
    match (&app.metadata.namespace, &app.metadata.name) {
        (Some(ns), Some(name)) => format!("{ns}/{name}"),
        (None, Some(name)) => name.clone(),
        _ => "<unnamed>".into(),
    }
}

pub(crate) fn same_app(a: &Application, b: &Application) -> bool {
    a.metadata.name == b.metadata.name && a.metadata.namespace == b.metadata.namespace
}

pub(crate) fn same_repo(a: &str, b: &str) -> bool {
    normalize_repo_url(a) == normalize_repo_url(b)
}

/// The config management tool of a source, as Argo CD decides it: an explicit block wins,
/// else `Chart.yaml` means Helm, a kustomization means Kustomize, anything else a directory.
fn locate_source(
    ctx: &Ctx<'_, '_>,
    index: usize,
    source: &ApplicationSource,
) -> Result<Located, LocateError> {
    if source.plugin.is_some() {
        return Err(LocateError::Unsupported(
            "config management plugin sources are rendered by the plugin".into(),
        ));
    }
    if source.chart.is_some() {
        return helm::locate_chart_repo(ctx, index, source);
    }
    let tree = ctx.tree(&source.repo_url)?;
    let app_dir = paths::join("", source.path.as_deref().unwrap_or("."))?;
    let app_dir = paths::canonical(tree, &app_dir)?;
    paths::check_symlinks_under(tree, &app_dir)?;
    let layers = source_overrides::Layers::load(tree, &app_dir, source, ctx.app)?;
    let effective = layers.effective();
    let kind = if effective.helm.is_some() {
        Tool::Helm
    } else if effective.kustomize.is_some() {
        Tool::Kustomize
    } else if effective.directory.is_some() {
        Tool::Directory
    } else if paths::read(tree, &paths::child(&app_dir, "Chart.yaml"))?.is_some() {
        Tool::Helm
    } else if kustomize::kustomization_file(tree, &app_dir)?.is_some() {
        Tool::Kustomize
    } else {
        Tool::Directory
    };
    let src = SourceCtx {
        index,
        source,
        tree,
        app_dir,
        layers,
        effective,
    };
    match kind {
        Tool::Helm => helm::locate(ctx, &src),
        Tool::Kustomize => kustomize::locate(ctx, &src),
        Tool::Directory => directory::locate(ctx, &src),
    }
}

enum Tool {
    Helm,
    Kustomize,
    Directory,
}

/// One Git source being searched: its checkout, its directory and its override layers.
pub(crate) struct SourceCtx<'s, 'a> {
    /// Index in `spec.sources[]` (0 for `spec.source`).
    pub index: usize,
    pub source: &'s ApplicationSource,
    pub tree: &'a RepoTree,
    /// Canonical repo-relative directory of `source.path` ("" = repo root).
    pub app_dir: String,
    pub layers: source_overrides::Layers,
    /// The source with the override files merged in, as Argo CD renders it.
    pub effective: ApplicationSource,
}

impl SourceCtx<'_, '_> {
    /// The path of this source inside the Application manifest (`spec.source` or
    /// `spec.sources[i]`), for editing an app-of-apps manifest.
    pub fn app_source_path(&self, app: &Application) -> Vec<super::edit::PathSeg> {
        use super::edit::PathSeg::{Index, Key};
        if app.spec.sources.is_empty() {
            vec![Key("spec".into()), Key("source".into())]
        } else {
            vec![Key("spec".into()), Key("sources".into()), Index(self.index)]
        }
    }
}
