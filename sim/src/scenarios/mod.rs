//! Scenarios for `suture sim`: data (the GitOps repo's commits, the Argo CD Application, how
//! the containers behave, the nodes) plus a small builder, one file per scenario. `World`
//! turns one into a running cluster whose fault shows within seconds.

mod bad_image;
mod helm_oom;
mod kustomize_oom;
mod leak;
mod oom;
mod oom_policy;
mod oom_quota;
mod oom_unschedulable;
mod slow_start;

use serde_json::{Value, json};

use super::argocd::HelmChart;
use super::kube::AdmissionPolicy;
use super::kube::controllers::{Behaviour, Behaviours, NodeSpec};
pub use super::world::events::WorldEvent;

/// One scenario. Commits after the first land once the workload is available, so a later
/// commit is a rollout from a healthy state (as `bad-image` needs).
#[derive(Clone, Debug)]
pub struct Scenario {
    pub name: &'static str,
    pub description: &'static str,
    /// `owner/name` of the GitOps repository on the simulated forges.
    pub repo: &'static str,
    pub branch: &'static str,
    /// `(message, files)` in order.
    pub commits: Vec<(&'static str, Vec<(String, String)>)>,
    /// The Argo CD Application (name in `argocd`), its source path and destination namespace.
    pub app: &'static str,
    pub path: &'static str,
    pub namespace: &'static str,
    /// The workload `World` waits on before later commits.
    pub deployment: &'static str,
    /// Extra `spec.source` fields (e.g. `helm`).
    pub source_extra: Value,
    pub behaviours: Behaviours,
    pub nodes: Vec<NodeSpec>,
    /// Charts with `repo_url` left empty: `World` fills in the Git remote's URL.
    pub helm_charts: Vec<HelmChart>,
    /// What happens to the infrastructure mid-run (a node lost after a fix deploys, say).
    pub events: Vec<WorldEvent>,
    /// Validating admission webhooks the API server calls (a memory ceiling, say).
    pub admission: Vec<AdmissionPolicy>,
}

impl Scenario {
    fn new(name: &'static str, description: &'static str) -> Scenario {
        Scenario {
            name,
            description,
            repo: "platform/gitops",
            branch: "main",
            commits: Vec::new(),
            app: "checkout-api",
            path: "",
            namespace: "payments",
            deployment: "checkout-api",
            source_extra: json!({}),
            behaviours: Behaviours::default(),
            nodes: (1..=3)
                .map(|i| NodeSpec::new(&format!("sim-node-{i}"), "4", "8Gi"))
                .collect(),
            helm_charts: Vec::new(),
            events: Vec::new(),
            admission: Vec::new(),
        }
    }

    fn commit(mut self, message: &'static str, files: &[(&str, &str)]) -> Scenario {
        let files = files
            .iter()
            .map(|(p, t)| (p.to_string(), t.to_string()))
            .collect();
        self.commits.push((message, files));
        self
    }

    fn behave(mut self, image: &str, b: Behaviour) -> Scenario {
        self.behaviours.images.insert(image.into(), b);
        self
    }

    /// The Application with automated sync (prune, self-heal) from `repo_url`.
    pub fn application(&self, repo_url: &str) -> Value {
        let mut source =
            json!({"repoURL": repo_url, "targetRevision": self.branch, "path": self.path});
        if let (Some(src), Some(extra)) = (source.as_object_mut(), self.source_extra.as_object()) {
            src.extend(extra.clone());
        }
        json!({
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Application",
            "metadata": {"name": self.app, "namespace": "argocd"},
            "spec": {
                "project": "default",
                "source": source,
                "destination": {"server": "https://kubernetes.default.svc", "namespace": self.namespace},
                "syncPolicy": {"automated": {"enabled": true, "prune": true, "selfHeal": true},
                               "syncOptions": ["CreateNamespace=true"]},
            },
        })
    }
}

/// Every scenario, in the order `--scenario list` prints them.
pub fn all() -> Vec<Scenario> {
    vec![
        oom::scenario(),
        bad_image::scenario(),
        slow_start::scenario(),
        kustomize_oom::scenario(),
        helm_oom::scenario(),
        oom_unschedulable::scenario(),
        leak::scenario(),
        oom_policy::scenario(),
        oom_quota::scenario(),
    ]
}

pub fn find(name: &str) -> Option<Scenario> {
    all().into_iter().find(|s| s.name == name)
}

/// `name  description` lines.
pub fn listing() -> String {
    all()
        .iter()
        .map(|s| format!("  {:<18} {}\n", s.name, s.description))
        .collect()
}

/// The checkout-api Deployment with a log-shipper sidecar first, so fixes must pick the
/// right container. `image` and `memory` vary per scenario; `probe` is extra YAML for `api`.
fn deployment(image: &str, memory: &str, probe: &str) -> String {
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: checkout-api
  labels:
    app: checkout-api
spec:
  replicas: 2
  selector:
    matchLabels:
      app: checkout-api
  template:
    metadata:
      labels:
        app: checkout-api
    spec:
      containers:
        - name: log-shipper
          image: fluent/fluent-bit:3.1.4
          resources:
            limits:
              memory: 128Mi
        - name: api
          image: {image}
          ports:
            - containerPort: 8080
          resources:
            requests:
              cpu: 250m
              memory: 256Mi
            limits:
              memory: {memory}
{probe}"
    )
}

/// The same Deployment with the `api` container's memory request equal to its limit, and
/// both containers' requests equal to their limits (Guaranteed QoS): a memory bump raises
/// what the scheduler must find room for, too. `Recreate`, so a revert converges although
/// the reverted pods crash-loop: a RollingUpdate with 2 replicas has maxUnavailable 0 and, as
/// the real controller does, would keep an unplaceable surge pod until the old pods are
/// available.
fn deployment_guaranteed(image: &str, memory: &str) -> String {
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: checkout-api
  labels:
    app: checkout-api
spec:
  replicas: 2
  strategy:
    type: Recreate
  selector:
    matchLabels:
      app: checkout-api
  template:
    metadata:
      labels:
        app: checkout-api
    spec:
      containers:
        - name: log-shipper
          image: fluent/fluent-bit:3.1.4
          resources:
            requests:
              cpu: 100m
              memory: 128Mi
            limits:
              cpu: 100m
              memory: 128Mi
        - name: api
          image: {image}
          ports:
            - containerPort: 8080
          resources:
            requests:
              cpu: 250m
              memory: {memory}
            limits:
              cpu: 250m
              memory: {memory}
"
    )
}

const SERVICE: &str = "apiVersion: v1
kind: Service
metadata:
  name: checkout-api
spec:
  selector:
    app: checkout-api
  ports:
    - port: 80
      targetPort: 8080
";

/// The image every OOM scenario runs: it grows to 600Mi.
const OOM_IMAGE: &str = "ghcr.io/example/checkout-api:1.14.2";

fn grows_to_600mi() -> Behaviour {
    Behaviour {
        working_set: Some("600Mi".into()),
        ..Behaviour::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listing_names_every_scenario_once() {
        let listing = listing();
        for name in [
            "oom",
            "oom-unschedulable",
            "leak",
            "bad-image",
            "oom-policy",
        ] {
            let rows = listing
                .lines()
                .filter(|l| l.split_whitespace().next() == Some(name))
                .count();
            assert_eq!(rows, 1, "{name} in:\n{listing}");
        }
    }

    #[test]
    fn world_events_name_nodes_of_their_scenario() {
        for s in all() {
            for e in &s.events {
                let WorldEvent::LoseNodeAfterForeignSync { node, .. } = e;
                assert!(
                    s.nodes.iter().any(|n| n.name == *node),
                    "{}: {node}",
                    s.name
                );
            }
        }
    }
}
