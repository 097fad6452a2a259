//! Kustomize sources: find the resource through `resources`/`bases`/`components` (with
//! `namePrefix`/`nameSuffix`/`namespace` applied to its name), then the place in effect for the
//! field: the last patch that sets it, else the resource itself. A base that another
//! Application also deploys is never edited: a new patch in the app's overlay is added instead.

mod build;
mod images;
mod patches;

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::{Value, json};

use super::manifest::{self, concat, container_path, field_keys, field_path, field_value};
use super::source_overrides::{Origin, describe};
use super::{
    Ctx, FileChange, LocateError, Located, SourceCtx, app_label, app_sources, paths, same_app,
    same_repo,
};
use crate::gitops::edit::{PathSeg, YamlEdit, YamlOp};
use crate::gitops::tree::RepoTree;
pub(crate) use build::kustomization_file;
use build::{Build, Overrides, Res};
use patches::{PatchLoc, Query, Setter};

pub(crate) fn locate<'a>(
    ctx: &Ctx<'_, 'a>,
    src: &SourceCtx<'_, 'a>,
) -> Result<Located, LocateError> {
    let req = ctx.req;
    let w = &req.workload;
    let build = Build::of(src.tree, &src.app_dir)?;
    let k = src.effective.kustomize.clone().unwrap_or(Value::Null);
    let text = |key: &str| k.get(key).and_then(Value::as_str).map(str::to_string);
    let top = Overrides {
        name_prefix: text("namePrefix"),
        name_suffix: text("nameSuffix"),
        namespace: text("namespace"),
    };
    let found: Vec<(&Res, Vec<String>)> = build
        .resources
        .iter()
        .filter(|r| manifest::same_kind(&r.obj, w))
        .map(|r| (r, build::names(&build, r, &top)))
        .filter(|(r, names)| {
            names.last() == Some(&w.name)
                && build::namespace(&build, r, &top)
                    .or(ctx.dest_namespace())
                    .is_none_or(|ns| ns == w.namespace)
        })
        .collect();
    let (res, names) = match found.as_slice() {
        [one] => (one.0, &one.1),
        [] => {
            let mut why = format!(
                "no {} named {} in the Kustomize build of {}",
                w.kind,
                w.name,
                shown(&src.app_dir)
            );
            if !build.notes.is_empty() {
                why.push_str(&format!(" ({})", build.notes.join("; ")));
            }
            return Err(LocateError::NotFound(why));
        }
        many => {
            let files: Vec<&str> = many.iter().map(|(r, _)| r.file.as_str()).collect();
            return Err(LocateError::Refused(format!(
                "{} {} is built twice ({})",
                w.kind,
                w.name,
                files.join(", ")
            )));
        }
    };
    if manifest::get(&res.obj, &container_path(req)).is_none() {
        return Err(super::directory::no_container(req, &res.file));
    }
    let reach = Reach::new(ctx, src);
    let plan = Plan {
        ctx,
        src,
        build: &build,
        res,
        names,
        reach: &reach,
    };
    match &req.target {
        super::FieldTarget::Image { current, desired } => images::locate(&plan, current, desired),
        super::FieldTarget::Container { .. } => plan.field(&field_path(req), field_value(req)),
    }
}

/// Everything known about the resource to change.
pub(crate) struct Plan<'p, 'c, 'a> {
    pub ctx: &'p Ctx<'c, 'a>,
    pub src: &'p SourceCtx<'p, 'a>,
    pub build: &'p Build,
    pub res: &'p Res,
    pub names: &'p [String],
    pub reach: &'p Reach,
}

impl Plan<'_, '_, '_> {
    /// Patches setting `field` (a path from the object root), in application order.
    fn setters(&self, field: &[PathSeg]) -> Result<Vec<Setter>, LocateError> {
        let req = self.ctx.req;
        let list = if req.init_container {
            "initContainers"
        } else {
            "containers"
        };
        // The JSON pointer only covers container fields (the path after the container).
        let keys: Vec<String> = field
            .iter()
            .skip(container_path(req).len())
            .filter_map(|s| match s {
                PathSeg::Key(k) => Some(k.clone()),
                _ => None,
            })
            .collect();
        let q = Query {
            res: self.res,
            names: self.names,
            field,
            pointer: patches::pointer(self.res, &req.workload, list, &req.container, &keys),
        };
        let argo_path = [
            PathSeg::Key("kustomize".into()),
            PathSeg::Key("patches".into()),
        ];
        let argo = self
            .src
            .layers
            .last(&argo_path)
            .map(|(l, v)| (&l.origin, v));
        patches::setters(self.src.tree, self.build, &q, argo)
    }

    /// Set `field` (path from the object root) to `value` where it takes effect.
    pub fn field(&self, field: &[PathSeg], value: Value) -> Result<Located, LocateError> {
        let what = self.what(field);
        match self.setters(field)?.pop() {
            Some(Setter { loc: PatchLoc::File { file, doc, path }, .. }) => match self.shared_with(&file) {
                Some(other) => self.new_patch(field, value, &format!("patch {file} (also used by Application {other})")),
                None => Ok(self.located(
                    vec![edit(&file, doc, path, value)],
                    self.noted(&file, format!("Kustomize patch {file} sets {what}, and later patches do not; it is changed there.")),
                )),
            },
            Some(Setter { loc: PatchLoc::Inline { place }, .. }) => Err(LocateError::Refused(format!(
                "the {place} sets {what}; an inline patch is a YAML string inside YAML and is not edited automatically"
            ))),
            Some(Setter { loc: PatchLoc::Argo { origin, index }, .. }) => Err(argo_patch(self.ctx, &origin, index, &what)),
            None => self.in_resource(field, value, &what),
        }
    }

    /// No patch sets the field: change the resource, unless another app deploys that file.
    fn in_resource(
        &self,
        field: &[PathSeg],
        value: Value,
        what: &str,
    ) -> Result<Located, LocateError> {
        let res = self.res;
        match self.shared_with(&res.file) {
            Some(other) => self.new_patch(field, value, &format!("base {} (also deployed by Application {other})", res.file)),
            None => Ok(self.located(
                vec![edit(&res.file, res.doc, concat(&res.prefix, field), value)],
                self.noted(&res.file, format!("{} declares {what} and no Kustomize patch overrides it; it is written there.", res.file)),
            )),
        }
    }

    /// The other Application deploying `file`, unless the file is in this app's own overlay
    /// directory: that one is this app's to change (a new patch there would be shared too).
    pub fn shared_with(&self, file: &str) -> Option<&str> {
        let own = file.rsplit_once('/').map_or("", |(dir, _)| dir) == self.build.layers[0].dir;
        self.reach.who(file).filter(|_| !own)
    }

    /// `why`, with a note when another app builds the changed file anyway.
    fn noted(&self, file: &str, why: String) -> String {
        match self.reach.who(file) {
            Some(other) => format!(
                "{} (note: Application {other} also builds it).",
                why.trim_end_matches('.')
            ),
            None => why,
        }
    }

    /// A new strategic merge patch in the app's overlay, listed in its `patches`.
    fn new_patch(
        &self,
        field: &[PathSeg],
        value: Value,
        shared: &str,
    ) -> Result<Located, LocateError> {
        let overlay = &self.build.layers[0];
        let res = self.res;
        let kind = manifest::kind(&res.obj).unwrap_or_default();
        // The name as the overlay sees it (before its own prefix); kustomize matches it.
        let name = self
            .names
            .get(res.chain.len().saturating_sub(1))
            .cloned()
            .unwrap_or_default();
        let mut patch = json!({
            "apiVersion": manifest::str_at(&res.obj, &["apiVersion"]).unwrap_or("apps/v1"),
            "kind": kind,
            "metadata": {"name": name},
        });
        set_path(&mut patch, field, value);
        let content = serde_saphyr::to_string(&patch)
            .map_err(|e| LocateError::Refused(format!("cannot render the new patch: {e}")))?;
        let file = self.free_name(&format!("suture-{}-{name}", kind.to_ascii_lowercase()));
        let entry = json!({"path": paths::relative_to(&overlay.dir, &file)});
        let append = YamlEdit {
            document: 0,
            op: YamlOp::Append {
                path: vec![PathSeg::Key("patches".into())],
                value: entry,
            },
        };
        Ok(self.located(
            vec![FileChange::Create { file: file.clone(), content }, FileChange::Edit { file: overlay.file.clone(), edit: append }],
            format!(
                "{} is set in {shared}, so a new patch {file} in this app's overlay {} changes it for this app only.",
                self.what(field),
                shown(&overlay.dir)
            ),
        ))
    }

    fn free_name(&self, stem: &str) -> String {
        let dir = &self.build.layers[0].dir;
        (1..)
            .map(|i| {
                if i == 1 {
                    format!("{stem}.yaml")
                } else {
                    format!("{stem}-{i}.yaml")
                }
            })
            .map(|f| paths::child(dir, &f))
            .find(|f| !self.src.tree.entries.contains_key(f))
            .unwrap_or_else(|| paths::child(dir, &format!("{stem}.yaml")))
    }

    fn what(&self, field: &[PathSeg]) -> String {
        let req = self.ctx.req;
        let keys = field_keys(req);
        let shown_field =
            if field.ends_with(&keys.iter().cloned().map(PathSeg::Key).collect::<Vec<_>>()) {
                manifest::dotted(&keys)
            } else {
                crate::gitops::edit::path_to_string(field)
            };
        format!(
            "{} {} container {} {shown_field}",
            req.workload.kind, req.workload.name, req.container
        )
    }

    fn located(&self, changes: Vec<FileChange>, why: String) -> Located {
        Located {
            repo_url: self.src.source.repo_url.clone(),
            changes,
            why,
        }
    }
}

fn edit(file: &str, doc: usize, path: Vec<PathSeg>, value: Value) -> FileChange {
    FileChange::Edit {
        file: file.to_string(),
        edit: YamlEdit {
            document: doc,
            op: YamlOp::Set { path, value },
        },
    }
}

/// A patch in Argo CD's `kustomize.patches` is an inline string: never edited automatically.
fn argo_patch(ctx: &Ctx<'_, '_>, origin: &Origin, index: usize, what: &str) -> LocateError {
    let place = describe(origin, ctx.app, &format!("kustomize.patches[{index}]"));
    match origin {
        Origin::App => LocateError::NotInGit(format!("{what} is set by {place}")),
        Origin::File(_) => LocateError::Refused(format!("{what} is set by the inline {place}")),
    }
}

/// Build `path` (keys and name matches) inside `v`, ending in `value`.
fn set_path(v: &mut Value, path: &[PathSeg], value: Value) {
    let Some((first, rest)) = path.split_first() else {
        *v = value;
        return;
    };
    match first {
        PathSeg::Key(k) => {
            if !v.is_object() {
                *v = json!({});
            }
            if let Some(map) = v.as_object_mut() {
                set_path(map.entry(k.clone()).or_insert(Value::Null), rest, value);
            }
        }
        PathSeg::Match { key, value: name } => {
            let mut item = json!({ key.clone(): name.clone() });
            set_path(&mut item, rest, value);
            *v = Value::Array(vec![item]);
        }
        PathSeg::Index(_) => {
            let mut item = Value::Null;
            set_path(&mut item, rest, value);
            *v = Value::Array(vec![item]);
        }
    }
}

pub(crate) fn shown(dir: &str) -> &str {
    super::directory::shown(dir)
}

/// The files other Applications of the same repository deploy: a file in there is shared.
pub(crate) struct Reach(Vec<(String, Arc<BTreeSet<String>>)>);

impl Reach {
    fn new(ctx: &Ctx<'_, '_>, src: &SourceCtx<'_, '_>) -> Reach {
        let mut out = Vec::new();
        for other in ctx.all_apps.iter().filter(|a| !same_app(a, ctx.app)) {
            for s in app_sources(other) {
                if !same_repo(&s.repo_url, &src.source.repo_url) || s.chart.is_some() {
                    continue;
                }
                let Some(dir) = s.path.as_deref().and_then(|p| paths::join("", p).ok()) else {
                    continue;
                };
                let Ok(dir) = paths::canonical(src.tree, &dir) else {
                    continue;
                };
                // Every locate asks this about every other app: the index remembers.
                let files = src.tree.index().reached(&dir, || reached(src.tree, &dir));
                out.push((app_label(other), files));
            }
        }
        Reach(out)
    }

    /// The first other Application that deploys `file`.
    pub fn who(&self, file: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(_, files)| files.contains(file))
            .map(|(app, _)| app.as_str())
    }
}

/// Files an app with source directory `dir` deploys: its Kustomize build, or (for other
/// tools, erring on the side of "shared") everything under the directory.
fn reached(tree: &RepoTree, dir: &str) -> BTreeSet<String> {
    if let Ok(Some(_)) = kustomization_file(tree, dir)
        && let Ok(build) = Build::of(tree, dir)
    {
        return build.files;
    }
    paths::list(tree, dir, true)
        .into_iter()
        .map(|rel| paths::child(dir, &rel))
        .collect()
}

#[cfg(test)]
mod tests;
