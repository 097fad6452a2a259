//! ResourceQuota as the real apiserver and quota controller apply it to pods: what a pod counts
//! (`requests.memory`/`memory`, `requests.cpu`/`cpu`, `limits.memory`, `limits.cpu`, `pods`),
//! which quotas select it (scopes), the usage of a namespace, and admission on pod create
//! (403 `exceeded quota`, `failed quota: ... must specify`).
//!
//! Written apart from suture's `resource_quota` check on purpose (the simulator is the oracle).
//! Simplifications: only pods are counted (no `count/<resource>`, services, PVCs); the scopes
//! are `Terminating`, `NotTerminating`, `BestEffort`, `NotBestEffort` and a `PriorityClass`
//! scopeSelector (other scopes select nothing); pod overhead is ignored. Admission computes
//! `used` from the stored pods under the store lock rather than from `status.used`, which is
//! what the real admission's increment of `status.used` amounts to without its races.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::quantity;

/// The compute resources counted per pod, with the `hard` names that bound them.
const COMPUTE: [(&str, &str); 6] = [
    ("requests.memory", "requests.memory"),
    ("memory", "requests.memory"),
    ("requests.cpu", "requests.cpu"),
    ("cpu", "requests.cpu"),
    ("limits.memory", "limits.memory"),
    ("limits.cpu", "limits.cpu"),
];

fn is_memory(name: &str) -> bool {
    name.ends_with("memory")
}

/// A pod is counted while it is not terminal.
pub fn counted(pod: &Value) -> bool {
    !matches!(
        pod.pointer("/status/phase").and_then(Value::as_str),
        Some("Succeeded" | "Failed")
    )
}

/// One container's value of `requests.X`/`limits.X` (millis for cpu, bytes for memory); a
/// missing request is the limit (the apiserver's defaulting).
fn container_value(c: &Value, key: &str) -> Option<i128> {
    let (kind, res) = key.split_once('.')?;
    let get = |k: &str| -> Option<i128> {
        let text = c.pointer(&format!("/resources/{k}/{res}"))?.as_str()?;
        if res == "memory" {
            quantity::bytes(text)
        } else {
            quantity::millicores(text)
        }
    };
    if kind == "limits" {
        get("limits")
    } else {
        get("requests").or_else(|| get("limits"))
    }
}

fn containers<'a>(pod: &'a Value, field: &str) -> impl Iterator<Item = &'a Value> {
    pod.pointer(&format!("/spec/{field}"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

/// What one pod counts, by quota resource name (`pods` is 1).
pub fn pod_usage(pod: &Value) -> BTreeMap<&'static str, i128> {
    let mut out = BTreeMap::new();
    out.insert("pods", 1);
    for key in [
        "requests.memory",
        "requests.cpu",
        "limits.memory",
        "limits.cpu",
    ] {
        let sum: i128 = containers(pod, "containers")
            .filter_map(|c| container_value(c, key))
            .sum();
        let init = containers(pod, "initContainers")
            .filter_map(|c| container_value(c, key))
            .max()
            .unwrap_or(0);
        out.insert(key, sum.max(init));
    }
    out
}

/// The usage of `name` (a `hard` key) by a pod's usage map.
fn usage_of(usage: &BTreeMap<&'static str, i128>, name: &str) -> Option<i128> {
    if name == "pods" {
        return usage.get("pods").copied();
    }
    let (_, key) = COMPUTE.iter().find(|(n, _)| *n == name)?;
    usage.get(key).copied()
}

fn best_effort(pod: &Value) -> bool {
    containers(pod, "containers")
        .chain(containers(pod, "initContainers"))
        .all(|c| {
            let empty = |k: &str| {
                c.pointer(&format!("/resources/{k}"))
                    .and_then(Value::as_object)
                    .is_none_or(|m| m.is_empty())
            };
            empty("requests") && empty("limits")
        })
}

/// The quota's scopes select `pod`.
pub fn selects(quota: &Value, pod: &Value) -> bool {
    let terminating = pod
        .pointer("/spec/activeDeadlineSeconds")
        .is_some_and(|v| !v.is_null());
    let pc = pod
        .pointer("/spec/priorityClassName")
        .and_then(Value::as_str)
        .unwrap_or("");
    let scope_ok = |scope: &str, op: &str, values: &[&str]| match scope {
        "Terminating" => terminating,
        "NotTerminating" => !terminating,
        "BestEffort" => best_effort(pod),
        "NotBestEffort" => !best_effort(pod),
        "PriorityClass" => match op {
            "In" => values.contains(&pc),
            "NotIn" => !values.contains(&pc),
            "Exists" => !pc.is_empty(),
            "DoesNotExist" => pc.is_empty(),
            _ => false,
        },
        _ => false,
    };
    let scopes = quota
        .pointer("/spec/scopes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str);
    for scope in scopes {
        if !scope_ok(scope, "Exists", &[]) {
            return false;
        }
    }
    let exprs = quota
        .pointer("/spec/scopeSelector/matchExpressions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    for e in exprs {
        let s = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("");
        let values: Vec<&str> = e
            .get("values")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        if !scope_ok(s("scopeName"), s("operator"), &values) {
            return false;
        }
    }
    true
}

/// The quantities of `spec.hard` this module tracks, parsed (others are left alone).
fn hard_of(quota: &Value) -> BTreeMap<String, i128> {
    quota
        .pointer("/spec/hard")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter(|(k, _)| k.as_str() == "pods" || COMPUTE.iter().any(|(n, _)| n == k))
        .filter_map(|(k, v)| {
            let text = v.as_str()?;
            let n = if is_memory(k) || k == "pods" {
                quantity::bytes(text)
            } else {
                quantity::millicores(text)
            }?;
            Some((k.clone(), n))
        })
        .collect()
}

/// A quantity as the apiserver prints it: memory in the largest binary unit that divides it,
/// cpu in cores or millicores, counts as integers.
pub fn format(name: &str, v: i128) -> String {
    if is_memory(name) {
        for (unit, size) in [
            ("Ei", 1i128 << 60),
            ("Pi", 1 << 50),
            ("Ti", 1 << 40),
            ("Gi", 1 << 30),
            ("Mi", 1 << 20),
            ("Ki", 1 << 10),
        ] {
            if v != 0 && v % size == 0 {
                return format!("{}{unit}", v / size);
            }
        }
        v.to_string()
    } else if name == "pods" {
        v.to_string()
    } else if v % 1000 == 0 {
        (v / 1000).to_string()
    } else {
        format!("{v}m")
    }
}

/// `status.used` of a quota over `pods` (all pods of its namespace): every tracked `hard`
/// resource, summed over the non-terminal pods its scopes select.
pub fn used(quota: &Value, pods: &[&Value]) -> BTreeMap<String, String> {
    let usages: Vec<BTreeMap<&'static str, i128>> = pods
        .iter()
        .filter(|p| counted(p) && selects(quota, p))
        .map(|p| pod_usage(p))
        .collect();
    hard_of(quota)
        .keys()
        .map(|name| {
            let total: i128 = usages.iter().filter_map(|u| usage_of(u, name)).sum();
            (name.clone(), format(name, total))
        })
        .collect()
}

/// Quota admission of a new pod: `Err(message)` (after `pods "x" is forbidden: `) when it
/// would take some quota of its namespace over `hard`, or lacks a value a quota bounds.
/// `quotas` are the namespace's quotas (sorted by name), `pods` its stored pods.
pub fn admit(pod: &Value, quotas: &[&Value], pods: &[&Value]) -> Result<(), String> {
    let usage = pod_usage(pod);
    for quota in quotas {
        if !selects(quota, pod) {
            continue;
        }
        let qname = quota
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        let hard = hard_of(quota);
        // A bounded compute resource every container must set (requests default to limits).
        let mut missing: Vec<&str> = hard
            .keys()
            .filter_map(|name| COMPUTE.iter().find(|(n, _)| n == name).map(|(_, k)| *k))
            .filter(|key| containers(pod, "containers").any(|c| container_value(c, key).is_none()))
            .collect();
        missing.sort();
        missing.dedup();
        if !missing.is_empty() {
            return Err(format!(
                "failed quota: {qname}: must specify {}",
                missing.join(",")
            ));
        }
        let used_now: Vec<BTreeMap<&'static str, i128>> = pods
            .iter()
            .filter(|p| counted(p) && selects(quota, p))
            .map(|p| pod_usage(p))
            .collect();
        let mut exceeded = Vec::new();
        for (name, limit) in &hard {
            let Some(requested) = usage_of(&usage, name) else {
                continue;
            };
            let used: i128 = used_now.iter().filter_map(|u| usage_of(u, name)).sum();
            if requested > 0 && used + requested > *limit {
                exceeded.push((name.clone(), requested, used, *limit));
            }
        }
        if !exceeded.is_empty() {
            // (resource, requested, used, limited) -> `a=1,b=2` for the column at `i`.
            let list = |i: usize| {
                exceeded
                    .iter()
                    .map(|(n, r, u, l)| format!("{n}={}", format(n, [*r, *u, *l][i])))
                    .collect::<Vec<_>>()
                    .join(",")
            };
            return Err(format!(
                "exceeded quota: {qname}, requested: {}, used: {}, limited: {}",
                list(0),
                list(1),
                list(2),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pod(memory: &str, phase: &str) -> Value {
        json!({"spec": {"containers": [
            {"name": "log-shipper", "resources": {"requests": {"cpu": "100m", "memory": "128Mi"},
                "limits": {"cpu": "100m", "memory": "128Mi"}}},
            {"name": "api", "resources": {"requests": {"cpu": "250m", "memory": memory},
                "limits": {"cpu": "250m", "memory": memory}}}]},
            "status": {"phase": phase}})
    }

    fn quota(hard: Value) -> Value {
        json!({"metadata": {"name": "compute", "namespace": "payments"}, "spec": {"hard": hard}})
    }

    #[test]
    fn used_sums_non_terminal_pods_in_the_quota_units() {
        let q = quota(
            json!({"requests.memory": "2Gi", "limits.cpu": "2", "pods": "10", "memory": "3Gi"}),
        );
        let (a, b, done) = (
            pod("512Mi", "Running"),
            pod("512Mi", "Pending"),
            pod("512Mi", "Succeeded"),
        );
        let used = used(&q, &[&a, &b, &done]);
        assert_eq!(used["requests.memory"], "1280Mi");
        assert_eq!(used["memory"], "1280Mi");
        assert_eq!(used["limits.cpu"], "700m");
        assert_eq!(used["pods"], "2");
    }

    #[test]
    fn admission_names_quota_requested_used_and_limited() {
        let q = quota(json!({"requests.memory": "1408Mi"}));
        let (a, b) = (pod("512Mi", "Running"), pod("512Mi", "Running"));
        let err = admit(&pod("640Mi", "Pending"), &[&q], &[&a, &b]).unwrap_err();
        assert_eq!(
            err,
            "exceeded quota: compute, requested: requests.memory=768Mi, used: requests.memory=1280Mi, limited: requests.memory=1408Mi"
        );
        // One old pod gone: 640Mi + 768Mi = 1408Mi fits exactly.
        assert_eq!(admit(&pod("640Mi", "Pending"), &[&q], &[&a]), Ok(()));
        let unset = json!({"spec": {"containers": [{"name": "x"}]}});
        assert_eq!(
            admit(&unset, &[&q], &[]).unwrap_err(),
            "failed quota: compute: must specify requests.memory"
        );
    }

    #[test]
    fn scopes_select_pods() {
        let mut q = quota(json!({"pods": "0"}));
        q["spec"]["scopes"] = json!(["Terminating"]);
        assert_eq!(admit(&pod("1Gi", "Pending"), &[&q], &[]), Ok(()));
        let mut job = pod("1Gi", "Pending");
        job["spec"]["activeDeadlineSeconds"] = json!(60);
        assert!(admit(&job, &[&q], &[]).unwrap_err().contains("pods=1"));
        let mut high = quota(json!({"pods": "0"}));
        high["spec"]["scopeSelector"] = json!({"matchExpressions": [
            {"scopeName": "PriorityClass", "operator": "In", "values": ["high"]}]});
        assert!(selects(
            &high,
            &json!({"spec": {"priorityClassName": "high"}})
        ));
        assert!(!selects(&high, &pod("1Gi", "Pending")));
    }

    #[test]
    fn quantities_print_like_the_apiserver() {
        assert_eq!(format("requests.memory", 1280 << 20), "1280Mi");
        assert_eq!(format("memory", 2 << 30), "2Gi");
        assert_eq!(format("memory", 0), "0");
        assert_eq!(format("cpu", 2000), "2");
        assert_eq!(format("limits.cpu", 350), "350m");
    }
}
