//! `oom-quota`: checkout-api is OOMKilled at 512Mi (its working set is 600Mi) with requests
//! equal to limits (Guaranteed QoS), so a memory bump raises the pods' requests too, and the
//! `payments` namespace has a ResourceQuota `compute` whose headroom is smaller than the bump.
//!
//! Pod sizes (api + 128Mi log-shipper): 640Mi at 512Mi, 768Mi at the 640Mi bump. Two replicas
//! use 1280Mi of `requests.memory` and `limits.memory`; the quota allows 1408Mi, 128Mi of
//! headroom, and the bump adds 2 x 128Mi = 256Mi. Merged, the Recreate rollout would get its
//! first new pod and then quota admission's 403 for the second (`exceeded quota: compute,
//! requested: limits.memory=768Mi,requests.memory=768Mi, used: ...=768Mi, limited:
//! ...=1408Mi`), a `FailedCreate` on the new ReplicaSet. suture's
//! `resource_quota` check sees that before the PR and escalates instead.

use super::{OOM_IMAGE, SERVICE, Scenario, deployment_guaranteed, grows_to_600mi};

/// The namespace quota: 1280Mi used by the two pods, 128Mi headroom.
pub const QUOTA: &str = "apiVersion: v1
kind: ResourceQuota
metadata:
  name: compute
spec:
  hard:
    requests.memory: 1408Mi
    limits.memory: 1408Mi
    pods: \"10\"
";

pub fn scenario() -> Scenario {
    let mut s = Scenario::new(
        "oom-quota",
        "checkout-api OOMKilled at 512Mi (Guaranteed); the namespace quota has less headroom than the bump needs",
    )
    .commit(
        "checkout-api: initial deployment",
        &[
            (
                "apps/checkout-api/deployment.yaml",
                &deployment_guaranteed(OOM_IMAGE, "512Mi"),
            ),
            ("apps/checkout-api/quota.yaml", QUOTA),
            ("apps/checkout-api/service.yaml", SERVICE),
        ],
    )
    .behave(OOM_IMAGE, grows_to_600mi());
    s.path = "apps/checkout-api";
    s
}
