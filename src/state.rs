//! The cluster snapshot suture reasons over, and loading it from `kubectl get -o yaml|json` files.

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{LimitRange, Node, PersistentVolumeClaim, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};

use crate::gitops::argocd::{Application, ApplicationSet};

/// An Argo Rollout (argoproj.io/v1alpha1). Only metadata and the raw spec are kept: suture
/// reads its pod template like a Deployment's.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct Rollout {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: serde_json::Value,
    #[serde(default)]
    pub status: serde_json::Value,
}

/// A Kubernetes Event, normalized from core/v1 `Event` or events.k8s.io/v1 `Event`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ObservedEvent {
    pub namespace: String,
    /// The object the event is about (`involvedObject` / `regarding`).
    pub object_kind: String,
    pub object_name: String,
    pub object_uid: Option<String>,
    /// `involvedObject.fieldPath`, e.g. `spec.containers{web}`.
    pub field_path: Option<String>,
    pub reason: String,
    /// `message` (core/v1) or `note` (events.k8s.io/v1).
    pub message: String,
    /// `Normal` or `Warning`.
    pub type_: String,
    /// `count` (core/v1) or `series.count` (events.k8s.io/v1); 1 when absent.
    pub count: i32,
    pub first_seen: Option<jiff::Timestamp>,
    pub last_seen: Option<jiff::Timestamp>,
}

/// Everything suture reads from a cluster, as plain data.
#[derive(Clone, Debug, Default)]
pub struct ClusterState {
    pub pods: Vec<Pod>,
    pub replica_sets: Vec<ReplicaSet>,
    pub deployments: Vec<Deployment>,
    pub stateful_sets: Vec<StatefulSet>,
    pub daemon_sets: Vec<DaemonSet>,
    pub jobs: Vec<Job>,
    pub cron_jobs: Vec<CronJob>,
    pub events: Vec<ObservedEvent>,
    pub nodes: Vec<Node>,
    pub pvcs: Vec<PersistentVolumeClaim>,
    pub limit_ranges: Vec<LimitRange>,
    pub applications: Vec<Application>,
    pub application_sets: Vec<ApplicationSet>,
    pub rollouts: Vec<Rollout>,
}

/// A problem with one input file or object. Files that cannot be read are errors; single
/// objects that cannot be decoded are reported and skipped so the rest of the plan still runs.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StateError {
    #[error("{file}: {reason}")]
    Unreadable { file: String, reason: String },
}

/// Parse a text of Kubernetes objects: JSON, or YAML with any number of `---` documents.
/// `kind: List` documents are flattened into their items.
pub fn parse_objects(text: &str) -> Result<Vec<serde_json::Value>, String> {
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    let docs: Vec<serde_json::Value> = if trimmed.starts_with('{') || trimmed.starts_with('[') {
        serde_json::from_str::<serde_json::Value>(trimmed)
            .map(|v| match v {
                serde_json::Value::Array(items) => items,
                other => vec![other],
            })
            .map_err(|e| format!("invalid JSON: {e}"))?
    } else {
        // kubectl (sigs.k8s.io/yaml) keeps the last of duplicate keys; so do we.
        let options = serde_saphyr::options! {
            duplicate_keys: serde_saphyr::DuplicateKeyPolicy::LastWins,
            budget: Some(budget_for(text.len())),
        };
        serde_saphyr::from_multiple_with_options::<serde_json::Value>(text, options)
            .map_err(|e| format!("invalid YAML: {e}"))?
    };
    let mut out = Vec::new();
    for doc in docs {
        flatten_lists(doc, &mut out);
    }
    Ok(out)
}

/// A whole-cluster dump is one large document (50,000 pods is hundreds of MiB), far above
/// the parser's defaults for config files. Limits that grow with the input keep parsing
/// linear; alias and anchor caps stay at their defaults, so YAML bombs are still refused.
fn budget_for(len: usize) -> serde_saphyr::Budget {
    let mut b = serde_saphyr::Budget::default();
    b.max_reader_input_bytes = Some(len.max(2 << 30));
    b.max_events = b.max_events.max(len);
    b.max_nodes = b.max_nodes.max(len);
    b.max_documents = b.max_documents.max(len / 16);
    b.max_total_scalar_bytes = b.max_total_scalar_bytes.max(len);
    b
}

fn flatten_lists(doc: serde_json::Value, out: &mut Vec<serde_json::Value>) {
    let is_list = doc
        .get("kind")
        .and_then(|k| k.as_str())
        .is_some_and(|k| k == "List" || k.ends_with("List"));
    match doc {
        serde_json::Value::Object(mut map) if is_list => {
            if let Some(serde_json::Value::Array(items)) = map.remove("items") {
                for item in items {
                    flatten_lists(item, out);
                }
            }
        }
        serde_json::Value::Null => {}
        other => out.push(other),
    }
}

impl ClusterState {
    /// Add one decoded object by its `apiVersion` and `kind`. Unknown kinds are ignored
    /// (`Ok(false)`); an object of a known kind that does not decode is an error naming it.
    pub fn add_object(&mut self, obj: serde_json::Value) -> Result<bool, String> {
        let kind = obj
            .get("kind")
            .and_then(|k| k.as_str())
            .unwrap_or_default()
            .to_string();
        let api = obj
            .get("apiVersion")
            .and_then(|k| k.as_str())
            .unwrap_or_default()
            .to_string();
        let group = api.rsplit_once('/').map(|(g, _)| g).unwrap_or("");
        let name = obj
            .pointer("/metadata/name")
            .and_then(|n| n.as_str())
            .unwrap_or("<unnamed>")
            .to_string();
        fn decode<T: serde::de::DeserializeOwned>(obj: serde_json::Value) -> Result<T, String> {
            serde_json::from_value(obj).map_err(|e| e.to_string())
        }
        let result = match (group, kind.as_str()) {
            ("", "Pod") => decode(obj).map(|o| self.pods.push(o)),
            ("apps", "ReplicaSet") => decode(obj).map(|o| self.replica_sets.push(o)),
            ("apps", "Deployment") => decode(obj).map(|o| self.deployments.push(o)),
            ("apps", "StatefulSet") => decode(obj).map(|o| self.stateful_sets.push(o)),
            ("apps", "DaemonSet") => decode(obj).map(|o| self.daemon_sets.push(o)),
            ("batch", "Job") => decode(obj).map(|o| self.jobs.push(o)),
            ("batch", "CronJob") => decode(obj).map(|o| self.cron_jobs.push(o)),
            ("", "Node") => decode(obj).map(|o| self.nodes.push(o)),
            ("", "PersistentVolumeClaim") => decode(obj).map(|o| self.pvcs.push(o)),
            ("", "LimitRange") => decode(obj).map(|o| self.limit_ranges.push(o)),
            ("", "Event") | ("events.k8s.io", "Event") => {
                self.events.push(ObservedEvent::from_json(&obj));
                Ok(())
            }
            ("argoproj.io", "Application") => decode(obj).map(|o| self.applications.push(o)),
            ("argoproj.io", "ApplicationSet") => decode(obj).map(|o| self.application_sets.push(o)),
            ("argoproj.io", "Rollout") => decode(obj).map(|o| self.rollouts.push(o)),
            _ => return Ok(false),
        };
        result
            .map(|()| true)
            .map_err(|e| format!("{kind} {name}: cannot decode: {e}"))
    }

    /// Parse `text` (from `file`, for messages) and add every object in it. Returns the
    /// problems with single objects; a text that is not YAML/JSON at all is an error.
    pub fn add_text(&mut self, file: &str, text: &str) -> Result<Vec<String>, StateError> {
        let objects = parse_objects(text).map_err(|reason| StateError::Unreadable {
            file: file.to_string(),
            reason,
        })?;
        let mut problems = Vec::new();
        for obj in objects {
            if let Err(e) = self.add_object(obj) {
                problems.push(format!("{file}: {e}"));
            }
        }
        Ok(problems)
    }

    /// Build a state from one text; for tests and fixtures. Errors on any problem.
    pub fn from_text(text: &str) -> Result<ClusterState, String> {
        let mut state = ClusterState::default();
        let problems = state.add_text("<text>", text).map_err(|e| e.to_string())?;
        match problems.is_empty() {
            true => Ok(state),
            false => Err(problems.join("; ")),
        }
    }
}

impl ObservedEvent {
    /// Normalize a core/v1 or events.k8s.io/v1 Event given as JSON.
    pub fn from_json(obj: &serde_json::Value) -> ObservedEvent {
        let s = |p: &str| obj.pointer(p).and_then(|v| v.as_str()).map(str::to_string);
        let ts = |p: &str| s(p).and_then(|t| t.parse::<jiff::Timestamp>().ok());
        let core = obj.get("involvedObject").is_some();
        let (obj_ptr, message) = if core {
            ("/involvedObject", s("/message"))
        } else {
            ("/regarding", s("/note").or_else(|| s("/message")))
        };
        let count = obj
            .pointer("/count")
            .or_else(|| obj.pointer("/series/count"))
            .or_else(|| obj.pointer("/deprecatedCount"))
            .and_then(|c| c.as_i64())
            .and_then(|c| i32::try_from(c).ok())
            .unwrap_or(1);
        let first_seen = ts("/firstTimestamp")
            .or_else(|| ts("/deprecatedFirstTimestamp"))
            .or_else(|| ts("/eventTime"));
        let last_seen = ts("/lastTimestamp")
            .or_else(|| ts("/series/lastObservedTime"))
            .or_else(|| ts("/deprecatedLastTimestamp"))
            .or_else(|| ts("/eventTime"))
            .or(first_seen);
        ObservedEvent {
            namespace: s(&format!("{obj_ptr}/namespace"))
                .or_else(|| s("/metadata/namespace"))
                .unwrap_or_default(),
            object_kind: s(&format!("{obj_ptr}/kind")).unwrap_or_default(),
            object_name: s(&format!("{obj_ptr}/name")).unwrap_or_default(),
            object_uid: s(&format!("{obj_ptr}/uid")),
            field_path: s(&format!("{obj_ptr}/fieldPath")),
            reason: s("/reason").unwrap_or_default(),
            message: message.unwrap_or_default(),
            type_: s("/type").unwrap_or_default(),
            count,
            first_seen,
            last_seen,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_document_yaml_and_lists_are_flattened() {
        let text = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: a}\n- apiVersion: v1\n  kind: Node\n  metadata: {name: n1}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n---\napiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n";
        let state = ClusterState::from_text(text).unwrap();
        assert_eq!(state.pods.len(), 1);
        assert_eq!(state.nodes.len(), 1);
        assert_eq!(state.deployments.len(), 1);
    }

    #[test]
    fn a_cluster_sized_dump_parses_but_an_alias_bomb_does_not() {
        let mut big = String::from("apiVersion: v1\nkind: List\nitems:\n");
        for i in 0..25_000 {
            big.push_str(&format!("- {{apiVersion: v1, kind: Node, metadata: {{name: n{i}, labels: {{a: b, c: d}}}}}}\n"));
        }
        assert_eq!(ClusterState::from_text(&big).unwrap().nodes.len(), 25_000);

        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for (prev, name) in ["a", "b", "c", "d", "e", "f", "g", "h"]
            .windows(2)
            .map(|w| (w[0], w[1]))
        {
            let refs = vec![format!("*{prev}"); 10].join(", ");
            bomb.push_str(&format!("{name}: &{name} [{refs}]\n"));
        }
        assert!(
            parse_objects(&bomb).is_err(),
            "10^8 expanded nodes must be refused"
        );
    }

    #[test]
    fn json_list_is_read() {
        let text = r#"{"apiVersion":"v1","kind":"PodList","items":[{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"}}]}"#;
        let state = ClusterState::from_text(text).unwrap();
        assert_eq!(state.pods[0].metadata.name.as_deref(), Some("p"));
    }

    #[test]
    fn malformed_text_names_the_file() {
        let mut state = ClusterState::default();
        let err = state.add_text("pods.yaml", "kind: [unclosed").unwrap_err();
        assert!(
            err.to_string().starts_with("pods.yaml: invalid YAML"),
            "{err}"
        );
    }

    #[test]
    fn undecodable_object_is_reported_and_others_kept() {
        let text = "apiVersion: v1\nkind: Pod\nmetadata: {name: bad}\nspec: {containers: 3}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: good}\n";
        let mut state = ClusterState::default();
        let problems = state.add_text("f.yaml", text).unwrap();
        assert_eq!(state.pods.len(), 1);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].contains("Pod bad"), "{}", problems[0]);
    }

    #[test]
    fn both_event_apis_normalize() {
        let core = serde_json::json!({"apiVersion":"v1","kind":"Event","metadata":{"namespace":"shop"},
            "involvedObject":{"kind":"Pod","name":"web-1","fieldPath":"spec.containers{web}"},
            "reason":"Unhealthy","message":"Liveness probe failed: HTTP probe failed with statuscode: 500",
            "type":"Warning","count":7,"lastTimestamp":"2026-01-01T00:00:00Z"});
        let new = serde_json::json!({"apiVersion":"events.k8s.io/v1","kind":"Event","metadata":{"namespace":"shop"},
            "regarding":{"kind":"Pod","name":"web-1","namespace":"shop"},"reason":"FailedMount",
            "note":"MountVolume.SetUp failed","type":"Warning","series":{"count":3,"lastObservedTime":"2026-01-01T00:00:00Z"},
            "eventTime":"2025-12-31T23:00:00Z"});
        let a = ObservedEvent::from_json(&core);
        let b = ObservedEvent::from_json(&new);
        assert_eq!(
            (a.count, a.field_path.as_deref()),
            (7, Some("spec.containers{web}"))
        );
        assert_eq!(
            (b.count, b.message.as_str(), b.namespace.as_str()),
            (3, "MountVolume.SetUp failed", "shop")
        );
        assert!(b.first_seen < b.last_seen);
    }
}

#[cfg(test)]
mod fixture_tests {
    use super::*;

    /// Every real object captured by Argo CD's health tests decodes into the wire types.
    #[test]
    fn argo_health_testdata_decodes() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/kubernetes/argo-health-testdata"
        );
        let mut state = ClusterState::default();
        let mut files = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let problems = state.add_text(&path.display().to_string(), &text).unwrap();
            assert!(problems.is_empty(), "{problems:?}");
            files += 1;
        }
        assert!(files > 20);
        assert!(state.pods.len() >= 10, "{}", state.pods.len());
        assert!(!state.jobs.is_empty() && !state.pvcs.is_empty() && !state.applications.is_empty());
    }
}
