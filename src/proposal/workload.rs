//! Reading a workload's pod template: the object a fix changes, found by kind and name.

use k8s_openapi::api::core::v1::{Container, PodSpec};

use crate::detection::ObjRef;
use crate::state::ClusterState;

/// The pod template spec of `owner` in `namespace`, with the field path prefix to it.
pub fn pod_spec(
    state: &ClusterState,
    namespace: &str,
    owner: &ObjRef,
) -> Option<(PodSpec, &'static str)> {
    let ns = |m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
        m.namespace.as_deref().unwrap_or_default() == namespace
            && m.name.as_deref() == Some(owner.name.as_str())
    };
    const TEMPLATE: &str = "spec.template.spec";
    match owner.kind.as_str() {
        "Deployment" => state
            .deployments
            .iter()
            .find(|o| ns(&o.metadata))
            .and_then(|o| o.spec.as_ref()?.template.spec.clone())
            .map(|s| (s, TEMPLATE)),
        "StatefulSet" => state
            .stateful_sets
            .iter()
            .find(|o| ns(&o.metadata))
            .and_then(|o| o.spec.as_ref()?.template.spec.clone())
            .map(|s| (s, TEMPLATE)),
        "DaemonSet" => state
            .daemon_sets
            .iter()
            .find(|o| ns(&o.metadata))
            .and_then(|o| o.spec.as_ref()?.template.spec.clone())
            .map(|s| (s, TEMPLATE)),
        "ReplicaSet" => state
            .replica_sets
            .iter()
            .find(|o| ns(&o.metadata))
            .and_then(|o| o.spec.as_ref()?.template.as_ref()?.spec.clone())
            .map(|s| (s, TEMPLATE)),
        "Job" => state
            .jobs
            .iter()
            .find(|o| ns(&o.metadata))
            .and_then(|o| o.spec.as_ref()?.template.spec.clone())
            .map(|s| (s, TEMPLATE)),
        "CronJob" => state
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
            })
            .map(|s| (s, "spec.jobTemplate.spec.template.spec")),
        "Rollout" => state
            .rollouts
            .iter()
            .find(|o| ns(&o.metadata))
            .and_then(|o| o.spec.pointer("/template/spec").cloned())
            .and_then(|v| serde_json::from_value(v).ok())
            .map(|s| (s, TEMPLATE)),
        "Pod" => state
            .pods
            .iter()
            .find(|o| ns(&o.metadata))
            .and_then(|o| o.spec.clone())
            .map(|s| (s, "spec")),
        _ => None,
    }
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
