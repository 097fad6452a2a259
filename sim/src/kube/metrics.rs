//! A kube-state-metrics stand-in: `GET /metrics` in the Prometheus text exposition format
//! (version 0.0.4), computed on each scrape from the live Pods of the simulated API server, with
//! kube-state-metrics' own metric and label names, so real Prometheus rules written for
//! kube-state-metrics fire on the simulated cluster.

use axum::Router;
use axum::extract::State as AxState;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::Value;

use super::store::{ListOptions, Store};
use crate::serve::{Server, Sim};

/// kube-state-metrics' phases: one series per phase, 1 for the current one.
const PHASES: [&str; 5] = ["Pending", "Succeeded", "Failed", "Unknown", "Running"];
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The metrics endpoint, on its own loopback port like a kube-state-metrics Service.
#[derive(Debug)]
pub struct KubeStateMetrics {
    server: Server,
}

impl KubeStateMetrics {
    pub fn start(store: Store) -> std::io::Result<KubeStateMetrics> {
        let server = Server::start("sim-ksm", None, move |_| {
            Ok(Router::new()
                .route("/metrics", get(scrape))
                .with_state(store))
        })?;
        Ok(KubeStateMetrics { server })
    }

    /// `http://127.0.0.1:PORT/metrics`
    pub fn metrics_url(&self) -> String {
        format!("{}/metrics", self.server.url())
    }
}

impl Sim for KubeStateMetrics {
    fn server(&self) -> &Server {
        &self.server
    }

    async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

async fn scrape(AxState(store): AxState<Store>) -> impl IntoResponse {
    let pods = store
        .res("v1", "Pod")
        .and_then(|res| store.list(res, None, &ListOptions::default()))
        .map(|l| l.items)
        .unwrap_or_default();
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], render(&pods))
}

/// One metric family: its help, type and samples (labels, value).
struct Family {
    name: &'static str,
    help: &'static str,
    kind: &'static str,
    samples: Vec<(Vec<(&'static str, String)>, i64)>,
}

/// The exposition text for `pods` (objects as the API serves them).
pub fn render(pods: &[Value]) -> String {
    let mut families = [
        Family {
            name: "kube_pod_owner",
            help: "Information about the Pod's owner.",
            kind: "gauge",
            samples: Vec::new(),
        },
        Family {
            name: "kube_pod_status_phase",
            help: "The pods current phase.",
            kind: "gauge",
            samples: Vec::new(),
        },
        Family {
            name: "kube_pod_container_status_restarts_total",
            help: "The number of container restarts per container.",
            kind: "counter",
            samples: Vec::new(),
        },
        Family {
            name: "kube_pod_container_status_waiting_reason",
            help: "Describes the reason the container is currently in waiting state.",
            kind: "gauge",
            samples: Vec::new(),
        },
        Family {
            name: "kube_pod_container_status_last_terminated_reason",
            help: "Describes the last reason the container was in terminated state.",
            kind: "gauge",
            samples: Vec::new(),
        },
    ];
    for pod in pods {
        let [owner, phase, restarts, waiting, terminated] = &mut families;
        let s = |p: &str| pod.pointer(p).and_then(Value::as_str).unwrap_or_default();
        let base = vec![
            ("namespace", s("/metadata/namespace").to_owned()),
            ("pod", s("/metadata/name").to_owned()),
            ("uid", s("/metadata/uid").to_owned()),
        ];
        let with = |extra: &[(&'static str, String)]| {
            let mut l = base.clone();
            l.extend_from_slice(extra);
            l
        };
        let owners = pod
            .pointer("/metadata/ownerReferences")
            .and_then(Value::as_array);
        match owners.filter(|o| !o.is_empty()) {
            // kube-state-metrics' placeholder series for a Pod without owners.
            None => owner.samples.push((
                with(&[
                    ("owner_kind", "<none>".into()),
                    ("owner_name", "<none>".into()),
                    ("owner_is_controller", "<none>".into()),
                ]),
                1,
            )),
            Some(refs) => {
                for r in refs {
                    let f = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or_default();
                    let controller = r.get("controller").and_then(Value::as_bool) == Some(true);
                    owner.samples.push((
                        with(&[
                            ("owner_kind", f("kind").into()),
                            ("owner_name", f("name").into()),
                            ("owner_is_controller", controller.to_string()),
                        ]),
                        1,
                    ));
                }
            }
        }
        let current = s("/status/phase");
        for p in PHASES {
            phase
                .samples
                .push((with(&[("phase", p.into())]), i64::from(p == current)));
        }
        let statuses = ["/status/initContainerStatuses", "/status/containerStatuses"]
            .iter()
            .filter_map(|p| pod.pointer(p).and_then(Value::as_array))
            .flatten();
        for c in statuses {
            let name = c.get("name").and_then(Value::as_str).unwrap_or_default();
            let container = with(&[("container", name.into())]);
            let count = c.get("restartCount").and_then(Value::as_i64).unwrap_or(0);
            restarts.samples.push((container.clone(), count));
            let reason = |p: &str| {
                c.pointer(p)
                    .and_then(Value::as_str)
                    .filter(|r| !r.is_empty())
            };
            if let Some(r) = reason("/state/waiting/reason") {
                let mut l = container.clone();
                l.push(("reason", r.into()));
                waiting.samples.push((l, 1));
            }
            if let Some(r) = reason("/lastState/terminated/reason") {
                let mut l = container;
                l.push(("reason", r.into()));
                terminated.samples.push((l, 1));
            }
        }
    }
    let mut out = String::new();
    for f in &families {
        out.push_str(&format!(
            "# HELP {} {}\n# TYPE {} {}\n",
            f.name, f.help, f.name, f.kind
        ));
        for (labels, value) in &f.samples {
            let labels: Vec<String> = labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
                .collect();
            out.push_str(&format!("{}{{{}}} {value}\n", f.name, labels.join(",")));
        }
    }
    out
}

/// Label values escape backslash, double quote and newline.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The samples of `name`: (label string, value), parsed back independently.
    fn samples<'a>(text: &'a str, name: &str) -> Vec<(&'a str, &'a str)> {
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.strip_prefix(name)?.strip_prefix('{'))
            .filter_map(|l| l.rsplit_once("} "))
            .collect()
    }

    fn oom_pod() -> Value {
        json!({
            "metadata": {"namespace": "shop", "name": "web-7d9f-x2k4p", "uid": "u-1",
                "ownerReferences": [{"kind": "ReplicaSet", "name": "web-7d9f", "controller": true}]},
            "status": {"phase": "Running", "containerStatuses": [{
                "name": "web", "restartCount": 3,
                "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137}}
            }]}
        })
    }

    #[test]
    fn an_oom_killed_pod_has_kube_state_metrics_series() {
        let text = render(&[oom_pod()]);
        let base = r#"namespace="shop",pod="web-7d9f-x2k4p",uid="u-1""#;
        assert_eq!(
            samples(&text, "kube_pod_container_status_restarts_total"),
            [(format!(r#"{base},container="web""#).as_str(), "3")]
        );
        assert_eq!(
            samples(&text, "kube_pod_container_status_last_terminated_reason"),
            [(
                format!(r#"{base},container="web",reason="OOMKilled""#).as_str(),
                "1"
            )]
        );
        assert_eq!(
            samples(&text, "kube_pod_container_status_waiting_reason"),
            [(
                format!(r#"{base},container="web",reason="CrashLoopBackOff""#).as_str(),
                "1"
            )]
        );
        assert_eq!(
            samples(&text, "kube_pod_owner"),
            [(
                format!(
                    r#"{base},owner_kind="ReplicaSet",owner_name="web-7d9f",owner_is_controller="true""#
                )
                .as_str(),
                "1"
            )]
        );
        let phases = samples(&text, "kube_pod_status_phase");
        assert_eq!(phases.len(), 5);
        assert!(phases.contains(&(format!(r#"{base},phase="Running""#).as_str(), "1")));
        assert!(phases.contains(&(format!(r#"{base},phase="Pending""#).as_str(), "0")));
        assert!(text.contains("# TYPE kube_pod_container_status_restarts_total counter\n"));
    }

    #[test]
    fn a_bare_pod_and_odd_label_values() {
        let pod = json!({"metadata": {"namespace": "a", "name": "p\"q\\", "uid": "u"},
            "status": {"phase": "Pending"}});
        let text = render(&[pod]);
        assert!(text.contains(r#"pod="p\"q\\""#));
        assert!(text.contains(r#"owner_kind="<none>""#));
        assert!(samples(&text, "kube_pod_container_status_restarts_total").is_empty());
        // Every family is declared even without samples, as kube-state-metrics does.
        assert_eq!(text.matches("# TYPE ").count(), 5);
    }
}
