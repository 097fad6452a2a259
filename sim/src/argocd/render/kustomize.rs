//! A Kustomize build, written for the simulator (independent of suture's resolver): resources
//! (files, directories, `../` bases), generators (ConfigMap/Secret with kustomize's name hash),
//! builtin transformers in kustomize's order (strategic-merge patches, `patches`, namespace,
//! prefix/suffix, labels, annotations, JSON 6902 patches, replicas, images), `transformers:`
//! files with the builtin `LabelTransformer`/`AnnotationsTransformer`, and name references.
//! Unsupported features (remote bases, components, helmCharts, replacements, vars, ...) are
//! refused with a clear message rather than rendered wrongly.

use std::collections::BTreeMap;

use base64::Engine;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::{RenderResult, Tree, join, parse_manifests};

const FILE_NAMES: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];
const MAX_DEPTH: usize = 16;
const REFUSED: [&str; 8] = [
    "components",
    "helmCharts",
    "helmChartInflationGenerator",
    "replacements",
    "vars",
    "generators",
    "validators",
    "openapi",
];

/// The kustomization file of `dir`, if any.
pub fn find_kustomization(tree: &Tree<'_>, dir: &str) -> Option<String> {
    FILE_NAMES
        .iter()
        .filter_map(|f| join(dir, f).ok())
        .find(|p| tree.is_file(p))
}

/// One object in the build, with the names it had (patch targets match any of them, as
/// kustomize matches original and current ids).
#[derive(Clone, Debug)]
struct Res {
    obj: Value,
    names: Vec<String>,
    /// The name when the current kustomization level started (renames are found by it).
    level_name: String,
    /// Generated with a content hash suffix still to add (done once, at the top level).
    needs_hash: bool,
}

impl Res {
    fn new(obj: Value) -> Res {
        let name = str_at(&obj, "/metadata/name").to_string();
        Res {
            obj,
            names: vec![name.clone()],
            level_name: name,
            needs_hash: false,
        }
    }
    fn kind(&self) -> &str {
        str_at(&self.obj, "/kind")
    }
    fn name(&self) -> &str {
        str_at(&self.obj, "/metadata/name")
    }
    fn set_name(&mut self, name: String) {
        self.obj["metadata"]["name"] = json!(name);
        if !self.names.contains(&name) {
            self.names.push(name);
        }
    }
}

fn str_at<'a>(v: &'a Value, p: &str) -> &'a str {
    v.pointer(p).and_then(Value::as_str).unwrap_or("")
}

/// Builds the kustomization in `dir`; `opts` is the Application's `spec.source.kustomize`.
pub fn render(
    tree: &Tree<'_>,
    dir: &str,
    opts: Option<&Value>,
    max_objects: usize,
) -> RenderResult<Vec<Value>> {
    let mut stack = Vec::new();
    let mut res = build(tree, dir, &mut stack, max_objects)?;
    if let Some(opts) = opts {
        app_overrides(&mut res, opts)?;
    }
    add_hashes(&mut res);
    Ok(res.into_iter().map(|r| r.obj).collect())
}

/// The Application's own kustomize overrides (`namePrefix`, `images`, `commonLabels`, ...).
fn app_overrides(res: &mut Vec<Res>, opts: &Value) -> RenderResult<()> {
    let mut k = Map::new();
    for key in [
        "namePrefix",
        "nameSuffix",
        "images",
        "commonLabels",
        "commonAnnotations",
        "namespace",
        "patches",
        "replicas",
    ] {
        if let Some(v) = opts.get(key) {
            k.insert(key.into(), v.clone());
        }
    }
    // Argo CD writes images as "name=newName:tag" strings.
    if let Some(Value::Array(images)) = k.get_mut("images") {
        for img in images.iter_mut() {
            if let Some(s) = img.as_str() {
                *img = parse_image_override(s);
            }
        }
    }
    transform(res, &Value::Object(k), None)
}

fn parse_image_override(s: &str) -> Value {
    let (name, target) = s.split_once('=').unwrap_or((s, s));
    let (base, digest) = split_digest(target);
    let (new_name, tag) = split_tag(base);
    let mut out = json!({"name": split_tag(name).0});
    if new_name != split_tag(name).0 {
        out["newName"] = json!(new_name);
    }
    if let Some(t) = tag {
        out["newTag"] = json!(t);
    }
    if let Some(d) = digest {
        out["digest"] = json!(d);
    }
    out
}

fn build(
    tree: &Tree<'_>,
    dir: &str,
    stack: &mut Vec<String>,
    max_objects: usize,
) -> RenderResult<Vec<Res>> {
    if stack.len() >= MAX_DEPTH || stack.iter().any(|d| d == dir) {
        return Err(format!(
            "kustomization {dir}: cycle or nesting deeper than {MAX_DEPTH}"
        ));
    }
    let file = find_kustomization(tree, dir)
        .ok_or_else(|| format!("unable to find one of {FILE_NAMES:?} in directory '{dir}'"))?;
    let k: Value = serde_saphyr::from_str(&tree.read(&file)?)
        .map_err(|e| format!("{file}: invalid YAML: {e}"))?;
    if !k.is_object() {
        return Err(format!("{file}: not a mapping"));
    }
    for key in REFUSED {
        if k.get(key).is_some_and(|v| !v.is_null()) {
            return Err(format!(
                "{file}: kustomize '{key}' is not supported by the Argo CD simulation"
            ));
        }
    }
    stack.push(dir.to_string());
    let mut res: Vec<Res> = Vec::new();
    let entries = strings(k.get("resources")).chain(strings(k.get("bases")));
    for entry in entries {
        if entry.contains("://") || entry.starts_with("github.com/") || entry.starts_with("git@") {
            return Err(format!("{file}: remote resource {entry} is not supported"));
        }
        let path = join(dir, &entry)?;
        let mut loaded = if tree.is_file(&path) {
            parse_manifests(&path, &tree.read(&path)?)?
                .into_iter()
                .map(Res::new)
                .collect()
        } else if tree.is_dir(&path) {
            build(tree, &path, stack, max_objects)?
        } else {
            return Err(format!(
                "{file}: accumulating resources: '{entry}' is not a file or directory"
            ));
        };
        res.append(&mut loaded);
        if res.len() > max_objects {
            return Err(format!("more than {max_objects} objects rendered"));
        }
    }
    generate(tree, dir, &file, &k, &mut res)?;
    check_unique(&res, &file)?;
    transform(&mut res, &k, Some((tree, dir)))?;
    stack.pop();
    Ok(res)
}

fn strings(v: Option<&Value>) -> impl Iterator<Item = String> + '_ {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_string))
}

fn check_unique(res: &[Res], file: &str) -> RenderResult<()> {
    let mut seen = std::collections::BTreeSet::new();
    for r in res {
        let id = (
            r.kind().to_string(),
            str_at(&r.obj, "/metadata/namespace").to_string(),
            r.name().to_string(),
        );
        if !seen.insert(id.clone()) {
            return Err(format!(
                "{file}: may not add resource with an already registered id: {}/{}",
                id.0, id.2
            ));
        }
    }
    Ok(())
}

/// Runs the builtin transformers in kustomize's order, then the `transformers:` files, then
/// fixes references to renamed objects.
fn transform(res: &mut Vec<Res>, k: &Value, files: Option<(&Tree<'_>, &str)>) -> RenderResult<()> {
    for r in res.iter_mut() {
        r.level_name = r.name().to_string();
    }
    let load = |entry: &Value| -> RenderResult<String> {
        match (entry.as_str(), files) {
            (Some(s), Some((tree, dir)))
                if !s.contains('\n') && !s.trim_start().starts_with('{') =>
            {
                tree.read(&join(dir, s)?)
            }
            (Some(s), _) => Ok(s.to_string()),
            (None, _) => Err("a patch must be a path or an inline string".into()),
        }
    };
    for entry in k
        .get("patchesStrategicMerge")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let text = load(entry)?;
        for doc in parse_objects(&text)? {
            apply_smp_by_id(res, &doc)?;
        }
    }
    for p in k
        .get("patches")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let text = match (p.get("path"), p.get("patch")) {
            (Some(path), _) => load(path)?,
            (None, Some(Value::String(s))) => s.clone(),
            _ => return Err("patches: an entry needs 'path' or 'patch'".into()),
        };
        apply_patch(res, &text, p.get("target"))?;
    }
    if let Some(ns) = k
        .get("namespace")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    {
        for r in res.iter_mut().filter(|r| !cluster_scoped(r.kind())) {
            r.obj["metadata"]["namespace"] = json!(ns);
        }
        for r in res.iter_mut() {
            binding_subjects_namespace(&mut r.obj, ns);
        }
    }
    let prefix = k.get("namePrefix").and_then(Value::as_str).unwrap_or("");
    let suffix = k.get("nameSuffix").and_then(Value::as_str).unwrap_or("");
    if !prefix.is_empty() || !suffix.is_empty() {
        for r in res
            .iter_mut()
            .filter(|r| !matches!(r.kind(), "Namespace" | "CustomResourceDefinition"))
        {
            let name = format!("{prefix}{}{suffix}", r.name());
            r.set_name(name);
        }
    }
    if let Some(labels) = k.get("commonLabels").and_then(Value::as_object) {
        for r in res.iter_mut() {
            let paths = label_paths(r.kind(), true, true);
            set_entries(&mut r.obj, &paths, labels);
        }
    }
    for l in k
        .get("labels")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let pairs = l
            .get("pairs")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let selectors = l
            .get("includeSelectors")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let templates = l
            .get("includeTemplates")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        for r in res.iter_mut() {
            let paths = label_paths(r.kind(), selectors, templates || selectors);
            set_entries(&mut r.obj, &paths, &pairs);
        }
    }
    if let Some(ann) = k.get("commonAnnotations").and_then(Value::as_object) {
        for r in res.iter_mut() {
            let mut paths = vec!["metadata/annotations".to_string()];
            paths.extend(template_paths(r.kind(), "annotations"));
            set_entries(&mut r.obj, &paths, ann);
        }
    }
    for p in k
        .get("patchesJson6902")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let text = match (p.get("path"), p.get("patch")) {
            (Some(path), _) => load(path)?,
            (None, Some(Value::String(s))) => s.clone(),
            _ => return Err("patchesJson6902: an entry needs 'path' or 'patch'".into()),
        };
        let target = p
            .get("target")
            .ok_or("patchesJson6902: 'target' is required")?;
        apply_patch(res, &text, Some(target))?;
    }
    for rep in k
        .get("replicas")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = str_at(rep, "/name");
        let count = rep.get("count").cloned().unwrap_or(json!(1));
        for r in res.iter_mut().filter(|r| r.names.iter().any(|n| n == name)) {
            if r.obj.get("spec").is_some() {
                r.obj["spec"]["replicas"] = count.clone();
            }
        }
    }
    for img in k
        .get("images")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        for r in res.iter_mut() {
            set_images(&mut r.obj, img);
        }
    }
    for entry in k
        .get("transformers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let text = load(entry)?;
        for t in parse_objects(&text)? {
            builtin_transformer(res, &t)?;
        }
    }
    // Name references: objects renamed at this level are renamed where referenced.
    let renames: Vec<(String, String, String)> = res
        .iter()
        .filter(|r| r.level_name != r.name())
        .map(|r| {
            (
                r.kind().to_string(),
                r.level_name.clone(),
                r.name().to_string(),
            )
        })
        .collect();
    for (kind, old, new) in &renames {
        for r in res.iter_mut() {
            rename_refs(&mut r.obj, kind, old, new);
        }
    }
    Ok(())
}

fn cluster_scoped(kind: &str) -> bool {
    matches!(
        kind,
        "Namespace"
            | "ClusterRole"
            | "ClusterRoleBinding"
            | "CustomResourceDefinition"
            | "PersistentVolume"
            | "StorageClass"
            | "ClusterIssuer"
            | "Node"
            | "PriorityClass"
            | "APIService"
            | "ValidatingWebhookConfiguration"
            | "MutatingWebhookConfiguration"
            | "IngressClass"
    )
}

fn binding_subjects_namespace(obj: &mut Value, ns: &str) {
    if !matches!(str_at(obj, "/kind"), "RoleBinding" | "ClusterRoleBinding") {
        return;
    }
    for s in obj
        .pointer_mut("/subjects")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        if str_at(s, "/kind") == "ServiceAccount" && str_at(s, "/namespace") == "default" {
            s["namespace"] = json!(ns);
        }
    }
}

/// Where labels go: metadata always, selectors and templates of workloads when asked
/// (kustomize's `commonLabels` field specs, abridged).
fn label_paths(kind: &str, selectors: bool, templates: bool) -> Vec<String> {
    let mut out = vec!["metadata/labels".to_string()];
    if selectors {
        match kind {
            "Service" => out.push("spec/selector".into()),
            "Deployment" | "ReplicaSet" | "DaemonSet" | "StatefulSet" => {
                out.push("spec/selector/matchLabels".into())
            }
            _ => {}
        }
    }
    if templates {
        out.extend(template_paths(kind, "labels"));
        if kind == "StatefulSet" {
            out.push("spec/volumeClaimTemplates/metadata/labels".into());
        }
    }
    out
}

fn template_paths(kind: &str, field: &str) -> Vec<String> {
    match kind {
        "Deployment" | "ReplicaSet" | "DaemonSet" | "StatefulSet" | "Job" => {
            vec![format!("spec/template/metadata/{field}")]
        }
        "CronJob" => vec![
            format!("spec/jobTemplate/metadata/{field}"),
            format!("spec/jobTemplate/spec/template/metadata/{field}"),
        ],
        _ => Vec::new(),
    }
}

/// Sets `entries` in the map at each slash path, creating it; lists along the path are
/// traversed element by element (kustomize field-spec semantics). Missing parents other than
/// the last map are not created.
fn set_entries(obj: &mut Value, paths: &[String], entries: &Map<String, Value>) {
    for path in paths {
        let segs: Vec<&str> = path.split('/').collect();
        set_at(obj, &segs, entries);
    }
}

fn set_at(v: &mut Value, segs: &[&str], entries: &Map<String, Value>) {
    if let Value::Array(items) = v {
        for item in items {
            set_at(item, segs, entries);
        }
        return;
    }
    let Some(map) = v.as_object_mut() else { return };
    match segs {
        [] => {}
        [last] => {
            let slot = map.entry(last.to_string()).or_insert_with(|| json!({}));
            if slot.is_null() {
                *slot = json!({});
            }
            if let Some(m) = slot.as_object_mut() {
                for (k, val) in entries {
                    m.insert(k.clone(), val.clone());
                }
            }
        }
        [first, rest @ ..] => {
            let create = rest.len() == 1 && *first == "metadata";
            if !map.contains_key(*first) && create {
                map.insert(first.to_string(), json!({}));
            }
            if let Some(next) = map.get_mut(*first) {
                set_at(next, rest, entries);
            }
        }
    }
}

fn builtin_transformer(res: &mut [Res], t: &Value) -> RenderResult<()> {
    let kind = str_at(t, "/kind");
    let (field, entries) = match kind {
        "LabelTransformer" => ("labels", t.get("labels")),
        "AnnotationsTransformer" => ("annotations", t.get("annotations")),
        other => {
            return Err(format!(
                "transformer kind {other:?} is not supported by the Argo CD simulation \
                 (only builtin LabelTransformer and AnnotationsTransformer)"
            ));
        }
    };
    let entries = entries
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let specs = t
        .get("fieldSpecs")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_else(|| vec![json!({"path": format!("metadata/{field}"), "create": true})]);
    for r in res.iter_mut() {
        for spec in &specs {
            let k = str_at(spec, "/kind");
            if !k.is_empty() && k != r.kind() {
                continue;
            }
            let path = str_at(spec, "/path").to_string();
            set_entries(&mut r.obj, &[path], &entries);
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- generators

fn generate(
    tree: &Tree<'_>,
    dir: &str,
    file: &str,
    k: &Value,
    res: &mut Vec<Res>,
) -> RenderResult<()> {
    let global_no_hash = k
        .pointer("/generatorOptions/disableNameSuffixHash")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    for (field, kind) in [
        ("configMapGenerator", "ConfigMap"),
        ("secretGenerator", "Secret"),
    ] {
        for g in k.get(field).and_then(Value::as_array).into_iter().flatten() {
            let name = str_at(g, "/name");
            if name.is_empty() {
                return Err(format!("{file}: {field} entry without a name"));
            }
            let mut data = BTreeMap::new();
            for lit in strings(g.get("literals")) {
                let (key, val) = lit
                    .split_once('=')
                    .ok_or_else(|| format!("{file}: literal {lit:?} is not key=value"))?;
                data.insert(key.to_string(), unquote(val).to_string());
            }
            for f in strings(g.get("files")) {
                let (key, path) = match f.split_once('=') {
                    Some((key, path)) => (key.to_string(), path.to_string()),
                    None => (f.rsplit('/').next().unwrap_or(&f).to_string(), f.clone()),
                };
                data.insert(key, tree.read(&join(dir, &path)?)?);
            }
            for f in strings(g.get("envs").or(g.get("env"))) {
                for line in tree.read(&join(dir, &f)?)?.lines() {
                    let line = line.trim();
                    if line.is_empty() || line.starts_with('#') {
                        continue;
                    }
                    let (key, val) = line.split_once('=').unwrap_or((line, ""));
                    data.insert(key.to_string(), val.to_string());
                }
            }
            let data: Map<String, Value> = if kind == "Secret" {
                let b64 = base64::engine::general_purpose::STANDARD;
                data.into_iter()
                    .map(|(k, v)| (k, json!(b64.encode(v))))
                    .collect()
            } else {
                data.into_iter().map(|(k, v)| (k, json!(v))).collect()
            };
            let no_hash = g
                .pointer("/options/disableNameSuffixHash")
                .and_then(Value::as_bool)
                .unwrap_or(global_no_hash);
            let behavior = g
                .get("behavior")
                .and_then(Value::as_str)
                .unwrap_or("create");
            let ns = str_at(g, "/namespace");
            if behavior != "create" {
                let existing = res
                    .iter_mut()
                    .find(|r| r.kind() == kind && r.names.iter().any(|n| n == name))
                    .ok_or_else(|| {
                        format!("{file}: {behavior} of {kind} {name}: no such base object")
                    })?;
                let slot = &mut existing.obj["data"];
                if behavior == "replace" || !slot.is_object() {
                    *slot = Value::Object(data);
                } else if let Some(m) = slot.as_object_mut() {
                    m.extend(data);
                }
                continue;
            }
            let mut obj =
                json!({"apiVersion": "v1", "kind": kind, "metadata": {"name": name}, "data": data});
            if kind == "Secret" {
                obj["type"] = json!(g.get("type").and_then(Value::as_str).unwrap_or("Opaque"));
            }
            if !ns.is_empty() {
                obj["metadata"]["namespace"] = json!(ns);
            }
            for meta in ["labels", "annotations"] {
                if let Some(m) = g.pointer(&format!("/options/{meta}")) {
                    obj["metadata"][meta] = m.clone();
                }
            }
            let mut r = Res::new(obj);
            r.needs_hash = !no_hash;
            res.push(r);
        }
    }
    Ok(())
}

fn unquote(s: &str) -> &str {
    let t = s.trim();
    if t.len() >= 2
        && ((t.starts_with('"') && t.ends_with('"')) || (t.starts_with('\'') && t.ends_with('\'')))
    {
        &t[1..t.len() - 1]
    } else {
        s
    }
}

/// Kustomize's generator name hash: sha256 over a Go-`json.Marshal`-style encoding of
/// kind/name/data (keys sorted, `<>&` escaped), first 10 hex digits with some letters swapped.
fn add_hashes(res: &mut [Res]) {
    let mut renames = Vec::new();
    for r in res.iter_mut().filter(|r| r.needs_hash) {
        let mut m = BTreeMap::new();
        m.insert("kind", json!(r.kind()));
        m.insert("name", json!(r.name()));
        let data: BTreeMap<String, Value> = r
            .obj
            .get("data")
            .and_then(Value::as_object)
            .map(|d| d.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        m.insert("data", json!(data));
        if r.kind() == "Secret" {
            m.insert("type", json!(str_at(&r.obj, "/type")));
        }
        let encoded = serde_json::to_string(&m)
            .unwrap_or_default()
            .replace('<', "\\u003c")
            .replace('>', "\\u003e")
            .replace('&', "\\u0026");
        let hex = format!("{:x}", Sha256::digest(encoded.as_bytes()));
        let suffix: String = hex[..10]
            .chars()
            .map(|c| match c {
                '0' => 'g',
                '1' => 'h',
                '3' => 'k',
                'a' => 'm',
                'e' => 't',
                c => c,
            })
            .collect();
        let old = r.name().to_string();
        let new = format!("{old}-{suffix}");
        r.set_name(new.clone());
        r.needs_hash = false;
        renames.push((r.kind().to_string(), old, new));
    }
    for (kind, old, new) in &renames {
        for r in res.iter_mut() {
            rename_refs(&mut r.obj, kind, old, new);
        }
    }
}

// ---------------------------------------------------------------- name references

fn pod_specs(obj: &mut Value) -> Vec<&mut Value> {
    let path = match str_at(obj, "/kind") {
        "Pod" => "/spec",
        "CronJob" => "/spec/jobTemplate/spec/template/spec",
        "Deployment" | "ReplicaSet" | "DaemonSet" | "StatefulSet" | "Job" => "/spec/template/spec",
        _ => return Vec::new(),
    };
    obj.pointer_mut(path).into_iter().collect()
}

fn rename_refs(obj: &mut Value, kind: &str, old: &str, new: &str) {
    let set = |v: Option<&mut Value>| {
        if let Some(v) = v
            && v.as_str() == Some(old)
        {
            *v = json!(new);
        }
    };
    if str_at(obj, "/kind") == "HorizontalPodAutoscaler"
        && str_at(obj, "/spec/scaleTargetRef/kind") == kind
    {
        set(obj.pointer_mut("/spec/scaleTargetRef/name"));
    }
    if kind == "Service" && str_at(obj, "/kind") == "StatefulSet" {
        set(obj.pointer_mut("/spec/serviceName"));
    }
    if kind == "ServiceAccount"
        && matches!(str_at(obj, "/kind"), "RoleBinding" | "ClusterRoleBinding")
    {
        for s in obj
            .pointer_mut("/subjects")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            if str_at(s, "/kind") == "ServiceAccount" {
                set(s.get_mut("name"));
            }
        }
    }
    for spec in pod_specs(obj) {
        match kind {
            "ServiceAccount" => set(spec.get_mut("serviceAccountName")),
            "Secret" => {
                for s in spec
                    .get_mut("imagePullSecrets")
                    .and_then(Value::as_array_mut)
                    .into_iter()
                    .flatten()
                {
                    set(s.get_mut("name"));
                }
            }
            _ => {}
        }
        for vol in spec
            .get_mut("volumes")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            match kind {
                "ConfigMap" => set(vol.pointer_mut("/configMap/name")),
                "Secret" => set(vol.pointer_mut("/secret/secretName")),
                "PersistentVolumeClaim" => set(vol.pointer_mut("/persistentVolumeClaim/claimName")),
                _ => {}
            }
            for src in vol
                .pointer_mut("/projected/sources")
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                match kind {
                    "ConfigMap" => set(src.pointer_mut("/configMap/name")),
                    "Secret" => set(src.pointer_mut("/secret/name")),
                    _ => {}
                }
            }
        }
        for list in ["containers", "initContainers"] {
            for c in spec
                .get_mut(list)
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                for e in c
                    .get_mut("env")
                    .and_then(Value::as_array_mut)
                    .into_iter()
                    .flatten()
                {
                    match kind {
                        "ConfigMap" => set(e.pointer_mut("/valueFrom/configMapKeyRef/name")),
                        "Secret" => set(e.pointer_mut("/valueFrom/secretKeyRef/name")),
                        _ => {}
                    }
                }
                for e in c
                    .get_mut("envFrom")
                    .and_then(Value::as_array_mut)
                    .into_iter()
                    .flatten()
                {
                    match kind {
                        "ConfigMap" => set(e.pointer_mut("/configMapRef/name")),
                        "Secret" => set(e.pointer_mut("/secretRef/name")),
                        _ => {}
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------- images

fn split_digest(image: &str) -> (&str, Option<&str>) {
    match image.split_once('@') {
        Some((a, d)) => (a, Some(d)),
        None => (image, None),
    }
}

/// `registry:5000/app:tag` -> (`registry:5000/app`, Some(`tag`)): a colon after the last `/`.
fn split_tag(image: &str) -> (&str, Option<&str>) {
    let slash = image.rfind('/').map_or(0, |i| i + 1);
    match image[slash..].rfind(':') {
        Some(i) => (&image[..slash + i], Some(&image[slash + i + 1..])),
        None => (image, None),
    }
}

fn set_images(v: &mut Value, rule: &Value) {
    match v {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                if matches!(key.as_str(), "containers" | "initContainers")
                    && let Value::Array(cs) = child
                {
                    for c in cs.iter_mut() {
                        if let Some(img) = c.get("image").and_then(Value::as_str) {
                            let new = retag(img, rule);
                            c["image"] = json!(new);
                        }
                    }
                } else {
                    set_images(child, rule);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| set_images(i, rule)),
        _ => {}
    }
}

fn retag(image: &str, rule: &Value) -> String {
    let (base, digest) = split_digest(image);
    let (name, tag) = split_tag(base);
    if name != str_at(rule, "/name") {
        return image.to_string();
    }
    let new_name = rule.get("newName").and_then(Value::as_str).unwrap_or(name);
    if let Some(d) = rule.get("digest").and_then(Value::as_str) {
        return format!("{new_name}@{d}");
    }
    if let Some(t) = rule.get("newTag").and_then(|t| {
        t.as_str()
            .map(str::to_string)
            .or_else(|| t.as_i64().map(|n| n.to_string()))
    }) {
        return format!("{new_name}:{t}");
    }
    let mut out = new_name.to_string();
    if let Some(t) = tag {
        out = format!("{out}:{t}");
    }
    if let Some(d) = digest {
        out = format!("{out}@{d}");
    }
    out
}

// ---------------------------------------------------------------- patches

/// The objects of a patch or transformer file.
fn parse_objects(text: &str) -> RenderResult<Vec<Value>> {
    crate::objects::parse(text).map_err(|e| e.to_string())
}

/// A `patches` entry: JSON 6902 (a list of operations, needs a target) or a strategic merge
/// patch (applied to the target selection, or to the object it names).
fn apply_patch(res: &mut Vec<Res>, text: &str, target: Option<&Value>) -> RenderResult<()> {
    let docs = crate::objects::parse(text).map_err(|e| format!("patch: {e}"))?;
    let is_6902 = docs.len() == 1 && docs[0].is_array();
    if is_6902 {
        let target = target.ok_or("a JSON 6902 patch needs a target")?;
        let ops: json_patch::Patch = serde_json::from_value(docs[0].clone())
            .map_err(|e| format!("invalid JSON 6902 patch: {e}"))?;
        let mut hit = false;
        for r in res.iter_mut().filter(|r| selects(target, r)) {
            json_patch::patch(&mut r.obj, &ops)
                .map_err(|e| format!("JSON 6902 patch on {}/{}: {e}", r.kind(), r.name()))?;
            hit = true;
        }
        if !hit {
            return Err(format!("patch target {target} matches no resource"));
        }
        return Ok(());
    }
    for doc in docs {
        match target {
            Some(t) => {
                for r in res.iter_mut().filter(|r| selects(t, r)) {
                    let (name, ns) = (
                        r.name().to_string(),
                        r.obj.pointer("/metadata/namespace").cloned(),
                    );
                    smp(&mut r.obj, &doc);
                    r.obj["metadata"]["name"] = json!(name);
                    if let Some(ns) = ns {
                        r.obj["metadata"]["namespace"] = ns;
                    }
                }
            }
            None => apply_smp_by_id(res, &doc)?,
        }
    }
    Ok(())
}

fn apply_smp_by_id(res: &mut Vec<Res>, doc: &Value) -> RenderResult<()> {
    let kind = str_at(doc, "/kind");
    let name = str_at(doc, "/metadata/name");
    let ns = str_at(doc, "/metadata/namespace");
    let matches: Vec<usize> = res
        .iter()
        .enumerate()
        .filter(|(_, r)| {
            r.kind() == kind
                && r.names.iter().any(|n| n == name)
                && (ns.is_empty() || str_at(&r.obj, "/metadata/namespace") == ns)
        })
        .map(|(i, _)| i)
        .collect();
    let [i] = matches.as_slice() else {
        return Err(format!(
            "failed to find unique target for patch {kind}/{name} ({} matches)",
            matches.len()
        ));
    };
    if doc.get("$patch").and_then(Value::as_str) == Some("delete") {
        res.remove(*i);
        return Ok(());
    }
    let r = &mut res[*i];
    let (cur, cur_ns) = (
        r.name().to_string(),
        r.obj.pointer("/metadata/namespace").cloned(),
    );
    smp(&mut r.obj, doc);
    r.obj["metadata"]["name"] = json!(cur);
    if let Some(n) = cur_ns {
        r.obj["metadata"]["namespace"] = n;
    }
    Ok(())
}

/// A kustomize patch target: group/version/kind/name/namespace and equality label selectors.
fn selects(t: &Value, r: &Res) -> bool {
    let s = |k: &str| t.get(k).and_then(Value::as_str).unwrap_or("");
    let api = str_at(&r.obj, "/apiVersion");
    let (group, version) = api.rsplit_once('/').unwrap_or(("", api));
    let name_ok = match s("name") {
        "" => true,
        n if n.contains(".*") || n.contains('*') => globset::Glob::new(&n.replace(".*", "*"))
            .map(|g| g.compile_matcher())
            .is_ok_and(|m| r.names.iter().any(|x| m.is_match(x))),
        n => r.names.iter().any(|x| x == n),
    };
    (s("kind").is_empty() || s("kind") == r.kind())
        && (s("group").is_empty() || s("group") == group)
        && (s("version").is_empty() || s("version") == version)
        && (s("namespace").is_empty() || s("namespace") == str_at(&r.obj, "/metadata/namespace"))
        && name_ok
        && selector_ok(s("labelSelector"), r.obj.pointer("/metadata/labels"))
        && selector_ok(
            s("annotationSelector"),
            r.obj.pointer("/metadata/annotations"),
        )
}

fn selector_ok(sel: &str, map: Option<&Value>) -> bool {
    sel.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .all(|term| {
            let got = |k: &str| map.and_then(|m| m.get(k.trim())).and_then(Value::as_str);
            if let Some((k, v)) = term.split_once("!=") {
                got(k) != Some(v.trim())
            } else if let Some((k, v)) = term.split_once('=') {
                got(k.trim_end_matches('=')) == Some(v.trim())
            } else {
                got(term).is_some()
            }
        })
}

/// The merge key of a list field for strategic merge (the common Kubernetes ones).
fn merge_key(field: &str) -> Option<&'static str> {
    match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "volumes"
        | "env"
        | "imagePullSecrets"
        | "volumeClaimTemplates" => Some("name"),
        "ports" => Some("containerPort"),
        "volumeMounts" => Some("mountPath"),
        "volumeDevices" => Some("devicePath"),
        "hostAliases" => Some("ip"),
        "topologySpreadConstraints" => Some("topologyKey"),
        _ => None,
    }
}

/// A strategic merge patch: maps merge, `null` deletes, lists with a merge key merge by it
/// (`$patch: delete` removes an element, `$patch: replace` replaces), other lists are replaced.
pub fn smp(target: &mut Value, patch: &Value) {
    let (Some(t), Some(p)) = (target.as_object_mut(), patch.as_object()) else {
        *target = strip(patch);
        return;
    };
    for (k, pv) in p {
        if k.starts_with('$') {
            continue;
        }
        if pv.is_null() {
            t.remove(k);
            continue;
        }
        match t.get_mut(k) {
            Some(tv) if tv.is_array() && pv.is_array() => merge_list(k, tv, pv),
            Some(tv) if tv.is_object() && pv.is_object() => {
                if pv.get("$patch").and_then(Value::as_str) == Some("replace") {
                    *tv = strip(pv);
                } else {
                    smp(tv, pv);
                }
            }
            _ => {
                t.insert(k.clone(), strip(pv));
            }
        }
    }
}

fn merge_list(field: &str, target: &mut Value, patch: &Value) {
    let (Some(items), Some(patches)) = (target.as_array_mut(), patch.as_array()) else {
        return;
    };
    let directive = |v: &Value| v.get("$patch").and_then(Value::as_str).map(str::to_string);
    if patches
        .iter()
        .any(|p| directive(p).as_deref() == Some("replace"))
    {
        *items = patches
            .iter()
            .filter(|p| directive(p).is_none())
            .map(strip)
            .collect();
        return;
    }
    let Some(key) = merge_key(field) else {
        *items = patches.iter().map(strip).collect();
        return;
    };
    for pe in patches {
        let id = pe.get(key);
        let pos = items
            .iter()
            .position(|it| id.is_some() && it.get(key) == id);
        match (directive(pe).as_deref(), pos) {
            (Some("delete"), Some(i)) => {
                items.remove(i);
            }
            (Some("delete"), None) => {}
            (_, Some(i)) => smp(&mut items[i], pe),
            (_, None) => items.push(strip(pe)),
        }
    }
}

/// A patch value without `$` directives, as it lands in the object.
fn strip(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !k.starts_with('$'))
                .map(|(k, v)| (k.clone(), strip(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(strip).collect()),
        other => other.clone(),
    }
}
