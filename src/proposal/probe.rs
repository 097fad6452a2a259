//! tune-probe: only for kills during startup. A slow start is given a startupProbe whose budget
//! (`initialDelaySeconds + periodSeconds × failureThreshold`) covers the observed start time
//! × 1.5; the liveness probe itself is left as it is, so a hung app is still restarted.

use k8s_openapi::api::core::v1::Probe;

use super::workload::{container, field_path, pod_spec};
use super::{Change, Confidence, Ctx, Draft, Primitive, Refusal, Rollback};
use crate::detection::FaultId;
use crate::detection::evidence::{Facts, ProbeFacts};
use crate::gitops::locate::FieldTarget;

/// Longest startup budget suture proposes on its own; beyond this a human decides.
const MAX_STARTUP_SECONDS: i64 = 600;

fn budget(p: &Probe) -> i64 {
    let delay = i64::from(p.initial_delay_seconds.unwrap_or(0));
    let period = i64::from(p.period_seconds.unwrap_or(10));
    let threshold = i64::from(p.failure_threshold.unwrap_or(3));
    delay + period * threshold
}

pub(super) fn tune(ctx: &Ctx, fault: FaultId) -> Result<Draft, Refusal> {
    let f = ctx.finding;
    let name = f
        .container
        .clone()
        .ok_or("the probe finding names no container")?;
    let probes: Vec<&ProbeFacts> = ctx
        .facts()
        .filter_map(|x| match x {
            Facts::Probe(p) => Some(p),
            _ => None,
        })
        .collect();
    let during_startup = probes.iter().any(|p| p.during_startup == Some(Some(true)));
    let observed_start = probes.iter().find_map(|p| p.observed_start_seconds);
    // Unknown (no start/finish time of the kills, or no liveness probe in the spec) is neither
    // a slow start nor a failure while running; say only what the evidence shows.
    let timing_known = probes
        .iter()
        .any(|p| matches!(p.during_startup, Some(Some(_))));
    if fault == FaultId::LivenessProbeFailure && !timing_known {
        return Err(Refusal(format!(
            "liveness probe of container {name} kills it, but its uptime at the kills is not known (no start and finish time of its last termination, or no liveness probe in the spec), so suture cannot tell a slow start from an app turning unhealthy; check how long it runs before each kill. Restarts: {}",
            f.evidence
                .facts()
                .restart_count()
                .map(|v| v.to_string())
                .unwrap_or_else(|| "unknown".into())
        )));
    }
    if fault == FaultId::LivenessProbeFailure && !during_startup {
        return Err(Refusal(format!(
            "liveness probe of container {name} kills it after it had started: the app turns unhealthy while running; loosening the probe would hide that. Restarts: {}",
            f.evidence
                .facts()
                .restart_count()
                .map(|v| v.to_string())
                .unwrap_or_else(|| "unknown".into())
        )));
    }
    let (spec, prefix) = pod_spec(ctx.state, &f.namespace, &f.owner).ok_or_else(|| {
        format!(
            "{} {}/{} is not in the snapshot",
            f.owner.kind, f.namespace, f.owner.name
        )
    })?;
    let c = container(&spec, &name, f.init_container)
        .ok_or_else(|| format!("container {name} not in the template"))?;
    let (num, den) = ctx.policy.start_margin;
    let margin = num as f64 / den as f64;
    let startup = c.startup_probe.as_ref();
    let current_budget = startup
        .or(c.liveness_probe.as_ref())
        .map(budget)
        .unwrap_or(30);
    let observed = observed_start.unwrap_or(current_budget);
    // The app needed at least `observed` seconds; cover that with a margin, and never less
    // than the budget that already proved too short.
    let needed = ((observed.max(current_budget) * num) + den - 1) / den;
    if needed > MAX_STARTUP_SECONDS {
        return Err(Refusal(format!(
            "container {name} would need a startup budget of {needed}s (observed {observed}s × {margin}), over the {MAX_STARTUP_SECONDS}s suture proposes on its own"
        )));
    }
    let (field_rest, from, to, value, words) = match startup {
        Some(sp) => {
            let delay = i64::from(sp.initial_delay_seconds.unwrap_or(0));
            let period = i64::from(sp.period_seconds.unwrap_or(10)).max(1);
            let old = i64::from(sp.failure_threshold.unwrap_or(3));
            let new = ((needed - delay).max(0) + period - 1) / period;
            let new = new.max(old + 1);
            (
                "startupProbe.failureThreshold".to_string(),
                serde_json::json!(old),
                serde_json::json!(new),
                FieldTarget::Container {
                    field: vec!["startupProbe".into(), "failureThreshold".into()],
                    value: new.into(),
                },
                format!(
                    "startupProbe failureThreshold {old} -> {new}: budget {delay}s + {period}s × {new} = {}s",
                    delay + period * new
                ),
            )
        }
        None => {
            let live = c.liveness_probe.as_ref().ok_or_else(|| {
                format!("container {name} has no liveness probe to derive a startup probe from")
            })?;
            let period = i64::from(live.period_seconds.unwrap_or(10)).max(1);
            let threshold = (needed + period - 1) / period;
            let mut probe = serde_json::Map::new();
            for (k, v) in [
                (
                    "httpGet",
                    live.http_get
                        .as_ref()
                        .and_then(|h| serde_json::to_value(h).ok()),
                ),
                (
                    "tcpSocket",
                    live.tcp_socket
                        .as_ref()
                        .and_then(|h| serde_json::to_value(h).ok()),
                ),
                (
                    "exec",
                    live.exec
                        .as_ref()
                        .and_then(|h| serde_json::to_value(h).ok()),
                ),
                (
                    "grpc",
                    live.grpc
                        .as_ref()
                        .and_then(|h| serde_json::to_value(h).ok()),
                ),
            ] {
                if let Some(v) = v {
                    probe.insert(k.into(), v);
                }
            }
            probe.insert("periodSeconds".into(), period.into());
            probe.insert("failureThreshold".into(), threshold.into());
            let probe = serde_json::Value::Object(probe);
            (
                "startupProbe".to_string(),
                serde_json::Value::Null,
                probe.clone(),
                FieldTarget::Container {
                    field: vec!["startupProbe".into()],
                    value: probe,
                },
                format!(
                    "add a startupProbe with the liveness probe's handler, periodSeconds {period}, failureThreshold {threshold}: budget {}s",
                    period * threshold
                ),
            )
        }
    };
    let field = field_path(prefix, &name, f.init_container, &field_rest);
    Ok(Draft {
        key: ctx.key.clone(),
        fault: f.fault,
        primitive: Primitive::TuneProbe,
        target: ctx.target(&name),
        change: Change { field: field.clone(), from: from.clone(), to: to.clone() },
        also: Vec::new(),
        basis: format!(
            "Container {name} is killed during startup: the probe budget was {current_budget}s and the app needed at least {observed}s. To cover {observed}s × {margin} = {needed}s: {words}. The liveness probe is unchanged, so a hung app is still restarted."
        ),
        rollback: Rollback {
            description: match from.is_null() {
                true => format!("remove the startupProbe of {name}"),
                false => format!("set {field_rest} of {name} back to {from}"),
            },
            changes: vec![Change { field, from: to, to: from }],
        },
        confidence: Confidence {
            est: if observed_start.is_some() { 0.7 } else { 0.5 },
            why: "kills happen inside the startup window; the real start time is only bounded from below".into(),
        },
        rail: ctx.policy.rail,
        writes: vec![value],
    })
}
