//! Container faults, for app and init containers. Each container yields at most one finding,
//! the most specific cause, in this order:
//!
//! 1. a waiting reason that keeps the container from starting at all (`InvalidImageName`,
//!    `ErrImageNeverPull`, `ImagePullBackOff`, `ErrImagePull`, `CreateContainerConfigError`,
//!    `CreateContainerError`, `RunContainerError`): the current blocker, whatever happened before;
//! 2. the newest termination (`state.terminated`, else `lastState.terminated`) says `OOMKilled`;
//! 3. the newest termination says `StartError` / `ContainerCannotRun` (create-container-error);
//! 4. a startup or liveness probe kill shown by events (see `probes`);
//! 5. `CrashLoopBackOff` (generic: the exit code and reason are evidence);
//! 6. the current state is terminated with a non-zero exit (container-error-exit);
//! 7. running, not ready, with readiness probe failure events.
//!
//! An init container's fault is reported as `init-container-failure` with the cause above.

use k8s_openapi::api::core::v1::{Container, ContainerStateTerminated, ContainerStatus};

use super::common::{PodCtx, msg, resource_values, time};
use super::evidence::{ContainerBase, ContainerFacts, Facts, Termination};
use super::{FaultId, Finding, probes, waiting};

/// Terminated reasons that are not an application error exit.
const NOT_AN_ERROR_EXIT: [&str; 5] = [
    "Completed",
    "OOMKilled",
    "StartError",
    "ContainerCannotRun",
    // The kubelet lost track of the container (node gone); not the app's doing.
    "ContainerStatusUnknown",
];

pub fn detect(ctx: &PodCtx, out: &mut Vec<Finding>) {
    let Some(status) = ctx.status() else {
        return;
    };
    for cs in status.init_container_statuses.iter().flatten() {
        if let Some((cause, evidence)) = classify(ctx, cs, true) {
            let mut f = ctx.finding(FaultId::InitContainerFailure, Some(&cs.name), evidence);
            f.init_container = true;
            f.cause = Some(cause);
            out.push(f);
        }
    }
    for cs in status.container_statuses.iter().flatten() {
        if let Some((fault, evidence)) = classify(ctx, cs, false) {
            out.push(ctx.finding(fault, Some(&cs.name), evidence));
        }
    }
}

/// The one most specific fault of a container, with its evidence (precedence: module docs).
fn classify(ctx: &PodCtx, cs: &ContainerStatus, init: bool) -> Option<(FaultId, Facts)> {
    let spec = ctx.spec_container(&cs.name, init);
    let state = cs.state.as_ref();
    let waiting = state.and_then(|s| s.waiting.as_ref());
    let current = state.and_then(|s| s.terminated.as_ref());
    let newest = current.or_else(|| cs.last_state.as_ref()?.terminated.as_ref());
    let waiting_reason = waiting.and_then(|w| w.reason.as_deref()).unwrap_or("");
    let waiting_message = waiting.and_then(|w| w.message.as_deref());

    if let Some(fault) = blocking_fault(waiting_reason) {
        let mut facts = ContainerFacts {
            base: base(cs, spec),
            waiting_reason: Some(waiting_reason.to_string()),
            message: msg(waiting_message),
            ..ContainerFacts::default()
        };
        match fault {
            FaultId::ImagePullBackOff => waiting::pull_evidence(ctx, cs, init, &mut facts),
            FaultId::CreateContainerConfigError => {
                waiting::config_evidence(ctx, cs, init, &mut facts)
            }
            _ => {}
        }
        return Some((fault, Facts::Container(facts)));
    }
    let newest_reason = newest.and_then(|t| t.reason.as_deref()).unwrap_or("");
    if newest_reason == "OOMKilled" {
        let resources = resource_values(spec, "memory");
        let facts = ContainerFacts {
            request_memory: resources.as_ref().and_then(|r| r.request.clone()),
            limit_memory: resources.and_then(|r| r.limit),
            ..terminated_evidence(cs, spec, newest?)
        };
        return Some((FaultId::OomKilled, Facts::Container(facts)));
    }
    if matches!(newest_reason, "StartError" | "ContainerCannotRun") {
        return Some((
            FaultId::CreateContainerError,
            Facts::Container(terminated_evidence(cs, spec, newest?)),
        ));
    }
    if let Some(found) = probes::kill_fault(ctx, cs, spec, init) {
        return Some(found);
    }
    if waiting_reason == "CrashLoopBackOff" {
        let facts = ContainerFacts {
            waiting_reason: Some(waiting_reason.to_string()),
            waiting_message: msg(waiting_message),
            ..match newest {
                Some(t) => terminated_evidence(cs, spec, t),
                None => ContainerFacts {
                    base: base(cs, spec),
                    ..ContainerFacts::default()
                },
            }
        };
        return Some((FaultId::CrashLoopBackOff, Facts::Container(facts)));
    }
    if let Some(t) = current.filter(|t| {
        t.exit_code != 0 && !NOT_AN_ERROR_EXIT.contains(&t.reason.as_deref().unwrap_or(""))
    }) {
        let prev = cs.last_state.as_ref().and_then(|s| s.terminated.as_ref());
        let facts = ContainerFacts {
            previous_exit_code: prev.map(|p| p.exit_code),
            previous_reason: prev.and_then(|p| p.reason.clone()),
            ..terminated_evidence(cs, spec, t)
        };
        return Some((FaultId::ContainerErrorExit, Facts::Container(facts)));
    }
    probes::readiness_fault(ctx, cs, spec, init)
}

/// Waiting reasons (kubelet `images` and `kuberuntime` errors) that block the container start.
fn blocking_fault(reason: &str) -> Option<FaultId> {
    Some(match reason {
        "InvalidImageName" | "ErrImageNeverPull" => FaultId::InvalidImageName,
        "ImagePullBackOff" | "ErrImagePull" => FaultId::ImagePullBackOff,
        "CreateContainerConfigError" => FaultId::CreateContainerConfigError,
        "CreateContainerError" | "RunContainerError" => FaultId::CreateContainerError,
        _ => return None,
    })
}

/// Container name, image (spec first: the status may show a resolved digest) and restarts.
pub fn base(cs: &ContainerStatus, spec: Option<&Container>) -> ContainerBase {
    let image = spec
        .and_then(|c| c.image.clone())
        .unwrap_or_else(|| cs.image.clone());
    ContainerBase {
        container: cs.name.clone(),
        image: (!image.is_empty()).then_some(image),
        restart_count: cs.restart_count,
    }
}

/// One termination record as evidence.
pub fn termination(t: &ContainerStateTerminated) -> Termination {
    Termination {
        exit_code: t.exit_code,
        reason: t.reason.clone(),
        signal: t.signal,
        started_at: time(t.started_at.as_ref()),
        finished_at: time(t.finished_at.as_ref()),
        termination_message: msg(t.message.as_deref()),
    }
}

/// Base evidence plus one termination record.
pub fn terminated_evidence(
    cs: &ContainerStatus,
    spec: Option<&Container>,
    t: &ContainerStateTerminated,
) -> ContainerFacts {
    ContainerFacts::terminated(base(cs, spec), termination(t))
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{pod, run};
    use super::*;

    const OOM_LOOP: &str = r#"    restartCount: 5
    state: {waiting: {reason: CrashLoopBackOff, message: "back-off 2m40s restarting failed container=web"}}
    lastState: {terminated: {exitCode: 137, reason: OOMKilled, startedAt: "2026-01-01T00:10:00Z", finishedAt: "2026-01-01T00:12:00Z"}}"#;

    #[test]
    fn oom_in_crash_loop_is_one_oom_finding_on_the_named_container() {
        let found = run(&pod(OOM_LOOP));
        assert_eq!(found.len(), 1, "{found:#?}");
        let f = &found[0];
        assert_eq!(
            (f.fault, f.container.as_deref()),
            (FaultId::OomKilled, Some("web"))
        );
        assert_eq!(f.evidence["exit_code"], 137);
        assert_eq!(f.evidence["restart_count"], 5);
        assert_eq!(f.evidence["limit_memory"], "512Mi");
        assert_eq!(f.evidence["request_memory"], "256Mi");
        assert_eq!(f.evidence["finished_at"], "2026-01-01T00:12:00Z");
    }

    #[test]
    fn oom_in_current_state_is_found() {
        let status =
            "    restartCount: 0\n    state: {terminated: {exitCode: 137, reason: OOMKilled}}";
        let found = run(&pod(status));
        assert_eq!(found[0].fault, FaultId::OomKilled);
    }

    #[test]
    fn exit_137_with_reason_error_is_not_oom() {
        let status = OOM_LOOP.replace("reason: OOMKilled", "reason: Error");
        let found = run(&pod(&status));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].fault, FaultId::CrashLoopBackOff);
        assert_eq!(found[0].evidence["exit_code"], 137);
        assert_eq!(found[0].evidence["reason"], "Error");
        assert_eq!(found[0].evidence["waiting_reason"], "CrashLoopBackOff");
    }

    #[test]
    fn waiting_reasons_map_to_faults() {
        let cases = [
            ("InvalidImageName", FaultId::InvalidImageName),
            ("ErrImageNeverPull", FaultId::InvalidImageName),
            ("ErrImagePull", FaultId::ImagePullBackOff),
            ("CreateContainerError", FaultId::CreateContainerError),
            ("RunContainerError", FaultId::CreateContainerError),
            (
                "CreateContainerConfigError",
                FaultId::CreateContainerConfigError,
            ),
        ];
        for (reason, fault) in cases {
            let status = format!(
                "    restartCount: 0\n    state: {{waiting: {{reason: {reason}, message: x}}}}"
            );
            let found = run(&pod(&status));
            assert_eq!(found.len(), 1, "{reason}");
            assert_eq!(found[0].fault, fault, "{reason}");
        }
        // Normal start-up waits are not faults.
        for reason in ["ContainerCreating", "PodInitializing"] {
            let status =
                format!("    restartCount: 0\n    state: {{waiting: {{reason: {reason}}}}}");
            assert!(run(&pod(&status)).is_empty(), "{reason}");
        }
    }

    #[test]
    fn start_error_is_create_container_error() {
        let status = "    restartCount: 2\n    state: {waiting: {reason: CrashLoopBackOff}}\n    lastState: {terminated: {exitCode: 128, reason: StartError, message: 'exec: \"/app\": no such file'}}";
        let found = run(&pod(status));
        assert_eq!(found[0].fault, FaultId::CreateContainerError);
        assert_eq!(found[0].evidence["exit_code"], 128);
    }

    #[test]
    fn terminated_error_is_container_error_exit_and_completed_is_not() {
        let status = "    restartCount: 0\n    state: {terminated: {exitCode: 2, reason: Error}}";
        let found = run(&pod(status));
        assert_eq!(found[0].fault, FaultId::ContainerErrorExit);
        assert_eq!(found[0].evidence["exit_code"], 2);
        let done = "    restartCount: 0\n    state: {terminated: {exitCode: 0, reason: Completed}}";
        assert!(run(&pod(done)).is_empty());
    }

    #[test]
    fn init_container_failure_carries_its_cause() {
        let yaml = r#"
apiVersion: v1
kind: Pod
metadata: {name: db-0, namespace: shop, uid: p-2}
spec:
  initContainers:
  - {name: wait, image: busybox}
  - {name: migrate, image: "shop/migrate:1", resources: {limits: {memory: 128Mi}}}
  containers: [{name: db, image: postgres}]
status:
  phase: Pending
  initContainerStatuses:
  - {name: wait, image: busybox, imageID: "", ready: true, restartCount: 0, state: {terminated: {exitCode: 0, reason: Completed}}}
  - name: migrate
    image: "shop/migrate:1"
    imageID: ""
    ready: false
    restartCount: 3
    state: {waiting: {reason: CrashLoopBackOff}}
    lastState: {terminated: {exitCode: 137, reason: OOMKilled}}
  containerStatuses:
  - {name: db, image: postgres, imageID: "", ready: false, restartCount: 0, state: {waiting: {reason: PodInitializing}}}
"#;
        let found = run(yaml);
        assert_eq!(found.len(), 1, "{found:#?}");
        let f = &found[0];
        assert_eq!(f.fault, FaultId::InitContainerFailure);
        assert_eq!(f.cause, Some(FaultId::OomKilled));
        assert!(f.init_container);
        assert_eq!(f.container.as_deref(), Some("migrate"));
        assert_eq!(f.evidence["limit_memory"], "128Mi");
    }

    #[test]
    fn pods_without_status_or_spec_yield_nothing() {
        assert!(run("apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: x}\n").is_empty());
        // A status naming a container absent from the spec still works (no spec evidence).
        let yaml = "apiVersion: v1\nkind: Pod\nmetadata: {name: b, namespace: x}\nstatus:\n  containerStatuses:\n  - {name: ghost, image: '', imageID: '', ready: false, restartCount: 1, state: {terminated: {exitCode: 1}}}\n";
        let found = run(yaml);
        assert_eq!(found[0].fault, FaultId::ContainerErrorExit);
        assert!(found[0].evidence.get("image").is_none());
    }
}
