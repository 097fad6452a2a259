//! `resource_quota`: the namespace's ResourceQuotas leave room for what the rollout adds. The
//! API server's quota admission rejects a pod whose requests (or limits) would take
//! `status.used` over `status.hard`; the ReplicaSet then reports `FailedCreate` and the rollout
//! stalls, so a fix that does not fit is an escalation, not a PR.
//!
//! The increase is computed per quota resource (`requests.memory`, `limits.cpu`, ...; `memory`
//! and `cpu` are `requests.*`): the per-pod delta times the workload's replicas, plus, during a
//! RollingUpdate, the surge pods (`maxSurge`, default 25% rounded up) at their old size. That is
//! the peak with `maxUnavailable: 0` (every pod new and `surge` old ones still running), and an
//! upper bound otherwise. A container without a request gets its limit as request (API server
//! defaulting), so raising such a limit raises the request too. Pod totals follow the quota
//! controller: the sum over containers, or the largest init container if that is more.
//!
//! Only quotas whose scopes select the pod count (`Terminating`/`NotTerminating`,
//! `BestEffort`/`NotBestEffort`, a `PriorityClass` scopeSelector); quotas with other scopes
//! are named and left out. A quota whose `status.used` is not reported yet (the quota
//! controller has not run) makes the check Skipped, never a silent pass.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, PodSpec, ResourceQuota};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as KQuantity;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{CheckOutcome, CheckResult, ResourceChange, show};
use crate::objref::{ObjectRef, WorkloadKind};
use crate::quantity::Quantity;
use crate::state::ClusterState;

const NAME: &str = "resource_quota";

/// The quota resources a pod's compute is counted under.
const KEYS: [&str; 4] = [
    "requests.memory",
    "requests.cpu",
    "limits.memory",
    "limits.cpu",
];

/// How many pods the rollout runs at its peak: `replicas` at the new size and `surge` more at
/// the old size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rollout {
    pub replicas: i128,
    pub surge: i128,
}

pub fn check(
    state: &ClusterState,
    workload: &ObjectRef,
    spec: &PodSpec,
    container: &str,
    init: bool,
    changes: &[ResourceChange],
) -> CheckResult {
    let ns = workload.namespace.as_str();
    let relevant: Vec<&ResourceChange> = changes
        .iter()
        .filter(|c| c.kind == "requests" || c.kind == "limits")
        .filter(|c| c.resource == "memory" || c.resource == "cpu")
        .collect();
    let mut new_spec = spec.clone();
    for c in &relevant {
        set(&mut new_spec, container, init, c);
    }
    let old = pod_usage(spec);
    let new = pod_usage(&new_spec);
    let raised: Vec<&str> = KEYS
        .into_iter()
        .filter(|k| new.get(k).copied().unwrap_or(0) > old.get(k).copied().unwrap_or(0))
        .collect();
    if raised.is_empty() {
        return CheckResult::new(
            NAME,
            CheckOutcome::Skipped,
            "the change raises no memory or cpu request or limit",
        );
    }
    let rollout = rollout_of(state, workload);
    let increase = |key: &str| -> (i128, String) {
        let (o, n) = (
            old.get(key).copied().unwrap_or(0),
            new.get(key).copied().unwrap_or(0),
        );
        let res = resource_of(key);
        let total = rollout.replicas * (n - o) + rollout.surge * o;
        let mut how = format!("{} replicas x +{}", rollout.replicas, show(res, n - o));
        if rollout.surge > 0 {
            how.push_str(&format!(
                " + {} surge pod(s) x {}",
                rollout.surge,
                show(res, o)
            ));
        }
        (total, how)
    };
    let mut passed = Vec::new();
    let mut unreported = Vec::new();
    let mut unselected = Vec::new();
    for quota in state
        .resource_quotas
        .iter()
        .filter(|q| q.metadata.namespace.as_deref() == Some(ns))
    {
        let qname = format!(
            "ResourceQuota {ns}/{}",
            quota.metadata.name.as_deref().unwrap_or_default()
        );
        let spec_hard = quota.spec.as_ref().and_then(|s| s.hard.as_ref());
        let bounds: Vec<(&str, &str)> = raised
            .iter()
            .flat_map(|key| names_of(key).into_iter().map(move |n| (*key, n)))
            .filter(|(_, n)| {
                spec_hard.is_some_and(|h| h.contains_key(*n))
                    || status_map(quota, Status::Hard).is_some_and(|h| h.contains_key(*n))
            })
            .collect();
        if bounds.is_empty() {
            continue;
        }
        if let Err(why) = selects(quota, &new_spec) {
            unselected.push(format!("{qname} ({why})"));
            continue;
        }
        for (key, hard_name) in bounds {
            let hard = status_map(quota, Status::Hard)
                .and_then(|h| h.get(hard_name))
                .and_then(parse);
            let used = status_map(quota, Status::Used)
                .and_then(|u| u.get(hard_name))
                .and_then(parse);
            let (Some(hard), Some(used)) = (hard, used) else {
                unreported.push(format!("{qname} {hard_name}"));
                continue;
            };
            let res = resource_of(key);
            let (inc, how) = increase(key);
            if used + inc > hard {
                return CheckResult::new(
                    NAME,
                    CheckOutcome::Failed,
                    format!(
                        "{qname} {hard_name}: used {} + increase {} ({how}) = {} exceeds hard {}",
                        show(res, used),
                        show(res, inc),
                        show(res, used + inc),
                        show(res, hard)
                    ),
                );
            }
            passed.push(format!(
                "{qname} {hard_name}: headroom {} (hard {} - used {}) covers increase {} ({how})",
                show(res, hard - used),
                show(res, hard),
                show(res, used),
                show(res, inc)
            ));
        }
    }
    let mut notes = Vec::new();
    if !unselected.is_empty() {
        notes.push(format!(
            "not counted, scopes do not select the pod: {}",
            unselected.join(", ")
        ));
    }
    if !unreported.is_empty() {
        let mut detail = format!(
            "status.used not reported yet for {} (the quota controller has not computed it)",
            unreported.join(", ")
        );
        if !passed.is_empty() {
            detail.push_str(&format!("; {}", passed.join("; ")));
        }
        for n in notes {
            detail.push_str(&format!("; {n}"));
        }
        return CheckResult::new(NAME, CheckOutcome::Skipped, detail);
    }
    if passed.is_empty() {
        let mut detail = format!(
            "no ResourceQuota in {ns} bounds {}",
            raised
                .iter()
                .flat_map(|k| names_of(k))
                .collect::<Vec<_>>()
                .join(", ")
        );
        for n in notes {
            detail.push_str(&format!("; {n}"));
        }
        return CheckResult::new(NAME, CheckOutcome::Skipped, detail);
    }
    let mut detail = format!("within {}", passed.join("; "));
    for n in notes {
        detail.push_str(&format!("; {n}"));
    }
    CheckResult::new(NAME, CheckOutcome::Passed, detail)
}

/// `memory` or `cpu` of a quota key.
fn resource_of(key: &str) -> &str {
    key.rsplit('.').next().unwrap_or(key)
}

/// The `hard` names that bound a quota key: `requests.memory` is also plain `memory`.
fn names_of(key: &str) -> Vec<&'static str> {
    match key {
        "requests.memory" => vec!["requests.memory", "memory"],
        "requests.cpu" => vec!["requests.cpu", "cpu"],
        "limits.memory" => vec!["limits.memory"],
        "limits.cpu" => vec!["limits.cpu"],
        _ => Vec::new(),
    }
}

enum Status {
    Hard,
    Used,
}

fn status_map(q: &ResourceQuota, which: Status) -> Option<&BTreeMap<String, KQuantity>> {
    let s = q.status.as_ref()?;
    match which {
        Status::Hard => s.hard.as_ref(),
        Status::Used => s.used.as_ref(),
    }
}

fn parse(q: &KQuantity) -> Option<i128> {
    Quantity::parse(&q.0).ok().map(|q| q.0.millis())
}

/// Sets the change's value on the target container of `spec`.
fn set(spec: &mut PodSpec, container: &str, init: bool, c: &ResourceChange) {
    let list = if init {
        spec.init_containers.get_or_insert_with(Vec::new)
    } else {
        &mut spec.containers
    };
    let Some(k) = list.iter_mut().find(|k| k.name == container) else {
        return;
    };
    let r = k.resources.get_or_insert_with(Default::default);
    let map = if c.kind == "limits" {
        r.limits.get_or_insert_with(BTreeMap::new)
    } else {
        r.requests.get_or_insert_with(BTreeMap::new)
    };
    map.insert(c.resource.clone(), KQuantity(c.to_text.clone()));
}

/// A container's value of a quota key, in millis; a missing request defaults to the limit.
fn container_value(c: &Container, key: &str) -> i128 {
    let res = resource_of(key);
    let r = c.resources.as_ref();
    let get = |limits: bool| {
        r.and_then(|r| {
            if limits {
                r.limits.as_ref()
            } else {
                r.requests.as_ref()
            }
        })
        .and_then(|m| m.get(res))
        .and_then(parse)
    };
    if key.starts_with("limits.") {
        get(true).unwrap_or(0)
    } else {
        get(false).or_else(|| get(true)).unwrap_or(0)
    }
}

/// A pod's total per quota key, as the quota controller counts it: the sum over containers,
/// or the largest init container when that is more.
fn pod_usage(spec: &PodSpec) -> BTreeMap<&'static str, i128> {
    KEYS.into_iter()
        .map(|key| {
            let sum: i128 = spec
                .containers
                .iter()
                .map(|c| container_value(c, key))
                .sum();
            let init = spec
                .init_containers
                .iter()
                .flatten()
                .map(|c| container_value(c, key))
                .max()
                .unwrap_or(0);
            (key, sum.max(init))
        })
        .collect()
}

/// `Ok` when the quota's scopes select a pod of `spec`; `Err(why)` names the scope that does
/// not (or that is not evaluated here).
fn selects(q: &ResourceQuota, spec: &PodSpec) -> Result<(), String> {
    let Some(qs) = q.spec.as_ref() else {
        return Ok(());
    };
    let best_effort = spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .all(|c| {
            c.resources.as_ref().is_none_or(|r| {
                r.requests.as_ref().is_none_or(|m| m.is_empty())
                    && r.limits.as_ref().is_none_or(|m| m.is_empty())
            })
        });
    let terminating = spec.active_deadline_seconds.is_some();
    let mut scopes: Vec<(String, String, Vec<String>)> = qs
        .scopes
        .iter()
        .flatten()
        .map(|s| (s.clone(), "Exists".to_string(), Vec::new()))
        .collect();
    if let Some(sel) = &qs.scope_selector {
        for e in sel.match_expressions.iter().flatten() {
            scopes.push((
                e.scope_name.clone(),
                e.operator.clone(),
                e.values.clone().unwrap_or_default(),
            ));
        }
    }
    for (scope, op, values) in scopes {
        let ok = match scope.as_str() {
            "Terminating" => terminating,
            "NotTerminating" => !terminating,
            "BestEffort" => best_effort,
            "NotBestEffort" => !best_effort,
            "PriorityClass" => {
                let pc = spec.priority_class_name.as_deref().unwrap_or_default();
                match op.as_str() {
                    "In" => values.iter().any(|v| v == pc),
                    "NotIn" => !values.iter().any(|v| v == pc),
                    "Exists" => !pc.is_empty(),
                    "DoesNotExist" => pc.is_empty(),
                    _ => return Err(format!("scope PriorityClass {op} not evaluated")),
                }
            }
            other => return Err(format!("scope {other} not evaluated")),
        };
        if !ok {
            return Err(format!("scope {scope}"));
        }
    }
    Ok(())
}

/// The workload's replicas and rollout surge. Deployments: `spec.replicas` (default 1) and,
/// for RollingUpdate, `maxSurge` (default 25%, rounded up); Argo Rollouts: canary `maxSurge`
/// likewise, blueGreen a whole second set; everything else surges no pods (StatefulSets and
/// DaemonSets replace in place by default, Jobs do not roll).
pub fn rollout_of(state: &ClusterState, w: &ObjectRef) -> Rollout {
    let named = |m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
        m.namespace.as_deref() == Some(w.namespace.as_str()) && m.name.as_deref() == Some(&w.name)
    };
    let none = |replicas: i128| Rollout { replicas, surge: 0 };
    match w.workload_kind() {
        Some(WorkloadKind::Deployment) => {
            let Some(spec) = state
                .deployments
                .iter()
                .find(|d| named(&d.metadata))
                .and_then(|d| d.spec.as_ref())
            else {
                return none(1);
            };
            let replicas = i128::from(spec.replicas.unwrap_or(1).max(0));
            let strategy = spec.strategy.as_ref();
            if strategy.and_then(|s| s.type_.as_deref()) == Some("Recreate") {
                return none(replicas);
            }
            let surge = strategy
                .and_then(|s| s.rolling_update.as_ref())
                .and_then(|r| r.max_surge.clone());
            Rollout {
                replicas,
                surge: surge_of(surge.as_ref(), replicas),
            }
        }
        Some(WorkloadKind::Rollout) => {
            let Some(r) = state.rollouts.iter().find(|r| named(&r.metadata)) else {
                return none(1);
            };
            let replicas = r
                .spec
                .get("replicas")
                .and_then(|v| v.as_i64())
                .map_or(1, i128::from)
                .max(0);
            if r.spec.pointer("/strategy/blueGreen").is_some() {
                return Rollout {
                    replicas,
                    surge: replicas,
                };
            }
            let surge = r
                .spec
                .pointer("/strategy/canary/maxSurge")
                .and_then(|v| serde_json::from_value::<IntOrString>(v.clone()).ok());
            Rollout {
                replicas,
                surge: surge_of(surge.as_ref(), replicas),
            }
        }
        Some(WorkloadKind::StatefulSet) => none(
            state
                .stateful_sets
                .iter()
                .find(|s| named(&s.metadata))
                .and_then(|s| s.spec.as_ref()?.replicas)
                .map_or(1, i128::from),
        ),
        Some(WorkloadKind::ReplicaSet) => none(
            state
                .replica_sets
                .iter()
                .find(|s| named(&s.metadata))
                .and_then(|s| s.spec.as_ref()?.replicas)
                .map_or(1, i128::from),
        ),
        Some(WorkloadKind::DaemonSet) => none(
            state
                .daemon_sets
                .iter()
                .find(|s| named(&s.metadata))
                .and_then(|s| s.status.as_ref())
                .map_or(1, |s| i128::from(s.desired_number_scheduled)),
        ),
        Some(WorkloadKind::Job) => none(
            state
                .jobs
                .iter()
                .find(|s| named(&s.metadata))
                .and_then(|s| s.spec.as_ref()?.parallelism)
                .map_or(1, i128::from),
        ),
        Some(WorkloadKind::CronJob) | Some(WorkloadKind::Pod) | None => none(1),
    }
}

/// `maxSurge` as a pod count: an int, or a percent of `replicas` rounded up (default 25%).
fn surge_of(v: Option<&IntOrString>, replicas: i128) -> i128 {
    match v {
        Some(IntOrString::Int(n)) => i128::from(*n).max(0),
        Some(IntOrString::String(s)) => s
            .trim_end_matches('%')
            .parse::<i128>()
            .map_or(0, |p| (replicas * p.max(0) + 99) / 100),
        None => (replicas * 25 + 99) / 100,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(deploy_strategy: &str, quotas: &[serde_json::Value]) -> ClusterState {
        let mut s = ClusterState::default();
        let deploy = format!(
            r#"{{"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {{"name": "checkout-api", "namespace": "payments"}},
            "spec": {{"replicas": 2, "selector": {{}}, {deploy_strategy}
                "template": {{"spec": {{"containers": []}}}}}}}}"#
        );
        s.add_object(serde_json::from_str(&deploy).unwrap())
            .unwrap();
        for q in quotas {
            s.add_object(q.clone()).unwrap();
        }
        s
    }

    fn quota(
        name: &str,
        hard: serde_json::Value,
        used: Option<serde_json::Value>,
    ) -> serde_json::Value {
        let mut q = serde_json::json!({"apiVersion": "v1", "kind": "ResourceQuota",
            "metadata": {"name": name, "namespace": "payments"},
            "spec": {"hard": hard.clone()},
            "status": {"hard": hard}});
        if let Some(u) = used {
            q["status"]["used"] = u;
        }
        q
    }

    /// The oom-quota pods: a 128Mi log-shipper and the api at `memory`, requests == limits.
    fn spec(memory: &str) -> PodSpec {
        serde_json::from_value(serde_json::json!({"containers": [
            {"name": "log-shipper", "resources": {"requests": {"cpu": "100m", "memory": "128Mi"},
                "limits": {"cpu": "100m", "memory": "128Mi"}}},
            {"name": "api", "resources": {"requests": {"cpu": "250m", "memory": memory},
                "limits": {"cpu": "250m", "memory": memory}}}
        ]}))
        .unwrap()
    }

    fn change(kind: &str, from: &str, to: &str) -> ResourceChange {
        ResourceChange {
            kind: kind.into(),
            resource: "memory".into(),
            from: Quantity::parse(from).ok().map(|q| q.0),
            to: Quantity::parse(to).unwrap().0,
            to_text: to.into(),
        }
    }

    fn bump() -> Vec<ResourceChange> {
        vec![
            change("limits", "512Mi", "640Mi"),
            change("requests", "512Mi", "640Mi"),
        ]
    }

    fn target() -> ObjectRef {
        ObjectRef::new("apps", "Deployment", "payments", "checkout-api")
    }

    const RECREATE: &str = r#""strategy": {"type": "Recreate"},"#;

    #[test]
    fn a_bump_over_the_headroom_fails_naming_quota_used_hard_and_increase() {
        // 2 pods x 640Mi = 1280Mi used; the bump adds 2 x 128Mi = 256Mi; 1408Mi hard.
        let q = quota(
            "compute",
            serde_json::json!({"requests.memory": "1408Mi"}),
            Some(serde_json::json!({"requests.memory": "1280Mi"})),
        );
        let r = check(
            &state(RECREATE, &[q]),
            &target(),
            &spec("512Mi"),
            "api",
            false,
            &bump(),
        );
        assert_eq!(r.outcome, CheckOutcome::Failed);
        assert_eq!(
            r.detail,
            "ResourceQuota payments/compute requests.memory: used 1280Mi + increase 256Mi \
             (2 replicas x +128Mi) = 1536Mi exceeds hard 1408Mi"
        );
    }

    #[test]
    fn a_bump_within_the_headroom_passes_naming_the_headroom() {
        let q = quota(
            "compute",
            serde_json::json!({"memory": "2Gi", "pods": "10"}),
            Some(serde_json::json!({"memory": "1280Mi", "pods": "2"})),
        );
        let r = check(
            &state(RECREATE, &[q]),
            &target(),
            &spec("512Mi"),
            "api",
            false,
            &bump(),
        );
        assert_eq!(r.outcome, CheckOutcome::Passed, "{}", r.detail);
        assert_eq!(
            r.detail,
            "within ResourceQuota payments/compute memory: headroom 768Mi (hard 2Gi - used \
             1280Mi) covers increase 256Mi (2 replicas x +128Mi)"
        );
    }

    #[test]
    fn a_rolling_update_counts_its_surge_pods_at_the_old_size() {
        // maxSurge 25% of 2 rounds up to 1: 2 x +128Mi + 1 x 640Mi = 896Mi; 768Mi headroom.
        let q = quota(
            "compute",
            serde_json::json!({"requests.memory": "2Gi"}),
            Some(serde_json::json!({"requests.memory": "1280Mi"})),
        );
        let r = check(
            &state("", &[q]),
            &target(),
            &spec("512Mi"),
            "api",
            false,
            &bump(),
        );
        assert_eq!(r.outcome, CheckOutcome::Failed, "{}", r.detail);
        assert!(
            r.detail.contains(
                "increase 896Mi (2 replicas x +128Mi + 1 surge pod(s) x 640Mi) = 2176Mi exceeds hard 2Gi"
            ),
            "{}",
            r.detail
        );
    }

    #[test]
    fn a_limits_quota_binds_when_only_the_limit_is_raised() {
        // Burstable pods: the api requests 256Mi and is limited at 512Mi; only the limit moves.
        let spec: PodSpec = serde_json::from_value(serde_json::json!({"containers": [
            {"name": "log-shipper", "resources": {"limits": {"memory": "128Mi"}, "requests": {"memory": "128Mi"}}},
            {"name": "api", "resources": {"requests": {"memory": "256Mi"}, "limits": {"memory": "512Mi"}}}
        ]}))
        .unwrap();
        let changes = [change("limits", "512Mi", "1Gi")];
        let quotas = [
            quota(
                "requests-only",
                serde_json::json!({"requests.memory": "1Gi"}),
                Some(serde_json::json!({"requests.memory": "768Mi"})),
            ),
            quota(
                "limits",
                serde_json::json!({"limits.memory": "2Gi"}),
                Some(serde_json::json!({"limits.memory": "1280Mi"})),
            ),
        ];
        let r = check(
            &state(RECREATE, &quotas),
            &target(),
            &spec,
            "api",
            false,
            &changes,
        );
        assert_eq!(r.outcome, CheckOutcome::Failed, "{}", r.detail);
        assert_eq!(
            r.detail,
            "ResourceQuota payments/limits limits.memory: used 1280Mi + increase 1Gi \
             (2 replicas x +512Mi) = 2304Mi exceeds hard 2Gi"
        );
        // The requests quota is not bound by a limit-only change.
        let r = check(
            &state(RECREATE, &quotas[..1]),
            &target(),
            &spec,
            "api",
            false,
            &changes,
        );
        assert_eq!(r.outcome, CheckOutcome::Skipped);
        assert_eq!(
            r.detail,
            "no ResourceQuota in payments bounds limits.memory"
        );
    }

    #[test]
    fn a_missing_request_defaults_to_the_limit_so_the_limit_raises_it() {
        let spec: PodSpec = serde_json::from_value(serde_json::json!({"containers": [
            {"name": "api", "resources": {"limits": {"memory": "512Mi"}}}
        ]}))
        .unwrap();
        let q = quota(
            "compute",
            serde_json::json!({"requests.memory": "1200Mi"}),
            Some(serde_json::json!({"requests.memory": "1Gi"})),
        );
        let changes = [change("limits", "512Mi", "640Mi")];
        let r = check(
            &state(RECREATE, &[q]),
            &target(),
            &spec,
            "api",
            false,
            &changes,
        );
        assert_eq!(r.outcome, CheckOutcome::Failed, "{}", r.detail);
        assert!(
            r.detail
                .contains("requests.memory: used 1Gi + increase 256Mi"),
            "{}",
            r.detail
        );
    }

    #[test]
    fn used_not_reported_yet_is_skipped_never_passed() {
        let q = quota(
            "compute",
            serde_json::json!({"requests.memory": "4Gi"}),
            None,
        );
        let r = check(
            &state(RECREATE, &[q]),
            &target(),
            &spec("512Mi"),
            "api",
            false,
            &bump(),
        );
        assert_eq!(r.outcome, CheckOutcome::Skipped);
        assert!(
            r.detail.starts_with(
                "status.used not reported yet for ResourceQuota payments/compute requests.memory"
            ),
            "{}",
            r.detail
        );
        // Even beside a quota that passes.
        let ok = quota(
            "ok",
            serde_json::json!({"memory": "8Gi"}),
            Some(serde_json::json!({"memory": "1280Mi"})),
        );
        let q = quota(
            "compute",
            serde_json::json!({"requests.memory": "4Gi"}),
            None,
        );
        let r = check(
            &state(RECREATE, &[ok, q]),
            &target(),
            &spec("512Mi"),
            "api",
            false,
            &bump(),
        );
        assert_eq!(r.outcome, CheckOutcome::Skipped, "{}", r.detail);
    }

    #[test]
    fn nothing_raised_or_no_bounding_quota_is_skipped() {
        let q = quota(
            "compute",
            serde_json::json!({"requests.memory": "1Gi"}),
            Some(serde_json::json!({"requests.memory": "1Gi"})),
        );
        let lower = [
            change("limits", "512Mi", "256Mi"),
            change("requests", "512Mi", "256Mi"),
        ];
        let r = check(
            &state(RECREATE, std::slice::from_ref(&q)),
            &target(),
            &spec("512Mi"),
            "api",
            false,
            &lower,
        );
        assert_eq!(r.outcome, CheckOutcome::Skipped);
        assert_eq!(
            r.detail,
            "the change raises no memory or cpu request or limit"
        );
        let pods_only = quota(
            "objects",
            serde_json::json!({"pods": "10", "requests.cpu": "1"}),
            Some(serde_json::json!({"pods": "2", "requests.cpu": "700m"})),
        );
        let r = check(
            &state(RECREATE, &[pods_only]),
            &target(),
            &spec("512Mi"),
            "api",
            false,
            &bump(),
        );
        assert_eq!(r.outcome, CheckOutcome::Skipped);
        assert_eq!(
            r.detail,
            "no ResourceQuota in payments bounds requests.memory, memory, limits.memory"
        );
        // A quota of another namespace does not bind.
        let mut other = q;
        other["metadata"]["namespace"] = "orders".into();
        let r = check(
            &state(RECREATE, &[other]),
            &target(),
            &spec("512Mi"),
            "api",
            false,
            &bump(),
        );
        assert_eq!(r.outcome, CheckOutcome::Skipped);
    }

    #[test]
    fn quotas_whose_scopes_do_not_select_the_pod_are_not_counted() {
        let mut terminating = quota(
            "batch",
            serde_json::json!({"requests.memory": "1Gi"}),
            Some(serde_json::json!({"requests.memory": "1Gi"})),
        );
        terminating["spec"]["scopes"] = serde_json::json!(["Terminating"]);
        let mut high = quota(
            "high",
            serde_json::json!({"requests.memory": "1Gi"}),
            Some(serde_json::json!({"requests.memory": "1Gi"})),
        );
        high["spec"]["scopeSelector"] = serde_json::json!({"matchExpressions": [
            {"scopeName": "PriorityClass", "operator": "In", "values": ["high"]}]});
        let r = check(
            &state(RECREATE, &[terminating, high.clone()]),
            &target(),
            &spec("512Mi"),
            "api",
            false,
            &bump(),
        );
        assert_eq!(r.outcome, CheckOutcome::Skipped, "{}", r.detail);
        assert!(
            r.detail.contains(
                "not counted, scopes do not select the pod: ResourceQuota payments/batch (scope Terminating), ResourceQuota payments/high (scope PriorityClass)"
            ),
            "{}",
            r.detail
        );
        // A pod of priority class `high` is selected, and the full quota fails it.
        let mut s = spec("512Mi");
        s.priority_class_name = Some("high".into());
        let r = check(
            &state(RECREATE, &[high]),
            &target(),
            &s,
            "api",
            false,
            &bump(),
        );
        assert_eq!(r.outcome, CheckOutcome::Failed, "{}", r.detail);
        assert!(
            r.detail
                .starts_with("ResourceQuota payments/high requests.memory")
        );
    }

    #[test]
    fn cpu_quotas_are_shown_in_millicores() {
        let q = quota(
            "compute",
            serde_json::json!({"cpu": "1"}),
            Some(serde_json::json!({"cpu": "700m"})),
        );
        let changes = [ResourceChange {
            kind: "requests".into(),
            resource: "cpu".into(),
            from: Quantity::parse("250m").ok().map(|q| q.0),
            to: Quantity::parse("500m").unwrap().0,
            to_text: "500m".into(),
        }];
        let r = check(
            &state(RECREATE, &[q]),
            &target(),
            &spec("512Mi"),
            "api",
            false,
            &changes,
        );
        assert_eq!(r.outcome, CheckOutcome::Failed, "{}", r.detail);
        assert_eq!(
            r.detail,
            "ResourceQuota payments/compute cpu: used 700m + increase 500m (2 replicas x +250m) = 1200m exceeds hard 1000m"
        );
    }
}
