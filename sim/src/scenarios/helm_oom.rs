//! `helm-oom`: the 512Mi limit is in the chart's `values-prod.yaml`. Simulated Helm: the chart's
//! rendered manifests and a binding from `resources.limits.memory` to the api container's
//! limit are declared here (no `helm` binary; see `argocd::render::helm`).

use serde_json::json;

use super::{OOM_IMAGE, Scenario, deployment, grows_to_600mi};
use crate::argocd::{HelmBinding, HelmChart};

const CHART: &str = "apiVersion: v2
name: checkout-api
version: 0.1.0
";
const VALUES: &str = "image: ghcr.io/example/checkout-api:1.14.2
resources:
  limits:
    memory: 256Mi
";
const VALUES_PROD: &str = "resources:
  limits:
    memory: 512Mi
";
/// What the template would render; the repo's copy is never evaluated.
const TEMPLATE: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: checkout-api
spec:
  template:
    spec:
      containers:
        - name: api
          image: {{ .Values.image }}
          resources:
            limits:
              memory: {{ .Values.resources.limits.memory }}
";

pub fn scenario() -> Scenario {
    let path = "charts/checkout-api";
    let mut s = Scenario::new(
        "helm-oom",
        "checkout-api OOMKilled; the 512Mi limit is in the chart's values-prod.yaml (simulated Helm)",
    )
    .commit(
        "checkout-api: helm chart",
        &[
            ("charts/checkout-api/Chart.yaml", CHART),
            ("charts/checkout-api/values.yaml", VALUES),
            ("charts/checkout-api/values-prod.yaml", VALUES_PROD),
            ("charts/checkout-api/templates/deployment.yaml", TEMPLATE),
        ],
    )
    .behave(OOM_IMAGE, grows_to_600mi());
    s.path = path;
    s.source_extra = json!({"helm": {"valueFiles": ["values-prod.yaml"]}});
    let manifests = crate::objects::parse(&deployment(OOM_IMAGE, "256Mi", ""))
        .expect("bundled manifest parses");
    s.helm_charts = vec![HelmChart {
        repo_url: String::new(),
        path: path.into(),
        manifests,
        bindings: vec![HelmBinding::new(
            "resources.limits.memory",
            "Deployment",
            "checkout-api",
            "spec.template.spec.containers[name=api].resources.limits.memory",
        )],
    }];
    s
}
