//! The Deployment controller, after `pkg/controller/deployment`: one ReplicaSet per pod
//! template (`<deploy>-<pod-template-hash>`), annotations copied from the Deployment except
//! the controller's skip list, revisions, RollingUpdate and Recreate scaling driven by pod
//! availability, and the status with its `Available` / `Progressing` conditions (including
//! `ProgressDeadlineExceeded`).

use serde_json::{Map, Value, json};

use super::clock::plus;
use super::events::{Note, Source};
use super::meta::{self, int, int_or_percent, parse_ts, s, set_condition, ts};
use super::replicaset::status_count;
use super::{Cx, log_err};
use crate::kube::{DeleteOptions, Subresource, WriteOptions};

const COMPONENT: &str = "deployment-controller";
pub const HASH_LABEL: &str = "pod-template-hash";
pub const REVISION: &str = "deployment.kubernetes.io/revision";
const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";
const DESIRED: &str = "deployment.kubernetes.io/desired-replicas";
const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";
/// Annotations the real controller never copies onto ReplicaSets.
const SKIP_COPY: [&str; 6] = [
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    REVISION_HISTORY,
    DESIRED,
    MAX_REPLICAS,
    "deprecated.deployment.rollback.to",
];

pub fn sync(cx: &mut Cx) {
    let all_rs = cx.list(cx.kinds.replica_set);
    for d in cx.list(cx.kinds.deployment) {
        if d.pointer("/metadata/deletionTimestamp").is_some() {
            continue;
        }
        let owned: Vec<Value> = all_rs
            .iter()
            .filter(|rs| meta::is_controlled_by(rs, &d))
            .cloned()
            .collect();
        sync_one(cx, &d, owned);
    }
}

/// One ReplicaSet as the rollout sees it: the object and the replica count being set.
struct Rs {
    obj: Value,
    replicas: i64,
    changed: bool,
}

impl Rs {
    fn new(obj: Value) -> Rs {
        let replicas = int(&obj, "/spec/replicas").unwrap_or(0);
        Rs {
            obj,
            replicas,
            changed: false,
        }
    }

    fn available(&self) -> i64 {
        status_count(&self.obj, "availableReplicas")
    }

    fn name(&self) -> &str {
        meta::name(&self.obj)
    }
}

fn revision(rs: &Value) -> i64 {
    s(
        rs,
        &format!("/metadata/annotations/{}", REVISION.replace('/', "~1")),
    )
    .parse()
    .unwrap_or(0)
}

fn sync_one(cx: &mut Cx, d: &Value, owned: Vec<Value>) {
    let replicas = int(d, "/spec/replicas").unwrap_or(1).max(0);
    let template = d.pointer("/spec/template").cloned().unwrap_or_default();
    let hash = meta::template_hash(&template);
    let (new, old): (Vec<Value>, Vec<Value>) = owned.into_iter().partition(|rs| {
        s(rs, &format!("/metadata/labels/{HASH_LABEL}")) == hash
            && rs.pointer("/metadata/deletionTimestamp").is_none()
    });
    let mut old: Vec<Rs> = old.into_iter().map(Rs::new).collect();
    old.sort_by(|a, b| {
        let key = |r: &Rs| {
            (
                s(&r.obj, "/metadata/creationTimestamp").to_string(),
                revision(&r.obj),
            )
        };
        key(a).cmp(&key(b))
    });
    let recreate = s(d, "/spec/strategy/type") == "Recreate";
    let (surge, unavailable) = if recreate {
        (0, 0)
    } else {
        limits(d, replicas)
    };
    let mut conditions = meta::conditions(d);
    let max_old_revision = old.iter().map(|r| revision(&r.obj)).max().unwrap_or(0);
    let paused = d.pointer("/spec/paused").and_then(Value::as_bool) == Some(true);
    let annotations = RsAnnotations {
        deployment: d,
        revision: max_old_revision + 1,
        desired: replicas,
        max: replicas + surge,
    };
    let new = match new.into_iter().next() {
        Some(rs) => Some(Rs::new(adopt_new(cx, rs, &annotations, &mut conditions))),
        None if paused => None,
        None => create_new(cx, d, &template, &hash, &annotations, &mut conditions).map(Rs::new),
    };
    let mut new = new;
    if !paused {
        match (&mut new, recreate) {
            (Some(n), false) => roll(replicas, surge, unavailable, n, &mut old),
            (Some(n), true) => {
                for r in old.iter_mut().filter(|r| r.replicas > 0) {
                    r.replicas = 0;
                    r.changed = true;
                }
                let old_pods: i64 = old.iter().map(|r| status_count(&r.obj, "replicas")).sum();
                if old_pods == 0 && n.replicas != replicas {
                    n.replicas = replicas;
                    n.changed = true;
                }
            }
            (None, _) => {}
        }
    }
    for r in old.iter().chain(new.iter()).filter(|r| r.changed) {
        scale(cx, d, r, &annotations);
    }
    if let Some(n) = &new {
        set_deployment_revision(cx, d, revision(&n.obj));
    }
    write_status(cx, d, replicas, unavailable, new.as_ref(), &old, conditions);
    cleanup(cx, d, &old);
}

/// `maxSurge` (rounded up) and `maxUnavailable` (rounded down); never both zero.
fn limits(d: &Value, replicas: i64) -> (i64, i64) {
    let ru = d.pointer("/spec/strategy/rollingUpdate");
    let surge = int_or_percent(ru.and_then(|r| r.get("maxSurge")), replicas, true, "25%");
    let unavailable = int_or_percent(
        ru.and_then(|r| r.get("maxUnavailable")),
        replicas,
        false,
        "25%",
    );
    if surge == 0 && unavailable == 0 {
        (0, 1)
    } else {
        (surge, unavailable)
    }
}

/// The annotations a new or reused ReplicaSet gets from its Deployment.
struct RsAnnotations<'a> {
    deployment: &'a Value,
    /// The revision for a ReplicaSet becoming the new one.
    revision: i64,
    desired: i64,
    max: i64,
}

impl RsAnnotations<'_> {
    /// `copyDeploymentAnnotationsToReplicaSet` plus the replica annotations.
    fn apply(&self, rs_annotations: &mut Map<String, Value>) {
        for (k, v) in meta::labels(self.deployment, "/metadata/annotations") {
            if !SKIP_COPY.contains(&k.as_str()) {
                rs_annotations.insert(k, v);
            }
        }
        rs_annotations.insert(DESIRED.into(), json!(self.desired.to_string()));
        rs_annotations.insert(MAX_REPLICAS.into(), json!(self.max.to_string()));
    }
}

fn create_new(
    cx: &mut Cx,
    d: &Value,
    template: &Value,
    hash: &str,
    annotations: &RsAnnotations,
    conditions: &mut Vec<Value>,
) -> Option<Value> {
    let name = format!("{}-{hash}", meta::name(d));
    let mut labels = meta::labels(template, "/metadata/labels");
    labels.insert(HASH_LABEL.into(), json!(hash));
    let mut rs_template = template.clone();
    rs_template["metadata"]["labels"] = Value::Object(labels.clone());
    let mut selector = d.pointer("/spec/selector").cloned().unwrap_or_default();
    selector["matchLabels"][HASH_LABEL] = json!(hash);
    let mut ann = Map::new();
    annotations.apply(&mut ann);
    ann.insert(REVISION.into(), json!(annotations.revision.to_string()));
    let rs = json!({
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": name,
            "namespace": meta::namespace(d),
            "labels": labels,
            "annotations": ann,
            "ownerReferences": [meta::owner_ref(d)],
        },
        "spec": {
            "replicas": 0,
            "minReadySeconds": int(d, "/spec/minReadySeconds").unwrap_or(0),
            "selector": selector,
            "template": rs_template,
        },
    });
    let ns = meta::namespace(d);
    let created = cx
        .store
        .create(cx.kinds.replica_set, Some(ns), rs, &WriteOptions::default());
    let created = log_err("create replicaset", created)?.object;
    let message = format!("Created new replica set \"{name}\"");
    set_condition(
        conditions,
        progressing("True", "NewReplicaSetCreated", &message, cx),
    );
    Some(created)
}

/// An existing ReplicaSet for the current template: bumps its revision when it was an old
/// one coming back, and keeps its copied annotations in sync.
fn adopt_new(
    cx: &mut Cx,
    rs: Value,
    annotations: &RsAnnotations,
    conditions: &mut Vec<Value>,
) -> Value {
    let current = revision(&rs);
    let mut ann = meta::labels(&rs, "/metadata/annotations");
    let before = ann.clone();
    annotations.apply(&mut ann);
    if current < annotations.revision {
        if current > 0 {
            let mut history: Vec<String> = ann
                .get(REVISION_HISTORY)
                .and_then(Value::as_str)
                .filter(|h| !h.is_empty())
                .map(|h| h.split(',').map(str::to_string).collect())
                .unwrap_or_default();
            history.push(current.to_string());
            ann.insert(REVISION_HISTORY.into(), json!(history.join(",")));
        }
        ann.insert(REVISION.into(), json!(annotations.revision.to_string()));
    }
    if meta::condition(
        &json!({"status": {"conditions": conditions}}),
        "Progressing",
    )
    .is_none()
    {
        let message = format!("Found new replica set \"{}\"", meta::name(&rs));
        set_condition(
            conditions,
            progressing("True", "FoundNewReplicaSet", &message, cx),
        );
    }
    if ann == before {
        return rs;
    }
    let ns = meta::namespace(&rs).to_string();
    let updated = cx.store.update_with(
        cx.kinds.replica_set,
        Some(&ns),
        meta::name(&rs),
        Subresource::Main,
        |o| o["metadata"]["annotations"] = Value::Object(ann),
    );
    log_err("replicaset annotations", updated)
        .map(|w| w.object)
        .unwrap_or(rs)
}

/// RollingUpdate: `reconcileNewReplicaSet` then `reconcileOldReplicaSets`.
fn roll(replicas: i64, surge: i64, unavailable: i64, new: &mut Rs, old: &mut [Rs]) {
    let total = |new: &Rs, old: &[Rs]| new.replicas + old.iter().map(|r| r.replicas).sum::<i64>();
    if new.replicas > replicas {
        new.replicas = replicas;
        new.changed = true;
    } else if new.replicas < replicas {
        let max_total = replicas + surge;
        let current = total(new, old);
        if current < max_total {
            new.replicas += (max_total - current).min(replicas - new.replicas);
            new.changed = true;
        }
    }
    if old.iter().all(|r| r.replicas == 0) {
        return;
    }
    let min_available = replicas - unavailable;
    let new_unavailable = new.replicas - new.available();
    let mut max_scaled_down = total(new, old) - min_available - new_unavailable;
    if max_scaled_down <= 0 {
        return;
    }
    // Unhealthy old pods go first: they serve nobody.
    for r in old.iter_mut() {
        if max_scaled_down <= 0 {
            break;
        }
        let unhealthy = r.replicas - r.available();
        if r.replicas == 0 || unhealthy <= 0 {
            continue;
        }
        let down = unhealthy.min(max_scaled_down);
        r.replicas -= down;
        r.changed = true;
        max_scaled_down -= down;
    }
    let available = new.available()
        + old
            .iter()
            .map(|r| r.available().min(r.replicas))
            .sum::<i64>();
    if available <= min_available {
        return;
    }
    let mut to_scale_down = available - min_available;
    for r in old.iter_mut() {
        if to_scale_down <= 0 {
            break;
        }
        if r.replicas == 0 {
            continue;
        }
        let down = r.replicas.min(to_scale_down);
        r.replicas -= down;
        r.changed = true;
        to_scale_down -= down;
    }
}

fn scale(cx: &mut Cx, d: &Value, r: &Rs, annotations: &RsAnnotations) {
    let from = int(&r.obj, "/spec/replicas").unwrap_or(0);
    let to = r.replicas;
    let ns = meta::namespace(&r.obj).to_string();
    let updated = cx.store.update_with(
        cx.kinds.replica_set,
        Some(&ns),
        r.name(),
        Subresource::Main,
        |o| {
            o["spec"]["replicas"] = json!(to);
            let mut ann = meta::labels(o, "/metadata/annotations");
            ann.insert(DESIRED.into(), json!(annotations.desired.to_string()));
            ann.insert(MAX_REPLICAS.into(), json!(annotations.max.to_string()));
            o["metadata"]["annotations"] = Value::Object(ann);
        },
    );
    if log_err("scale replicaset", updated).is_some() && from != to {
        let direction = if to > from { "up" } else { "down" };
        let message = format!(
            "Scaled {direction} replica set {} from {from} to {to}",
            r.name()
        );
        let now = cx.now;
        cx.event(
            now,
            Note {
                object: d,
                field_path: None,
                warning: false,
                reason: "ScalingReplicaSet",
                message,
                source: Source::controller(COMPONENT),
            },
        );
    }
}

fn set_deployment_revision(cx: &mut Cx, d: &Value, rev: i64) {
    if rev == 0 || revision(d) == rev {
        return;
    }
    let ns = meta::namespace(d).to_string();
    log_err(
        "deployment revision",
        cx.store.update_with(
            cx.kinds.deployment,
            Some(&ns),
            meta::name(d),
            Subresource::Main,
            |o| {
                let mut ann = meta::labels(o, "/metadata/annotations");
                ann.insert(REVISION.into(), json!(rev.to_string()));
                o["metadata"]["annotations"] = Value::Object(ann);
            },
        ),
    );
}

fn progressing(status: &str, reason: &str, message: &str, cx: &Cx) -> Value {
    let now = ts(cx.now);
    json!({"type": "Progressing", "status": status, "lastUpdateTime": now,
           "lastTransitionTime": now, "reason": reason, "message": message})
}

fn write_status(
    cx: &mut Cx,
    d: &Value,
    replicas: i64,
    max_unavailable: i64,
    new: Option<&Rs>,
    old: &[Rs],
    mut conditions: Vec<Value>,
) {
    let all: Vec<&Rs> = old.iter().chain(new).collect();
    let sum = |f: &str| all.iter().map(|r| status_count(&r.obj, f)).sum::<i64>();
    let actual = sum("replicas");
    let updated = new.map(|n| status_count(&n.obj, "replicas")).unwrap_or(0);
    let ready = sum("readyReplicas");
    let available = sum("availableReplicas");
    let spec_total: i64 = all.iter().map(|r| r.replicas).sum();
    let unavailable = (spec_total - available).max(0);
    let generation = int(d, "/metadata/generation").unwrap_or(1);
    let now = ts(cx.now);
    let (status, reason, message) = if available >= replicas - max_unavailable {
        (
            "True",
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.",
        )
    } else {
        (
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
        )
    };
    set_condition(
        &mut conditions,
        json!({"type": "Available", "status": status, "lastUpdateTime": now,
               "lastTransitionTime": now, "reason": reason, "message": message}),
    );
    let mut out = Map::new();
    out.insert("observedGeneration".into(), json!(generation));
    for (k, v) in [
        ("replicas", actual),
        ("updatedReplicas", updated),
        ("readyReplicas", ready),
        ("availableReplicas", available),
        ("unavailableReplicas", unavailable),
    ] {
        if v != 0 {
            out.insert(k.into(), json!(v));
        }
    }
    let counts = |o: &Value, f: &str| int(o, &format!("/{f}")).unwrap_or(0);
    let new_status = Value::Object(out.clone());
    let old_status = d.get("status").cloned().unwrap_or_default();
    if d.pointer("/spec/progressDeadlineSeconds").is_some() {
        let deadline = int(d, "/spec/progressDeadlineSeconds").unwrap_or(600);
        let rs_name = new.map(|n| n.name().to_string());
        let complete = updated == replicas
            && actual == replicas
            && available == replicas
            && generation >= int(d, "/metadata/generation").unwrap_or(1);
        let moved = counts(&new_status, "updatedReplicas") > counts(&old_status, "updatedReplicas")
            || counts(&new_status, "replicas") - counts(&new_status, "updatedReplicas")
                < counts(&old_status, "replicas") - counts(&old_status, "updatedReplicas")
            || ready > counts(&old_status, "readyReplicas")
            || available > counts(&old_status, "availableReplicas");
        let current = conditions
            .iter()
            .find(|c| s(c, "/type") == "Progressing")
            .cloned();
        if let (Some(name), true) = (&rs_name, complete) {
            let message = format!("ReplicaSet \"{name}\" has successfully progressed.");
            set_condition(
                &mut conditions,
                progressing("True", "NewReplicaSetAvailable", &message, cx),
            );
        } else if moved {
            let message = match &rs_name {
                Some(name) => format!("ReplicaSet \"{name}\" is progressing."),
                None => format!("Deployment \"{}\" is progressing.", meta::name(d)),
            };
            let mut cond = progressing("True", "ReplicaSetUpdated", &message, cx);
            if let Some(c) = current.as_ref().filter(|c| s(c, "/status") == "True")
                && let Some(t) = c.get("lastTransitionTime")
            {
                cond["lastTransitionTime"] = t.clone();
            }
            conditions.retain(|c| s(c, "/type") != "Progressing");
            conditions.push(cond);
        } else if let Some(c) = current.as_ref() {
            match s(c, "/reason") {
                "NewReplicaSetAvailable" | "ProgressDeadlineExceeded" => {}
                _ => {
                    let since = parse_ts(c, "/lastUpdateTime").unwrap_or(cx.now);
                    // `from.Add(deadline).Before(now)`: strictly after the deadline.
                    let at = plus(since, deadline as f64 + 1.0);
                    if at <= cx.now {
                        let message = format!(
                            "ReplicaSet \"{}\" has timed out progressing.",
                            rs_name.as_deref().unwrap_or(meta::name(d))
                        );
                        set_condition(
                            &mut conditions,
                            progressing("False", "ProgressDeadlineExceeded", &message, cx),
                        );
                    } else {
                        cx.wake_at(at);
                    }
                }
            }
        }
    }
    out.insert("conditions".into(), json!(conditions));
    if let Some(cc) = d.pointer("/status/collisionCount") {
        out.insert("collisionCount".into(), cc.clone());
    }
    let status = Value::Object(out);
    if d.get("status") == Some(&status) {
        return;
    }
    let ns = meta::namespace(d).to_string();
    log_err(
        "deployment status",
        cx.store.update_with(
            cx.kinds.deployment,
            Some(&ns),
            meta::name(d),
            Subresource::Status,
            |o| o["status"] = status,
        ),
    );
}

/// Deletes scaled-down old ReplicaSets beyond `revisionHistoryLimit`, oldest revision first.
fn cleanup(cx: &mut Cx, d: &Value, old: &[Rs]) {
    let limit = int(d, "/spec/revisionHistoryLimit").unwrap_or(10).max(0) as usize;
    let mut idle: Vec<&Rs> = old
        .iter()
        .filter(|r| r.replicas == 0 && status_count(&r.obj, "replicas") == 0)
        .collect();
    if idle.len() <= limit {
        return;
    }
    idle.sort_by_key(|r| revision(&r.obj));
    for r in idle.iter().take(idle.len() - limit) {
        let ns = meta::namespace(&r.obj);
        log_err(
            "delete old replicaset",
            cx.store.delete(
                cx.kinds.replica_set,
                Some(ns),
                r.name(),
                &DeleteOptions::default(),
            ),
        );
    }
}
