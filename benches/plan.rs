//! `suture plan` at cluster scale, as one bounded timed run (criterion's repetitions would take
//! minutes per sample here):
//! - a `kubectl get -o json` snapshot of 50,000 pods (1 in 100 OOMKilled, so 500 proposals on
//!   500 distinct Deployments tracked by an Argo CD Application), and the same objects as
//!   `kubectl get -o yaml`;
//! - a plain-directory repository of 10,000 commented manifests.
//!
//! Each snapshot runs in its own child process (this binary again), so the peak resident
//! memory printed (VmHWM) is that of one plan: parse, detect, locate, edit. Two shapes of the
//! same objects: lean (what suture reads) and as kubectl prints them (managed fields and all).
//!
//! Run with `cargo bench --bench plan`; `SUTURE_BENCH_PODS=5000` for a quicker, smaller run;
//! `SUTURE_BENCH_CHILD=json:<file>` measures one snapshot (kept with `SUTURE_BENCH_DIR`).

use std::io::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use rayon::prelude::*;
use serde_json::{Value, json};
use suture::cluster::{Ready, Tables};
use suture::detection::detect;
use suture::gitops::argocd::Application;
use suture::gitops::edit;
use suture::gitops::locate::{FileChange, LocateRequest, locate};
use suture::gitops::tree::RepoTree;
use suture::inputs;
use suture::plan::{self, Repos, Settings};
use suture::state::ClusterState;

const PODS: usize = 50_000;
const PODS_PER_DEPLOYMENT: usize = 5;
const MANIFESTS: usize = 10_000;
const REPO: &str = "https://git.example.com/bench/gitops.git";
const CHILD: &str = "SUTURE_BENCH_CHILD";
const NOW: &str = "2026-11-23T09:00:00Z";

fn pods() -> usize {
    std::env::var("SUTURE_BENCH_PODS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(PODS)
}

fn main() {
    if let Ok(spec) = std::env::var(CHILD) {
        let (format, file) = spec.split_once(':').expect("format:file");
        child(format, Path::new(file));
        return;
    }
    let pods = pods();
    // `SUTURE_BENCH_DIR=<dir>` keeps the snapshots there (to run one child under a profiler).
    let temp = tempfile::tempdir().expect("tempdir");
    let kept = std::env::var_os("SUTURE_BENCH_DIR").map(std::path::PathBuf::from);
    let dir = kept.as_deref().unwrap_or(temp.path());
    println!(
        "machine: {} cores, load average {}; snapshot: {pods} pods; repo: {MANIFESTS} manifests",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        loadavg(),
    );
    for shape in [Shape::Lean, Shape::Kubectl] {
        let objects = snapshot_objects(pods, shape);
        let json_file = dir.join(format!("{shape:?}.json"));
        let yaml_file = dir.join(format!("{shape:?}.yaml"));
        write_json(&objects, &json_file);
        write_yaml(&objects, &yaml_file);
        drop(objects);
        let size = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len()) / (1024 * 1024);
        println!(
            "{shape:?} objects ({}): JSON {} MiB, YAML {} MiB",
            shape.describe(),
            size(&json_file),
            size(&yaml_file)
        );
        for (format, file) in [
            ("json", &json_file),
            ("json-whole", &json_file),
            ("yaml", &yaml_file),
        ] {
            let status = std::process::Command::new(std::env::current_exe().expect("own path"))
                .env(CHILD, format!("{format}:{}", file.display()))
                .status()
                .expect("run the measuring child");
            assert!(status.success(), "{format} run failed: {status}");
        }
    }
}

/// How much of a real object the generated ones carry.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Shape {
    /// What suture reads and little else (the shape of the measurement).
    Lean,
    /// As the API server returns them: managed fields, env, the service account volume,
    /// tolerations, conditions.
    Kubectl,
}

impl Shape {
    fn describe(self) -> &'static str {
        match self {
            Shape::Lean => "the fields suture reads",
            Shape::Kubectl => "as kubectl prints them, managed fields and all",
        }
    }
}

/// One measured plan over the snapshot in `file`.
fn child(format: &str, file: &Path) {
    let now: jiff::Timestamp = NOW.parse().unwrap();
    let pods = pods();
    // Two identical checkouts: one for the separate locate/edit phases, one for the plan, so
    // neither finds work (an index, say) the other already did.
    let repos_for_phases = repos(MANIFESTS);
    let repos_for_plan = repos(MANIFESTS);

    // As `suture plan` loads it (JSON streamed and decoded on every core, YAML read whole),
    // or, for "json-whole", the text read whole and decoded the general way.
    let t = Instant::now();
    let name = file.display().to_string();
    let (tables, problems) = if format == "json-whole" {
        let mut state = ClusterState::default();
        let text = std::fs::read_to_string(file).expect("snapshot");
        let problems = state.add_text(&name, &text).unwrap();
        (Tables::of_snapshot([Ready::of(state)]), problems)
    } else {
        let (tables, errors, problems) = inputs::load_snapshot(&[file.to_path_buf()]);
        assert!(errors.is_empty(), "{errors:?}");
        (tables, problems)
    };
    let parse = t.elapsed();
    assert!(problems.is_empty(), "{problems:?}");
    let peak_parse = status_kib("VmHWM");
    // Reset the peak (Linux: clear_refs 5), so the plan's own peak shows apart.
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let rss_parsed = status_kib("VmRSS");

    // Detection as the plan runs it: every root's slice on its own, on every core.
    let t = Instant::now();
    let findings: usize = tables
        .roots()
        .par_iter()
        .map(|root| {
            let slice = tables.slice_without_argo(root);
            detect(&slice, now)
                .iter()
                .filter(|f| suture::cluster::belongs(root, f))
                .count()
        })
        .sum();
    let detect_time = t.elapsed();

    // The plan as `suture plan` runs it: detect, propose, find the app, locate, edit, diff.
    let t = Instant::now();
    let plan = plan::plan_snapshot(&tables, &repos_for_plan, &Settings::default(), now);
    let plan_time = t.elapsed();
    let expected = pods.div_ceil(100);
    assert_eq!(
        plan.proposals.iter().filter(|p| p.diff.is_some()).count(),
        expected,
        "every OOMKilled Deployment gets a located, edited proposal; escalations: {:?}",
        plan.escalations.first()
    );

    // The same locates and edits on their own, on a checkout nothing has searched yet.
    let applications: Vec<Application> = tables
        .applications
        .all()
        .map(std::borrow::Cow::into_owned)
        .collect();
    let requests: Vec<(&Application, LocateRequest)> = plan
        .proposals
        .iter()
        .flat_map(|p| {
            let t = &p.draft.target;
            let app = applications
                .iter()
                .find(|a| p.application.as_ref().map(|r| &r.name) == a.metadata.name.as_ref())
                .expect("the proposal's application");
            p.draft.writes.iter().map(move |w| {
                let req = LocateRequest {
                    workload: t.workload.clone(),
                    container: t.container.clone(),
                    init_container: t.init_container,
                    target: w.clone(),
                };
                (app, req)
            })
        })
        .collect();
    let repo_for = |url: &str| repos_for_phases.get(url);
    let t = Instant::now();
    let located: Vec<_> = requests
        .iter()
        .map(|(app, req)| locate(app, &applications, &repo_for, req).expect("located"))
        .collect();
    let locate_time = t.elapsed();
    let t = Instant::now();
    let mut edited = 0;
    for l in &located {
        for change in &l.changes {
            if let FileChange::Edit { file, edit: e } = change {
                let tree = repos_for_phases.get(&l.repo_url).expect("tree");
                let text = tree.file(file).expect("located file");
                let new = edit::apply(text, e).expect("edited");
                assert_ne!(new, text);
                edited += 1;
            }
        }
    }
    let edit_time = t.elapsed();

    let ms = |d: Duration| format!("{:>8.1} ms", d.as_secs_f64() * 1000.0);
    println!(
        "{format}: {} findings, {} proposals, {} escalations; load average {}",
        findings,
        plan.proposals.len(),
        plan.escalations.len(),
        loadavg()
    );
    println!("  parse     {}  (read and decode the file)", ms(parse));
    println!("  detect    {}", ms(detect_time));
    println!(
        "  locate    {}  ({} requests)",
        ms(locate_time),
        requests.len()
    );
    println!("  edit      {}  ({edited} edits)", ms(edit_time));
    println!(
        "  plan      {}  (detect + propose + locate + edit)",
        ms(plan_time)
    );
    println!("  total     {}  (parse + plan)", ms(parse + plan_time));
    let peak = status_kib("VmHWM") / 1024;
    println!(
        "  memory    {} MiB resident after parse; peak {} MiB while parsing, {} after (plan, locate, edit)",
        rss_parsed / 1024,
        peak_parse / 1024,
        if reset {
            format!("{peak} MiB")
        } else {
            "not measured".into()
        }
    );
}

/// A `/proc/self/status` field in KiB (0 where there is no procfs).
fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field)?.strip_prefix(':').map(str::to_string))
        })
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// Deployments, their ReplicaSets and pods, shaped like a real cluster's (managed fields, the
/// service-account volume, env, conditions), and the Application tracking them.
fn snapshot_objects(pods: usize, shape: Shape) -> Vec<Value> {
    let full = shape == Shape::Kubectl;
    let mut items = Vec::new();
    for d in 0..pods.div_ceil(PODS_PER_DEPLOYMENT) {
        let name = format!("svc-{d:05}");
        let ns = format!("team-{}", d % 50);
        let image = format!("registry.example.com/{name}:1.0.0");
        let container = json!({
            "name": "app", "image": image, "imagePullPolicy": "IfNotPresent",
            "ports": [{"containerPort": 8080, "name": "http", "protocol": "TCP"}],
            "env": [{"name": "LOG_LEVEL", "value": "info"}, {"name": "PORT", "value": "8080"},
                    {"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}}],
            "resources": {"limits": {"memory": "512Mi"}, "requests": {"memory": "256Mi", "cpu": "100m"}},
            "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"
        });
        let mut container = container;
        if !full {
            for key in [
                "env",
                "ports",
                "imagePullPolicy",
                "terminationMessagePath",
                "terminationMessagePolicy",
            ] {
                container.as_object_mut().map(|c| c.remove(key));
            }
        }
        let tracking = format!("bench:apps/Deployment:{ns}/{name}");
        items.push(json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": ns, "uid": format!("d-{d}"), "generation": 1,
                "annotations": {"argocd.argoproj.io/tracking-id": tracking, "deployment.kubernetes.io/revision": "1"},
                "labels": {"app": name}, "managedFields": managed_fields()},
            "spec": {"replicas": PODS_PER_DEPLOYMENT, "selector": {"matchLabels": {"app": name}},
                "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container.clone()]}}},
            "status": {"replicas": PODS_PER_DEPLOYMENT, "observedGeneration": 1}
        }));
        items.push(json!({
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": format!("{name}-abc"), "namespace": ns, "uid": format!("rs-{d}"),
                "labels": {"app": name, "pod-template-hash": "abc"},
                "annotations": {"argocd.argoproj.io/tracking-id": tracking, "deployment.kubernetes.io/revision": "1"},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": name, "uid": format!("d-{d}"), "controller": true}],
                "managedFields": managed_fields()},
            "spec": {"replicas": PODS_PER_DEPLOYMENT, "selector": {"matchLabels": {"app": name, "pod-template-hash": "abc"}},
                "template": {"metadata": {"labels": {"app": name, "pod-template-hash": "abc"}}, "spec": {"containers": [container.clone()]}}},
            "status": {"replicas": PODS_PER_DEPLOYMENT}
        }));
        for p in 0..PODS_PER_DEPLOYMENT {
            let i = d * PODS_PER_DEPLOYMENT + p;
            if i >= pods {
                break;
            }
            let oom = i.is_multiple_of(100);
            let mut status = json!({
                "name": "app", "image": image, "imageID": format!("{image}@sha256:{:064x}", d),
                "containerID": format!("containerd://{:064x}", i), "ready": !oom, "started": !oom,
                "restartCount": if oom { 4 } else { 0 },
                "state": {"running": {"startedAt": "2026-11-23T08:00:00Z"}}
            });
            if oom {
                status["state"] = json!({"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s restarting failed container"}});
                status["lastState"] = json!({"terminated": {"reason": "OOMKilled", "exitCode": 137,
                    "startedAt": "2026-11-23T08:00:00Z", "finishedAt": "2026-11-23T08:10:00Z"}});
            }
            let mut pod_container = container.clone();
            pod_container["volumeMounts"] = json!([{"mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "name": "kube-api-access-x1", "readOnly": true}]);
            let cond = |t: &str| json!({"type": t, "status": "True", "lastTransitionTime": "2026-11-23T08:00:00Z"});
            let mut pod = json!({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": format!("{name}-abc-{p}"), "generateName": format!("{name}-abc-"), "namespace": ns,
                    "uid": format!("p-{i}"), "resourceVersion": format!("{}", 100_000 + i),
                    "creationTimestamp": "2026-11-23T08:00:00Z",
                    "labels": {"app": name, "pod-template-hash": "abc"},
                    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": format!("{name}-abc"),
                        "uid": format!("rs-{d}"), "controller": true, "blockOwnerDeletion": true}],
                    "managedFields": managed_fields()},
                "spec": {"nodeName": format!("node-{}", i % 20), "containers": [pod_container],
                    "dnsPolicy": "ClusterFirst", "restartPolicy": "Always", "schedulerName": "default-scheduler",
                    "serviceAccountName": "default", "terminationGracePeriodSeconds": 30,
                    "tolerations": [
                        {"effect": "NoExecute", "key": "node.kubernetes.io/not-ready", "operator": "Exists", "tolerationSeconds": 300},
                        {"effect": "NoExecute", "key": "node.kubernetes.io/unreachable", "operator": "Exists", "tolerationSeconds": 300}],
                    "volumes": [{"name": "kube-api-access-x1", "projected": {"defaultMode": 420, "sources": [
                        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                        {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}]}}]},
                "status": {"phase": "Running", "qosClass": "Burstable", "hostIP": "10.0.0.1", "podIP": format!("10.1.{}.{}", i / 250 % 250, i % 250),
                    "startTime": "2026-11-23T08:00:00Z",
                    "conditions": [cond("Initialized"), cond("Ready"), cond("ContainersReady"), cond("PodScheduled")],
                    "containerStatuses": [status]}
            });
            if !full {
                let spec = pod["spec"].as_object_mut().expect("spec");
                for key in [
                    "dnsPolicy",
                    "restartPolicy",
                    "schedulerName",
                    "serviceAccountName",
                    "terminationGracePeriodSeconds",
                    "tolerations",
                    "volumes",
                ] {
                    spec.remove(key);
                }
                spec["containers"][0]
                    .as_object_mut()
                    .map(|c| c.remove("volumeMounts"));
                pod["status"]
                    .as_object_mut()
                    .map(|s| s.remove("conditions"));
                let meta = pod["metadata"].as_object_mut().expect("metadata");
                for key in ["generateName", "resourceVersion", "creationTimestamp"] {
                    meta.remove(key);
                }
            }
            items.push(pod);
        }
    }
    if !full {
        for item in &mut items {
            item["metadata"]
                .as_object_mut()
                .map(|m| m.remove("managedFields"));
        }
    }
    items.push(json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
        "metadata": {"name": "bench", "namespace": "argocd"},
        "spec": {"source": {"repoURL": REPO, "path": "apps", "directory": {"recurse": true}},
            "destination": {"server": "https://kubernetes.default.svc"}}
    }));
    items
}

/// What the API server records for a pod's writers: the bulk of a real `kubectl get -o json`.
fn managed_fields() -> Value {
    json!([
        {"apiVersion": "v1", "fieldsType": "FieldsV1", "manager": "kube-controller-manager", "operation": "Update",
         "time": "2026-11-23T08:00:00Z", "fieldsV1": {"f:metadata": {"f:generateName": {}, "f:labels": {".": {}, "f:app": {}, "f:pod-template-hash": {}},
            "f:ownerReferences": {".": {}, "k:{\"uid\":\"x\"}": {}}}, "f:spec": {"f:containers": {"k:{\"name\":\"app\"}": {".": {}, "f:env": {}, "f:image": {}, "f:resources": {}}}}}},
        {"apiVersion": "v1", "fieldsType": "FieldsV1", "manager": "kubelet", "operation": "Update", "subresource": "status",
         "time": "2026-11-23T08:00:00Z", "fieldsV1": {"f:status": {"f:conditions": {"k:{\"type\":\"Ready\"}": {".": {}, "f:status": {}}},
            "f:containerStatuses": {}, "f:hostIP": {}, "f:phase": {}, "f:podIP": {}, "f:startTime": {}}}}
    ])
}

/// `kubectl get -o json`: one List, four-space indented.
fn write_json(objects: &[Value], path: &Path) {
    let list = json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": objects});
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut ser = serde_json::Serializer::with_formatter(
        &mut out,
        serde_json::ser::PrettyFormatter::with_indent(b"    "),
    );
    serde::Serialize::serialize(&list, &mut ser).unwrap();
    out.flush().unwrap();
}

/// `kubectl get -o yaml`: one List, items as a block sequence.
fn write_yaml(objects: &[Value], path: &Path) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    out.write_all(b"apiVersion: v1\nitems:\n").unwrap();
    for obj in objects {
        let text = serde_saphyr::to_string(obj).unwrap();
        for (i, line) in text.lines().enumerate() {
            let lead = if i == 0 { "- " } else { "  " };
            writeln!(out, "{lead}{line}").unwrap();
        }
    }
    out.write_all(b"kind: List\nmetadata:\n  resourceVersion: \"\"\n")
        .unwrap();
    out.flush().unwrap();
}

/// A plain-directory repo: one commented Deployment manifest per workload.
fn repos(manifests: usize) -> Repos {
    let mut tree = RepoTree::default();
    for d in 0..manifests {
        let name = format!("svc-{d:05}");
        let ns = format!("team-{}", d % 50);
        tree.insert_file(
            format!("apps/{ns}/{name}/deployment.yaml"),
            format!(
                "# {name}: owned by {ns}\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n  selector:\n    matchLabels:\n      app: {name}\n  template:\n    metadata:\n      labels:\n        app: {name}\n    spec:\n      containers:\n        - name: app\n          image: registry.example.com/{name}:1.0.0\n          resources:\n            requests:\n              memory: 256Mi # observed p99\n            limits:\n              memory: 512Mi # tuned\n"
            ),
        );
    }
    let mut repos = Repos::default();
    repos
        .by_url
        .insert(suture::gitops::argocd::normalize_repo_url(REPO), tree);
    repos
}
