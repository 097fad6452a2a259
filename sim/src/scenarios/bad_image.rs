//! `bad-image`: a healthy rollout at tag 1.0, then a commit rolls to tag 1.1, which the
//! registry does not have: ImagePullBackOff while the old ReplicaSet keeps serving.

use super::{SERVICE, Scenario, deployment};
use crate::kube::controllers::Behaviour;

const GOOD: &str = "ghcr.io/example/checkout-api:1.0";
const MISSING: &str = "ghcr.io/example/checkout-api:1.1";

pub fn scenario() -> Scenario {
    let mut s = Scenario::new(
        "bad-image",
        "checkout-api rolled from tag 1.0 to a missing tag 1.1: ImagePullBackOff, old ReplicaSet still up",
    )
    .commit(
        "checkout-api: 1.0",
        &[
            ("apps/checkout-api/deployment.yaml", &deployment(GOOD, "1Gi", "")),
            ("apps/checkout-api/service.yaml", SERVICE),
        ],
    )
    .commit(
        "checkout-api: 1.1",
        &[(
            "apps/checkout-api/deployment.yaml",
            &deployment(MISSING, "1Gi", ""),
        )],
    )
    .behave(
        MISSING,
        Behaviour {
            missing: true,
            ..Behaviour::default()
        },
    );
    s.path = "apps/checkout-api";
    s
}
