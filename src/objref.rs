//! Object identity: one reference type for every object suture talks about (detection subjects
//! and owners, Argo CD lookups, proposal targets), and the workload kinds it can edit.

use serde::{Serialize, Serializer};

/// The workload kinds suture edits. Their API group and kind strings live here and only here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WorkloadKind {
    Deployment,
    StatefulSet,
    DaemonSet,
    ReplicaSet,
    Job,
    CronJob,
    /// argoproj.io Rollout (Argo Rollouts).
    Rollout,
    Pod,
}

impl WorkloadKind {
    pub const ALL: [WorkloadKind; 8] = [
        WorkloadKind::Deployment,
        WorkloadKind::StatefulSet,
        WorkloadKind::DaemonSet,
        WorkloadKind::ReplicaSet,
        WorkloadKind::Job,
        WorkloadKind::CronJob,
        WorkloadKind::Rollout,
        WorkloadKind::Pod,
    ];

    pub fn kind(self) -> &'static str {
        match self {
            WorkloadKind::Deployment => "Deployment",
            WorkloadKind::StatefulSet => "StatefulSet",
            WorkloadKind::DaemonSet => "DaemonSet",
            WorkloadKind::ReplicaSet => "ReplicaSet",
            WorkloadKind::Job => "Job",
            WorkloadKind::CronJob => "CronJob",
            WorkloadKind::Rollout => "Rollout",
            WorkloadKind::Pod => "Pod",
        }
    }

    /// The API group (`""` for the core group).
    pub fn group(self) -> &'static str {
        match self {
            WorkloadKind::Deployment
            | WorkloadKind::StatefulSet
            | WorkloadKind::DaemonSet
            | WorkloadKind::ReplicaSet => "apps",
            WorkloadKind::Job | WorkloadKind::CronJob => "batch",
            WorkloadKind::Rollout => "argoproj.io",
            WorkloadKind::Pod => "",
        }
    }

    /// The workload kind named `kind`, when it is one. Only the kind string: callers holding an
    /// apiVersion use [`WorkloadKind::from_api`] so another CRD called `Rollout` is not taken.
    pub fn from_kind(kind: &str) -> Option<WorkloadKind> {
        WorkloadKind::ALL.into_iter().find(|k| k.kind() == kind)
    }

    /// The workload kind of `apiVersion` + `kind`. Only `Rollout` is checked against its group
    /// (another CRD may be called `Rollout`); the built-in kinds are taken by kind, so legacy
    /// groups (`extensions/v1beta1` ReplicaSets of old clusters) still resolve. An empty
    /// apiVersion is not held against a kind.
    pub fn from_api(api_version: &str, kind: &str) -> Option<WorkloadKind> {
        let k = WorkloadKind::from_kind(kind)?;
        let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
        match k {
            WorkloadKind::Rollout => (api_version.is_empty() || group == k.group()).then_some(k),
            _ => Some(k),
        }
    }

    /// Path from the object root to its pod spec, dotted (`spec.template.spec`).
    pub fn pod_spec_path(self) -> &'static str {
        match self {
            WorkloadKind::Pod => "spec",
            WorkloadKind::CronJob => "spec.jobTemplate.spec.template.spec",
            _ => "spec.template.spec",
        }
    }

    /// [`WorkloadKind::pod_spec_path`] as keys, for walking a manifest.
    pub fn pod_spec_keys(self) -> &'static [&'static str] {
        match self {
            WorkloadKind::Pod => &["spec"],
            WorkloadKind::CronJob => &["spec", "jobTemplate", "spec", "template", "spec"],
            _ => &["spec", "template", "spec"],
        }
    }

    /// Kinds whose revision history suture reads (ReplicaSets with a revision annotation).
    pub fn revision_annotation(self) -> Option<&'static str> {
        match self {
            WorkloadKind::Deployment => Some("deployment.kubernetes.io/revision"),
            WorkloadKind::Rollout => Some("rollout.argoproj.io/revision"),
            _ => None,
        }
    }
}

impl std::fmt::Display for WorkloadKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.kind())
    }
}

/// A reference to one Kubernetes object. `namespace` is empty for cluster-scoped objects;
/// `uid` is set where the source states it (ownerReferences, live metadata).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct ObjectRef {
    /// API group, `""` for the core group.
    pub group: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub uid: Option<String>,
}

impl ObjectRef {
    pub fn new(
        group: impl Into<String>,
        kind: impl Into<String>,
        namespace: impl Into<String>,
        name: impl Into<String>,
    ) -> ObjectRef {
        ObjectRef {
            group: group.into(),
            kind: kind.into(),
            namespace: namespace.into(),
            name: name.into(),
            uid: None,
        }
    }

    /// A workload of a known kind (group filled in).
    pub fn workload(kind: WorkloadKind, namespace: &str, name: &str) -> ObjectRef {
        ObjectRef::new(kind.group(), kind.kind(), namespace, name)
    }

    /// An object known by kind only: a workload kind gets its group, any other kind the core
    /// group (the non-workload objects suture reads, Nodes and PVCs, are core).
    pub fn of_kind(kind: &str, namespace: &str, name: &str) -> ObjectRef {
        let group = WorkloadKind::from_kind(kind).map_or("", |k| k.group());
        ObjectRef::new(group, kind, namespace, name)
    }

    /// The object an ownerReference-style `apiVersion`/`kind` names. A workload kind gets its
    /// canonical group (a legacy `extensions` ReplicaSet is the `apps` one).
    pub fn from_api(api_version: &str, kind: &str, namespace: &str, name: &str) -> ObjectRef {
        match WorkloadKind::from_api(api_version, kind) {
            Some(k) => ObjectRef::workload(k, namespace, name),
            None => {
                let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
                ObjectRef::new(group, kind, namespace, name)
            }
        }
    }

    pub fn with_uid(mut self, uid: Option<String>) -> ObjectRef {
        self.uid = uid;
        self
    }

    /// The workload kind, when this object is one suture can edit (group checked).
    pub fn workload_kind(&self) -> Option<WorkloadKind> {
        WorkloadKind::from_kind(&self.kind).filter(|k| k.group() == self.group)
    }

    /// True when both name the same object (the uid is compared only when both know it).
    pub fn same_object(&self, other: &ObjectRef) -> bool {
        self.group == other.group
            && self.kind == other.kind
            && self.namespace == other.namespace
            && self.name == other.name
            && match (&self.uid, &other.uid) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
    }
}

/// `Kind ns/name` (`Kind name` when cluster-scoped), for messages.
impl std::fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.namespace.is_empty() {
            true => write!(f, "{} {}", self.kind, self.name),
            false => write!(f, "{} {}/{}", self.kind, self.namespace, self.name),
        }
    }
}

/// The `{kind, name}` shape the plan JSON uses for finding owners and subjects (the namespace
/// is the finding's own field there).
pub fn serialize_kind_name<S: Serializer>(r: &ObjectRef, s: S) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct KindName<'a> {
        kind: &'a str,
        name: &'a str,
    }
    KindName {
        kind: &r.kind,
        name: &r.name,
    }
    .serialize(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_their_strings() {
        for k in WorkloadKind::ALL {
            assert_eq!(WorkloadKind::from_kind(k.kind()), Some(k));
            let api = match k.group() {
                "" => "v1".to_string(),
                g => format!("{g}/v1"),
            };
            assert_eq!(WorkloadKind::from_api(&api, k.kind()), Some(k));
            assert_eq!(ObjectRef::workload(k, "ns", "n").workload_kind(), Some(k));
        }
        assert_eq!(WorkloadKind::from_kind("Service"), None);
    }

    #[test]
    fn pod_spec_keys_spell_the_pod_spec_path() {
        for k in WorkloadKind::ALL {
            assert_eq!(k.pod_spec_keys().join("."), k.pod_spec_path(), "{k}");
        }
    }

    #[test]
    fn a_rollout_of_another_group_is_not_a_workload() {
        assert_eq!(
            WorkloadKind::from_api("example.com/v1", "Rollout"),
            None,
            "another CRD called Rollout"
        );
        assert_eq!(
            WorkloadKind::from_api("", "Rollout"),
            Some(WorkloadKind::Rollout)
        );
        let other = ObjectRef::from_api("example.com/v1", "Rollout", "a", "r");
        assert_eq!(other.workload_kind(), None);
        assert_eq!(other.group, "example.com");
        let legacy = ObjectRef::from_api("extensions/v1beta1", "ReplicaSet", "a", "rs");
        assert_eq!(legacy.group, "apps");
        assert_eq!(legacy.workload_kind(), Some(WorkloadKind::ReplicaSet));
    }

    #[test]
    fn display_and_json_shape() {
        let d = ObjectRef::workload(WorkloadKind::Deployment, "shop", "web");
        assert_eq!(d.to_string(), "Deployment shop/web");
        assert_eq!(ObjectRef::new("", "Node", "", "n1").to_string(), "Node n1");
        let json = serialize_kind_name(&d, serde_json::value::Serializer).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"kind": "Deployment", "name": "web"})
        );
    }

    #[test]
    fn uid_is_compared_only_when_both_know_it() {
        let a = ObjectRef::workload(WorkloadKind::Job, "a", "j");
        let b = a.clone().with_uid(Some("u1".into()));
        assert!(a.same_object(&b));
        assert!(!b.same_object(&a.clone().with_uid(Some("u2".into()))));
    }
}
