//! The ReplicaSet controller: creates pods from the template (`generateName: <rs>-`, a
//! `controller: true` owner reference) or deletes the least useful ones until the count
//! matches, and reports replicas / ready / available. A create the apiserver refuses (quota
//! admission's 403, say) is a `FailedCreate` Warning on the ReplicaSet, as the real controller
//! reports it, and the ReplicaSet backs off (10s doubling to 5m) before it tries again.

use std::collections::HashMap;

use jiff::Timestamp;

use serde_json::{Value, json};

use super::events::{Note, Source};
use super::meta::{self, condition, int, parse_ts, s};
use super::{Cx, log_err};
use crate::kube::{DeleteOptions, Subresource, WriteOptions};

const COMPONENT: &str = "replicaset-controller";

/// Seconds before the first retry after a failed create; doubled per failure up to `MAX_BACKOFF`.
const FIRST_BACKOFF: f64 = 10.0;
const MAX_BACKOFF: f64 = 300.0;

/// Per ReplicaSet uid: when creating may be tried again, and the failures so far.
#[derive(Default)]
pub struct Backoff {
    until: HashMap<String, (Timestamp, u32)>,
}

pub fn sync(cx: &mut Cx, backoff: &mut Backoff) {
    let pods = cx.list(cx.kinds.pod);
    for rs in cx.list(cx.kinds.replica_set) {
        if rs.pointer("/metadata/deletionTimestamp").is_some() {
            continue;
        }
        let owned: Vec<&Value> = pods
            .iter()
            .filter(|p| meta::is_controlled_by(p, &rs))
            .collect();
        let want = int(&rs, "/spec/replicas").unwrap_or(1).max(0) as usize;
        if owned.len() < want {
            let uid = meta::uid(&rs).to_string();
            match backoff.until.get(&uid) {
                Some((at, _)) if *at > cx.now => cx.wake_at(*at),
                _ => {
                    for _ in owned.len()..want {
                        if !create_pod(cx, &rs) {
                            let failures = backoff.until.get(&uid).map_or(0, |(_, n)| *n);
                            let wait =
                                (FIRST_BACKOFF * 2f64.powi(failures as i32)).min(MAX_BACKOFF);
                            let at = super::clock::plus(cx.now, wait);
                            backoff.until.insert(uid.clone(), (at, failures + 1));
                            cx.wake_at(at);
                            break;
                        }
                        backoff.until.remove(&uid);
                    }
                }
            }
        } else if owned.len() > want {
            let mut ranked = owned.clone();
            ranked.sort_by_key(|p| deletion_rank(p));
            for pod in ranked.iter().take(owned.len() - want) {
                delete_pod(cx, &rs, pod);
            }
        }
        write_status(cx, &rs, &owned);
    }
}

/// A pod for `owner`'s template (ReplicaSets, and Jobs with extra labels).
pub fn pod_from_template(owner: &Value, template: &Value) -> Value {
    let mut metadata = json!({
        "generateName": format!("{}-", meta::name(owner)),
        "namespace": meta::namespace(owner),
        "ownerReferences": [meta::owner_ref(owner)],
    });
    for field in ["labels", "annotations"] {
        if let Some(v) = template.pointer(&format!("/metadata/{field}")) {
            metadata[field] = v.clone();
        }
    }
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": template.get("spec").cloned().unwrap_or_else(|| json!({})),
    })
}

/// Creates one pod; `false` (after a `FailedCreate` event) when the apiserver refused it.
fn create_pod(cx: &mut Cx, rs: &Value) -> bool {
    let template = rs.pointer("/spec/template").cloned().unwrap_or_default();
    let pod = pod_from_template(rs, &template);
    let ns = meta::namespace(rs);
    let created = cx
        .store
        .create(cx.kinds.pod, Some(ns), pod, &WriteOptions::default());
    match created {
        Ok(w) => {
            let message = format!("Created pod: {}", meta::name(&w.object));
            note(cx, rs, "SuccessfulCreate", message, false);
            true
        }
        Err(e) => {
            tracing::debug!("sim controllers: create pod: {e}");
            note(
                cx,
                rs,
                "FailedCreate",
                format!("Error creating: {}", e.message),
                true,
            );
            false
        }
    }
}

fn delete_pod(cx: &mut Cx, rs: &Value, pod: &Value) {
    let ns = meta::namespace(pod);
    let deleted = cx.store.delete(
        cx.kinds.pod,
        Some(ns),
        meta::name(pod),
        &DeleteOptions::default(),
    );
    if log_err("delete pod", deleted).is_some() {
        let message = format!("Deleted pod: {}", meta::name(pod));
        note(cx, rs, "SuccessfulDelete", message, false);
    }
}

fn note(cx: &mut Cx, rs: &Value, reason: &str, message: String, warning: bool) {
    let now = cx.now;
    cx.event(
        now,
        Note {
            object: rs,
            field_path: None,
            warning,
            reason,
            message,
            source: Source::controller(COMPONENT),
        },
    );
}

/// Which pods go first when scaling down, like `getPodsToDelete`: unscheduled, then pending,
/// then not ready, then most restarts, then the newest.
fn deletion_rank(pod: &Value) -> (bool, u8, bool, i64, std::cmp::Reverse<String>) {
    let scheduled = !s(pod, "/spec/nodeName").is_empty();
    let phase = match s(pod, "/status/phase") {
        "Pending" => 0,
        "Unknown" => 1,
        "Running" => 2,
        _ => 0,
    };
    let restarts: i64 = pod
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .filter_map(|c| c.get("restartCount").and_then(Value::as_i64))
                .sum()
        })
        .unwrap_or(0);
    let created = s(pod, "/metadata/creationTimestamp").to_string();
    (
        scheduled,
        phase,
        is_ready(pod),
        -restarts,
        std::cmp::Reverse(created),
    )
}

pub fn is_ready(pod: &Value) -> bool {
    meta::condition_true(pod, "Ready")
}

/// Ready for at least `min_ready` seconds; otherwise asks to be woken when it will be.
pub fn is_available(cx: &mut Cx, pod: &Value, min_ready: i64) -> bool {
    if !is_ready(pod) {
        return false;
    }
    if min_ready <= 0 {
        return true;
    }
    let since = condition(pod, "Ready")
        .and_then(|c| parse_ts(c, "/lastTransitionTime"))
        .unwrap_or(cx.now);
    let at = super::clock::plus(since, min_ready as f64);
    if at <= cx.now {
        true
    } else {
        cx.wake_at(at);
        false
    }
}

fn write_status(cx: &mut Cx, rs: &Value, owned: &[&Value]) {
    let min_ready = int(rs, "/spec/minReadySeconds").unwrap_or(0);
    let ready = owned.iter().filter(|p| is_ready(p)).count();
    let available = owned
        .iter()
        .filter(|p| is_available(cx, p, min_ready))
        .count();
    let selector_labels = meta::labels(rs, "/spec/template/metadata/labels");
    let labeled = owned
        .iter()
        .filter(|p| {
            let l = meta::labels(p, "/metadata/labels");
            selector_labels.iter().all(|(k, v)| l.get(k) == Some(v))
        })
        .count();
    let mut status = json!({
        "replicas": owned.len(),
        "fullyLabeledReplicas": labeled,
        "observedGeneration": int(rs, "/metadata/generation").unwrap_or(1),
    });
    if ready > 0 {
        status["readyReplicas"] = json!(ready);
    }
    if available > 0 {
        status["availableReplicas"] = json!(available);
    }
    if rs.get("status") == Some(&status) {
        return;
    }
    let ns = meta::namespace(rs);
    log_err(
        "replicaset status",
        cx.store.update_with(
            cx.kinds.replica_set,
            Some(ns),
            meta::name(rs),
            Subresource::Status,
            |o| o["status"] = status,
        ),
    );
}

/// Replica counts of a ReplicaSet's status, zero when unset.
pub fn status_count(rs: &Value, field: &str) -> i64 {
    int(rs, &format!("/status/{field}")).unwrap_or(0)
}
