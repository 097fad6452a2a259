//! `node_fit`: a raised request fits some schedulable node. Pods already bound to a node count
//! against it, including the workload's own pod being replaced (conservative: a rolling update
//! runs the new pod beside the old one).

use k8s_openapi::api::core::v1::{Node, NodeSelectorRequirement, PodSpec, Toleration};

use super::{CheckOutcome, CheckResult, ResourceChange, show};
use crate::quantity::Quantity;
use crate::state::ClusterState;

const NAME: &str = "node_fit";

pub fn check(
    state: &ClusterState,
    spec: &PodSpec,
    container: &str,
    changes: &[ResourceChange],
) -> CheckResult {
    let raised: Vec<&ResourceChange> = changes
        .iter()
        .filter(|c| c.kind == "requests" && (c.resource == "memory" || c.resource == "cpu"))
        .filter(|c| c.from.is_none_or(|f| c.to > f))
        .collect();
    if raised.is_empty() {
        return CheckResult::new(NAME, CheckOutcome::Skipped, "the change raises no request");
    }
    // The pod's request per raised resource, with the target container at its new value.
    let needs: Vec<(&str, i128)> = raised
        .iter()
        .map(|c| {
            let others: i128 = spec
                .containers
                .iter()
                .filter(|k| k.name != container)
                .filter_map(|k| k.resources.as_ref()?.requests.as_ref()?.get(&c.resource))
                .filter_map(|q| Quantity::parse(&q.0).ok())
                .map(|q| q.0.millis())
                .sum();
            (c.resource.as_str(), others + c.to.millis())
        })
        .collect();
    let want = needs
        .iter()
        .map(|(r, m)| format!("{r} {}", show(r, *m)))
        .collect::<Vec<_>>()
        .join(", ");
    let mut rejected = Vec::new();
    for node in &state.nodes {
        let name = node.metadata.name.clone().unwrap_or_default();
        if let Some(why) = excluded(node, spec) {
            rejected.push(format!("{name}: {why}"));
            continue;
        }
        let mut short = Vec::new();
        let mut free_all = Vec::new();
        for (res, need) in &needs {
            let free = allocatable(node, res) - bound_requests(state, &name, res);
            free_all.push(format!("{res} {} free", show(res, free)));
            if free < *need {
                short.push(format!("{res} {} free", show(res, free)));
            }
        }
        if short.is_empty() {
            return CheckResult::new(
                NAME,
                CheckOutcome::Passed,
                format!(
                    "pod request {want} fits node {name} ({}, after the requests of pods bound to it)",
                    free_all.join(", ")
                ),
            );
        }
        rejected.push(format!("{name}: {}", short.join(", ")));
    }
    CheckResult::new(
        NAME,
        CheckOutcome::Failed,
        format!(
            "pod request {want} fits no schedulable node: {}",
            if rejected.is_empty() {
                "no nodes in the cluster".to_string()
            } else {
                rejected.join("; ")
            }
        ),
    )
}

/// Why the pod cannot go to `node` at all, whatever its free resources.
fn excluded(node: &Node, spec: &PodSpec) -> Option<String> {
    let nspec = node.spec.clone().unwrap_or_default();
    if nspec.unschedulable == Some(true) {
        return Some("unschedulable (cordoned)".into());
    }
    let ready = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"))
        .map(|c| c.status == "True");
    if ready == Some(false) {
        return Some("NotReady".into());
    }
    let tolerations = spec.tolerations.clone().unwrap_or_default();
    for t in nspec.taints.unwrap_or_default() {
        if (t.effect == "NoSchedule" || t.effect == "NoExecute")
            && !tolerations.iter().any(|tol| tolerates(tol, &t))
        {
            let v = t
                .value
                .as_deref()
                .map(|v| format!("={v}"))
                .unwrap_or_default();
            return Some(format!("taint {}{v}:{} not tolerated", t.key, t.effect));
        }
    }
    let labels = node.metadata.labels.clone().unwrap_or_default();
    for (k, v) in spec.node_selector.clone().unwrap_or_default() {
        if labels.get(&k) != Some(&v) {
            return Some(format!("nodeSelector {k}={v} does not match"));
        }
    }
    let terms = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|n| {
            n.required_during_scheduling_ignored_during_execution
                .as_ref()
        })
        .map(|r| r.node_selector_terms.clone());
    if let Some(terms) = terms {
        // Terms are ORed, expressions within a term ANDed.
        let any = terms.iter().any(|t| {
            t.match_expressions
                .as_deref()
                .unwrap_or_default()
                .iter()
                .all(|e| matches(e, &labels))
        });
        if !any {
            return Some("required nodeAffinity does not match".into());
        }
    }
    None
}

fn tolerates(tol: &Toleration, taint: &k8s_openapi::api::core::v1::Taint) -> bool {
    if let Some(e) = tol.effect.as_deref().filter(|e| !e.is_empty())
        && e != taint.effect
    {
        return false;
    }
    let key = tol.key.as_deref().unwrap_or_default();
    match tol.operator.as_deref() {
        Some("Exists") => key.is_empty() || key == taint.key,
        _ => {
            key == taint.key
                && tol.value.as_deref().unwrap_or_default()
                    == taint.value.as_deref().unwrap_or_default()
        }
    }
}

fn matches(
    e: &NodeSelectorRequirement,
    labels: &std::collections::BTreeMap<String, String>,
) -> bool {
    let values = e.values.clone().unwrap_or_default();
    let v = labels.get(&e.key);
    match e.operator.as_str() {
        "In" => v.is_some_and(|v| values.contains(v)),
        "NotIn" => v.is_none_or(|v| !values.contains(v)),
        "Exists" => v.is_some(),
        "DoesNotExist" => v.is_none(),
        // Gt/Lt: not evaluated; do not exclude the node on them.
        _ => true,
    }
}

fn allocatable(node: &Node, res: &str) -> i128 {
    node.status
        .as_ref()
        .and_then(|s| s.allocatable.as_ref())
        .and_then(|a| a.get(res))
        .and_then(|q| Quantity::parse(&q.0).ok())
        .map_or(0, |q| q.0.millis())
}

/// The requests of the running pods bound to `node`.
fn bound_requests(state: &ClusterState, node: &str, res: &str) -> i128 {
    state
        .pods
        .iter()
        .filter(|p| {
            let phase = p.status.as_ref().and_then(|s| s.phase.as_deref());
            !matches!(phase, Some("Succeeded") | Some("Failed"))
        })
        .filter_map(|p| p.spec.as_ref())
        .filter(|s| s.node_name.as_deref() == Some(node))
        .map(|s| super::spec_request_millis(s, res))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proposal::Change;

    fn node(name: &str, mem: &str, extra: &str) -> String {
        format!(
            "apiVersion: v1\nkind: Node\nmetadata:\n  name: {name}\n  labels:\n    pool: {name}\n{extra}status:\n  allocatable:\n    memory: {mem}\n    cpu: '4'\n  conditions:\n  - type: Ready\n    status: 'True'\n---\n"
        )
    }

    const BOUND: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: other\n  namespace: shop\nspec:\n  nodeName: small\n  containers:\n  - name: x\n    resources:\n      requests:\n        memory: 1Gi\n---\n";

    fn raise(to: &str) -> Vec<ResourceChange> {
        let c = Change {
            field: "spec.template.spec.containers[name=app].resources.requests.memory".into(),
            from: "512Mi".into(),
            to: to.into(),
        };
        super::super::resource_changes(&[&c])
    }

    fn spec(v: serde_json::Value) -> PodSpec {
        let mut v = v;
        v["containers"] = serde_json::json!([{"name": "app"}]);
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn fits_the_roomy_node_after_bound_requests() {
        let st = ClusterState::from_text(&format!(
            "{}{}{BOUND}",
            node("small", "2Gi", ""),
            node("big", "8Gi", "")
        ))
        .unwrap();
        // small: 2Gi - 1Gi bound = 1Gi free < 1536Mi; big fits.
        let r = check(&st, &spec(serde_json::json!({})), "app", &raise("1536Mi"));
        assert_eq!(r.outcome, CheckOutcome::Passed, "{}", r.detail);
        assert!(
            r.detail.contains("node big") && r.detail.contains("memory 8Gi free"),
            "{}",
            r.detail
        );
        let r = check(&st, &spec(serde_json::json!({})), "app", &raise("1Gi"));
        assert!(r.detail.contains("node small"), "{}", r.detail);
    }

    #[test]
    fn untolerated_taint_and_cordon_and_selector_exclude() {
        let taint =
            "spec:\n  taints:\n  - key: dedicated\n    value: gpu\n    effect: NoSchedule\n";
        let st = ClusterState::from_text(&format!(
            "{}{}{}",
            node("small", "1Gi", ""),
            node("gpu", "16Gi", taint),
            node("cordoned", "16Gi", "spec:\n  unschedulable: true\n")
        ))
        .unwrap();
        let r = check(&st, &spec(serde_json::json!({})), "app", &raise("2Gi"));
        assert_eq!(r.outcome, CheckOutcome::Failed);
        assert!(
            r.detail
                .contains("gpu: taint dedicated=gpu:NoSchedule not tolerated"),
            "{}",
            r.detail
        );
        assert!(r.detail.contains("cordoned: unschedulable"), "{}", r.detail);
        assert!(r.detail.contains("small: memory 1Gi free"), "{}", r.detail);
        // Tolerating the taint lets the gpu node take it.
        let tol = spec(
            serde_json::json!({"tolerations": [{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}]}),
        );
        let r = check(&st, &tol, "app", &raise("2Gi"));
        assert!(
            r.outcome == CheckOutcome::Passed && r.detail.contains("node gpu"),
            "{}",
            r.detail
        );
        // ... unless a nodeSelector excludes the only roomy node.
        let mut sel = tol.clone();
        sel.node_selector = Some([("pool".to_string(), "small".to_string())].into());
        let r = check(&st, &sel, "app", &raise("2Gi"));
        assert_eq!(r.outcome, CheckOutcome::Failed);
        assert!(
            r.detail
                .contains("gpu: nodeSelector pool=small does not match"),
            "{}",
            r.detail
        );
        // Required nodeAffinity NotIn does the same.
        let aff = spec(
            serde_json::json!({"tolerations": [{"operator": "Exists"}], "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [{"key": "pool", "operator": "NotIn", "values": ["gpu"]}]}]}}}}),
        );
        let r = check(&st, &aff, "app", &raise("2Gi"));
        assert!(
            r.detail
                .contains("gpu: required nodeAffinity does not match"),
            "{}",
            r.detail
        );
    }

    #[test]
    fn skipped_without_a_raised_request() {
        let st = ClusterState::default();
        let r = check(&st, &spec(serde_json::json!({})), "app", &raise("256Mi"));
        assert_eq!(r.outcome, CheckOutcome::Skipped);
    }

    /// The spec the check reads is the workload's template as the watchers and snapshots
    /// decode it: its tolerations survive decoding, so a pool the pods tolerate counts.
    #[test]
    fn a_decoded_workload_keeps_the_tolerations_its_pods_schedule_with() {
        let taint =
            "spec:\n  taints:\n  - key: dedicated\n    value: gpu\n    effect: NoSchedule\n";
        let deployment = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  template:\n    spec:\n      tolerations:\n      - key: dedicated\n        operator: Equal\n        value: gpu\n        effect: NoSchedule\n      containers:\n      - name: app\n        resources:\n          requests:\n            memory: 512Mi\n---\n";
        let st = ClusterState::from_text(&format!(
            "{}{}{deployment}",
            node("small", "1Gi", ""),
            node("gpu", "16Gi", taint)
        ))
        .unwrap();
        let web = crate::objref::ObjectRef::workload(
            crate::objref::WorkloadKind::Deployment,
            "shop",
            "web",
        );
        let (spec, _) = crate::proposal::workload::pod_spec(&st, "shop", &web).unwrap();
        let r = check(&st, &spec, "app", &raise("2Gi"));
        assert!(
            r.outcome == CheckOutcome::Passed && r.detail.contains("node gpu"),
            "{}",
            r.detail
        );
    }
}
