//! Reading a workload's pod template: the object a fix changes, found by kind and name.

use k8s_openapi::api::core::v1::{Container, PodSpec};

use crate::objref::{ObjectRef, WorkloadKind};
use crate::state::ClusterState;

/// The pod template spec of `owner` in `namespace`, with the field path prefix to it.
pub fn pod_spec(
    state: &ClusterState,
    namespace: &str,
    owner: &ObjectRef,
) -> Option<(PodSpec, &'static str)> {
    let ns = |m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
        m.namespace.as_deref().unwrap_or_default() == namespace
            && m.name.as_deref() == Some(owner.name.as_str())
    };
    let kind = owner.workload_kind()?;
    let prefix = kind.pod_spec_path();
    let spec = match kind {
        WorkloadKind::Deployment => state
            .deployments
            .iter()
            .find(|o| ns(&o.metadata))
            .and_then(|o| o.spec.as_ref()?.template.spec.clone()),
        WorkloadKind::StatefulSet => state
            .stateful_sets
            .iter()
            .find(|o| ns(&o.metadata))
            .and_then(|o| o.spec.as_ref()?.template.spec.clone()),
        WorkloadKind::DaemonSet => state
            .daemon_sets
            .iter()
            .find(|o| ns(&o.metadata))
            .and_then(|o| o.spec.as_ref()?.template.spec.clone()),
        WorkloadKind::ReplicaSet => state
            .replica_sets
            .iter()
            .find(|o| ns(&o.metadata))
            .and_then(|o| o.spec.as_ref()?.template.as_ref()?.spec.clone()),
        WorkloadKind::Job => state
            .jobs
            .iter()
            .find(|o| ns(&o.metadata))
            .and_then(|o| o.spec.as_ref()?.template.spec.clone()),
        WorkloadKind::CronJob => state
            .cron_jobs
            .iter()
            .find(|o| ns(&o.metadata))
            .and_then(|o| {
                o.spec
                    .as_ref()?
                    .job_template
                    .spec
                    .as_ref()?
                    .template
                    .spec
                    .clone()
            }),
        WorkloadKind::Rollout => state
            .rollouts
            .iter()
            .find(|o| ns(&o.metadata))
            .and_then(|o| o.spec.pointer("/template/spec").cloned())
            .and_then(|v| serde_json::from_value(v).ok()),
        WorkloadKind::Pod => state
            .pods
            .iter()
            .find(|o| ns(&o.metadata))
            .and_then(|o| o.spec.clone()),
    };
    spec.map(|s| (s, prefix))
}

/// The container named `name` (never the first one by position).
pub fn container<'a>(spec: &'a PodSpec, name: &str, init: bool) -> Option<&'a Container> {
    let list = if init {
        spec.init_containers.as_deref().unwrap_or_default()
    } else {
        &spec.containers
    };
    list.iter().find(|c| c.name == name)
}

/// `spec.template.spec.containers[name=web]` + `.rest`.
pub fn field_path(prefix: &str, container: &str, init: bool, rest: &str) -> String {
    let list = if init { "initContainers" } else { "containers" };
    format!("{prefix}.{list}[name={container}].{rest}")
}

/// A resource quantity of a container: `kind` is `limits` or `requests`.
pub fn resource(c: &Container, kind: &str, resource: &str) -> Option<String> {
    let r = c.resources.as_ref()?;
    let map = if kind == "limits" {
        r.limits.as_ref()?
    } else {
        r.requests.as_ref()?
    };
    map.get(resource).map(|q| q.0.clone())
}
