//! `oom-unschedulable`: checkout-api is OOMKilled at 512Mi (its working set is 600Mi) with
//! requests equal to limits, so a memory bump raises the pods' requests too. The bumped pod
//! fits on the one large node when the fix is planned; once Argo CD deploys a revision that
//! is not one of the scenario's commits (the fix), that node is lost, and the bigger pods no
//! longer fit on the small nodes left, while pods of the old size still do.
//!
//! Pod sizes (api + 128Mi log-shipper): 640Mi at 512Mi, 768Mi..1152Mi for a 640Mi..1Gi bump.
//! `sim-node-1` (2Gi) holds one old pod and has 1408Mi free: any such bump fits. The small
//! nodes (700Mi) take one 640Mi pod each and never a bumped one. The Deployment recreates
//! (see `deployment_guaranteed`), so the story after the fix syncs at T is: both bumped pods
//! run on `sim-node-1` (no OOM at 768Mi); at T+10s the node is lost; at T+50s PodGC (40s
//! quarantine) deletes them and their replacements are Pending/Unschedulable (`0/2 nodes are
//! available: 2 Insufficient memory.`). A revert to 512Mi brings the old ReplicaSet back,
//! one pod on each small node.

use super::{OOM_IMAGE, SERVICE, Scenario, WorldEvent, deployment_guaranteed, grows_to_600mi};
use crate::kube::controllers::NodeSpec;

/// The node lost after the fix deploys: the only one a bumped pod fits on.
pub const LOST_NODE: &str = "sim-node-1";
/// World seconds from the fix's sync to the loss: the bumped pods are placed and start first.
const LOSS_DELAY: u64 = 10;

pub fn scenario() -> Scenario {
    let mut s = Scenario::new(
        "oom-unschedulable",
        "checkout-api OOMKilled at 512Mi; after the bump merges a node is lost and the larger pods no longer fit",
    )
    .commit(
        "checkout-api: initial deployment",
        &[
            (
                "apps/checkout-api/deployment.yaml",
                &deployment_guaranteed(OOM_IMAGE, "512Mi"),
            ),
            ("apps/checkout-api/service.yaml", SERVICE),
        ],
    )
    .behave(OOM_IMAGE, grows_to_600mi());
    s.path = "apps/checkout-api";
    s.nodes = vec![
        NodeSpec::new(LOST_NODE, "4", "2Gi"),
        NodeSpec::new("sim-node-2", "4", "700Mi"),
        NodeSpec::new("sim-node-3", "4", "700Mi"),
    ];
    s.events = vec![WorldEvent::LoseNodeAfterForeignSync {
        node: LOST_NODE,
        after_seconds: LOSS_DELAY,
    }];
    s
}
