//! The cluster watchers against the simulated API server, through kube-rs over HTTP: findings
//! reach the runner's queue with the slice they came from, the stores survive dropped watches
//! and 410 Gone relists, and nothing is sent twice for an unchanged object.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use kube::Client;
use kube::api::{Api, ListParams};
use serde_json::{Value, json};
use suture::clock::Clock;
use suture::cluster::{Cluster, Kind, WatchConfig};
use suture::detection::{FaultId, Finding};
use suture::incident::event::Inbound;
use suture::objref::ObjectRef;
use suture::state::ClusterState;
use suture_sim::Sim as _;
use suture_sim::kube::{Config, DeleteOptions, SimKube, Subresource, WriteOptions};
use tokio::sync::mpsc::{self, Receiver};

fn client(url: &str) -> Client {
    Client::try_from(kube::Config::new(url.parse().unwrap())).unwrap()
}

/// Findings from the queue, or `None` when nothing arrives within `wait`.
async fn next(rx: &mut Receiver<Inbound>, wait: Duration) -> Option<(ClusterState, Vec<Finding>)> {
    match tokio::time::timeout(wait, rx.recv()).await {
        Ok(Some(Inbound::Findings { slice, findings })) => Some((*slice, findings)),
        Ok(Some(other)) => panic!("unexpected inbound {other:?}"),
        Ok(None) | Err(_) => None,
    }
}

async fn wait_ready(cluster: &Cluster) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cluster.ready() {
        assert!(Instant::now() < deadline, "watchers never listed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn names(items: impl IntoIterator<Item = Option<String>>) -> Vec<String> {
    let mut v: Vec<String> = items.into_iter().flatten().collect();
    v.sort();
    v
}

/// A bare API server (no controllers: objects change only when a test writes them) with a
/// small watch history, so a watch that misses a few dozen writes gets 410 Gone.
fn bare() -> SimKube {
    let mut namespaces = Config::default().namespaces;
    namespaces.extend(["payments", "team-x", "search", "argocd"].map(String::from));
    SimKube::start(Config {
        history_limit: 20,
        namespaces,
        ..Config::default()
    })
    .unwrap()
}

fn create(sim: &SimKube, api_version: &str, kind: &str, ns: &str, obj: Value) -> Value {
    let res = sim.store().res(api_version, kind).unwrap();
    sim.store()
        .create(res, Some(ns), obj, &WriteOptions::default())
        .unwrap()
        .object
}

fn uid(obj: &Value) -> String {
    obj["metadata"]["uid"].as_str().unwrap().to_string()
}

const CONTAINER: &str = r#"{"name": "web", "image": "ghcr.io/example/web:1.0",
  "resources": {"limits": {"memory": "512Mi"}, "requests": {"memory": "512Mi"}}}"#;

/// Deployment `name` -> ReplicaSet `name-5d8f7` in `ns`; returns the ReplicaSet's uid.
fn workload(sim: &SimKube, ns: &str, name: &str) -> String {
    let container: Value = serde_json::from_str(CONTAINER).unwrap();
    let template =
        json!({"metadata": {"labels": {"app": name}}, "spec": {"containers": [container]}});
    let selector = json!({"matchLabels": {"app": name}});
    let d = create(
        sim,
        "apps/v1",
        "Deployment",
        ns,
        json!({"metadata": {"name": name, "annotations": {
                "argocd.argoproj.io/tracking-id": format!("{name}:apps/Deployment:{ns}/{name}")}},
               "spec": {"replicas": 2, "selector": selector, "template": template}}),
    );
    let rs = create(
        sim,
        "apps/v1",
        "ReplicaSet",
        ns,
        json!({"metadata": {"name": format!("{name}-5d8f7"), "labels": {"app": name},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": name,
                                     "uid": uid(&d), "controller": true}]},
               "spec": {"replicas": 2, "selector": selector, "template": template}}),
    );
    uid(&rs)
}

/// A running pod of the ReplicaSet; `oom`: its last termination was an OOM kill.
fn pod(sim: &SimKube, ns: &str, rs: (&str, &str), name: &str, oom: bool) {
    let container: Value = serde_json::from_str(CONTAINER).unwrap();
    create(
        sim,
        "v1",
        "Pod",
        ns,
        json!({"metadata": {"name": name, "labels": {"app": "web"},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs.0,
                                     "uid": rs.1, "controller": true}]},
               "spec": {"nodeName": "node-1", "containers": [container]}}),
    );
    set_status(sim, ns, name, oom);
}

fn set_status(sim: &SimKube, ns: &str, name: &str, oom: bool) {
    let mut cs = json!({"name": "web", "image": "ghcr.io/example/web:1.0", "imageID": "",
        "ready": true, "restartCount": 0,
        "state": {"running": {"startedAt": "2026-01-01T00:05:00Z"}}});
    if oom {
        cs["restartCount"] = json!(3);
        cs["lastState"] = json!({"terminated": {"exitCode": 137, "reason": "OOMKilled",
            "startedAt": "2026-01-01T00:00:00Z", "finishedAt": "2026-01-01T00:04:59Z"}});
    }
    let res = sim.store().res("v1", "Pod").unwrap();
    sim.store()
        .update_with(res, Some(ns), name, Subresource::Status, |p| {
            p["status"] = json!({"phase": "Running", "containerStatuses": [cs]});
        })
        .unwrap();
}

fn application(sim: &SimKube, name: &str, ns: &str) {
    create(
        sim,
        "argoproj.io/v1alpha1",
        "Application",
        "argocd",
        json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
               "metadata": {"name": name},
               "spec": {"project": "default",
                        "source": {"repoURL": "https://github.com/platform/gitops.git", "path": name},
                        "destination": {"server": "https://kubernetes.default.svc", "namespace": ns}}}),
    );
}

/// Writes nothing suture watches (Leases), enough to push older changes out of the history.
fn churn(sim: &SimKube, n: usize) {
    for i in 0..n {
        create(
            sim,
            "coordination.k8s.io/v1",
            "Lease",
            "default",
            json!({"metadata": {"name": format!("churn-{}-{i}", uuid_like())}, "spec": {}}),
        );
    }
}

fn uuid_like() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

fn start(sim: &SimKube, cfg: WatchConfig) -> (Cluster, Receiver<Inbound>) {
    let (tx, rx) = mpsc::channel(64);
    let c = client(&sim.url());
    let cluster = Cluster::start(
        c.clone(),
        c,
        WatchConfig {
            debounce: Duration::from_millis(50),
            ..cfg
        },
        Clock::System,
        tx,
    );
    (cluster, rx)
}

fn deployment(ns: &str, name: &str) -> ObjectRef {
    ObjectRef::new("apps", "Deployment", ns, name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_oom_scenario_reaches_the_queue_with_its_workload_slice() {
    let scenario = suture_sim::scenarios::find("oom").unwrap();
    let world = suture_sim::world::World::start(
        scenario,
        suture_sim::world::Options {
            speed: 60.0,
            ..Default::default()
        },
    )
    .unwrap();
    // Hold the first pod list back: until it answers, the watchers are not ready.
    world
        .kube
        .faults()
        .set_latency("/api/v1/pods", Duration::from_millis(600));
    let (tx, mut rx) = mpsc::channel(64);
    let c = client(&world.endpoints().kube_url);
    let store = world.kube.store().clone();
    let cluster = Cluster::start(
        c.clone(),
        c,
        WatchConfig::default(),
        Clock::external(move || store.now()),
        tx,
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!cluster.ready(), "ready before the pods were listed");
    world
        .kube
        .faults()
        .set_latency("/api/v1/pods", Duration::ZERO);
    wait_ready(&cluster).await;

    let deadline = Instant::now() + Duration::from_secs(30);
    let (slice, finding) = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let (slice, findings) = next(&mut rx, left).await.expect("no oom-killed finding");
        if let Some(f) = findings.iter().find(|f| f.fault == FaultId::OomKilled) {
            break (slice, f.clone());
        }
    };
    assert_eq!(finding.owner.kind, "Deployment");
    assert_eq!(finding.owner.name, "checkout-api");
    assert_eq!(finding.namespace, "payments");
    assert_eq!(finding.container.as_deref(), Some("api"));
    let pod = finding.pod.clone().unwrap();
    assert!(
        slice
            .pods
            .iter()
            .any(|p| p.metadata.name.as_deref() == Some(&pod))
    );
    assert_eq!(
        names(slice.deployments.iter().map(|d| d.metadata.name.clone())),
        ["checkout-api"]
    );
    assert!(!slice.replica_sets.is_empty());
    assert!(slice.replica_sets.iter().all(|rs| {
        rs.metadata
            .name
            .as_deref()
            .unwrap()
            .starts_with("checkout-api-")
    }));
    assert_eq!(
        names(slice.applications.iter().map(|a| a.metadata.name.clone())),
        ["checkout-api"]
    );
    // Only the pods' own nodes, slimmed.
    let node = slice.pods[0]
        .spec
        .as_ref()
        .unwrap()
        .node_name
        .clone()
        .unwrap();
    assert!(
        slice
            .nodes
            .iter()
            .any(|n| n.metadata.name.as_deref() == Some(&node))
    );
    assert!(
        slice
            .pods
            .iter()
            .all(|p| p.metadata.managed_fields.is_none())
    );
    // The same slice on request.
    let again = cluster.slice(&deployment("payments", "checkout-api"));
    assert_eq!(again.deployments.len(), 1);
    assert!(!again.pods.is_empty());
    // The node-fit check reads every node, including those no pod of the workload runs on.
    assert_eq!(
        names(cluster.nodes().into_iter().map(|n| n.metadata.name)),
        ["sim-node-1", "sim-node-2", "sim-node-3"]
    );
    assert!(slice.nodes.len() < 3, "two pods, at most two nodes");
    cluster.shutdown().await;
    world.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relist_after_410_drops_deleted_pods_and_resends_nothing() {
    let sim = bare();
    let rs = workload(&sim, "payments", "web");
    pod(
        &sim,
        "payments",
        ("web-5d8f7", &rs),
        "web-5d8f7-aaaaa",
        true,
    );
    pod(
        &sim,
        "payments",
        ("web-5d8f7", &rs),
        "web-5d8f7-bbbbb",
        false,
    );
    application(&sim, "web", "payments");
    let (cluster, mut rx) = start(&sim, WatchConfig::default());
    wait_ready(&cluster).await;
    let (slice, findings) = next(&mut rx, Duration::from_secs(10))
        .await
        .expect("first findings");
    let faults: Vec<_> = findings.iter().map(|f| (f.fault, f.pod.clone())).collect();
    assert_eq!(
        faults,
        [(FaultId::OomKilled, Some("web-5d8f7-aaaaa".to_string()))]
    );
    assert_eq!(slice.pods.len(), 2);

    // Break the pod watch and keep it from reconnecting; meanwhile a pod goes away and the
    // history moves far past the watch's resourceVersion.
    sim.faults()
        .set_latency("/api/v1/pods", Duration::from_secs(60));
    sim.faults().drop_watches();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let pods = sim.store().res("v1", "Pod").unwrap();
    sim.store()
        .delete(
            pods,
            Some("payments"),
            "web-5d8f7-bbbbb",
            &DeleteOptions::default(),
        )
        .unwrap();
    churn(&sim, 60);
    // The held re-watch now starts from a compacted version: 410, then a relist.
    sim.faults().set_latency("/api/v1/pods", Duration::ZERO);

    let api = Api::<Pod>::all(client(&sim.url()));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let listed: Vec<_> = api
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|p| {
                let m = p.metadata;
                (
                    (m.namespace.unwrap_or_default(), m.name.unwrap_or_default()),
                    m.resource_version.unwrap_or_default(),
                )
            })
            .collect();
        if cluster.versions(Kind::Pod) == listed {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "stores never matched the API: {listed:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(cluster.relists() >= 1, "the pod watcher never relisted");
    let slice = cluster.slice(&deployment("payments", "web"));
    assert_eq!(
        names(slice.pods.iter().map(|p| p.metadata.name.clone())),
        ["web-5d8f7-aaaaa"]
    );
    // The OOM pod did not change: no second message for it, through the relist and after.
    assert!(next(&mut rx, Duration::from_millis(800)).await.is_none());
    // The other watchers reconnected inside the history and replayed nothing new either.
    assert_eq!(cluster.versions(Kind::Deployment).len(), 1);
    assert_eq!(cluster.versions(Kind::Application).len(), 1);
    cluster.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_change_sends_nothing_and_a_new_fault_sends_only_itself() {
    let sim = bare();
    let rs = workload(&sim, "payments", "web");
    pod(
        &sim,
        "payments",
        ("web-5d8f7", &rs),
        "web-5d8f7-aaaaa",
        false,
    );
    pod(
        &sim,
        "payments",
        ("web-5d8f7", &rs),
        "web-5d8f7-bbbbb",
        false,
    );
    let (cluster, mut rx) = start(&sim, WatchConfig::default());
    wait_ready(&cluster).await;
    assert!(next(&mut rx, Duration::from_millis(500)).await.is_none());

    // A label change on a healthy pod: detected, nothing found, nothing sent.
    let pods = sim.store().res("v1", "Pod").unwrap();
    sim.store()
        .update_with(
            pods,
            Some("payments"),
            "web-5d8f7-aaaaa",
            Subresource::Main,
            |p| {
                p["metadata"]["labels"]["touched"] = json!("yes");
            },
        )
        .unwrap();
    assert!(next(&mut rx, Duration::from_millis(800)).await.is_none());
    assert!(
        cluster
            .slice(&ObjectRef::new("", "Pod", "payments", "web-5d8f7-aaaaa"))
            .pods
            .iter()
            .any(|p| p.metadata.labels.as_ref().unwrap().contains_key("touched")),
        "the change reached the store"
    );

    // The other pod OOMs: one message, with that one finding.
    set_status(&sim, "payments", "web-5d8f7-bbbbb", true);
    let (_, findings) = next(&mut rx, Duration::from_secs(10))
        .await
        .expect("oom finding");
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].fault, FaultId::OomKilled);
    assert_eq!(findings[0].pod.as_deref(), Some("web-5d8f7-bbbbb"));
    // A healthy change to the other pod re-detects the workload: the OOM is not sent again.
    sim.store()
        .update_with(
            pods,
            Some("payments"),
            "web-5d8f7-aaaaa",
            Subresource::Main,
            |p| {
                p["metadata"]["labels"]["touched"] = json!("twice");
            },
        )
        .unwrap();
    assert!(next(&mut rx, Duration::from_millis(800)).await.is_none());
    cluster.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn excluded_namespaces_are_neither_stored_nor_detected() {
    let sim = bare();
    let rs = workload(&sim, "team-x", "web");
    pod(&sim, "team-x", ("web-5d8f7", &rs), "web-5d8f7-xxxxx", true);
    let rs = workload(&sim, "payments", "api");
    pod(
        &sim,
        "payments",
        ("api-5d8f7", &rs),
        "api-5d8f7-ppppp",
        true,
    );
    let cfg = WatchConfig {
        exclude_namespaces: vec!["team-x".into()],
        ..WatchConfig::default()
    };
    let (cluster, mut rx) = start(&sim, cfg);
    wait_ready(&cluster).await;
    let (_, findings) = next(&mut rx, Duration::from_secs(10))
        .await
        .expect("payments finding");
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].namespace, "payments");
    assert!(next(&mut rx, Duration::from_millis(500)).await.is_none());
    // A change in the excluded namespace is not even stored.
    set_status(&sim, "team-x", "web-5d8f7-xxxxx", false);
    set_status(&sim, "team-x", "web-5d8f7-xxxxx", true);
    assert!(next(&mut rx, Duration::from_millis(500)).await.is_none());
    assert!(cluster.slice(&deployment("team-x", "web")).pods.is_empty());
    let stored: Vec<String> = cluster
        .versions(Kind::Pod)
        .into_iter()
        .map(|((ns, _), _)| ns)
        .collect();
    assert_eq!(stored, ["payments"]);
    cluster.shutdown().await;
    sim.shutdown().await;
}

/// A LimitRange or an Application changes nothing in a workload's pods, but may change what
/// suture can do about their fault (a raised max allows a refused bump, a new Application owns
/// the workload): the namespace's findings are sent again, other namespaces' are not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_limit_range_or_application_change_sends_the_namespaces_findings_again() {
    let sim = bare();
    let rs = workload(&sim, "payments", "web");
    pod(
        &sim,
        "payments",
        ("web-5d8f7", &rs),
        "web-5d8f7-aaaaa",
        true,
    );
    let other = workload(&sim, "search", "web");
    pod(
        &sim,
        "search",
        ("web-5d8f7", &other),
        "web-5d8f7-ccccc",
        true,
    );
    let (cluster, mut rx) = start(&sim, WatchConfig::default());
    wait_ready(&cluster).await;
    let mut first = Vec::new();
    while let Some((_, findings)) = next(&mut rx, Duration::from_millis(800)).await {
        first.extend(findings);
    }
    assert_eq!(first.len(), 2, "{first:?}");
    // Nothing changed: nothing is sent.
    assert!(next(&mut rx, Duration::from_millis(500)).await.is_none());

    create(
        &sim,
        "v1",
        "LimitRange",
        "payments",
        json!({"apiVersion": "v1", "kind": "LimitRange",
               "metadata": {"name": "memory", "namespace": "payments"},
               "spec": {"limits": [{"type": "Container", "max": {"memory": "2Gi"}}]}}),
    );
    let (slice, findings) = next(&mut rx, Duration::from_secs(10))
        .await
        .expect("the namespace's finding again");
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0].fault, FaultId::OomKilled);
    assert_eq!(findings[0].pod.as_deref(), Some("web-5d8f7-aaaaa"));
    assert_eq!(
        slice.limit_ranges.len(),
        1,
        "the slice carries the new LimitRange"
    );
    assert!(
        next(&mut rx, Duration::from_millis(800)).await.is_none(),
        "search is untouched"
    );

    // An Application that deploys to `search` appears: search's finding is sent again.
    application(&sim, "search-app", "search");
    let (_, findings) = next(&mut rx, Duration::from_secs(10))
        .await
        .expect("search's finding again");
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0].pod.as_deref(), Some("web-5d8f7-ccccc"));
    assert!(next(&mut rx, Duration::from_millis(800)).await.is_none());
    cluster.shutdown().await;
    sim.shutdown().await;
}

/// ResourceQuotas are watched like LimitRanges: stored with `spec.hard`, the scopes and
/// `status.hard`/`status.used`, and a workload's slice holds its namespace's quotas only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slice_holds_the_resource_quotas_of_its_namespace() {
    let sim = bare();
    workload(&sim, "payments", "checkout");
    let res = sim.store().res("v1", "ResourceQuota").unwrap();
    for (ns, name) in [
        ("payments", "compute"),
        ("payments", "batch"),
        ("team-x", "other"),
    ] {
        let mut quota = json!({"metadata": {"name": name},
            "spec": {"hard": {"requests.memory": "2Gi", "pods": "10"}}});
        if name == "batch" {
            quota["spec"]["scopes"] = json!(["Terminating"]);
        }
        create(&sim, "v1", "ResourceQuota", ns, quota);
        sim.store()
            .update_with(res, Some(ns), name, Subresource::Status, |q| {
                q["status"] = json!({"hard": {"requests.memory": "2Gi", "pods": "10"},
                                     "used": {"requests.memory": "1280Mi", "pods": "2"}});
            })
            .unwrap();
    }
    let (cluster, _rx) = start(&sim, WatchConfig::default());
    wait_ready(&cluster).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while cluster.versions(Kind::ResourceQuota).len() < 3 {
        assert!(Instant::now() < deadline, "quotas never stored");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let slice = cluster.slice(&deployment("payments", "checkout"));
    assert_eq!(
        names(
            slice
                .resource_quotas
                .iter()
                .map(|q| q.metadata.name.clone())
        ),
        ["batch", "compute"]
    );
    let compute = slice
        .resource_quotas
        .iter()
        .find(|q| q.metadata.name.as_deref() == Some("compute"))
        .unwrap();
    let status = compute.status.as_ref().unwrap();
    assert_eq!(status.used.as_ref().unwrap()["requests.memory"].0, "1280Mi");
    assert_eq!(status.hard.as_ref().unwrap()["pods"].0, "10");
    assert_eq!(
        compute.spec.as_ref().unwrap().hard.as_ref().unwrap()["requests.memory"].0,
        "2Gi"
    );
    let batch = slice
        .resource_quotas
        .iter()
        .find(|q| q.metadata.name.as_deref() == Some("batch"))
        .unwrap();
    assert_eq!(
        batch.spec.as_ref().unwrap().scopes.as_deref(),
        Some(&["Terminating".to_string()][..])
    );
    cluster.shutdown().await;
    sim.shutdown().await;
}
