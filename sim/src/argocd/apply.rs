//! Applying rendered objects to the store like `kubectl apply` from Argo CD: tracking
//! annotation/label added, managed fields replaced, status and server-owned metadata kept;
//! sync waves and kind order respected; pruning of tracked objects no longer rendered.

use serde_json::{Map, Value, json};

use super::settings::{Settings, TRACKING_ANNOTATION, TrackingMethod};
use crate::kube::{ApiError, DeleteOptions, ListOptions, ResId, Store, Subresource, WriteOptions};

/// A rendered object resolved against the API server.
#[derive(Clone, Debug)]
pub struct Target {
    pub res: ResId,
    pub group: String,
    pub version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
    pub desired: Value,
}

impl Target {
    pub fn live(&self, store: &Store) -> Option<Value> {
        store
            .get(self.res, self.namespace.as_deref(), &self.name)
            .ok()
    }
}

/// The tracking id Argo CD 3.x writes: `<app>:<group>/<kind>:<ns>/<name>`.
pub fn tracking_id(app: &str, group: &str, kind: &str, ns: &str, name: &str) -> String {
    format!("{app}:{group}/{kind}:{ns}/{name}")
}

/// Resolves kinds and namespaces and adds the tracking marks. Unknown kinds are an error, as
/// Argo CD's dry run fails on them.
pub fn resolve(
    store: &Store,
    settings: &Settings,
    app_name: &str,
    dest_ns: &str,
    objects: Vec<Value>,
) -> Result<Vec<Target>, String> {
    let mut out = Vec::new();
    for mut obj in objects {
        let api = obj
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let kind = obj
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let name = obj
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if name.is_empty() {
            return Err(format!("{api} {kind}: metadata.name is required"));
        }
        let res = store.res(&api, &kind).map_err(|_| {
            format!("The Kubernetes API could not find {kind} ({api}) for {name}: the server could not find the requested resource")
        })?;
        let namespaced = store.resource(res).map(|t| t.namespaced).unwrap_or(true);
        let (group, version) = api
            .rsplit_once('/')
            .map_or(("".to_string(), api.clone()), |(g, v)| {
                (g.to_string(), v.to_string())
            });
        let namespace = if namespaced {
            let ns = obj
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or(dest_ns)
                .to_string();
            if ns.is_empty() {
                return Err(format!(
                    "{kind}/{name}: no namespace and the destination has none"
                ));
            }
            obj["metadata"]["namespace"] = json!(ns);
            Some(ns)
        } else {
            if let Some(m) = obj["metadata"].as_object_mut() {
                m.remove("namespace");
            }
            None
        };
        let id = tracking_id(
            app_name,
            &group,
            &kind,
            namespace.as_deref().unwrap_or(""),
            &name,
        );
        if matches!(
            settings.tracking,
            TrackingMethod::Annotation | TrackingMethod::AnnotationAndLabel
        ) {
            set_meta(&mut obj, "annotations", TRACKING_ANNOTATION, &id);
        }
        if matches!(
            settings.tracking,
            TrackingMethod::Label | TrackingMethod::AnnotationAndLabel
        ) {
            set_meta(&mut obj, "labels", &settings.instance_label, app_name);
        }
        if out
            .iter()
            .any(|t: &Target| t.res == res && t.namespace == namespace && t.name == name)
        {
            return Err(format!(
                "{kind}/{name} appeared {} times among the manifests",
                2
            ));
        }
        out.push(Target {
            res,
            group,
            version,
            kind,
            namespace,
            name,
            desired: obj,
        });
    }
    out.sort_by_key(|t| (wave(&t.desired), kind_order(&t.kind)));
    Ok(out)
}

fn set_meta(obj: &mut Value, field: &str, key: &str, value: &str) {
    let meta = &mut obj["metadata"];
    if !meta[field].is_object() {
        meta[field] = json!({});
    }
    meta[field][key] = json!(value);
}

fn wave(obj: &Value) -> i64 {
    obj.pointer("/metadata/annotations/argocd.argoproj.io~1sync-wave")
        .and_then(Value::as_str)
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// gitops-engine's kind order within a wave.
fn kind_order(kind: &str) -> usize {
    const ORDER: [&str; 27] = [
        "Namespace",
        "NetworkPolicy",
        "ResourceQuota",
        "LimitRange",
        "PodSecurityPolicy",
        "PodDisruptionBudget",
        "ServiceAccount",
        "Secret",
        "ConfigMap",
        "StorageClass",
        "PersistentVolume",
        "PersistentVolumeClaim",
        "CustomResourceDefinition",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
        "Service",
        "DaemonSet",
        "Pod",
        "ReplicationController",
        "ReplicaSet",
        "Deployment",
        "HorizontalPodAutoscaler",
        "StatefulSet",
        "Job",
        "CronJob",
    ];
    ORDER.iter().position(|k| *k == kind).unwrap_or(ORDER.len())
}

/// Whether every field the manifest sets has that value live (server defaults and status are
/// extra, so a subset test rather than equality).
pub fn subset(desired: &Value, live: &Value) -> bool {
    match (desired, live) {
        (Value::Object(d), Value::Object(l)) => d.iter().all(|(k, dv)| match l.get(k) {
            Some(lv) => subset(dv, lv),
            None => {
                dv.is_null()
                    || dv.as_object().is_some_and(Map::is_empty)
                    || dv.as_array().is_some_and(Vec::is_empty)
            }
        }),
        (Value::Array(d), Value::Array(l)) => {
            d.len() == l.len() && d.iter().zip(l).all(|(a, b)| subset(a, b))
        }
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (a, b) => a == b,
    }
}

/// What `kubectl apply` reports for the object.
pub fn apply(store: &Store, t: &Target, create_namespace: bool) -> Result<&'static str, String> {
    let msg = |e: ApiError| format!("{}/{}: {e}", t.kind, t.name);
    match t.live(store) {
        None => {
            if let Some(ns) = &t.namespace
                && create_namespace
            {
                ensure_namespace(store, ns).map_err(msg)?;
            }
            let mut obj = t.desired.clone();
            if let Some(m) = obj.as_object_mut() {
                m.remove("status");
            }
            store
                .create(t.res, t.namespace.as_deref(), obj, &WriteOptions::default())
                .map_err(msg)?;
            Ok("created")
        }
        Some(live) if subset(&t.desired, &live) => Ok("unchanged"),
        Some(_) => {
            let desired = t.desired.clone();
            store
                .update_with(
                    t.res,
                    t.namespace.as_deref(),
                    &t.name,
                    Subresource::Main,
                    |live| merge_managed(live, &desired),
                )
                .map_err(msg)?;
            Ok("configured")
        }
    }
}

/// Replaces the top-level fields the manifest sets (except status), merges its labels and
/// annotations into the live ones.
fn merge_managed(live: &mut Value, desired: &Value) {
    let (Some(l), Some(d)) = (live.as_object_mut(), desired.as_object()) else {
        return;
    };
    for (k, v) in d {
        match k.as_str() {
            "status" => {}
            "metadata" => {
                for field in ["labels", "annotations"] {
                    if let Some(entries) = v.get(field).and_then(Value::as_object) {
                        let slot = &mut l.entry("metadata").or_insert_with(|| json!({}))[field];
                        if !slot.is_object() {
                            *slot = json!({});
                        }
                        for (ek, ev) in entries {
                            slot[ek] = ev.clone();
                        }
                    }
                }
            }
            _ => {
                l.insert(k.clone(), v.clone());
            }
        }
    }
}

fn ensure_namespace(store: &Store, ns: &str) -> Result<(), ApiError> {
    let res = store.res("v1", "Namespace")?;
    if store.get(res, None, ns).is_ok() {
        return Ok(());
    }
    match store.create(
        res,
        None,
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
        &WriteOptions::default(),
    ) {
        Ok(_) => Ok(()),
        Err(e) if store.get(res, None, ns).is_ok() => {
            let _ = e;
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// A live object the app tracks.
pub struct Tracked {
    pub res: ResId,
    pub group: String,
    pub version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
}

/// Live top-level objects carrying this app's tracking mark (objects with a controller owner
/// are children, as in Argo CD's resource tree, and are skipped).
pub fn tracked(store: &Store, settings: &Settings, app_name: &str) -> Vec<Tracked> {
    let mut out = Vec::new();
    for (res, rt) in store.registry().iter() {
        if rt.view.is_some() && store.registry().storage_of(res) != res
            || matches!(
                rt.kind.as_str(),
                "Event" | "Pod" | "ReplicaSet" | "Node" | "Lease"
            )
            || rt.group == "argoproj.io"
        {
            continue;
        }
        let Ok(list) = store.list(res, None, &ListOptions::default()) else {
            continue;
        };
        for obj in list.items {
            let owned = obj
                .pointer("/metadata/ownerReferences")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .any(|o| o.get("controller").and_then(Value::as_bool) == Some(true));
            if owned {
                continue;
            }
            let name = obj
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let ns = obj
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string);
            let id = tracking_id(
                app_name,
                &rt.group,
                &rt.kind,
                ns.as_deref().unwrap_or(""),
                &name,
            );
            let by_annotation = obj
                .pointer(&format!(
                    "/metadata/annotations/{}",
                    TRACKING_ANNOTATION.replace('/', "~1")
                ))
                .and_then(Value::as_str)
                == Some(id.as_str());
            let by_label = obj
                .pointer(&format!(
                    "/metadata/labels/{}",
                    settings.instance_label.replace('/', "~1")
                ))
                .and_then(Value::as_str)
                == Some(app_name);
            let hit = match settings.tracking {
                TrackingMethod::Annotation | TrackingMethod::AnnotationAndLabel => by_annotation,
                TrackingMethod::Label => by_label,
            };
            if hit {
                out.push(Tracked {
                    res,
                    group: rt.group.clone(),
                    version: rt.version.clone(),
                    kind: rt.kind.clone(),
                    namespace: ns,
                    name,
                });
            }
        }
    }
    out
}

pub fn prune(store: &Store, t: &Tracked) -> Result<(), String> {
    match store.delete(
        t.res,
        t.namespace.as_deref(),
        &t.name,
        &DeleteOptions::default(),
    ) {
        Ok(_) => Ok(()),
        Err(e) if e.to_string().contains("not found") => Ok(()),
        Err(e) => Err(format!("{}/{}: {e}", t.kind, t.name)),
    }
}
