//! The defaults the real apiserver fills in, for the fields clients commonly read back
//! (`spec.replicas`, pod restart policy, container pull policy, namespace phase, pod QoS).
//! Extension point: add per-kind defaults here; they run on create and update.

use serde_json::{Value, json};

use super::registry::ResourceType;

fn set_default(obj: &mut Value, key: &str, value: Value) {
    if let Value::Object(map) = obj
        && map.get(key).is_none_or(Value::is_null)
    {
        map.insert(key.to_string(), value);
    }
}

fn child<'a>(obj: &'a mut Value, key: &str) -> Option<&'a mut Value> {
    obj.as_object_mut()?.get_mut(key)
}

/// Fills in defaults on a create or update of `rt`.
pub fn apply(rt: &ResourceType, obj: &mut Value) {
    match (rt.group.as_str(), rt.kind.as_str()) {
        ("", "Pod") => {
            if let Some(spec) = child(obj, "spec") {
                pod_spec(spec);
            }
        }
        ("", "Namespace") => {
            let name = obj
                .pointer("/metadata/name")
                .cloned()
                .unwrap_or(Value::Null);
            if let Some(meta) = child(obj, "metadata") {
                set_default(meta, "labels", json!({}));
                if let Some(labels) = child(meta, "labels") {
                    set_default(labels, "kubernetes.io/metadata.name", name);
                }
            }
            set_default(obj, "spec", json!({"finalizers": ["kubernetes"]}));
            set_default(obj, "status", json!({"phase": "Active"}));
        }
        ("apps", kind) => {
            if let Some(spec) = child(obj, "spec") {
                if kind != "DaemonSet" {
                    set_default(spec, "replicas", json!(1));
                }
                set_default(spec, "revisionHistoryLimit", json!(10));
                if kind == "Deployment" {
                    set_default(spec, "progressDeadlineSeconds", json!(600));
                    set_default(
                        spec,
                        "strategy",
                        json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}),
                    );
                }
                template(spec);
            }
        }
        ("batch", "Job") => {
            if let Some(spec) = child(obj, "spec") {
                set_default(spec, "backoffLimit", json!(6));
                set_default(spec, "completions", json!(1));
                set_default(spec, "parallelism", json!(1));
                template(spec);
            }
        }
        _ => {}
    }
}

fn template(spec: &mut Value) {
    if let Some(pod_spec_value) = child(spec, "template").and_then(|t| child(t, "spec")) {
        pod_spec(pod_spec_value);
    }
}

fn pod_spec(spec: &mut Value) {
    set_default(spec, "restartPolicy", json!("Always"));
    set_default(spec, "terminationGracePeriodSeconds", json!(30));
    set_default(spec, "dnsPolicy", json!("ClusterFirst"));
    set_default(spec, "schedulerName", json!("default-scheduler"));
    for list in ["containers", "initContainers"] {
        if let Some(Value::Array(containers)) = child(spec, list) {
            for c in containers.iter_mut() {
                let image = c.get("image").and_then(Value::as_str).unwrap_or("");
                let tag_latest = image.rsplit('/').next().is_some_and(|last| {
                    !last.contains('@') && last.split_once(':').is_none_or(|(_, t)| t == "latest")
                });
                let policy = if tag_latest { "Always" } else { "IfNotPresent" };
                set_default(c, "imagePullPolicy", json!(policy));
                set_default(c, "terminationMessagePath", json!("/dev/termination-log"));
                set_default(c, "terminationMessagePolicy", json!("File"));
            }
        }
    }
}

/// The status a new pod starts with: Pending, with its QoS class.
pub fn new_pod_status(pod: &Value) -> Value {
    json!({"phase": "Pending", "qosClass": qos_class(pod)})
}

fn qos_class(pod: &Value) -> &'static str {
    let containers = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut any = false;
    let mut guaranteed = !containers.is_empty();
    for c in &containers {
        let limits = c.pointer("/resources/limits");
        let requests = c.pointer("/resources/requests");
        any |= limits.is_some_and(|l| l.as_object().is_some_and(|m| !m.is_empty()))
            || requests.is_some_and(|r| r.as_object().is_some_and(|m| !m.is_empty()));
        for res in ["cpu", "memory"] {
            let limit = limits.and_then(|l| l.get(res));
            // A missing request defaults to the limit.
            let request = requests.and_then(|r| r.get(res)).or(limit);
            if limit.is_none() || request != limit {
                guaranteed = false;
            }
        }
    }
    match (any, guaranteed) {
        (false, _) => "BestEffort",
        (true, true) => "Guaranteed",
        (true, false) => "Burstable",
    }
}
