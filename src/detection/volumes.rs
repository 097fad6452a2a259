//! Storage faults: volumes that cannot be mounted into a pod, claims that cannot bind.

use super::common::{EventIndex, PodCtx, event_summary, events_for, object_finding};
use super::evidence::{Facts, PodEventFacts, PvcFacts};
use super::{FaultId, Finding};
use crate::state::ClusterState;

/// `FailedMount`/`FailedAttachVolume` events while the pod has not started (events outlive a
/// mount that eventually succeeded; a running pod's old mount errors are history).
pub fn failed_mount(ctx: &PodCtx) -> Option<Finding> {
    if !not_started(ctx) {
        return None;
    }
    let events = ctx.events_with(&["FailedMount", "FailedAttachVolume"]);
    let newest = events.iter().max_by_key(|e| e.last_seen)?;
    let facts = PodEventFacts {
        events: event_summary(&events)?,
        volume: quoted_after(&newest.message, "volume "),
        node: ctx.pod.spec.as_ref().and_then(|s| s.node_name.clone()),
        runtime_class: None,
    };
    Some(ctx.finding(FaultId::FailedMount, None, Facts::PodEvents(facts)))
}

/// Still being set up: phase `Pending` and every container (init ones included) waiting in
/// `ContainerCreating`/`PodInitializing`, or no container statuses yet. Once any container
/// got further (running, pulling, crashing), the sandbox and volumes exist.
pub fn not_started(ctx: &PodCtx) -> bool {
    let Some(status) = ctx.status() else {
        return false;
    };
    let setting_up = |c: &k8s_openapi::api::core::v1::ContainerStatus| {
        let reason = c
            .state
            .as_ref()
            .and_then(|s| s.waiting.as_ref()?.reason.as_deref());
        matches!(reason, Some("ContainerCreating" | "PodInitializing"))
    };
    let mut all = status
        .container_statuses
        .iter()
        .flatten()
        .chain(status.init_container_statuses.iter().flatten());
    status.phase.as_deref() == Some("Pending") && all.all(setting_up)
}

/// The text between the quotes after `prefix`, e.g. `config` in `for volume "config" : ...`.
fn quoted_after(message: &str, prefix: &str) -> Option<String> {
    let (_, rest) = message.split_once(&format!("{prefix}\""))?;
    let (value, _) = rest.split_once('"')?;
    Some(value.to_string())
}

/// A PVC in phase `Pending` with `FailedBinding`/`ProvisioningFailed` events (a claim waiting
/// for its first consumer is pending without them, and is fine).
pub fn pvc_pending(state: &ClusterState, index: &EventIndex) -> Vec<Finding> {
    let mut out = Vec::new();
    for pvc in &state.pvcs {
        let pending = pvc.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Pending");
        let events: Vec<_> = events_for(index, "PersistentVolumeClaim", &pvc.metadata)
            .into_iter()
            .filter(|e| e.reason == "FailedBinding" || e.reason == "ProvisioningFailed")
            .collect();
        if !pending || events.is_empty() {
            continue;
        }
        let Some(summary) = event_summary(&events) else {
            continue;
        };
        let spec = pvc.spec.as_ref();
        let facts = PvcFacts {
            phase: "Pending".into(),
            storage_class: spec.and_then(|s| s.storage_class_name.clone()),
            request_storage: spec
                .and_then(|s| s.resources.as_ref()?.requests.as_ref()?.get("storage"))
                .map(|q| q.0.clone()),
            access_modes: spec.and_then(|s| s.access_modes.clone()),
            volume_mode: spec.and_then(|s| s.volume_mode.clone()),
            events: summary,
        };
        out.push(object_finding(
            state,
            FaultId::PvcPending,
            "PersistentVolumeClaim",
            &pvc.metadata,
            Facts::Pvc(facts),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{pod_event, run};
    use super::*;

    const CREATING: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: web-1, namespace: shop, uid: p-1}\nspec: {containers: [{name: web, image: web}]}\nstatus:\n  phase: Pending\n  containerStatuses:\n  - {name: web, image: web, imageID: '', ready: false, restartCount: 0, state: {waiting: {reason: ContainerCreating}}}\n";

    #[test]
    fn failed_mount_while_creating() {
        let yaml = CREATING.to_string()
            + &pod_event(
                "FailedMount",
                None,
                "MountVolume.SetUp failed for volume \"config\" : configmap \"web-config\" not found",
                7,
            );
        let found = run(&yaml);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].fault, FaultId::FailedMount);
        assert_eq!(found[0].evidence["volume"], "config");
        assert_eq!(found[0].evidence["event_count"], 7);
        // The same event on a running pod is history.
        let running = yaml
            .replace("phase: Pending", "phase: Running")
            .replace("waiting: {reason: ContainerCreating}", "running: {}");
        assert!(run(&running).is_empty());
        // A container that reached the image pull had its volumes mounted: old events only.
        let pulling = yaml.replace(
            "waiting: {reason: ContainerCreating}",
            "waiting: {reason: ImagePullBackOff}",
        );
        let found = run(&pulling);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].fault, FaultId::ImagePullBackOff);
    }

    #[test]
    fn pvc_pending_needs_failure_events() {
        let pvc = "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data, namespace: shop, uid: c-1}\nspec: {storageClassName: fast, accessModes: [ReadWriteOnce], resources: {requests: {storage: 5Gi}}}\nstatus: {phase: Pending}\n";
        assert!(run(pvc).is_empty());
        let event = "---\napiVersion: v1\nkind: Event\nmetadata: {name: e, namespace: shop}\ninvolvedObject: {kind: PersistentVolumeClaim, name: data, namespace: shop, uid: c-1}\nreason: ProvisioningFailed\ntype: Warning\nmessage: 'storageclass.storage.k8s.io \"fast\" not found'\n";
        let found = run(&(pvc.to_string() + event));
        assert_eq!(found.len(), 1);
        let f = &found[0];
        assert_eq!(
            (f.fault, &f.subject.kind, &f.owner.name),
            (
                FaultId::PvcPending,
                &"PersistentVolumeClaim".to_string(),
                &"data".to_string()
            )
        );
        assert_eq!(f.evidence["request_storage"], "5Gi");
        assert_eq!(f.evidence["event_reasons"][0], "ProvisioningFailed");
    }
}
