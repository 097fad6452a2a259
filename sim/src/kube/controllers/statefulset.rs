//! The StatefulSet controller: pods `<name>-0 .. <name>-(n-1)` with stable names, created in
//! order (OrderedReady: the next only once the previous is Running and Ready; Parallel: all
//! at once), removed from the highest ordinal, and a RollingUpdate that replaces outdated
//! pods from the highest ordinal down, one at a time, while all are ready. The revision is
//! the `controller-revision-hash` label (`<name>-<hash>`); no ControllerRevision objects.

use serde_json::{Value, json};

use super::meta::{self, int, s};
use super::replicaset::{is_available, is_ready};
use super::{Cx, log_err};
use crate::kube::{DeleteOptions, Subresource, WriteOptions};

const REVISION_LABEL: &str = "controller-revision-hash";

pub fn sync(cx: &mut Cx) {
    let pods = cx.list(cx.kinds.pod);
    for sts in cx.list(cx.kinds.stateful_set) {
        if sts.pointer("/metadata/deletionTimestamp").is_some() {
            continue;
        }
        let owned: Vec<&Value> = pods
            .iter()
            .filter(|p| meta::is_controlled_by(p, &sts))
            .collect();
        sync_one(cx, &sts, &owned);
    }
}

fn ordinal(sts: &Value, pod: &Value) -> Option<i64> {
    meta::name(pod)
        .strip_prefix(&format!("{}-", meta::name(sts)))?
        .parse()
        .ok()
}

fn revision_of(pod: &Value) -> &str {
    s(pod, &format!("/metadata/labels/{REVISION_LABEL}"))
}

fn sync_one(cx: &mut Cx, sts: &Value, owned: &[&Value]) {
    let replicas = int(sts, "/spec/replicas").unwrap_or(1).max(0);
    let template = sts.pointer("/spec/template").cloned().unwrap_or_default();
    let revision = format!("{}-{}", meta::name(sts), meta::template_hash(&template));
    let parallel = s(sts, "/spec/podManagementPolicy") == "Parallel";
    let mut pods: Vec<(i64, &Value)> = owned
        .iter()
        .filter_map(|p| Some((ordinal(sts, p)?, *p)))
        .collect();
    pods.sort_by_key(|(i, _)| *i);
    let healthy = |p: &Value| s(p, "/status/phase") == "Running" && is_ready(p);
    let mut busy = false;
    // Create missing ordinals.
    for i in 0..replicas {
        if pods.iter().any(|(o, _)| *o == i) {
            if !pods.iter().any(|(o, p)| *o == i && healthy(p)) {
                busy = true;
                if !parallel {
                    break;
                }
            }
            continue;
        }
        create_pod(cx, sts, &template, &revision, i);
        busy = true;
        if !parallel {
            break;
        }
    }
    // Remove extra ordinals, highest first.
    let extra: Vec<&Value> = pods
        .iter()
        .rev()
        .filter(|(o, _)| *o >= replicas)
        .map(|(_, p)| *p)
        .collect();
    for p in extra.iter().take(if parallel { extra.len() } else { 1 }) {
        delete_pod(cx, p);
        busy = true;
    }
    // Rolling update: the highest outdated pod, once everything is healthy.
    let rolling = s(sts, "/spec/updateStrategy/type") != "OnDelete";
    if rolling && !busy {
        let partition = int(sts, "/spec/updateStrategy/rollingUpdate/partition").unwrap_or(0);
        if let Some((_, p)) = pods
            .iter()
            .rev()
            .find(|(o, p)| *o >= partition && *o < replicas && revision_of(p) != revision)
        {
            delete_pod(cx, p);
        }
    }
    write_status(cx, sts, &pods, &revision, replicas);
}

fn create_pod(cx: &mut Cx, sts: &Value, template: &Value, revision: &str, i: i64) {
    let name = format!("{}-{i}", meta::name(sts));
    let mut labels = meta::labels(template, "/metadata/labels");
    labels.insert(REVISION_LABEL.into(), json!(revision));
    labels.insert("statefulset.kubernetes.io/pod-name".into(), json!(name));
    labels.insert("apps.kubernetes.io/pod-index".into(), json!(i.to_string()));
    let mut spec = template.get("spec").cloned().unwrap_or_else(|| json!({}));
    spec["hostname"] = json!(name);
    if let Some(svc) = sts
        .pointer("/spec/serviceName")
        .filter(|v| v.as_str() != Some(""))
    {
        spec["subdomain"] = svc.clone();
    }
    let mut metadata = json!({
        "name": name,
        "namespace": meta::namespace(sts),
        "labels": labels,
        "ownerReferences": [meta::owner_ref(sts)],
    });
    if let Some(a) = template.pointer("/metadata/annotations") {
        metadata["annotations"] = a.clone();
    }
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec});
    let ns = meta::namespace(sts);
    log_err(
        "create statefulset pod",
        cx.store
            .create(cx.kinds.pod, Some(ns), pod, &WriteOptions::default()),
    );
}

fn delete_pod(cx: &mut Cx, pod: &Value) {
    let ns = meta::namespace(pod);
    log_err(
        "delete statefulset pod",
        cx.store.delete(
            cx.kinds.pod,
            Some(ns),
            meta::name(pod),
            &DeleteOptions::default(),
        ),
    );
}

fn write_status(cx: &mut Cx, sts: &Value, pods: &[(i64, &Value)], revision: &str, replicas: i64) {
    let min_ready = int(sts, "/spec/minReadySeconds").unwrap_or(0);
    let ready = pods.iter().filter(|(_, p)| is_ready(p)).count();
    let available = pods
        .iter()
        .filter(|(_, p)| is_available(cx, p, min_ready))
        .count();
    let updated = pods
        .iter()
        .filter(|(_, p)| revision_of(p) == revision)
        .count();
    let current_revision = if updated == pods.len() && pods.len() as i64 == replicas {
        revision.to_string()
    } else {
        match s(sts, "/status/currentRevision") {
            "" => revision.to_string(),
            r => r.to_string(),
        }
    };
    let current = pods
        .iter()
        .filter(|(_, p)| revision_of(p) == current_revision)
        .count();
    let status = json!({
        "observedGeneration": int(sts, "/metadata/generation").unwrap_or(1),
        "replicas": pods.len(),
        "readyReplicas": ready,
        "availableReplicas": available,
        "currentReplicas": current,
        "updatedReplicas": updated,
        "currentRevision": current_revision,
        "updateRevision": revision,
        "collisionCount": 0,
    });
    if sts.get("status") == Some(&status) {
        return;
    }
    let ns = meta::namespace(sts).to_string();
    log_err(
        "statefulset status",
        cx.store.update_with(
            cx.kinds.stateful_set,
            Some(&ns),
            meta::name(sts),
            Subresource::Status,
            |o| o["status"] = status,
        ),
    );
}
