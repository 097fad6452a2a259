//! The simulated Kubernetes API server, driven over loopback by the real kube-rs client (and a
//! raw HTTP/1.1 client for malformed requests). Every test starts its own server on port 0.

#[path = "schema_support/mod.rs"]
mod schema_support;

use std::time::Duration;

use futures_util::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{
    Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams, WatchEvent,
    WatchParams,
};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::{ApiResource, GroupVersionKind};
use kube::runtime::watcher;
use kube::{Client, Discovery};
use schema_support::{check_schema, definition_for, swagger};
use serde_json::{Value, json};
use suture_sim::Sim as _;
use suture_sim::kube::{Config, SimKube};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TOKEN: &str = "sim-token-123";

async fn start(config: Config) -> (SimKube, Client) {
    let sim = SimKube::start(Config {
        token: Some(TOKEN.into()),
        ..config
    })
    .expect("start simulated apiserver");
    let kubeconfig = Kubeconfig::from_yaml(&sim.kubeconfig("default")).expect("kubeconfig");
    let cfg = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("kube config");
    let client = Client::try_from(cfg).expect("client");
    (sim, client)
}

async fn namespace(client: &Client, name: &str) {
    let api: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
    api.create(&PostParams::default(), &ns)
        .await
        .expect("create namespace");
}

fn pod(name: &str, labels: Value, node: Option<&str>) -> Pod {
    let mut spec = json!({"containers": [{"name": "app", "image": "nginx:1.25"}]});
    if let Some(n) = node {
        spec["nodeName"] = json!(n);
    }
    serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels},
        "spec": spec,
    }))
    .unwrap()
}

fn deployment(name: &str) -> Deployment {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [
                    {"name": "web", "image": "web:1.0",
                     "resources": {"limits": {"memory": "128Mi", "cpu": "500m"}},
                     "env": [{"name": "A", "value": "1"}]},
                    {"name": "sidecar", "image": "envoy:1.30",
                     "resources": {"limits": {"memory": "64Mi"}}}
                ]}
            }
        }
    }))
    .unwrap()
}

fn api_reason(err: &kube::Error) -> (String, u16) {
    match err {
        kube::Error::Api(status) => (status.reason.clone(), status.code),
        other => panic!("expected an API error, got {other:?}"),
    }
}

fn names<K: kube::Resource>(items: &[K]) -> Vec<String> {
    items
        .iter()
        .map(|o| o.meta().name.clone().unwrap_or_default())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_create_get_list_select_paginate_delete() {
    let (sim, client) = start(Config::default()).await;
    namespace(&client, "x").await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "x");
    for (name, tier, node) in [
        ("a", "web", Some("n1")),
        ("b", "web", Some("n2")),
        ("c", "db", Some("n1")),
        ("d", "cache", None),
        ("e", "web", None),
    ] {
        let created = pods
            .create(
                &PostParams::default(),
                &pod(name, json!({"tier": tier}), node),
            )
            .await
            .expect("create");
        assert!(created.metadata.uid.is_some());
        assert!(created.metadata.creation_timestamp.is_some());
        let status = created.status.expect("status");
        assert_eq!(status.phase.as_deref(), Some("Pending"));
    }
    let got = pods.get("a").await.expect("get");
    assert_eq!(got.spec.unwrap().node_name.as_deref(), Some("n1"));

    let sel = |l: &str| ListParams::default().labels(l);
    let list = pods.list(&sel("tier=web")).await.unwrap();
    assert_eq!(names(&list.items), ["a", "b", "e"]);
    assert_eq!(
        names(&pods.list(&sel("tier==db")).await.unwrap().items),
        ["c"]
    );
    assert_eq!(
        names(&pods.list(&sel("tier!=web")).await.unwrap().items),
        ["c", "d"]
    );
    assert_eq!(
        names(&pods.list(&sel("tier in (db, cache)")).await.unwrap().items),
        ["c", "d"]
    );
    assert_eq!(
        names(&pods.list(&sel("tier notin (web)")).await.unwrap().items),
        ["c", "d"]
    );
    assert_eq!(pods.list(&sel("tier")).await.unwrap().items.len(), 5);
    assert!(pods.list(&sel("!tier")).await.unwrap().items.is_empty());

    let fields = |f: &str| ListParams::default().fields(f);
    assert_eq!(
        names(&pods.list(&fields("spec.nodeName=n1")).await.unwrap().items),
        ["a", "c"]
    );
    assert_eq!(
        names(
            &pods
                .list(&fields("spec.nodeName!=n1,metadata.name!=b"))
                .await
                .unwrap()
                .items
        ),
        ["d", "e"]
    );
    assert_eq!(
        names(&pods.list(&fields("metadata.name==d")).await.unwrap().items),
        ["d"]
    );
    let all: Api<Pod> = Api::all(client.clone());
    assert_eq!(
        names(
            &all.list(&fields("metadata.namespace=x"))
                .await
                .unwrap()
                .items
        )
        .len(),
        5
    );

    // Pagination: 2 + 2 + 1 with continue tokens.
    let mut seen = Vec::new();
    let mut lp = ListParams::default().limit(2);
    loop {
        let page = pods.list(&lp).await.unwrap();
        seen.extend(names(&page.items));
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => lp = ListParams::default().limit(2).continue_token(&token),
            None => break,
        }
    }
    assert_eq!(seen, ["a", "b", "c", "d", "e"]);

    // dryRun=All answers like a real create and stores nothing.
    let dry = pods
        .create(
            &PostParams {
                dry_run: true,
                ..Default::default()
            },
            &pod("dry", json!({}), None),
        )
        .await
        .expect("dry-run create");
    assert_eq!(dry.metadata.name.as_deref(), Some("dry"));
    assert_eq!(
        api_reason(&pods.get("dry").await.unwrap_err()).0,
        "NotFound"
    );

    let deleted = pods
        .delete("a", &DeleteParams::default())
        .await
        .expect("delete");
    assert!(deleted.is_left());
    let err = pods.get("a").await.unwrap_err();
    let kube::Error::Api(status) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(status.reason, "NotFound");
    assert_eq!(status.code, 404);
    assert_eq!(status.message, "pods \"a\" not found");

    // AlreadyExists, generateName.
    let err = pods
        .create(&PostParams::default(), &pod("b", json!({}), None))
        .await
        .unwrap_err();
    assert_eq!(api_reason(&err), ("AlreadyExists".into(), 409));
    let mut generated = pod("", json!({}), None);
    generated.metadata.name = None;
    generated.metadata.generate_name = Some("gen-".into());
    let made = pods
        .create(&PostParams::default(), &generated)
        .await
        .unwrap();
    let name = made.metadata.name.unwrap();
    assert!(name.starts_with("gen-") && name.len() == 9, "{name}");

    // Creating in a namespace that does not exist is 404 for the namespace.
    let missing: Api<Pod> = Api::namespaced(client.clone(), "nope");
    let err = missing
        .create(&PostParams::default(), &pod("p", json!({}), None))
        .await
        .unwrap_err();
    assert_eq!(api_reason(&err), ("NotFound".into(), 404));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_conflict_and_dry_run_update_delete() {
    let (sim, client) = start(Config::default()).await;
    let pods: Api<Pod> = Api::default_namespaced(client.clone());
    pods.create(&PostParams::default(), &pod("p", json!({"v": "1"}), None))
        .await
        .unwrap();
    let mut first = pods.get("p").await.unwrap();
    let mut second = first.clone();
    first.metadata.labels = Some([("v".to_string(), "2".to_string())].into());
    let updated = pods
        .replace("p", &PostParams::default(), &first)
        .await
        .unwrap();
    assert_ne!(
        updated.metadata.resource_version,
        first.metadata.resource_version
    );
    second.metadata.labels = Some([("v".to_string(), "3".to_string())].into());
    let err = pods
        .replace("p", &PostParams::default(), &second)
        .await
        .unwrap_err();
    let kube::Error::Api(status) = &err else {
        panic!("{err:?}")
    };
    assert_eq!((status.reason.as_str(), status.code), ("Conflict", 409));
    assert!(
        status
            .message
            .starts_with("Operation cannot be fulfilled on pods \"p\"")
    );

    // dryRun update and delete leave the object as it was.
    let mut current = pods.get("p").await.unwrap();
    current.metadata.labels = Some([("v".to_string(), "dry".to_string())].into());
    let dry = pods
        .replace(
            "p",
            &PostParams {
                dry_run: true,
                ..Default::default()
            },
            &current,
        )
        .await
        .unwrap();
    assert_eq!(dry.metadata.labels.unwrap()["v"], "dry");
    assert_eq!(
        pods.get("p").await.unwrap().metadata.labels.unwrap()["v"],
        "2"
    );
    pods.delete(
        "p",
        &DeleteParams {
            dry_run: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(pods.get("p").await.is_ok());
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployment_merge_json_and_strategic_patches() {
    let (sim, client) = start(Config::default()).await;
    let deploys: Api<Deployment> = Api::default_namespaced(client.clone());
    let created = deploys
        .create(&PostParams::default(), &deployment("web"))
        .await
        .unwrap();
    assert_eq!(created.metadata.generation, Some(1));

    // Strategic merge: containers merge by name; the sidecar is untouched.
    let patch = json!({"spec": {"template": {"spec": {"containers": [
        {"name": "web", "resources": {"limits": {"memory": "512Mi"}}}
    ]}}}});
    let patched = deploys
        .patch("web", &PatchParams::default(), &Patch::Strategic(&patch))
        .await
        .expect("strategic patch");
    let containers = patched.spec.unwrap().template.spec.unwrap().containers;
    assert_eq!(containers.len(), 2);
    let web = &containers[0];
    assert_eq!(web.name, "web");
    assert_eq!(web.image.as_deref(), Some("web:1.0"));
    let limits = web.resources.as_ref().unwrap().limits.as_ref().unwrap();
    assert_eq!(limits["memory"].0, "512Mi");
    assert_eq!(limits["cpu"].0, "500m");
    assert_eq!(web.env.as_ref().unwrap().len(), 1);
    let sidecar = &containers[1];
    assert_eq!(sidecar.name, "sidecar");
    assert_eq!(
        sidecar.resources.as_ref().unwrap().limits.as_ref().unwrap()["memory"].0,
        "64Mi"
    );
    assert_eq!(patched.metadata.generation, Some(2));

    // Strategic env merge by name adds a variable and keeps the old one.
    let env_patch = json!({"spec": {"template": {"spec": {"containers": [
        {"name": "web", "env": [{"name": "B", "value": "2"}]}
    ]}}}});
    let patched = deploys
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Strategic(&env_patch),
        )
        .await
        .unwrap();
    let env = patched.spec.unwrap().template.spec.unwrap().containers[0]
        .env
        .clone()
        .unwrap();
    assert_eq!(
        env.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(),
        ["A", "B"]
    );

    // Merge patch replaces lists wholesale and merges maps.
    let merged = deploys
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"team": "a"}}, "spec": {"replicas": 3}})),
        )
        .await
        .unwrap();
    assert_eq!(merged.spec.as_ref().unwrap().replicas, Some(3));
    let labels = merged.metadata.labels.unwrap();
    assert_eq!(
        (labels["app"].as_str(), labels["team"].as_str()),
        ("web", "a")
    );

    // JSON patch.
    let ops: json_patch::Patch = serde_json::from_value(json!([
        {"op": "replace", "path": "/spec/template/spec/containers/1/image", "value": "envoy:1.31"},
        {"op": "test", "path": "/spec/replicas", "value": 3}
    ]))
    .unwrap();
    let jp = deploys
        .patch("web", &PatchParams::default(), &Patch::Json::<()>(ops))
        .await
        .unwrap();
    assert_eq!(
        jp.spec.unwrap().template.spec.unwrap().containers[1]
            .image
            .as_deref(),
        Some("envoy:1.31")
    );

    // dryRun patch answers with the change and stores nothing.
    let dry = deploys
        .patch(
            "web",
            &PatchParams {
                dry_run: true,
                ..Default::default()
            },
            &Patch::Merge(json!({"spec": {"replicas": 9}})),
        )
        .await
        .unwrap();
    assert_eq!(dry.spec.unwrap().replicas, Some(9));
    assert_eq!(
        deploys.get("web").await.unwrap().spec.unwrap().replicas,
        Some(3)
    );

    // Status subresource: writes to the main resource keep the status, /status writes it.
    let status = json!({"status": {"replicas": 3, "readyReplicas": 1, "observedGeneration": 4}});
    let with_status = deploys
        .patch_status("web", &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap();
    assert_eq!(with_status.status.unwrap().ready_replicas, Some(1));
    let ignored = deploys
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"readyReplicas": 7}})),
        )
        .await
        .unwrap();
    assert_eq!(ignored.status.unwrap().ready_replicas, Some(1));

    // Selector is immutable: 422 Invalid.
    let err = deploys
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"selector": {"matchLabels": {"app": "other"}}}})),
        )
        .await
        .unwrap_err();
    assert_eq!(api_reason(&err), ("Invalid".into(), 422));
    sim.shutdown().await;
}

fn application_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("argoproj.io", "v1alpha1", "Application"),
        "applications",
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn argo_applications_as_dynamic_objects() {
    let (sim, client) = start(Config::default()).await;
    namespace(&client, "argocd").await;
    let ar = application_resource();
    let apps: Api<DynamicObject> = Api::namespaced_with(client.clone(), "argocd", &ar);
    let app: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "shop", "labels": {"team": "a"}, "finalizers": ["resources-finalizer.argocd.argoproj.io"]},
        "spec": {
            "project": "default",
            "source": {"repoURL": "https://git.example/shop.git", "path": "k8s", "targetRevision": "main"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "shop"},
            "syncPolicy": {"automated": {"prune": true, "selfHeal": true}}
        },
        "status": {"sync": {"status": "Synced"}}
    }))
    .unwrap();
    apps.create(&PostParams::default(), &app)
        .await
        .expect("create app");
    let got = apps.get("shop").await.unwrap();
    assert_eq!(got.data["spec"]["source"]["path"], "k8s");
    // No status subresource on Applications: status is stored as sent.
    assert_eq!(got.data["status"]["sync"]["status"], "Synced");
    assert_eq!(got.metadata.generation, Some(1));
    let list = apps
        .list(&ListParams::default().labels("team=a"))
        .await
        .unwrap();
    assert_eq!(list.items.len(), 1);

    // Pause auto-sync the way suture does it: merge patch removing `automated`.
    let paused = apps
        .patch(
            "shop",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"syncPolicy": {"automated": null}}})),
        )
        .await
        .unwrap();
    assert!(paused.data["spec"]["syncPolicy"].get("automated").is_none());
    assert_eq!(paused.metadata.generation, Some(2));

    // Custom resources take no strategic merge patch (415, as in the real server).
    let err = apps
        .patch(
            "shop",
            &PatchParams::default(),
            &Patch::Strategic(json!({"spec": {"project": "x"}})),
        )
        .await
        .unwrap_err();
    assert_eq!(api_reason(&err), ("UnsupportedMediaType".into(), 415));

    // Finalizers: delete marks, removing the last finalizer deletes.
    apps.delete("shop", &DeleteParams::default()).await.unwrap();
    let terminating = apps.get("shop").await.unwrap();
    assert!(terminating.metadata.deletion_timestamp.is_some());
    apps.patch(
        "shop",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    assert_eq!(
        api_reason(&apps.get("shop").await.unwrap_err()).0,
        "NotFound"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_watch_orders_events_and_sends_bookmarks() {
    let (sim, client) = start(Config {
        bookmark_interval: Duration::from_millis(100),
        ..Config::default()
    })
    .await;
    let pods: Api<Pod> = Api::default_namespaced(client.clone());
    let rv = pods
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version;
    let wp = WatchParams::default().timeout(20);
    let mut stream = pods.watch(&wp, &rv.unwrap()).await.unwrap().boxed();
    pods.create(&PostParams::default(), &pod("w", json!({}), None))
        .await
        .unwrap();
    pods.patch(
        "w",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"x": "y"}}})),
    )
    .await
    .unwrap();
    pods.delete("w", &DeleteParams::default()).await.unwrap();
    let mut kinds = Vec::new();
    let mut bookmark = None;
    while let Some(ev) = tokio::time::timeout(Duration::from_secs(10), stream.try_next())
        .await
        .expect("watch event in time")
        .unwrap()
    {
        match ev {
            WatchEvent::Added(p) => kinds.push(("ADDED", p.metadata.resource_version)),
            WatchEvent::Modified(p) => kinds.push(("MODIFIED", p.metadata.resource_version)),
            WatchEvent::Deleted(p) => kinds.push(("DELETED", p.metadata.resource_version)),
            WatchEvent::Bookmark(b) => {
                if kinds.len() == 3 {
                    bookmark = Some(b.metadata.resource_version);
                    break;
                }
            }
            WatchEvent::Error(e) => panic!("{e:?}"),
        }
    }
    let types: Vec<&str> = kinds.iter().map(|(t, _)| *t).collect();
    assert_eq!(types, ["ADDED", "MODIFIED", "DELETED"]);
    let rvs: Vec<u64> = kinds
        .iter()
        .map(|(_, rv)| rv.as_deref().unwrap().parse().unwrap())
        .collect();
    assert!(rvs.windows(2).all(|w| w[0] < w[1]), "{rvs:?}");
    let mark: u64 = bookmark.unwrap().parse().unwrap();
    assert!(mark >= rvs[2]);

    // A label-selected watch sees an object leave the selection as DELETED.
    let rv = pods
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version;
    let mut selected = pods
        .watch(
            &WatchParams::default().labels("sel=yes").timeout(20),
            &rv.unwrap(),
        )
        .await
        .unwrap()
        .boxed();
    pods.create(
        &PostParams::default(),
        &pod("s", json!({"sel": "yes"}), None),
    )
    .await
    .unwrap();
    pods.patch(
        "s",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"sel": "no"}}})),
    )
    .await
    .unwrap();
    let first = selected.try_next().await.unwrap().unwrap();
    assert!(matches!(first, WatchEvent::Added(_)), "{first:?}");
    let second = selected.try_next().await.unwrap().unwrap();
    assert!(matches!(second, WatchEvent::Deleted(_)), "{second:?}");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_from_too_old_version_is_410_expired() {
    let (sim, client) = start(Config {
        history_limit: 5,
        ..Config::default()
    })
    .await;
    let pods: Api<Pod> = Api::default_namespaced(client.clone());
    for i in 0..10 {
        pods.create(
            &PostParams::default(),
            &pod(&format!("p{i}"), json!({}), None),
        )
        .await
        .unwrap();
    }
    let mut stream = pods
        .watch(&WatchParams::default(), "2")
        .await
        .unwrap()
        .boxed();
    match stream.try_next().await.unwrap() {
        Some(WatchEvent::Error(e)) => {
            assert_eq!(e.code, 410);
            assert_eq!(e.reason, "Expired");
            assert!(
                e.message.starts_with("too old resource version: 2"),
                "{}",
                e.message
            );
        }
        other => panic!("expected a 410 ERROR event, got {other:?}"),
    }
    // A list with resourceVersionMatch=Exact for an old version is 410 too.
    let err = pods
        .list(
            &ListParams::default()
                .at("3")
                .matching(kube::api::VersionMatch::Exact),
        )
        .await
        .unwrap_err();
    assert_eq!(api_reason(&err), ("Expired".into(), 410));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runtime_watcher_sees_changes_and_recovers_from_410() {
    let (sim, client) = start(Config {
        history_limit: 5,
        ..Config::default()
    })
    .await;
    namespace(&client, "w").await;
    namespace(&client, "noise").await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "w");
    let noise: Api<Pod> = Api::namespaced(client.clone(), "noise");
    pods.create(&PostParams::default(), &pod("before", json!({}), None))
        .await
        .unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let watch_api = pods.clone();
    let task = tokio::spawn(async move {
        let mut stream = watcher(watch_api, watcher::Config::default()).boxed();
        while let Some(item) = stream.next().await {
            let line = match item {
                Ok(watcher::Event::Init) => "init".to_string(),
                Ok(watcher::Event::InitApply(p)) => {
                    format!("init-apply {}", p.metadata.name.unwrap())
                }
                Ok(watcher::Event::InitDone) => "init-done".to_string(),
                Ok(watcher::Event::Apply(p)) => format!(
                    "apply {} {}",
                    p.metadata.name.unwrap(),
                    p.metadata
                        .labels
                        .unwrap_or_default()
                        .get("step")
                        .cloned()
                        .unwrap_or_default()
                ),
                Ok(watcher::Event::Delete(p)) => format!("delete {}", p.metadata.name.unwrap()),
                Err(e) => format!("error {e}"),
            };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut next = async || {
        tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("watcher event in time")
            .expect("watcher alive")
    };
    assert_eq!(next().await, "init");
    assert_eq!(next().await, "init-apply before");
    assert_eq!(next().await, "init-done");

    pods.create(
        &PostParams::default(),
        &pod("p", json!({"step": "1"}), None),
    )
    .await
    .unwrap();
    pods.patch(
        "p",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"step": "2"}}})),
    )
    .await
    .unwrap();
    pods.delete("p", &DeleteParams::default()).await.unwrap();
    assert_eq!(next().await, "apply p 1");
    assert_eq!(next().await, "apply p 2");
    assert_eq!(next().await, "delete p");

    // Cut the watch while re-connections are held back, and push the watcher's version out of
    // the 5-event history meanwhile: released, it must get 410 and relist.
    sim.faults()
        .set_latency("/api/v1/namespaces/w/pods", Duration::from_secs(60));
    sim.faults().drop_watches();
    for i in 0..8 {
        noise
            .create(
                &PostParams::default(),
                &pod(&format!("n{i}"), json!({}), None),
            )
            .await
            .unwrap();
    }
    sim.store()
        .create(
            sim.store().res("v1", "Pod").unwrap(),
            Some("w"),
            serde_json::to_value(pod("after", json!({}), None)).unwrap(),
            &Default::default(),
        )
        .unwrap();
    sim.faults()
        .set_latency("/api/v1/namespaces/w/pods", Duration::ZERO);
    let mut rest = Vec::new();
    while !rest.contains(&"init-done".to_string()) {
        rest.push(next().await);
    }
    assert!(
        rest.iter().any(|l| l.contains("too old resource version")),
        "{rest:?}"
    );
    assert!(rest.contains(&"init".to_string()), "{rest:?}");
    assert!(rest.contains(&"init-apply after".to_string()), "{rest:?}");
    task.abort();
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_finds_every_group_and_kind() {
    let (sim, client) = start(Config::default()).await;
    let expected = [
        ("", "v1", "Pod"),
        ("", "v1", "Event"),
        ("", "v1", "Node"),
        ("", "v1", "Namespace"),
        ("", "v1", "PersistentVolumeClaim"),
        ("", "v1", "LimitRange"),
        ("", "v1", "ResourceQuota"),
        ("events.k8s.io", "v1", "Event"),
        ("apps", "v1", "Deployment"),
        ("apps", "v1", "ReplicaSet"),
        ("apps", "v1", "StatefulSet"),
        ("apps", "v1", "DaemonSet"),
        ("batch", "v1", "Job"),
        ("batch", "v1", "CronJob"),
        ("coordination.k8s.io", "v1", "Lease"),
        ("argoproj.io", "v1alpha1", "Application"),
        ("argoproj.io", "v1alpha1", "ApplicationSet"),
        ("argoproj.io", "v1alpha1", "AppProject"),
        ("argoproj.io", "v1alpha1", "Rollout"),
    ];
    let legacy = Discovery::new(client.clone())
        .run()
        .await
        .expect("discovery");
    let aggregated = Discovery::new(client.clone())
        .run_aggregated()
        .await
        .expect("aggregated discovery");
    for discovery in [&legacy, &aggregated] {
        for (g, v, k) in expected {
            let (ar, caps) = discovery
                .resolve_gvk(&GroupVersionKind::gvk(g, v, k))
                .unwrap_or_else(|| panic!("{g}/{v} {k} not discovered"));
            assert_eq!(ar.kind, k);
            let namespaced = !matches!(k, "Node" | "Namespace");
            assert_eq!(
                caps.scope == kube::discovery::Scope::Namespaced,
                namespaced,
                "{k}"
            );
            assert!(caps.supports_operation(kube::discovery::verbs::WATCH));
        }
    }
    let (deploy, caps) = legacy
        .resolve_gvk(&GroupVersionKind::gvk("apps", "v1", "Deployment"))
        .unwrap();
    assert_eq!(deploy.plural, "deployments");
    assert!(
        caps.subresources
            .iter()
            .any(|(sub, _)| sub.plural == "deployments/status" || sub.plural == "status")
    );
    let version = client.apiserver_version().await.unwrap();
    assert_eq!(
        (version.major.as_str(), version.minor.as_str()),
        ("1", "33")
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_served_by_both_event_apis() {
    let (sim, client) = start(Config::default()).await;
    let core: Api<k8s_openapi::api::core::v1::Event> = Api::default_namespaced(client.clone());
    let event = serde_json::from_value(json!({
        "metadata": {"name": "web-1.17f"},
        "involvedObject": {"kind": "Pod", "name": "web-1", "namespace": "default", "fieldPath": "spec.containers{web}"},
        "reason": "BackOff",
        "message": "Back-off restarting failed container web",
        "type": "Warning",
        "count": 4,
        "source": {"component": "kubelet"}
    }))
    .unwrap();
    core.create(&PostParams::default(), &event).await.unwrap();
    let listed = core
        .list(&ListParams::default().fields("involvedObject.name=web-1,reason=BackOff"))
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 1);
    let v1: Api<k8s_openapi::api::events::v1::Event> = Api::default_namespaced(client.clone());
    let got = v1.get("web-1.17f").await.unwrap();
    assert_eq!(
        got.note.as_deref(),
        Some("Back-off restarting failed container web")
    );
    assert_eq!(got.regarding.unwrap().name.as_deref(), Some("web-1"));
    assert_eq!(got.deprecated_count, Some(4));
    let by_regarding = v1
        .list(&ListParams::default().fields("regarding.name=web-1"))
        .await
        .unwrap();
    assert_eq!(by_regarding.items.len(), 1);
    sim.shutdown().await;
}

// ---- Schema: served objects against the Kubernetes OpenAPI (Swagger 2.0) definitions ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn served_objects_match_the_kubernetes_openapi_schema() {
    let swagger_path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/kubernetes/swagger.json"
    );
    let (sim, client) = start(Config {
        openapi_v2: Some(swagger_path.into()),
        ..Config::default()
    })
    .await;
    let served_doc = http(&sim, "GET", "/openapi/v2", None, "", true).await;
    assert_eq!(served_doc.status, 200);
    assert!(served_doc.body.contains("\"swagger\""));
    let pods: Api<Pod> = Api::default_namespaced(client.clone());
    let deploys: Api<Deployment> = Api::default_namespaced(client.clone());
    pods.create(
        &PostParams::default(),
        &pod("s", json!({"a": "b"}), Some("n1")),
    )
    .await
    .unwrap();
    deploys
        .create(&PostParams::default(), &deployment("d"))
        .await
        .unwrap();
    // Unknown fields are dropped (with a warning), so they never reach a reader.
    let raw = http(
        &sim,
        "POST",
        "/apis/batch/v1/namespaces/default/jobs",
        Some("application/json"),
        &json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"},
                "spec": {"bogus": 1, "template": {"spec": {"restartPolicy": "Never",
                "containers": [{"name": "c", "image": "busybox"}]}}}})
        .to_string(),
        true,
    )
    .await;
    assert_eq!(raw.status, 201, "{}", raw.body);

    let swagger = swagger();
    let mut served: Vec<(String, String, String, Value)> = Vec::new();
    let store = sim.store();
    for (g, v, k, plural) in [
        ("", "v1", "Pod", "pods"),
        ("", "v1", "Namespace", "namespaces"),
        ("apps", "v1", "Deployment", "deployments"),
        ("batch", "v1", "Job", "jobs"),
    ] {
        let path = store
            .resource(store.registry().find(g, v, plural).unwrap())
            .unwrap()
            .collection_path(None);
        let list: Value =
            serde_json::from_str(&http(&sim, "GET", &path, None, "", true).await.body).unwrap();
        let list_def = definition_for(&swagger, g, v, &format!("{k}List"));
        served.push((list_def, g.into(), k.into(), list.clone()));
        for item in list["items"].as_array().unwrap() {
            served.push((
                definition_for(&swagger, g, v, k),
                g.into(),
                k.into(),
                item.clone(),
            ));
        }
    }
    assert!(served.len() >= 10);
    let mut errors = Vec::new();
    for (def, _, kind, value) in &served {
        let schema = json!({"$ref": format!("#/definitions/{def}")});
        check_schema(&swagger, &schema, value, kind, &mut errors);
    }
    assert!(errors.is_empty(), "{errors:#?}");
    sim.shutdown().await;
}

// ---- Bad input through a raw HTTP/1.1 client ----

struct Raw {
    status: u16,
    headers: String,
    body: String,
}

async fn http(
    sim: &SimKube,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: &str,
    auth: bool,
) -> Raw {
    let mut stream = tokio::net::TcpStream::connect(sim.addr()).await.unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
        sim.addr(),
        body.len()
    );
    if let Some(ct) = content_type {
        req.push_str(&format!("Content-Type: {ct}\r\n"));
    }
    if auth {
        req.push_str(&format!("Authorization: Bearer {TOKEN}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    // The server may answer (413) and close before a huge body is written: keep what was read.
    let _ = stream.write_all(req.as_bytes()).await;
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out).await;
    let text = String::from_utf8_lossy(&out).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Raw {
        status,
        headers: head.to_string(),
        body: body.to_string(),
    }
}

fn status_of(raw: &Raw) -> Value {
    let v: Value = serde_json::from_str(&raw.body).unwrap_or_else(|e| panic!("{e}: {}", raw.body));
    assert_eq!(v["kind"], "Status", "{v}");
    assert_eq!(v["apiVersion"], "v1");
    assert_eq!(v["status"], "Failure");
    assert_eq!(v["code"].as_u64(), Some(raw.status as u64));
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_real_status_errors() {
    let (sim, client) = start(Config::default()).await;
    let pods_path = "/api/v1/namespaces/default/pods";
    let good = serde_json::to_string(&pod("ok", json!({}), None)).unwrap();

    let r = http(&sim, "POST", pods_path, Some("text/plain"), &good, true).await;
    assert_eq!(
        (r.status, status_of(&r)["reason"].as_str()),
        (415, Some("UnsupportedMediaType"))
    );

    let r = http(
        &sim,
        "POST",
        pods_path,
        Some("application/json"),
        "{not json",
        true,
    )
    .await;
    assert_eq!(
        (r.status, status_of(&r)["reason"].as_str()),
        (400, Some("BadRequest"))
    );

    let r = http(&sim, "GET", pods_path, None, "", false).await;
    assert_eq!(
        (r.status, status_of(&r)["reason"].as_str()),
        (401, Some("Unauthorized"))
    );

    let r = http(
        &sim,
        "GET",
        "/api/v1/namespaces/default/widgets",
        None,
        "",
        true,
    )
    .await;
    assert_eq!(
        (r.status, status_of(&r)["reason"].as_str()),
        (404, Some("NotFound"))
    );
    let r = http(&sim, "GET", "/apis/nope.io/v1/things", None, "", true).await;
    assert_eq!(r.status, 404);

    let r = http(
        &sim,
        "POST",
        pods_path,
        Some("application/json"),
        &good,
        true,
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let created: Value = serde_json::from_str(&r.body).unwrap();

    // Stale resourceVersion on PUT.
    let mut stale = created.clone();
    stale["metadata"]["resourceVersion"] = json!("1");
    let r = http(
        &sim,
        "PUT",
        &format!("{pods_path}/ok"),
        Some("application/json"),
        &stale.to_string(),
        true,
    )
    .await;
    let st = status_of(&r);
    assert_eq!((r.status, st["reason"].as_str()), (409, Some("Conflict")));
    assert_eq!(st["details"]["name"], "ok");
    assert_eq!(st["details"]["kind"], "pods");

    // An exported object (with resourceVersion) cannot be created again.
    let r = http(
        &sim,
        "POST",
        pods_path,
        Some("application/json"),
        &created.to_string(),
        true,
    )
    .await;
    let st = status_of(&r);
    assert_eq!((r.status, st["reason"].as_str()), (422, Some("Invalid")));
    assert_eq!(
        st["details"]["causes"][0]["field"],
        "metadata.resourceVersion"
    );

    // Name in body != URL, namespace mismatch, kind mismatch.
    let r = http(
        &sim,
        "PUT",
        &format!("{pods_path}/other"),
        Some("application/json"),
        &created.to_string(),
        true,
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    let mut other_ns = pod("n", json!({}), None);
    other_ns.metadata.namespace = Some("kube-system".into());
    let r = http(
        &sim,
        "POST",
        pods_path,
        Some("application/json"),
        &serde_json::to_string(&other_ns).unwrap(),
        true,
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(
        status_of(&r)["message"]
            .as_str()
            .unwrap()
            .contains("namespace")
    );
    let wrong_kind =
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "k"}});
    let r = http(
        &sim,
        "POST",
        pods_path,
        Some("application/json"),
        &wrong_kind.to_string(),
        true,
    )
    .await;
    assert_eq!(r.status, 400);

    // Wrong shape for a typed kind, invalid name, missing containers.
    let bad_shape = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "s"}, "spec": {"containers": "nope"}});
    let r = http(
        &sim,
        "POST",
        pods_path,
        Some("application/json"),
        &bad_shape.to_string(),
        true,
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(
        status_of(&r)["message"]
            .as_str()
            .unwrap()
            .starts_with("Pod in version \"v1\" cannot be handled as a Pod")
    );
    let bad_name = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "Bad_Name"}, "spec": {"containers": [{"name": "c", "image": "i"}]}});
    let r = http(
        &sim,
        "POST",
        pods_path,
        Some("application/json"),
        &bad_name.to_string(),
        true,
    )
    .await;
    let st = status_of(&r);
    assert_eq!((r.status, st["reason"].as_str()), (422, Some("Invalid")));
    assert_eq!(st["details"]["causes"][0]["field"], "metadata.name");

    // Unknown fields: warning by default, 400 with fieldValidation=Strict.
    let unknown = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "u"},
        "spec": {"containers": [{"name": "c", "image": "i", "colour": "red"}]}});
    let r = http(
        &sim,
        "POST",
        &format!("{pods_path}?fieldValidation=Strict"),
        Some("application/json"),
        &unknown.to_string(),
        true,
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(
        status_of(&r)["message"]
            .as_str()
            .unwrap()
            .contains("unknown field \\\"spec.containers[0].colour\\\"")
            || r.body.contains("spec.containers[0].colour")
    );
    let r = http(
        &sim,
        "POST",
        pods_path,
        Some("application/json"),
        &unknown.to_string(),
        true,
    )
    .await;
    assert_eq!(r.status, 201);
    assert!(
        r.headers
            .to_ascii_lowercase()
            .contains("warning: 299 - \"unknown field \\\"spec.containers[0].colour\\\"\""),
        "{}",
        r.headers
    );
    assert!(!r.body.contains("colour"));

    // Patch content types: apply-patch is refused, text/plain is 415.
    let r = http(
        &sim,
        "PATCH",
        &format!("{pods_path}/ok"),
        Some("application/apply-patch+yaml"),
        "metadata: {}",
        true,
    )
    .await;
    assert_eq!(r.status, 415);
    let r = http(
        &sim,
        "PATCH",
        &format!("{pods_path}/ok"),
        Some("text/plain"),
        "{}",
        true,
    )
    .await;
    assert_eq!(r.status, 415);
    let r = http(
        &sim,
        "PATCH",
        &format!("{pods_path}/ok"),
        Some("application/merge-patch+json"),
        "[1",
        true,
    )
    .await;
    assert_eq!(r.status, 400);
    // Pod specs are immutable apart from images.
    let r = http(
        &sim,
        "PATCH",
        &format!("{pods_path}/ok"),
        Some("application/merge-patch+json"),
        &json!({"spec": {"restartPolicy": "Never"}}).to_string(),
        true,
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.body);
    let r = http(
        &sim,
        "PATCH",
        &format!("{pods_path}/ok"),
        Some("application/strategic-merge-patch+json"),
        &json!({"spec": {"containers": [{"name": "app", "image": "nginx:1.26"}]}}).to_string(),
        true,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // Bad selectors and methods.
    let r = http(
        &sim,
        "GET",
        &format!("{pods_path}?labelSelector=a%20in%20(b"),
        None,
        "",
        true,
    )
    .await;
    assert_eq!(r.status, 400);
    let r = http(
        &sim,
        "GET",
        &format!("{pods_path}?fieldSelector=spec.bogus%3Dx"),
        None,
        "",
        true,
    )
    .await;
    assert_eq!(r.status, 400);
    let r = http(
        &sim,
        "POST",
        &format!("{pods_path}/ok"),
        Some("application/json"),
        "{}",
        true,
    )
    .await;
    assert_eq!(
        (r.status, status_of(&r)["reason"].as_str()),
        (405, Some("MethodNotAllowed"))
    );

    // Injected failures: the next two requests under the prefix fail, then it recovers.
    sim.faults().fail_next(pods_path, 2);
    let pods: Api<Pod> = Api::default_namespaced(client.clone());
    for _ in 0..2 {
        let err = pods.get("ok").await.unwrap_err();
        assert_eq!(api_reason(&err), ("InternalError".into(), 500));
    }
    assert!(pods.get("ok").await.is_ok());
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_list_watcher_and_status_subresource() {
    let (sim, client) = start(Config::default()).await;
    let pods: Api<Pod> = Api::default_namespaced(client.clone());
    pods.create(&PostParams::default(), &pod("one", json!({}), None))
        .await
        .unwrap();
    // watch-list: sendInitialEvents=true, initial ADDED events end with an annotated BOOKMARK.
    let mut stream = watcher(pods.clone(), watcher::Config::default().streaming_lists()).boxed();
    let mut seen = Vec::new();
    while let Some(ev) = tokio::time::timeout(Duration::from_secs(10), stream.try_next())
        .await
        .expect("event in time")
        .unwrap()
    {
        match ev {
            watcher::Event::Init => seen.push("init".to_string()),
            watcher::Event::InitApply(p) => seen.push(p.metadata.name.unwrap()),
            watcher::Event::InitDone => break,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(seen, ["init", "one"]);

    // Pod status is written through /status, as a kubelet would.
    let status = json!({"status": {"phase": "Running", "containerStatuses": [{
        "name": "app", "image": "nginx:1.25", "imageID": "", "ready": false, "restartCount": 3,
        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
        "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}
    }]}});
    let patched = pods
        .patch_status("one", &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap();
    let cs = &patched.status.unwrap().container_statuses.unwrap()[0];
    assert_eq!(cs.restart_count, 3);
    let got = pods.get_status("one").await.unwrap();
    assert_eq!(got.status.unwrap().phase.as_deref(), Some("Running"));
    match tokio::time::timeout(Duration::from_secs(10), stream.try_next())
        .await
        .unwrap()
        .unwrap()
    {
        Some(watcher::Event::Apply(p)) => {
            assert_eq!(p.status.unwrap().phase.as_deref(), Some("Running"))
        }
        other => panic!("{other:?}"),
    }
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespace_deletion_and_delete_collection() {
    let (sim, client) = start(Config::default()).await;
    namespace(&client, "gone").await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "gone");
    for name in ["a", "b", "c"] {
        let tier = if name == "c" { "keep" } else { "drop" };
        pods.create(
            &PostParams::default(),
            &pod(name, json!({"tier": tier}), None),
        )
        .await
        .unwrap();
    }
    let deleted = pods
        .delete_collection(
            &DeleteParams::default(),
            &ListParams::default().labels("tier=drop"),
        )
        .await
        .unwrap();
    let left = deleted.left().expect("deleted objects");
    assert_eq!(names(&left.items), ["a", "b"]);
    assert_eq!(
        names(&pods.list(&ListParams::default()).await.unwrap().items),
        ["c"]
    );

    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns = namespaces.get("gone").await.unwrap();
    assert_eq!(ns.status.unwrap().phase.as_deref(), Some("Active"));
    namespaces
        .delete("gone", &DeleteParams::default())
        .await
        .unwrap();
    let all: Api<Pod> = Api::all(client.clone());
    assert!(
        all.list(&ListParams::default().fields("metadata.namespace=gone"))
            .await
            .unwrap()
            .items
            .is_empty()
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_requests_get_errors_and_the_server_keeps_serving() {
    let (sim, _client) = start(Config::default()).await;
    let pods = "/api/v1/namespaces/default/pods";
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_obj = format!(
        r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"d","labels":{}}}}}"#,
        "{\"a\":".repeat(120) + "1" + &"}".repeat(120)
    );
    let huge = "x".repeat(4 * 1024 * 1024);
    let cases: Vec<(&str, String, Option<&str>, String)> = vec![
        ("POST", pods.into(), Some("application/json"), deep),
        ("POST", pods.into(), Some("application/json"), deep_obj),
        ("POST", pods.into(), Some("application/json"), "5".into()),
        ("POST", pods.into(), Some("application/json"), "null".into()),
        (
            "POST",
            pods.into(),
            Some("application/json"),
            r#"{"metadata": 5}"#.into(),
        ),
        (
            "POST",
            pods.into(),
            Some("application/json"),
            r#"{"metadata": {"name": "../x"}}"#.into(),
        ),
        (
            "POST",
            pods.into(),
            Some("application/json"),
            r#"{"metadata": {"name": 7}, "spec": []}"#.into(),
        ),
        (
            "GET",
            format!(
                "{pods}?watch=1&timeoutSeconds=18446744073709551615&resourceVersion=99999999999"
            ),
            None,
            String::new(),
        ),
        (
            "GET",
            format!("{pods}?watch=1&resourceVersion=-5"),
            None,
            String::new(),
        ),
        ("GET", format!("{pods}?limit=-1"), None, String::new()),
        (
            "GET",
            format!("{pods}?limit=1&continue=zz"),
            None,
            String::new(),
        ),
        (
            "GET",
            format!("{pods}?continue=3a3a2f"),
            None,
            String::new(),
        ),
        (
            "GET",
            format!("{pods}?labelSelector=%28%28%28"),
            None,
            String::new(),
        ),
        (
            "GET",
            format!("{pods}?labelSelector=a%20notin"),
            None,
            String::new(),
        ),
        (
            "GET",
            format!("{pods}?fieldSelector=%3D%3D"),
            None,
            String::new(),
        ),
        (
            "GET",
            format!("{pods}?resourceVersion=1&resourceVersionMatch=Sometimes"),
            None,
            String::new(),
        ),
        (
            "GET",
            "/api/v1/namespaces/%ff%fe/pods/%00".into(),
            None,
            String::new(),
        ),
        (
            "GET",
            "/apis/apps/v1/namespaces/default/deployments/x/scale".into(),
            None,
            String::new(),
        ),
        ("GET", "/api/v1/pods/x".into(), None, String::new()),
        (
            "GET",
            "/openapi/v3/apis/nope/v1".into(),
            None,
            String::new(),
        ),
        (
            "PATCH",
            format!("{pods}/nope"),
            Some("application/json-patch+json"),
            r#"[{"op":"replace","path":"","value":5}]"#.into(),
        ),
        (
            "PUT",
            format!("{pods}/x/status"),
            Some("application/json"),
            "{}".into(),
        ),
        ("DELETE", format!("{pods}/x"), None, "{not json".into()),
        ("BREW", pods.into(), None, String::new()),
    ];
    for (method, path, ct, body) in &cases {
        let request = http(&sim, method, path, *ct, body, true);
        // A watch that was accepted streams until its timeout: an open stream is fine here.
        let Ok(r) = tokio::time::timeout(Duration::from_secs(2), request).await else {
            assert!(path.contains("watch=1"), "{method} {path} hung");
            continue;
        };
        assert!(
            (400..500).contains(&r.status),
            "{method} {path}: {} {}",
            r.status,
            &r.body[..r.body.len().min(300)]
        );
    }
    // Over the 3 MiB body limit: 413, or the connection is cut while the body is still sent.
    let r = http(&sim, "POST", pods, Some("application/json"), &huge, true).await;
    assert!(matches!(r.status, 0 | 413), "{}", r.status);

    // An existing pod patched into nonsense is refused, and the stored one is unchanged.
    let good = serde_json::to_string(&pod("ok", json!({}), None)).unwrap();
    assert_eq!(
        http(&sim, "POST", pods, Some("application/json"), &good, true)
            .await
            .status,
        201
    );
    for patch in [
        r#"[{"op":"replace","path":"","value":5}]"#,
        r#"[{"op":"replace","path":"/metadata","value":"x"}]"#,
        r#"[{"op":"add","path":"/spec/containers/0/resources","value":{"limits":{"memory":[1]}}}]"#,
        r#"[{"op":"test","path":"/spec/nodeName","value":"n9"}]"#,
        r#"{"op":"add"}"#,
    ] {
        let r = http(
            &sim,
            "PATCH",
            &format!("{pods}/ok"),
            Some("application/json-patch+json"),
            patch,
            true,
        )
        .await;
        assert!(
            (400..500).contains(&r.status),
            "{patch}: {} {}",
            r.status,
            r.body
        );
    }
    let r = http(&sim, "GET", &format!("{pods}/ok"), None, "", true).await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("\"image\":\"nginx:1.25\""));
    assert_eq!(
        http(&sim, "GET", "/healthz", None, "", false).await.body,
        "ok"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_controller_reacts_to_http_writes() {
    use k8s_openapi::api::apps::v1::ReplicaSet;
    use suture_sim::kube::{EventType, WatchOptions};
    let (sim, client) = start(Config::default()).await;
    let store = sim.store().clone();
    // A toy controller: every new Deployment gets a ReplicaSet it owns.
    let deploy_res = store.res_of::<Deployment>().unwrap();
    let mut events = store
        .watch(deploy_res, None, WatchOptions::default())
        .unwrap();
    let controller = tokio::spawn(async move {
        while let Some(Ok(ev)) = events.next().await {
            if ev.kind != EventType::Added {
                continue;
            }
            let d: Deployment = serde_json::from_value(ev.object).unwrap();
            let ns = d.metadata.namespace.clone();
            let rs: ReplicaSet = serde_json::from_value(json!({
                "metadata": {
                    "name": format!("{}-5d4f8", d.metadata.name.as_deref().unwrap()),
                    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment",
                        "name": d.metadata.name, "uid": d.metadata.uid, "controller": true}],
                    "labels": {"pod-template-hash": "5d4f8"}
                },
                "spec": {
                    "selector": d.spec.as_ref().unwrap().selector,
                    "template": d.spec.as_ref().unwrap().template,
                }
            }))
            .unwrap();
            store.create_as(ns.as_deref(), &rs).unwrap();
        }
    });
    let deploys: Api<Deployment> = Api::default_namespaced(client.clone());
    let d = deploys
        .create(&PostParams::default(), &deployment("shop"))
        .await
        .unwrap();
    let rs_api: Api<ReplicaSet> = Api::default_namespaced(client.clone());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let rs = loop {
        if let Some(rs) = rs_api
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .pop()
        {
            break rs;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no ReplicaSet appeared"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let owner = &rs.metadata.owner_references.unwrap()[0];
    assert_eq!(Some(owner.uid.clone()), d.metadata.uid);
    let typed: Vec<ReplicaSet> = sim
        .store()
        .list_as(Some("default"), &Default::default())
        .unwrap();
    assert_eq!(typed.len(), 1);
    controller.abort();
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_and_a_watch_lose_no_event() {
    let (sim, client) = start(Config::default()).await;
    let pods: Api<Pod> = Api::default_namespaced(client.clone());
    let rv = pods
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let mut stream = pods
        .watch(&WatchParams::default().timeout(30), &rv)
        .await
        .unwrap()
        .boxed();
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let pods = pods.clone();
            tokio::spawn(async move {
                for i in 0..25 {
                    let name = format!("w{w}-{i}");
                    pods.create(&PostParams::default(), &pod(&name, json!({}), None))
                        .await
                        .unwrap();
                    pods.patch(
                        &name,
                        &PatchParams::default(),
                        &Patch::Merge(json!({"metadata": {"labels": {"n": "1"}}})),
                    )
                    .await
                    .unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.await.unwrap();
    }
    let mut last = 0u64;
    let (mut added, mut modified) = (0, 0);
    while added + modified < 200 {
        let ev = tokio::time::timeout(Duration::from_secs(10), stream.try_next())
            .await
            .expect("event in time")
            .unwrap()
            .expect("stream open");
        let (p, is_add) = match ev {
            WatchEvent::Added(p) => (p, true),
            WatchEvent::Modified(p) => (p, false),
            other => panic!("{other:?}"),
        };
        let rv: u64 = p.metadata.resource_version.unwrap().parse().unwrap();
        assert!(
            rv > last,
            "resourceVersion went backwards: {rv} after {last}"
        );
        last = rv;
        if is_add {
            added += 1;
        } else {
            modified += 1;
        }
    }
    assert_eq!((added, modified), (100, 100));
    assert_eq!(last, sim.store().resource_version());
    sim.shutdown().await;
}
