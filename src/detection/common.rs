//! Helpers shared by the detectors: the per-pod context, event lookup, evidence building.

use std::collections::HashMap;

use k8s_openapi::api::core::v1::{Container, Pod, PodStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

use super::evidence::{EventSummary, Facts, ResourceValues};
use super::{Evidence, FaultId, Finding};
use crate::objref::{ObjectRef, WorkloadKind};
use crate::owner::resolve_workload;
use crate::state::{ClusterState, ObservedEvent};

/// Messages copied from cluster objects are capped at this many characters.
pub const MAX_MESSAGE_CHARS: usize = 512;

/// Events grouped by the object they are about: (kind, namespace, name).
pub type EventIndex<'a> = HashMap<(&'a str, &'a str, &'a str), Vec<&'a ObservedEvent>>;

pub fn index_events(state: &ClusterState) -> EventIndex<'_> {
    let mut index: EventIndex<'_> = HashMap::new();
    for e in &state.events {
        let key = (
            e.object_kind.as_str(),
            e.namespace.as_str(),
            e.object_name.as_str(),
        );
        index.entry(key).or_default().push(e);
    }
    index
}

/// Events about the object `meta` of `kind`. An event naming a different uid is about an
/// earlier object of the same name (e.g. a recreated StatefulSet pod) and is skipped.
pub fn events_for<'a>(
    index: &EventIndex<'a>,
    kind: &str,
    meta: &ObjectMeta,
) -> Vec<&'a ObservedEvent> {
    let ns = meta.namespace.as_deref().unwrap_or("");
    let name = meta.name.as_deref().unwrap_or("");
    let uid = meta.uid.as_deref();
    index
        .get(&(kind, ns, name))
        .into_iter()
        .flatten()
        .copied()
        .filter(|e| match (e.object_uid.as_deref(), uid) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        })
        .collect()
}

/// Everything the pod-level detectors need about one pod.
pub struct PodCtx<'a> {
    pub pod: &'a Pod,
    pub namespace: &'a str,
    pub name: &'a str,
    pub owner: ObjectRef,
    pub events: Vec<&'a ObservedEvent>,
}

impl<'a> PodCtx<'a> {
    pub fn new(owners: &crate::owner::Index<'a>, index: &EventIndex<'a>, pod: &'a Pod) -> Self {
        let namespace = pod.metadata.namespace.as_deref().unwrap_or("");
        let name = pod.metadata.name.as_deref().unwrap_or("");
        PodCtx {
            pod,
            namespace,
            name,
            owner: owners.resolve(WorkloadKind::Pod, &pod.metadata),
            events: events_for(index, "Pod", &pod.metadata),
        }
    }

    pub fn status(&self) -> Option<&'a PodStatus> {
        self.pod.status.as_ref()
    }

    /// The spec of container `name` (matched by name, never by position).
    pub fn spec_container(&self, name: &str, init: bool) -> Option<&'a Container> {
        let spec = self.pod.spec.as_ref()?;
        let list = match init {
            true => spec.init_containers.as_deref()?,
            false => spec.containers.as_slice(),
        };
        list.iter().find(|c| c.name == name)
    }

    /// Pod events with one of `reasons`.
    pub fn events_with(&self, reasons: &[&str]) -> Vec<&'a ObservedEvent> {
        self.events
            .iter()
            .copied()
            .filter(|e| reasons.contains(&e.reason.as_str()))
            .collect()
    }

    /// Pod events about container `name`: by `fieldPath`, or, when an event has none, by the
    /// kubelet's `Container <name> ...` message prefix.
    pub fn container_events(&self, name: &str, init: bool) -> Vec<&'a ObservedEvent> {
        let field = match init {
            true => format!("spec.initContainers{{{name}}}"),
            false => format!("spec.containers{{{name}}}"),
        };
        let prefix = format!("Container {name} ");
        self.events
            .iter()
            .copied()
            .filter(
                |e| match e.field_path.as_deref().filter(|p| !p.is_empty()) {
                    Some(path) => path == field,
                    None => e.message.starts_with(&prefix),
                },
            )
            .collect()
    }

    /// A finding on this pod; `container` is set for container-level faults.
    pub fn finding(&self, fault: FaultId, container: Option<&str>, facts: Facts) -> Finding {
        Finding {
            fault,
            namespace: self.namespace.to_string(),
            pod: Some(self.name.to_string()),
            container: container.map(str::to_string),
            init_container: false,
            cause: None,
            subject: ObjectRef::of_kind("Pod", self.namespace, self.name)
                .with_uid(self.pod.metadata.uid.clone()),
            owner: self.owner.clone(),
            evidence: Evidence::from(facts),
        }
    }
}

/// A finding on a non-pod object (Job, Deployment, ReplicaSet, PVC, Node).
pub fn object_finding(
    state: &ClusterState,
    fault: FaultId,
    kind: &str,
    meta: &ObjectMeta,
    facts: Facts,
) -> Finding {
    let namespace = meta.namespace.clone().unwrap_or_default();
    let name = meta.name.as_deref().unwrap_or("");
    Finding {
        fault,
        owner: resolve_workload(state, kind, &namespace, name),
        subject: ObjectRef::of_kind(kind, &namespace, name).with_uid(meta.uid.clone()),
        namespace,
        pod: None,
        container: None,
        init_container: false,
        cause: None,
        evidence: Evidence::from(facts),
    }
}

/// `text` cut to at most [`MAX_MESSAGE_CHARS`] characters, ending in `...` when cut.
pub fn truncate(text: &str) -> String {
    if text.chars().count() <= MAX_MESSAGE_CHARS {
        return text.to_string();
    }
    let kept: String = text.chars().take(MAX_MESSAGE_CHARS - 3).collect();
    format!("{kept}...")
}

/// A message copied from an object, trimmed and truncated; empty messages are no message.
pub fn msg(message: Option<&str>) -> Option<String> {
    message
        .filter(|m| !m.trim().is_empty())
        .map(|m| truncate(m.trim_end()))
}

pub fn time(t: Option<&Time>) -> Option<String> {
    t.map(|t| t.0.to_string())
}

/// Summary of a group of events: total count, newest message and when they were seen.
pub fn event_summary(events: &[&ObservedEvent]) -> Option<EventSummary> {
    let newest = events.iter().max_by_key(|e| e.last_seen)?;
    let mut reasons: Vec<String> = events.iter().map(|e| e.reason.clone()).collect();
    reasons.sort_unstable();
    reasons.dedup();
    Some(EventSummary {
        event_reasons: reasons,
        event_count: events.iter().map(|e| i64::from(e.count)).sum(),
        event_message: msg(Some(&newest.message)),
        first_seen: events
            .iter()
            .filter_map(|e| e.first_seen)
            .min()
            .map(|t| t.to_string()),
        last_seen: newest.last_seen.map(|t| t.to_string()),
    })
}

/// Request and limit of one resource of a container spec.
pub fn resource_values(container: Option<&Container>, resource: &str) -> Option<ResourceValues> {
    let res = container?.resources.as_ref()?;
    let get = |m: &Option<std::collections::BTreeMap<String, _>>| {
        m.as_ref()
            .and_then(|m| m.get(resource))
            .map(|q: &k8s_openapi::apimachinery::pkg::api::resource::Quantity| q.0.clone())
    };
    Some(ResourceValues {
        resource: resource.to_string(),
        request: get(&res.requests),
        limit: get(&res.limits),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncate_respects_char_boundaries() {
        let long = "é".repeat(600);
        let cut = truncate(&long);
        assert_eq!(cut.chars().count(), MAX_MESSAGE_CHARS);
        assert!(cut.ends_with("é..."));
        assert_eq!(truncate("short"), "short");
    }
}
