//! `suture serve` measured as users would see it (one bounded timed run per figure; criterion's
//! repetitions do not fit whole worlds):
//! - `latency`: from the Pod status change in the simulated API (the OOMKilled termination, seen
//!   by a watch of this benchmark's own) to the pull request existing on the simulated GitHub,
//!   over repeated incidents, each in a fresh world with the real wiring; median, p90 and max.
//!   The simulated forge adds no latency.
//! - `memory`: the resident memory of the real `suture serve` binary while it watches a bare
//!   simulated API server holding 50,000 pods (with their ReplicaSets and Deployments): peak
//!   (VmHWM) and settled (VmRSS) once ready.
//! - `webhooks`: signed GitHub webhook deliveries per second through the real router and the
//!   ledger's dedup (distinct delivery ids, 16 in flight), on SQLite and on PostgreSQL.
//!
//! `cargo bench --bench serve` runs all three; `cargo bench --bench serve -- latency` one.
//! `SUTURE_BENCH_INCIDENTS` (default 20), `SUTURE_BENCH_PODS` (default 50000),
//! `SUTURE_BENCH_DELIVERIES` (default 5000) size them.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::watcher;
use serde_json::json;
use suture::clock::Clock;
use suture::demo::world_config;
use suture::forge::webhook::{Secret, github_signature};
use suture::ledger::Ledger;
use suture::serve::Service;
use suture::server::{self, AppState, Metrics, Readiness, WebhookSecrets};
use suture_sim::kube::store::WriteOptions;
use suture_sim::kube::{Config, SimKube};
use suture_sim::world::{Options, World};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let which: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let wants = |name: &str| which.is_empty() || which.iter().any(|w| w == name);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    println!(
        "machine: {} cores",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    if wants("latency") {
        rt.block_on(latency());
    }
    if wants("memory") {
        rt.block_on(memory());
    }
    if wants("webhooks") {
        rt.block_on(webhooks());
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn oom_killed(pod: &Pod) -> bool {
    let statuses = pod
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref());
    statuses.is_some_and(|all| {
        all.iter().any(|c| {
            let now = c.state.as_ref().and_then(|s| s.terminated.as_ref());
            let last = c.last_state.as_ref().and_then(|s| s.terminated.as_ref());
            [now, last]
                .into_iter()
                .flatten()
                .any(|t| t.reason.as_deref() == Some("OOMKilled"))
        })
    })
}

/// One incident in a fresh world: the wall time from the OOMKilled status to the open PR.
async fn one_incident() -> Duration {
    let dir = tempfile::tempdir().unwrap();
    let speed = 10.0;
    let options = Options {
        speed,
        dir: Some(dir.path().join("world")),
        ..Options::default()
    };
    let world = World::start(suture_sim::scenarios::find("oom").unwrap(), options).unwrap();
    let e = world.endpoints().clone();
    let repo = world.scenario.repo;
    let listen = world_config::free_addr().unwrap();
    let config = world_config::write(&world, dir.path(), listen, speed).unwrap();
    let text = std::fs::read_to_string(&config.path).unwrap();
    let settings = suture::config::load(Some(&text), std::iter::empty(), dir.path()).unwrap();
    let controllers = world.kube.controllers().unwrap().clone();
    let clock = Clock::external(move || controllers.now());

    // Our own watch sees the status change; started before suture so it cannot miss it.
    let kube = suture::serve::kube_client(Some(&e.kubeconfig), None)
        .await
        .unwrap();
    let pods: kube::Api<Pod> = kube::Api::namespaced(kube, "payments");
    let (seen_tx, seen_rx) = tokio::sync::oneshot::channel();
    let watch = tokio::spawn(async move {
        let mut stream = watcher(pods, watcher::Config::default()).boxed();
        let mut tx = Some(seen_tx);
        while let Some(Ok(ev)) = stream.next().await {
            let hit = match &ev {
                watcher::Event::Apply(p) | watcher::Event::InitApply(p) => oom_killed(p),
                _ => false,
            };
            if hit && let Some(tx) = tx.take() {
                let _ = tx.send(Instant::now());
            }
        }
    });
    let listener = tokio::net::TcpListener::bind(listen).await.unwrap();
    let service = Service::start(&settings, dir.path(), Some(clock), listener)
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let opened = loop {
        if !world.github.pulls(repo).is_empty() {
            break Instant::now();
        }
        assert!(Instant::now() < deadline, "no pull request within a minute");
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    let status_change = seen_rx.await.expect("the watch saw the OOMKilled status");
    watch.abort();
    service.shutdown().await;
    world.shutdown().await;
    opened.saturating_duration_since(status_change)
}

async fn latency() {
    let n = env_usize("SUTURE_BENCH_INCIDENTS", 20);
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        samples.push(one_incident().await);
    }
    samples.sort();
    println!(
        "latency: Pod OOMKilled status -> PR open, {n} incidents (fresh world each; debounce 200 ms \
         included): p50 {:?}, p90 {:?}, max {:?}",
        percentile(&samples, 0.5),
        percentile(&samples, 0.9),
        samples[n - 1]
    );
}

fn kib(status: &str, field: &str) -> u64 {
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

/// 50,000 healthy pods in 10,000 Deployments (5 each, one ReplicaSet per Deployment).
fn seed(sim: &SimKube, pods: usize) {
    let store = sim.store();
    let (pod, rs, deploy) = (
        store.res("v1", "Pod").unwrap(),
        store.res("apps/v1", "ReplicaSet").unwrap(),
        store.res("apps/v1", "Deployment").unwrap(),
    );
    let opts = WriteOptions::default();
    let limits =
        json!({"limits": {"memory": "512Mi"}, "requests": {"cpu": "100m", "memory": "256Mi"}});
    for d in 0..pods.div_ceil(5) {
        let ns = format!("team-{}", d % 50);
        let name = format!("svc-{d:05}");
        let labels = json!({"app": name});
        let template = json!({"metadata": {"labels": labels}, "spec": {"containers": [
            {"name": "app", "image": "registry.example.com/app:1.0.0", "resources": limits}]}});
        let dep = store
            .create(deploy, Some(&ns), json!({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": name, "namespace": ns},
                "spec": {"replicas": 5, "selector": {"matchLabels": labels}, "template": template}}), &opts)
            .unwrap();
        let dep_uid = dep.object["metadata"]["uid"].clone();
        let rs_name = format!("{name}-7d98f948fd");
        let set = store
            .create(rs, Some(&ns), json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
                "metadata": {"name": rs_name, "namespace": ns, "labels": labels,
                    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": name,
                        "uid": dep_uid, "controller": true}]},
                "spec": {"replicas": 5, "selector": {"matchLabels": labels}, "template": template}}), &opts)
            .unwrap();
        let rs_uid = set.object["metadata"]["uid"].clone();
        for p in 0..5.min(pods - d * 5) {
            store
                .create(pod, Some(&ns), json!({"apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": format!("{rs_name}-{p:05}"), "namespace": ns, "labels": labels,
                        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                            "name": rs_name, "uid": rs_uid, "controller": true}]},
                    "spec": {"nodeName": format!("node-{}", p % 20), "containers": template["spec"]["containers"]},
                    "status": {"phase": "Running", "containerStatuses": [{"name": "app",
                        "image": "registry.example.com/app:1.0.0", "imageID": "", "ready": true,
                        "restartCount": 0, "state": {"running": {"startedAt": "2026-11-23T08:00:00Z"}}}]}}), &opts)
                .unwrap();
        }
    }
}

fn write_config(dir: &Path, kubeconfig: &Path, listen: std::net::SocketAddr) -> std::path::PathBuf {
    std::fs::write(dir.join("webhook-secret"), "bench-secret").unwrap();
    std::fs::write(dir.join("token"), "bench-token").unwrap();
    let text = format!(
        "listen: {listen}\nledger: sqlite://{db}\ncluster:\n  name: bench\n  kubeconfig: {kc}\n\
         forges:\n  - host: git.bench.invalid\n    kind: github\n    api_url: http://127.0.0.1:9/\n    token_file: token\n\
         webhooks:\n  github_secret_files: [webhook-secret]\n",
        db = dir.join("suture.db").display(),
        kc = kubeconfig.display(),
    );
    let path = dir.join("suture.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

async fn memory() {
    let pods = env_usize("SUTURE_BENCH_PODS", 50_000);
    let sim = SimKube::start(Config {
        namespaces: (0..50).map(|i| format!("team-{i}")).collect(),
        ..Config::default()
    })
    .unwrap();
    let started = Instant::now();
    seed(&sim, pods);
    let seeded = started.elapsed();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, sim.kubeconfig("default")).unwrap();
    let listen = world_config::free_addr().unwrap();
    let config = write_config(dir.path(), &kubeconfig, listen);
    // `SUTURE_BENCH_HEAPTRACK=<file>` runs suture under heaptrack, to see where the memory goes
    // (the figures printed are then heaptrack's wrapper's, not suture's).
    let heaptrack = std::env::var("SUTURE_BENCH_HEAPTRACK").ok();
    let mut command = match &heaptrack {
        Some(out) => {
            let mut c = Command::new("heaptrack");
            c.args(["-o", out.as_str(), env!("CARGO_BIN_EXE_suture")]);
            c
        }
        None => Command::new(env!("CARGO_BIN_EXE_suture")),
    };
    // suture reads every `SUTURE_*` variable as configuration (and refuses unknown ones): the
    // benchmark's own knobs are not for it.
    for (name, _) in std::env::vars().filter(|(n, _)| n.starts_with("SUTURE_")) {
        command.env_remove(name);
    }
    let mut child = command
        .args(["serve", "--config"])
        .arg(&config)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let ready_at = Instant::now();
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let readyz: hyper::Uri = format!("http://{listen}/readyz").parse().unwrap();
    loop {
        if let Ok(r) = client.get(readyz.clone()).await
            && r.status().is_success()
        {
            break;
        }
        assert!(
            ready_at.elapsed() < Duration::from_secs(300),
            "suture serve not ready"
        );
        assert!(child.try_wait().unwrap().is_none(), "suture serve exited");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ready = ready_at.elapsed();
    // Let the first detection pass over every root finish and the allocator settle.
    tokio::time::sleep(Duration::from_secs(10)).await;
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    match &heaptrack {
        // SIGTERM, so heaptrack writes its file.
        Some(_) => {
            let _ = Command::new("pkill")
                .args(["-TERM", "-f", "serve --config"])
                .status();
        }
        None => {
            let _ = child.kill();
        }
    }
    let _ = child.wait();
    println!(
        "memory: suture serve watching {pods} pods ({} Deployments, seeded in {seeded:?}): ready in \
         {ready:?}; peak resident {} MiB (VmHWM), settled {} MiB (VmRSS)",
        pods.div_ceil(5),
        kib(&status, "VmHWM:") / 1024,
        kib(&status, "VmRSS:") / 1024
    );
}

async fn webhooks() {
    let n = env_usize("SUTURE_BENCH_DELIVERIES", 5_000);
    let sqlite = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", sqlite.path().join("suture.db").display());
    deliveries("sqlite", &url, n).await;
    let admin = "postgres://postgres@127.0.0.1:5432/test";
    let name = format!("suture_bench_{}", std::process::id());
    let conn = Ledger::connect(admin)
        .await
        .expect("PostgreSQL on 127.0.0.1");
    let create = format!("CREATE DATABASE \"{name}\"");
    sqlx::raw_sql(sqlx::AssertSqlSafe(create))
        .execute(conn.pool())
        .await
        .unwrap();
    deliveries(
        "postgres",
        &format!("postgres://postgres@127.0.0.1:5432/{name}"),
        n,
    )
    .await;
    let drop = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
    sqlx::raw_sql(sqlx::AssertSqlSafe(drop))
        .execute(conn.pool())
        .await
        .unwrap();
    conn.close().await;
}

async fn deliveries(label: &str, url: &str, n: usize) {
    const SECRET: &str = "bench-webhook-secret";
    let ledger = Ledger::open(url).await.unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
    // The runner's side of the queue, drained as fast as it fills.
    let drain = tokio::spawn(async move { while rx.recv().await.is_some() {} });
    let state = AppState {
        ledger: ledger.clone(),
        webhooks: WebhookSecrets {
            github: vec![Secret::new(SECRET)],
            gitlab: vec![],
            alertmanager: vec![],
        },
        queue: tx,
        clock: Clock::System,
        ready: Readiness::new(),
        metrics: Metrics::new(),
        max_body_bytes: 1 << 20,
        ack_tokens: vec![],
    };
    state.ready.set_synced(true);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(server::serve(listener, server::router(state), async move {
        let _ = stopped.await;
    }));
    let body = Bytes::from(
        std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/github-webhooks/pull_request.opened.payload.json"
        ))
        .unwrap(),
    );
    let signature = Arc::new(github_signature(&Secret::new(SECRET), &body));
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..16)
        .map(|_| {
            let (client, body, signature, next) = (
                client.clone(),
                body.clone(),
                signature.clone(),
                next.clone(),
            );
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    let req = hyper::Request::post(format!("http://{addr}/webhooks/github"))
                        .header("Content-Type", "application/json")
                        .header("X-GitHub-Event", "pull_request")
                        .header("X-GitHub-Delivery", format!("bench-{i}"))
                        .header("X-Hub-Signature-256", signature.as_str())
                        .body(Full::new(body.clone()))
                        .unwrap();
                    let resp = client.request(req).await.unwrap();
                    assert!(resp.status().is_success(), "{}", resp.status());
                }
            })
        })
        .collect();
    for w in workers {
        w.await.unwrap();
    }
    let elapsed = started.elapsed();
    let _ = stop.send(());
    let _ = server.await;
    drain.abort();
    ledger.close().await;
    println!(
        "webhooks ({label}): {n} signed deliveries in {elapsed:?}: {:.0} deliveries/s",
        n as f64 / elapsed.as_secs_f64()
    );
}
