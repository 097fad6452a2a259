//! Helm sources, simulated: no `helm` binary exists here, so a scenario declares each chart's
//! rendered manifests (what `helm template` gives with the chart defaults) and bindings from a
//! values key to an object field (`resources.limits.memory` -> Deployment `web`,
//! `spec.template.spec.containers[name=web].resources.limits.memory`). The values are computed
//! as Argo CD passes them to Helm — chart `values.yaml`, then `helm.valueFiles` in order (later
//! wins), `values`, `valuesObject`, `parameters` — so a merged values change still changes the
//! live object. Templates in the repo are never evaluated.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::super::settings::{Settings, normalize_repo_url};
use super::{RenderResult, Tree, join};
use crate::git::RepoStore;

/// A chart the scenario declares.
#[derive(Clone, Debug, Default)]
pub struct HelmChart {
    /// The source's `repoURL` (a Git repository, or a Helm repository with `chart`).
    pub repo_url: String,
    /// The chart directory in the Git repository, or the chart name in a Helm repository.
    pub path: String,
    /// The manifests the chart renders with its defaults.
    pub manifests: Vec<Value>,
    pub bindings: Vec<HelmBinding>,
}

/// Values key -> object field.
#[derive(Clone, Debug)]
pub struct HelmBinding {
    /// Dotted values path, e.g. `resources.limits.memory` (`\.` for a literal dot).
    pub values_key: String,
    pub kind: String,
    pub name: String,
    /// Dotted object path with `[key=value]` list selectors.
    pub field: String,
}

impl HelmBinding {
    pub fn new(values_key: &str, kind: &str, name: &str, field: &str) -> Self {
        HelmBinding {
            values_key: values_key.into(),
            kind: kind.into(),
            name: name.into(),
            field: field.into(),
        }
    }
}

fn find_chart<'s>(
    settings: &'s Settings,
    repo_url: &str,
    path: &str,
) -> RenderResult<&'s HelmChart> {
    let url = normalize_repo_url(repo_url);
    settings
        .helm_charts
        .iter()
        .find(|c| normalize_repo_url(&c.repo_url) == url && c.path.trim_matches('/') == path.trim_matches('/'))
        .ok_or_else(|| {
            format!(
                "Helm is simulated (no helm binary): no chart binding declared for {repo_url} {path}"
            )
        })
}

/// A Helm chart in a Git repository.
pub fn render(
    settings: &Settings,
    repos: &RepoStore,
    tree: &Tree<'_>,
    repo_url: &str,
    path: &str,
    source: &Value,
    refs: &BTreeMap<String, Value>,
) -> RenderResult<Vec<Value>> {
    let chart = find_chart(settings, repo_url, path)?;
    let helm = source.get("helm").cloned().unwrap_or(json!({}));
    let ignore_missing = helm
        .get("ignoreMissingValueFiles")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let mut values = json!({});
    let defaults = join(path, "values.yaml")?;
    if tree.is_file(&defaults) {
        merge(
            &mut values,
            &parse_values(&defaults, &tree.read(&defaults)?)?,
        );
    }
    for file in helm
        .get("valueFiles")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(file) = file.as_str() else { continue };
        let text = match read_value_file(settings, repos, tree, path, file, refs) {
            Ok(Some(t)) => t,
            Ok(None) if ignore_missing => continue,
            Ok(None) => return Err(format!("{file}: values file not found")),
            Err(e) => return Err(e),
        };
        merge(&mut values, &parse_values(file, &text)?);
    }
    apply_inline(&mut values, &helm)?;
    Ok(bind(chart, &values))
}

/// A chart from a Helm repository (`spec.source.chart`): only the Application's own values.
pub fn render_chart_repo(settings: &Settings, source: &Value) -> RenderResult<super::Rendered> {
    let chart_name = source.get("chart").and_then(Value::as_str).unwrap_or("");
    let repo_url = source.get("repoURL").and_then(Value::as_str).unwrap_or("");
    let chart = find_chart(settings, repo_url, chart_name)?;
    let mut values = json!({});
    apply_inline(
        &mut values,
        &source.get("helm").cloned().unwrap_or(json!({})),
    )?;
    Ok(super::Rendered {
        objects: bind(chart, &values),
        revision: source
            .get("targetRevision")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
    })
}

/// `values` (YAML text) < `valuesObject` < `parameters`.
fn apply_inline(values: &mut Value, helm: &Value) -> RenderResult<()> {
    if let Some(text) = helm.get("values").and_then(Value::as_str)
        && !text.trim().is_empty()
    {
        merge(values, &parse_values("helm.values", text)?);
    }
    if let Some(obj) = helm.get("valuesObject").filter(|v| v.is_object()) {
        merge(values, obj);
    }
    for p in helm
        .get("parameters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = p.get("name").and_then(Value::as_str).unwrap_or("");
        let raw = p.get("value").and_then(Value::as_str).unwrap_or("");
        let force = p
            .get("forceString")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let value = if force {
            json!(raw)
        } else if let Ok(n) = raw.parse::<i64>() {
            json!(n)
        } else if let Ok(b) = raw.parse::<bool>() {
            json!(b)
        } else {
            json!(raw)
        };
        set_path(values, &split_key(name), value);
    }
    Ok(())
}

fn read_value_file(
    settings: &Settings,
    repos: &RepoStore,
    tree: &Tree<'_>,
    path: &str,
    file: &str,
    refs: &BTreeMap<String, Value>,
) -> RenderResult<Option<String>> {
    if file.contains("://") {
        return Err(format!(
            "{file}: remote values files are not supported by the simulation"
        ));
    }
    if let Some(rest) = file.strip_prefix('$') {
        let (name, rel) = rest.split_once('/').unwrap_or((rest, ""));
        let src = refs
            .get(name)
            .ok_or_else(|| format!("{file}: no source with ref '{name}'"))?;
        let url = src.get("repoURL").and_then(Value::as_str).unwrap_or("");
        let full = settings
            .repo_full_name(url)
            .ok_or_else(|| format!("repository not found: {url}"))?;
        let rev = match src
            .get("targetRevision")
            .and_then(Value::as_str)
            .unwrap_or("")
        {
            "" | "HEAD" => repos.default_branch(&full).map_err(|e| e.to_string())?,
            r => r.to_string(),
        };
        let other = Tree::open(repos, &full, &rev)?;
        let p = join("", rel)?;
        return if other.is_file(&p) {
            other.read(&p).map(Some)
        } else {
            Ok(None)
        };
    }
    let p = join(path, file)?;
    if tree.is_file(&p) {
        tree.read(&p).map(Some)
    } else {
        Ok(None)
    }
}

fn parse_values(name: &str, text: &str) -> RenderResult<Value> {
    let v: Value =
        serde_saphyr::from_str(text).map_err(|e| format!("{name}: invalid YAML: {e}"))?;
    Ok(if v.is_null() { json!({}) } else { v })
}

/// Helm's values coalescing: maps merge, anything else replaces, `null` deletes.
fn merge(base: &mut Value, over: &Value) {
    match (base.as_object_mut(), over.as_object()) {
        (Some(b), Some(o)) => {
            for (k, v) in o {
                if v.is_null() {
                    b.remove(k);
                } else if let Some(slot) = b.get_mut(k).filter(|s| s.is_object() && v.is_object()) {
                    merge(slot, v);
                } else {
                    b.insert(k.clone(), v.clone());
                }
            }
        }
        _ => *base = over.clone(),
    }
}

fn split_key(key: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut chars = key.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'.') => {
                chars.next();
                if let Some(s) = out.last_mut() {
                    s.push('.');
                }
            }
            '.' => out.push(String::new()),
            c => {
                if let Some(s) = out.last_mut() {
                    s.push(c)
                }
            }
        }
    }
    out
}

fn set_path(v: &mut Value, segs: &[String], value: Value) {
    let Some((first, rest)) = segs.split_first() else {
        *v = value;
        return;
    };
    if !v.is_object() {
        *v = Value::Object(Map::new());
    }
    if let Some(m) = v.as_object_mut() {
        let slot = m.entry(first.clone()).or_insert(Value::Null);
        set_path(slot, rest, value);
    }
}

fn bind(chart: &HelmChart, values: &Value) -> Vec<Value> {
    let mut objects = chart.manifests.clone();
    for b in &chart.bindings {
        let mut cur = values;
        let mut found = true;
        for seg in split_key(&b.values_key) {
            match cur.get(&seg) {
                Some(next) => cur = next,
                None => {
                    found = false;
                    break;
                }
            }
        }
        if !found {
            continue;
        }
        for obj in objects.iter_mut().filter(|o| {
            o.get("kind").and_then(Value::as_str) == Some(b.kind.as_str())
                && o.pointer("/metadata/name").and_then(Value::as_str) == Some(b.name.as_str())
        }) {
            set_field(obj, &b.field, cur.clone());
        }
    }
    objects
}

/// Sets a dotted path with `[key=value]` selectors, creating maps along the way.
fn set_field(obj: &mut Value, field: &str, value: Value) {
    let mut cur = obj;
    let segs: Vec<&str> = field.split('.').collect();
    for (i, seg) in segs.iter().enumerate() {
        let (name, selector) = match seg.split_once('[') {
            Some((n, sel)) => (n, sel.strip_suffix(']').and_then(|s| s.split_once('='))),
            None => (*seg, None),
        };
        if !cur.is_object() {
            *cur = json!({});
        }
        let last = i + 1 == segs.len();
        let slot = match cur.as_object_mut() {
            Some(m) => m.entry(name.to_string()).or_insert(Value::Null),
            None => return,
        };
        match selector {
            Some((k, v)) => {
                let Some(item) = slot.as_array_mut().and_then(|a| {
                    a.iter_mut()
                        .find(|it| it.get(k).and_then(Value::as_str) == Some(v))
                }) else {
                    return;
                };
                if last {
                    *item = value;
                    return;
                }
                cur = item;
            }
            None if last => {
                *slot = value;
                return;
            }
            None => cur = slot,
        }
    }
}
