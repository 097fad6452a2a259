//! What the simulated controllers WRITE (ReplicaSets, Pods with status, Events, Deployment,
//! Job, CronJob and StatefulSet status, Nodes) checked against the real Kubernetes OpenAPI
//! schema: run a cluster through rollouts and failures, list every kind over HTTP as a client
//! sees it, and check every object. A field the real API server would never serve (a typo, a
//! wrong type) fails here instead of hiding in what suture is tested against.

#[path = "schema_support/mod.rs"]
mod schema_support;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use http_body_util::{BodyExt as _, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use schema_support::{check_schema, definition_for, swagger};
use serde_json::{Value, json};
use suture_sim::Sim as _;
use suture_sim::kube::controllers::{Behaviour, ControllerConfig, NodeSpec};
use suture_sim::kube::{Config, PatchType, SimKube, WriteOptions};
use suture_sim::world::{Options, World};

const NS: &str = "shop";

fn deployment(name: &str, container: Value) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": NS, "labels": {"app": name}},
        "spec": {
            "replicas": 2,
            "progressDeadlineSeconds": 120,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container]}},
        },
    })
}

fn container(image: &str, memory: &str) -> Value {
    json!({
        "name": "app", "image": image,
        "ports": [{"name": "http", "containerPort": 8080}],
        "resources": {"requests": {"cpu": "100m", "memory": memory}, "limits": {"memory": memory}},
    })
}

fn job(name: &str, image: &str, extra: Value) -> Value {
    let mut spec = json!({
        "backoffLimit": 1,
        "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": image}]}},
    });
    if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
        spec.extend(extra.clone());
    }
    json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name, "namespace": NS}, "spec": spec})
}

/// A cluster that went through what the controllers model: rollouts, OOM kills, pull
/// failures, probe kills, unschedulable pods, failed, finished and timed-out Jobs, a CronJob
/// and a StatefulSet.
fn busy_cluster() -> SimKube {
    let mut nodes = ControllerConfig::default().nodes;
    nodes.push(NodeSpec::new("extra", "4", "8Gi"));
    let sim = SimKube::start(Config {
        namespaces: vec!["default".into(), NS.into()],
        controllers: Some(ControllerConfig {
            nodes,
            ..ControllerConfig::default()
        }),
        ..Config::default()
    })
    .expect("start simulated cluster");
    let ctl = sim.controllers().expect("controllers");
    let behave = |image: &str, b: Behaviour| ctl.behaviours().set(image, b);
    behave(
        "shop/web:1.4",
        Behaviour {
            working_set: Some("600Mi".into()),
            ..Behaviour::default()
        },
    );
    behave(
        "shop/web:9.9",
        Behaviour {
            missing: true,
            ..Behaviour::default()
        },
    );
    behave(
        "private/app:1",
        Behaviour {
            pull_unauthorized: true,
            ..Behaviour::default()
        },
    );
    behave(
        "shop/slow:2",
        Behaviour {
            start_seconds: 120,
            ..Behaviour::default()
        },
    );
    behave(
        "shop/migrate:1",
        Behaviour {
            exit_code: Some(1),
            exit_after_seconds: Some(2),
            ..Behaviour::default()
        },
    );
    behave(
        "shop/batch:1",
        Behaviour {
            exit_code: Some(0),
            exit_after_seconds: Some(3),
            ..Behaviour::default()
        },
    );
    let store = sim.store();
    let create = |obj: Value| {
        let api_version = obj["apiVersion"].as_str().unwrap().to_owned();
        let kind = obj["kind"].as_str().unwrap().to_owned();
        let res = store.res(&api_version, &kind).expect("kind served");
        store
            .create(res, Some(NS), obj, &WriteOptions::default())
            .unwrap_or_else(|e| panic!("create {kind}: {e}"));
    };
    create(deployment("web", container("shop/web:1.0", "256Mi")));
    create(deployment("oom", container("shop/web:1.4", "256Mi")));
    create(deployment("missing", container("shop/web:9.9", "256Mi")));
    create(deployment("private", container("private/app:1", "256Mi")));
    create(deployment("big", container("shop/big:1", "64Gi")));
    let mut slow = container("shop/slow:2", "256Mi");
    slow["livenessProbe"] = json!({"httpGet": {"path": "/healthz", "port": 8080},
        "initialDelaySeconds": 10, "periodSeconds": 10, "failureThreshold": 3});
    slow["readinessProbe"] =
        json!({"httpGet": {"path": "/ready", "port": 8080}, "periodSeconds": 5});
    create(deployment("slow", slow));
    create(job("migrate", "shop/migrate:1", json!({})));
    create(job("batch", "shop/batch:1", json!({"completions": 2})));
    create(job(
        "deadline",
        "shop/forever:1",
        json!({"activeDeadlineSeconds": 30}),
    ));
    create(json!({
        "apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": {"name": "report", "namespace": NS},
        "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": {"spec": {
            "restartPolicy": "OnFailure", "containers": [{"name": "main", "image": "shop/report:1"}]}}}}},
    }));
    create(json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "db", "namespace": NS},
        "spec": {"replicas": 2, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
            "template": {"metadata": {"labels": {"app": "db"}},
                "spec": {"containers": [{"name": "pg", "image": "postgres:16"}]}}},
    }));
    ctl.step(Duration::from_secs(60));
    // A rollout: a second ReplicaSet, the old one scaled down.
    let deployments = store.res("apps/v1", "Deployment").unwrap();
    store
        .patch(
            deployments,
            Some(NS),
            "web",
            &json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "shop/web:1.1"}]}}}}),
            PatchType::Merge,
            &WriteOptions::default(),
        )
        .expect("roll out web");
    ctl.trigger(NS, "report").expect("trigger the CronJob");
    for _ in 0..12 {
        ctl.step(Duration::from_secs(60));
    }
    sim
}

/// GET `path` from the server as any HTTP client would, as JSON.
async fn get_json(addr: SocketAddr, path: &str) -> Value {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<bytes::Bytes>>();
    let uri: hyper::Uri = format!("http://{addr}{path}").parse().unwrap();
    let resp = client
        .get(uri)
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    assert!(resp.status().is_success(), "GET {path}: {}", resp.status());
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&body).unwrap_or_else(|e| panic!("GET {path}: {e}"))
}

/// Every object of every kind the server serves that the schema defines, listed over HTTP and
/// checked. Returns how many objects of each kind were checked.
async fn check_everything(sim: &SimKube) -> BTreeMap<String, usize> {
    let swagger = swagger();
    let has_definition = |g: &str, v: &str, k: &str| {
        swagger["definitions"]
            .as_object()
            .unwrap()
            .values()
            .any(|d| {
                d["x-kubernetes-group-version-kind"]
                    .as_array()
                    .is_some_and(|gvks| {
                        gvks.iter()
                            .any(|x| x["group"] == g && x["version"] == v && x["kind"] == k)
                    })
            })
    };
    let mut counts = BTreeMap::new();
    let mut errors = Vec::new();
    for (_, rt) in sim.store().registry().iter() {
        let (g, v, k) = (rt.group.as_str(), rt.version.as_str(), rt.kind.as_str());
        // Custom resources (Argo CD's) have their own schema check (argocd_schema.rs).
        if !has_definition(g, v, k) {
            continue;
        }
        let list = get_json(sim.addr(), &rt.collection_path(None)).await;
        let list_def = definition_for(&swagger, g, v, &rt.list_kind());
        let where_ = format!("{}List", rt.api_version());
        let schema = json!({"$ref": format!("#/definitions/{list_def}")});
        check_schema(&swagger, &schema, &list, &where_, &mut errors);
        let item_def = definition_for(&swagger, g, v, k);
        for item in list["items"].as_array().into_iter().flatten() {
            let name = item.pointer("/metadata/name").and_then(Value::as_str);
            let where_ = format!("{}/{k} {}", rt.api_version(), name.unwrap_or("?"));
            let schema = json!({"$ref": format!("#/definitions/{item_def}")});
            check_schema(&swagger, &schema, item, &where_, &mut errors);
            *counts
                .entry(format!("{}/{k}", rt.api_version()))
                .or_insert(0) += 1;
        }
    }
    assert!(errors.is_empty(), "{errors:#?}");
    counts
}

fn count(counts: &BTreeMap<String, usize>, kind: &str) -> usize {
    counts.get(kind).copied().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_the_controllers_write_match_the_kubernetes_openapi_schema() {
    let sim = busy_cluster();
    // Prove the run produced what is checked, with the fields the controllers write.
    let store = sim.store();
    let list = |api_version: &str, kind: &str| {
        let res = store.res(api_version, kind).unwrap();
        store
            .list(res, None, &Default::default())
            .expect("list")
            .items
    };
    let pods = list("v1", "Pod");
    let reason_of = |p: &Value| {
        p.pointer("/status/containerStatuses/0/lastState/terminated/reason")
            .or_else(|| p.pointer("/status/containerStatuses/0/state/waiting/reason"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let reasons: Vec<String> = pods.iter().filter_map(reason_of).collect();
    for want in ["OOMKilled", "ImagePullBackOff"] {
        assert!(
            reasons
                .iter()
                .any(|r| r == want || (want == "ImagePullBackOff" && r == "ErrImagePull")),
            "no pod with {want}: {reasons:?}"
        );
    }
    assert!(
        pods.iter()
            .any(|p| p.pointer("/status/conditions").is_some_and(Value::is_array)),
        "pod conditions written"
    );
    let jobs = list("batch/v1", "Job");
    let job_conditions: Vec<&str> = jobs
        .iter()
        .filter_map(|j| j.pointer("/status/conditions"))
        .flat_map(|c| c.as_array().into_iter().flatten())
        .filter_map(|c| c["reason"].as_str().or(c["type"].as_str()))
        .collect();
    for want in ["BackoffLimitExceeded", "DeadlineExceeded"] {
        assert!(job_conditions.contains(&want), "{want}: {job_conditions:?}");
    }
    assert!(
        jobs.iter()
            .any(|j| j.pointer("/status/succeeded").and_then(Value::as_i64) == Some(2)),
        "a Job completed"
    );
    let web_sets = list("apps/v1", "ReplicaSet")
        .into_iter()
        .filter(|rs| rs.pointer("/metadata/labels/app") == Some(&json!("web")))
        .count();
    assert_eq!(web_sets, 2, "the rollout made a second ReplicaSet");

    let counts = check_everything(&sim).await;
    for (kind, at_least) in [
        ("v1/Pod", 10),
        ("v1/Event", 10),
        ("v1/Node", 4),
        ("apps/v1/ReplicaSet", 7),
        ("apps/v1/Deployment", 6),
        ("apps/v1/StatefulSet", 1),
        ("batch/v1/Job", 4),
        ("batch/v1/CronJob", 1),
    ] {
        assert!(
            count(&counts, kind) >= at_least,
            "{kind}: {} checked, expected at least {at_least} ({counts:?})",
            count(&counts, kind)
        );
    }
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_world_serves_schema_valid_objects() {
    for scenario in suture_sim::scenarios::all() {
        let name = scenario.name;
        let world = World::start(
            scenario,
            Options {
                speed: 60.0,
                ..Options::default()
            },
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        // A simulated minute or so: rollouts done, the scenario's fault under way.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let counts = check_everything(&world.kube).await;
        assert!(count(&counts, "v1/Pod") >= 1, "{name}: {counts:?}");
        assert!(
            count(&counts, "apps/v1/ReplicaSet") >= 1,
            "{name}: {counts:?}"
        );
        assert!(count(&counts, "v1/Event") >= 1, "{name}: {counts:?}");
        world.shutdown().await;
    }
}
