//! The world's kube-state-metrics endpoint over HTTP: the `oom` scenario's Pod shows up with
//! its restarts, the OOMKilled last termination, its phase and its ReplicaSet owner, in the
//! Prometheus text format (parsed here, independently of the simulator's rendering).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use http_body_util::{BodyExt as _, Empty};
use suture_sim::world::{Options, World};

/// One sample: metric name, labels, value.
type Sample = (String, BTreeMap<String, String>, f64);

/// Parse the exposition format's sample lines (`name{k="v",...} value`).
fn parse(text: &str) -> Vec<Sample> {
    let mut out = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (name, rest) = line.split_once('{').expect(line);
        let (labels, value) = rest.rsplit_once("} ").expect(line);
        let mut map = BTreeMap::new();
        let mut chars = labels.chars().peekable();
        while chars.peek().is_some() {
            let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
            assert_eq!(chars.next(), Some('"'), "{line}");
            let mut v = String::new();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => match chars.next() {
                        Some('n') => v.push('\n'),
                        Some(other) => v.push(other),
                        None => panic!("{line}"),
                    },
                    '"' => break,
                    c => v.push(c),
                }
            }
            if chars.peek() == Some(&',') {
                chars.next();
            }
            map.insert(key, v);
        }
        out.push((name.to_owned(), map, value.parse().expect(line)));
    }
    out
}

async fn scrape(url: &str) -> (String, String) {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Empty<Bytes>>();
    let resp = client.get(url.parse().unwrap()).await.unwrap();
    assert_eq!(resp.status(), 200);
    let ct = resp.headers()["content-type"].to_str().unwrap().to_owned();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (ct, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_oom_pod_is_visible_to_prometheus_as_kube_state_metrics_shows_it() {
    let scenario = suture_sim::scenarios::find("oom").unwrap();
    let (ns, deployment) = (scenario.namespace, scenario.deployment);
    let world = World::start(
        scenario,
        Options {
            speed: 50.0,
            ..Options::default()
        },
    )
    .unwrap();
    let url = world.endpoints().metrics_url.clone();
    assert!(url.starts_with("http://127.0.0.1:") && url.ends_with("/metrics"));

    let deadline = Instant::now() + Duration::from_secs(30);
    let samples = loop {
        let (ct, text) = scrape(&url).await;
        assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
        let samples = parse(&text);
        let oom = samples.iter().any(|(n, l, v)| {
            n == "kube_pod_container_status_last_terminated_reason"
                && l["reason"] == "OOMKilled"
                && *v == 1.0
        });
        if oom {
            break samples;
        }
        assert!(Instant::now() < deadline, "no OOMKilled series:\n{text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let of = |name: &str| -> Vec<&Sample> { samples.iter().filter(|s| s.0 == name).collect() };
    let oom = of("kube_pod_container_status_last_terminated_reason");
    let pod = oom[0].1["pod"].clone();
    assert_eq!(oom[0].1["namespace"], ns);
    assert!(pod.starts_with(&format!("{deployment}-")), "{pod}");
    assert!(!oom[0].1["uid"].is_empty());
    let restarts = of("kube_pod_container_status_restarts_total");
    let restarts = restarts
        .iter()
        .find(|s| s.1["pod"] == pod && s.1["container"] == oom[0].1["container"])
        .unwrap();
    assert!(restarts.2 >= 1.0, "restarts {}", restarts.2);
    let owner = of("kube_pod_owner");
    let owner = owner.iter().find(|s| s.1["pod"] == pod).unwrap();
    assert_eq!(owner.1["owner_kind"], "ReplicaSet");
    assert!(owner.1["owner_name"].starts_with(&format!("{deployment}-")));
    assert_eq!(owner.1["owner_is_controller"], "true");
    let phases: Vec<_> = of("kube_pod_status_phase")
        .into_iter()
        .filter(|s| s.1["pod"] == pod)
        .collect();
    assert_eq!(phases.len(), 5);
    assert_eq!(
        phases.iter().map(|s| s.2).sum::<f64>(),
        1.0,
        "one current phase"
    );
    world.shutdown().await;
}
