//! `oom`: the memory limit (512Mi) in a plain-directory app is below the 600Mi working set.

use super::{OOM_IMAGE, SERVICE, Scenario, deployment, grows_to_600mi};

pub fn scenario() -> Scenario {
    let mut s = Scenario::new(
        "oom",
        "checkout-api (payments) OOMKilled at a 512Mi limit; plain-directory Argo CD app",
    )
    .commit(
        "checkout-api: initial deployment",
        &[
            (
                "apps/checkout-api/deployment.yaml",
                &deployment(OOM_IMAGE, "512Mi", ""),
            ),
            ("apps/checkout-api/service.yaml", SERVICE),
        ],
    )
    .behave(OOM_IMAGE, grows_to_600mi());
    s.path = "apps/checkout-api";
    s
}
