//! The reason of every escalation `suture plan` can give, read from its JSON output: for each
//! fault id in docs/faults.md, the facts a human needs to act (the missing key, the exit code,
//! the scheduler histogram, the event message...) appear in the one sentence they read.

#[path = "plan_support/mod.rs"]
mod support;

use support::*;

/// The faults whose escalation wording this file checks: every id in docs/faults.md.
const COVERED: [&str; 23] = [
    "oom-killed",
    "crash-loop-back-off",
    "image-pull-back-off",
    "invalid-image-name",
    "create-container-config-error",
    "create-container-error",
    "container-error-exit",
    "unschedulable",
    "evicted",
    "liveness-probe-failure",
    "readiness-probe-failure",
    "startup-probe-failure",
    "init-container-failure",
    "failed-mount",
    "sandbox-creation-failed",
    "stuck-terminating",
    "job-backoff-limit-exceeded",
    "job-deadline-exceeded",
    "progress-deadline-exceeded",
    "replica-failure",
    "pvc-pending",
    "node-pressure",
    "node-not-ready",
];

#[test]
fn every_fault_in_the_catalog_has_its_wording_checked() {
    let catalog = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/faults.md"))
        .expect("docs/faults.md");
    let mut ids: Vec<&str> = catalog
        .split("<a id=\"")
        .skip(1)
        .filter_map(|rest| rest.split_once('"').map(|(id, _)| id))
        .collect();
    ids.sort_unstable();
    let mut covered = COVERED.to_vec();
    covered.sort_unstable();
    assert_eq!(
        ids, covered,
        "a fault was added to or removed from docs/faults.md"
    );
}

/// A Deployment `shop/web` (container `web`, `spec` a flow map of extra container fields)
/// with one pod whose `web` status is `state`/`last`, plus `extra` objects.
fn web(spec: &str, restarts: u32, state: &str, last: &str, extra: &[String]) -> Plan {
    let containers = format!("{{name: web, image: \"shop/web:1.4.0\"{spec}}}");
    let d = Deploy::new("shop", "web").revision("6d4cf5", &[&containers], 0);
    let pod = d.pod(
        "6d4cf5",
        "k7m2q",
        &[status("web", "shop/web:1.4.0", restarts, state, last)],
    );
    let mut s = Snapshot::new().with(d.yaml()).with(pod);
    for e in extra {
        s = s.with(e.clone());
    }
    s.plan()
}

const POD: &str = "web-6d4cf5-k7m2q";

/// A bare pod `shop/<name>` with `spec_extra`/`status_extra` lines and no container statuses.
fn bare_pod(name: &str, spec_extra: &str, status_extra: &str) -> String {
    pod_yaml(
        "shop",
        name,
        "",
        &["{name: web, image: \"shop/web:1.4.0\"}".to_string()],
        spec_extra,
        &[],
        status_extra,
    )
}

#[test]
fn missing_config_key_names_the_key_and_the_configmap() {
    let plan = web(
        "",
        0,
        "{waiting: {reason: CreateContainerConfigError, message: \"couldn't find key DB_URL in ConfigMap shop/app-config\"}}",
        "",
        &[],
    );
    let e = plan.escalation("create-container-config-error");
    let reason = e["reason"].as_str().unwrap();
    assert_mentions(
        reason,
        &[
            "container web",
            "DB_URL",
            "ConfigMap",
            "app-config",
            "never creates",
        ],
    );
    assert_eq!(e["evidence"]["missing_key"], "DB_URL");
    assert_eq!(e["evidence"]["missing_name"], "app-config");
    assert_eq!(e["evidence"]["missing_namespace"], "shop");
}

#[test]
fn missing_secret_names_the_secret() {
    let plan = web(
        "",
        0,
        "{waiting: {reason: CreateContainerConfigError, message: \"secret \\\"db-creds\\\" not found\"}}",
        "",
        &[],
    );
    let reason = plan.reason("create-container-config-error");
    assert_mentions(&reason, &["Secret db-creds", "never creates"]);
    assert!(!reason.contains("key "), "no key was named: {reason}");
}

#[test]
fn error_exit_gives_the_exit_code_and_restarts() {
    let plan = web(
        "",
        7,
        "{terminated: {exitCode: 3, reason: Error, startedAt: \"2026-11-23T08:49:00Z\", finishedAt: \"2026-11-23T08:49:01Z\"}}",
        &terminated("Error", 3, "2026-11-23T08:47:00Z", "2026-11-23T08:47:01Z"),
        &[],
    );
    let e = plan.escalation("container-error-exit");
    let reason = e["reason"].as_str().unwrap();
    assert_mentions(
        reason,
        &["container web", "exits with code 3", "Error", "logs"],
    );
    assert!(mentions_number(reason, 7), "restart count: {reason}");
    assert_eq!(e["evidence"]["exit_code"], 3);
    assert_eq!(e["evidence"]["previous_exit_code"], 3);
}

#[test]
fn unschedulable_gives_the_scheduler_histogram() {
    let pod = bare_pod(
        "big-batch",
        "",
        "  phase: Pending\n  conditions:\n  - {type: PodScheduled, status: \"False\", reason: Unschedulable, lastTransitionTime: \"2026-11-23T08:10:00Z\", message: \"0/5 nodes are available: 3 Insufficient memory, 2 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }. preemption: 0/5 nodes are available: 2 Preemption is not helpful for scheduling, 3 No preemption victims found for incoming pod.\"}\n",
    )
    .replace("  phase: Running\n", "");
    let plan = Snapshot::new().with(pod).plan();
    let e = plan.escalation("unschedulable");
    let reason = e["reason"].as_str().unwrap();
    assert_mentions(
        reason,
        &[
            "Pod shop/big-batch",
            "0 of 5 nodes",
            "3 × Insufficient memory",
            "2 × node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }",
        ],
    );
    assert_eq!(e["evidence"]["reasons"]["Insufficient memory"], 3);
    assert_eq!(e["evidence"]["nodes_total"], 5);
}

#[test]
fn readiness_failure_quotes_the_probe_message() {
    let plan = web(
        ", readinessProbe: {httpGet: {path: /ready, port: 8080}}",
        0,
        "{running: {startedAt: \"2026-11-23T08:30:00Z\"}}",
        "",
        &[pod_event(
            "shop",
            POD,
            Some("web"),
            "Unhealthy",
            "Readiness probe failed: HTTP probe failed with statuscode: 503",
            40,
        )],
    );
    let e = plan.escalation("readiness-probe-failure");
    let reason = e["reason"].as_str().unwrap();
    assert_mentions(
        reason,
        &[
            "container web",
            "readiness probe",
            "statuscode: 503",
            "no traffic",
        ],
    );
    assert_eq!(e["evidence"]["unhealthy_events"], 40);
}

#[test]
fn failed_mount_quotes_the_kubelet_event() {
    let pod = bare_pod("web-1", "  nodeName: node-a\n", "")
        .replace("  phase: Running\n", "  phase: Pending\n");
    let plan = Snapshot::new()
        .with(pod)
        .with(pod_event(
            "shop",
            "web-1",
            None,
            "FailedMount",
            "MountVolume.SetUp failed for volume \"config\" : configmap \"web-config\" not found",
            7,
        ))
        .plan();
    let e = plan.escalation("failed-mount");
    let reason = e["reason"].as_str().unwrap();
    assert_mentions(
        reason,
        &[
            "Pod shop/web-1",
            "volume \"config\"",
            "configmap \"web-config\" not found",
        ],
    );
    assert_eq!(e["evidence"]["volume"], "config");
}

#[test]
fn sandbox_failure_quotes_the_runtime_error() {
    let pod = bare_pod("web-1", "  nodeName: node-a\n", "")
        .replace("  phase: Running\n", "  phase: Pending\n");
    let message = "Failed to create pod sandbox: rpc error: code = Unknown desc = failed to setup network for sandbox \"3f2a\": plugin type=\"calico\" failed (add): error getting ClusterInformation: connection is unauthorized: Unauthorized";
    let plan = Snapshot::new()
        .with(pod)
        .with(pod_event(
            "shop",
            "web-1",
            None,
            "FailedCreatePodSandBox",
            message,
            12,
        ))
        .plan();
    let e = plan.escalation("sandbox-creation-failed");
    let reason = e["reason"].as_str().unwrap();
    assert_mentions(
        reason,
        &["Pod shop/web-1", "plugin type=\"calico\" failed", "CNI"],
    );
    assert_eq!(e["evidence"]["node"], "node-a");
}

#[test]
fn stuck_terminating_gives_the_deletion_time_and_finalizers() {
    let pod = bare_pod("old-web", "", "").replacen(
        "  uid: uid-pod-old-web\n",
        "  uid: uid-pod-old-web\n  deletionTimestamp: \"2026-11-23T08:00:00Z\"\n  deletionGracePeriodSeconds: 30\n  finalizers: [example.com/drain-connections]\n",
        1,
    );
    let plan = Snapshot::new().with(pod).plan();
    let e = plan.escalation("stuck-terminating");
    let reason = e["reason"].as_str().unwrap();
    assert_mentions(
        reason,
        &[
            "Pod shop/old-web",
            "2026-11-23T08:00:00Z",
            "example.com/drain-connections",
            "never force-deletes",
        ],
    );
    // 08:00 to 09:00.
    assert_eq!(e["evidence"]["terminating_for_seconds"], 3600);
}

/// A Job `shop/<name>` that failed with `reason`/`message`, and its failed pod (exit 3).
fn failed_job(name: &str, spec: &str, reason: &str, message: &str) -> Plan {
    let job = format!(
        "apiVersion: batch/v1\nkind: Job\nmetadata: {{name: {name}, namespace: shop, uid: uid-job-{name}}}\nspec:\n  {spec}\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{{name: main, image: \"shop/tools:2\"}}]\nstatus:\n  failed: 3\n  startTime: \"2026-11-23T08:00:00Z\"\n  conditions:\n  - {{type: Failed, status: \"True\", reason: {reason}, message: \"{message}\", lastTransitionTime: \"2026-11-23T08:20:00Z\"}}\n"
    );
    let pod = pod_yaml(
        "shop",
        &format!("{name}-8xk2p"),
        &format!(
            "  labels: {{job-name: {name}}}\n  ownerReferences:\n  - {{apiVersion: batch/v1, kind: Job, name: {name}, uid: uid-job-{name}, controller: true}}\n"
        ),
        &["{name: main, image: \"shop/tools:2\"}".to_string()],
        "  restartPolicy: Never\n",
        &[status(
            "main",
            "shop/tools:2",
            0,
            "{terminated: {exitCode: 3, reason: Error, startedAt: \"2026-11-23T08:10:00Z\", finishedAt: \"2026-11-23T08:11:00Z\"}}",
            "",
        )],
        "",
    )
    .replace("  phase: Running\n", "  phase: Failed\n");
    Snapshot::new().with(job).with(pod).plan()
}

#[test]
fn job_backoff_limit_names_the_failing_pods_and_exit_codes() {
    let plan = failed_job(
        "migrate",
        "backoffLimit: 2",
        "BackoffLimitExceeded",
        "Job has reached the specified backoff limit",
    );
    let e = plan.escalation("job-backoff-limit-exceeded");
    let reason = e["reason"].as_str().unwrap();
    assert_mentions(
        reason,
        &["Job shop/migrate", "backoff limit", "migrate-8xk2p"],
    );
    assert!(mentions_number(reason, 3), "exit code: {reason}");
    assert_eq!(e["evidence"]["backoff_limit"], 2);
    assert_eq!(e["evidence"]["failing_pods"][0]["exit_code"], 3);
}

#[test]
fn job_deadline_names_the_deadline() {
    let plan = failed_job(
        "report",
        "activeDeadlineSeconds: 600",
        "DeadlineExceeded",
        "Job was active longer than specified deadline",
    );
    let e = plan.escalation("job-deadline-exceeded");
    let reason = e["reason"].as_str().unwrap();
    assert_mentions(
        reason,
        &[
            "Job shop/report",
            "activeDeadlineSeconds",
            "active longer than specified deadline",
        ],
    );
    assert_eq!(e["evidence"]["active_deadline_seconds"], 600);
}

#[test]
fn replica_failure_quotes_the_quota_message() {
    let d = Deploy::new("shop", "web").revision(
        "6d4cf5",
        &["{name: web, image: \"shop/web:1.4.0\"}"],
        0,
    );
    let yaml = d.yaml().replacen(
        "  readyReplicas: 0\n",
        "  readyReplicas: 0\n  conditions:\n  - {type: ReplicaFailure, status: \"True\", reason: FailedCreate, message: \"pods \\\"web-6d4cf5-x\\\" is forbidden: exceeded quota: compute, requested: limits.memory=1Gi, used: limits.memory=4Gi, limited: limits.memory=4Gi\"}\n",
        1,
    );
    let plan = Snapshot::new().with(yaml).plan();
    let e = plan.escalation("replica-failure");
    assert_eq!(e["key"], "default/shop/Deployment/web/replica-failure");
    assert_mentions(
        e["reason"].as_str().unwrap(),
        &[
            "ReplicaSet shop/web-6d4cf5",
            "exceeded quota: compute",
            "limits.memory=4Gi",
            "quota",
        ],
    );
}

#[test]
fn pending_claim_quotes_the_provisioner_event() {
    let pvc = "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data, namespace: shop, uid: uid-pvc-data}\nspec: {storageClassName: fast-ssd, accessModes: [ReadWriteOnce], resources: {requests: {storage: 20Gi}}}\nstatus: {phase: Pending}\n";
    let event = "apiVersion: v1\nkind: Event\nmetadata: {name: data.provisioning, namespace: shop}\ninvolvedObject: {apiVersion: v1, kind: PersistentVolumeClaim, name: data, namespace: shop, uid: uid-pvc-data}\nreason: ProvisioningFailed\ntype: Warning\ncount: 9\nmessage: 'storageclass.storage.k8s.io \"fast-ssd\" not found'\nfirstTimestamp: \"2026-11-23T08:00:00Z\"\nlastTimestamp: \"2026-11-23T08:50:00Z\"\n";
    let plan = Snapshot::new().with(pvc).with(event).plan();
    let e = plan.escalation("pvc-pending");
    let reason = e["reason"].as_str().unwrap();
    assert_mentions(
        reason,
        &[
            "PersistentVolumeClaim shop/data",
            "Pending",
            "storageclass.storage.k8s.io \"fast-ssd\" not found",
        ],
    );
    assert_eq!(e["evidence"]["request_storage"], "20Gi");
}

#[test]
fn node_faults_name_the_node_and_its_condition() {
    let plan = Snapshot::new()
        .with(node(
            "node-a",
            &[
                r#"{type: Ready, status: Unknown, reason: NodeStatusUnknown, message: Kubelet stopped posting node status.}"#,
                r#"{type: DiskPressure, status: "True", reason: KubeletHasDiskPressure, message: kubelet has disk pressure}"#,
            ],
        ))
        .plan();
    assert_mentions(
        &plan.reason("node-pressure"),
        &["Node node-a", "DiskPressure"],
    );
    let e = plan.escalation("node-not-ready");
    assert_mentions(
        e["reason"].as_str().unwrap(),
        &[
            "Node node-a",
            "not Ready",
            "Kubelet stopped posting node status",
        ],
    );
    assert_eq!(e["evidence"]["ready"], "Unknown");
}

#[test]
fn oom_without_a_limit_says_where_the_kill_came_from() {
    let plan = web(
        ", resources: {requests: {memory: 256Mi}}",
        3,
        "{waiting: {reason: CrashLoopBackOff}}",
        &terminated(
            "OOMKilled",
            137,
            "2026-11-23T08:40:00Z",
            "2026-11-23T08:45:00Z",
        ),
        &[],
    );
    assert_mentions(
        &plan.reason("oom-killed"),
        &["container web", "no memory limit", "node", "request"],
    );
}

/// Deployment `shop/web` with one pod on a healthy `node-a`, evicted with `message`.
fn evicted(resources: &str, message: &str) -> Plan {
    let containers = format!("{{name: web, image: \"shop/web:1.4.0\", resources: {resources}}}");
    let d = Deploy::new("shop", "web").revision("6d4cf5", &[&containers], 1);
    let pod = pod_yaml(
        "shop",
        POD,
        "  labels: {app: web, pod-template-hash: 6d4cf5}\n  ownerReferences:\n  - {apiVersion: apps/v1, kind: ReplicaSet, name: web-6d4cf5, uid: uid-rs-web-6d4cf5, controller: true}\n",
        std::slice::from_ref(&containers),
        "  nodeName: node-a\n",
        &[],
        &format!(
            "  reason: Evicted\n  message: {}\n",
            serde_json::to_string(message).unwrap()
        ),
    );
    Snapshot::new()
        .with(d.yaml())
        .with(pod)
        .with(node("node-a", &[NODE_READY]))
        .plan()
}

#[test]
fn eviction_of_a_container_without_a_request_asks_for_one() {
    let plan = evicted(
        "{limits: {memory: 1Gi}}",
        "The node was low on resource: memory. Threshold quantity: 100Mi, available: 88Mi. Container web was using 600Mi, request is 0, has larger consumption of memory. ",
    );
    assert_mentions(
        &plan.reason("evicted"),
        &["memory", "container web", "no memory request", "600Mi"],
    );
}

#[test]
fn eviction_for_a_node_condition_names_the_condition() {
    let plan = evicted(
        "{limits: {memory: 1Gi}}",
        "The node had condition: [DiskPressure]. ",
    );
    let reason = plan.reason("evicted");
    assert_mentions(&reason, &["DiskPressure"]);
    assert!(!reason.contains("\"\""), "no empty resource name: {reason}");
}

#[test]
fn liveness_kills_after_startup_give_the_restarts() {
    // Budget 10 × 3 = 30s + 30s grace; killed after 10 minutes of running.
    let plan = web(
        ", livenessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 10, failureThreshold: 3}",
        6,
        "{running: {startedAt: \"2026-11-23T08:50:00Z\"}}",
        &terminated("Error", 137, "2026-11-23T08:30:00Z", "2026-11-23T08:40:00Z"),
        &[
            pod_event(
                "shop",
                POD,
                Some("web"),
                "Unhealthy",
                "Liveness probe failed: HTTP probe failed with statuscode: 500",
                18,
            ),
            pod_event(
                "shop",
                POD,
                Some("web"),
                "Killing",
                "Container web failed liveness probe, will be restarted",
                6,
            ),
        ],
    );
    let reason = plan.reason("liveness-probe-failure");
    assert_mentions(
        &reason,
        &[
            "liveness probe of container web",
            "after it had started",
            "unhealthy while running",
        ],
    );
    assert!(mentions_number(&reason, 6), "restarts: {reason}");
}

#[test]
fn startup_budget_over_the_cap_gives_the_numbers() {
    // Budget 10 × 50 = 500s, killed after 500s: needs 750s, over 600s.
    let plan = web(
        ", startupProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 10, failureThreshold: 50}",
        2,
        "{running: {startedAt: \"2026-11-23T08:50:00Z\"}}",
        &terminated("Error", 137, "2026-11-23T08:30:00Z", "2026-11-23T08:38:20Z"),
        &[pod_event(
            "shop",
            POD,
            Some("web"),
            "Killing",
            "Container web failed startup probe, will be restarted",
            2,
        )],
    );
    assert_mentions(
        &plan.reason("startup-probe-failure"),
        &["container web", "750s", "500s", "600s"],
    );
}

#[test]
fn image_faults_of_a_bare_pod_name_the_fault_the_container_and_the_message() {
    for (fault, state, words) in [
        (
            "crash-loop-back-off",
            "{waiting: {reason: CrashLoopBackOff, message: \"back-off 5m0s restarting failed container=web\"}}",
            "Error",
        ),
        (
            "image-pull-back-off",
            "{waiting: {reason: ErrImagePull, message: \"manifest for shop/web:1.4.0 not found: manifest unknown: manifest unknown\"}}",
            "manifest unknown",
        ),
        (
            "invalid-image-name",
            "{waiting: {reason: InvalidImageName, message: \"couldn't parse image reference \\\"shop/web:1.4.0@sha\\\": invalid reference format\"}}",
            "invalid reference format",
        ),
        (
            "create-container-error",
            "{waiting: {reason: CreateContainerError, message: \"Error: container create failed: executable file `/app/server` not found in $PATH\"}}",
            "executable file `/app/server` not found",
        ),
    ] {
        let pod = pod_yaml(
            "shop",
            "debug-web",
            "",
            &["{name: web, image: \"shop/web:1.4.0\"}".to_string()],
            "",
            &[status(
                "web",
                "shop/web:1.4.0",
                4,
                state,
                &terminated("Error", 1, "2026-11-23T08:49:00Z", "2026-11-23T08:49:02Z"),
            )],
            "",
        );
        let plan = Snapshot::new().with(pod).plan();
        assert_mentions(
            &plan.reason(fault),
            &[
                "container web",
                &format!("shows {fault}"),
                words,
                "bare Pod",
            ],
        );
    }
}

#[test]
fn progress_deadline_without_a_healthy_revision_names_the_deployment() {
    let d = Deploy::new("shop", "web")
        .revision("6d4cf5", &["{name: web, image: \"shop/web:1.4.0\"}"], 0)
        .revision("7b9f6c", &["{name: web, image: \"shop/web:1.5.0\"}"], 0);
    let yaml = d.yaml().replacen(
        "status:\n  replicas: 2\n",
        "status:\n  replicas: 2\n  conditions:\n  - {type: Progressing, status: \"False\", reason: ProgressDeadlineExceeded, message: \"ReplicaSet \\\"web-7b9f6c\\\" has timed out progressing.\"}\n",
        1,
    );
    let pod = d.pod(
        "7b9f6c",
        "a1",
        &[status(
            "web",
            "shop/web:1.5.0",
            5,
            "{waiting: {reason: CrashLoopBackOff}}",
            &terminated("Error", 1, "2026-11-23T08:49:00Z", "2026-11-23T08:49:02Z"),
        )],
    );
    let plan = Snapshot::new().with(yaml).with(pod).plan();
    let e = plan.escalation("progress-deadline-exceeded");
    assert_mentions(
        e["reason"].as_str().unwrap(),
        &[
            "Deployment web",
            "web-7b9f6c",
            "no previous revision",
            "available pods",
        ],
    );
    assert_eq!(e["evidence"]["previous_replica_set"], "web-6d4cf5");
}

#[test]
fn init_container_failure_is_worded_as_its_cause_for_the_init_container() {
    let pod = format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: db-0, namespace: shop, uid: uid-pod-db-0}}\nspec:\n  initContainers:\n  - {{name: migrate, image: \"shop/migrate:0.9.0\"}}\n  containers:\n  - {{name: db, image: \"postgres:16.4\"}}\nstatus:\n  phase: Pending\n  initContainerStatuses:\n  - {}\n  containerStatuses:\n  - {}\n",
        status(
            "migrate",
            "shop/migrate:0.9.0",
            2,
            "{terminated: {exitCode: 3, reason: Error, startedAt: \"2026-11-23T08:49:00Z\", finishedAt: \"2026-11-23T08:49:05Z\"}}",
            ""
        ),
        status(
            "db",
            "postgres:16.4",
            0,
            "{waiting: {reason: PodInitializing}}",
            ""
        ),
    );
    let plan = Snapshot::new().with(pod).plan();
    let e = plan.escalation("init-container-failure");
    assert_mentions(
        e["reason"].as_str().unwrap(),
        &["container migrate", "exits with code 3"],
    );
    let finding = plan
        .findings()
        .iter()
        .find(|f| f["fault"] == "init-container-failure")
        .unwrap();
    assert_eq!(finding["cause"], "container-error-exit");
    assert_eq!(finding["init_container"], true);
}
