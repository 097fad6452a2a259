//! `oom-policy`: the `oom` scenario behind a validating admission webhook (Kyverno- or
//! Gatekeeper-style) that caps every container's memory limit at 600Mi. The 512Mi limit is
//! admitted; suture's bump to 640Mi is denied, as a server-side dry run shows before any PR.

use super::{AdmissionPolicy, Scenario};

/// The webhook's name, as the denial message quotes it.
pub const POLICY: &str = "memory-ceiling.policy.example.com";

pub fn scenario() -> Scenario {
    let mut s = super::oom::scenario();
    s.name = "oom-policy";
    s.description = "oom behind an admission webhook capping memory limits at 600Mi: the bump to 640Mi is denied";
    s.admission = vec![AdmissionPolicy::memory_ceiling(POLICY, "600Mi")];
    s
}
