//! `kustomize-oom`: the base says 256Mi; the prod overlay's strategic-merge patch sets the
//! 512Mi that OOMKills, so the fix belongs in the overlay patch, not the base.

use super::{OOM_IMAGE, SERVICE, Scenario, deployment, grows_to_600mi};

const BASE_KUSTOMIZATION: &str = "resources:
  - deployment.yaml
  - service.yaml
";
const PROD_KUSTOMIZATION: &str = "resources:
  - ../../base
patches:
  - path: memory.yaml
";
const PROD_PATCH: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: checkout-api
spec:
  template:
    spec:
      containers:
        - name: api
          resources:
            limits:
              memory: 512Mi
";

pub fn scenario() -> Scenario {
    let mut s = Scenario::new(
        "kustomize-oom",
        "checkout-api OOMKilled; the 512Mi limit comes from the prod overlay's patch (Kustomize)",
    )
    .commit(
        "checkout-api: base and prod overlay",
        &[
            (
                "apps/checkout-api/base/deployment.yaml",
                &deployment(OOM_IMAGE, "256Mi", ""),
            ),
            ("apps/checkout-api/base/service.yaml", SERVICE),
            (
                "apps/checkout-api/base/kustomization.yaml",
                BASE_KUSTOMIZATION,
            ),
            (
                "apps/checkout-api/overlays/prod/kustomization.yaml",
                PROD_KUSTOMIZATION,
            ),
            ("apps/checkout-api/overlays/prod/memory.yaml", PROD_PATCH),
        ],
    )
    .behave(OOM_IMAGE, grows_to_600mi());
    s.path = "apps/checkout-api/overlays/prod";
    s
}
