//! `World` per scenario, observed only through real clients: kube-rs lists the objects, the
//! Git remote's files feed `suture::plan::plan`, and the expected fix must come out.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Event, Node, Pod};
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, ListParams};
use kube::{Api, Client};
use serde_json::Value;
use suture::gitops::argocd::normalize_repo_url;
use suture::gitops::tree::RepoTree;
use suture::plan::{self, Plan, Repos};
use suture::state::ClusterState;
use suture_sim::scenarios;
use suture_sim::world::{Options, World};

async fn client(url: &str) -> Client {
    Client::try_from(kube::Config::new(url.parse().unwrap())).unwrap()
}

async fn list<K>(api: Api<K>) -> Vec<Value>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let items = api.list(&ListParams::default()).await.unwrap().items;
    items
        .iter()
        .map(|o| serde_json::to_value(o).unwrap())
        .collect()
}

/// The cluster as `suture plan` would see it, listed through kube-rs.
async fn snapshot(client: &Client, ns: &str) -> ClusterState {
    let c = client.clone();
    let mut objects = Vec::new();
    objects.extend(list(Api::<Pod>::namespaced(c.clone(), ns)).await);
    objects.extend(list(Api::<ReplicaSet>::namespaced(c.clone(), ns)).await);
    objects.extend(list(Api::<Deployment>::namespaced(c.clone(), ns)).await);
    objects.extend(list(Api::<Event>::namespaced(c.clone(), ns)).await);
    objects.extend(list(Api::<Node>::all(c.clone())).await);
    let gvk = GroupVersionKind::gvk("argoproj.io", "v1alpha1", "Application");
    let ar = ApiResource::from_gvk(&gvk);
    for mut app in list(Api::<DynamicObject>::namespaced_with(c, "argocd", &ar)).await {
        // List items may omit their type; the snapshot needs it.
        app["apiVersion"] = "argoproj.io/v1alpha1".into();
        app["kind"] = "Application".into();
        objects.push(app);
    }
    let mut state = ClusterState::default();
    for o in objects {
        state.add_object(o).unwrap();
    }
    state
}

/// The GitOps repo at the app's branch, as a checkout for the app's repoURL.
fn repos(world: &World) -> Repos {
    let e = world.endpoints();
    let mut tree = RepoTree::default();
    for path in world.repos.list_files(&e.repo, &e.branch).unwrap() {
        let bytes = world.repos.read_file(&e.repo, &e.branch, &path).unwrap();
        if let Some(text) = bytes.and_then(|b| String::from_utf8(b).ok()) {
            tree.insert_file(path, text);
        }
    }
    let mut repos = Repos::default();
    repos.by_url.insert(normalize_repo_url(&e.repo_url), tree);
    repos
}

/// Starts `name` on a fast clock and plans until `done` holds (bounded), returning that plan.
async fn plan_until(name: &str, done: impl Fn(&Plan) -> bool) -> (World, Plan) {
    let scenario = scenarios::find(name).unwrap();
    let options = Options {
        speed: 60.0,
        ..Options::default()
    };
    let world = World::start(scenario, options).unwrap();
    let client = client(&world.endpoints().kube_url).await;
    let ctl = world.kube.controllers().unwrap();
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let state = snapshot(&client, world.scenario.namespace).await;
        let plan = plan::plan(
            &state,
            &repos(&world),
            &plan::Settings::default(),
            ctl.now(),
        );
        if done(&plan) {
            return (world, plan);
        }
        if Instant::now() > deadline {
            panic!("{name}: fault not planned in time: {plan:#?}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn primitive(plan: &Plan, want: &str) -> Option<plan::Proposal> {
    plan.proposals
        .iter()
        .find(|p| p.draft.primitive.as_str() == want)
        .cloned()
}

async fn memory_fix(name: &str, file: &str) {
    let (world, plan) = plan_until(name, |p| primitive(p, "raise-memory-limit").is_some()).await;
    let p = primitive(&plan, "raise-memory-limit").unwrap();
    assert_eq!(p.draft.target.container, "api");
    assert_eq!(p.file.as_deref(), Some(file), "{p:#?}");
    let diff = p.diff.clone().unwrap_or_default();
    assert!(
        diff.lines()
            .any(|l| l.starts_with('-') && l.contains("512Mi"))
            && diff
                .lines()
                .any(|l| l.starts_with('+') && l.contains("640Mi")),
        "{diff}"
    );
    world.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn oom_raises_the_limit_in_the_deployment_manifest() {
    memory_fix("oom", "apps/checkout-api/deployment.yaml").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn kustomize_oom_raises_the_limit_in_the_overlay_patch() {
    memory_fix(
        "kustomize-oom",
        "apps/checkout-api/overlays/prod/memory.yaml",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn helm_oom_raises_the_limit_in_the_values_file() {
    memory_fix("helm-oom", "charts/checkout-api/values-prod.yaml").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_image_reverts_to_the_previous_tag() {
    let (world, plan) = plan_until("bad-image", |p| primitive(p, "revert-image").is_some()).await;
    let p = primitive(&plan, "revert-image").unwrap();
    assert_eq!(p.file.as_deref(), Some("apps/checkout-api/deployment.yaml"));
    let diff = p.diff.clone().unwrap_or_default();
    assert!(
        diff.lines()
            .any(|l| l.starts_with('+') && l.contains("checkout-api:1.0")),
        "{diff}"
    );
    // The old ReplicaSet keeps serving while the new one cannot pull.
    let client = client(&world.endpoints().kube_url).await;
    let sets = Api::<ReplicaSet>::namespaced(client, "payments")
        .list(&ListParams::default())
        .await
        .unwrap();
    let old_ready = sets.items.iter().any(|rs| {
        let image = rs
            .spec
            .as_ref()
            .and_then(|s| s.template.as_ref())
            .and_then(|t| t.spec.as_ref())
            .map(|p| p.containers[1].image.clone().unwrap_or_default());
        image.as_deref() == Some("ghcr.io/example/checkout-api:1.0")
            && rs
                .status
                .as_ref()
                .and_then(|s| s.available_replicas)
                .unwrap_or(0)
                > 0
    });
    assert!(old_ready, "{sets:#?}");
    world.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_start_tunes_the_probe() {
    let (world, plan) = plan_until("slow-start", |p| primitive(p, "tune-probe").is_some()).await;
    let p = primitive(&plan, "tune-probe").unwrap();
    assert_eq!(p.draft.target.container, "api");
    assert_eq!(p.file.as_deref(), Some("apps/checkout-api/deployment.yaml"));
    world.shutdown().await;
}

/// Kills the child on every exit path, including a failed assertion.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_binary_serves_a_kubeconfig_kube_rs_can_use() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Child(
        Command::new(env!("CARGO_BIN_EXE_suture"))
            .args(["sim", "--scenario", "oom", "--dir"])
            .arg(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let stdout = child.0.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut lines = Vec::new();
    while !lines.iter().any(|l: &String| l.starts_with("ready")) {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(l) => lines.push(l),
            Err(e) => panic!("no endpoints printed ({e}): {lines:#?}"),
        }
    }
    for key in [
        "kubernetes api:",
        "github api:",
        "github token:",
        "gitlab api:",
        "gitlab token:",
        "git remote:",
        "webhook secret:",
    ] {
        assert!(
            lines.iter().any(|l| l.starts_with(key)),
            "{key} missing: {lines:#?}"
        );
    }
    let path = dir.path().join("kubeconfig");
    assert!(path.exists());
    let kubeconfig = kube::config::Kubeconfig::read_from(&path).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .unwrap();
    let client = Client::try_from(config).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let pods = Api::<Pod>::default_namespaced(client.clone())
            .list(&ListParams::default())
            .await
            .unwrap();
        if !pods.items.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "no pods in payments");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
