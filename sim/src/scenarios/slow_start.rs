//! `slow-start`: the app needs 60s to answer, but liveness gives it 10s + 3 x 10s, so the
//! kubelet kills it before it is up (Unhealthy, Killing) and again on every restart.

use super::{SERVICE, Scenario, deployment};
use crate::kube::controllers::Behaviour;

const IMAGE: &str = "ghcr.io/example/checkout-api:2.0.0";
const PROBE: &str = "          livenessProbe:
            httpGet:
              path: /healthz
              port: 8080
            initialDelaySeconds: 10
            periodSeconds: 10
            failureThreshold: 3
";

pub fn scenario() -> Scenario {
    let mut s = Scenario::new(
        "slow-start",
        "checkout-api starts in 60s under a liveness probe that kills it at ~30s: Unhealthy/Killing",
    )
    .commit(
        "checkout-api: liveness probe",
        &[
            (
                "apps/checkout-api/deployment.yaml",
                &deployment(IMAGE, "1Gi", PROBE),
            ),
            ("apps/checkout-api/service.yaml", SERVICE),
        ],
    )
    .behave(
        IMAGE,
        Behaviour {
            start_seconds: 60,
            ..Behaviour::default()
        },
    );
    s.path = "apps/checkout-api";
    s
}
