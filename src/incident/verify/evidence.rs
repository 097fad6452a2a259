//! A verdict's evidence: typed fields, and the same as table rows for PR comments, commit
//! status descriptions and escalations (as `detection::evidence` does for findings).

use jiff::Timestamp;
use serde::Serialize;

use super::revision::Split;
use super::{Baseline, DeployStatus};
use crate::detection::Finding;
use crate::detection::evidence::{Table, rows};

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct VerifyEvidence {
    pub merge_sha: String,
    pub fault: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation_phase: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation_message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sync_status: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub synced_revisions: Vec<String>,
    pub auto_sync: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deploy_deadline: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployed_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window_ends_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub baseline_revisions: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployed_revision: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub new_pods: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub later_revisions: Vec<String>,
    /// `fault-id on pod/container` for every finding on the new pods.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<String>,
    /// `true` still true, `false`, `null` missing; absent when the incident has no alert.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alert_firing: Option<Option<bool>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
}

impl VerifyEvidence {
    pub(super) fn new(b: &Baseline, argo: &DeployStatus, alert: Option<bool>) -> VerifyEvidence {
        let mut baseline_revisions: Vec<String> =
            b.pods.iter().filter_map(|p| p.revision.clone()).collect();
        baseline_revisions.sort();
        baseline_revisions.dedup();
        VerifyEvidence {
            merge_sha: b.merge_sha.clone(),
            fault: b.fault().to_string(),
            operation_phase: argo.operation_phase.clone(),
            operation_message: argo.operation_message.clone(),
            sync_status: argo.sync_status.clone(),
            synced_revisions: argo.synced_revisions(),
            auto_sync: argo.auto_sync,
            baseline_revisions,
            alert_firing: (b.alert_sourced || alert.is_some()).then_some(alert),
            ..VerifyEvidence::default()
        }
    }

    pub(super) fn observe(&mut self, split: &Split, at: Timestamp, ends_at: Timestamp) {
        self.deployed_at = Some(at);
        self.window_ends_at = Some(ends_at);
        self.deployed_revision = split.deployed.clone();
        self.new_pods = split
            .new
            .iter()
            .filter_map(|p| p.metadata.name.clone())
            .collect();
        self.later_revisions = split.later.iter().cloned().collect();
    }

    pub fn table(&self) -> Table {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => Table::new(),
        }
    }

    /// `(label, value)` rows in field order.
    pub fn rows(&self) -> Vec<(String, String)> {
        rows(&self.table())
    }
}

pub(super) fn describe(f: &Finding) -> String {
    let pod = f.pod.as_deref().unwrap_or(&f.subject.name);
    match &f.container {
        Some(c) => format!("{} on {pod}/{c}", f.fault),
        None => format!("{} on {pod}", f.fault),
    }
}
