//! Proposal tests: findings built by hand over real object shapes, so each primitive's
//! arithmetic and refusals are checked independently of detection.

use super::*;
use crate::detection::evidence::{ContainerBase, ContainerFacts, Evidence, ProbeFacts};
use crate::detection::{FaultId, Finding, PullCause};
use crate::objref::{ObjectRef, WorkloadKind};

fn deployment(limit: Option<&str>, request: Option<&str>) -> String {
    let mut res = String::new();
    if let Some(r) = request {
        res.push_str(&format!("            requests: {{memory: \"{r}\"}}\n"));
    }
    if let Some(l) = limit {
        res.push_str(&format!("            limits: {{memory: \"{l}\"}}\n"));
    }
    let resources = if res.is_empty() {
        String::new()
    } else {
        format!("          resources:\n{res}")
    };
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: web, namespace: shop, uid: d1}}\nspec:\n  selector: {{matchLabels: {{app: web}}}}\n  template:\n    metadata: {{labels: {{app: web}}}}\n    spec:\n      containers:\n        - name: sidecar\n          image: envoy:1\n          resources: {{limits: {{memory: 64Mi}}}}\n        - name: app\n          image: shop/web:2\n{resources}"
    )
}

fn base(container: &str) -> ContainerBase {
    ContainerBase {
        container: container.into(),
        image: None,
        restart_count: 4,
    }
}

fn finding(fault: FaultId, container: &str) -> Finding {
    let evidence = Evidence::from(Facts::Container(ContainerFacts {
        base: base(container),
        ..ContainerFacts::default()
    }));
    Finding {
        fault,
        namespace: "shop".into(),
        pod: Some("web-abc-1".into()),
        container: Some(container.into()),
        init_container: false,
        cause: None,
        subject: ObjectRef::workload(WorkloadKind::Pod, "shop", "web-abc-1"),
        owner: ObjectRef::workload(WorkloadKind::Deployment, "shop", "web"),
        evidence,
    }
}

fn run(state_yaml: &str, f: &Finding, history: History) -> Outcome {
    let state = ClusterState::from_text(state_yaml).unwrap();
    let key = IncidentKey::new("default", &f.owner, f.fault);
    propose(&key, &[f], &state, &Policy::default(), history)
}

fn draft(o: Outcome) -> Draft {
    match o {
        Outcome::Propose(d) => *d,
        Outcome::Escalate(e) => panic!("escalated: {}", e.reason),
    }
}

fn reason(o: Outcome) -> String {
    match o {
        Outcome::Escalate(e) => e.reason,
        Outcome::Propose(d) => panic!("proposed: {}", d.title()),
    }
}

#[test]
fn oom_at_512mi_proposes_640mi_like_the_worked_example() {
    let d = draft(run(
        &deployment(Some("512Mi"), Some("256Mi")),
        &finding(FaultId::OomKilled, "app"),
        History::default(),
    ));
    assert_eq!(d.primitive, Primitive::RaiseMemoryLimit);
    assert_eq!(d.change.from, "512Mi");
    assert_eq!(d.change.to, "640Mi");
    assert_eq!(
        d.change.field,
        "spec.template.spec.containers[name=app].resources.limits.memory"
    );
    assert_eq!(
        d.target.container, "app",
        "matched by name, not the first container"
    );
    assert!(d.also.is_empty(), "Burstable: the request stays");
    assert!(
        d.basis.contains("614.4Mi") && d.basis.contains("612Mi"),
        "{}",
        d.basis
    );
    assert_eq!(d.rollback.changes[0].to, "512Mi");
    assert_eq!(
        d.title(),
        "fix(shop/web): raise memory limit 512Mi -> 640Mi"
    );
    assert_eq!(d.key.to_string(), "default/shop/Deployment/web/oom-killed");
}

#[test]
fn larger_limits_follow_the_ratio_and_keep_unit_style() {
    for (old, new) in [
        ("1Gi", "1280Mi"),
        ("2Gi", "2496Mi"),
        ("0.5Gi", "640Mi"),
        ("512M", "640Mi"),
        ("5Gi", "6Gi"),
    ] {
        let d = draft(run(
            &deployment(Some(old), None),
            &finding(FaultId::OomKilled, "app"),
            History::default(),
        ));
        assert_eq!(d.change.to, new, "from {old}");
    }
}

#[test]
fn guaranteed_qos_raises_request_with_limit() {
    let d = draft(run(
        &deployment(Some("512Mi"), Some("512Mi")),
        &finding(FaultId::OomKilled, "app"),
        History::default(),
    ));
    assert_eq!(d.also.len(), 1);
    assert_eq!(
        d.also[0].field,
        "spec.template.spec.containers[name=app].resources.requests.memory"
    );
    assert_eq!(d.also[0].to, "640Mi");
    assert_eq!(d.writes.len(), 2);
    assert_eq!(d.rollback.changes.len(), 2);
}

#[test]
fn no_limit_escalates_naming_the_container() {
    let r = reason(run(
        &deployment(None, Some("256Mi")),
        &finding(FaultId::OomKilled, "app"),
        History::default(),
    ));
    assert!(r.contains("container app has no memory limit"), "{r}");
}

#[test]
fn over_the_double_cap_escalates() {
    // 64Mi -> max(76.8Mi, 164Mi) -> 192Mi, over 2 x 64Mi = 128Mi.
    let r = reason(run(
        &deployment(Some("64Mi"), None),
        &finding(FaultId::OomKilled, "app"),
        History::default(),
    ));
    assert!(r.contains("192Mi") && r.contains("128Mi"), "{r}");
}

#[test]
fn limit_range_max_caps_the_bump() {
    let text = format!(
        "{}---\napiVersion: v1\nkind: LimitRange\nmetadata: {{name: caps, namespace: shop}}\nspec:\n  limits:\n  - type: Container\n    max: {{memory: 600Mi}}\n",
        deployment(Some("512Mi"), None)
    );
    let r = reason(run(
        &text,
        &finding(FaultId::OomKilled, "app"),
        History::default(),
    ));
    assert!(r.contains("LimitRange shop/caps max memory"), "{r}");
}

#[test]
fn third_bump_is_refused_as_a_probable_leak() {
    let r = reason(run(
        &deployment(Some("640Mi"), None),
        &finding(FaultId::OomKilled, "app"),
        History { prior_bumps: 2 },
    ));
    assert!(r.contains("probable leak"), "{r}");
    let second = draft(run(
        &deployment(Some("640Mi"), None),
        &finding(FaultId::OomKilled, "app"),
        History { prior_bumps: 1 },
    ));
    assert!(second.confidence.est < 0.8);
}

#[test]
fn unknown_units_escalate_with_the_value() {
    let r = reason(run(
        &deployment(Some("512MB"), None),
        &finding(FaultId::OomKilled, "app"),
        History::default(),
    ));
    assert!(r.contains("\"512MB\" is not a Kubernetes quantity"), "{r}");
}

#[test]
fn missing_owner_escalates_instead_of_guessing() {
    let r = reason(run(
        "apiVersion: v1\nkind: List\nitems: []\n",
        &finding(FaultId::OomKilled, "app"),
        History::default(),
    ));
    assert!(r.contains("not in the snapshot"), "{r}");
}

/// A Deployment at revision 2 (image `tag2`) whose pods fail, and revision 1 (`tag1`).
fn rollout(prev_available: i32) -> String {
    let rs = |rev: i32, hash: &str, tag: &str, available: i32| {
        format!(
            "---\napiVersion: apps/v1\nkind: ReplicaSet\nmetadata:\n  name: web-{hash}\n  namespace: shop\n  labels: {{pod-template-hash: {hash}}}\n  annotations: {{deployment.kubernetes.io/revision: \"{rev}\"}}\n  ownerReferences: [{{apiVersion: apps/v1, kind: Deployment, name: web, uid: d1, controller: true}}]\nspec:\n  selector: {{matchLabels: {{app: web}}}}\n  template:\n    spec:\n      containers:\n        - {{name: sidecar, image: \"envoy:1\"}}\n        - {{name: app, image: \"shop/web:{tag}\"}}\nstatus: {{replicas: {available}, availableReplicas: {available}}}\n"
        )
    };
    let pod = "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: web-bbb-1\n  namespace: shop\n  labels: {pod-template-hash: bbb}\nspec:\n  containers: [{name: app, image: \"shop/web:tag2\"}]\n";
    format!(
        "{}{}{}{pod}",
        deployment(Some("512Mi"), None),
        rs(1, "aaa", "tag1", prev_available),
        rs(2, "bbb", "tag2", 0)
    )
}

fn pull_finding(cause: PullCause) -> Finding {
    pull_finding_with(cause, |_| {})
}

/// An image pull finding with `cause`, its facts adjusted by `edit`.
fn pull_finding_with(cause: PullCause, edit: impl FnOnce(&mut ContainerFacts)) -> Finding {
    let mut f = finding(FaultId::ImagePullBackOff, "app");
    f.pod = Some("web-bbb-1".into());
    let mut facts = ContainerFacts {
        base: base("app"),
        waiting_reason: Some("ImagePullBackOff".into()),
        message: Some("manifest unknown".into()),
        pull_error: Some(cause),
        ..ContainerFacts::default()
    };
    edit(&mut facts);
    f.evidence = Evidence::from(Facts::Container(facts));
    f
}

fn probe_finding(fault: FaultId, during_startup: Option<bool>, observed: Option<i64>) -> Finding {
    let mut f = finding(fault, "app");
    f.evidence = Evidence::from(Facts::Probe(ProbeFacts {
        base: base("app"),
        during_startup: during_startup.map(Some),
        observed_start_seconds: observed,
        ..ProbeFacts::default()
    }));
    f
}

#[test]
fn missing_tag_reverts_to_the_healthy_previous_image() {
    let d = draft(run(
        &rollout(2),
        &pull_finding(PullCause::NotFound),
        History::default(),
    ));
    assert_eq!(d.primitive, Primitive::RevertImage);
    assert_eq!(
        (d.change.from.as_str(), d.change.to.as_str()),
        (Some("shop/web:tag2"), Some("shop/web:tag1"))
    );
    assert!(
        d.basis
            .contains("revision 1 (ReplicaSet web-aaa) still has 2 available"),
        "{}",
        d.basis
    );
    assert_eq!(d.rollback.changes[0].to, "shop/web:tag2");
}

#[test]
fn no_healthy_previous_revision_escalates() {
    let r = reason(run(
        &rollout(0),
        &pull_finding(PullCause::NotFound),
        History::default(),
    ));
    assert!(r.contains("no previous revision"), "{r}");
}

#[test]
fn registry_auth_errors_escalate() {
    let r = reason(run(
        &rollout(2),
        &pull_finding(PullCause::Unauthorized),
        History::default(),
    ));
    assert!(
        r.contains("the registry refused the pull (manifest unknown): an access problem"),
        "{r}"
    );
}

fn probe_deployment(startup: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: web, namespace: shop}}\nspec:\n  selector: {{matchLabels: {{app: web}}}}\n  template:\n    spec:\n      containers:\n        - name: app\n          image: shop/web:2\n          livenessProbe: {{httpGet: {{path: /healthz, port: 8080}}, initialDelaySeconds: 10, periodSeconds: 10, failureThreshold: 3}}\n{startup}"
    )
}

#[test]
fn startup_kills_get_a_startup_probe_covering_the_observed_start() {
    let f = probe_finding(FaultId::LivenessProbeFailure, Some(true), Some(80));
    let d = draft(run(&probe_deployment(""), &f, History::default()));
    assert_eq!(d.primitive, Primitive::TuneProbe);
    // 80s x 1.5 = 120s at a 10s period: failureThreshold 12.
    assert_eq!(d.change.to["failureThreshold"], 12);
    assert_eq!(d.change.to["httpGet"]["path"], "/healthz");
    assert!(d.change.from.is_null());
    assert_eq!(d.title(), "fix(shop/web): add a startup probe to app");
}

#[test]
fn an_existing_startup_probe_gets_a_higher_threshold() {
    let f = probe_finding(FaultId::StartupProbeFailure, None, Some(60));
    let startup = "          startupProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 5, failureThreshold: 12}\n";
    let d = draft(run(&probe_deployment(startup), &f, History::default()));
    // budget 60s, needed 90s at a 5s period: 18.
    assert_eq!(
        (d.change.from.clone(), d.change.to.clone()),
        (12.into(), 18.into())
    );
}

#[test]
fn liveness_kills_after_startup_escalate() {
    let f = probe_finding(FaultId::LivenessProbeFailure, Some(false), Some(300));
    let r = reason(run(&probe_deployment(""), &f, History::default()));
    assert!(r.contains("after it had started"), "{r}");
    assert!(r.contains("Restarts: 4"), "{r}");
}

#[test]
fn many_pods_of_one_workload_group_into_one_incident() {
    let a = finding(FaultId::OomKilled, "app");
    let mut b = a.clone();
    b.pod = Some("web-abc-2".into());
    let c = finding(FaultId::CrashLoopBackOff, "app");
    let findings = [a, b, c];
    let groups = group_findings(&findings, "default");
    assert_eq!(groups.len(), 2);
    assert_eq!(groups[0].1.len(), 2);
}

/// An image pull failure with only the kubelet's back-off: the evidence names no cause.
#[test]
fn a_pull_failure_without_a_reported_cause_says_so_and_what_to_check() {
    let f = pull_finding_with(PullCause::NotReported, |c| {
        c.message = Some("Back-off pulling image \"shop/web:3\"".into());
        c.base.image = Some("shop/web:3".into());
    });
    let r = reason(run(&rollout(2), &f, History::default()));
    assert!(
        r.contains("cause of the pull failure was not reported"),
        "{r}"
    );
    assert!(
        r.contains("shop/web:3 exists") && r.contains("imagePullSecrets") && r.contains("network"),
        "{r}"
    );
    assert!(!r.contains("refused"), "{r}");
}

#[test]
fn a_reported_network_failure_is_not_called_a_refusal() {
    let f = pull_finding_with(PullCause::Other, |c| {
        c.message = Some("Back-off pulling image \"shop/web:3\"".into());
        c.pull_event_message =
            Some("Failed to pull image \"shop/web:3\": dial tcp 10.0.0.1:443: i/o timeout".into());
    });
    let r = reason(run(&rollout(2), &f, History::default()));
    assert!(
        r.contains("(Failed to pull image \"shop/web:3\": dial tcp 10.0.0.1:443: i/o timeout)"),
        "{r}"
    );
    assert!(!r.contains("refused") && !r.contains("not reported"), "{r}");
}

fn with_limit_range(deployment: String, max: &str) -> String {
    format!(
        "{deployment}---\napiVersion: v1\nkind: LimitRange\nmetadata: {{name: caps, namespace: shop}}\nspec:\n  limits:\n  - type: Container\n    max: {{memory: {max}}}\n"
    )
}

#[test]
fn a_refused_bump_names_only_the_cap_that_binds() {
    // 64Mi -> 192Mi: over the 2x rule (128Mi), under the LimitRange max (2Gi).
    let r = reason(run(
        &with_limit_range(deployment(Some("64Mi"), None), "2Gi"),
        &finding(FaultId::OomKilled, "app"),
        History::default(),
    ));
    assert!(
        r.contains("exceeds the 2x rule (at most 2× the current value 64Mi) = 128Mi"),
        "{r}"
    );
    assert!(!r.contains("LimitRange") && !r.contains("2Gi"), "{r}");
    // 512Mi -> 640Mi: under the 2x rule (1Gi), over the LimitRange max (600Mi).
    let r = reason(run(
        &with_limit_range(deployment(Some("512Mi"), None), "600Mi"),
        &finding(FaultId::OomKilled, "app"),
        History::default(),
    ));
    assert!(
        r.contains("exceeds LimitRange shop/caps max memory = 600Mi"),
        "{r}"
    );
    assert!(!r.contains("2x rule") && !r.contains("1Gi"), "{r}");
}

#[test]
fn a_bump_under_every_cap_is_proposed_and_the_basis_marks_the_loose_one() {
    let d = draft(run(
        &with_limit_range(deployment(Some("512Mi"), None), "4Gi"),
        &finding(FaultId::OomKilled, "app"),
        History::default(),
    ));
    assert_eq!(d.change.to, "640Mi");
    assert!(
        d.basis
            .contains("LimitRange shop/caps max memory (not binding)"),
        "{}",
        d.basis
    );
}

#[test]
fn the_leak_stop_is_named_with_its_value() {
    let policy = Policy {
        max_bumps: 3,
        ..Policy::default()
    };
    let state = ClusterState::from_text(&deployment(Some("640Mi"), None)).unwrap();
    let f = finding(FaultId::OomKilled, "app");
    let key = IncidentKey::new("default", &f.owner, f.fault);
    let r = reason(propose(
        &key,
        &[&f],
        &state,
        &policy,
        History { prior_bumps: 3 },
    ));
    assert!(
        r.contains("after 3 memory bumps for this incident, the leak stop (3 bumps per incident)"),
        "{r}"
    );
    assert!(!r.contains("third"), "{r}");
    // Under the stop, a fourth bump is still proposed.
    let o = propose(&key, &[&f], &state, &policy, History { prior_bumps: 2 });
    assert!(matches!(o, Outcome::Propose(_)), "{o:?}");
}

/// Detection, then proposal, over `yaml`: the reason of each escalation by fault.
fn escalation_reasons(yaml: &str) -> Vec<(FaultId, String)> {
    let state = ClusterState::from_text(yaml).unwrap();
    let findings = crate::detection::detect(&state, "2026-01-01T01:00:00Z".parse().unwrap());
    group_findings(&findings, "default")
        .iter()
        .filter_map(|(key, group)| {
            match propose(key, group, &state, &Policy::default(), History::default()) {
                Outcome::Escalate(e) => Some((e.fault, e.reason)),
                Outcome::Propose(_) => None,
            }
        })
        .collect()
}

fn reason_for(reasons: &[(FaultId, String)], fault: FaultId) -> &str {
    reasons
        .iter()
        .find(|(f, _)| *f == fault)
        .map(|(_, r)| r.as_str())
        .unwrap_or_else(|| panic!("no {fault} escalation in {reasons:#?}"))
}

/// These reasons once read a `message` their evidence never had and said "no ... message".
#[test]
fn escalations_quote_the_message_their_evidence_holds() {
    let pending = |name: &str, extra: &str| {
        format!(
            "---\napiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: shop, uid: {name}}}\nspec: {{nodeName: n-ok, containers: [{{name: web, image: web}}]}}\nstatus:\n  phase: Pending\n{extra}"
        )
    };
    let event = |kind: &str, name: &str, reason: &str, message: &str| {
        format!(
            "---\napiVersion: v1\nkind: Event\nmetadata: {{name: e-{name}, namespace: shop}}\ninvolvedObject: {{kind: {kind}, name: {name}, namespace: shop, uid: {name}}}\nreason: {reason}\nmessage: {message:?}\ntype: Warning\ncount: 2\nlastTimestamp: \"2026-01-01T00:50:00Z\"\n"
        )
    };
    let yaml = [
        pending("mount", "  containerStatuses:\n  - {name: web, image: web, imageID: '', ready: false, restartCount: 0, state: {waiting: {reason: ContainerCreating}}}\n"),
        event("Pod", "mount", "FailedMount", "MountVolume.SetUp failed for volume \"config\" : configmap \"app-config\" not found"),
        pending("sandbox", ""),
        event("Pod", "sandbox", "FailedCreatePodSandBox", "failed to setup network for sandbox: plugin type=\"calico\" failed"),
        "---\napiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data, namespace: shop, uid: data}\nspec: {storageClassName: fast}\nstatus: {phase: Pending}\n".to_string(),
        event("PersistentVolumeClaim", "data", "ProvisioningFailed", "storageclass.storage.k8s.io \"fast\" not found"),
        "---\napiVersion: v1\nkind: Pod\nmetadata: {name: ready, namespace: shop, uid: ready}\nspec: {containers: [{name: web, image: web}]}\nstatus:\n  phase: Running\n  containerStatuses:\n  - {name: web, image: web, imageID: '', ready: false, restartCount: 0, state: {running: {startedAt: '2026-01-01T00:00:00Z'}}}\n".to_string(),
        "---\napiVersion: v1\nkind: Event\nmetadata: {name: e-ready, namespace: shop}\ninvolvedObject: {kind: Pod, name: ready, namespace: shop, uid: ready, fieldPath: 'spec.containers{web}'}\nreason: Unhealthy\nmessage: 'Readiness probe failed: HTTP probe failed with statuscode: 503'\ntype: Warning\ncount: 30\nlastTimestamp: '2026-01-01T00:50:00Z'\n".to_string(),
        "---\napiVersion: v1\nkind: Node\nmetadata: {name: n-down}\nstatus:\n  conditions:\n  - {type: Ready, status: Unknown, reason: NodeStatusUnknown, message: Kubelet stopped posting node status.}\n".to_string(),
    ]
    .concat();
    let reasons = escalation_reasons(&yaml);
    let has = |fault: FaultId, text: &str| {
        let r = reason_for(&reasons, fault);
        assert!(r.contains(text), "{fault}: {r}");
        assert!(
            !r.contains("no event message") && !r.contains("no probe message"),
            "{r}"
        );
    };
    has(FaultId::FailedMount, "configmap \"app-config\" not found");
    has(
        FaultId::SandboxCreationFailed,
        "plugin type=\"calico\" failed",
    );
    has(
        FaultId::PvcPending,
        "storageclass.storage.k8s.io \"fast\" not found",
    );
    has(
        FaultId::ReadinessProbeFailure,
        "HTTP probe failed with statuscode: 503",
    );
    has(
        FaultId::NodeNotReady,
        "(Kubelet stopped posting node status.)",
    );
}

/// The captured fixture: a bare Pod in `ImagePullBackOff` with only the back-off message.
#[test]
fn a_back_off_only_pull_says_the_cause_was_not_reported_whatever_the_history() {
    let yaml = "apiVersion: v1\nkind: Pod\nmetadata: {name: solo, namespace: shop, uid: s}\nspec: {containers: [{name: web, image: 'shop/web:3'}]}\nstatus:\n  phase: Pending\n  containerStatuses:\n  - {name: web, image: 'shop/web:3', imageID: '', ready: false, restartCount: 0, state: {waiting: {reason: ImagePullBackOff, message: 'Back-off pulling image \"shop/web:3\"'}}}\n";
    let reasons = escalation_reasons(yaml);
    let r = reason_for(&reasons, FaultId::ImagePullBackOff);
    assert!(
        r.contains("the cause of the pull failure was not reported")
            && r.contains("Check that shop/web:3 exists"),
        "{r}"
    );
    assert!(!r.contains("refused"), "{r}");
    // A missing tag on a bare Pod still says why it cannot be reverted.
    let missing = yaml.replace(
        "message: 'Back-off pulling image \"shop/web:3\"'",
        "message: 'manifest for shop/web:3 not found: manifest unknown'",
    );
    let reasons = escalation_reasons(&missing);
    let r = reason_for(&reasons, FaultId::ImagePullBackOff);
    assert!(r.contains("a bare Pod has no earlier revision"), "{r}");
}

mod guards;
