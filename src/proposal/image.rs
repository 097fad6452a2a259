//! revert-image: put a container's image back to the last revision that ran healthy.
//!
//! Only when the fault began with the newest rollout (the failing pods belong to the newest
//! ReplicaSet), that rollout changed this container's image, and an older ReplicaSet still has
//! available pods with the previous image. Otherwise reverting guesses, so it escalates.

use k8s_openapi::api::apps::v1::ReplicaSet;

use super::workload::{container, field_path, pod_spec};
use super::{Change, Confidence, Ctx, Draft, Primitive, Refusal, Rollback};
use crate::detection::{Facts, FaultId, PullCause};
use crate::gitops::locate::FieldTarget;
use crate::objref::WorkloadKind;

/// A ReplicaSet of the workload with its revision number.
struct Revision<'a> {
    number: i64,
    rs: &'a ReplicaSet,
}

fn revisions<'a>(ctx: &Ctx<'a>) -> Vec<Revision<'a>> {
    let f = ctx.finding;
    let owner_uid = owner_uid(ctx);
    let Some(annotation) = f
        .owner
        .workload_kind()
        .and_then(WorkloadKind::revision_annotation)
    else {
        return Vec::new();
    };
    let mut out: Vec<Revision> = ctx
        .state
        .replica_sets
        .iter()
        .filter(|rs| rs.metadata.namespace.as_deref().unwrap_or_default() == f.namespace)
        .filter(|rs| {
            rs.metadata.owner_references.iter().flatten().any(|r| {
                r.controller == Some(true)
                    && r.kind == f.owner.kind
                    && r.name == f.owner.name
                    && owner_uid.as_deref().is_none_or(|u| u == r.uid)
            })
        })
        .filter_map(|rs| {
            let number = rs
                .metadata
                .annotations
                .as_ref()?
                .get(annotation)?
                .parse()
                .ok()?;
            Some(Revision { number, rs })
        })
        .collect();
    out.sort_by_key(|r| std::cmp::Reverse(r.number));
    out
}

fn owner_uid(ctx: &Ctx) -> Option<String> {
    let f = ctx.finding;
    let kind = f.owner.workload_kind()?;
    crate::owner::workload_meta(ctx.state, kind, &f.namespace, &f.owner.name)?
        .uid
        .clone()
}

/// Why a ReplicaSet owner has no revisions to compare: it was not captured, no Deployment
/// manages it, or the one that does is not in the snapshot (said only as far as it is known).
fn replica_set_without_history(ctx: &Ctx) -> String {
    let f = ctx.finding;
    let rs = ctx.state.replica_sets.iter().find(|rs| {
        rs.metadata.name.as_deref() == Some(&f.owner.name)
            && rs.metadata.namespace.as_deref().unwrap_or_default() == f.namespace
    });
    match rs.map(|rs| crate::owner::controller_of(&rs.metadata)) {
        None => format!(
            "ReplicaSet {} and its owner are not in the snapshot, so revisions cannot be compared",
            f.owner.name
        ),
        Some(None) => format!(
            "ReplicaSet {} is not managed by a Deployment, so it has no earlier revision to return to",
            f.owner.name
        ),
        Some(Some(owner)) => format!(
            "the {} {} owning ReplicaSet {} is not in the snapshot, so revisions cannot be compared",
            owner.kind, owner.name, f.owner.name
        ),
    }
}

fn rs_image(rs: &ReplicaSet, name: &str, init: bool) -> Option<String> {
    let spec = rs.spec.as_ref()?.template.as_ref()?.spec.as_ref()?;
    container(spec, name, init)?.image.clone()
}

fn hash_of(rs: &ReplicaSet) -> Option<&str> {
    rs.metadata
        .labels
        .as_ref()?
        .get("pod-template-hash")
        .map(String::as_str)
}

pub(super) fn revert(ctx: &Ctx, fault: FaultId) -> Result<Draft, Refusal> {
    let f = ctx.finding;
    let why_fault = why(ctx, fault);
    // A pull that failed for any reason but a missing tag is not fixed by an older image,
    // whatever the history: say what the evidence shows about the pull first.
    if fault == FaultId::ImagePullBackOff {
        let pull = ctx.facts().find_map(|x| match x {
            Facts::Container(c) if c.pull_error.is_some() => Some(c),
            _ => None,
        });
        let waiting = pull.and_then(|c| c.message.as_deref()).unwrap_or_default();
        let event = pull.and_then(|c| c.pull_event_message.as_deref());
        let answer = event.unwrap_or(waiting);
        let cause = pull
            .and_then(|c| c.pull_error)
            .unwrap_or(PullCause::NotReported);
        match cause {
            PullCause::NotFound => {}
            PullCause::Unauthorized => {
                return Err(Refusal(format!(
                    "{why_fault}; the registry refused the pull ({answer}): an access problem, not a bad tag. Fix the registry credentials (imagePullSecrets) or the registry permissions"
                )));
            }
            PullCause::Other => {
                return Err(Refusal(format!(
                    "{why_fault}; the pull failed ({answer}), which is neither a missing tag nor denied access: check the registry's availability and the node's network path to it"
                )));
            }
            PullCause::NotReported => {
                let image = pull
                    .and_then(|c| c.base.image.as_deref())
                    .unwrap_or("the image");
                return Err(Refusal(format!(
                    "{why_fault}; the cause of the pull failure was not reported (only `Back-off pulling image`, and no `Failed to pull image` event in the snapshot), so reverting would guess. Check that {image} exists with that name and tag, the registry credentials (imagePullSecrets), and the node's network access to the registry"
                )));
            }
        }
    }
    let no_history = match f.owner.workload_kind() {
        Some(WorkloadKind::Deployment | WorkloadKind::Rollout) => None,
        Some(WorkloadKind::ReplicaSet) => Some(replica_set_without_history(ctx)),
        Some(WorkloadKind::Pod) => {
            Some("a bare Pod has no earlier revision to return to".to_string())
        }
        _ => Some(format!(
            "suture does not read {} revision history (ControllerRevisions) to find a healthy previous image",
            f.owner.kind
        )),
    };
    if let Some(why) = no_history {
        return Err(Refusal(format!("{why_fault}; {why}")));
    }
    let revs = revisions(ctx);
    let Some(newest) = revs.first() else {
        return Err(Refusal(format!(
            "{why_fault}; no ReplicaSets of {} {} in the snapshot",
            f.owner.kind, f.owner.name
        )));
    };
    // A stalled rollout is the image's fault only if the new ReplicaSet's pods fail; pods never
    // created (quota, admission) or only slow to become ready say nothing about the image.
    let new_pods_fail = ctx.facts().any(|x| match x {
        Facts::Progress(p) => p.new.as_ref().is_some_and(|n| !n.pod_faults.is_empty()),
        _ => false,
    });
    if fault == FaultId::ProgressDeadlineExceeded && !new_pods_fail {
        return Err(Refusal(format!(
            "{why_fault}; no pod of the new ReplicaSet {} shows a fault (none created, or only slow to become ready), so its image is not known to be bad: check the ReplicaSet's events, quota and readiness",
            newest.rs.metadata.name.as_deref().unwrap_or_default()
        )));
    }
    // The fault must have begun with the newest rollout: its pods are the failing ones.
    let failing_hashes: Vec<&str> = ctx
        .all
        .iter()
        .filter_map(|x| x.pod.as_deref())
        .filter_map(|p| {
            let pod = ctx.state.pods.iter().find(|o| {
                o.metadata.name.as_deref() == Some(p)
                    && o.metadata.namespace.as_deref().unwrap_or_default() == f.namespace
            })?;
            pod.metadata
                .labels
                .as_ref()?
                .get("pod-template-hash")
                .map(String::as_str)
        })
        .collect();
    if fault != FaultId::ProgressDeadlineExceeded
        && failing_hashes
            .iter()
            .any(|h| Some(*h) != hash_of(newest.rs))
    {
        return Err(Refusal(format!(
            "{why_fault}; pods of an older revision fail too, so the newest rollout did not start it"
        )));
    }
    let name = match &f.container {
        Some(c) => c.clone(),
        None => single_changed_container(newest.rs, &revs)
            .ok_or_else(|| format!("{why_fault}; cannot tell which container's image to revert"))?,
    };
    let current = rs_image(newest.rs, &name, f.init_container)
        .ok_or_else(|| format!("{why_fault}; container {name} not in the newest ReplicaSet"))?;
    let healthy = revs.iter().skip(1).find(|r| {
        r.rs.status
            .as_ref()
            .and_then(|s| s.available_replicas)
            .unwrap_or(0)
            > 0
    });
    let Some(previous) = healthy else {
        return Err(Refusal(format!(
            "{why_fault}; no previous revision of {} {} has available pods, so there is no known-good image to revert to",
            f.owner.kind, f.owner.name
        )));
    };
    let previous_image = rs_image(previous.rs, &name, f.init_container).ok_or_else(|| {
        format!(
            "{why_fault}; container {name} not in revision {}",
            previous.number
        )
    })?;
    if previous_image == current {
        return Err(Refusal(format!(
            "{why_fault}; the newest rollout (revision {}) did not change the image of {name} ({current}), so reverting the image would not help",
            newest.number
        )));
    }
    let prefix =
        pod_spec(ctx.state, &f.namespace, &f.owner).map_or("spec.template.spec", |(_, p)| p);
    let field = field_path(prefix, &name, f.init_container, "image");
    let available = previous
        .rs
        .status
        .as_ref()
        .and_then(|s| s.available_replicas)
        .unwrap_or(0);
    Ok(Draft {
        key: ctx.key.clone(),
        fault: f.fault,
        primitive: Primitive::RevertImage,
        target: ctx.target(&name),
        change: Change { field: field.clone(), from: current.clone().into(), to: previous_image.clone().into() },
        also: Vec::new(),
        basis: format!(
            "{why_fault}. It began with revision {} (ReplicaSet {}), which changed {name} from {previous_image} to {current}; revision {} (ReplicaSet {}) still has {available} available pod(s) on {previous_image}.",
            newest.number,
            newest.rs.metadata.name.as_deref().unwrap_or_default(),
            previous.number,
            previous.rs.metadata.name.as_deref().unwrap_or_default(),
        ),
        rollback: Rollback {
            description: format!("set the image of {name} back to {current}"),
            changes: vec![Change { field, from: previous_image.clone().into(), to: current.clone().into() }],
        },
        confidence: Confidence {
            est: match fault {
                FaultId::ImagePullBackOff | FaultId::InvalidImageName => 0.9,
                _ => 0.75,
            },
            why: "the previous image ran with available pods; the newest rollout changed only what is reverted".into(),
        },
        rail: ctx.policy.rail,
        writes: vec![FieldTarget::Image { current, desired: previous_image }],
    })
}

/// For workload-level findings: the one container whose image changed in the newest revision.
fn single_changed_container(newest: &ReplicaSet, revs: &[Revision]) -> Option<String> {
    let spec = newest.spec.as_ref()?.template.as_ref()?.spec.as_ref()?;
    let prev = revs.get(1)?.rs;
    let changed: Vec<_> = spec
        .containers
        .iter()
        .filter(|c| rs_image(prev, &c.name, false) != c.image)
        .map(|c| c.name.clone())
        .collect();
    (changed.len() == 1).then(|| changed[0].clone())
}

fn why(ctx: &Ctx, fault: FaultId) -> String {
    let f = ctx.finding;
    let pods = ctx.all.iter().filter(|x| x.pod.is_some()).count();
    let subject = match &f.container {
        Some(c) => format!("container {c}"),
        None => format!("{} {}", f.owner.kind, f.owner.name),
    };
    let detail = ctx
        .facts()
        .find_map(Facts::message)
        .or_else(|| ctx.facts().find_map(Facts::reason))
        .unwrap_or_default();
    let detail = if detail.is_empty() {
        String::new()
    } else {
        format!(": {detail}")
    };
    match pods {
        0 | 1 => format!("{subject} shows {fault}{detail}"),
        n => format!("{subject} shows {fault} in {n} pods{detail}"),
    }
}
