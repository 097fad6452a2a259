//! Node faults: resource pressure and a node that is not Ready. They explain (and let later
//! stages suppress) workload faults on the node's pods.

use k8s_openapi::api::core::v1::NodeCondition;

use super::common::object_finding;
use super::evidence::{self, Facts, NodeNotReadyFacts, NodePressureFacts};
use super::{FaultId, Finding};
use crate::state::ClusterState;

const PRESSURES: [&str; 3] = ["MemoryPressure", "DiskPressure", "PIDPressure"];

pub fn detect(state: &ClusterState, out: &mut Vec<Finding>) {
    for node in &state.nodes {
        let conditions: &[NodeCondition] = node
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_deref())
            .unwrap_or_default();
        let pressures: Vec<&NodeCondition> = conditions
            .iter()
            .filter(|c| PRESSURES.contains(&c.type_.as_str()) && c.status == "True")
            .collect();
        if !pressures.is_empty() {
            let facts = NodePressureFacts {
                pressures: pressures.iter().map(|c| c.type_.clone()).collect(),
                conditions: pressures.iter().map(|c| condition(c)).collect(),
            };
            out.push(object_finding(
                state,
                FaultId::NodePressure,
                "Node",
                &node.metadata,
                Facts::NodePressure(facts),
            ));
        }
        let ready = conditions.iter().find(|c| c.type_ == "Ready");
        if ready.is_none_or(|c| c.status != "True") {
            let facts = NodeNotReadyFacts {
                // `missing` when the node never reported a Ready condition.
                ready: ready.map_or("missing", |c| c.status.as_str()).to_string(),
                condition: ready.map(condition),
                unschedulable: node.spec.as_ref().and_then(|s| s.unschedulable),
            };
            out.push(object_finding(
                state,
                FaultId::NodeNotReady,
                "Node",
                &node.metadata,
                Facts::NodeNotReady(facts),
            ));
        }
    }
}

fn condition(c: &NodeCondition) -> evidence::NodeCondition {
    evidence::NodeCondition {
        type_: c.type_.clone(),
        status: c.status.clone(),
        reason: c.reason.clone(),
        message: c.message.as_deref().map(super::common::truncate),
        last_transition_time: c.last_transition_time.as_ref().map(|t| t.0.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::run;
    use super::*;

    fn node(conditions: &str) -> String {
        format!(
            "apiVersion: v1\nkind: Node\nmetadata: {{name: n1, uid: n-1}}\nstatus:\n  conditions:\n{conditions}"
        )
    }

    const READY: &str = "  - {type: Ready, status: 'True', reason: KubeletReady}\n";

    #[test]
    fn healthy_node_yields_nothing() {
        assert!(
            run(&node(&format!(
                "{READY}  - {{type: MemoryPressure, status: 'False'}}\n"
            )))
            .is_empty()
        );
    }

    #[test]
    fn pressure_and_not_ready() {
        let found = run(&node(
            "  - {type: Ready, status: Unknown, reason: NodeStatusUnknown, message: Kubelet stopped posting node status.}\n  - {type: DiskPressure, status: 'True', reason: KubeletHasDiskPressure}\n",
        ));
        let faults: Vec<FaultId> = found.iter().map(|f| f.fault).collect();
        assert_eq!(faults, vec![FaultId::NodePressure, FaultId::NodeNotReady]);
        assert_eq!(found[0].namespace, "");
        assert_eq!(found[0].evidence["pressures"][0], "DiskPressure");
        assert_eq!(found[1].evidence["ready"], "Unknown");
        assert_eq!(
            (found[1].owner.kind.as_str(), found[1].owner.name.as_str()),
            ("Node", "n1")
        );
    }

    #[test]
    fn missing_ready_condition_is_not_ready() {
        let found = run("apiVersion: v1\nkind: Node\nmetadata: {name: n2}\n");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].evidence["ready"], "missing");
    }
}
