//! Probe faults, from kubelet events about the pod (`Unhealthy`: `<Kind> probe failed: ...`
//! or `<Kind> probe errored: ...`; `Killing`: `Container <c> failed <kind> probe, will be
//! restarted`), matched to the container by `fieldPath`.
//!
//! A liveness/startup fault needs a kill: a `Killing` event, or `Unhealthy` events plus
//! restarts. For liveness, `during_startup` tells whether kills happen before the app ever
//! became healthy: the container's uptime at the kill (`finishedAt - startedAt` of the last
//! termination) is at most `initialDelaySeconds + periodSeconds x failureThreshold` plus the
//! termination grace period (a killed container may take that long to exit).

use k8s_openapi::api::core::v1::{Container, ContainerStatus, Probe};

use super::FaultId;
use super::common::{PodCtx, msg, time};
use super::container::base;
use super::evidence::{Facts, ProbeFacts, ProbeSettings};
use crate::state::ObservedEvent;

#[derive(Clone, Copy)]
enum Kind {
    Startup,
    Liveness,
    Readiness,
}

impl Kind {
    fn word(self) -> &'static str {
        match self {
            Kind::Startup => "Startup",
            Kind::Liveness => "Liveness",
            Kind::Readiness => "Readiness",
        }
    }

    fn probe(self, c: &Container) -> Option<&Probe> {
        match self {
            Kind::Startup => c.startup_probe.as_ref(),
            Kind::Liveness => c.liveness_probe.as_ref(),
            Kind::Readiness => c.readiness_probe.as_ref(),
        }
    }
}

/// Events of one probe kind for one container: `Unhealthy` failures and `Killing` kills.
struct ProbeEvents<'a> {
    unhealthy: Vec<&'a ObservedEvent>,
    kills: Vec<&'a ObservedEvent>,
}

fn probe_events<'a>(ctx: &PodCtx<'a>, container: &str, init: bool, kind: Kind) -> ProbeEvents<'a> {
    let failed = format!("{} probe failed", kind.word());
    let errored = format!("{} probe errored", kind.word());
    let killed = format!("failed {} probe", kind.word().to_ascii_lowercase());
    let events = ctx.container_events(container, init);
    ProbeEvents {
        unhealthy: events
            .iter()
            .copied()
            .filter(|e| {
                e.reason == "Unhealthy"
                    && (e.message.starts_with(&failed) || e.message.starts_with(&errored))
            })
            .collect(),
        kills: events
            .iter()
            .copied()
            .filter(|e| e.reason == "Killing" && e.message.contains(&killed))
            .collect(),
    }
}

/// A startup or liveness probe that kills the container (startup first: while a startup
/// probe runs, liveness is not probed).
pub fn kill_fault(
    ctx: &PodCtx,
    cs: &ContainerStatus,
    spec: Option<&Container>,
    init: bool,
) -> Option<(FaultId, Facts)> {
    for (kind, fault) in [
        (Kind::Startup, FaultId::StartupProbeFailure),
        (Kind::Liveness, FaultId::LivenessProbeFailure),
    ] {
        let events = probe_events(ctx, &cs.name, init, kind);
        let killed =
            !events.kills.is_empty() || (!events.unhealthy.is_empty() && cs.restart_count > 0);
        if !killed {
            continue;
        }
        let mut facts = ProbeFacts {
            base: base(cs, spec),
            ..ProbeFacts::default()
        };
        put_event_counts(&mut facts, &events);
        let probe = spec.and_then(|c| kind.probe(c));
        put_timing(ctx, cs, probe, matches!(kind, Kind::Liveness), &mut facts);
        return Some((fault, Facts::Probe(facts)));
    }
    None
}

/// Running, not ready, and the kubelet reports readiness probe failures.
pub fn readiness_fault(
    ctx: &PodCtx,
    cs: &ContainerStatus,
    spec: Option<&Container>,
    init: bool,
) -> Option<(FaultId, Facts)> {
    let running = cs.state.as_ref().is_some_and(|s| s.running.is_some());
    if !running || cs.ready {
        return None;
    }
    let events = probe_events(ctx, &cs.name, init, Kind::Readiness);
    if events.unhealthy.is_empty() {
        return None;
    }
    let mut facts = ProbeFacts {
        base: base(cs, spec),
        ready: Some(false),
        running_since: time(cs.state.as_ref()?.running.as_ref()?.started_at.as_ref()),
        ..ProbeFacts::default()
    };
    put_event_counts(&mut facts, &events);
    if let Some(p) = spec.and_then(|c| Kind::Readiness.probe(c)) {
        put_settings(p, &mut facts);
    }
    Some((FaultId::ReadinessProbeFailure, Facts::Probe(facts)))
}

fn put_event_counts(ev: &mut ProbeFacts, events: &ProbeEvents) {
    let sum = |v: &[&ObservedEvent]| v.iter().map(|e| i64::from(e.count)).sum::<i64>();
    ev.unhealthy_events = sum(&events.unhealthy);
    ev.kill_events = sum(&events.kills);
    let newest = events.unhealthy.iter().max_by_key(|e| e.last_seen);
    ev.probe_message = msg(newest.map(|e| e.message.as_str()));
    let last = events
        .unhealthy
        .iter()
        .chain(&events.kills)
        .filter_map(|e| e.last_seen)
        .max();
    ev.last_seen = last.map(|t| t.to_string());
}

/// Effective settings (Kubernetes defaults: initialDelay 0, period 10, failureThreshold 3,
/// timeout 1). Returns `initialDelay + period x failureThreshold`.
fn put_settings(p: &Probe, ev: &mut ProbeFacts) -> i64 {
    let delay = i64::from(p.initial_delay_seconds.unwrap_or(0));
    let period = i64::from(p.period_seconds.unwrap_or(10));
    let threshold = i64::from(p.failure_threshold.unwrap_or(3));
    ev.settings = Some(ProbeSettings {
        initial_delay_seconds: delay,
        period_seconds: period,
        failure_threshold: threshold,
        timeout_seconds: p.timeout_seconds.unwrap_or(1),
    });
    delay + period * threshold
}

/// Probe settings, the last termination, the observed uptime and (liveness) `during_startup`.
fn put_timing(
    ctx: &PodCtx,
    cs: &ContainerStatus,
    probe: Option<&Probe>,
    liveness: bool,
    ev: &mut ProbeFacts,
) {
    let window = probe.map(|p| put_settings(p, ev));
    ev.startup_window_seconds = window;
    let last = cs
        .state
        .as_ref()
        .and_then(|s| s.terminated.as_ref())
        .or_else(|| cs.last_state.as_ref()?.terminated.as_ref());
    if let Some(t) = last {
        ev.exit_code = Some(t.exit_code);
        ev.reason = t.reason.clone();
        ev.started_at = time(t.started_at.as_ref());
        ev.finished_at = time(t.finished_at.as_ref());
    }
    let uptime = last.and_then(|t| {
        let span = t
            .finished_at
            .as_ref()?
            .0
            .duration_since(t.started_at.as_ref()?.0);
        Some(span.as_secs())
    });
    ev.observed_start_seconds = uptime;
    if liveness {
        let grace = probe
            .and_then(|p| p.termination_grace_period_seconds)
            .or_else(|| ctx.pod.spec.as_ref()?.termination_grace_period_seconds)
            .unwrap_or(30);
        let during = match (uptime, window) {
            (Some(up), Some(w)) => Some(up <= w.saturating_add(grace)),
            _ => None,
        };
        ev.during_startup = Some(during);
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{pod, pod_event, run};
    use super::*;

    /// `web` was killed after `uptime` seconds and is running again.
    fn killed_after(uptime: u32) -> String {
        format!(
            "    restartCount: 4\n    state: {{running: {{startedAt: \"2026-01-01T00:40:00Z\"}}}}\n    lastState: {{terminated: {{exitCode: 137, reason: Error, startedAt: \"2026-01-01T00:30:00Z\", finishedAt: \"2026-01-01T00:{:02}:{:02}Z\"}}}}",
            30 + uptime / 60,
            uptime % 60
        )
    }

    fn liveness_events() -> String {
        pod_event(
            "Unhealthy",
            Some("spec.containers{web}"),
            "Liveness probe failed: Get \"http://10.1.2.3:8080/healthz\": dial tcp 10.1.2.3:8080: connect: connection refused",
            12,
        ) + &pod_event(
            "Killing",
            Some("spec.containers{web}"),
            "Container web failed liveness probe, will be restarted",
            4,
        )
    }

    #[test]
    fn liveness_kill_during_startup() {
        // Window 5 + 10 x 3 = 35s, grace 30s: a kill after 40s is during start-up.
        let found = run(&(pod(&killed_after(40)) + &liveness_events()));
        assert_eq!(found.len(), 1, "{found:#?}");
        let f = &found[0];
        assert_eq!(
            (f.fault, f.container.as_deref()),
            (FaultId::LivenessProbeFailure, Some("web"))
        );
        assert_eq!(f.evidence["during_startup"], true);
        assert_eq!(f.evidence["observed_start_seconds"], 40);
        assert_eq!(f.evidence["startup_window_seconds"], 35);
        assert_eq!(f.evidence["failure_threshold"], 3);
        assert_eq!(f.evidence["unhealthy_events"], 12);
        assert_eq!(f.evidence["kill_events"], 4);
        assert_eq!(f.evidence["restart_count"], 4);
    }

    #[test]
    fn liveness_kill_after_long_uptime_is_not_startup() {
        let found = run(&(pod(&killed_after(600)) + &liveness_events()));
        assert_eq!(found[0].evidence["during_startup"], false);
    }

    #[test]
    fn liveness_kill_beats_crash_loop_but_not_oom() {
        let looping = "    restartCount: 4\n    state: {waiting: {reason: CrashLoopBackOff}}\n    lastState: {terminated: {exitCode: 137, reason: Error, startedAt: \"2026-01-01T00:30:00Z\", finishedAt: \"2026-01-01T00:30:36Z\"}}";
        let found = run(&(pod(looping) + &liveness_events()));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].fault, FaultId::LivenessProbeFailure);
        let oom = looping.replace("reason: Error", "reason: OOMKilled");
        assert_eq!(
            run(&(pod(&oom) + &liveness_events()))[0].fault,
            FaultId::OomKilled
        );
    }

    #[test]
    fn failures_without_kill_or_restart_are_not_a_liveness_fault() {
        let yaml = pod(
            "    restartCount: 0\n    ready: true\n    state: {running: {startedAt: \"2026-01-01T00:40:00Z\"}}",
        ) + &pod_event(
            "Unhealthy",
            Some("spec.containers{web}"),
            "Liveness probe failed: timeout",
            1,
        );
        assert!(run(&yaml).is_empty());
    }

    #[test]
    fn events_of_another_container_do_not_count() {
        let yaml = pod(&killed_after(40))
            + &pod_event(
                "Killing",
                Some("spec.containers{sidecar}"),
                "Container sidecar failed liveness probe, will be restarted",
                1,
            );
        let found = run(&yaml);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].container.as_deref(), Some("sidecar"));
        // No liveness probe on sidecar in the spec: timing is unknown, not guessed.
        assert_eq!(found[0].evidence["during_startup"], serde_json::Value::Null);
    }

    #[test]
    fn startup_probe_kill() {
        let yaml = pod(&killed_after(30))
            + &pod_event(
                "Unhealthy",
                Some("spec.containers{web}"),
                "Startup probe failed: HTTP probe failed with statuscode: 503",
                9,
            )
            + &pod_event(
                "Killing",
                Some("spec.containers{web}"),
                "Container web failed startup probe, will be restarted",
                3,
            );
        let f = &run(&yaml)[0];
        assert_eq!(f.fault, FaultId::StartupProbeFailure);
        assert_eq!(f.evidence["observed_start_seconds"], 30);
        // No startupProbe in the spec: no settings are invented.
        assert!(f.evidence.get("failure_threshold").is_none());
    }

    #[test]
    fn readiness_failure_needs_running_not_ready_and_events() {
        let running =
            "    restartCount: 0\n    state: {running: {startedAt: \"2026-01-01T00:40:00Z\"}}";
        let event = pod_event(
            "Unhealthy",
            Some("spec.containers{web}"),
            "Readiness probe failed: HTTP probe failed with statuscode: 503",
            30,
        );
        let f = &run(&(pod(running) + &event))[0];
        assert_eq!(f.fault, FaultId::ReadinessProbeFailure);
        assert_eq!(f.evidence["period_seconds"], 10);
        assert_eq!(f.evidence["unhealthy_events"], 30);
        assert!(run(&pod(running)).is_empty());
        let ready = running.replace("restartCount: 0", "restartCount: 0\n    ready: true");
        assert!(run(&(pod(&ready) + &event)).is_empty());
    }
}
