//! The kind registry: every resource the simulated apiserver serves, with what discovery
//! reports (group, version, kind, plural, scope, short names) and how objects are checked.
//!
//! Extension point: `Registry::add` registers further kinds (e.g. CRDs a later simulator needs)
//! before the server starts; resources are addressed by `ResId` (index, append-only).

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{
    Event, LimitRange, Namespace, Node, PersistentVolumeClaim, Pod, ResourceQuota,
};
use k8s_openapi::api::events::v1::Event as EventV1;

use super::convert;

/// Decodes an object through its real wire type and re-encodes it; the result shows which
/// fields the type knows (unknown fields are dropped by the decode).
pub type TypedCheck = fn(&Value) -> Result<Value, String>;

/// Converts between a view's shape and the shape its storage resource keeps.
pub type Convert = fn(Value) -> Value;

/// Index of a resource in the registry.
pub type ResId = usize;

/// A resource served under another resource's storage (events.k8s.io/v1 Events are core/v1
/// Events underneath, as in the real apiserver).
#[derive(Clone, Debug)]
pub struct View {
    pub storage_group: String,
    pub storage_plural: String,
    pub to_storage: Convert,
    pub from_storage: Convert,
}

#[derive(Clone, Debug)]
pub struct ResourceType {
    /// `""` for the core group.
    pub group: String,
    pub version: String,
    pub kind: String,
    pub plural: String,
    pub singular: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    /// Serves `/status`; writes to the main resource keep the stored status.
    pub status_subresource: bool,
    /// Maintains `metadata.generation`, bumped when anything outside metadata/status changes.
    pub generation: bool,
    /// Typed kinds are decoded through k8s-openapi; `None` for custom resources.
    pub typed: Option<TypedCheck>,
    /// Field selectors beyond `metadata.name`/`metadata.namespace`: (field, dotted JSON path).
    pub field_selectors: Vec<(String, String)>,
    pub view: Option<View>,
}

impl ResourceType {
    fn new(group: &str, version: &str, kind: &str, plural: &str, namespaced: bool) -> Self {
        ResourceType {
            group: group.into(),
            version: version.into(),
            kind: kind.into(),
            plural: plural.into(),
            singular: kind.to_ascii_lowercase(),
            namespaced,
            short_names: Vec::new(),
            categories: Vec::new(),
            status_subresource: false,
            generation: false,
            typed: None,
            field_selectors: Vec::new(),
            view: None,
        }
    }

    fn short(mut self, names: &[&str]) -> Self {
        self.short_names = names.iter().map(|s| s.to_string()).collect();
        self
    }

    fn all(mut self) -> Self {
        self.categories = vec!["all".into()];
        self
    }

    fn status(mut self) -> Self {
        self.status_subresource = true;
        self
    }

    fn generational(mut self) -> Self {
        self.generation = true;
        self
    }

    fn typed<T: DeserializeOwned + Serialize>(mut self) -> Self {
        self.typed = Some(roundtrip::<T>);
        self
    }

    fn fields(mut self, fields: &[(&str, &str)]) -> Self {
        self.field_selectors = fields
            .iter()
            .map(|(f, p)| (f.to_string(), p.to_string()))
            .collect();
        self
    }

    /// A custom resource (no typed decode, generation always maintained, as for CRDs).
    pub fn custom(group: &str, version: &str, kind: &str, plural: &str, namespaced: bool) -> Self {
        ResourceType::new(group, version, kind, plural, namespaced).generational()
    }

    /// `v1` or `apps/v1`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `pods` or `deployments.apps`, as in the real server's messages.
    pub fn group_resource(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    pub fn list_kind(&self) -> String {
        format!("{}List", self.kind)
    }

    /// The URL path of the collection (`namespace` ignored for cluster-scoped kinds).
    pub fn collection_path(&self, namespace: Option<&str>) -> String {
        let root = if self.group.is_empty() {
            format!("/api/{}", self.version)
        } else {
            format!("/apis/{}/{}", self.group, self.version)
        };
        match namespace {
            Some(ns) if self.namespaced => format!("{root}/namespaces/{ns}/{}", self.plural),
            _ => format!("{root}/{}", self.plural),
        }
    }
}

fn roundtrip<T: DeserializeOwned + Serialize>(v: &Value) -> Result<Value, String> {
    let typed: T = serde_json::from_value(v.clone()).map_err(|e| e.to_string())?;
    serde_json::to_value(&typed).map_err(|e| e.to_string())
}

/// All kinds the server serves.
#[derive(Clone, Debug)]
pub struct Registry {
    types: Vec<ResourceType>,
}

impl Default for Registry {
    fn default() -> Self {
        Registry::standard()
    }
}

impl Registry {
    pub fn empty() -> Self {
        Registry { types: Vec::new() }
    }

    /// The kinds suture reads and patches (issue scope), plus the Argo kinds as custom resources.
    pub fn standard() -> Self {
        let pod_fields: &[(&str, &str)] = &[
            ("spec.nodeName", "spec.nodeName"),
            ("spec.restartPolicy", "spec.restartPolicy"),
            ("spec.schedulerName", "spec.schedulerName"),
            ("spec.serviceAccountName", "spec.serviceAccountName"),
            ("status.phase", "status.phase"),
            ("status.podIP", "status.podIP"),
            ("status.nominatedNodeName", "status.nominatedNodeName"),
        ];
        let event_fields: &[(&str, &str)] = &[
            ("involvedObject.kind", "involvedObject.kind"),
            ("involvedObject.namespace", "involvedObject.namespace"),
            ("involvedObject.name", "involvedObject.name"),
            ("involvedObject.uid", "involvedObject.uid"),
            ("involvedObject.apiVersion", "involvedObject.apiVersion"),
            (
                "involvedObject.resourceVersion",
                "involvedObject.resourceVersion",
            ),
            ("involvedObject.fieldPath", "involvedObject.fieldPath"),
            ("reason", "reason"),
            ("reportingComponent", "reportingComponent"),
            ("source", "source.component"),
            ("type", "type"),
        ];
        let event_v1_fields: &[(&str, &str)] = &[
            ("regarding.kind", "regarding.kind"),
            ("regarding.namespace", "regarding.namespace"),
            ("regarding.name", "regarding.name"),
            ("regarding.uid", "regarding.uid"),
            ("regarding.apiVersion", "regarding.apiVersion"),
            ("regarding.resourceVersion", "regarding.resourceVersion"),
            ("regarding.fieldPath", "regarding.fieldPath"),
            ("reason", "reason"),
            ("reportingController", "reportingController"),
            ("type", "type"),
        ];
        let mut events_v1 = ResourceType::new("events.k8s.io", "v1", "Event", "events", true)
            .short(&["ev"])
            .typed::<EventV1>()
            .fields(event_v1_fields);
        events_v1.view = Some(View {
            storage_group: String::new(),
            storage_plural: "events".into(),
            to_storage: convert::event_v1_to_core,
            from_storage: convert::event_core_to_v1,
        });
        let types = vec![
            ResourceType::new("", "v1", "Pod", "pods", true)
                .short(&["po"])
                .all()
                .status()
                .generational()
                .typed::<Pod>()
                .fields(pod_fields),
            ResourceType::new("", "v1", "Event", "events", true)
                .short(&["ev"])
                .typed::<Event>()
                .fields(event_fields),
            ResourceType::new("", "v1", "Node", "nodes", false)
                .short(&["no"])
                .status()
                .typed::<Node>()
                .fields(&[("spec.unschedulable", "spec.unschedulable")]),
            ResourceType::new("", "v1", "Namespace", "namespaces", false)
                .short(&["ns"])
                .status()
                .typed::<Namespace>()
                .fields(&[("status.phase", "status.phase")]),
            ResourceType::new(
                "",
                "v1",
                "PersistentVolumeClaim",
                "persistentvolumeclaims",
                true,
            )
            .short(&["pvc"])
            .status()
            .typed::<PersistentVolumeClaim>(),
            ResourceType::new("", "v1", "LimitRange", "limitranges", true)
                .short(&["limits"])
                .typed::<LimitRange>(),
            ResourceType::new("", "v1", "ResourceQuota", "resourcequotas", true)
                .short(&["quota"])
                .status()
                .typed::<ResourceQuota>(),
            events_v1,
            ResourceType::new("apps", "v1", "Deployment", "deployments", true)
                .short(&["deploy"])
                .all()
                .status()
                .generational()
                .typed::<Deployment>(),
            ResourceType::new("apps", "v1", "ReplicaSet", "replicasets", true)
                .short(&["rs"])
                .all()
                .status()
                .generational()
                .typed::<ReplicaSet>()
                .fields(&[("status.replicas", "status.replicas")]),
            ResourceType::new("apps", "v1", "StatefulSet", "statefulsets", true)
                .short(&["sts"])
                .all()
                .status()
                .generational()
                .typed::<StatefulSet>(),
            ResourceType::new("apps", "v1", "DaemonSet", "daemonsets", true)
                .short(&["ds"])
                .all()
                .status()
                .generational()
                .typed::<DaemonSet>(),
            ResourceType::new("batch", "v1", "Job", "jobs", true)
                .all()
                .status()
                .generational()
                .typed::<Job>()
                .fields(&[("status.successful", "status.succeeded")]),
            ResourceType::new("batch", "v1", "CronJob", "cronjobs", true)
                .short(&["cj"])
                .all()
                .status()
                .generational()
                .typed::<CronJob>(),
            ResourceType::new("coordination.k8s.io", "v1", "Lease", "leases", true)
                .typed::<Lease>(),
            ResourceType::custom(
                "argoproj.io",
                "v1alpha1",
                "Application",
                "applications",
                true,
            )
            .short(&["app", "apps"]),
            ResourceType::custom(
                "argoproj.io",
                "v1alpha1",
                "ApplicationSet",
                "applicationsets",
                true,
            )
            .short(&["appset", "appsets"]),
            ResourceType::custom("argoproj.io", "v1alpha1", "AppProject", "appprojects", true)
                .short(&["appproj", "appprojs"]),
            ResourceType::custom("argoproj.io", "v1alpha1", "Rollout", "rollouts", true)
                .short(&["ro"])
                .status(),
        ];
        Registry { types }
    }

    /// Registers a further kind; returns its id.
    pub fn add(&mut self, rt: ResourceType) -> ResId {
        self.types.push(rt);
        self.types.len() - 1
    }

    pub fn get(&self, id: ResId) -> Option<&ResourceType> {
        self.types.get(id)
    }

    pub fn iter(&self) -> impl Iterator<Item = (ResId, &ResourceType)> {
        self.types.iter().enumerate()
    }

    /// By URL coordinates: group (`""` for core), version, plural.
    pub fn find(&self, group: &str, version: &str, plural: &str) -> Option<ResId> {
        self.types
            .iter()
            .position(|t| t.group == group && t.version == version && t.plural == plural)
    }

    /// By `apiVersion` and `kind`, e.g. (`apps/v1`, `Deployment`).
    pub fn by_kind(&self, api_version: &str, kind: &str) -> Option<ResId> {
        self.types
            .iter()
            .position(|t| t.api_version() == api_version && t.kind == kind)
    }

    /// The resource whose storage holds `id`'s objects (itself unless it is a view).
    pub fn storage_of(&self, id: ResId) -> ResId {
        self.types
            .get(id)
            .and_then(|t| t.view.as_ref())
            .and_then(|v| {
                self.types
                    .iter()
                    .position(|t| t.group == v.storage_group && t.plural == v.storage_plural)
            })
            .unwrap_or(id)
    }

    /// Groups in registration order with their versions (core `""` included).
    pub fn groups(&self) -> Vec<(String, Vec<String>)> {
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        for t in &self.types {
            match out.iter_mut().find(|(g, _)| *g == t.group) {
                Some((_, versions)) => {
                    if !versions.contains(&t.version) {
                        versions.push(t.version.clone());
                    }
                }
                None => out.push((t.group.clone(), vec![t.version.clone()])),
            }
        }
        out
    }
}
