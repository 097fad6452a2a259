//! Benchmarks for the offline pipeline at scale:
//! - detection throughput over a generated 50,000-pod snapshot,
//! - end-to-end `plan` (parse + detect + propose + locate + edit) on it,
//! - locate + edit in a generated repository of 10,000 manifests.
//!
//! Run with `cargo bench`; criterion prints times and throughput.

use std::fmt::Write;
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use suture::detection::detect;
use suture::gitops::argocd::Application;
use suture::gitops::edit;
use suture::gitops::locate::{FieldTarget, FileChange, LocateRequest, locate};
use suture::gitops::tree::RepoTree;
use suture::plan::{self, Repos, Settings};
use suture::state::ClusterState;

const PODS: usize = 50_000;
const PODS_PER_DEPLOYMENT: usize = 5;
const MANIFESTS: usize = 10_000;
const REPO: &str = "https://git.example.com/bench/gitops.git";

/// A `kubectl get -o yaml`-style List: Deployments, ReplicaSets, Pods; one pod in 100 OOMKilled.
fn snapshot(pods: usize) -> String {
    let mut s = String::from("apiVersion: v1\nkind: List\nitems:\n");
    let deployments = pods / PODS_PER_DEPLOYMENT;
    for d in 0..deployments {
        let name = format!("svc-{d:05}");
        let ns = format!("team-{}", d % 50);
        let _ = write!(
            s,
            "- apiVersion: apps/v1\n  kind: Deployment\n  metadata:\n    name: {name}\n    namespace: {ns}\n    uid: d-{d}\n    annotations:\n      argocd.argoproj.io/tracking-id: bench:apps/Deployment:{ns}/{name}\n  spec:\n    selector: {{matchLabels: {{app: {name}}}}}\n    template:\n      metadata: {{labels: {{app: {name}}}}}\n      spec:\n        containers:\n        - name: app\n          image: registry.example.com/{name}:1.0.0\n          resources: {{limits: {{memory: 512Mi}}, requests: {{memory: 256Mi}}}}\n- apiVersion: apps/v1\n  kind: ReplicaSet\n  metadata:\n    name: {name}-abc\n    namespace: {ns}\n    uid: rs-{d}\n    labels: {{pod-template-hash: abc}}\n    annotations: {{deployment.kubernetes.io/revision: \"1\"}}\n    ownerReferences:\n    - {{apiVersion: apps/v1, kind: Deployment, name: {name}, uid: d-{d}, controller: true}}\n"
        );
        for p in 0..PODS_PER_DEPLOYMENT {
            let i = d * PODS_PER_DEPLOYMENT + p;
            let last = if i.is_multiple_of(100) {
                "      lastState: {terminated: {reason: OOMKilled, exitCode: 137, startedAt: \"2026-11-23T08:00:00Z\", finishedAt: \"2026-11-23T08:10:00Z\"}}\n      state: {waiting: {reason: CrashLoopBackOff}}\n      restartCount: 4\n"
            } else {
                "      state: {running: {startedAt: \"2026-11-23T08:00:00Z\"}}\n      restartCount: 0\n"
            };
            let _ = write!(
                s,
                "- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: {name}-abc-{p}\n    namespace: {ns}\n    uid: p-{i}\n    labels: {{app: {name}, pod-template-hash: abc}}\n    ownerReferences:\n    - {{apiVersion: apps/v1, kind: ReplicaSet, name: {name}-abc, uid: rs-{d}, controller: true}}\n  spec:\n    nodeName: node-{}\n    containers:\n    - name: app\n      image: registry.example.com/{name}:1.0.0\n      resources: {{limits: {{memory: 512Mi}}, requests: {{memory: 256Mi}}}}\n  status:\n    phase: Running\n    containerStatuses:\n    - name: app\n      image: registry.example.com/{name}:1.0.0\n      imageID: \"\"\n      ready: {}\n{last}",
                i % 20,
                !i.is_multiple_of(100)
            );
        }
    }
    s.push_str("- apiVersion: argoproj.io/v1alpha1\n  kind: Application\n  metadata: {name: bench, namespace: argocd}\n  spec:\n    source: {repoURL: \"");
    s.push_str(REPO);
    s.push_str("\", path: apps, directory: {recurse: true}}\n    destination: {server: \"https://kubernetes.default.svc\"}\n");
    s
}

/// A plain-directory repo: one commented Deployment manifest per workload.
fn repo(manifests: usize) -> RepoTree {
    let mut tree = RepoTree::default();
    for d in 0..manifests {
        let name = format!("svc-{d:05}");
        let ns = format!("team-{}", d % 50);
        tree.insert_file(
            format!("apps/{ns}/{name}/deployment.yaml"),
            format!(
                "# {name}: owned by {ns}\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n  selector:\n    matchLabels:\n      app: {name}\n  template:\n    metadata:\n      labels:\n        app: {name}\n    spec:\n      containers:\n        - name: app\n          image: registry.example.com/{name}:1.0.0\n          resources:\n            requests:\n              memory: 256Mi\n            limits:\n              memory: 512Mi # tuned\n"
            ),
        );
    }
    tree
}

fn benches(c: &mut Criterion) {
    let text = snapshot(PODS);
    let state = ClusterState::from_text(&text).expect("generated snapshot parses");
    let now: jiff::Timestamp = "2026-11-23T09:00:00Z".parse().unwrap();
    let tree = repo(PODS / PODS_PER_DEPLOYMENT);
    let mut repos = Repos::default();
    repos
        .by_url
        .insert(suture::gitops::argocd::normalize_repo_url(REPO), tree);
    println!(
        "machine: {} cores; snapshot: {} pods, {} MiB of YAML",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        state.pods.len(),
        text.len() / (1024 * 1024)
    );

    let mut g = c.benchmark_group("pods-50k");
    g.sample_size(10);
    g.throughput(Throughput::Elements(PODS as u64));
    g.bench_function("detect", |b| b.iter(|| detect(black_box(&state), now)));
    // `kubectl get -o json` of the same objects: the faster input for large clusters.
    let json = serde_json::to_string(&suture::state::parse_objects(&text).unwrap()).unwrap();
    g.bench_function("parse-snapshot-json", |b| {
        b.iter(|| ClusterState::from_text(black_box(&json)).unwrap())
    });
    g.bench_function("parse-snapshot", |b| {
        b.iter(|| ClusterState::from_text(black_box(&text)).unwrap())
    });
    g.bench_function("plan-from-parsed", |b| {
        b.iter(|| plan::plan(black_box(&state), &repos, &Settings::default(), now))
    });
    g.bench_function("plan-end-to-end", |b| {
        b.iter(|| {
            let state = ClusterState::from_text(black_box(&text)).unwrap();
            plan::plan(&state, &repos, &Settings::default(), now)
        })
    });
    g.finish();

    let big = repo(MANIFESTS);
    let app: Application = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "bench", "namespace": "argocd"},
        "spec": {"source": {"repoURL": REPO, "path": "apps", "directory": {"recurse": true}}}
    }))
    .unwrap();
    let apps = vec![app.clone()];
    let req = LocateRequest {
        workload: suture::objref::ObjectRef::workload(
            suture::objref::WorkloadKind::Deployment,
            "team-7",
            &format!("svc-{:05}", MANIFESTS - 43),
        ),
        container: "app".into(),
        init_container: false,
        target: FieldTarget::Container {
            field: vec!["resources".into(), "limits".into(), "memory".into()],
            value: "640Mi".into(),
        },
    };
    let mut g = c.benchmark_group("repo-10k-manifests");
    g.sample_size(10);
    g.bench_function("locate+edit", |b| {
        b.iter(|| {
            let located = locate(&app, &apps, &|_| Some(&big), black_box(&req)).expect("located");
            match &located.changes[0] {
                FileChange::Edit { file, edit: e } => {
                    edit::apply(big.file(file).unwrap(), e).expect("edited")
                }
                FileChange::Create { content, .. } => content.clone(),
            }
        })
    });
    g.finish();
}

criterion_group!(plan_benches, benches);
criterion_main!(plan_benches);
