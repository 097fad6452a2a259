//! What reaches the incident runner's queue. The server and the cluster watchers produce these;
//! only the runner acts on them.

use crate::alerts::Alert;
use crate::detection::Finding;
use crate::forge::webhook::ChangeEvent;
use crate::state::ClusterState;

#[derive(Clone, Debug)]
pub enum Inbound {
    /// Faults the watchers found on one changed object, with the slice of the cluster they were
    /// read from (the object, its owner chain and pods, their events, nodes, LimitRanges and
    /// Applications), so proposals read the same evidence detection saw.
    Findings {
        slice: Box<ClusterState>,
        findings: Vec<Finding>,
    },
    /// A verified forge delivery about a pull/merge request, with its delivery id.
    Change {
        delivery: String,
        event: ChangeEvent,
    },
    /// Alerts from one verified Alertmanager notification (firing and resolved).
    Alerts {
        delivery: String,
        alerts: Vec<Alert>,
    },
    /// Periodic reconcile: missed webhooks, expired pauses, half-done effects.
    Reconcile,
}
