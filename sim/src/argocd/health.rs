//! Resource health as Argo CD's built-in checks assess it (abridged): workloads by their rollout
//! status, Pods by phase and container states, PVCs by binding; other kinds are Healthy.

use serde_json::Value;

/// Argo CD's health order: the app takes its worst resource's status.
pub fn rank(status: &str) -> u8 {
    match status {
        "Healthy" => 0,
        "Suspended" => 1,
        "Progressing" => 2,
        "Missing" => 3,
        "Degraded" => 4,
        _ => 5,
    }
}

fn int(obj: &Value, p: &str) -> i64 {
    obj.pointer(p).and_then(Value::as_i64).unwrap_or(0)
}

/// (status, message) of a live object; `None` = the object does not exist.
pub fn assess(obj: Option<&Value>) -> (&'static str, String) {
    let Some(obj) = obj else {
        return ("Missing", String::new());
    };
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
    match kind {
        "Deployment" | "StatefulSet" | "ReplicaSet" => workload(obj),
        "DaemonSet" => {
            let desired = int(obj, "/status/desiredNumberScheduled");
            if int(obj, "/status/observedGeneration") < int(obj, "/metadata/generation") {
                (
                    "Progressing",
                    "Waiting for rollout to finish: observed generation is old".into(),
                )
            } else if int(obj, "/status/numberAvailable") < desired || obj.get("status").is_none() {
                (
                    "Progressing",
                    "Waiting for daemon set pods to be available".into(),
                )
            } else {
                ("Healthy", String::new())
            }
        }
        "Pod" => pod(obj),
        "PersistentVolumeClaim" => match obj.pointer("/status/phase").and_then(Value::as_str) {
            Some("Bound") => ("Healthy", String::new()),
            Some("Lost") => ("Degraded", "claim lost".into()),
            _ => ("Progressing", "Waiting for the claim to be bound".into()),
        },
        _ => ("Healthy", String::new()),
    }
}

fn workload(obj: &Value) -> (&'static str, String) {
    if obj.pointer("/spec/paused").and_then(Value::as_bool) == Some(true) {
        return ("Suspended", "Deployment is paused".into());
    }
    let conditions = obj.pointer("/status/conditions").and_then(Value::as_array);
    let deadline = conditions.into_iter().flatten().any(|c| {
        c.get("type").and_then(Value::as_str) == Some("Progressing")
            && c.get("reason").and_then(Value::as_str) == Some("ProgressDeadlineExceeded")
    });
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    if deadline {
        return (
            "Degraded",
            format!("Deployment {name:?} exceeded its progress deadline"),
        );
    }
    let desired = obj
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    if int(obj, "/status/observedGeneration") < int(obj, "/metadata/generation") {
        return (
            "Progressing",
            "Waiting for rollout to finish: observed generation is old".into(),
        );
    }
    let updated = int(obj, "/status/updatedReplicas");
    let available = int(obj, "/status/availableReplicas");
    let total = int(obj, "/status/replicas");
    if updated < desired {
        return (
            "Progressing",
            format!(
                "Waiting for rollout to finish: {updated} of {desired} updated replicas are available..."
            ),
        );
    }
    if total > updated {
        return (
            "Progressing",
            format!(
                "Waiting for rollout to finish: {} old replicas are pending termination...",
                total - updated
            ),
        );
    }
    if available < updated {
        return (
            "Progressing",
            format!(
                "Waiting for rollout to finish: {available} of {updated} updated replicas are available..."
            ),
        );
    }
    ("Healthy", String::new())
}

fn pod(obj: &Value) -> (&'static str, String) {
    let statuses = obj
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array);
    for s in statuses.into_iter().flatten() {
        let reason = s
            .pointer("/state/waiting/reason")
            .and_then(Value::as_str)
            .unwrap_or("");
        if matches!(
            reason,
            "CrashLoopBackOff" | "ImagePullBackOff" | "ErrImagePull" | "CreateContainerConfigError"
        ) {
            return ("Degraded", reason.into());
        }
    }
    match obj.pointer("/status/phase").and_then(Value::as_str) {
        Some("Succeeded") => ("Healthy", String::new()),
        Some("Failed") => ("Degraded", "pod failed".into()),
        Some("Running") => {
            let ready = obj
                .pointer("/status/conditions")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .any(|c| {
                    c.get("type").and_then(Value::as_str) == Some("Ready")
                        && c.get("status").and_then(Value::as_str) == Some("True")
                });
            if ready {
                ("Healthy", String::new())
            } else {
                ("Progressing", "pod is not ready".into())
            }
        }
        _ => ("Progressing", "pod is pending".into()),
    }
}
