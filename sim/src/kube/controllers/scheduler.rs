//! The default scheduler, reduced to its filters that scenarios hit: node unschedulable,
//! untolerated taints, node selector, pod count and cpu/memory requests against allocatable.
//! A pod that fits nowhere stays Pending with `PodScheduled=False/Unschedulable` and the
//! scheduler's histogram message (`0/3 nodes are available: 3 Insufficient memory.
//! preemption: ...`) plus a `FailedScheduling` event; one that fits is bound to the least
//! loaded node with a `Scheduled` event.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Value, json};

use super::events::{Note, Source};
use super::meta::{self, s, ts};
use super::{Cx, log_err};
use crate::kube::Subresource;

const COMPONENT: &str = "default-scheduler";
const NOT_HELPFUL: &str = "Preemption is not helpful for scheduling";
const NO_VICTIMS: &str = "No preemption victims found for incoming pod";

/// Remembers the last verdict per pending pod, so an unchanged one is not re-reported.
#[derive(Default)]
pub struct Scheduler {
    verdicts: HashMap<String, String>,
}

struct NodeFit {
    name: String,
    cpu: i128,
    memory: i128,
    pods: i128,
    used_cpu: i128,
    used_memory: i128,
    used_pods: i128,
    unschedulable: bool,
    taints: Vec<Value>,
    labels: serde_json::Map<String, Value>,
}

/// Why a node was filtered out, and whether preemption could ever help there.
struct Reject {
    reasons: Vec<String>,
    resolvable: bool,
}

impl Scheduler {
    pub fn sync(&mut self, cx: &mut Cx) {
        let pods = cx.list(cx.kinds.pod);
        let mut nodes = load_nodes(cx, &pods);
        let mut pending_uids = Vec::new();
        for pod in &pods {
            let mine = matches!(s(pod, "/spec/schedulerName"), "" | COMPONENT);
            if !s(pod, "/spec/nodeName").is_empty()
                || !mine
                || pod.pointer("/metadata/deletionTimestamp").is_some()
            {
                continue;
            }
            pending_uids.push(meta::uid(pod).to_string());
            let (cpu, memory) = meta::pod_requests(pod);
            let mut rejects: Vec<Reject> = Vec::new();
            let mut best: Option<usize> = None;
            for (i, node) in nodes.iter().enumerate() {
                match filter(pod, node, cpu, memory) {
                    Some(r) => rejects.push(r),
                    None => {
                        if best.is_none_or(|b| score(node) > score(&nodes[b])) {
                            best = Some(i);
                        }
                    }
                }
            }
            match best {
                Some(i) => {
                    if bind(cx, pod, &nodes[i].name) {
                        let n = &mut nodes[i];
                        n.used_cpu += cpu;
                        n.used_memory += memory;
                        n.used_pods += 1;
                    }
                }
                None => self.unschedulable(cx, pod, nodes.len(), &rejects),
            }
        }
        self.verdicts.retain(|uid, _| pending_uids.contains(uid));
    }

    fn unschedulable(&mut self, cx: &mut Cx, pod: &Value, total: usize, rejects: &[Reject]) {
        let message = message(total, rejects);
        let uid = meta::uid(pod).to_string();
        if self.verdicts.get(&uid) == Some(&message) {
            return;
        }
        let now = ts(cx.now);
        let cond = json!({"type": "PodScheduled", "status": "False", "lastProbeTime": null,
                          "lastTransitionTime": now, "reason": "Unschedulable", "message": message});
        let ns = meta::namespace(pod).to_string();
        let written = cx.store.update_with(
            cx.kinds.pod,
            Some(&ns),
            meta::name(pod),
            Subresource::Status,
            |p| {
                let mut conditions = meta::conditions(p);
                meta::set_condition(&mut conditions, cond.clone());
                // Same status and reason, new message: replace it (the scheduler does).
                if let Some(c) = conditions
                    .iter_mut()
                    .find(|c| s(c, "/type") == "PodScheduled")
                {
                    c["message"] = cond["message"].clone();
                }
                p["status"]["conditions"] = json!(conditions);
            },
        );
        if log_err("pod unschedulable", written).is_none() {
            return;
        }
        let at = cx.now;
        cx.event(
            at,
            Note {
                object: pod,
                field_path: None,
                warning: true,
                reason: "FailedScheduling",
                message: message.clone(),
                source: Source::controller(COMPONENT),
            },
        );
        self.verdicts.insert(uid, message);
    }
}

fn load_nodes(cx: &Cx, pods: &[Value]) -> Vec<NodeFit> {
    let mut used: HashMap<&str, (i128, i128, i128)> = HashMap::new();
    for p in pods {
        let node = s(p, "/spec/nodeName");
        if node.is_empty() || matches!(s(p, "/status/phase"), "Succeeded" | "Failed") {
            continue;
        }
        let (cpu, mem) = meta::pod_requests(p);
        let e = used.entry(node).or_default();
        e.0 += cpu;
        e.1 += mem;
        e.2 += 1;
    }
    let mut nodes: Vec<NodeFit> = cx
        .list(cx.kinds.node)
        .into_iter()
        .map(|n| {
            let alloc = |r: &str| n.pointer(&format!("/status/allocatable/{r}")).cloned();
            let (uc, um, up) = used.get(meta::name(&n)).copied().unwrap_or_default();
            NodeFit {
                name: meta::name(&n).to_string(),
                cpu: alloc("cpu")
                    .as_ref()
                    .and_then(meta::millicores)
                    .unwrap_or(0),
                memory: alloc("memory").as_ref().and_then(meta::bytes).unwrap_or(0),
                pods: alloc("pods")
                    .as_ref()
                    .and_then(|v| v.as_str()?.parse().ok())
                    .unwrap_or(110),
                used_cpu: uc,
                used_memory: um,
                used_pods: up,
                unschedulable: n.pointer("/spec/unschedulable").and_then(Value::as_bool)
                    == Some(true),
                taints: n
                    .pointer("/spec/taints")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default(),
                labels: meta::labels(&n, "/metadata/labels"),
            }
        })
        .collect();
    nodes.sort_by(|a, b| a.name.cmp(&b.name));
    nodes
}

/// The filter plugins in the scheduler's order; the first that rejects decides.
fn filter(pod: &Value, node: &NodeFit, cpu: i128, memory: i128) -> Option<Reject> {
    let unresolvable = |r: String| {
        Some(Reject {
            reasons: vec![r],
            resolvable: false,
        })
    };
    if node.unschedulable && !tolerates(pod, "node.kubernetes.io/unschedulable", "", "NoSchedule") {
        return unresolvable("node(s) were unschedulable".into());
    }
    for t in &node.taints {
        let effect = s(t, "/effect");
        if !matches!(effect, "NoSchedule" | "NoExecute") {
            continue;
        }
        if !tolerates(pod, s(t, "/key"), s(t, "/value"), effect) {
            return unresolvable(format!(
                "node(s) had untolerated taint {{{}: {}}}",
                s(t, "/key"),
                s(t, "/value")
            ));
        }
    }
    let selector = meta::labels(pod, "/spec/nodeSelector");
    if selector.iter().any(|(k, v)| node.labels.get(k) != Some(v)) {
        return unresolvable("node(s) didn't match Pod's node affinity/selector".into());
    }
    let mut reasons = Vec::new();
    if node.used_pods + 1 > node.pods {
        reasons.push("Too many pods".to_string());
    }
    if cpu > 0 && node.used_cpu + cpu > node.cpu {
        reasons.push("Insufficient cpu".to_string());
    }
    if memory > 0 && node.used_memory + memory > node.memory {
        reasons.push("Insufficient memory".to_string());
    }
    (!reasons.is_empty()).then_some(Reject {
        reasons,
        resolvable: true,
    })
}

fn tolerates(pod: &Value, key: &str, value: &str, effect: &str) -> bool {
    let Some(tolerations) = pod.pointer("/spec/tolerations").and_then(Value::as_array) else {
        return false;
    };
    tolerations.iter().any(|t| {
        let effect_ok = matches!(s(t, "/effect"), "") || s(t, "/effect") == effect;
        let key_ok = s(t, "/key").is_empty() || s(t, "/key") == key;
        let value_ok = match s(t, "/operator") {
            "Exists" => true,
            _ => s(t, "/value") == value,
        };
        effect_ok && key_ok && value_ok
    })
}

/// Least allocated memory (then cpu) wins; equal scores go to the first node by name.
fn score(node: &NodeFit) -> (i128, i128) {
    let free = |used: i128, total: i128| {
        if total <= 0 {
            0
        } else {
            (total - used) * 1000 / total
        }
    };
    (
        free(node.used_memory, node.memory),
        free(node.used_cpu, node.cpu),
    )
}

fn bind(cx: &mut Cx, pod: &Value, node: &str) -> bool {
    let ns = meta::namespace(pod).to_string();
    let name = meta::name(pod).to_string();
    if log_err("bind pod", cx.store.bind_pod(&ns, &name, node)).is_none() {
        return false;
    }
    let now = ts(cx.now);
    let cond = json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null,
                      "lastTransitionTime": now});
    log_err(
        "pod scheduled",
        cx.store
            .update_with(cx.kinds.pod, Some(&ns), &name, Subresource::Status, |p| {
                let mut conditions = meta::conditions(p);
                conditions.retain(|c| s(c, "/type") != "PodScheduled");
                conditions.push(cond);
                p["status"]["conditions"] = json!(conditions);
            }),
    );
    let at = cx.now;
    cx.event(
        at,
        Note {
            object: pod,
            field_path: None,
            warning: false,
            reason: "Scheduled",
            message: format!("Successfully assigned {ns}/{name} to {node}"),
            source: Source::controller(COMPONENT),
        },
    );
    true
}

/// `0/3 nodes are available: 3 Insufficient memory. preemption: 0/3 nodes are available: 3
/// No preemption victims found for incoming pod.` (reasons sorted, as the scheduler sorts).
fn message(total: usize, rejects: &[Reject]) -> String {
    if total == 0 {
        return "no nodes available to schedule pods".to_string();
    }
    let mut reasons: BTreeMap<&str, usize> = BTreeMap::new();
    let mut preemption: BTreeMap<&str, usize> = BTreeMap::new();
    for r in rejects {
        for reason in &r.reasons {
            *reasons.entry(reason.as_str()).or_default() += 1;
        }
        let p = if r.resolvable {
            NO_VICTIMS
        } else {
            NOT_HELPFUL
        };
        *preemption.entry(p).or_default() += 1;
    }
    let histogram = |m: &BTreeMap<&str, usize>| {
        let mut parts: Vec<String> = m.iter().map(|(r, n)| format!("{n} {r}")).collect();
        parts.sort();
        parts.join(", ")
    };
    format!(
        "0/{total} nodes are available: {}. preemption: 0/{total} nodes are available: {}.",
        histogram(&reasons),
        histogram(&preemption)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_matches_the_real_scheduler() {
        let insufficient = || Reject {
            reasons: vec!["Insufficient memory".into()],
            resolvable: true,
        };
        let m = message(3, &[insufficient(), insufficient(), insufficient()]);
        assert_eq!(
            m,
            "0/3 nodes are available: 3 Insufficient memory. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."
        );
        let taint = Reject {
            reasons: vec!["node(s) had untolerated taint {dedicated: gpu}".into()],
            resolvable: false,
        };
        let m = message(2, &[insufficient(), taint]);
        assert!(m.starts_with("0/2 nodes are available: 1 Insufficient memory, 1 node(s) had untolerated taint {dedicated: gpu}."));
        assert!(m.ends_with("1 No preemption victims found for incoming pod, 1 Preemption is not helpful for scheduling."));
    }
}
