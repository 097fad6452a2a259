//! The scenarios whose fault depends on what the fix does: `oom-unschedulable` (a node is lost
//! once a foreign revision deploys, so bumped pods no longer fit) and `leak` (every limit is
//! reached). Driven as the product would: commits pushed to the GitOps repo, Argo CD syncing
//! them, everything read back from the simulated API server's store.

use std::time::{Duration, Instant};

use jiff::Timestamp;
use serde_json::Value;
use suture_sim::kube::ListOptions;
use suture_sim::world::{Options, World};

const SPEED: f64 = 50.0;

fn start(name: &str) -> World {
    let scenario = suture_sim::scenarios::find(name).expect("known scenario");
    World::start(
        scenario,
        Options {
            speed: SPEED,
            ..Options::default()
        },
    )
    .expect("world starts")
}

fn list(world: &World, api: &str, kind: &str) -> Vec<Value> {
    let store = world.kube.store();
    let res = store.res(api, kind).expect("kind served");
    store
        .list(res, None, &ListOptions::default())
        .map(|l| l.items)
        .unwrap_or_default()
}

fn pods(world: &World) -> Vec<Value> {
    list(world, "v1", "Pod")
        .into_iter()
        .filter(|p| p.pointer("/metadata/namespace") == Some(&"payments".into()))
        .collect()
}

fn text<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// The `api` container's spec or status entry.
fn api<'a>(pod: &'a Value, list: &str) -> Option<&'a Value> {
    pod.pointer(list)?
        .as_array()?
        .iter()
        .find(|c| text(c, "/name") == "api")
}

fn api_limit(pod: &Value) -> &str {
    api(pod, "/spec/containers")
        .map(|c| text(c, "/resources/limits/memory"))
        .unwrap_or_default()
}

fn now(world: &World) -> Timestamp {
    world.kube.controllers().expect("controllers").now()
}

/// Polls `what` (bounded by wall time) until it returns `Some`.
async fn wait<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Pushes the scenario's deployment.yaml with the api memory (limit and, where set equal,
/// request) at 512Mi replaced by `memory`, as a fix PR would, and lets Argo CD sync it.
fn push_memory(world: &World, memory: &str, message: &str) -> String {
    let s = &world.scenario;
    let (path, original) = s.commits[0]
        .1
        .iter()
        .find(|(p, _)| p.ends_with("deployment.yaml"))
        .expect("a deployment.yaml");
    let changed = original.replace("memory: 512Mi", &format!("memory: {memory}"));
    let sha = world
        .repos
        .commit_files(s.repo, s.branch, [(path.clone(), changed)], message)
        .expect("commit");
    world.argo.refresh();
    sha
}

fn is_unschedulable(pod: &Value) -> bool {
    pod.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter().any(|c| {
                text(c, "/type") == "PodScheduled"
                    && text(c, "/status") == "False"
                    && text(c, "/reason") == "Unschedulable"
            })
        })
}

fn node_names(world: &World) -> Vec<String> {
    list(world, "v1", "Node")
        .iter()
        .map(|n| text(n, "/metadata/name").to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oom_unschedulable_loses_a_node_after_the_fix_and_recovers_on_revert() {
    let world = start("oom-unschedulable");
    let t0 = now(&world);

    // Before any foreign sync: every pod placed and running (crash-looping on OOM).
    let before = wait("two running pods", || {
        let ps = pods(&world);
        let placed = ps.iter().all(|p| {
            !text(p, "/spec/nodeName").is_empty() && text(p, "/status/phase") == "Running"
        });
        (ps.len() == 2 && placed).then_some(ps)
    })
    .await;
    assert_eq!(node_names(&world).len(), 3);
    let lost: Vec<&Value> = before
        .iter()
        .filter(|p| text(p, "/spec/nodeName") == "sim-node-1")
        .collect();
    assert_eq!(lost.len(), 1, "one pod on the node to be lost");
    let lost_uid = text(lost[0], "/metadata/uid").to_string();
    wait("an OOMKill at 512Mi", || {
        pods(&world)
            .iter()
            .any(|p| {
                api(p, "/status/containerStatuses")
                    .is_some_and(|c| text(c, "/lastState/terminated/reason") == "OOMKilled")
            })
            .then_some(())
    })
    .await;

    // The fix: 768Mi request and limit. The node goes; its pods are collected and recreated.
    let synced_at = now(&world);
    let fix = push_memory(&world, "768Mi", "checkout-api: memory 768Mi");
    assert!(!world.seeded.contains(&fix));
    // The bump fits before the loss: both new pods run on the large node first.
    wait("the fix's pods on sim-node-1", || {
        let on_node_1 = pods(&world)
            .iter()
            .filter(|p| {
                api_limit(p) == "768Mi"
                    && text(p, "/spec/nodeName") == "sim-node-1"
                    && text(p, "/status/phase") == "Running"
            })
            .count();
        (on_node_1 == 2).then_some(())
    })
    .await;
    wait("sim-node-1 deleted", || {
        (!node_names(&world).iter().any(|n| n == "sim-node-1")).then_some(())
    })
    .await;
    let pending = wait("an unschedulable pod of the new template", || {
        let ps = pods(&world);
        let gone = !ps.iter().any(|p| {
            text(p, "/spec/nodeName") == "sim-node-1" || text(p, "/metadata/uid") == lost_uid
        });
        // Recreate: the old pods went first; both new ones wait for room.
        let pending: Vec<Value> = ps
            .into_iter()
            .filter(|p| api_limit(p) == "768Mi" && is_unschedulable(p))
            .collect();
        (gone && pending.len() == 2).then(|| pending[0].clone())
    })
    .await;
    let unschedulable_at = pending
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|cs| cs.iter().find(|c| text(c, "/type") == "PodScheduled"))
        .and_then(|c| text(c, "/lastTransitionTime").parse::<Timestamp>().ok())
        .expect("PodScheduled transition time");
    // The node goes 10s after the sync, its pods 40s later (PodGC's quarantine).
    let after = (unschedulable_at - synced_at)
        .total(jiff::Unit::Second)
        .unwrap_or(0.0);
    assert!(
        (49.0..=54.0).contains(&after),
        "unschedulable {after}s after the fix"
    );
    assert_eq!(text(&pending, "/status/phase"), "Pending");
    assert!(text(&pending, "/spec/nodeName").is_empty());
    let name = text(&pending, "/metadata/name").to_string();
    let event = wait("FailedScheduling", || {
        list(&world, "v1", "Event").into_iter().find(|e| {
            text(e, "/reason") == "FailedScheduling" && text(e, "/involvedObject/name") == name
        })
    })
    .await;
    let message = text(&event, "/message");
    assert!(
        message.starts_with("0/2 nodes are available: 2 Insufficient memory."),
        "{message}"
    );

    // The revert: the old ReplicaSet comes back and every replica is placed again.
    let revert = push_memory(&world, "512Mi", "Revert \"checkout-api: memory 768Mi\"");
    assert_ne!(revert, fix);
    wait("all replicas placed after the revert", || {
        let ps = pods(&world);
        let ok = ps.len() == 2
            && ps.iter().all(|p| {
                api_limit(p) == "512Mi"
                    && !text(p, "/spec/nodeName").is_empty()
                    && text(p, "/status/phase") == "Running"
            });
        ok.then_some(())
    })
    .await;
    let sets = list(&world, "apps/v1", "ReplicaSet");
    assert_eq!(sets.len(), 2, "the old ReplicaSet was reused");
    let revert_at = now(&world);
    eprintln!(
        "oom-unschedulable world seconds: fix pushed at {:.0}s, unschedulable at {:.0}s, healed {:.0}s after",
        (synced_at - t0).total(jiff::Unit::Second).unwrap_or(0.0),
        (unschedulable_at - t0)
            .total(jiff::Unit::Second)
            .unwrap_or(0.0),
        (revert_at - unschedulable_at)
            .total(jiff::Unit::Second)
            .unwrap_or(0.0),
    );
    world.shutdown().await;
}

/// `(startedAt, finishedAt)` of an OOMKill of the api container of a pod with this limit.
fn oom_kill(world: &World, limit: &str) -> Option<(Timestamp, Timestamp)> {
    pods(world)
        .iter()
        .filter(|p| api_limit(p) == limit)
        .find_map(|p| {
            let c = api(p, "/status/containerStatuses")?;
            let term = c.pointer("/lastState/terminated")?;
            (text(term, "/reason") == "OOMKilled").then_some(())?;
            let at = |f: &str| text(term, f).parse::<Timestamp>().ok();
            Some((at("/startedAt")?, at("/finishedAt")?))
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leak_is_oom_killed_at_every_limit() {
    let world = start("leak");
    let (start, end) = wait("an OOMKill at 512Mi", || oom_kill(&world, "512Mi")).await;
    let at_512 = (end - start).total(jiff::Unit::Second).unwrap_or(0.0);
    assert_eq!(at_512, 22.0);

    push_memory(&world, "1Gi", "checkout-api: memory 1Gi");
    let (start, end) = wait("an OOMKill at 1Gi", || oom_kill(&world, "1Gi")).await;
    let at_1gi = (end - start).total(jiff::Unit::Second).unwrap_or(0.0);
    assert_eq!(at_1gi, 43.0);
    assert!(at_1gi <= 60.0);
    world.shutdown().await;
}

/// `oom-quota`: the quota controller reports the two 640Mi pods (1280Mi of 1408Mi); were the
/// bump to 640Mi merged anyway, the Recreate rollout gets one 768Mi pod and quota admission
/// refuses the second, a `FailedCreate` Warning on the new ReplicaSet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oom_quota_refuses_the_bumped_pods_the_quota_cannot_hold() {
    let world = start("oom-quota");
    let quota = |world: &World| {
        list(world, "v1", "ResourceQuota")
            .into_iter()
            .find(|q| text(q, "/metadata/name") == "compute")
    };
    wait("the quota's use of two 640Mi pods", || {
        let q = quota(&world)?;
        (text(&q, "/status/used/requests.memory") == "1280Mi"
            && text(&q, "/status/used/pods") == "2")
            .then_some(())
    })
    .await;
    let q = quota(&world).unwrap();
    assert_eq!(text(&q, "/status/hard/requests.memory"), "1408Mi");
    assert_eq!(text(&q, "/status/used/limits.memory"), "1280Mi");
    wait("an OOMKill at 512Mi", || oom_kill(&world, "512Mi")).await;

    push_memory(&world, "640Mi", "checkout-api: memory 640Mi");
    let event = wait("a FailedCreate for the second bumped pod", || {
        list(&world, "v1", "Event")
            .into_iter()
            .find(|e| text(e, "/reason") == "FailedCreate")
    })
    .await;
    assert_eq!(text(&event, "/type"), "Warning");
    assert_eq!(text(&event, "/involvedObject/kind"), "ReplicaSet");
    let message = text(&event, "/message");
    assert!(
        message.starts_with("Error creating: pods \"checkout-api-")
            && message.contains(
                "is forbidden: exceeded quota: compute, requested: \
                 limits.memory=768Mi,requests.memory=768Mi, used: \
                 limits.memory=768Mi,requests.memory=768Mi, limited: \
                 limits.memory=1408Mi,requests.memory=1408Mi"
            ),
        "{message}"
    );
    let bumped: Vec<Value> = pods(&world)
        .into_iter()
        .filter(|p| api_limit(p) == "640Mi")
        .collect();
    assert_eq!(bumped.len(), 1, "{bumped:#?}");
    world.shutdown().await;
}
