//! Owner resolution: follow the `controller: true` ownerReference (uid-checked) from a pod to
//! the workload a human edits. Pod -> ReplicaSet -> Deployment | Rollout; Pod -> StatefulSet |
//! DaemonSet; Pod -> Job -> CronJob; a bare Pod is its own owner.
//!
//! Two ways a chain can break, handled differently on purpose:
//! - the referenced object is not in the snapshot (a partial watch, e.g. pods only): the
//!   reference itself is still a fact the child states, so the result is the referenced
//!   kind/name (a Pod whose ReplicaSet was not captured resolves to that ReplicaSet);
//! - the referenced object exists with a different uid (a stale reference to a deleted and
//!   recreated namesake): the reference is wrong, so the chain stops at the child.

use std::collections::HashMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

use crate::objref::{ObjectRef, WorkloadKind};
use crate::state::ClusterState;

/// Longer chains than this do not exist in Kubernetes; the bound guards against reference cycles.
const MAX_DEPTH: usize = 8;

/// The ownerReference marked `controller: true`, if any (at most one is allowed).
pub fn controller_of(meta: &ObjectMeta) -> Option<&OwnerReference> {
    meta.owner_references
        .as_deref()?
        .iter()
        .find(|r| r.controller == Some(true))
}

/// True when `child`'s controller reference names `owner` (kind, name and uid all match).
pub fn is_controlled_by(child: &ObjectMeta, kind: WorkloadKind, owner: &ObjectMeta) -> bool {
    controller_of(child).is_some_and(|r| {
        r.kind == kind.kind()
            && Some(r.name.as_str()) == owner.name.as_deref()
            && owner.uid.as_deref() == Some(r.uid.as_str())
    })
}

/// Metadata of the object `kind`/`namespace`/`name` in the snapshot. `api_version` is only
/// consulted to tell an Argo Rollout from another CRD that happens to be called `Rollout`.
pub fn find_meta<'a>(
    state: &'a ClusterState,
    kind: &str,
    api_version: &str,
    namespace: &str,
    name: &str,
) -> Option<&'a ObjectMeta> {
    if kind == "PersistentVolumeClaim" {
        return pick(&state.pvcs, |o| &o.metadata, namespace, name);
    }
    workload_meta(
        state,
        WorkloadKind::from_api(api_version, kind)?,
        namespace,
        name,
    )
}

/// Metadata of the workload `kind` `namespace`/`name` in the snapshot.
pub fn workload_meta<'a>(
    state: &'a ClusterState,
    kind: WorkloadKind,
    namespace: &str,
    name: &str,
) -> Option<&'a ObjectMeta> {
    let (ns, n) = (namespace, name);
    match kind {
        WorkloadKind::Pod => pick(&state.pods, |o| &o.metadata, ns, n),
        WorkloadKind::ReplicaSet => pick(&state.replica_sets, |o| &o.metadata, ns, n),
        WorkloadKind::Deployment => pick(&state.deployments, |o| &o.metadata, ns, n),
        WorkloadKind::StatefulSet => pick(&state.stateful_sets, |o| &o.metadata, ns, n),
        WorkloadKind::DaemonSet => pick(&state.daemon_sets, |o| &o.metadata, ns, n),
        WorkloadKind::Job => pick(&state.jobs, |o| &o.metadata, ns, n),
        WorkloadKind::CronJob => pick(&state.cron_jobs, |o| &o.metadata, ns, n),
        WorkloadKind::Rollout => pick(&state.rollouts, |o| &o.metadata, ns, n),
    }
}

fn pick<'a, T>(
    items: &'a [T],
    meta: impl Fn(&T) -> &ObjectMeta,
    ns: &str,
    name: &str,
) -> Option<&'a ObjectMeta> {
    items
        .iter()
        .map(meta)
        .find(|m| m.name.as_deref() == Some(name) && m.namespace.as_deref().unwrap_or("") == ns)
}

/// The top-level workload controlling the object `kind`/`namespace`/`name`. When a controller
/// reference cannot be followed the result is as described in the module docs: a missing
/// referent yields the reference's kind/name, a uid mismatch stops at the referring object.
/// An object that is not in the snapshot at all is its own owner.
///
/// Scans the snapshot; for many lookups build an [`Index`] once.
pub fn resolve_workload(
    state: &ClusterState,
    kind: &str,
    namespace: &str,
    name: &str,
) -> ObjectRef {
    match find_meta(state, kind, "", namespace, name) {
        Some(meta) => walk(kind, meta, |k, v, n| find_meta(state, k, v, namespace, n)),
        None => self_ref(kind, namespace, name, None),
    }
}

fn self_ref(kind: &str, namespace: &str, name: &str, uid: Option<String>) -> ObjectRef {
    ObjectRef::of_kind(kind, namespace, name).with_uid(uid)
}

/// Follow controller references up from `meta` using `find(kind, apiVersion, name)`.
fn walk<'a>(
    kind: &str,
    mut meta: &'a ObjectMeta,
    find: impl Fn(&str, &str, &str) -> Option<&'a ObjectMeta>,
) -> ObjectRef {
    let namespace = meta.namespace.as_deref().unwrap_or("");
    let name = meta.name.as_deref().unwrap_or("");
    let mut current = self_ref(kind, namespace, name, meta.uid.clone());
    for _ in 0..MAX_DEPTH {
        let Some(reference) = controller_of(meta) else {
            break;
        };
        let referenced = || {
            ObjectRef::from_api(
                &reference.api_version,
                &reference.kind,
                namespace,
                &reference.name,
            )
            .with_uid(Some(reference.uid.clone()))
        };
        match find(&reference.kind, &reference.api_version, &reference.name) {
            None => return referenced(),
            Some(p) if p.uid.as_deref() != Some(reference.uid.as_str()) => break,
            Some(p) => {
                current = referenced();
                meta = p;
            }
        }
    }
    current
}

/// Controller objects of a snapshot by (kind, namespace, name), so resolving the owner of
/// every pod in a 50,000-pod cluster is a few hash lookups each, not a scan.
pub struct Index<'a> {
    by_key: HashMap<(WorkloadKind, &'a str, &'a str), &'a ObjectMeta>,
}

impl<'a> Index<'a> {
    pub fn new(state: &'a ClusterState) -> Index<'a> {
        let mut by_key = HashMap::new();
        let mut add = |kind: WorkloadKind, meta: &'a ObjectMeta| {
            let ns = meta.namespace.as_deref().unwrap_or("");
            if let Some(name) = meta.name.as_deref() {
                by_key.entry((kind, ns, name)).or_insert(meta);
            }
        };
        use WorkloadKind as K;
        state
            .replica_sets
            .iter()
            .for_each(|o| add(K::ReplicaSet, &o.metadata));
        state
            .deployments
            .iter()
            .for_each(|o| add(K::Deployment, &o.metadata));
        state
            .stateful_sets
            .iter()
            .for_each(|o| add(K::StatefulSet, &o.metadata));
        state
            .daemon_sets
            .iter()
            .for_each(|o| add(K::DaemonSet, &o.metadata));
        state.jobs.iter().for_each(|o| add(K::Job, &o.metadata));
        state
            .cron_jobs
            .iter()
            .for_each(|o| add(K::CronJob, &o.metadata));
        state
            .rollouts
            .iter()
            .for_each(|o| add(K::Rollout, &o.metadata));
        Index { by_key }
    }

    fn find(&self, kind: &str, api_version: &str, ns: &str, name: &str) -> Option<&'a ObjectMeta> {
        // Only an argoproj.io Rollout is a Rollout (another CRD may share the kind name); a
        // Pod is never a controller.
        let kind = WorkloadKind::from_api(api_version, kind).filter(|k| *k != WorkloadKind::Pod)?;
        self.by_key.get(&(kind, ns, name)).copied()
    }

    /// The workload controlling the object whose metadata is `meta` (same rules as
    /// [`resolve_workload`]).
    pub fn resolve(&self, kind: WorkloadKind, meta: &'a ObjectMeta) -> ObjectRef {
        let ns = meta.namespace.as_deref().unwrap_or("");
        walk(kind.kind(), meta, |k, v, n| self.find(k, v, ns, n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Kind and name of a resolved reference (group and uid are checked separately).
    fn kn(r: ObjectRef) -> (String, String) {
        (r.kind, r.name)
    }

    fn o(kind: &str, name: &str) -> (String, String) {
        (kind.into(), name.into())
    }

    fn state(yaml: &str) -> ClusterState {
        ClusterState::from_text(yaml).unwrap()
    }

    const DEPLOY_CHAIN: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop, uid: d-1,
  annotations: {argocd.argoproj.io/tracking-id: "shop:apps/Deployment:shop/web"}}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: web-5d8f7
  namespace: shop
  uid: rs-1
  # The Deployment controller copies its annotations, tracking id included.
  annotations: {argocd.argoproj.io/tracking-id: "shop:apps/Deployment:shop/web", deployment.kubernetes.io/revision: "3"}
  ownerReferences:
  - {apiVersion: apps/v1, kind: Deployment, name: web, uid: d-1, controller: true}
---
apiVersion: v1
kind: Pod
metadata:
  name: web-5d8f7-abcde
  namespace: shop
  uid: p-1
  ownerReferences:
  - {apiVersion: v1, kind: ConfigMap, name: decoy, uid: c-1}
  - {apiVersion: apps/v1, kind: ReplicaSet, name: web-5d8f7, uid: rs-1, controller: true}
"#;

    #[test]
    fn pod_resolves_through_replicaset_to_deployment() {
        let s = state(DEPLOY_CHAIN);
        assert_eq!(
            kn(resolve_workload(&s, "Pod", "shop", "web-5d8f7-abcde")),
            o("Deployment", "web")
        );
        // A ReplicaSet that carries its Deployment's annotations still resolves by reference.
        assert_eq!(
            kn(resolve_workload(&s, "ReplicaSet", "shop", "web-5d8f7")),
            o("Deployment", "web")
        );
    }

    #[test]
    fn the_reference_carries_group_namespace_and_uid() {
        let s = state(DEPLOY_CHAIN);
        let owner = resolve_workload(&s, "Pod", "shop", "web-5d8f7-abcde");
        assert_eq!(
            owner,
            ObjectRef::workload(WorkloadKind::Deployment, "shop", "web")
                .with_uid(Some("d-1".into()))
        );
        assert_eq!(owner.workload_kind(), Some(WorkloadKind::Deployment));
        let bare = resolve_workload(&s, "Pod", "shop", "not-there");
        assert_eq!((bare.group.as_str(), bare.uid), ("", None));
    }

    #[test]
    fn uid_mismatch_stops_the_chain() {
        let s = state(&DEPLOY_CHAIN.replace("uid: d-1, controller", "uid: d-OLD, controller"));
        assert_eq!(
            kn(resolve_workload(&s, "Pod", "shop", "web-5d8f7-abcde")),
            o("ReplicaSet", "web-5d8f7")
        );
    }

    /// The bulk index used by detection gives the same answers as the scan, chain breaks included.
    #[test]
    fn index_agrees_with_the_scan() {
        let variants = [
            DEPLOY_CHAIN.to_string(),
            DEPLOY_CHAIN.replace("uid: d-1, controller", "uid: d-OLD, controller"),
            DEPLOY_CHAIN.split("---").nth(2).unwrap().to_string(),
            DEPLOY_CHAIN.replacen("namespace: shop, uid: d-1", "namespace: other, uid: d-1", 1),
        ];
        for text in variants {
            let s = state(&text);
            let index = Index::new(&s);
            for pod in &s.pods {
                let name = pod.metadata.name.as_deref().unwrap();
                assert_eq!(
                    index.resolve(WorkloadKind::Pod, &pod.metadata),
                    resolve_workload(&s, "Pod", "shop", name)
                );
            }
        }
    }

    #[test]
    fn missing_replicaset_falls_back_to_the_reference() {
        let only_pod = DEPLOY_CHAIN.split("---").nth(2).unwrap();
        let s = state(only_pod);
        assert_eq!(
            kn(resolve_workload(&s, "Pod", "shop", "web-5d8f7-abcde")),
            o("ReplicaSet", "web-5d8f7")
        );
    }

    #[test]
    fn other_namespace_is_not_followed() {
        let s = state(&DEPLOY_CHAIN.replacen(
            "namespace: shop, uid: d-1",
            "namespace: other, uid: d-1",
            1,
        ));
        // The Deployment lives elsewhere: from the pod's namespace it is missing.
        assert_eq!(
            kn(resolve_workload(&s, "Pod", "shop", "web-5d8f7-abcde")),
            o("Deployment", "web")
        );
        assert!(find_meta(&s, "Deployment", "", "shop", "web").is_none());
    }

    #[test]
    fn rollout_cronjob_statefulset_and_bare_pod() {
        let s = state(
            r#"
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: api, namespace: a, uid: ro-1}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: api-7c9
  namespace: a
  uid: rs-2
  ownerReferences: [{apiVersion: argoproj.io/v1alpha1, kind: Rollout, name: api, uid: ro-1, controller: true}]
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly, namespace: a, uid: cj-1}
---
apiVersion: batch/v1
kind: Job
metadata:
  name: nightly-2901
  namespace: a
  uid: j-1
  ownerReferences: [{apiVersion: batch/v1, kind: CronJob, name: nightly, uid: cj-1, controller: true}]
---
apiVersion: v1
kind: Pod
metadata:
  name: nightly-2901-xyz
  namespace: a
  uid: p-2
  ownerReferences: [{apiVersion: batch/v1, kind: Job, name: nightly-2901, uid: j-1, controller: true}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: a, uid: ss-1}
---
apiVersion: v1
kind: Pod
metadata:
  name: db-0
  namespace: a
  uid: p-3
  ownerReferences: [{apiVersion: apps/v1, kind: StatefulSet, name: db, uid: ss-1, controller: true}]
---
apiVersion: v1
kind: Pod
metadata: {name: lonely, namespace: a, uid: p-4}
"#,
        );
        let r = |k: &str, n: &str| kn(resolve_workload(&s, k, "a", n));
        assert_eq!(r("ReplicaSet", "api-7c9"), o("Rollout", "api"));
        assert_eq!(r("Pod", "nightly-2901-xyz"), o("CronJob", "nightly"));
        assert_eq!(r("Pod", "db-0"), o("StatefulSet", "db"));
        assert_eq!(r("Pod", "lonely"), o("Pod", "lonely"));
        assert_eq!(r("Pod", "not-there"), o("Pod", "not-there"));
    }

    #[test]
    fn non_controller_reference_is_ignored() {
        let s = state(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  namespace: a\n  uid: u\n  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: rs, uid: r}]\n",
        );
        assert_eq!(kn(resolve_workload(&s, "Pod", "a", "p")), o("Pod", "p"));
    }
}
