//! Rendering an Application source into Kubernetes objects, as Argo CD's repo-server would:
//! plain directories, Kustomize (implemented here, independently of suture's own resolver) and
//! Helm through declared bindings. Every error is a message for `ComparisonError`, never a panic.

pub mod directory;
pub mod helm;
pub mod kustomize;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use serde_json::Value;

use super::settings::Settings;
use crate::git::RepoStore;

pub type RenderResult<T> = Result<T, String>;

/// One commit of one repository, read lazily (files are cached).
pub struct Tree<'a> {
    repos: &'a RepoStore,
    full: String,
    pub sha: String,
    files: BTreeSet<String>,
    cache: Mutex<BTreeMap<String, Option<String>>>,
}

impl<'a> Tree<'a> {
    pub fn open(repos: &'a RepoStore, full: &str, rev: &str) -> RenderResult<Tree<'a>> {
        let info = repos
            .commit_info(full, rev)
            .map_err(|e| format!("unable to resolve '{rev}' in {full}: {e}"))?;
        let files = repos
            .list_files(full, &info.sha)
            .map_err(|e| format!("unable to list {full}@{}: {e}", info.sha))?;
        Ok(Tree {
            repos,
            full: full.to_string(),
            sha: info.sha,
            files: files.into_iter().collect(),
            cache: Mutex::new(BTreeMap::new()),
        })
    }

    pub fn is_file(&self, path: &str) -> bool {
        self.files.contains(path)
    }

    pub fn is_dir(&self, path: &str) -> bool {
        let prefix = dir_prefix(path);
        self.files
            .range(prefix.clone()..)
            .next()
            .is_some_and(|f| f.starts_with(&prefix))
    }

    /// Files under `dir` (all depths), repo-relative.
    pub fn files_under(&self, dir: &str) -> Vec<String> {
        let prefix = dir_prefix(dir);
        self.files
            .range(prefix.clone()..)
            .take_while(|f| f.starts_with(&prefix))
            .cloned()
            .collect()
    }

    pub fn read(&self, path: &str) -> RenderResult<String> {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(hit) = cache.get(path) {
            return hit.clone().ok_or_else(|| format!("{path}: no such file"));
        }
        let text = self
            .repos
            .read_file(&self.full, &self.sha, path)
            .map_err(|e| format!("{path}: {e}"))?
            .map(|b| String::from_utf8_lossy(&b).into_owned());
        cache.insert(path.to_string(), text.clone());
        text.ok_or_else(|| format!("{path}: no such file"))
    }
}

fn dir_prefix(dir: &str) -> String {
    if dir.is_empty() || dir == "." {
        String::new()
    } else {
        format!("{}/", dir.trim_end_matches('/'))
    }
}

/// `base` joined with `rel`, normalized; refuses absolute paths and paths leaving the repo.
pub fn join(base: &str, rel: &str) -> RenderResult<String> {
    if rel.starts_with('/') {
        return Err(format!("{rel}: absolute paths are not allowed"));
    }
    let mut parts: Vec<&str> = Vec::new();
    for seg in base.split('/').chain(rel.split('/')) {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(format!("{rel} (from {base:?}): path leaves the repository"));
                }
            }
            s => parts.push(s),
        }
    }
    Ok(parts.join("/"))
}

/// Parses a manifest file into objects: YAML multi-doc or JSON, `kind: List` flattened.
pub fn parse_manifests(path: &str, text: &str) -> RenderResult<Vec<Value>> {
    let text = yaml11_octals(text);
    let docs = crate::objects::parse(&text).map_err(|e| format!("{path}: {e}"))?;
    let mut out = Vec::new();
    for doc in docs {
        if doc.is_null() {
            continue;
        }
        let kind = doc.get("kind").and_then(Value::as_str).unwrap_or("");
        if kind.ends_with("List") && doc.get("items").is_some_and(Value::is_array) {
            if let Some(items) = doc.get("items").and_then(Value::as_array) {
                out.extend(items.iter().cloned());
            }
            continue;
        }
        if kind.is_empty() || doc.get("apiVersion").and_then(Value::as_str).is_none() {
            return Err(format!(
                "{path}: a document without apiVersion/kind is not a Kubernetes object"
            ));
        }
        out.push(doc);
    }
    Ok(out)
}

/// What an Application source renders to.
pub struct Rendered {
    pub objects: Vec<Value>,
    pub revision: String,
}

/// Renders `source` (an Application `spec.source`) at its `targetRevision`. `refs` are the
/// multi-source `ref` sources (`$name/...` value files).
pub fn render_source(
    settings: &Settings,
    repos: &RepoStore,
    source: &Value,
    refs: &BTreeMap<String, Value>,
    app_name: &str,
) -> RenderResult<Rendered> {
    let s = |k: &str| source.get(k).and_then(Value::as_str).unwrap_or("");
    let repo_url = s("repoURL");
    if repo_url.is_empty() {
        return Err("spec.source.repoURL is required".into());
    }
    if !s("chart").is_empty() {
        return helm::render_chart_repo(settings, source);
    }
    let full = settings
        .repo_full_name(repo_url)
        .ok_or_else(|| format!("repository not found: {repo_url}"))?;
    let rev = match s("targetRevision") {
        "" | "HEAD" => repos
            .default_branch(&full)
            .map_err(|e| format!("repository not found: {repo_url}: {e}"))?,
        r => r.to_string(),
    };
    let tree = Tree::open(repos, &full, &rev)?;
    let path = join("", s("path"))?;
    if !path.is_empty() && !tree.is_dir(&path) {
        return Err(format!("{}: app path does not exist", s("path")));
    }
    // `.argocd-source.yaml` and `.argocd-source-<app>.yaml` in the app path override the
    // source's tool parameters, as Argo CD's repo-server applies them.
    let mut source = source.clone();
    for file in [
        ".argocd-source.yaml".to_string(),
        format!(".argocd-source-{app_name}.yaml"),
    ] {
        let p = join(&path, &file)?;
        if tree.is_file(&p) {
            let o: Value =
                serde_saphyr::from_str(&tree.read(&p)?).map_err(|e| format!("{p}: {e}"))?;
            json_patch::merge(&mut source, &o);
        }
    }
    let source = &source;
    let objects = if source.get("helm").is_some() || tree.is_file(&join(&path, "Chart.yaml")?) {
        helm::render(settings, repos, &tree, repo_url, &path, source, refs)?
    } else if source.get("kustomize").is_some()
        || kustomize::find_kustomization(&tree, &path).is_some()
    {
        kustomize::render(&tree, &path, source.get("kustomize"), settings.max_objects)?
    } else {
        directory::render(&tree, &path, source.get("directory"), settings.max_objects)?
    };
    Ok(Rendered {
        objects,
        revision: tree.sha.clone(),
    })
}

/// Kubernetes' YAML reader (go-yaml) reads a plain `0755` as the octal 493 (`defaultMode`);
/// rewrite such scalars to decimal before parsing so the object matches what kubectl sends.
fn yaml11_octals(text: &str) -> std::borrow::Cow<'_, str> {
    let octal = |v: &str| {
        v.len() > 1 && v.starts_with('0') && v.bytes().all(|b| (b'0'..=b'7').contains(&b))
    };
    if !text
        .lines()
        .any(|l| l.rsplit([' ', '\t']).next().is_some_and(octal))
    {
        return text.into();
    }
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches(['\n', '\r']);
        let value = body.rsplit(' ').next().unwrap_or("");
        let prefix = &body[..body.len() - value.len()];
        let keyed = prefix.trim_end().ends_with(':') || prefix.trim_end().ends_with('-');
        match i64::from_str_radix(value, 8) {
            Ok(n) if keyed && octal(value) => {
                out.push_str(prefix);
                out.push_str(&n.to_string());
                out.push_str(&line[body.len()..]);
            }
            _ => out.push_str(line),
        }
    }
    out.into()
}
