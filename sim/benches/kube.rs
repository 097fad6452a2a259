//! Benchmarks for the simulated Kubernetes API server at cluster scale (50,000 pods):
//! - list time over HTTP through kube-rs (one response, and paged by 500),
//! - watch event throughput (store writes -> kube-rs watch stream over HTTP; one timed run),
//! - memory: resident set growth for the 50,000 stored pods.
//!
//! Run with `cargo bench --bench sim_kube`; criterion prints times, the setup prints memory.

use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures_util::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, WatchEvent, WatchParams};
use serde_json::json;
use suture_sim::Sim as _;
use suture_sim::kube::store::{Subresource, WriteOptions};
use suture_sim::kube::{Config, SimKube};

const PODS: usize = 50_000;
const WATCH_EVENTS: usize = 2_000;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn pod(i: usize) -> serde_json::Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": format!("web-{i:05}"), "namespace": "default",
                     "labels": {"app": format!("svc-{}", i / 5), "pod-template-hash": "abc12"}},
        "spec": {"nodeName": format!("node-{}", i % 20), "containers": [{
            "name": "app", "image": "registry.example.com/app:1.0.0",
            "resources": {"limits": {"memory": "512Mi"}, "requests": {"cpu": "100m", "memory": "256Mi"}}}]},
        "status": {"phase": "Running", "containerStatuses": [{
            "name": "app", "image": "registry.example.com/app:1.0.0", "imageID": "", "ready": true,
            "restartCount": 0, "state": {"running": {"startedAt": "2026-11-23T08:00:00Z"}}}]}
    })
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let config = Config {
        history_limit: WATCH_EVENTS * 4,
        ..Config::default()
    };
    let sim = SimKube::start(config).unwrap();
    let store = sim.store().clone();
    let pods_res = store.res("v1", "Pod").unwrap();

    let before = rss_kib();
    let started = Instant::now();
    for i in 0..PODS {
        store
            .create(pods_res, Some("default"), pod(i), &WriteOptions::default())
            .unwrap();
    }
    let created = started.elapsed();
    let after = rss_kib();
    println!(
        "machine: {} cores; stored {PODS} pods in {created:?}; resident set +{} MiB ({} bytes per pod)",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        after.saturating_sub(before) / 1024,
        after.saturating_sub(before) * 1024 / PODS as u64
    );

    // Watch throughput: WATCH_EVENTS store writes, timed until a kube-rs watch over HTTP has
    // received every one of them (one run, printed with the memory figure).
    let watch_elapsed = rt.block_on(async {
        let config = kube::Config::new(sim.url().parse().unwrap());
        let api: Api<Pod> = Api::namespaced(kube::Client::try_from(config).unwrap(), "default");
        let rv = store.resource_version().to_string();
        let mut stream = api
            .watch(&WatchParams::default().timeout(290), &rv)
            .await
            .unwrap()
            .boxed();
        let start = Instant::now();
        let writer = {
            let store = store.clone();
            tokio::task::spawn_blocking(move || {
                for i in 0..WATCH_EVENTS {
                    let name = format!("web-{i:05}");
                    store
                        .update_with(pods_res, Some("default"), &name, Subresource::Main, |o| {
                            o["metadata"]["labels"]["tick"] = json!(i.to_string());
                        })
                        .unwrap();
                }
            })
        };
        let mut got = 0;
        while got < WATCH_EVENTS {
            // Bounded: a stalled stream fails the benchmark instead of hanging it.
            match tokio::time::timeout(Duration::from_secs(30), stream.next()).await {
                Ok(Some(Ok(WatchEvent::Modified(_)))) => got += 1,
                Ok(Some(Ok(_))) => {}
                other => panic!("watch stalled after {got} events: {other:?}"),
            }
        }
        writer.await.unwrap();
        start.elapsed()
    });
    println!(
        "watch: {WATCH_EVENTS} events delivered over HTTP in {watch_elapsed:?} ({:.0} events/s)",
        WATCH_EVENTS as f64 / watch_elapsed.as_secs_f64()
    );

    let client = rt.block_on(async {
        let config = kube::Config::new(sim.url().parse().unwrap());
        kube::Client::try_from(config).unwrap()
    });
    let api: Api<Pod> = Api::namespaced(client, "default");

    let mut g = c.benchmark_group("sim-kube-50k-pods");
    g.sample_size(10);
    g.throughput(Throughput::Elements(PODS as u64));
    g.bench_function("list-http", |b| {
        b.iter(|| {
            let list = rt.block_on(api.list(&ListParams::default())).unwrap();
            assert_eq!(list.items.len(), PODS);
        })
    });
    g.bench_function("list-http-paged-500", |b| {
        b.iter(|| {
            let mut params = ListParams::default().limit(500);
            let mut seen = 0;
            loop {
                let page = rt.block_on(api.list(&params)).unwrap();
                seen += page.items.len();
                match page.metadata.continue_.filter(|c| !c.is_empty()) {
                    Some(token) => params = params.continue_token(&token),
                    None => break,
                }
            }
            assert_eq!(seen, PODS);
        })
    });
    g.finish();
    rt.block_on(sim.shutdown());
}

criterion_group!(sim_benches, benches);
criterion_main!(sim_benches);
