//! Typed evidence: one struct per fault family with named fields, so proposals and escalations
//! read `facts.pull_error`, not `evidence["pull_error"]`, and a renamed field breaks the build.
//!
//! For people and the plan JSON the facts are a table (field name -> value), in the order a
//! human reads them: the struct's field order. Each struct's fields are declared in the order
//! the detectors have always written them, so the JSON stays the same key by key.

use serde::{Serialize, Serializer};
use serde_json::Value;

use super::PullCause;

/// Evidence as a table (field name -> value): the plan JSON's `evidence` and the PR body table.
pub type Table = serde_json::Map<String, Value>;

/// The facts of one finding, by fault family.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Facts {
    /// Container states: waiting reasons, terminations (OOM, start errors, crash loops, exits).
    Container(ContainerFacts),
    /// Startup/liveness kills and readiness failures from probe events.
    Probe(ProbeFacts),
    Terminating(TerminatingFacts),
    Unschedulable(UnschedulableFacts),
    Eviction(EvictionFacts),
    Job(JobFacts),
    Progress(ProgressFacts),
    /// A controller condition (ReplicaSet `ReplicaFailure`).
    Condition(ConditionFacts),
    Pvc(PvcFacts),
    /// Pod events: failed mounts, sandbox creation.
    PodEvents(PodEventFacts),
    NodePressure(NodePressureFacts),
    NodeNotReady(NodeNotReadyFacts),
}

/// A finding's evidence: the typed facts, and the same facts as a table (computed once, so
/// the two cannot disagree: the table is only ever made from the facts).
#[derive(Clone, Debug, PartialEq)]
pub struct Evidence {
    facts: Facts,
    table: Table,
}

impl From<Facts> for Evidence {
    fn from(facts: Facts) -> Evidence {
        let table = match serde_json::to_value(&facts) {
            Ok(Value::Object(map)) => map,
            _ => Table::new(),
        };
        Evidence { facts, table }
    }
}

impl Evidence {
    pub fn facts(&self) -> &Facts {
        &self.facts
    }

    pub fn table(&self) -> &Table {
        &self.table
    }

    pub fn get(&self, field: &str) -> Option<&Value> {
        self.table.get(field)
    }

    /// `(label, value)` rows for people (PR bodies, text output); see [`rows`].
    pub fn rows(&self) -> Vec<(String, String)> {
        rows(&self.table)
    }
}

/// `(label, value)` rows of an evidence table, in its order: strings as they are, other values
/// as compact JSON.
pub fn rows(table: &Table) -> Vec<(String, String)> {
    table
        .iter()
        .map(|(k, v)| {
            let value = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), value)
        })
        .collect()
}

impl std::ops::Index<&str> for Evidence {
    type Output = Value;

    /// The field's value; panics when the field is absent, like indexing a map.
    fn index(&self, field: &str) -> &Value {
        &self.table[field]
    }
}

impl Serialize for Evidence {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.table.serialize(s)
    }
}

impl Facts {
    /// The container's restart count, for the families that record it.
    pub fn restart_count(&self) -> Option<i32> {
        match self {
            Facts::Container(c) => Some(c.base.restart_count),
            Facts::Probe(p) => Some(p.base.restart_count),
            _ => None,
        }
    }

    /// The message the object states about the fault (the kubelet's waiting message, the
    /// condition message, the newest event's message), when there is one.
    pub fn message(&self) -> Option<&str> {
        let m = match self {
            Facts::Container(c) => c.message.as_deref(),
            Facts::Probe(p) => p.probe_message.as_deref(),
            Facts::Terminating(_) | Facts::NodePressure(_) => None,
            Facts::Unschedulable(u) => u.message.as_deref(),
            Facts::Eviction(e) => e.message.as_deref(),
            Facts::Job(j) => j.message.as_deref(),
            Facts::Progress(p) => p.message.as_deref(),
            Facts::Condition(c) => c.message.as_deref(),
            Facts::Pvc(p) => p.events.event_message.as_deref(),
            Facts::PodEvents(e) => e.events.event_message.as_deref(),
            Facts::NodeNotReady(n) => n.condition.as_ref().and_then(|c| c.message.as_deref()),
        };
        m.filter(|m| !m.is_empty())
    }

    /// The reason the object states (a termination or condition reason).
    pub fn reason(&self) -> Option<&str> {
        match self {
            Facts::Container(c) => c.reason.as_deref(),
            Facts::Probe(p) => p.reason.as_deref(),
            Facts::Job(j) => j.reason.as_deref(),
            Facts::Condition(c) => c.reason.as_deref(),
            _ => None,
        }
    }

    /// The container's exit code of the termination that [`Facts::reason`] comes from.
    pub fn exit_code(&self) -> Option<i32> {
        match self {
            Facts::Container(c) => c.exit_code,
            Facts::Probe(p) => p.exit_code,
            _ => None,
        }
    }
}

/// Name, image (spec first: the status may show a resolved digest) and restarts of a container.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ContainerBase {
    pub container: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    pub restart_count: i32,
}

/// One termination record (`state.terminated` or `lastState.terminated`).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Termination {
    pub exit_code: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub termination_message: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ContainerFacts {
    #[serde(flatten)]
    pub base: ContainerBase,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub termination_message: Option<String>,
    /// OOM kills: the container's memory request and limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_memory: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit_memory: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiting_reason: Option<String>,
    /// The waiting message of a container that cannot start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The waiting message of a crash-looping container.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiting_message: Option<String>,
    /// The newest `Failed to pull image` event (the registry's answer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pull_event_message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pull_error: Option<PullCause>,
    /// `CreateContainerConfigError`: the ConfigMap/Secret (and key) that is missing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing_kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing_namespace: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing_key: Option<String>,
    /// A container exiting with an error: the termination before the current one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_exit_code: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_reason: Option<String>,
}

impl ContainerFacts {
    pub fn terminated(base: ContainerBase, t: Termination) -> ContainerFacts {
        ContainerFacts {
            base,
            exit_code: Some(t.exit_code),
            reason: t.reason,
            signal: t.signal,
            started_at: t.started_at,
            finished_at: t.finished_at,
            termination_message: t.termination_message,
            ..ContainerFacts::default()
        }
    }
}

/// Pull causes as the evidence has always written them. `NotReported` is written `other`
/// (the JSON contract has no fourth value); the typed fact keeps the difference.
impl Serialize for PullCause {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(match self {
            PullCause::NotFound => "not-found",
            PullCause::Unauthorized => "unauthorized",
            PullCause::Other | PullCause::NotReported => "other",
        })
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ProbeFacts {
    #[serde(flatten)]
    pub base: ContainerBase,
    /// Readiness failures: the container runs but is not ready.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ready: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub running_since: Option<String>,
    pub unhealthy_events: i64,
    pub kill_events: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probe_message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<String>,
    /// Effective probe settings (Kubernetes defaults filled in).
    #[serde(flatten)]
    pub settings: Option<ProbeSettings>,
    /// `initialDelaySeconds + periodSeconds x failureThreshold` (kills only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub startup_window_seconds: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// The container's uptime at its last kill.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observed_start_seconds: Option<i64>,
    /// Liveness only: whether the kills happen within the startup window (`null` when the
    /// uptime or the window is unknown).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub during_startup: Option<Option<bool>>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ProbeSettings {
    pub initial_delay_seconds: i64,
    pub period_seconds: i64,
    pub failure_threshold: i64,
    pub timeout_seconds: i32,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct TerminatingFacts {
    pub deletion_timestamp: String,
    pub grace_period_seconds: i64,
    pub grace_period_source: String,
    pub terminating_for_seconds: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finalizers: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
}

/// A group of events: total count, newest message and when they were seen.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct EventSummary {
    pub event_reasons: Vec<String>,
    pub event_count: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct UnschedulableFacts {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nodes_available: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nodes_total: Option<u32>,
    /// The scheduler's reasons with their node counts, in message order.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "histogram")]
    pub reasons: Option<Vec<(String, u32)>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preemption: Option<String>,
    #[serde(flatten)]
    pub events: Option<EventSummary>,
}

fn histogram<S: Serializer>(reasons: &Option<Vec<(String, u32)>>, s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let reasons = reasons.as_deref().unwrap_or_default();
    let mut map = s.serialize_map(Some(reasons.len()))?;
    for (reason, count) in reasons {
        map.serialize_entry(reason, count)?;
    }
    map.end()
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct EvictionFacts {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// `node-pressure`, `node-condition`, `container-limit`, `pod-limit`, `emptydir-limit`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eviction_kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_condition: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub available: Option<String>,
    /// The first container the message names, with its usage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume: Option<String>,
    /// Every container the message names, when there are several.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub containers: Option<Vec<EvictedUsage>>,
    /// The spec's request and limit of the evicted resource, as `request_<r>`/`limit_<r>`.
    #[serde(flatten)]
    pub spec_resources: Option<ResourceValues>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct EvictedUsage {
    pub container: String,
    pub usage: Option<String>,
    pub request: Option<String>,
    pub limit: Option<String>,
}

/// A container's request and limit of one resource, written `request_<r>`, `limit_<r>` (`-`
/// in the resource name as `_`: `limit_ephemeral_storage`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ResourceValues {
    pub resource: String,
    pub request: Option<String>,
    pub limit: Option<String>,
}

impl Serialize for ResourceValues {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let key = self.resource.replace('-', "_");
        let mut map = s.serialize_map(None)?;
        if let Some(r) = &self.request {
            map.serialize_entry(&format!("request_{key}"), r)?;
        }
        if let Some(l) = &self.limit {
            map.serialize_entry(&format!("limit_{key}"), l)?;
        }
        map.end()
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct JobFacts {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    pub failed: i32,
    pub succeeded: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backoff_limit: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active_deadline_seconds: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    pub failing_pods: Vec<FailingPod>,
}

/// A non-zero container exit recorded by one of a Job's pods.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct FailingPod {
    pub pod: Option<String>,
    pub container: String,
    pub exit_code: i32,
    pub reason: Option<String>,
    pub finished_at: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ProgressFacts {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress_deadline_seconds: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// `{container: image}` of the Deployment's template, in spec order.
    pub images: Table,
    /// The newest ReplicaSet (`new_*`), or only its name from the condition message when it
    /// was not captured.
    #[serde(flatten)]
    pub new: Option<ReplicaSetFacts>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_replica_set: Option<String>,
    #[serde(flatten)]
    pub previous: Option<ReplicaSetFacts>,
}

/// One ReplicaSet of a Deployment, written with a prefix (`new_revision`, `previous_images`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReplicaSetFacts {
    /// `new` or `previous`.
    pub prefix: &'static str,
    pub replica_set: String,
    pub revision: i64,
    pub images: Table,
    /// `(replicas, available)` when the ReplicaSet has a status.
    pub replicas: Option<(i32, i32)>,
    pub pod_count: usize,
    pub pod_faults: Vec<Value>,
}

impl Serialize for ReplicaSetFacts {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let p = self.prefix;
        let mut map = s.serialize_map(None)?;
        map.serialize_entry(&format!("{p}_replica_set"), &self.replica_set)?;
        map.serialize_entry(&format!("{p}_revision"), &self.revision)?;
        map.serialize_entry(&format!("{p}_images"), &self.images)?;
        if let Some((replicas, available)) = self.replicas {
            map.serialize_entry(&format!("{p}_replicas"), &replicas)?;
            map.serialize_entry(&format!("{p}_available_replicas"), &available)?;
        }
        map.serialize_entry(&format!("{p}_pod_count"), &self.pod_count)?;
        map.serialize_entry(&format!("{p}_pod_faults"), &self.pod_faults)?;
        map.end()
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ConditionFacts {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_replicas: Option<i32>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct PvcFacts {
    pub phase: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage_class: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_storage: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_modes: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume_mode: Option<String>,
    #[serde(flatten)]
    pub events: EventSummary,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct PodEventFacts {
    #[serde(flatten)]
    pub events: EventSummary,
    /// Failed mounts: the volume the newest event names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// Sandbox failures: the pod's runtime class.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime_class: Option<String>,
}

/// A node condition as reported.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct NodeCondition {
    #[serde(rename = "type")]
    pub type_: String,
    pub status: String,
    pub reason: Option<String>,
    pub message: Option<String>,
    pub last_transition_time: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct NodePressureFacts {
    pub pressures: Vec<String>,
    pub conditions: Vec<NodeCondition>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct NodeNotReadyFacts {
    /// The Ready condition's status, or `missing` when the node never reported one.
    pub ready: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<NodeCondition>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unschedulable: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_follows_the_field_order_and_skips_what_was_not_stated() {
        let facts = Facts::Container(ContainerFacts {
            request_memory: Some("256Mi".into()),
            limit_memory: Some("512Mi".into()),
            ..ContainerFacts::terminated(
                ContainerBase {
                    container: "web".into(),
                    image: None,
                    restart_count: 5,
                },
                Termination {
                    exit_code: 137,
                    reason: Some("OOMKilled".into()),
                    ..Termination::default()
                },
            )
        });
        let ev = Evidence::from(facts);
        let keys: Vec<&str> = ev.table().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "container",
                "restart_count",
                "exit_code",
                "reason",
                "request_memory",
                "limit_memory"
            ]
        );
        assert_eq!(ev["exit_code"], 137);
        assert_eq!(
            ev.rows()[0..2],
            [
                ("container".to_string(), "web".to_string()),
                ("restart_count".to_string(), "5".to_string())
            ]
        );
        assert_eq!(ev.facts().restart_count(), Some(5));
    }

    #[test]
    fn prefixed_and_dynamic_keys_and_null_during_startup() {
        let rs = ReplicaSetFacts {
            prefix: "new",
            replica_set: "web-2".into(),
            revision: 2,
            replicas: Some((2, 0)),
            ..ReplicaSetFacts::default()
        };
        let ev = Evidence::from(Facts::Progress(ProgressFacts {
            new: Some(rs),
            ..ProgressFacts::default()
        }));
        assert_eq!(ev["new_replica_set"], "web-2");
        assert_eq!(ev["new_available_replicas"], 0);
        assert!(ev.get("previous_replica_set").is_none());
        let ev = Evidence::from(Facts::Eviction(EvictionFacts {
            spec_resources: Some(ResourceValues {
                resource: "ephemeral-storage".into(),
                request: None,
                limit: Some("1Gi".into()),
            }),
            ..EvictionFacts::default()
        }));
        assert_eq!(ev["limit_ephemeral_storage"], "1Gi");
        assert!(ev.get("request_ephemeral_storage").is_none());
        let ev = Evidence::from(Facts::Probe(ProbeFacts {
            during_startup: Some(None),
            ..ProbeFacts::default()
        }));
        assert_eq!(ev["during_startup"], Value::Null);
        let ev = Evidence::from(Facts::Probe(ProbeFacts::default()));
        assert!(ev.get("during_startup").is_none());
    }

    #[test]
    fn a_pull_without_a_reported_cause_is_written_other() {
        let ev = Evidence::from(Facts::Container(ContainerFacts {
            pull_error: Some(PullCause::NotReported),
            ..ContainerFacts::default()
        }));
        assert_eq!(ev["pull_error"], "other");
        assert!(matches!(
            ev.facts(),
            Facts::Container(ContainerFacts {
                pull_error: Some(PullCause::NotReported),
                ..
            })
        ));
    }
}
