//! The namespace's LimitRanges allow the new values: every `Container` item's `max` and `min`
//! bound both requests and limits (the API server's LimitRanger rejects a pod outside them).

use super::{CheckOutcome, CheckResult, ResourceChange};
use crate::quantity::Quantity;
use crate::state::ClusterState;

const NAME: &str = "limit_range";

pub fn check(state: &ClusterState, namespace: &str, changes: &[ResourceChange]) -> CheckResult {
    if changes.is_empty() {
        return CheckResult::new(NAME, CheckOutcome::Skipped, "the change sets no resource");
    }
    let mut bounds = Vec::new();
    for lr in &state.limit_ranges {
        if lr.metadata.namespace.as_deref() != Some(namespace) {
            continue;
        }
        let lr_name = lr.metadata.name.as_deref().unwrap_or_default();
        let items = lr.spec.as_ref().map(|s| s.limits.as_slice()).unwrap_or(&[]);
        for item in items.iter().filter(|i| i.type_ == "Container") {
            for c in changes {
                let max = item.max.as_ref().and_then(|m| m.get(&c.resource));
                if let Some(q) = max.and_then(|q| Quantity::parse(&q.0).ok()).map(|q| q.0) {
                    let shown = max.map(|m| m.0.as_str()).unwrap_or_default();
                    if c.to > q {
                        return CheckResult::new(
                            NAME,
                            CheckOutcome::Failed,
                            format!(
                                "{}.{} {} exceeds LimitRange {namespace}/{lr_name} max {} {shown}",
                                c.kind, c.resource, c.to_text, c.resource
                            ),
                        );
                    }
                    bounds.push(format!("{} max {shown} ({lr_name})", c.resource));
                }
                let min = item.min.as_ref().and_then(|m| m.get(&c.resource));
                if let Some(q) = min.and_then(|q| Quantity::parse(&q.0).ok()).map(|q| q.0) {
                    let shown = min.map(|m| m.0.as_str()).unwrap_or_default();
                    if c.to < q {
                        return CheckResult::new(
                            NAME,
                            CheckOutcome::Failed,
                            format!(
                                "{}.{} {} is below LimitRange {namespace}/{lr_name} min {} {shown}",
                                c.kind, c.resource, c.to_text, c.resource
                            ),
                        );
                    }
                }
            }
        }
    }
    if bounds.is_empty() {
        return CheckResult::new(
            NAME,
            CheckOutcome::Passed,
            format!("no LimitRange in {namespace} bounds the changed values"),
        );
    }
    bounds.sort();
    bounds.dedup();
    CheckResult::new(
        NAME,
        CheckOutcome::Passed,
        format!("within {}", bounds.join(", ")),
    )
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::LimitRange;

    use super::*;

    fn state(max: &str, min: &str) -> ClusterState {
        let lr: LimitRange = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "caps", "namespace": "payments"},
            "spec": {"limits": [
                {"type": "Pod", "max": {"memory": "100Mi"}},
                {"type": "Container", "max": {"memory": max}, "min": {"memory": min}}
            ]}
        }))
        .unwrap();
        ClusterState {
            limit_ranges: vec![lr],
            ..ClusterState::default()
        }
    }

    fn limit(to: &str) -> ResourceChange {
        ResourceChange {
            kind: "limits".into(),
            resource: "memory".into(),
            from: Quantity::parse("512Mi").ok().map(|q| q.0),
            to: Quantity::parse(to).unwrap().0,
            to_text: to.into(),
        }
    }

    #[test]
    fn a_value_over_the_container_max_fails_naming_the_max() {
        let r = check(&state("1Gi", "64Mi"), "payments", &[limit("1280Mi")]);
        assert_eq!(r.outcome, CheckOutcome::Failed);
        assert_eq!(
            r.detail,
            "limits.memory 1280Mi exceeds LimitRange payments/caps max memory 1Gi"
        );
    }

    #[test]
    fn a_value_within_the_bounds_passes_and_the_pod_item_does_not_bind_a_container() {
        // The Pod item's 100Mi max is not a Container bound.
        let r = check(&state("1Gi", "64Mi"), "payments", &[limit("640Mi")]);
        assert_eq!(r.outcome, CheckOutcome::Passed, "{}", r.detail);
        assert_eq!(r.detail, "within memory max 1Gi (caps)");
        let r = check(&state("1Gi", "64Mi"), "payments", &[limit("1Gi")]);
        assert_eq!(r.outcome, CheckOutcome::Passed, "the max itself is allowed");
    }

    #[test]
    fn a_value_under_the_min_fails_and_other_namespaces_do_not_bind() {
        let r = check(&state("1Gi", "64Mi"), "payments", &[limit("32Mi")]);
        assert_eq!(r.outcome, CheckOutcome::Failed);
        assert!(
            r.detail
                .contains("below LimitRange payments/caps min memory 64Mi")
        );
        let r = check(&state("1Gi", "64Mi"), "orders", &[limit("2Gi")]);
        assert_eq!(r.outcome, CheckOutcome::Passed);
        assert_eq!(
            r.detail,
            "no LimitRange in orders bounds the changed values"
        );
        let r = check(&state("1Gi", "64Mi"), "payments", &[]);
        assert_eq!(r.outcome, CheckOutcome::Skipped);
    }
}
