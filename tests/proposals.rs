//! What `suture plan` proposes, read from its JSON output as a user reads it: memory sizing in
//! every quantity form, eviction sizing and its caps, fixes suppressed by a failing node, image
//! reverts for every fault that can revert (and each refusal), and startup probe tuning.
//!
//! Every expected number is worked out by hand in the test from the rules in docs/faults.md:
//! `new = max(L × 1.2, L + 100Mi[, usage × 1.2])`, rounded up to 64Mi, capped at 2 × L; a startup
//! budget `initialDelaySeconds + periodSeconds × failureThreshold` covering the observed start
//! × 1.5, at most 600 s.

#[path = "plan_support/mod.rs"]
mod support;

use serde_json::json;
use support::*;

// ---- memory sizing through propose -------------------------------------------------------

/// Deployment `shop/web` whose container `app` (with `resources`, a flow map) was OOMKilled
/// after 5 minutes, three times.
fn oom_snapshot(resources: &str) -> Snapshot {
    let d = Deploy::new("shop", "web").revision(
        "5f7d9c",
        &[&format!(
            "{{name: app, image: \"shop/web:2.3.1\", resources: {resources}}}"
        )],
        0,
    );
    let pod = d.pod(
        "5f7d9c",
        "x2k9p",
        &[status(
            "app",
            "shop/web:2.3.1",
            3,
            "{waiting: {reason: CrashLoopBackOff, message: \"back-off 40s restarting failed container=app pod=web-5f7d9c-x2k9p\"}}",
            &terminated(
                "OOMKilled",
                137,
                "2026-11-23T08:40:00Z",
                "2026-11-23T08:45:00Z",
            ),
        )],
    );
    Snapshot::new().with(d.yaml()).with(pod)
}

/// The raise-memory-limit proposal for an OOM at `resources`.
fn oom_proposal(resources: &str) -> serde_json::Value {
    let plan = oom_snapshot(resources).plan();
    let p = plan.proposal("oom-killed").clone();
    assert_eq!(p["primitive"], "raise-memory-limit", "{}", plan.pretty());
    assert_eq!(
        p["change"]["field"],
        "spec.template.spec.containers[name=app].resources.limits.memory"
    );
    assert_eq!(p["key"], "default/shop/Deployment/web/oom-killed");
    // No Argo CD Application in these snapshots: proposed, but not as a pull request.
    assert_eq!(p["rail"], "escalate-only");
    assert!(p["diff"].is_null() && p["file"].is_null(), "{p}");
    assert_mentions(
        p["note"].as_str().unwrap(),
        &["no Argo CD Application", "shop/web"],
    );
    p
}

#[test]
fn plain_byte_limit_is_sized_from_its_byte_value() {
    // 600000000 B × 1.2 = 720000000 B (686.6Mi); + 100Mi = 704857600 B (672.2Mi).
    // 720000000 / 64Mi = 10.7 -> 11 × 64Mi = 704Mi, under 2 × 600000000 B.
    let p = oom_proposal("{limits: {memory: \"600000000\"}}");
    assert_eq!(p["change"]["from"], "600000000");
    assert_eq!(p["change"]["to"], "704Mi");
    let basis = p["basis"].as_str().unwrap();
    assert_mentions(
        basis,
        &["600000000", "686.6Mi", "672.2Mi", "704Mi", "1.2", "100Mi"],
    );
    assert_eq!(
        p["rollback"]["changes"][0],
        json!({"field": "spec.template.spec.containers[name=app].resources.limits.memory", "from": "704Mi", "to": "600000000"})
    );
    assert!(p.get("also").is_none(), "no request: nothing goes with it");
}

#[test]
fn ki_limit_is_sized_in_binary_units() {
    // 1000000Ki = 1024000000 B = 976.6Mi; × 1.2 = 1171.9Mi; + 100Mi = 1076.6Mi.
    // 1171.9Mi / 64Mi = 18.3 -> 19 × 64Mi = 1216Mi.
    let p = oom_proposal("{requests: {memory: 512Mi}, limits: {memory: 1000000Ki}}");
    assert_eq!(p["change"]["from"], "1000000Ki");
    assert_eq!(p["change"]["to"], "1216Mi");
    assert_mentions(
        p["basis"].as_str().unwrap(),
        &["1171.9Mi", "1076.6Mi", "1216Mi"],
    );
    // Request 512Mi != limit: Burstable, the request stays.
    assert!(p.get("also").is_none(), "{p}");
    assert_mentions(p["basis"].as_str().unwrap(), &["512Mi stays"]);
}

#[test]
fn decimal_g_limit_is_sized_from_its_byte_value() {
    // 1G = 10^9 B; × 1.2 = 1144.4Mi; + 100Mi = 1053.7Mi. 1144.4 / 64 = 17.9 -> 18 × 64Mi.
    let p = oom_proposal("{limits: {memory: 1G}}");
    assert_eq!(p["change"]["from"], "1G");
    assert_eq!(p["change"]["to"], "1152Mi");
    assert_mentions(
        p["basis"].as_str().unwrap(),
        &["1144.4Mi", "1053.7Mi", "1152Mi"],
    );
}

#[test]
fn exponent_limit_is_sized_from_its_byte_value() {
    // 5e8 = 500000000 B; × 1.2 = 572.2Mi; + 100Mi = 576.8Mi (the larger). 576.8 / 64 = 9.01
    // -> 10 × 64Mi = 640Mi, under 2 × 5e8 = 953.7Mi.
    let p = oom_proposal("{limits: {memory: \"5e8\"}}");
    assert_eq!(p["change"]["from"], "5e8");
    assert_eq!(p["change"]["to"], "640Mi");
    assert_mentions(
        p["basis"].as_str().unwrap(),
        &["572.2Mi", "576.8Mi", "640Mi"],
    );
}

#[test]
fn guaranteed_qos_in_decimal_units_raises_the_request_with_the_limit() {
    let p = oom_proposal("{requests: {memory: 1G}, limits: {memory: 1G}}");
    assert_eq!(p["change"]["to"], "1152Mi");
    assert_eq!(
        p["also"],
        json!([{"field": "spec.template.spec.containers[name=app].resources.requests.memory", "from": "1G", "to": "1152Mi"}])
    );
    let rollback = p["rollback"]["changes"].as_array().unwrap();
    assert_eq!(rollback.len(), 2, "{p}");
    assert_eq!(rollback[1]["to"], "1G");
}

#[test]
fn a_limit_range_max_above_the_new_value_does_not_stop_the_bump() {
    // 512Mi -> max(614.4Mi, 612Mi) -> 640Mi; the namespace allows up to 1Gi.
    let plan = oom_snapshot("{limits: {memory: 512Mi}}")
        .with(limit_range("shop", "container-caps", "{memory: 1Gi}"))
        .plan();
    assert_eq!(plan.proposal("oom-killed")["change"]["to"], "640Mi");
}

#[test]
fn a_limit_range_max_below_the_new_value_escalates() {
    // 640Mi would exceed the namespace's 600Mi max: no proposal (the wording of the cap is
    // checked elsewhere).
    let plan = oom_snapshot("{limits: {memory: 512Mi}}")
        .with(limit_range("shop", "container-caps", "{memory: 600Mi}"))
        .plan();
    plan.assert_no_proposal("oom-killed");
    let e = plan.escalation("oom-killed");
    assert_eq!(e["evidence"]["limit_memory"], "512Mi");
}

#[test]
fn a_limit_range_of_another_namespace_does_not_apply() {
    let plan = oom_snapshot("{limits: {memory: 512Mi}}")
        .with(limit_range("billing", "container-caps", "{memory: 600Mi}"))
        .plan();
    assert_eq!(plan.proposal("oom-killed")["change"]["to"], "640Mi");
}

// ---- eviction sizing ---------------------------------------------------------------------

/// Deployment `shop/web` (container `app` with `resources`) with one pod on `node-a`, evicted
/// with the kubelet's `message`; `node-a` reports `conditions`.
fn evicted_snapshot(resources: &str, message: &str, node_conditions: &[&str]) -> Snapshot {
    evicted_snapshot_tracked(resources, message, node_conditions, None)
}

/// As [`evicted_snapshot`], the Deployment tracked by the Argo CD Application `app`.
fn evicted_snapshot_tracked(
    resources: &str,
    message: &str,
    node_conditions: &[&str],
    app: Option<&str>,
) -> Snapshot {
    let mut d = Deploy::new("shop", "web").revision(
        "5f7d9c",
        &[&format!(
            "{{name: app, image: \"shop/web:2.3.1\", resources: {resources}}}"
        )],
        1,
    );
    if let Some(app) = app {
        d = d.tracked_by(app);
    }
    let r = &d.revisions[0];
    let pod = pod_yaml(
        "shop",
        "web-5f7d9c-q8w2n",
        "  labels: {app: web, pod-template-hash: 5f7d9c}\n  ownerReferences:\n  - {apiVersion: apps/v1, kind: ReplicaSet, name: web-5f7d9c, uid: uid-rs-web-5f7d9c, controller: true}\n",
        &r.containers,
        "  nodeName: node-a\n",
        &[status(
            "app",
            "shop/web:2.3.1",
            0,
            "{terminated: {exitCode: 137, reason: ContainerStatusUnknown, message: The container could not be located when the pod was terminated}}",
            "",
        )],
        &format!(
            "  reason: Evicted\n  message: {}\n",
            serde_json::to_string(message).unwrap()
        ),
    );
    Snapshot::new()
        .with(d.yaml())
        .with(pod)
        .with(node("node-a", node_conditions))
}

const MEMORY_EVICTION: &str = "The node was low on resource: memory. Threshold quantity: 100Mi, available: 88Mi. Container app was using 600Mi, request is 512Mi, has larger consumption of memory. ";

/// MemoryPressure has cleared since the eviction.
const PRESSURE_CLEARED: [&str; 2] = [
    NODE_READY,
    r#"{type: MemoryPressure, status: "False", reason: KubeletHasSufficientMemory}"#,
];

#[test]
fn memory_eviction_above_the_request_raises_the_request_from_the_usage() {
    // max(512Mi × 1.2 = 614.4Mi, 512Mi + 100Mi = 612Mi, usage 600Mi × 1.2 = 720Mi) = 720Mi
    // -> 12 × 64Mi = 768Mi; under the 1Gi limit and 2 × 512Mi.
    let plan = evicted_snapshot(
        "{requests: {memory: 512Mi}, limits: {memory: 1Gi}}",
        MEMORY_EVICTION,
        &PRESSURE_CLEARED,
    )
    .plan();
    let p = plan.proposal("evicted");
    assert_eq!(p["primitive"], "raise-memory-request");
    assert_eq!(
        p["change"],
        json!({"field": "spec.template.spec.containers[name=app].resources.requests.memory", "from": "512Mi", "to": "768Mi"})
    );
    assert_eq!(p["target"]["container"], "app");
    assert_eq!(p["rollback"]["changes"][0]["to"], "512Mi");
    assert_mentions(p["basis"].as_str().unwrap(), &["600Mi", "720Mi", "768Mi"]);
    assert!(p.get("also").is_none(), "the limit is not touched: {p}");
}

#[test]
fn memory_eviction_within_the_request_does_not_raise_it() {
    // The container used 400Mi of its 512Mi request: the node ran out of memory because of
    // others, and a larger request for this pod would not have prevented the eviction
    // (docs/faults.md raises the request only for an eviction above it).
    let plan = evicted_snapshot(
        "{requests: {memory: 512Mi}, limits: {memory: 1Gi}}",
        "The node was low on resource: memory. Threshold quantity: 100Mi, available: 88Mi. Container app was using 400Mi, request is 512Mi, has larger consumption of memory. ",
        &PRESSURE_CLEARED,
    )
    .plan();
    plan.assert_no_proposal("evicted");
    assert_mentions(&plan.reason("evicted"), &["app", "400Mi", "512Mi"]);
}

#[test]
fn memory_request_may_grow_up_to_the_limit_but_not_past_it() {
    // The sized request is 768Mi (as above). A limit of exactly 768Mi allows it...
    let at_limit = evicted_snapshot(
        "{requests: {memory: 512Mi}, limits: {memory: 768Mi}}",
        MEMORY_EVICTION,
        &PRESSURE_CLEARED,
    )
    .plan();
    assert_eq!(at_limit.proposal("evicted")["change"]["to"], "768Mi");
    // ... a limit of 700Mi does not: a request above the limit is invalid, so suture escalates
    // rather than write it.
    let over = evicted_snapshot(
        "{requests: {memory: 512Mi}, limits: {memory: 700Mi}}",
        MEMORY_EVICTION,
        &PRESSURE_CLEARED,
    )
    .plan();
    over.assert_no_proposal("evicted");
    let e = over.escalation("evicted");
    assert_eq!(e["evidence"]["usage"], "600Mi");
    assert_eq!(e["evidence"]["limit_memory"], "700Mi");
}

const EPHEMERAL_EVICTION: &str =
    "Container app exceeded its local ephemeral storage limit \"1Gi\". ";

#[test]
fn ephemeral_storage_over_the_limit_raises_the_limit() {
    // max(1Gi × 1.2 = 1228.8Mi, 1Gi + 100Mi = 1124Mi) -> 20 × 64Mi = 1280Mi (not whole Gi).
    let plan = evicted_snapshot(
        "{requests: {ephemeral-storage: 512Mi}, limits: {ephemeral-storage: 1Gi}}",
        EPHEMERAL_EVICTION,
        &[NODE_READY],
    )
    .plan();
    let p = plan.proposal("evicted");
    assert_eq!(p["primitive"], "raise-ephemeral-storage-limit");
    assert_eq!(
        p["change"],
        json!({"field": "spec.template.spec.containers[name=app].resources.limits.ephemeral-storage", "from": "1Gi", "to": "1280Mi"})
    );
    assert_eq!(p["rollback"]["changes"][0]["to"], "1Gi");
    assert_mentions(
        p["basis"].as_str().unwrap(),
        &["1228.8Mi", "1124Mi", "1280Mi"],
    );
}

#[test]
fn the_ephemeral_storage_limit_is_raised_in_git_on_one_line() {
    let manifest = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n        - name: app\n          image: shop/web:2.3.1\n          resources:\n            requests:\n              ephemeral-storage: 512Mi\n            limits:\n              ephemeral-storage: 1Gi # scratch space for uploads\n";
    let plan = evicted_snapshot_tracked(
        "{requests: {ephemeral-storage: 512Mi}, limits: {ephemeral-storage: 1Gi}}",
        EPHEMERAL_EVICTION,
        &[NODE_READY],
        Some("web"),
    )
    .with(application("web", "shop", "apps/web"))
    .repo_file("apps/web/deployment.yaml", manifest)
    .plan();
    let p = plan.proposal("evicted");
    assert_eq!(p["rail"], "pull-request", "{}", plan.pretty());
    assert_eq!(p["file"], "apps/web/deployment.yaml");
    let diff = p["diff"].as_str().unwrap();
    assert_eq!(
        changed_lines(diff),
        [
            "-              ephemeral-storage: 1Gi # scratch space for uploads",
            "+              ephemeral-storage: 1280Mi # scratch space for uploads",
        ],
        "{diff}"
    );
}

#[test]
fn ephemeral_storage_limit_stops_at_a_limit_range_max() {
    let plan = evicted_snapshot(
        "{limits: {ephemeral-storage: 1Gi}}",
        EPHEMERAL_EVICTION,
        &[NODE_READY],
    )
    .with(limit_range("shop", "disk", "{ephemeral-storage: 1200Mi}"))
    .plan();
    plan.assert_no_proposal("evicted");
    let bigger = evicted_snapshot(
        "{limits: {ephemeral-storage: 1Gi}}",
        EPHEMERAL_EVICTION,
        &[NODE_READY],
    )
    .with(limit_range("shop", "disk", "{ephemeral-storage: 2Gi}"))
    .plan();
    assert_eq!(bigger.proposal("evicted")["change"]["to"], "1280Mi");
}

#[test]
fn node_disk_pressure_eviction_does_not_raise_the_container_limit() {
    // The container used 3Gi of its 4Gi limit when the node ran low on disk: it was not over
    // its limit, so a bigger limit would not have kept it running (docs/faults.md: only an
    // eviction over the ephemeral-storage limit raises it).
    let plan = evicted_snapshot(
        "{limits: {ephemeral-storage: 4Gi}}",
        "The node was low on resource: ephemeral-storage. Threshold quantity: 10Gi, available: 9728Mi. Container app was using 3Gi, request is 0, has larger consumption of ephemeral-storage. ",
        &[NODE_READY],
    )
    .plan();
    plan.assert_no_proposal("evicted");
    let reason = plan.reason("evicted");
    assert_mentions(&reason, &["ephemeral-storage", "3Gi"]);
}

// ---- fixes suppressed by the node --------------------------------------------------------

#[test]
fn eviction_by_a_node_still_under_pressure_is_the_nodes_fault() {
    let plan = evicted_snapshot(
        "{requests: {memory: 512Mi}, limits: {memory: 1Gi}}",
        MEMORY_EVICTION,
        &[
            NODE_READY,
            r#"{type: MemoryPressure, status: "True", reason: KubeletHasInsufficientMemory, message: kubelet has insufficient memory available}"#,
        ],
    )
    .plan();
    assert!(plan.proposals().is_empty(), "{}", plan.pretty());
    assert_mentions(
        &plan.reason("evicted"),
        &["web-5f7d9c-q8w2n", "node-a", "MemoryPressure"],
    );
    assert_mentions(&plan.reason("node-pressure"), &["node-a", "MemoryPressure"]);
}

/// The OOM workload with its pod scheduled on `node-a` reporting `conditions`.
fn oom_on_node(conditions: &[&str]) -> Plan {
    let d = Deploy::new("shop", "web").revision(
        "5f7d9c",
        &["{name: app, image: \"shop/web:2.3.1\", resources: {limits: {memory: 512Mi}}}"],
        0,
    );
    let pod = d.pod_with(
        "5f7d9c",
        "x2k9p",
        &[status(
            "app",
            "shop/web:2.3.1",
            3,
            "{waiting: {reason: CrashLoopBackOff}}",
            &terminated(
                "OOMKilled",
                137,
                "2026-11-23T08:40:00Z",
                "2026-11-23T08:45:00Z",
            ),
        )],
        "  nodeName: node-a\n",
    );
    Snapshot::new()
        .with(d.yaml())
        .with(pod)
        .with(node("node-a", conditions))
        .plan()
}

#[test]
fn pods_on_a_node_that_is_not_ready_are_not_fixed() {
    let plan = oom_on_node(&[
        r#"{type: Ready, status: Unknown, reason: NodeStatusUnknown, message: Kubelet stopped posting node status.}"#,
    ]);
    assert!(plan.proposals().is_empty(), "{}", plan.pretty());
    assert_mentions(
        &plan.reason("oom-killed"),
        &["web-5f7d9c-x2k9p", "node-a", "not Ready"],
    );
    plan.escalation("node-not-ready");
}

#[test]
fn memory_pressure_does_not_suppress_an_oom_kill_at_the_container_limit() {
    // Pressure explains evictions, not a container hitting its own cgroup limit.
    let plan = oom_on_node(&[
        NODE_READY,
        r#"{type: MemoryPressure, status: "True", reason: KubeletHasInsufficientMemory}"#,
    ]);
    assert_eq!(plan.proposal("oom-killed")["change"]["to"], "640Mi");
}

// ---- image revert ------------------------------------------------------------------------

/// Deployment `shop/web`: revision 1 (`6d4cf5`) runs `shop/web:1.4.0` with 2 available pods,
/// revision 2 (`7b9f6c`) changed the image to `shop/web:1.5.0` and has none.
fn rollout() -> Deploy {
    Deploy::new("shop", "web")
        .revision(
            "6d4cf5",
            &[
                "{name: envoy, image: \"envoyproxy/envoy:v1.31.2\"}",
                "{name: web, image: \"shop/web:1.4.0\"}",
            ],
            2,
        )
        .revision(
            "7b9f6c",
            &[
                "{name: envoy, image: \"envoyproxy/envoy:v1.31.2\"}",
                "{name: web, image: \"shop/web:1.5.0\"}",
            ],
            0,
        )
}

/// A pod of `hash` whose `web` container is in `state` (`last`: its last termination).
fn failing_pod(
    d: &Deploy,
    hash: &str,
    suffix: &str,
    image: &str,
    restarts: u32,
    state: &str,
    last: &str,
) -> String {
    d.pod(
        hash,
        suffix,
        &[
            status(
                "envoy",
                "envoyproxy/envoy:v1.31.2",
                0,
                "{running: {startedAt: \"2026-11-23T08:30:00Z\"}}",
                "",
            ),
            status("web", image, restarts, state, last),
        ],
    )
}

const CRASH_LOOP: &str = "{waiting: {reason: CrashLoopBackOff, message: \"back-off 5m0s restarting failed container=web pod=web-7b9f6c-a1\"}}";

fn crash_last() -> String {
    terminated("Error", 1, "2026-11-23T08:49:00Z", "2026-11-23T08:49:02Z")
}

/// The revert-image proposal for `fault` reverts `web` from 1.5.0 to 1.4.0, citing both
/// revisions.
#[track_caller]
fn assert_reverts(plan: &Plan, fault: &str) {
    let p = plan.proposal(fault);
    assert_eq!(p["primitive"], "revert-image", "{}", plan.pretty());
    assert_eq!(
        p["change"],
        json!({"field": "spec.template.spec.containers[name=web].image", "from": "shop/web:1.5.0", "to": "shop/web:1.4.0"})
    );
    assert_eq!(p["target"]["container"], "web");
    assert_eq!(p["target"]["kind"], "Deployment");
    assert_eq!(
        p["rollback"]["changes"][0],
        json!({"field": "spec.template.spec.containers[name=web].image", "from": "shop/web:1.4.0", "to": "shop/web:1.5.0"})
    );
    let basis = p["basis"].as_str().unwrap();
    assert_mentions(
        basis,
        &[
            "revision 2",
            "web-7b9f6c",
            "revision 1",
            "web-6d4cf5",
            "shop/web:1.4.0",
            "shop/web:1.5.0",
        ],
    );
    assert_mentions(basis, &["2 available"]);
}

#[test]
fn crash_loop_after_a_rollout_reverts_the_image() {
    let d = rollout();
    let plan = Snapshot::new()
        .with(d.yaml())
        .with(failing_pod(
            &d,
            "7b9f6c",
            "a1",
            "shop/web:1.5.0",
            5,
            CRASH_LOOP,
            &crash_last(),
        ))
        .with(failing_pod(
            &d,
            "7b9f6c",
            "b2",
            "shop/web:1.5.0",
            4,
            CRASH_LOOP,
            &crash_last(),
        ))
        .plan();
    assert_eq!(
        plan.proposals().len(),
        1,
        "two pods, one incident: {}",
        plan.pretty()
    );
    assert_reverts(&plan, "crash-loop-back-off");
    assert_eq!(
        plan.proposal("crash-loop-back-off")["key"],
        "default/shop/Deployment/web/crash-loop-back-off"
    );
}

#[test]
fn missing_tag_reverts_the_image() {
    let d = rollout();
    let pod = failing_pod(
        &d,
        "7b9f6c",
        "a1",
        "shop/web:1.5.0",
        0,
        "{waiting: {reason: ImagePullBackOff, message: \"Back-off pulling image \\\"shop/web:1.5.0\\\"\"}}",
        "",
    );
    let event = pod_event(
        "shop",
        "web-7b9f6c-a1",
        Some("web"),
        "Failed",
        "Failed to pull image \"shop/web:1.5.0\": rpc error: code = NotFound desc = failed to pull and unpack image \"docker.io/shop/web:1.5.0\": failed to resolve reference \"docker.io/shop/web:1.5.0\": docker.io/shop/web:1.5.0: not found",
        4,
    );
    let plan = Snapshot::new().with(d.yaml()).with(pod).with(event).plan();
    assert_reverts(&plan, "image-pull-back-off");
    // The registry's answer in the waiting message itself (ErrImagePull) is enough too.
    let pod = failing_pod(
        &d,
        "7b9f6c",
        "a1",
        "shop/web:1.5.0",
        0,
        "{waiting: {reason: ErrImagePull, message: \"rpc error: code = NotFound desc = failed to pull and unpack image \\\"docker.io/shop/web:1.5.0\\\": failed to resolve reference \\\"docker.io/shop/web:1.5.0\\\": docker.io/shop/web:1.5.0: not found\"}}",
        "",
    );
    assert_reverts(
        &Snapshot::new().with(d.yaml()).with(pod).plan(),
        "image-pull-back-off",
    );
}

#[test]
fn invalid_image_name_reverts_the_image() {
    let d = rollout();
    let pod = failing_pod(
        &d,
        "7b9f6c",
        "a1",
        "shop/web:1.5.0",
        0,
        "{waiting: {reason: InvalidImageName, message: \"Failed to apply default image tag \\\"shop/web:1.5.0\\\": couldn't parse image name \\\"shop/web:1.5.0\\\": invalid reference format\"}}",
        "",
    );
    assert_reverts(
        &Snapshot::new().with(d.yaml()).with(pod).plan(),
        "invalid-image-name",
    );
}

#[test]
fn create_container_error_reverts_the_image() {
    let d = rollout();
    let waiting = failing_pod(
        &d,
        "7b9f6c",
        "a1",
        "shop/web:1.5.0",
        0,
        "{waiting: {reason: CreateContainerError, message: \"Error: container create failed: executable file `/app/server` not found in $PATH: No such file or directory\"}}",
        "",
    );
    assert_reverts(
        &Snapshot::new().with(d.yaml()).with(waiting).plan(),
        "create-container-error",
    );
    // The same fault seen as a StartError termination (exit 128) of a crash-looping container.
    let start_error = failing_pod(
        &d,
        "7b9f6c",
        "a1",
        "shop/web:1.5.0",
        3,
        CRASH_LOOP,
        "{terminated: {exitCode: 128, reason: StartError, message: \"failed to create containerd task: exec: \\\"/app/server\\\": stat /app/server: no such file or directory\", startedAt: \"1970-01-01T00:00:00Z\", finishedAt: \"2026-11-23T08:49:00Z\"}}",
    );
    assert_reverts(
        &Snapshot::new().with(d.yaml()).with(start_error).plan(),
        "create-container-error",
    );
}

/// The rollout with the Deployment's `Progressing` condition past its deadline.
fn stuck_rollout_yaml(d: &Deploy) -> String {
    d.yaml().replacen(
        "status:\n  replicas: 2\n",
        "status:\n  replicas: 2\n  conditions:\n  - {type: Available, status: \"True\", reason: MinimumReplicasAvailable}\n  - {type: Progressing, status: \"False\", reason: ProgressDeadlineExceeded, message: \"ReplicaSet \\\"web-7b9f6c\\\" has timed out progressing.\", lastTransitionTime: \"2026-11-23T08:55:00Z\"}\n",
        1,
    )
}

#[test]
fn progress_deadline_with_failing_new_pods_reverts_the_image() {
    let d = rollout();
    let plan = Snapshot::new()
        .with(stuck_rollout_yaml(&d))
        .with(failing_pod(
            &d,
            "7b9f6c",
            "a1",
            "shop/web:1.5.0",
            5,
            CRASH_LOOP,
            &crash_last(),
        ))
        .plan();
    assert_reverts(&plan, "progress-deadline-exceeded");
    let p = plan.proposal("progress-deadline-exceeded");
    assert_eq!(
        p["key"],
        "default/shop/Deployment/web/progress-deadline-exceeded"
    );
    // The container is found from the revisions: only `web` changed its image.
    assert_eq!(p["target"]["container"], "web");
}

#[test]
fn progress_deadline_whose_new_pods_do_not_fail_escalates() {
    // The new ReplicaSet's pods are not failing (none were created, e.g. blocked by quota):
    // docs/faults.md reverts only "if the new ReplicaSet's pods fail".
    let d = rollout();
    let plan = Snapshot::new().with(stuck_rollout_yaml(&d)).plan();
    plan.assert_no_proposal("progress-deadline-exceeded");
    let e = plan.escalation("progress-deadline-exceeded");
    assert_eq!(e["evidence"]["new_replica_set"], "web-7b9f6c");
    assert_mentions(e["reason"].as_str().unwrap(), &["web-7b9f6c"]);
}

#[test]
fn init_container_image_pull_failure_reverts_the_init_container_image() {
    let d = Deploy::new("shop", "web")
        .revision("6d4cf5", &["{name: web, image: \"shop/web:1.4.0\"}"], 2)
        .revision("7b9f6c", &["{name: web, image: \"shop/web:1.4.0\"}"], 0);
    let add_init = |yaml: String, tag: &str, hash: Option<&str>| {
        let init = format!(
            "      initContainers:\n      - {{name: migrate, image: \"shop/migrate:{tag}\"}}\n      containers:\n"
        );
        match hash {
            Some(h) => {
                let marker = format!("name: web-{h}\n");
                let (head, tail) = yaml.split_once(&marker).unwrap();
                let tail = tail.replacen("      containers:\n", &init, 1);
                format!("{head}{marker}{tail}")
            }
            None => yaml.replacen("      containers:\n", &init, 1),
        }
    };
    // The Deployment and revision 2 run migrate 0.9.0; revision 1 ran 0.8.3.
    let yaml = add_init(d.yaml(), "0.9.0", None);
    let yaml = add_init(yaml, "0.8.3", Some("6d4cf5"));
    let yaml = add_init(yaml, "0.9.0", Some("7b9f6c"));
    let pod = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web-7b9f6c-a1\n  namespace: shop\n  uid: uid-pod-web-7b9f6c-a1\n  labels: {{app: web, pod-template-hash: 7b9f6c}}\n  ownerReferences:\n  - {{apiVersion: apps/v1, kind: ReplicaSet, name: web-7b9f6c, uid: uid-rs-web-7b9f6c, controller: true}}\nspec:\n  initContainers:\n  - {{name: migrate, image: \"shop/migrate:0.9.0\"}}\n  containers:\n  - {{name: web, image: \"shop/web:1.4.0\"}}\nstatus:\n  phase: Pending\n  initContainerStatuses:\n  - {}\n  containerStatuses:\n  - {}\n",
        status(
            "migrate",
            "shop/migrate:0.9.0",
            0,
            "{waiting: {reason: ErrImagePull, message: \"manifest for shop/migrate:0.9.0 not found: manifest unknown: manifest unknown\"}}",
            ""
        ),
        status(
            "web",
            "shop/web:1.4.0",
            0,
            "{waiting: {reason: PodInitializing}}",
            ""
        ),
    );
    let plan = Snapshot::new().with(yaml).with(pod).plan();
    let p = plan.proposal("init-container-failure");
    assert_eq!(p["primitive"], "revert-image", "{}", plan.pretty());
    assert_eq!(
        p["change"],
        json!({"field": "spec.template.spec.initContainers[name=migrate].image", "from": "shop/migrate:0.9.0", "to": "shop/migrate:0.8.3"})
    );
    assert_eq!(p["target"]["init_container"], true);
}

#[test]
fn a_rollout_that_kept_the_image_is_not_reverted() {
    // Revision 2 changed only an environment variable; the image is the same.
    let d = Deploy::new("shop", "web")
        .revision("6d4cf5", &["{name: web, image: \"shop/web:1.4.0\"}"], 2)
        .revision(
            "7b9f6c",
            &["{name: web, image: \"shop/web:1.4.0\", env: [{name: DB_POOL, value: \"0\"}]}"],
            0,
        );
    let pod = d.pod(
        "7b9f6c",
        "a1",
        &[status(
            "web",
            "shop/web:1.4.0",
            5,
            CRASH_LOOP,
            &crash_last(),
        )],
    );
    let plan = Snapshot::new().with(d.yaml()).with(pod).plan();
    plan.assert_no_proposal("crash-loop-back-off");
    assert_mentions(
        &plan.reason("crash-loop-back-off"),
        &[
            "revision 2",
            "did not change the image",
            "web",
            "shop/web:1.4.0",
        ],
    );
}

#[test]
fn a_fault_shared_by_an_older_revision_is_not_reverted() {
    let d = rollout();
    let plan = Snapshot::new()
        .with(d.yaml())
        .with(failing_pod(
            &d,
            "7b9f6c",
            "a1",
            "shop/web:1.5.0",
            5,
            CRASH_LOOP,
            &crash_last(),
        ))
        .with(failing_pod(
            &d,
            "6d4cf5",
            "c3",
            "shop/web:1.4.0",
            2,
            CRASH_LOOP,
            &crash_last(),
        ))
        .plan();
    plan.assert_no_proposal("crash-loop-back-off");
    let e = plan.escalation("crash-loop-back-off");
    assert_mentions(e["reason"].as_str().unwrap(), &["older revision fail"]);
    let pods = e["evidence"]["affected_pods"].to_string();
    assert_mentions(&pods, &["web-7b9f6c-a1", "web-6d4cf5-c3"]);
}

#[test]
fn no_available_previous_revision_is_not_reverted() {
    let mut d = rollout();
    d.revisions[0].available = 0;
    let plan = Snapshot::new()
        .with(d.yaml())
        .with(failing_pod(
            &d,
            "7b9f6c",
            "a1",
            "shop/web:1.5.0",
            5,
            CRASH_LOOP,
            &crash_last(),
        ))
        .plan();
    plan.assert_no_proposal("crash-loop-back-off");
    assert_mentions(
        &plan.reason("crash-loop-back-off"),
        &["no previous revision", "Deployment web", "available pods"],
    );
}

#[test]
fn owners_without_revision_history_are_not_reverted() {
    let crash = |name: &str, meta: &str| {
        pod_yaml(
            "shop",
            name,
            meta,
            &["{name: web, image: \"shop/web:1.5.0\"}".to_string()],
            "",
            &[status(
                "web",
                "shop/web:1.5.0",
                5,
                CRASH_LOOP,
                &crash_last(),
            )],
            "",
        )
    };
    // A bare Pod.
    let plan = Snapshot::new().with(crash("debug-web", "")).plan();
    plan.assert_no_proposal("crash-loop-back-off");
    let e = plan.escalation("crash-loop-back-off");
    assert_eq!(e["key"], "default/shop/Pod/debug-web/crash-loop-back-off");
    assert_mentions(
        e["reason"].as_str().unwrap(),
        &["bare Pod", "no earlier revision"],
    );

    // A StatefulSet and a DaemonSet (their history is in ControllerRevisions).
    for kind in ["StatefulSet", "DaemonSet"] {
        let owner = format!(
            "---\napiVersion: apps/v1\nkind: {kind}\nmetadata: {{name: web, namespace: shop, uid: uid-web}}\nspec:\n  selector: {{matchLabels: {{app: web}}}}\n  template:\n    metadata: {{labels: {{app: web}}}}\n    spec:\n      containers:\n      - {{name: web, image: \"shop/web:1.5.0\"}}\n"
        );
        let pod = crash(
            "web-0",
            &format!(
                "  ownerReferences:\n  - {{apiVersion: apps/v1, kind: {kind}, name: web, uid: uid-web, controller: true}}\n"
            ),
        );
        let plan = Snapshot::new().with(owner).with(pod).plan();
        plan.assert_no_proposal("crash-loop-back-off");
        assert_mentions(
            &plan.reason("crash-loop-back-off"),
            &[kind, "revision history", "ControllerRevisions"],
        );
    }

    // Pods whose ReplicaSet was not captured: the Deployment and its revisions are unknown.
    let pod = crash(
        "web-7b9f6c-a1",
        "  labels: {pod-template-hash: 7b9f6c}\n  ownerReferences:\n  - {apiVersion: apps/v1, kind: ReplicaSet, name: web-7b9f6c, uid: uid-rs, controller: true}\n",
    );
    let plan = Snapshot::new().with(pod).plan();
    plan.assert_no_proposal("crash-loop-back-off");
    assert_mentions(
        &plan.reason("crash-loop-back-off"),
        &["ReplicaSet web-7b9f6c", "revisions cannot be compared"],
    );

    // A ReplicaSet no Deployment manages: nothing to compare with.
    let standalone = "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: web-legacy, namespace: shop, uid: uid-rs-legacy}\nspec:\n  replicas: 1\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers:\n      - {name: web, image: \"shop/web:1.5.0\"}\n";
    let pod = crash(
        "web-legacy-a1",
        "  ownerReferences:\n  - {apiVersion: apps/v1, kind: ReplicaSet, name: web-legacy, uid: uid-rs-legacy, controller: true}\n",
    );
    let plan = Snapshot::new().with(standalone).with(pod).plan();
    plan.assert_no_proposal("crash-loop-back-off");
    let reason = plan.reason("crash-loop-back-off");
    assert_mentions(
        &reason,
        &["ReplicaSet web-legacy", "not managed by a Deployment"],
    );
    assert!(!reason.contains("Deployment owning"), "{reason}");

    // A Deployment past its progress deadline whose ReplicaSets were not captured.
    let plan = Snapshot::new()
        .with(
            stuck_rollout_yaml(&rollout())
                .split("\n---\n")
                .next()
                .unwrap()
                .to_string(),
        )
        .plan();
    plan.assert_no_proposal("progress-deadline-exceeded");
    assert_mentions(
        &plan.reason("progress-deadline-exceeded"),
        &["no ReplicaSets of Deployment web"],
    );
}

#[test]
fn a_pull_the_registry_refused_is_not_reverted() {
    let d = rollout();
    let pod = failing_pod(
        &d,
        "7b9f6c",
        "a1",
        "shop/web:1.5.0",
        0,
        "{waiting: {reason: ErrImagePull, message: \"failed to pull and unpack image \\\"ghcr.io/shop/web:1.5.0\\\": failed to resolve reference \\\"ghcr.io/shop/web:1.5.0\\\": failed to authorize: failed to fetch anonymous token: unexpected status from GET request to https://ghcr.io/token: 401 Unauthorized\"}}",
        "",
    );
    let plan = Snapshot::new().with(d.yaml()).with(pod).plan();
    plan.assert_no_proposal("image-pull-back-off");
    let e = plan.escalation("image-pull-back-off");
    assert_eq!(e["evidence"]["pull_error"], "unauthorized");
    assert_mentions(
        e["reason"].as_str().unwrap(),
        &[
            "401 Unauthorized",
            "registry credentials (imagePullSecrets)",
        ],
    );
}

// ---- probe tuning ------------------------------------------------------------------------

/// Deployment `shop/api`, container `api` with `probes` (flow-map entries, e.g.
/// `livenessProbe: {...}`), killed by the `kind` (`liveness`/`startup`) probe after running
/// `uptime` seconds (`None`: the runtime reported no start and finish times).
fn probe_kill(probes: &str, kind: &str, uptime: Option<u32>) -> Snapshot {
    probe_kill_tracked(probes, kind, uptime, None)
}

/// As [`probe_kill`], the Deployment tracked by the Argo CD Application `app`.
fn probe_kill_tracked(
    probes: &str,
    kind: &str,
    uptime: Option<u32>,
    app: Option<&str>,
) -> Snapshot {
    let mut d = Deploy::new("shop", "api").revision(
        "8c7b6a",
        &[&format!(
            "{{name: api, image: \"shop/api:3.2.0\", {probes}}}"
        )],
        0,
    );
    if let Some(app) = app {
        d = d.tracked_by(app);
    }
    let last = match uptime {
        Some(s) => terminated(
            "Error",
            137,
            "2026-11-23T08:30:00Z",
            &format!(
                "2026-11-23T{:02}:{:02}:{:02}Z",
                8 + (30 * 60 + s) / 3600,
                (30 + s / 60) % 60,
                s % 60
            ),
        ),
        None => "{terminated: {exitCode: 137, reason: Error}}".to_string(),
    };
    let pod = d.pod(
        "8c7b6a",
        "m4n5b",
        &[status(
            "api",
            "shop/api:3.2.0",
            4,
            "{running: {startedAt: \"2026-11-23T08:50:00Z\"}}",
            &last,
        )],
    );
    let word = if kind == "liveness" {
        "Liveness"
    } else {
        "Startup"
    };
    Snapshot::new()
        .with(d.yaml())
        .with(pod)
        .with(pod_event(
            "shop",
            "api-8c7b6a-m4n5b",
            Some("api"),
            "Unhealthy",
            &format!("{word} probe failed: Get \"http://10.244.1.7:8080/healthz\": dial tcp 10.244.1.7:8080: connect: connection refused"),
            12,
        ))
        .with(pod_event(
            "shop",
            "api-8c7b6a-m4n5b",
            Some("api"),
            "Killing",
            &format!("Container api failed {kind} probe, will be restarted"),
            4,
        ))
}

const FIELD: &str = "spec.template.spec.containers[name=api].startupProbe";

#[test]
fn slow_start_under_liveness_gets_a_startup_probe_sized_from_the_observed_start() {
    // Liveness budget 20 + 5 × 3 = 35s; killed after 40s (within 35s + 30s grace: startup).
    // Needed: 40s × 1.5 = 60s; at the liveness period of 5s: failureThreshold 12.
    let plan = probe_kill(
        "livenessProbe: {httpGet: {path: /healthz, port: 8080}, initialDelaySeconds: 20, periodSeconds: 5, failureThreshold: 3}",
        "liveness",
        Some(40),
    )
    .plan();
    let p = plan.proposal("liveness-probe-failure");
    assert_eq!(p["primitive"], "tune-probe");
    assert_eq!(p["change"]["field"], FIELD);
    assert!(p["change"]["from"].is_null(), "{p}");
    assert_eq!(
        p["change"]["to"],
        json!({"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 5, "failureThreshold": 12})
    );
    assert_eq!(
        p["rollback"]["changes"][0],
        json!({"field": FIELD, "from": p["change"]["to"], "to": null})
    );
    assert_mentions(
        p["rollback"]["description"].as_str().unwrap(),
        &["remove the startupProbe of api"],
    );
    let basis = p["basis"].as_str().unwrap();
    assert_mentions(basis, &["35s", "40s", "60s", "1.5"]);
}

#[test]
fn an_existing_startup_probe_keeps_its_initial_delay_in_the_budget() {
    // Budget 30 + 10 × 6 = 90s; killed after 95s. Needed ceil(95 × 1.5) = 143s; the delay
    // already covers 30s: ceil((143 - 30) / 10) = 12, budget 30 + 10 × 12 = 150s.
    let plan = probe_kill(
        "startupProbe: {httpGet: {path: /healthz, port: 8080}, initialDelaySeconds: 30, periodSeconds: 10, failureThreshold: 6}, livenessProbe: {httpGet: {path: /healthz, port: 8080}}",
        "startup",
        Some(95),
    )
    .plan();
    let p = plan.proposal("startup-probe-failure");
    assert_eq!(
        p["change"],
        json!({"field": format!("{FIELD}.failureThreshold"), "from": 6, "to": 12})
    );
    assert_eq!(p["rollback"]["changes"][0]["to"], 6);
    assert_mentions(
        p["basis"].as_str().unwrap(),
        &["90s", "95s", "143s", "150s"],
    );
}

#[test]
fn a_startup_budget_of_exactly_600s_is_proposed() {
    // Budget 10 × 40 = 400s, killed after 400s: 400 × 1.5 = 600s, the most suture proposes.
    let plan = probe_kill(
        "startupProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 10, failureThreshold: 40}",
        "startup",
        Some(400),
    )
    .plan();
    let p = plan.proposal("startup-probe-failure");
    assert_eq!(
        (p["change"]["from"].clone(), p["change"]["to"].clone()),
        (json!(40), json!(60))
    );
}

#[test]
fn a_startup_budget_over_600s_escalates() {
    // Budget 10 × 41 = 410s, killed after 410s: 410 × 1.5 = 615s, over 600s.
    let plan = probe_kill(
        "startupProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 10, failureThreshold: 41}",
        "startup",
        Some(410),
    )
    .plan();
    plan.assert_no_proposal("startup-probe-failure");
    assert_mentions(
        &plan.reason("startup-probe-failure"),
        &["api", "615s", "410s", "600s"],
    );
    // The same cap for a liveness kill during a long initial delay: budget 400 + 10 × 3 =
    // 430s, killed after 450s (within 430s + 30s grace): needs 450 × 1.5 = 675s.
    let plan = probe_kill(
        "livenessProbe: {httpGet: {path: /healthz, port: 8080}, initialDelaySeconds: 400, periodSeconds: 10, failureThreshold: 3}",
        "liveness",
        Some(450),
    )
    .plan();
    plan.assert_no_proposal("liveness-probe-failure");
    assert_mentions(
        &plan.reason("liveness-probe-failure"),
        &["675s", "450s", "600s"],
    );
}

#[test]
fn non_http_liveness_handlers_are_copied_into_the_startup_probe() {
    // Budget 10 × 3 = 30s, killed after 35s: ceil(35 × 1.5) = 53s -> ceil(53 / 10) = 6.
    for (handler, expected) in [
        (
            "tcpSocket: {port: 5432}",
            json!({"tcpSocket": {"port": 5432}}),
        ),
        (
            "exec: {command: [pg_isready, -U, app]}",
            json!({"exec": {"command": ["pg_isready", "-U", "app"]}}),
        ),
        (
            "grpc: {port: 9090, service: health}",
            json!({"grpc": {"port": 9090, "service": "health"}}),
        ),
    ] {
        let plan = probe_kill(
            &format!("livenessProbe: {{{handler}, periodSeconds: 10, failureThreshold: 3}}"),
            "liveness",
            Some(35),
        )
        .plan();
        let p = plan.proposal("liveness-probe-failure");
        let mut want = expected.as_object().unwrap().clone();
        want.insert("periodSeconds".into(), 10.into());
        want.insert("failureThreshold".into(), 6.into());
        assert_eq!(
            p["change"]["to"],
            serde_json::Value::Object(want),
            "{handler}"
        );
    }
}

#[test]
fn a_startup_probe_without_an_observed_start_is_sized_from_its_budget() {
    // No start/finish times: the app needed at least the 60s budget that killed it;
    // 60 × 1.5 = 90s at a 10s period: failureThreshold 9. Less confident than with a time.
    let probes = "startupProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 10, failureThreshold: 6}";
    let plan = probe_kill(probes, "startup", None).plan();
    let p = plan.proposal("startup-probe-failure");
    assert_eq!(
        (p["change"]["from"].clone(), p["change"]["to"].clone()),
        (json!(6), json!(9))
    );
    assert_mentions(p["basis"].as_str().unwrap(), &["60s", "90s"]);
    let timed = probe_kill(probes, "startup", Some(61)).plan();
    let est = |p: &serde_json::Value| p["confidence"]["est"].as_f64().unwrap();
    assert!(
        est(p) < est(timed.proposal("startup-probe-failure")),
        "an unknown start time lowers the estimate"
    );
}

#[test]
fn a_liveness_kill_without_an_observed_start_is_not_called_a_running_failure() {
    // Without the uptime at the kills suture cannot tell a slow start from an app turning
    // unhealthy while running: it escalates, and must not claim either.
    let plan = probe_kill(
        "livenessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 10, failureThreshold: 3}",
        "liveness",
        None,
    )
    .plan();
    plan.assert_no_proposal("liveness-probe-failure");
    let reason = plan.reason("liveness-probe-failure");
    assert!(!reason.contains("after it had started"), "{reason}");
    assert!(!reason.contains("while running:"), "{reason}");
    assert_mentions(&reason, &["api", "not known"]);
    assert!(mentions_number(&reason, 4), "restart count: {reason}");
}

#[test]
fn the_startup_probe_is_added_to_the_manifest_in_git() {
    let manifest = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\n  namespace: shop\nspec:\n  replicas: 2\n  selector:\n    matchLabels:\n      app: api\n  template:\n    metadata:\n      labels:\n        app: api\n    spec:\n      containers:\n        - name: api\n          image: shop/api:3.2.0\n          # the database must answer first\n          livenessProbe:\n            tcpSocket:\n              port: 5432\n            periodSeconds: 10\n            failureThreshold: 3\n";
    let plan = probe_kill_tracked(
        "livenessProbe: {tcpSocket: {port: 5432}, periodSeconds: 10, failureThreshold: 3}",
        "liveness",
        Some(35),
        Some("api"),
    )
    .with(application("api", "shop", "apps/api"))
    .repo_file("apps/api/deployment.yaml", manifest)
    .plan();
    let p = plan.proposal("liveness-probe-failure");
    assert_eq!(p["rail"], "pull-request", "{}", plan.pretty());
    assert_eq!(p["application"]["name"], "api");
    assert_eq!(p["file"], "apps/api/deployment.yaml");
    let diff = p["diff"].as_str().unwrap();
    // Only the new key is added, under the liveness probe; its comment and neighbours stay.
    assert_eq!(
        changed_lines(diff),
        [
            "+          startupProbe:",
            "+            tcpSocket:",
            "+              port: 5432",
            "+            periodSeconds: 10",
            "+            failureThreshold: 6",
        ],
        "{diff}"
    );
}
