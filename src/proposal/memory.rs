//! Sizing primitives: raise-memory-limit, raise-memory-request, raise-ephemeral-storage-limit.
//!
//! The arithmetic is the Kubernetes VPA recommender's OOM bump (`OOMBumpUpRatio` 1.2,
//! `OOMMinBumpUp` 100Mi), rounded up to 64Mi, capped at 2x the old value and at any LimitRange
//! max. Every number used is written into the basis.

use super::workload::{container, field_path, pod_spec, resource};
use super::{Change, Confidence, Ctx, Draft, Primitive, Refusal, Rollback};
use crate::detection::FaultId;
use crate::detection::evidence::{EvictionFacts, Facts};
use crate::gitops::locate::FieldTarget;
use crate::quantity::Quantity;

/// A sized new value with the words that justify it.
struct Sized {
    new: Quantity,
    text: String,
    basis: String,
}

/// An upper bound on a new value, with the words that name it in a refusal.
struct Cap {
    value: Quantity,
    /// e.g. `LimitRange shop/caps max memory`.
    words: String,
}

/// new = max(old × ratio, old + min_bump, observed × ratio), rounded, capped.
fn size(
    ctx: &Ctx,
    old_text: &str,
    observed: Option<Quantity>,
    cap_extra: Option<Cap>,
) -> Result<Sized, Refusal> {
    let p = ctx.policy;
    let (old, _) = Quantity::parse(old_text)
        .map_err(|e| format!("cannot size from the current value: {e}"))?;
    let by_ratio = old.scale(p.bump_ratio.0, p.bump_ratio.1);
    let by_min = Quantity::from_bytes(old.bytes() + p.min_bump_bytes);
    let ratio = p.bump_ratio.0 as f64 / p.bump_ratio.1 as f64;
    let mut parts = vec![
        format!("{old_text} × {ratio} = {by_ratio}"),
        format!(
            "{old_text} + {} = {by_min}",
            Quantity::from_bytes(p.min_bump_bytes)
        ),
    ];
    let mut raw = by_ratio.max(by_min);
    if let Some(obs) = observed {
        let by_obs = obs.scale(p.bump_ratio.0, p.bump_ratio.1);
        parts.push(format!("observed {obs} × {ratio} = {by_obs}"));
        raw = raw.max(by_obs);
    }
    let new = raw.round_up(p.round_bytes);
    let text = new.format_like(old_text);
    let ratio_cap = Cap {
        value: old.scale(p.cap_ratio.0, p.cap_ratio.1),
        words: format!(
            "the {}x rule (at most {}× the current value {old_text})",
            p.cap_ratio.0 / p.cap_ratio.1,
            p.cap_ratio.0 / p.cap_ratio.1
        ),
    };
    let mut cap_words = format!(
        "cap {}× the current value = {}",
        p.cap_ratio.0 / p.cap_ratio.1,
        ratio_cap.value
    );
    // The lowest cap binds; a refusal names it alone, so it never cites a cap the new value
    // stays under.
    let binding = match cap_extra {
        Some(extra) if extra.value < ratio_cap.value => {
            cap_words.push_str(&format!("; {} = {}", extra.words, extra.value));
            extra
        }
        Some(extra) => {
            cap_words.push_str(&format!("; {} (not binding)", extra.words));
            ratio_cap
        }
        None => ratio_cap,
    };
    if new > binding.value {
        return Err(Refusal(format!(
            "the sized value {text} (max of {}) exceeds {} = {}; a change this large needs a human: check for a leak or a workload change",
            parts.join(", "),
            binding.words,
            binding.value
        )));
    }
    let basis = format!(
        "max({}) = {raw}, rounded up to a {} boundary = {text} (VPA recommender OOMBumpUpRatio {ratio}, OOMMinBumpUp {}); {cap_words}.",
        parts.join(", "),
        Quantity::from_bytes(p.round_bytes),
        Quantity::from_bytes(p.min_bump_bytes),
    );
    Ok(Sized { new, text, basis })
}

/// The LimitRange max for one container resource in the namespace, if any.
fn limit_range_max(ctx: &Ctx, res: &str) -> Option<Cap> {
    let ns = ctx.finding.namespace.as_str();
    ctx.state
        .limit_ranges
        .iter()
        .filter(|lr| lr.metadata.namespace.as_deref().unwrap_or_default() == ns)
        .flat_map(|lr| {
            let name = lr.metadata.name.clone().unwrap_or_default();
            lr.spec
                .iter()
                .flat_map(|s| s.limits.iter())
                .filter_map(move |item| {
                    (item.type_ == "Container").then_some(())?;
                    let q = item.max.as_ref()?.get(res)?;
                    let (q, _) = Quantity::parse(&q.0).ok()?;
                    Some(Cap {
                        value: q,
                        words: format!("LimitRange {ns}/{name} max {res}"),
                    })
                })
        })
        .min_by_key(|c| c.value)
}

pub(super) fn raise_limit(ctx: &Ctx) -> Result<Draft, Refusal> {
    let f = ctx.finding;
    let name = f
        .container
        .clone()
        .ok_or("the OOM finding names no container")?;
    if ctx.history.prior_bumps >= ctx.policy.max_bumps {
        return Err(Refusal(format!(
            "container {name} was OOMKilled again after {} memory bumps for this incident, the leak stop ({} bumps per incident): a probable leak, no further bump",
            ctx.history.prior_bumps, ctx.policy.max_bumps
        )));
    }
    let (spec, prefix) = pod_spec(ctx.state, &f.namespace, &f.owner).ok_or_else(|| {
        format!(
            "{} {}/{} is not in the snapshot: cannot read its template",
            f.owner.kind, f.namespace, f.owner.name
        )
    })?;
    let c = container(&spec, &name, f.init_container).ok_or_else(|| {
        format!(
            "container {name} not found in the {} template",
            f.owner.kind
        )
    })?;
    let Some(limit) = resource(c, "limits", "memory") else {
        return Err(Refusal(format!(
            "container {name} has no memory limit, so the OOM kill came from the node or the pod cgroup, not the container's cap: check node memory pressure and the container's request"
        )));
    };
    let request = resource(c, "requests", "memory");
    let sized = size(ctx, &limit, None, limit_range_max(ctx, "memory"))?;
    let pods = ctx.all.iter().filter(|x| x.pod.is_some()).count();
    let max_restarts = ctx.facts().filter_map(Facts::restart_count).max();
    let seen = match (pods, max_restarts) {
        (0 | 1, Some(r)) => format!("restart count {r}"),
        (n, Some(r)) => format!("in {n} pods, restart counts up to {r}"),
        (n, None) => format!("in {n} pod(s)"),
    };
    let limit_field = field_path(prefix, &name, f.init_container, "resources.limits.memory");
    let change = Change {
        field: limit_field,
        from: limit.clone().into(),
        to: sized.text.clone().into(),
    };
    let mut also = Vec::new();
    let mut writes = vec![FieldTarget::Container {
        field: vec!["resources".into(), "limits".into(), "memory".into()],
        value: sized.text.clone().into(),
    }];
    let guaranteed = request
        .as_deref()
        .and_then(|r| Quantity::parse(r).ok())
        .zip(Quantity::parse(&limit).ok())
        .is_some_and(|((r, _), (l, _))| r == l);
    let qos_words = if guaranteed {
        also.push(Change {
            field: field_path(prefix, &name, f.init_container, "resources.requests.memory"),
            from: request.clone().unwrap_or_default().into(),
            to: sized.text.clone().into(),
        });
        writes.push(FieldTarget::Container {
            field: vec!["resources".into(), "requests".into(), "memory".into()],
            value: sized.text.clone().into(),
        });
        "Request equals limit (Guaranteed QoS): the request is raised with it to keep the QoS class.".to_string()
    } else {
        match &request {
            Some(r) => format!("Request {r} stays (Burstable QoS)."),
            None => "No request set; it stays unset.".to_string(),
        }
    };
    let mut rollback_changes = vec![Change {
        field: change.field.clone(),
        from: change.to.clone(),
        to: change.from.clone(),
    }];
    rollback_changes.extend(also.iter().map(|c| Change {
        field: c.field.clone(),
        from: c.to.clone(),
        to: c.from.clone(),
    }));
    Ok(Draft {
        key: ctx.key.clone(),
        fault: f.fault,
        primitive: Primitive::RaiseMemoryLimit,
        target: ctx.target(&name),
        basis: format!(
            "Container {name} was OOMKilled (reason OOMKilled, {seen}) at memory limit {limit}. New limit = {} {qos_words}",
            sized.basis
        ),
        rollback: Rollback {
            description: format!("set the memory limit of {name} back to {limit}"),
            changes: rollback_changes,
        },
        confidence: Confidence {
            est: if ctx.history.prior_bumps == 0 { 0.8 } else { 0.55 },
            why: "OOMKilled at the container limit with no measured peak; a second OOM means a leak is likely".into(),
        },
        rail: ctx.policy.rail,
        change,
        also,
        writes,
    })
}

/// Evictions: ephemeral storage over the container limit -> raise it; memory above the
/// request on a pressured node -> raise the request. Anything else escalates.
pub(super) fn after_eviction(ctx: &Ctx) -> Result<Draft, Refusal> {
    let f = ctx.finding;
    let evictions: Vec<&EvictionFacts> = ctx
        .facts()
        .filter_map(|x| match x {
            Facts::Eviction(e) => Some(e),
            _ => None,
        })
        .collect();
    // Each fact from the first eviction of the incident that states it.
    let first =
        |get: fn(&EvictionFacts) -> &Option<String>| evictions.iter().find_map(|e| get(e).clone());
    let message = first(|e| &e.message).unwrap_or_default();
    let res = first(|e| &e.resource).unwrap_or_default();
    let name = first(|e| &e.container)
        .or_else(|| f.container.clone())
        .ok_or_else(|| format!("eviction message names no container: {message:?}"))?;
    let (spec, prefix) = pod_spec(ctx.state, &f.namespace, &f.owner).ok_or_else(|| {
        format!(
            "{} {}/{} is not in the snapshot",
            f.owner.kind, f.namespace, f.owner.name
        )
    })?;
    let c = container(&spec, &name, false)
        .ok_or_else(|| format!("container {name} not found in the template"))?;
    let usage = first(|e| &e.usage)
        .and_then(|u| Quantity::parse(&u).ok())
        .map(|(q, _)| q);
    let over_own_limit = ctx.facts().any(|x| {
        matches!(x, Facts::Eviction(e) if e.eviction_kind.as_deref() == Some("container-limit"))
    });
    let (primitive, kind, words) = match res.as_str() {
        // A node low on disk evicts by usage, not by the container's limit: a larger limit
        // would not have kept this container running.
        "ephemeral-storage" if !over_own_limit => {
            return Err(Refusal(format!(
                "pod was evicted because its node ran low on ephemeral-storage while container {name} used {}; the container was not over its own limit, so raising it would not help: free disk on the node, or give the container an ephemeral-storage request that covers its usage",
                usage
                    .map(|u| u.to_string())
                    .unwrap_or_else(|| "an unreported amount".into())
            )));
        }
        "ephemeral-storage" => (
            Primitive::RaiseEphemeralStorageLimit,
            "limits",
            "ephemeral-storage limit",
        ),
        "memory" => (Primitive::RaiseMemoryRequest, "requests", "memory request"),
        _ => {
            return Err(Refusal(format!(
                "pod was evicted for {res:?}, which suture does not size: {message}"
            )));
        }
    };
    let Some(old) = resource(c, kind, &res) else {
        return Err(Refusal(format!(
            "pod was evicted for {res} but container {name} sets no {words}: choose one consciously (usage was {})",
            usage
                .map(|u| u.to_string())
                .unwrap_or_else(|| "not reported".into())
        )));
    };
    // A request may not exceed the limit: the limit caps a request bump.
    let cap = match primitive {
        Primitive::RaiseMemoryRequest => resource(c, "limits", "memory")
            .and_then(|l| Quantity::parse(&l).ok())
            .map(|(q, _)| Cap {
                value: q,
                words: "the container's memory limit".to_string(),
            }),
        _ => limit_range_max(ctx, &res),
    };
    // Evicted while within its request: the node was short because of others, and a larger
    // request for this pod would not have saved it.
    let within_request = Quantity::parse(&old)
        .ok()
        .zip(usage)
        .is_some_and(|((request, _), used)| used <= request);
    if primitive == Primitive::RaiseMemoryRequest && within_request {
        return Err(Refusal(format!(
            "pod was evicted for memory while container {name} used {}, within its request {old}: the node was short of memory because of other pods or system use, and a larger request would not have prevented it; check the node's allocatable memory and the other pods' usage",
            usage.map(|u| u.to_string()).unwrap_or_default()
        )));
    }
    let sized = size(ctx, &old, usage, cap)?;
    let field = field_path(prefix, &name, false, &format!("resources.{kind}.{res}"));
    let change = Change {
        field: field.clone(),
        from: old.clone().into(),
        to: sized.text.clone().into(),
    };
    Ok(Draft {
        key: ctx.key.clone(),
        fault: FaultId::Evicted,
        primitive,
        target: ctx.target(&name),
        basis: format!("Pod evicted ({message}). New {words} = {} ", sized.basis)
            .trim_end()
            .to_string(),
        rollback: Rollback {
            description: format!("set the {words} of {name} back to {old}"),
            changes: vec![Change {
                field,
                from: sized.text.clone().into(),
                to: old.clone().into(),
            }],
        },
        confidence: Confidence {
            est: 0.7,
            why: "eviction with reported usage; node-level pressure can recur regardless".into(),
        },
        rail: ctx.policy.rail,
        change,
        also: Vec::new(),
        writes: vec![FieldTarget::Container {
            field: vec!["resources".into(), kind.into(), res.clone()],
            value: sized.new.format_like(&old).into(),
        }],
    })
}
