//! `kubectl` against the simulated apiserver, through a generated kubeconfig. Fails when
//! kubectl is not installed (a skipped test would pass without testing); `scripts/test`
//! installs it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use suture_sim::Sim as _;
use suture_sim::kube::{Config, SimKube, Subresource, WriteOptions};

fn kubectl_path() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("kubectl"))
        .find(|candidate| candidate.is_file())
        .expect(
            "kubectl is not on PATH: these tests need it (scripts/test installs it; or \
             apt-get install -y kubernetes-client)",
        )
}

struct Kubectl {
    bin: PathBuf,
    kubeconfig: PathBuf,
    cache: PathBuf,
}

impl Kubectl {
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(&self.cache)
            .args(args)
            .env_remove("KUBECONFIG");
        cmd
    }

    /// Runs kubectl to completion off the async runtime (the server keeps serving).
    async fn run(&self, args: &[&str]) -> (bool, String, String) {
        let mut cmd = self.command(args);
        let out = tokio::task::spawn_blocking(move || cmd.output())
            .await
            .unwrap()
            .expect("run kubectl");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    async fn ok(&self, args: &[&str]) -> String {
        let (ok, stdout, stderr) = self.run(args).await;
        assert!(ok, "kubectl {args:?} failed:\n{stdout}\n{stderr}");
        stdout
    }
}

async fn setup(dir: &Path) -> (SimKube, Kubectl) {
    let bin = kubectl_path();
    // client-go never sends a bearer token over plain http://, so kubectl talks to an open
    // server (token checks are covered by the kube-rs and raw HTTP tests).
    let sim = SimKube::start(Config::default()).expect("start");
    let kubeconfig = dir.join("kubeconfig");
    std::fs::write(&kubeconfig, sim.kubeconfig("x")).unwrap();
    let store = sim.store();
    let create = |api_version: &str, kind: &str, ns: Option<&str>, obj: Value| {
        let res = store.res(api_version, kind).unwrap();
        store
            .create(res, ns, obj, &WriteOptions::default())
            .unwrap();
    };
    create("v1", "Namespace", None, json!({"metadata": {"name": "x"}}));
    create("v1", "Namespace", None, json!({"metadata": {"name": "y"}}));
    for (ns, name, tier) in [
        ("x", "web-1", "web"),
        ("x", "db-1", "db"),
        ("y", "other", "web"),
    ] {
        create(
            "v1",
            "Pod",
            Some(ns),
            json!({"metadata": {"name": name, "labels": {"tier": tier}},
                   "spec": {"containers": [{"name": "app", "image": "nginx:1.25"}]}}),
        );
    }
    for (ns, name) in [("x", "web"), ("y", "api")] {
        create(
            "apps/v1",
            "Deployment",
            Some(ns),
            json!({"metadata": {"name": name},
                   "spec": {"selector": {"matchLabels": {"app": name}},
                            "template": {"metadata": {"labels": {"app": name}},
                                         "spec": {"containers": [{"name": "app", "image": "app:1"}]}}}}),
        );
    }
    let kubectl = Kubectl {
        bin,
        kubeconfig,
        cache: dir.join("cache"),
    };
    (sim, kubectl)
}

fn dir_file(kubectl: &Kubectl, name: &str, content: &str) -> String {
    let path = kubectl.cache.with_file_name(name);
    std::fs::write(&path, content).unwrap();
    path.to_string_lossy().into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_get_patch_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (sim, kubectl) = setup(dir.path()).await;
    let json_out = kubectl.ok(&["get", "pods", "-n", "x", "-o", "json"]).await;
    let list: Value = serde_json::from_str(&json_out).unwrap();
    let names: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["db-1", "web-1"]);

    let selected = kubectl
        .ok(&["get", "pods", "-l", "tier=web", "-o", "name"])
        .await;
    assert_eq!(selected.trim(), "pod/web-1");

    // Server-side printing: the columns of a real server's Tables.
    let table = kubectl.ok(&["get", "deploy", "-A"]).await;
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "NAMESPACE",
            "NAME",
            "READY",
            "UP-TO-DATE",
            "AVAILABLE",
            "AGE"
        ],
        "{table}"
    );
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("x ") && l.contains("web")),
        "{table}"
    );
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("y ") && l.contains("api")),
        "{table}"
    );

    let store = sim.store();
    let pods = store.res("v1", "Pod").unwrap();
    store
        .update_with(pods, Some("x"), "web-1", Subresource::Status, |p| {
            p["status"] = json!({"phase": "Running", "podIP": "10.0.0.5", "containerStatuses": [{
                "name": "app", "image": "nginx:1.25", "imageID": "", "ready": false,
                "restartCount": 4, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]});
        })
        .unwrap();
    let wide = kubectl.ok(&["get", "pods", "-o", "wide"]).await;
    let rows: Vec<Vec<&str>> = wide
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows[0],
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE"],
        "{wide}"
    );
    let web = rows.iter().find(|r| r[0] == "web-1").unwrap();
    assert_eq!(
        (web[1], web[2], web[3], web[5]),
        ("0/1", "CrashLoopBackOff", "4", "10.0.0.5"),
        "{wide}"
    );

    // Custom resources print their CRD's columns; core Events the real event columns.
    let apps = store.res("argoproj.io/v1alpha1", "Application").unwrap();
    let app = json!({"metadata": {"name": "shop"}, "spec": {"project": "default"},
        "status": {"sync": {"status": "OutOfSync"}, "health": {"status": "Degraded"}}});
    store
        .create(apps, Some("x"), app, &WriteOptions::default())
        .unwrap();
    let out = kubectl.ok(&["get", "applications"]).await;
    let rows: Vec<&str> = out.lines().collect();
    assert!(
        rows[0].starts_with("NAME") && rows[0].contains("SYNC STATUS"),
        "{out}"
    );
    let shop: Vec<&str> = rows[1].split_whitespace().collect();
    assert_eq!(shop, ["shop", "OutOfSync", "Degraded"], "{out}");
    let events = store.res("v1", "Event").unwrap();
    let event = json!({"metadata": {"name": "web-1.1"}, "type": "Warning", "reason": "BackOff",
        "message": "Back-off restarting failed container app",
        "involvedObject": {"kind": "Pod", "name": "web-1", "namespace": "x"}});
    store
        .create(events, Some("x"), event, &WriteOptions::default())
        .unwrap();
    let out = kubectl.ok(&["get", "events"]).await;
    let header: Vec<&str> = out.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"],
        "{out}"
    );
    assert!(
        out.contains("pod/web-1") && out.contains("Back-off restarting"),
        "{out}"
    );

    let patched = kubectl
        .ok(&[
            "patch",
            "deployment",
            "web",
            "-n",
            "x",
            "--type",
            "merge",
            "-p",
            r#"{"spec":{"replicas":3}}"#,
        ])
        .await;
    assert!(patched.contains("deployment.apps/web patched"), "{patched}");
    let deploys = store.res("apps/v1", "Deployment").unwrap();
    let web = store.get(deploys, Some("x"), "web").unwrap();
    assert_eq!(web["spec"]["replicas"], 3);

    let strategic = kubectl
        .ok(&[
            "patch",
            "deployment",
            "web",
            "-p",
            r#"{"spec":{"template":{"spec":{"containers":[{"name":"app","resources":{"limits":{"memory":"256Mi"}}}]}}}}"#,
        ])
        .await;
    assert!(strategic.contains("patched"), "{strategic}");
    let web = store.get(deploys, Some("x"), "web").unwrap();
    assert_eq!(
        web["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"],
        "256Mi"
    );
    assert_eq!(
        web["spec"]["template"]["spec"]["containers"][0]["image"],
        "app:1"
    );

    let (ok, _, stderr) = kubectl.run(&["get", "pod", "missing"]).await;
    assert!(!ok);
    assert!(stderr.contains("pods \"missing\" not found"), "{stderr}");

    // create -f: kubectl reads /openapi/v3, sees server-side field validation and sends
    // fieldValidation=Strict, so the server rejects the unknown field.
    let job = |extra: &str| {
        format!(
            r#"{{"apiVersion":"batch/v1","kind":"Job","metadata":{{"name":"j"}},"spec":{{"template":{{"spec":{{"restartPolicy":"Never","containers":[{{"name":"c","image":"busybox"{extra}}}]}}}}}}}}"#
        )
    };
    let bad = dir_file(&kubectl, "bad.json", &job(r#","colour":"red""#));
    let (ok, _, stderr) = kubectl.run(&["create", "-f", &bad]).await;
    assert!(!ok);
    assert!(stderr.contains("unknown field"), "{stderr}");
    let good = dir_file(&kubectl, "job.json", &job(""));
    let created = kubectl.ok(&["create", "-f", &good]).await;
    assert!(created.contains("job.batch/j created"), "{created}");

    let deleted = kubectl.ok(&["delete", "pod", "db-1"]).await;
    assert!(deleted.contains("pod \"db-1\" deleted"), "{deleted}");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_get_watch_streams_changes() {
    let dir = tempfile::tempdir().unwrap();
    let (sim, kubectl) = setup(dir.path()).await;
    let mut cmd = kubectl.command(&["get", "pods", "-n", "x", "--watch"]);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn kubectl --watch");
    let stdout = child.stdout.take().unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut created = false;
    while Instant::now() < deadline {
        let Ok(Some(line)) = tokio::time::timeout(Duration::from_secs(1), rx.recv()).await else {
            continue;
        };
        lines.push(line);
        if lines.len() == 3 && !created {
            // The initial state arrived; a new pod must stream in.
            let store = sim.store();
            let pods = store.res("v1", "Pod").unwrap();
            store
                .create(
                    pods,
                    Some("x"),
                    json!({"metadata": {"name": "late"},
                           "spec": {"containers": [{"name": "app", "image": "nginx:1.25"}]}}),
                    &WriteOptions::default(),
                )
                .unwrap();
            created = true;
        }
        if lines.iter().any(|l| l.starts_with("late ")) {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    // A header, the current pods, then the new one as it arrives (one-row Tables).
    let first: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        first,
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE"],
        "{lines:?}"
    );
    for name in ["web-1 ", "db-1 ", "late "] {
        assert!(lines.iter().any(|l| l.starts_with(name)), "{lines:?}");
    }
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("NAME")).count(),
        1,
        "{lines:?}"
    );
    sim.shutdown().await;
}
