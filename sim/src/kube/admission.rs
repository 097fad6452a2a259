//! Validating admission policies, like a Kyverno or Gatekeeper validating webhook: checked on
//! every create and update (PUT and PATCH) of the main resource, dry runs included (the real
//! API server calls validating webhooks for `dryRun=All` requests too, for webhooks that
//! declare `sideEffects: None`). A denial answers exactly as the real API server does when a
//! webhook denies: HTTP 403, a `Status` with reason `Forbidden` and the message
//! `admission webhook "<name>" denied the request: <why>`.
//!
//! The one policy kind: a ceiling on the containers' memory limits of pods and of the pod
//! templates of the built-in workload kinds (Kyverno's pod-controller autogen does the same).

use serde_json::Value;

use super::registry::ResourceType;
use super::status::{ApiError, Reason};
use crate::quantity;

/// One validating webhook's rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdmissionPolicy {
    /// The webhook's name, as the denial message quotes it
    /// (e.g. `memory-ceiling.policy.example.com`).
    pub name: String,
    /// No container (init containers included) may set a memory limit above this quantity.
    pub max_memory_limit: String,
}

impl AdmissionPolicy {
    pub fn memory_ceiling(name: &str, max_memory_limit: &str) -> AdmissionPolicy {
        AdmissionPolicy {
            name: name.to_string(),
            max_memory_limit: max_memory_limit.to_string(),
        }
    }

    /// Why `obj` (of type `rt`) violates this policy, when it does.
    pub fn violation(&self, rt: &ResourceType, obj: &Value) -> Option<String> {
        let spec = obj.pointer(pod_spec_pointer(rt)?)?;
        let ceiling = quantity::bytes(&self.max_memory_limit)?;
        for list in ["initContainers", "containers"] {
            for c in spec
                .get(list)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let Some(limit) = c
                    .pointer("/resources/limits/memory")
                    .and_then(Value::as_str)
                else {
                    continue;
                };
                if quantity::bytes(limit).is_some_and(|b| b > ceiling) {
                    let name = c.get("name").and_then(Value::as_str).unwrap_or("");
                    let meta = |k: &str| {
                        obj.pointer(&format!("/metadata/{k}"))
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string()
                    };
                    return Some(format!(
                        "{} {}/{}: container {name:?} memory limit {limit} exceeds the ceiling {}",
                        rt.kind,
                        meta("namespace"),
                        meta("name"),
                        self.max_memory_limit
                    ));
                }
            }
        }
        None
    }

    /// The 403 the API server answers when this policy's webhook denies the request.
    pub fn denial(&self, why: &str) -> ApiError {
        ApiError::new(
            Reason::Forbidden,
            format!(
                "admission webhook {:?} denied the request: {why}",
                self.name
            ),
        )
    }
}

/// Where the pod spec sits in objects of `rt`: pods and the built-in workload kinds only.
fn pod_spec_pointer(rt: &ResourceType) -> Option<&'static str> {
    match (rt.group.as_str(), rt.kind.as_str()) {
        ("", "Pod") => Some("/spec"),
        ("batch", "CronJob") => Some("/spec/jobTemplate/spec/template/spec"),
        ("apps", "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet") | ("batch", "Job") => {
            Some("/spec/template/spec")
        }
        _ => None,
    }
}

/// The first denial among `policies` for writing `new` over `old` (`None` for a create). An
/// update that leaves the pod spec as it was is admitted, so objects stored before a policy
/// (and controllers' metadata writes to them) are not blocked.
pub fn review(
    policies: &[AdmissionPolicy],
    rt: &ResourceType,
    new: &Value,
    old: Option<&Value>,
) -> Result<(), ApiError> {
    let Some(pointer) = pod_spec_pointer(rt) else {
        return Ok(());
    };
    if let Some(old) = old
        && old.pointer(pointer) == new.pointer(pointer)
    {
        return Ok(());
    }
    for p in policies {
        if let Some(why) = p.violation(rt, new) {
            return Err(p.denial(&why));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::patch::PatchType;
    use super::super::registry::Registry;
    use super::super::status::Reason;
    use super::super::store::{Store, WriteOptions};
    use super::*;

    const NAME: &str = "memory-ceiling.policy.example.com";

    fn deployment(memory: &str) -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [
                        {"name": "log-shipper", "image": "fluent-bit",
                         "resources": {"limits": {"memory": "128Mi"}}},
                        {"name": "api", "image": "api:1",
                         "resources": {"limits": {"memory": memory}}}
                    ]}
                }
            }
        })
    }

    fn store() -> (Store, usize) {
        let store = Store::new(Registry::standard(), 100);
        let ns = store.res("v1", "Namespace").unwrap();
        store
            .create(
                ns,
                None,
                json!({"metadata": {"name": "default"}}),
                &WriteOptions::default(),
            )
            .unwrap();
        store.set_admission(vec![AdmissionPolicy::memory_ceiling(NAME, "600Mi")]);
        let res = store.res("apps/v1", "Deployment").unwrap();
        (store, res)
    }

    fn bump(memory: &str) -> Value {
        json!({"spec": {"template": {"spec": {"containers": [
            {"name": "api", "resources": {"limits": {"memory": memory}}}
        ]}}}})
    }

    #[test]
    fn a_patch_over_the_ceiling_is_denied_as_a_webhook_denies_dry_run_or_not() {
        let (store, res) = store();
        store
            .create(
                res,
                Some("default"),
                deployment("512Mi"),
                &WriteOptions::default(),
            )
            .unwrap();
        let want = "admission webhook \"memory-ceiling.policy.example.com\" denied the request: \
                    Deployment default/web: container \"api\" memory limit 640Mi exceeds the ceiling 600Mi";
        for dry_run in [true, false] {
            let opts = WriteOptions {
                dry_run,
                ..WriteOptions::default()
            };
            let e = store
                .patch(
                    res,
                    Some("default"),
                    "web",
                    &bump("640Mi"),
                    PatchType::Strategic,
                    &opts,
                )
                .unwrap_err();
            assert_eq!(e.code, 403, "dry run {dry_run}");
            assert_eq!(e.reason, Reason::Forbidden);
            assert_eq!(e.message, want);
            let status = e.to_status();
            assert_eq!(status["reason"], "Forbidden");
            assert_eq!(status["code"], 403);
            assert_eq!(status["status"], "Failure");
        }
        // Nothing was stored; a value under the ceiling passes, as a dry run and for real.
        let live = store.get(res, Some("default"), "web").unwrap();
        let memory = "/spec/template/spec/containers/1/resources/limits/memory";
        assert_eq!(live.pointer(memory).unwrap(), "512Mi");
        for dry_run in [true, false] {
            let opts = WriteOptions {
                dry_run,
                ..WriteOptions::default()
            };
            let out = store
                .patch(
                    res,
                    Some("default"),
                    "web",
                    &bump("600Mi"),
                    PatchType::Strategic,
                    &opts,
                )
                .unwrap();
            assert_eq!(out.object.pointer(memory).unwrap(), "600Mi");
        }
    }

    #[test]
    fn creates_are_reviewed_and_unchanged_pod_specs_are_admitted() {
        let (store, res) = store();
        let e = store
            .create(
                res,
                Some("default"),
                deployment("1Gi"),
                &WriteOptions {
                    dry_run: true,
                    ..WriteOptions::default()
                },
            )
            .unwrap_err();
        assert_eq!(e.code, 403);
        assert!(
            e.message
                .contains("memory limit 1Gi exceeds the ceiling 600Mi")
        );
        // An object stored before the policy keeps taking writes that leave its pod spec alone.
        store.set_admission(Vec::new());
        store
            .create(
                res,
                Some("default"),
                deployment("1Gi"),
                &WriteOptions::default(),
            )
            .unwrap();
        store.set_admission(vec![AdmissionPolicy::memory_ceiling(NAME, "600Mi")]);
        let label = json!({"metadata": {"labels": {"team": "payments"}}});
        store
            .patch(
                res,
                Some("default"),
                "web",
                &label,
                PatchType::Merge,
                &WriteOptions::default(),
            )
            .unwrap();
        // Kinds without a pod template are not reviewed.
        let ns_res = store.res("v1", "Namespace").unwrap();
        let rt = store.resource(ns_res).unwrap();
        assert!(review(&store.admission(), rt, &deployment("2Gi"), None).is_ok());
    }
}
