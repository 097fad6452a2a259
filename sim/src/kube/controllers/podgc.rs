//! Pod garbage collection of orphans, after `pkg/controller/podgc`: a pod bound to a node that
//! no longer exists (the node was lost and its Node object deleted) is marked Failed with a
//! `DisruptionTarget` condition and deleted, so its ReplicaSet recreates it elsewhere. Like the
//! real controller it waits out a quarantine first: a node must stay missing for 40s, so a
//! pod bound just before its Node appears (or reappears) is not collected.

use std::collections::{HashMap, HashSet};

use jiff::Timestamp;
use serde_json::json;

use super::clock::{plus, secs_between};
use super::meta::{self, s, set_condition, ts};
use super::{Cx, log_err};
use crate::kube::{DeleteOptions, Subresource};

/// `quarantineTime` of the real PodGC.
const QUARANTINE: f64 = 40.0;

/// When each missing node was first seen missing.
#[derive(Default)]
pub struct PodGc {
    missing_since: HashMap<String, Timestamp>,
}

impl PodGc {
    pub fn sync(&mut self, cx: &mut Cx) {
        let nodes: HashSet<String> = cx
            .list(cx.kinds.node)
            .iter()
            .map(|n| meta::name(n).to_string())
            .collect();
        let pods = cx.list(cx.kinds.pod);
        let missing: HashSet<&str> = pods
            .iter()
            .map(|p| s(p, "/spec/nodeName"))
            .filter(|n| !n.is_empty() && !nodes.contains(*n))
            .collect();
        self.missing_since
            .retain(|n, _| missing.contains(n.as_str()));
        let now = cx.now;
        for node in &missing {
            self.missing_since.entry(node.to_string()).or_insert(now);
        }
        for pod in &pods {
            let node = s(pod, "/spec/nodeName");
            let Some(since) = self.missing_since.get(node).copied() else {
                continue;
            };
            if secs_between(since, now) < QUARANTINE {
                cx.wake_at(plus(since, QUARANTINE));
                continue;
            }
            collect(cx, pod);
        }
    }
}

/// Marks the pod as the real PodGC does (`DeletionByPodGC`), then deletes it at once.
fn collect(cx: &mut Cx, pod: &serde_json::Value) {
    let ns = meta::namespace(pod).to_string();
    let name = meta::name(pod).to_string();
    let cond = json!({"type": "DisruptionTarget", "status": "True", "reason": "DeletionByPodGC",
                      "message": "PodGC: node no longer exists", "lastProbeTime": null,
                      "lastTransitionTime": ts(cx.now)});
    let terminal = matches!(s(pod, "/status/phase"), "Succeeded" | "Failed");
    log_err(
        "pod gc condition",
        cx.store
            .update_with(cx.kinds.pod, Some(&ns), &name, Subresource::Status, |p| {
                let mut conditions = meta::conditions(p);
                set_condition(&mut conditions, cond.clone());
                p["status"]["conditions"] = json!(conditions);
                if !terminal {
                    p["status"]["phase"] = json!("Failed");
                }
            }),
    );
    let opts = DeleteOptions {
        uid: Some(meta::uid(pod).to_string()),
        ..DeleteOptions::default()
    };
    log_err(
        "pod gc",
        cx.store.delete(cx.kinds.pod, Some(&ns), &name, &opts),
    );
}
