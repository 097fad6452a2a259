//! The kubelets of all simulated nodes: for every pod bound to an existing node, run its
//! containers (`runtime`) as the scenario's behaviours say, record the kubelet's events
//! (`source.component: kubelet`, `source.host: <node>`, `fieldPath: spec.containers{c}`)
//! and write the pod status: phase, conditions, IPs, `containerStatuses`.
//!
//! Init containers are not run (no `initContainerStatuses`); ephemeral containers are ignored.

use std::collections::{HashMap, HashSet};

use jiff::Timestamp;
use serde_json::{Value, json};

use super::behaviour::normalize;
use super::events::{Note, Source};
use super::meta::{self, s, ts};
use super::runtime::{Container, Emitted, PodView};
use super::{Cx, log_err};
use crate::kube::Subresource;

#[derive(Default)]
pub struct Kubelet {
    pods: HashMap<String, PodRuntime>,
    images: HashSet<(String, String)>,
    next_ip: HashMap<String, u32>,
}

struct PodRuntime {
    node: String,
    ip: String,
    host_ip: String,
    start: Timestamp,
    containers: Vec<Container>,
}

/// The node a container runs on, for image presence.
struct NodeImages<'a> {
    node: &'a str,
    images: &'a mut HashSet<(String, String)>,
}

impl super::runtime::Node for NodeImages<'_> {
    fn has_image(&self, image: &str) -> bool {
        self.images
            .contains(&(self.node.to_string(), normalize(image)))
    }

    fn add_image(&mut self, image: &str) {
        self.images
            .insert((self.node.to_string(), normalize(image)));
    }
}

impl Kubelet {
    pub fn sync(&mut self, cx: &mut Cx) {
        let nodes: HashMap<String, (usize, String)> = cx
            .list(cx.kinds.node)
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let ip = n
                    .pointer("/status/addresses")
                    .and_then(Value::as_array)
                    .and_then(|a| a.iter().find(|x| s(x, "/type") == "InternalIP"))
                    .map(|x| s(x, "/address").to_string())
                    .unwrap_or_else(|| format!("10.0.0.{}", i + 10));
                (meta::name(n).to_string(), (i + 1, ip))
            })
            .collect();
        let pods = cx.list(cx.kinds.pod);
        let live: HashSet<&str> = pods.iter().map(meta::uid).collect();
        let gone: Vec<String> = self
            .pods
            .keys()
            .filter(|uid| !live.contains(uid.as_str()))
            .cloned()
            .collect();
        for uid in gone {
            self.pods.remove(&uid);
            cx.events.forget(&uid);
        }
        for pod in &pods {
            let node = s(pod, "/spec/nodeName");
            let Some((index, host_ip)) = nodes.get(node) else {
                continue;
            };
            if pod.pointer("/metadata/deletionTimestamp").is_some() {
                continue;
            }
            self.sync_pod(cx, pod, node, *index, host_ip);
        }
    }

    fn sync_pod(&mut self, cx: &mut Cx, pod: &Value, node: &str, index: usize, host_ip: &str) {
        let uid = meta::uid(pod).to_string();
        let specs: Vec<Value> = pod
            .pointer("/spec/containers")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let restart_policy = match s(pod, "/spec/restartPolicy") {
            "" => "Always",
            p => p,
        };
        let pod_ref = format!("{}_{}({uid})", meta::name(pod), meta::namespace(pod));
        let now = cx.now;
        let mut emitted: Vec<(String, Emitted)> = Vec::new();
        if !self.pods.contains_key(&uid) {
            let counter = self.next_ip.entry(node.to_string()).or_insert(1);
            *counter += 1;
            let ip = format!("10.244.{index}.{}", *counter % 250 + 2);
            let mut rt = PodRuntime {
                node: node.to_string(),
                ip,
                host_ip: host_ip.to_string(),
                start: now,
                containers: Vec::new(),
            };
            for spec in &specs {
                let name = s(spec, "/name");
                let image = s(spec, "/image");
                let mut c = Container::new(name, image, &uid, now);
                let view = PodView {
                    spec,
                    restart_policy,
                    pod_ref: pod_ref.clone(),
                    ip: &rt.ip,
                };
                let b = cx.behaviours.for_image(image);
                let mut node_images = NodeImages {
                    node,
                    images: &mut self.images,
                };
                let mut out = Vec::new();
                c.begin(now, &view, b, &mut node_images, &mut out);
                emitted.extend(out.into_iter().map(|e| (name.to_string(), e)));
                rt.containers.push(c);
            }
            self.pods.insert(uid.clone(), rt);
        }
        let Some(rt) = self.pods.get_mut(&uid) else {
            return;
        };
        let mut wake: Option<Timestamp> = None;
        for c in rt.containers.iter_mut() {
            let Some(spec) = specs.iter().find(|sp| s(sp, "/name") == c.name) else {
                continue;
            };
            let image = s(spec, "/image");
            let b = cx.behaviours.for_image(image);
            let view = PodView {
                spec,
                restart_policy,
                pod_ref: pod_ref.clone(),
                ip: &rt.ip,
            };
            let mut node_images = NodeImages {
                node: &rt.node,
                images: &mut self.images,
            };
            let mut out = Vec::new();
            c.advance(now, &view, b, &mut node_images, &mut out);
            emitted.extend(out.into_iter().map(|e| (c.name.clone(), e)));
            if let Some(t) = c.next_at(b, spec) {
                wake = Some(wake.map_or(t, |w: Timestamp| w.min(t)));
            }
        }
        let status = pod_status(pod, rt, &specs, restart_policy, &pod_ref, now);
        if let Some(t) = wake {
            cx.wake_at(t);
        }
        for (container, e) in emitted {
            cx.event(
                e.at,
                Note {
                    object: pod,
                    field_path: Some(format!("spec.containers{{{container}}}")),
                    warning: e.warning,
                    reason: e.reason,
                    message: e.message,
                    source: Source {
                        component: "kubelet",
                        host: Some(node),
                    },
                },
            );
        }
        if pod.get("status") == Some(&status) {
            return;
        }
        let ns = meta::namespace(pod).to_string();
        log_err(
            "pod status",
            cx.store.update_with(
                cx.kinds.pod,
                Some(&ns),
                meta::name(pod),
                Subresource::Status,
                |p| p["status"] = status,
            ),
        );
    }
}

/// The pod status the kubelet reports, keeping transition times of unchanged conditions.
fn pod_status(
    pod: &Value,
    rt: &PodRuntime,
    specs: &[Value],
    restart_policy: &str,
    pod_ref: &str,
    now: Timestamp,
) -> Value {
    let statuses: Vec<Value> = rt
        .containers
        .iter()
        .filter_map(|c| {
            let spec = specs.iter().find(|sp| s(sp, "/name") == c.name)?;
            Some(c.status(&PodView {
                spec,
                restart_policy,
                pod_ref: pod_ref.to_string(),
                ip: &rt.ip,
            }))
        })
        .collect();
    let phase = phase(&rt.containers, restart_policy);
    let not_ready: Vec<&str> = rt
        .containers
        .iter()
        .filter(|c| !c.ready())
        .map(|c| c.name.as_str())
        .collect();
    let terminal = matches!(phase, "Succeeded" | "Failed");
    let old = meta::conditions(pod);
    let at = ts(now);
    let keep = |ctype: &str, status: &str, mut cond: Value| {
        if let Some(prev) = old
            .iter()
            .find(|c| s(c, "/type") == ctype && s(c, "/status") == status)
            && let Some(t) = prev.get("lastTransitionTime")
        {
            cond["lastTransitionTime"] = t.clone();
        }
        cond
    };
    let ready_cond = |ctype: &str| {
        if not_ready.is_empty() {
            keep(
                ctype,
                "True",
                json!({"type": ctype, "status": "True", "lastProbeTime": null, "lastTransitionTime": at}),
            )
        } else {
            let reason = if terminal {
                "PodCompleted"
            } else {
                "ContainersNotReady"
            };
            let message = format!("containers with unready status: [{}]", not_ready.join(" "));
            let mut c = json!({"type": ctype, "status": "False", "lastProbeTime": null,
                               "lastTransitionTime": at, "reason": reason});
            if !terminal {
                c["message"] = json!(message);
            }
            keep(ctype, "False", c)
        }
    };
    let sandbox = if terminal { "False" } else { "True" };
    let mut conditions = vec![
        keep(
            "PodReadyToStartContainers",
            sandbox,
            json!({"type": "PodReadyToStartContainers", "status": sandbox, "lastProbeTime": null, "lastTransitionTime": at}),
        ),
        keep(
            "Initialized",
            "True",
            json!({"type": "Initialized", "status": "True", "lastProbeTime": null, "lastTransitionTime": at}),
        ),
        ready_cond("Ready"),
        ready_cond("ContainersReady"),
    ];
    conditions.extend(
        old.iter()
            .filter(|c| s(c, "/type") == "PodScheduled")
            .cloned(),
    );
    let mut status = json!({
        "phase": phase,
        "conditions": conditions,
        "hostIP": rt.host_ip,
        "hostIPs": [{"ip": rt.host_ip}],
        "podIP": rt.ip,
        "podIPs": [{"ip": rt.ip}],
        "startTime": ts(rt.start),
        "containerStatuses": statuses,
    });
    if let Some(q) = pod.pointer("/status/qosClass") {
        status["qosClass"] = q.clone();
    }
    status
}

/// `getPhase`: Pending while a container never ran; Succeeded/Failed once all exited for
/// good; Running otherwise.
fn phase(containers: &[Container], restart_policy: &str) -> &'static str {
    if containers.iter().any(|c| !c.has_run()) {
        return "Pending";
    }
    if containers.iter().any(Container::is_running) {
        return "Running";
    }
    let finals: Vec<i32> = containers
        .iter()
        .filter_map(Container::final_exit)
        .collect();
    if finals.len() < containers.len() {
        // Some are waiting to restart.
        return "Running";
    }
    match restart_policy {
        "Always" => "Running",
        _ if finals.iter().all(|&c| c == 0) => "Succeeded",
        _ => "Failed",
    }
}
