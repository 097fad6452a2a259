//! The simulated cluster's controllers and container behaviour, seen the way a user sees them:
//! through kube-rs over loopback (setup goes through the in-process `Store`), on a manual
//! simulated clock so minutes of cluster time pass in milliseconds. Each scenario is also run
//! through suture's own detection, proving the simulator's shapes are the ones it reads.

use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};
use suture::detection::{FaultId, Finding, detect};
use suture::state::ClusterState;
use suture_sim::Sim as _;
use suture_sim::kube::controllers::{Behaviour, ControllerConfig, Controllers, NodeSpec};
use suture_sim::kube::{Config, ListOptions, SimKube, WriteOptions};

const NS: &str = "shop";

async fn start(config: ControllerConfig) -> (SimKube, Client) {
    let sim = SimKube::start(Config {
        namespaces: vec!["default".into(), NS.into()],
        controllers: Some(config),
        ..Config::default()
    })
    .expect("start simulated cluster");
    let kubeconfig = Kubeconfig::from_yaml(&sim.kubeconfig(NS)).expect("kubeconfig");
    let cfg = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("kube config");
    let client = Client::try_from(cfg).expect("client");
    (sim, client)
}

fn ctl(sim: &SimKube) -> &Controllers {
    sim.controllers().expect("controllers running")
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// Creates an object through the store (setup), returning it as stored.
fn create(sim: &SimKube, api_version: &str, kind: &str, obj: Value) -> Value {
    let store = sim.store();
    let res = store.res(api_version, kind).expect("kind served");
    store
        .create(res, Some(NS), obj, &WriteOptions::default())
        .expect("create")
        .object
}

fn deployment(name: &str, replicas: i64, container: Value) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": NS,
            "labels": {"app": name},
            "annotations": {
                "argocd.argoproj.io/tracking-id": format!("shop:apps/Deployment:{NS}/{name}"),
                "kubectl.kubernetes.io/last-applied-configuration": "{\"kind\":\"Deployment\"}",
                "team": "checkout",
            },
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [container]},
            },
        },
    })
}

fn web(image: &str, memory_limit: &str) -> Value {
    json!({
        "name": "web",
        "image": image,
        "ports": [{"name": "http", "containerPort": 8080}],
        "resources": {"requests": {"cpu": "100m", "memory": memory_limit}, "limits": {"memory": memory_limit}},
    })
}

async fn pods_of(client: &Client, app: &str) -> Vec<Pod> {
    let api: Api<Pod> = Api::namespaced(client.clone(), NS);
    api.list(&ListParams::default().labels(&format!("app={app}")))
        .await
        .expect("list pods")
        .items
}

async fn replica_sets(client: &Client) -> Vec<ReplicaSet> {
    let api: Api<ReplicaSet> = Api::namespaced(client.clone(), NS);
    let mut items = api
        .list(&ListParams::default())
        .await
        .expect("list rs")
        .items;
    items.sort_by_key(revision);
    items
}

fn revision(rs: &ReplicaSet) -> i64 {
    rs.annotations()
        .get("deployment.kubernetes.io/revision")
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

async fn events(client: &Client) -> Vec<Event> {
    let api: Api<Event> = Api::namespaced(client.clone(), NS);
    api.list(&ListParams::default())
        .await
        .expect("list events")
        .items
}

fn container_status(pod: &Pod) -> &k8s_openapi::api::core::v1::ContainerStatus {
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|c| c.iter().find(|c| c.name == "web"))
        .expect("status of container web")
}

fn waiting_reason(pod: &Pod) -> Option<String> {
    container_status(pod)
        .state
        .as_ref()?
        .waiting
        .as_ref()?
        .reason
        .clone()
}

fn condition(pod: &Pod, ctype: &str) -> Option<(String, Option<String>, Option<String>)> {
    let c = pod
        .status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == ctype)?;
    Some((c.status.clone(), c.reason.clone(), c.message.clone()))
}

/// Everything the simulated cluster holds, as suture reads a cluster, run through detection.
fn findings(sim: &SimKube) -> Vec<Finding> {
    let store = sim.store();
    let mut state = ClusterState::default();
    for (api, kind) in [
        ("v1", "Pod"),
        ("v1", "Event"),
        ("v1", "Node"),
        ("apps/v1", "Deployment"),
        ("apps/v1", "ReplicaSet"),
        ("apps/v1", "StatefulSet"),
        ("batch/v1", "Job"),
        ("batch/v1", "CronJob"),
    ] {
        let res = store.res(api, kind).expect("kind");
        let listed = store
            .list(res, None, &ListOptions::default())
            .expect("list");
        for obj in listed.items {
            state.add_object(obj).expect("detection decodes the object");
        }
    }
    detect(&state, ctl(sim).now())
}

fn has_finding(found: &[Finding], fault: FaultId) -> Option<&Finding> {
    found.iter().find(|f| f.fault == fault)
}

#[tokio::test]
async fn deployment_makes_a_replicaset_with_copied_annotations_and_ready_pods() {
    let (sim, client) = start(ControllerConfig::default()).await;
    create(
        &sim,
        "apps/v1",
        "Deployment",
        deployment("web", 2, web("shop/web:1.0", "512Mi")),
    );
    ctl(&sim).step(secs(5));

    let rss = replica_sets(&client).await;
    assert_eq!(rss.len(), 1);
    let rs = &rss[0];
    let hash = rs.labels().get("pod-template-hash").expect("hash label");
    assert_eq!(rs.name_any(), format!("web-{hash}"));
    assert!(hash.chars().all(|c| c.is_ascii_alphanumeric()));
    let ann = rs.annotations();
    assert_eq!(ann["deployment.kubernetes.io/revision"], "1");
    assert_eq!(ann["deployment.kubernetes.io/desired-replicas"], "2");
    assert_eq!(ann["deployment.kubernetes.io/max-replicas"], "3");
    assert_eq!(
        ann["argocd.argoproj.io/tracking-id"],
        "shop:apps/Deployment:shop/web"
    );
    assert_eq!(ann["team"], "checkout");
    assert!(!ann.contains_key("kubectl.kubernetes.io/last-applied-configuration"));
    let selector = rs
        .spec
        .as_ref()
        .and_then(|s| s.selector.match_labels.clone());
    assert_eq!(
        selector.and_then(|m| m.get("pod-template-hash").cloned()),
        Some(hash.clone())
    );

    let pods = pods_of(&client, "web").await;
    assert_eq!(pods.len(), 2);
    for pod in &pods {
        assert!(pod.name_any().starts_with(&format!("web-{hash}-")));
        assert_eq!(pod.name_any().len(), format!("web-{hash}-").len() + 5);
        let owner = &pod.owner_references()[0];
        assert_eq!(
            (
                owner.kind.as_str(),
                owner.controller,
                owner.block_owner_deletion
            ),
            ("ReplicaSet", Some(true), Some(true))
        );
        assert_eq!(owner.uid, rs.uid().expect("rs uid"));
        assert_eq!(pod.labels()["pod-template-hash"], *hash);
        assert_eq!(condition(pod, "Ready").map(|c| c.0), Some("True".into()));
        assert_eq!(
            condition(pod, "PodScheduled").map(|c| c.0),
            Some("True".into())
        );
        let cs = container_status(pod);
        assert!(cs.ready && cs.state.as_ref().is_some_and(|s| s.running.is_some()));
        assert!(pod.spec.as_ref().is_some_and(|s| s.node_name.is_some()));
    }

    let deploy: Api<Deployment> = Api::namespaced(client.clone(), NS);
    let d = deploy.get("web").await.expect("deployment");
    assert_eq!(d.annotations()["deployment.kubernetes.io/revision"], "1");
    let status = d.status.expect("status");
    assert_eq!(status.available_replicas, Some(2));
    assert_eq!(status.ready_replicas, Some(2));
    assert_eq!(status.updated_replicas, Some(2));
    let conds = status.conditions.unwrap_or_default();
    let progressing = conds
        .iter()
        .find(|c| c.type_ == "Progressing")
        .expect("Progressing");
    assert_eq!(
        progressing.reason.as_deref(),
        Some("NewReplicaSetAvailable")
    );

    let evs = events(&client).await;
    for reason in [
        "Scheduled",
        "Pulling",
        "Pulled",
        "Created",
        "Started",
        "ScalingReplicaSet",
        "SuccessfulCreate",
    ] {
        assert!(
            evs.iter().any(|e| e.reason.as_deref() == Some(reason)),
            "no {reason} event"
        );
    }
    let started = evs
        .iter()
        .find(|e| e.reason.as_deref() == Some("Started"))
        .expect("Started");
    assert_eq!(
        started.involved_object.field_path.as_deref(),
        Some("spec.containers{web}")
    );
    assert_eq!(
        started.source.as_ref().and_then(|s| s.component.as_deref()),
        Some("kubelet")
    );
    assert!(
        started
            .source
            .as_ref()
            .and_then(|s| s.host.as_deref())
            .is_some()
    );
    assert_eq!(started.reporting_component.as_deref(), Some("kubelet"));
    assert_eq!(started.involved_object.kind.as_deref(), Some("Pod"));
    assert_eq!(started.involved_object.api_version.as_deref(), Some("v1"));
    assert_eq!(started.count, Some(1));
    assert!(started.first_timestamp.is_some() && started.last_timestamp.is_some());
    assert!(findings(&sim).is_empty(), "{:?}", findings(&sim));
    sim.shutdown().await;
}

#[tokio::test]
async fn oom_killed_until_the_limit_is_raised_by_a_patch() {
    let (sim, client) = start(ControllerConfig::default()).await;
    ctl(&sim).behaviours().set(
        "shop/web:1.4",
        Behaviour {
            working_set: Some("600Mi".into()),
            ..Behaviour::default()
        },
    );
    create(
        &sim,
        "apps/v1",
        "Deployment",
        deployment("web", 2, web("shop/web:1.4", "512Mi")),
    );
    ctl(&sim).step(secs(35));

    let pods = pods_of(&client, "web").await;
    assert_eq!(pods.len(), 2);
    for pod in &pods {
        let cs = container_status(pod);
        let last = cs
            .last_state
            .as_ref()
            .and_then(|s| s.terminated.as_ref())
            .expect("lastState.terminated");
        assert_eq!(last.reason.as_deref(), Some("OOMKilled"));
        assert_eq!(last.exit_code, 137);
        assert!(last.started_at.is_some() && last.finished_at.is_some());
        assert!(cs.restart_count >= 2, "restarts {}", cs.restart_count);
        assert_eq!(waiting_reason(pod).as_deref(), Some("CrashLoopBackOff"));
        let msg = cs
            .state
            .as_ref()
            .and_then(|s| s.waiting.as_ref())
            .and_then(|w| w.message.clone());
        let msg = msg.expect("waiting message");
        assert!(
            msg.starts_with("back-off ")
                && msg.contains("restarting failed container=web pod=web-"),
            "{msg}"
        );
        assert_eq!(
            pod.status.as_ref().and_then(|s| s.phase.as_deref()),
            Some("Running")
        );
    }
    let evs = events(&client).await;
    let backoff = evs
        .iter()
        .find(|e| e.reason.as_deref() == Some("BackOff"))
        .expect("BackOff event");
    assert!(
        backoff
            .message
            .as_deref()
            .is_some_and(|m| m.starts_with("Back-off restarting failed container web in pod web-"))
    );
    let found = findings(&sim);
    let oom = has_finding(&found, FaultId::OomKilled).expect("oom-killed detected");
    assert_eq!(oom.owner.kind, "Deployment");
    assert_eq!(oom.owner.name, "web");

    // The fix, as a user (or suture) applies it: a patch of the Deployment.
    let deploy: Api<Deployment> = Api::namespaced(client.clone(), NS);
    let patch = json!({"spec": {"template": {"spec": {"containers": [
        {"name": "web", "resources": {"limits": {"memory": "640Mi"}, "requests": {"memory": "640Mi"}}}
    ]}}}});
    deploy
        .patch("web", &PatchParams::default(), &Patch::Strategic(patch))
        .await
        .expect("patch deployment");
    ctl(&sim).step(secs(30));

    let rss = replica_sets(&client).await;
    assert_eq!(rss.len(), 2);
    let (old, new) = (&rss[0], &rss[1]);
    assert_eq!(revision(new), 2);
    assert_eq!(old.spec.as_ref().and_then(|s| s.replicas), Some(0));
    assert_eq!(new.spec.as_ref().and_then(|s| s.replicas), Some(2));
    let new_hash = &new.labels()["pod-template-hash"];
    let pods = pods_of(&client, "web").await;
    assert_eq!(pods.len(), 2);
    for pod in &pods {
        assert_eq!(&pod.labels()["pod-template-hash"], new_hash);
        let cs = container_status(pod);
        assert!(cs.ready && cs.restart_count == 0);
    }
    let d = deploy.get("web").await.expect("deployment");
    assert_eq!(d.annotations()["deployment.kubernetes.io/revision"], "2");
    assert_eq!(d.status.and_then(|s| s.available_replicas), Some(2));
    assert!(has_finding(&findings(&sim), FaultId::OomKilled).is_none());
    sim.shutdown().await;
}

#[tokio::test]
async fn missing_image_blocks_the_rollout_until_the_progress_deadline() {
    let (sim, client) = start(ControllerConfig::default()).await;
    ctl(&sim).behaviours().set(
        "shop/web:9.9",
        Behaviour {
            missing: true,
            ..Behaviour::default()
        },
    );
    let mut d = deployment("web", 2, web("shop/web:1.0", "256Mi"));
    d["spec"]["progressDeadlineSeconds"] = json!(120);
    create(&sim, "apps/v1", "Deployment", d);
    ctl(&sim).step(secs(5));

    let deploy: Api<Deployment> = Api::namespaced(client.clone(), NS);
    let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "shop/web:9.9"}]}}}});
    deploy
        .patch("web", &PatchParams::default(), &Patch::Strategic(patch))
        .await
        .expect("patch image");
    ctl(&sim).step(secs(1));
    let rss = replica_sets(&client).await;
    assert_eq!(rss.len(), 2);
    let new_hash = rss[1].labels()["pod-template-hash"].clone();
    let new_pods = |pods: Vec<Pod>| -> Vec<Pod> {
        pods.into_iter()
            .filter(|p| p.labels()["pod-template-hash"] == new_hash)
            .collect()
    };
    let fresh = new_pods(pods_of(&client, "web").await);
    assert_eq!(fresh.len(), 1, "maxSurge 25% of 2 rounds up to one new pod");
    assert_eq!(waiting_reason(&fresh[0]).as_deref(), Some("ErrImagePull"));
    let msg = container_status(&fresh[0])
        .state
        .as_ref()
        .and_then(|s| s.waiting.as_ref())
        .and_then(|w| w.message.clone())
        .unwrap_or_default();
    assert_eq!(
        msg,
        "rpc error: code = NotFound desc = failed to pull and unpack image \"docker.io/shop/web:9.9\": failed to resolve reference \"docker.io/shop/web:9.9\": docker.io/shop/web:9.9: not found"
    );
    ctl(&sim).step(secs(2));
    let fresh = new_pods(pods_of(&client, "web").await);
    assert_eq!(
        waiting_reason(&fresh[0]).as_deref(),
        Some("ImagePullBackOff")
    );
    assert_eq!(
        fresh[0].status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Pending")
    );

    ctl(&sim).step(secs(150));
    let rss = replica_sets(&client).await;
    let old = &rss[0];
    assert_eq!(
        old.spec.as_ref().and_then(|s| s.replicas),
        Some(2),
        "old RS keeps its pods"
    );
    assert_eq!(
        old.status.as_ref().and_then(|s| s.available_replicas),
        Some(2)
    );
    let d = deploy.get("web").await.expect("deployment");
    let status = d.status.expect("status");
    let progressing = status
        .conditions
        .unwrap_or_default()
        .into_iter()
        .find(|c| c.type_ == "Progressing")
        .expect("Progressing");
    assert_eq!(progressing.status, "False");
    assert_eq!(
        progressing.reason.as_deref(),
        Some("ProgressDeadlineExceeded")
    );
    assert_eq!(
        progressing.message,
        Some(format!(
            "ReplicaSet \"web-{new_hash}\" has timed out progressing."
        ))
    );
    assert_eq!(status.available_replicas, Some(2));
    assert_eq!(status.unavailable_replicas, Some(1));

    let evs = events(&client).await;
    let reasons: Vec<(&str, &str)> = evs
        .iter()
        .map(|e| {
            (
                e.reason.as_deref().unwrap_or(""),
                e.message.as_deref().unwrap_or(""),
            )
        })
        .collect();
    assert!(reasons.contains(&("BackOff", "Back-off pulling image \"shop/web:9.9\"")));
    assert!(reasons.contains(&("Failed", "Error: ErrImagePull")));
    assert!(reasons.contains(&("Failed", "Error: ImagePullBackOff")));
    let pulling = evs
        .iter()
        .find(|e| e.message.as_deref() == Some("Pulling image \"shop/web:9.9\""))
        .expect("Pulling event");
    assert!(pulling.count.unwrap_or(0) >= 2, "pulls are retried");

    let found = findings(&sim);
    let pull = has_finding(&found, FaultId::ImagePullBackOff).expect("image-pull-back-off");
    assert_eq!(pull.evidence["pull_error"], "not-found");
    assert!(has_finding(&found, FaultId::ProgressDeadlineExceeded).is_some());
    sim.shutdown().await;
}

fn slow(startup: Option<Value>) -> Value {
    let mut c = web("shop/slow:2", "256Mi");
    c["livenessProbe"] = json!({"httpGet": {"path": "/healthz", "port": 8080},
        "initialDelaySeconds": 10, "periodSeconds": 10, "failureThreshold": 3});
    if let Some(s) = startup {
        c["startupProbe"] = s;
    }
    c
}

#[tokio::test]
async fn slow_start_is_killed_by_liveness_until_a_startup_probe_covers_it() {
    let (sim, client) = start(ControllerConfig::default()).await;
    ctl(&sim).behaviours().set(
        "shop/slow:2",
        Behaviour {
            start_seconds: 60,
            ..Behaviour::default()
        },
    );
    create(
        &sim,
        "apps/v1",
        "Deployment",
        deployment("slow", 1, slow(None)),
    );
    ctl(&sim).step(secs(120));

    let pods = pods_of(&client, "slow").await;
    let cs = container_status(&pods[0]);
    assert!(cs.restart_count >= 2, "restarts {}", cs.restart_count);
    let last = cs
        .last_state
        .as_ref()
        .and_then(|s| s.terminated.as_ref())
        .expect("terminated");
    assert_eq!(
        (last.exit_code, last.reason.as_deref()),
        (137, Some("Error"))
    );
    let ip = pods[0]
        .status
        .as_ref()
        .and_then(|s| s.pod_ip.clone())
        .expect("pod ip");
    let evs = events(&client).await;
    let unhealthy = evs
        .iter()
        .find(|e| e.reason.as_deref() == Some("Unhealthy"))
        .expect("Unhealthy event");
    assert_eq!(
        unhealthy.message.as_deref(),
        Some(format!("Liveness probe failed: Get \"http://{ip}:8080/healthz\": dial tcp {ip}:8080: connect: connection refused").as_str())
    );
    assert_eq!(unhealthy.type_.as_deref(), Some("Warning"));
    assert!(unhealthy.count.unwrap_or(0) >= 3);
    let killing = evs
        .iter()
        .find(|e| e.reason.as_deref() == Some("Killing"))
        .expect("Killing event");
    assert_eq!(
        killing.message.as_deref(),
        Some("Container web failed liveness probe, will be restarted")
    );
    assert_eq!(
        killing.involved_object.field_path.as_deref(),
        Some("spec.containers{web}")
    );
    let found = findings(&sim);
    let f = has_finding(&found, FaultId::LivenessProbeFailure).expect("liveness-probe-failure");
    assert_eq!(f.evidence["during_startup"], true);

    // The fix: a startup probe with 300 s of budget.
    let deploy: Api<Deployment> = Api::namespaced(client.clone(), NS);
    let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "startupProbe":
        {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 10, "failureThreshold": 30}}]}}}});
    deploy
        .patch("slow", &PatchParams::default(), &Patch::Strategic(patch))
        .await
        .expect("patch");
    ctl(&sim).step(secs(180));
    let rss = replica_sets(&client).await;
    let new_hash = rss
        .last()
        .map(|r| r.labels()["pod-template-hash"].clone())
        .unwrap_or_default();
    let pods: Vec<Pod> = pods_of(&client, "slow")
        .await
        .into_iter()
        .filter(|p| p.labels()["pod-template-hash"] == new_hash)
        .collect();
    assert_eq!(pods.len(), 1);
    let cs = container_status(&pods[0]);
    assert_eq!(cs.restart_count, 0);
    assert!(cs.ready && cs.started == Some(true));
    let d = deploy.get("slow").await.expect("deployment");
    assert_eq!(d.status.and_then(|s| s.available_replicas), Some(1));
    sim.shutdown().await;
}

#[tokio::test]
async fn requests_larger_than_any_node_stay_pending() {
    let config = ControllerConfig {
        nodes: (1..=3)
            .map(|i| NodeSpec::new(&format!("node-{i}"), "4", "8Gi"))
            .collect(),
        ..ControllerConfig::default()
    };
    let (sim, client) = start(config).await;
    create(
        &sim,
        "apps/v1",
        "Deployment",
        deployment("big", 1, web("shop/big:1", "64Gi")),
    );
    ctl(&sim).step(secs(30));
    let pods = pods_of(&client, "big").await;
    assert_eq!(pods.len(), 1);
    let pod = &pods[0];
    let message = "0/3 nodes are available: 3 Insufficient memory. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.";
    assert_eq!(
        condition(pod, "PodScheduled"),
        Some((
            "False".into(),
            Some("Unschedulable".into()),
            Some(message.into())
        ))
    );
    assert_eq!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Pending")
    );
    assert!(
        pod.spec
            .as_ref()
            .and_then(|s| s.node_name.as_ref())
            .is_none()
    );
    let evs = events(&client).await;
    let failed = evs
        .iter()
        .find(|e| e.reason.as_deref() == Some("FailedScheduling"))
        .expect("FailedScheduling");
    assert_eq!(failed.message.as_deref(), Some(message));
    assert_eq!(failed.type_.as_deref(), Some("Warning"));
    assert_eq!(
        failed.reporting_component.as_deref(),
        Some("default-scheduler")
    );
    let found = findings(&sim);
    let f = has_finding(&found, FaultId::Unschedulable).expect("unschedulable");
    assert_eq!(f.evidence["reasons"]["Insufficient memory"], 3);
    sim.shutdown().await;
}

#[tokio::test]
async fn untolerated_taints_are_named_in_the_scheduler_message() {
    let mut tainted = NodeSpec::new("gpu-1", "4", "8Gi");
    tainted
        .taints
        .push(("dedicated".into(), "gpu".into(), "NoSchedule".into()));
    let config = ControllerConfig {
        nodes: vec![tainted, NodeSpec::new("small-1", "4", "1Gi")],
        ..ControllerConfig::default()
    };
    let (sim, client) = start(config).await;
    create(
        &sim,
        "apps/v1",
        "Deployment",
        deployment("app", 1, web("shop/app:1", "2Gi")),
    );
    ctl(&sim).step(secs(5));
    let pods = pods_of(&client, "app").await;
    let message = condition(&pods[0], "PodScheduled")
        .and_then(|c| c.2)
        .unwrap_or_default();
    assert_eq!(
        message,
        "0/2 nodes are available: 1 Insufficient memory, 1 node(s) had untolerated taint {dedicated: gpu}. preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod, 1 Preemption is not helpful for scheduling."
    );
    sim.shutdown().await;
}

fn job(name: &str, image: &str, backoff_limit: i64) -> Value {
    json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "backoffLimit": backoff_limit,
            "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": image}]}},
        },
    })
}

#[tokio::test]
async fn failing_job_exceeds_its_backoff_limit() {
    let (sim, client) = start(ControllerConfig::default()).await;
    ctl(&sim).behaviours().set(
        "shop/migrate:1",
        Behaviour {
            exit_code: Some(1),
            exit_after_seconds: Some(2),
            ..Behaviour::default()
        },
    );
    create(&sim, "batch/v1", "Job", job("migrate", "shop/migrate:1", 1));
    ctl(&sim).step(secs(60));
    let jobs: Api<Job> = Api::namespaced(client.clone(), NS);
    let j = jobs.get("migrate").await.expect("job");
    let status = j.status.expect("status");
    assert_eq!(status.failed, Some(2));
    let failed = status
        .conditions
        .unwrap_or_default()
        .into_iter()
        .find(|c| c.type_ == "Failed")
        .expect("Failed condition");
    assert_eq!(failed.status, "True");
    assert_eq!(failed.reason.as_deref(), Some("BackoffLimitExceeded"));
    assert_eq!(
        failed.message.as_deref(),
        Some("Job has reached the specified backoff limit")
    );
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    let listed = pods
        .list(&ListParams::default().labels("batch.kubernetes.io/job-name=migrate"))
        .await
        .expect("pods")
        .items;
    assert_eq!(listed.len(), 2);
    for p in &listed {
        assert_eq!(
            p.status.as_ref().and_then(|s| s.phase.as_deref()),
            Some("Failed")
        );
        assert_eq!(p.labels()["job-name"], "migrate");
        let term = p
            .status
            .as_ref()
            .and_then(|s| s.container_statuses.as_ref())
            .and_then(|c| c[0].state.clone())
            .and_then(|s| s.terminated);
        assert_eq!(
            term.map(|t| (t.exit_code, t.reason)),
            Some((1, Some("Error".into())))
        );
    }
    let found = findings(&sim);
    let f =
        has_finding(&found, FaultId::JobBackoffLimitExceeded).expect("job-backoff-limit-exceeded");
    assert_eq!(f.subject.name, "migrate");
    sim.shutdown().await;
}

#[tokio::test]
async fn job_completes_and_deadline_fails() {
    let (sim, client) = start(ControllerConfig::default()).await;
    ctl(&sim).behaviours().set(
        "shop/ok:1",
        Behaviour {
            exit_code: Some(0),
            exit_after_seconds: Some(3),
            ..Behaviour::default()
        },
    );
    create(&sim, "batch/v1", "Job", job("ok", "shop/ok:1", 6));
    let mut long = job("long", "shop/forever:1", 6);
    long["spec"]["activeDeadlineSeconds"] = json!(30);
    create(&sim, "batch/v1", "Job", long);
    ctl(&sim).step(secs(45));
    let jobs: Api<Job> = Api::namespaced(client.clone(), NS);
    let cond = |j: &Job, t: &str| {
        j.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == t).cloned())
    };
    let ok = jobs.get("ok").await.expect("ok");
    assert_eq!(cond(&ok, "Complete").map(|c| c.status), Some("True".into()));
    assert_eq!(ok.status.as_ref().and_then(|s| s.succeeded), Some(1));
    assert!(
        ok.status
            .as_ref()
            .and_then(|s| s.completion_time.as_ref())
            .is_some()
    );
    let long = jobs.get("long").await.expect("long");
    assert_eq!(
        cond(&long, "Failed").and_then(|c| c.reason),
        Some("DeadlineExceeded".into())
    );
    assert!(has_finding(&findings(&sim), FaultId::JobDeadlineExceeded).is_some());
    sim.shutdown().await;
}

#[tokio::test]
async fn cronjob_runs_on_schedule_and_on_trigger() {
    let (sim, client) = start(ControllerConfig::default()).await;
    create(
        &sim,
        "batch/v1",
        "CronJob",
        json!({
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": {"name": "report", "namespace": NS},
            "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": {"spec": {
                "restartPolicy": "OnFailure", "containers": [{"name": "main", "image": "shop/report:1"}]}}}}},
        }),
    );
    let manual = ctl(&sim).trigger(NS, "report").expect("trigger");
    assert!(manual.starts_with("report-manual-"));
    ctl(&sim).step(secs(11 * 60));
    let jobs: Api<Job> = Api::namespaced(client.clone(), NS);
    let listed = jobs.list(&ListParams::default()).await.expect("jobs").items;
    let scheduled: Vec<&Job> = listed
        .iter()
        .filter(|j| !j.name_any().contains("manual"))
        .collect();
    assert!(
        (2..=3).contains(&scheduled.len()),
        "{} scheduled jobs",
        scheduled.len()
    );
    for j in &listed {
        assert_eq!(j.owner_references()[0].kind, "CronJob");
    }
    let cj: Api<CronJob> = Api::namespaced(client.clone(), NS);
    let cj = cj.get("report").await.expect("cronjob");
    assert!(cj.status.and_then(|s| s.last_schedule_time).is_some());
    sim.shutdown().await;
}

#[tokio::test]
async fn statefulset_pods_come_up_in_order() {
    let (sim, client) = start(ControllerConfig::default()).await;
    create(
        &sim,
        "apps/v1",
        "StatefulSet",
        json!({
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": "db", "namespace": NS},
            "spec": {"replicas": 3, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
                "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [{"name": "pg", "image": "postgres:16"}]}}},
        }),
    );
    ctl(&sim).step(Duration::from_millis(500));
    assert_eq!(
        pods_of(&client, "db").await.len(),
        1,
        "ordered: one at a time"
    );
    ctl(&sim).step(secs(10));
    let mut pods = pods_of(&client, "db").await;
    pods.sort_by_key(|p| p.name_any());
    let names: Vec<String> = pods.iter().map(|p| p.name_any()).collect();
    assert_eq!(names, ["db-0", "db-1", "db-2"]);
    for p in &pods {
        assert!(p.labels()["controller-revision-hash"].starts_with("db-"));
        assert_eq!(p.owner_references()[0].kind, "StatefulSet");
    }
    let sts: Api<StatefulSet> = Api::namespaced(client.clone(), NS);
    let s = sts.get("db").await.expect("sts");
    assert_eq!(s.status.and_then(|s| s.ready_replicas), Some(3));
    sim.shutdown().await;
}

#[tokio::test]
async fn deleting_a_deployment_collects_its_replicasets_and_pods() {
    let (sim, client) = start(ControllerConfig::default()).await;
    create(
        &sim,
        "apps/v1",
        "Deployment",
        deployment("web", 2, web("shop/web:1.0", "128Mi")),
    );
    ctl(&sim).step(secs(5));
    assert_eq!(pods_of(&client, "web").await.len(), 2);
    let deploy: Api<Deployment> = Api::namespaced(client.clone(), NS);
    deploy
        .delete("web", &DeleteParams::default())
        .await
        .expect("delete");
    ctl(&sim).settle();
    assert!(replica_sets(&client).await.is_empty());
    assert!(pods_of(&client, "web").await.is_empty());
    sim.shutdown().await;
}

#[tokio::test]
async fn a_running_clock_drives_the_cluster_without_stepping() {
    let config = ControllerConfig {
        speed: Some(200.0),
        ..ControllerConfig::default()
    };
    let (sim, client) = start(config).await;
    create(
        &sim,
        "apps/v1",
        "Deployment",
        deployment("web", 1, web("shop/web:1.0", "128Mi")),
    );
    let deploy: Api<Deployment> = Api::namespaced(client.clone(), NS);
    let mut available = None;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        available = deploy
            .get("web")
            .await
            .ok()
            .and_then(|d| d.status?.available_replicas);
        if available == Some(1) {
            break;
        }
    }
    assert_eq!(available, Some(1));
    sim.shutdown().await;
}

#[tokio::test]
async fn unauthorized_pulls_and_short_startup_budgets_are_detected() {
    let (sim, client) = start(ControllerConfig::default()).await;
    let book = ctl(&sim).behaviours();
    book.set(
        "private/app:1",
        Behaviour {
            pull_unauthorized: true,
            ..Behaviour::default()
        },
    );
    book.set(
        "shop/slow:3",
        Behaviour {
            start_seconds: 120,
            ..Behaviour::default()
        },
    );
    create(
        &sim,
        "apps/v1",
        "Deployment",
        deployment("private", 1, web("private/app:1", "128Mi")),
    );
    let mut c = web("shop/slow:3", "128Mi");
    c["startupProbe"] =
        json!({"tcpSocket": {"port": "http"}, "periodSeconds": 5, "failureThreshold": 6});
    create(&sim, "apps/v1", "Deployment", deployment("starter", 1, c));
    ctl(&sim).step(secs(90));

    let found = findings(&sim);
    let pull = found
        .iter()
        .find(|f| f.fault == FaultId::ImagePullBackOff && f.owner.name == "private")
        .expect("image-pull-back-off");
    assert_eq!(pull.evidence["pull_error"], "unauthorized");
    let startup = found
        .iter()
        .find(|f| f.fault == FaultId::StartupProbeFailure && f.owner.name == "starter")
        .expect("startup-probe-failure");
    assert_eq!(startup.container.as_deref(), Some("web"));
    let evs = events(&client).await;
    let pods = pods_of(&client, "starter").await;
    let ip = pods[0]
        .status
        .as_ref()
        .and_then(|s| s.pod_ip.clone())
        .unwrap_or_default();
    let unhealthy =
        format!("Startup probe failed: dial tcp {ip}:8080: connect: connection refused");
    assert!(
        evs.iter()
            .any(|e| e.message.as_deref() == Some(unhealthy.as_str()))
    );
    assert!(
        evs.iter().any(|e| e.message.as_deref()
            == Some("Container web failed startup probe, will be restarted"))
    );
    sim.shutdown().await;
}
