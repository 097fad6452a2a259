//! The ApplicationSet controller, minimal: list generators (`{{key}}` / `{{.key}}` templates)
//! generate Applications owned by the set (controller ownerReference). Each pass re-templates
//! them, reverting any change — including a `spec.syncPolicy` pause — except at the JSON
//! pointers `spec.ignoreApplicationDifferences` names (Argo CD's real field). Applications no
//! longer generated are deleted. Other generators are not simulated (their sets generate none).

use serde_json::{Value, json};

use super::sync::Controller;
use crate::kube::{DeleteOptions, ListOptions, Subresource, WriteOptions};

pub fn reconcile_all(c: &Controller) {
    let Ok(sets) = c.store.list(c.appset_res, None, &ListOptions::default()) else {
        return;
    };
    for set in sets.items {
        if let Err(e) = reconcile(c, &set) {
            tracing::debug!("argocd sim: applicationset: {e}");
        }
    }
}

fn render_template(v: &Value, params: &serde_json::Map<String, Value>) -> Value {
    match v {
        Value::String(s) => {
            let mut out = s.clone();
            for (k, val) in params {
                let text = match val {
                    Value::String(t) => t.clone(),
                    other => other.to_string(),
                };
                for pat in [
                    format!("{{{{{k}}}}}"),
                    format!("{{{{ {k} }}}}"),
                    format!("{{{{.{k}}}}}"),
                    format!("{{{{ .{k} }}}}"),
                ] {
                    out = out.replace(&pat, &text);
                }
            }
            json!(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(|x| render_template(x, params)).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| (k.clone(), render_template(x, params)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn reconcile(c: &Controller, set: &Value) -> Result<(), String> {
    let ns = set
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("");
    let set_name = set
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let uid = set
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or("");
    let template = set.pointer("/spec/template").cloned().unwrap_or(json!({}));
    let owner = json!([{
        "apiVersion": "argoproj.io/v1alpha1", "kind": "ApplicationSet", "name": set_name, "uid": uid,
        "controller": true, "blockOwnerDeletion": true,
    }]);
    let mut generated = Vec::new();
    for g in set
        .pointer("/spec/generators")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        for el in g
            .pointer("/list/elements")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(params) = el.as_object() else {
                continue;
            };
            let mut app = render_template(&template, params);
            app["apiVersion"] = json!("argoproj.io/v1alpha1");
            app["kind"] = json!("Application");
            app["metadata"]["namespace"] = json!(ns);
            app["metadata"]["ownerReferences"] = owner.clone();
            let name = app
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            if name.is_empty() {
                continue;
            }
            generated.push(name.clone());
            upsert(c, set, ns, &name, app)?;
        }
    }
    // Applications this set owns but no longer generates are deleted.
    let apps = c
        .store
        .list(c.app_res, Some(ns), &ListOptions::default())
        .map_err(|e| e.to_string())?;
    for app in apps.items {
        let owned = app
            .pointer("/metadata/ownerReferences")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .any(|o| o.get("uid").and_then(Value::as_str) == Some(uid) && !uid.is_empty());
        let name = app
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        if owned && !generated.iter().any(|g| g == name) {
            let _ = c
                .store
                .delete(c.app_res, Some(ns), name, &DeleteOptions::default());
        }
    }
    Ok(())
}

/// The JSON pointers the set ignores for `app` (entries without `name` apply to all).
fn ignored(set: &Value, app: &str) -> Vec<String> {
    set.pointer("/spec/ignoreApplicationDifferences")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|d| {
            d.get("name")
                .and_then(Value::as_str)
                .is_none_or(|n| n == app)
        })
        .flat_map(|d| {
            d.get("jsonPointers")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|p| p.as_str().map(str::to_string))
        .collect()
}

fn upsert(c: &Controller, set: &Value, ns: &str, name: &str, desired: Value) -> Result<(), String> {
    if c.store.get(c.app_res, Some(ns), name).is_err() {
        return c
            .store
            .create(c.app_res, Some(ns), desired, &WriteOptions::default())
            .map(|_| ())
            .map_err(|e| e.to_string());
    }
    let ignore = ignored(set, name);
    c.store
        .update_with(c.app_res, Some(ns), name, Subresource::Main, |live| {
            let mut next = desired.clone();
            for p in &ignore {
                let live_val = live.pointer(p).cloned();
                set_pointer(&mut next, p, live_val);
            }
            // Fields the template does not own survive: status, operation, and metadata the
            // server or other controllers maintain; annotations and labels are the template's
            // (plus the ignored ones).
            for key in ["spec", "metadata"] {
                if key == "spec" {
                    live["spec"] = next["spec"].clone();
                } else {
                    for f in ["labels", "annotations", "finalizers", "ownerReferences"] {
                        match next["metadata"].get(f) {
                            Some(v) => live["metadata"][f] = v.clone(),
                            None => {
                                if let Some(m) = live["metadata"].as_object_mut()
                                    && f != "finalizers"
                                {
                                    m.remove(f);
                                }
                            }
                        }
                    }
                }
            }
        })
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Sets (or removes, for `None`) the value at a JSON pointer, creating parent objects.
fn set_pointer(doc: &mut Value, pointer: &str, value: Option<Value>) {
    let segs: Vec<String> = pointer
        .split('/')
        .skip(1)
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect();
    let Some((last, parents)) = segs.split_last() else {
        return;
    };
    let mut cur = doc;
    for s in parents {
        if !cur.is_object() {
            *cur = json!({});
        }
        cur = &mut cur[s.as_str()];
    }
    match value {
        Some(v) => {
            if !cur.is_object() {
                *cur = json!({});
            }
            cur[last.as_str()] = v;
        }
        None => {
            if let Some(m) = cur.as_object_mut() {
                m.remove(last);
            }
        }
    }
}
