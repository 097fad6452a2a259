//! Reading a Kustomize tree: kustomizations, the resources they reach (files and directories,
//! `../` bases included) and their patches, without running kustomize.

use std::collections::BTreeSet;

use serde_json::Value;

use super::super::manifest::{self, Obj, objects, parse_docs};
use super::super::{LocateError, paths};
use crate::gitops::edit::PathSeg;
use crate::gitops::tree::RepoTree;

/// Deeper than any real overlay stack; stops cycles that `visiting` would miss.
const MAX_DEPTH: usize = 32;

pub(crate) const KUSTOMIZATION_NAMES: [&str; 3] =
    ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// The kustomization file of `dir`, if any: (real path, text).
pub(crate) fn kustomization_file<'t>(
    tree: &'t RepoTree,
    dir: &str,
) -> Result<Option<(String, &'t str)>, LocateError> {
    for name in KUSTOMIZATION_NAMES {
        if let Some(found) = paths::read(tree, &paths::child(dir, name))? {
            return Ok(Some(found));
        }
    }
    Ok(None)
}

/// One kustomization (an overlay, a base or a component).
#[derive(Debug)]
pub(crate) struct Layer {
    pub dir: String,
    pub file: String,
    pub k: Value,
    /// Components included by this layer; their patches and images run before its own.
    pub components: Vec<usize>,
}

impl Layer {
    pub fn str(&self, key: &str) -> &str {
        self.k.get(key).and_then(Value::as_str).unwrap_or("")
    }

    pub fn list(&self, key: &str) -> &[Value] {
        self.k
            .get(key)
            .and_then(Value::as_array)
            .map_or(&[], Vec::as_slice)
    }
}

/// One object reached through the kustomization tree.
#[derive(Debug)]
pub(crate) struct Res {
    pub file: String,
    pub doc: usize,
    pub prefix: Vec<PathSeg>,
    pub obj: Value,
    /// Layers that include it, innermost first; the last one is the app's overlay (index 0).
    pub chain: Vec<usize>,
}

#[derive(Debug, Default)]
pub(crate) struct Build {
    pub layers: Vec<Layer>,
    pub resources: Vec<Res>,
    /// Every file the build reads (kustomizations, resources, patches): what an app "reaches".
    pub files: BTreeSet<String>,
    /// Things not followed (remote bases, Helm inflation), for the NotFound reason.
    pub notes: Vec<String>,
}

impl Build {
    pub fn of(tree: &RepoTree, dir: &str) -> Result<Build, LocateError> {
        let mut build = Build::default();
        build.layer(tree, dir, &[], &mut Vec::new())?;
        Ok(build)
    }

    fn layer(
        &mut self,
        tree: &RepoTree,
        dir: &str,
        outer: &[usize],
        visiting: &mut Vec<String>,
    ) -> Result<usize, LocateError> {
        if visiting.len() > MAX_DEPTH || visiting.iter().any(|d| d == dir) {
            return Err(LocateError::Refused(format!(
                "kustomization cycle through {dir}"
            )));
        }
        let Some((file, text)) = kustomization_file(tree, dir)? else {
            return Err(LocateError::NotFound(format!("no kustomization in {dir}")));
        };
        let k = serde_saphyr::from_str::<Value>(text)
            .map_err(|e| LocateError::Refused(format!("{file} is not valid YAML: {e}")))?;
        let index = self.layers.len();
        self.files.insert(file.clone());
        self.layers.push(Layer {
            dir: dir.to_string(),
            file,
            k,
            components: Vec::new(),
        });
        visiting.push(dir.to_string());
        let mut chain = vec![index];
        chain.extend_from_slice(outer);
        let strings = |layer: &Layer, key: &str| -> Vec<String> {
            layer
                .list(key)
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        };
        let mut entries = strings(&self.layers[index], "resources");
        entries.extend(strings(&self.layers[index], "bases"));
        for entry in entries {
            self.resource(tree, dir, &entry, &chain, visiting)?;
        }
        for entry in strings(&self.layers[index], "components") {
            if is_remote(&entry) {
                self.notes
                    .push(format!("remote component {entry} not followed"));
                continue;
            }
            let path = paths::canonical(tree, &paths::join_relative(dir, &entry)?)?;
            let c = self.layer(tree, &path, &chain, visiting)?;
            self.layers[index].components.push(c);
        }
        for patch_file in patch_files(&self.layers[index]) {
            let path = paths::canonical(tree, &paths::join_relative(dir, &patch_file)?)?;
            self.files.insert(path);
        }
        if !self.layers[index].list("helmCharts").is_empty() {
            self.notes.push(format!(
                "{} inflates Helm charts, which are not read",
                self.layers[index].file
            ));
        }
        visiting.pop();
        Ok(index)
    }

    fn resource(
        &mut self,
        tree: &RepoTree,
        dir: &str,
        entry: &str,
        chain: &[usize],
        visiting: &mut Vec<String>,
    ) -> Result<(), LocateError> {
        if is_remote(entry) {
            self.notes
                .push(format!("remote resource {entry} not followed"));
            return Ok(());
        }
        let path = paths::canonical(tree, &paths::join_relative(dir, entry)?)?;
        if let Some(text) = tree.file(&path) {
            self.files.insert(path.clone());
            let docs = parse_docs(&path, text)
                .ok_or_else(|| LocateError::Refused(format!("{path} is not valid YAML")))?;
            for Obj { doc, prefix, value } in objects(&docs) {
                self.resources.push(Res {
                    file: path.clone(),
                    doc,
                    prefix,
                    obj: value.clone(),
                    chain: chain.to_vec(),
                });
            }
        } else if paths::is_dir(tree, &path) {
            self.layer(tree, &path, chain, visiting)?;
        } else {
            self.notes.push(format!("resource {path} is missing"));
        }
        Ok(())
    }
}

/// Remote bases (`github.com/org/repo//dir?ref=v1`, URLs): fetched by kustomize, not in this repo.
fn is_remote(entry: &str) -> bool {
    entry.contains("://")
        || entry.starts_with("github.com/")
        || entry.starts_with("git@")
        || entry.contains("?ref=")
}

/// Files named by a layer's patch fields.
fn patch_files(layer: &Layer) -> Vec<String> {
    let mut out = Vec::new();
    for key in ["patches", "patchesJson6902"] {
        out.extend(
            layer
                .list(key)
                .iter()
                .filter_map(|p| p.get("path").and_then(Value::as_str))
                .map(str::to_string),
        );
    }
    out.extend(
        layer
            .list("patchesStrategicMerge")
            .iter()
            .filter_map(Value::as_str)
            .filter(|s| is_path_like(s))
            .map(str::to_string),
    );
    out
}

/// Legacy strategic merge entries are file paths or inline YAML (which has a newline or `: `).
pub(crate) fn is_path_like(s: &str) -> bool {
    !s.contains('\n') && !s.contains(": ")
}

/// The Application's own `kustomize` settings that replace the overlay's.
#[derive(Debug, Default)]
pub(crate) struct Overrides {
    pub name_prefix: Option<String>,
    pub name_suffix: Option<String>,
    pub namespace: Option<String>,
}

/// The names of `res` as each layer sees it, the original first and the live name last.
/// Kustomize matches patches by any of them.
pub(crate) fn names(build: &Build, res: &Res, top: &Overrides) -> Vec<String> {
    let mut name = manifest::name(&res.obj).unwrap_or("").to_string();
    let mut out = vec![name.clone()];
    for &li in &res.chain {
        let layer = &build.layers[li];
        let (p, s) = if li == 0 {
            (
                top.name_prefix
                    .as_deref()
                    .unwrap_or(layer.str("namePrefix")),
                top.name_suffix
                    .as_deref()
                    .unwrap_or(layer.str("nameSuffix")),
            )
        } else {
            (layer.str("namePrefix"), layer.str("nameSuffix"))
        };
        name = format!("{p}{name}{s}");
        out.push(name.clone());
    }
    out
}

/// The namespace of `res` once built: the outermost layer's `namespace` wins.
pub(crate) fn namespace<'b>(build: &'b Build, res: &'b Res, top: &'b Overrides) -> Option<&'b str> {
    for &li in res.chain.iter().rev() {
        let layer = &build.layers[li];
        let ns = if li == 0 {
            top.namespace.as_deref().unwrap_or(layer.str("namespace"))
        } else {
            layer.str("namespace")
        };
        if !ns.is_empty() {
            return Some(ns);
        }
    }
    manifest::namespace(&res.obj)
}
