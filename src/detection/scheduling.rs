//! Pod lifecycle faults: unschedulable, evicted, stuck terminating.

use super::common::{PodCtx, event_summary, msg, resource_values, time};
use super::evidence::{EvictedUsage, EvictionFacts, Facts, TerminatingFacts, UnschedulableFacts};
use super::{FaultId, Finding};

/// How long past its grace period a deleting pod may take before it counts as stuck.
const STUCK_MARGIN_SECONDS: i64 = 300;
/// `spec.terminationGracePeriodSeconds` default.
const DEFAULT_GRACE_SECONDS: i64 = 30;

/// `deletionTimestamp` older than the grace period plus the margin at `now`. The grace is
/// `metadata.deletionGracePeriodSeconds` (what the deleter asked for), else the spec's.
pub fn stuck_terminating(ctx: &PodCtx, now: jiff::Timestamp) -> Option<Finding> {
    let meta = &ctx.pod.metadata;
    let deleted = meta.deletion_timestamp.as_ref()?.0;
    let (grace, source) = match meta.deletion_grace_period_seconds {
        Some(g) => (g, "metadata.deletionGracePeriodSeconds"),
        None => match ctx
            .pod
            .spec
            .as_ref()
            .and_then(|s| s.termination_grace_period_seconds)
        {
            Some(g) => (g, "spec.terminationGracePeriodSeconds"),
            None => (DEFAULT_GRACE_SECONDS, "default"),
        },
    };
    let terminating_for = now.duration_since(deleted).as_secs();
    if terminating_for <= grace.saturating_add(STUCK_MARGIN_SECONDS) {
        return None;
    }
    let facts = TerminatingFacts {
        deletion_timestamp: deleted.to_string(),
        grace_period_seconds: grace,
        grace_period_source: source.to_string(),
        terminating_for_seconds: terminating_for,
        finalizers: meta.finalizers.clone().filter(|f| !f.is_empty()),
        node: ctx.pod.spec.as_ref().and_then(|s| s.node_name.clone()),
        phase: ctx.status().and_then(|s| s.phase.clone()),
    };
    Some(ctx.finding(FaultId::StuckTerminating, None, Facts::Terminating(facts)))
}

/// `PodScheduled=False` with reason `Unschedulable`; the scheduler message as a histogram.
pub fn unschedulable(ctx: &PodCtx) -> Option<Finding> {
    let cond = ctx.status()?.conditions.as_ref()?.iter().find(|c| {
        c.type_ == "PodScheduled"
            && c.status == "False"
            && c.reason.as_deref() == Some("Unschedulable")
    })?;
    let events = ctx.events_with(&["FailedScheduling"]);
    let newest_event = events
        .iter()
        .max_by_key(|e| e.last_seen)
        .map(|e| e.message.as_str());
    let message = cond
        .message
        .as_deref()
        .filter(|m| !m.is_empty())
        .or(newest_event)
        .unwrap_or("");
    let mut facts = UnschedulableFacts {
        message: msg(Some(message)),
        since: time(cond.last_transition_time.as_ref()),
        events: event_summary(&events),
        ..UnschedulableFacts::default()
    };
    if let Some(parsed) = parse_scheduler_message(message) {
        facts.nodes_available = Some(parsed.available);
        facts.nodes_total = Some(parsed.total);
        facts.reasons = Some(parsed.reasons);
        facts.preemption = msg(parsed.preemption.as_deref());
    }
    Some(ctx.finding(FaultId::Unschedulable, None, Facts::Unschedulable(facts)))
}

#[derive(Debug, PartialEq)]
pub struct SchedulerMessage {
    pub available: u32,
    pub total: u32,
    /// (reason, node count), in message order.
    pub reasons: Vec<(String, u32)>,
    pub preemption: Option<String>,
}

/// Parse `0/5 nodes are available: 3 Insufficient memory, 2 node(s) had untolerated taint
/// {k: v}. preemption: ...`. Reasons are split at `, <count> ` so that commas inside a
/// reason (taint or affinity text) stay in it.
pub fn parse_scheduler_message(message: &str) -> Option<SchedulerMessage> {
    let (counts, rest) = message.split_once(" nodes are available")?;
    let (available, total) = counts.trim().split_once('/')?;
    let (available, total) = (available.trim().parse().ok()?, total.trim().parse().ok()?);
    let rest = rest.trim_start_matches(':').trim();
    let (body, preemption) = match rest.split_once("preemption:") {
        Some((b, p)) => (b, Some(p.trim().to_string())),
        None => (rest, None),
    };
    let body = body.trim().trim_end_matches('.');
    let mut reasons: Vec<(String, u32)> = Vec::new();
    for piece in body.split(", ") {
        let counted = piece
            .split_once(' ')
            .and_then(|(n, r)| Some((n.parse::<u32>().ok()?, r)));
        match (counted, reasons.last_mut()) {
            (Some((n, r)), _) => reasons.push((r.trim().to_string(), n)),
            (None, Some(last)) => {
                last.0.push_str(", ");
                last.0.push_str(piece);
            }
            (None, None) => {}
        }
    }
    Some(SchedulerMessage {
        available,
        total,
        reasons,
        preemption,
    })
}

/// `status.reason == "Evicted"`, with the kubelet's message taken apart.
pub fn evicted(ctx: &PodCtx) -> Option<Finding> {
    let status = ctx.status()?;
    if status.reason.as_deref() != Some("Evicted") {
        return None;
    }
    let message = status.message.as_deref().unwrap_or("");
    let parsed = parse_eviction(message);
    let first = parsed.containers.first();
    let container = first.map(|c| c.name.as_str());
    let spec_resources = match (container, parsed.resource.as_deref()) {
        (Some(name), Some(resource)) => resource_values(ctx.spec_container(name, false), resource),
        _ => None,
    };
    let facts = EvictionFacts {
        message: msg(Some(message)),
        eviction_kind: parsed.kind.map(str::to_string),
        resource: parsed.resource.clone(),
        node_condition: parsed.node_condition.clone(),
        threshold: parsed.threshold.clone(),
        available: parsed.available.clone(),
        container: first.map(|c| c.name.clone()),
        usage: first.and_then(|c| c.usage.clone()),
        request: first.and_then(|c| c.request.clone()),
        limit: first
            .and_then(|c| c.limit.clone())
            .or(parsed.pod_limit.clone()),
        volume: parsed.volume.clone(),
        containers: (parsed.containers.len() > 1).then(|| {
            parsed
                .containers
                .iter()
                .map(|c| EvictedUsage {
                    container: c.name.clone(),
                    usage: c.usage.clone(),
                    request: c.request.clone(),
                    limit: c.limit.clone(),
                })
                .collect()
        }),
        spec_resources,
        node: ctx.pod.spec.as_ref().and_then(|s| s.node_name.clone()),
    };
    Some(ctx.finding(FaultId::Evicted, container, Facts::Eviction(facts)))
}

#[derive(Debug, Default, PartialEq)]
pub struct Eviction {
    /// `node-pressure`, `node-condition`, `container-limit`, `pod-limit`, `emptydir-limit`.
    pub kind: Option<&'static str>,
    pub resource: Option<String>,
    pub node_condition: Option<String>,
    pub threshold: Option<String>,
    pub available: Option<String>,
    pub containers: Vec<EvictedContainer>,
    pub pod_limit: Option<String>,
    pub volume: Option<String>,
}

#[derive(Debug, Default, PartialEq)]
pub struct EvictedContainer {
    pub name: String,
    pub usage: Option<String>,
    pub request: Option<String>,
    pub limit: Option<String>,
}

/// The kubelet eviction manager's messages (pkg/kubelet/eviction/helpers.go), sentences
/// ending in `. `:
/// - `The node was low on resource: R. Threshold quantity: T, available: A. Container C was
///   using U, request is Q, has larger consumption of R. ` (older: `..., which exceeds its
///   request of Q. `);
/// - `The node had condition: [DiskPressure]. `;
/// - `Pod ephemeral local storage usage exceeds the total limit of containers L. `;
/// - `Container C exceeded its local ephemeral storage limit "L". `;
/// - `Usage of EmptyDir volume "V" exceeds the limit "L". `.
pub fn parse_eviction(message: &str) -> Eviction {
    let mut out = Eviction::default();
    for sentence in message.split(". ").map(|s| s.trim().trim_end_matches('.')) {
        if let Some(r) = sentence.strip_prefix("The node was low on resource: ") {
            out.kind = Some("node-pressure");
            out.resource = Some(r.trim().to_string());
        } else if let Some(c) = sentence.strip_prefix("The node had condition: ") {
            out.kind = Some("node-condition");
            out.node_condition = Some(c.trim().trim_matches(['[', ']']).to_string());
        } else if let Some(rest) = sentence.strip_prefix("Threshold quantity: ") {
            let (t, a) = rest.split_once(", available: ").unwrap_or((rest, ""));
            out.threshold = Some(t.trim().to_string());
            out.available = Some(a.trim().to_string()).filter(|a| !a.is_empty());
        } else if let Some(l) = sentence.strip_prefix(
            "Pod ephemeral local storage usage exceeds the total limit of containers ",
        ) {
            out.kind = Some("pod-limit");
            out.resource = Some("ephemeral-storage".into());
            out.pod_limit = Some(l.trim().to_string());
        } else if let Some((name, limit)) = sentence
            .strip_prefix("Container ")
            .and_then(|r| r.split_once(" exceeded its local ephemeral storage limit "))
        {
            out.kind = Some("container-limit");
            out.resource = Some("ephemeral-storage".into());
            out.containers.push(EvictedContainer {
                name: name.to_string(),
                limit: Some(limit.trim_matches('"').to_string()),
                ..Default::default()
            });
        } else if let Some((name, rest)) = sentence
            .strip_prefix("Container ")
            .and_then(|r| r.split_once(" was using "))
        {
            let (usage, request) = match rest.split_once(", request is ") {
                Some((u, r)) => (
                    u,
                    r.split_once(", has larger consumption of")
                        .map_or(r, |(q, _)| q),
                ),
                None => rest
                    .split_once(", which exceeds its request of ")
                    .unwrap_or((rest, "")),
            };
            out.containers.push(EvictedContainer {
                name: name.to_string(),
                usage: Some(usage.trim().to_string()),
                request: Some(request.trim().to_string()).filter(|r| !r.is_empty()),
                limit: None,
            });
        } else if let Some((volume, limit)) = sentence
            .strip_prefix("Usage of EmptyDir volume ")
            .and_then(|r| r.split_once(" exceeds the limit "))
        {
            out.kind = Some("emptydir-limit");
            out.resource = Some("ephemeral-storage".into());
            out.volume = Some(volume.trim_matches('"').to_string());
            out.pod_limit = Some(limit.trim_matches('"').to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{pod, run, run_at};
    use super::*;

    #[test]
    fn scheduler_message_histogram() {
        let m = parse_scheduler_message(
            "0/5 nodes are available: 3 Insufficient memory, 2 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }. preemption: 0/5 nodes are available: 2 Preemption is not helpful for scheduling, 3 No preemption victims found for incoming pod.",
        )
        .unwrap();
        assert_eq!((m.available, m.total), (0, 5));
        assert_eq!(
            m.reasons,
            vec![
                ("Insufficient memory".to_string(), 3),
                (
                    "node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"
                        .to_string(),
                    2
                )
            ]
        );
        assert!(m.preemption.unwrap().starts_with("0/5 nodes"));
        let m = parse_scheduler_message("0/3 nodes are available: 1 node(s) didn't match pod anti-affinity rules, a, b, 2 Insufficient cpu.").unwrap();
        assert_eq!(
            m.reasons[0].0,
            "node(s) didn't match pod anti-affinity rules, a, b"
        );
        assert_eq!(m.reasons[1], ("Insufficient cpu".to_string(), 2));
        assert_eq!(parse_scheduler_message("no nodes"), None);
    }

    #[test]
    fn unschedulable_pod() {
        let yaml = r#"
apiVersion: v1
kind: Pod
metadata: {name: big, namespace: shop, uid: p-9}
spec: {containers: [{name: app, image: app}]}
status:
  phase: Pending
  conditions:
  - type: PodScheduled
    status: "False"
    reason: Unschedulable
    lastTransitionTime: "2026-01-01T00:00:00Z"
    message: "0/5 nodes are available: 3 Insufficient memory, 2 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }. preemption: 0/5 nodes are available: 5 Preemption is not helpful for scheduling."
"#;
        let found = run(yaml);
        assert_eq!(found.len(), 1);
        let f = &found[0];
        assert_eq!(
            (f.fault, f.container.as_deref()),
            (FaultId::Unschedulable, None)
        );
        assert_eq!(f.evidence["reasons"]["Insufficient memory"], 3);
        assert_eq!(f.evidence["nodes_total"], 5);
    }

    #[test]
    fn eviction_messages_parse() {
        let e = parse_eviction(
            "The node was low on resource: ephemeral-storage. Threshold quantity: 10Gi, available: 5Gi. Container app was using 12Gi, request is 0, has larger consumption of ephemeral-storage. ",
        );
        assert_eq!(e.kind, Some("node-pressure"));
        assert_eq!(e.resource.as_deref(), Some("ephemeral-storage"));
        assert_eq!(
            (e.threshold.as_deref(), e.available.as_deref()),
            (Some("10Gi"), Some("5Gi"))
        );
        assert_eq!(
            e.containers,
            vec![EvictedContainer {
                name: "app".into(),
                usage: Some("12Gi".into()),
                request: Some("0".into()),
                limit: None
            }]
        );
        let e = parse_eviction(
            "Pod ephemeral local storage usage exceeds the total limit of containers 1Gi. ",
        );
        assert_eq!(
            (e.kind, e.pod_limit.as_deref()),
            (Some("pod-limit"), Some("1Gi"))
        );
        let e =
            parse_eviction("Container app exceeded its local ephemeral storage limit \"1Gi\". ");
        assert_eq!(
            (e.kind, e.containers[0].limit.as_deref()),
            (Some("container-limit"), Some("1Gi"))
        );
        let e = parse_eviction(
            "The node was low on resource: memory. Container web was using 1200Mi, which exceeds its request of 256Mi. ",
        );
        assert_eq!(e.containers[0].request.as_deref(), Some("256Mi"));
        let e = parse_eviction("The node had condition: [DiskPressure]. ");
        assert_eq!(e.node_condition.as_deref(), Some("DiskPressure"));
        let e = parse_eviction("Usage of EmptyDir volume \"cache\" exceeds the limit \"1Gi\". ");
        assert_eq!(
            (e.volume.as_deref(), e.pod_limit.as_deref()),
            (Some("cache"), Some("1Gi"))
        );
        assert_eq!(parse_eviction(""), Eviction::default());
    }

    #[test]
    fn evicted_pod_is_one_finding_naming_the_container() {
        let status = "    restartCount: 0\n    state: {terminated: {exitCode: 137, reason: Error}}\n  reason: Evicted\n  message: 'The node was low on resource: memory. Threshold quantity: 100Mi, available: 80Mi. Container web was using 1200Mi, request is 256Mi, has larger consumption of memory. '";
        let found = run(&pod(status));
        assert_eq!(found.len(), 1, "{found:#?}");
        let f = &found[0];
        assert_eq!(
            (f.fault, f.container.as_deref()),
            (FaultId::Evicted, Some("web"))
        );
        assert_eq!(f.evidence["resource"], "memory");
        assert_eq!(f.evidence["usage"], "1200Mi");
        assert_eq!(f.evidence["request"], "256Mi");
        assert_eq!(f.evidence["request_memory"], "256Mi");
        assert_eq!(f.evidence["limit_memory"], "512Mi");
    }

    #[test]
    fn stuck_terminating_after_grace_and_margin() {
        let yaml = "apiVersion: v1\nkind: Pod\nmetadata: {name: old, namespace: shop, uid: p, deletionTimestamp: '2026-01-01T00:00:00Z', deletionGracePeriodSeconds: 60, finalizers: [example.com/block]}\nspec: {containers: [{name: a, image: a}]}\n";
        // 60s grace + 300s margin: stuck after 00:06:00.
        assert!(run_at(yaml, "2026-01-01T00:05:59Z").is_empty());
        let found = run_at(yaml, "2026-01-01T00:06:01Z");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].fault, FaultId::StuckTerminating);
        assert_eq!(found[0].evidence["grace_period_seconds"], 60);
        assert_eq!(found[0].evidence["finalizers"][0], "example.com/block");
    }
}
