//! ResourceQuota in the simulated cluster: the quota controller keeps `status.hard` and
//! `status.used` as Kubernetes' does, and quota admission refuses a pod that would exceed it
//! with the real 403, which the ReplicaSet controller reports as a `FailedCreate` Warning.

use std::time::Duration;

use kube::api::{Api, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::{Value, json};
use suture_sim::Sim as _;
use suture_sim::kube::controllers::ControllerConfig;
use suture_sim::kube::{Config, ListOptions, PatchType, SimKube, WriteOptions};

const NS: &str = "payments";

fn deployment(memory: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "checkout-api", "namespace": NS},
        "spec": {
            "replicas": 2,
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": {"app": "checkout-api"}},
            "template": {"metadata": {"labels": {"app": "checkout-api"}}, "spec": {"containers": [
                {"name": "log-shipper", "image": "fluent/fluent-bit:3.1.4", "resources": {
                    "requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "100m", "memory": "128Mi"}}},
                {"name": "api", "image": "shop/api:1", "resources": {
                    "requests": {"cpu": "250m", "memory": memory}, "limits": {"cpu": "250m", "memory": memory}}},
            ]}},
        },
    })
}

fn quota() -> Value {
    json!({
        "apiVersion": "v1", "kind": "ResourceQuota",
        "metadata": {"name": "compute", "namespace": NS},
        "spec": {"hard": {"requests.memory": "1408Mi", "limits.cpu": "2", "pods": "10"}},
    })
}

fn cluster() -> SimKube {
    SimKube::start(Config {
        namespaces: vec!["default".into(), NS.into()],
        controllers: Some(ControllerConfig::default()),
        ..Config::default()
    })
    .expect("start simulated cluster")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quota_controller_reports_hard_and_the_use_of_non_terminal_pods() {
    let sim = cluster();
    let store = sim.store();
    let ctl = sim.controllers().expect("controllers");
    let rq = store.res("v1", "ResourceQuota").unwrap();
    store
        .create(rq, Some(NS), quota(), &WriteOptions::default())
        .unwrap();
    ctl.step(Duration::from_secs(1));
    let q = store.get(rq, Some(NS), "compute").unwrap();
    assert_eq!(q["status"]["hard"], quota()["spec"]["hard"]);
    assert_eq!(
        q["status"]["used"],
        json!({"limits.cpu": "0", "pods": "0", "requests.memory": "0"})
    );
    let deploy = store.res("apps/v1", "Deployment").unwrap();
    store
        .create(
            deploy,
            Some(NS),
            deployment("512Mi"),
            &WriteOptions::default(),
        )
        .unwrap();
    ctl.step(Duration::from_secs(5));
    let q = store.get(rq, Some(NS), "compute").unwrap();
    assert_eq!(
        q["status"]["used"],
        json!({"limits.cpu": "700m", "pods": "2", "requests.memory": "1280Mi"})
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_over_the_quota_is_forbidden_and_the_replicaset_reports_failed_create() {
    let sim = cluster();
    let store = sim.store();
    let ctl = sim.controllers().expect("controllers");
    let rq = store.res("v1", "ResourceQuota").unwrap();
    store
        .create(rq, Some(NS), quota(), &WriteOptions::default())
        .unwrap();
    let deploy = store.res("apps/v1", "Deployment").unwrap();
    store
        .create(
            deploy,
            Some(NS),
            deployment("512Mi"),
            &WriteOptions::default(),
        )
        .unwrap();
    ctl.step(Duration::from_secs(5));

    // Over HTTP, as a client sees it: 403 Forbidden with the real message.
    let kubeconfig = Kubeconfig::from_yaml(&sim.kubeconfig(NS)).expect("kubeconfig");
    let cfg = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("kube config");
    let client = kube::Client::try_from(cfg).expect("client");
    let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(client, NS);
    let pod = serde_json::from_value(json!({
        "metadata": {"name": "big"},
        "spec": {"containers": [{"name": "x", "image": "x", "resources": {
            "requests": {"memory": "768Mi"}, "limits": {"cpu": "250m", "memory": "768Mi"}}}]},
    }))
    .unwrap();
    let err = pods.create(&PostParams::default(), &pod).await.unwrap_err();
    let kube::Error::Api(status) = err else {
        panic!("{err:?}")
    };
    assert_eq!((status.code, status.reason.as_str()), (403, "Forbidden"));
    assert_eq!(
        status.message,
        "pods \"big\" is forbidden: exceeded quota: compute, requested: requests.memory=768Mi, \
         used: requests.memory=1280Mi, limited: requests.memory=1408Mi"
    );

    // The bump: Recreate deletes the old pods, the first new one (768Mi) fits, the second
    // (768Mi + 768Mi > 1408Mi) is refused.
    store
        .patch(
            deploy,
            Some(NS),
            "checkout-api",
            &json!({"spec": {"template": {"spec": {"containers": [
                {"name": "log-shipper", "image": "fluent/fluent-bit:3.1.4", "resources": {
                    "requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "100m", "memory": "128Mi"}}},
                {"name": "api", "image": "shop/api:1", "resources": {
                    "requests": {"cpu": "250m", "memory": "640Mi"}, "limits": {"cpu": "250m", "memory": "640Mi"}}},
            ]}}}}),
            PatchType::Merge,
            &WriteOptions::default(),
        )
        .unwrap();
    ctl.step(Duration::from_secs(30));
    let ev = store.res("v1", "Event").unwrap();
    let events = store
        .list(ev, Some(NS), &ListOptions::default())
        .unwrap()
        .items;
    let failed: Vec<&Value> = events
        .iter()
        .filter(|e| e["reason"] == "FailedCreate")
        .collect();
    assert_eq!(failed.len(), 1, "{events:#?}");
    let e = failed[0];
    assert_eq!(e["type"], "Warning");
    assert_eq!(e["involvedObject"]["kind"], "ReplicaSet");
    assert_eq!(e["source"]["component"], "replicaset-controller");
    let message = e["message"].as_str().unwrap();
    assert!(
        message.starts_with("Error creating: pods \"checkout-api-")
            && message.ends_with(
                "is forbidden: exceeded quota: compute, requested: requests.memory=768Mi, \
                 used: requests.memory=768Mi, limited: requests.memory=1408Mi"
            ),
        "{message}"
    );
    // Backed off, not retried every pass: 30s is the first try plus the 10s and 20s retries.
    assert!((2..=4).contains(&e["count"].as_i64().unwrap_or(1)), "{e:#}");
    let q = store.get(rq, Some(NS), "compute").unwrap();
    assert_eq!(q["status"]["used"]["requests.memory"], "768Mi");
    assert_eq!(q["status"]["used"]["pods"], "1");
    sim.shutdown().await;
}
