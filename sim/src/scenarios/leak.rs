//! `leak`: checkout-api's working set grows by 24Mi every second from start, so every memory
//! limit is reached: OOMKilled at 512Mi after 22s, at 640Mi after 27s, at 1Gi after 43s. A
//! bump only delays the kill; the fix is in the code.

use super::{SERVICE, Scenario, deployment};
use crate::kube::controllers::Behaviour;

const IMAGE: &str = "ghcr.io/example/checkout-api:1.15.0";

pub fn scenario() -> Scenario {
    let mut s = Scenario::new(
        "leak",
        "checkout-api's working set keeps growing: every limit is reached (OOMKilled at 512Mi, 640Mi, 1Gi)",
    )
    .commit(
        "checkout-api: 1.15.0",
        &[
            (
                "apps/checkout-api/deployment.yaml",
                &deployment(IMAGE, "512Mi", ""),
            ),
            ("apps/checkout-api/service.yaml", SERVICE),
        ],
    )
    .behave(
        IMAGE,
        Behaviour {
            leak_per_second: Some("24Mi".into()),
            ..Behaviour::default()
        },
    );
    s.path = "apps/checkout-api";
    s
}
