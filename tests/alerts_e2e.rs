//! The alert path with the real Prometheus and Alertmanager (Debian's `prometheus` and
//! `prometheus-alertmanager`, started from PATH; `scripts/test` installs them): Prometheus
//! scrapes the simulated cluster's kube-state-metrics, an OOM rule fires, Alertmanager posts to
//! suture's `/webhooks/alertmanager` with its bearer token, and the runner ties that delivery to
//! the incident read from the live objects (the OOMKilled Deployment, not the alert). The fix's
//! PR is merged and verified: the alert's own expression (from its `generatorURL`) is evaluated
//! in that Prometheus over the window's end, and must be false for `healthy`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use suture::demo::world_config;
use suture::incident::IncidentState;
use suture::ledger::{HopRecord, Incident, Ledger};
use suture::serve::Service;
use suture_sim::world::{Options, World};

#[path = "support/daemon.rs"]
mod daemon;
use daemon::{Daemon, require};

const PROMETHEUS: &str = "prometheus";
const ALERTMANAGER: &str = "prometheus-alertmanager";
/// The rule's name; the incident must not be named after it.
const ALERT: &str = "PodOOMKilled";
/// Simulated seconds per wall second: a few OOM restarts within seconds of wall time, which
/// is what Prometheus' wall-clock `increase(...[1m])` sees.
const SPEED: f64 = 20.0;
const WAIT: Duration = Duration::from_secs(45);

/// Prometheus: scrape kube-state-metrics every second, evaluate the OOM rule every second
/// (`for: 0s`), send to Alertmanager.
fn prometheus_config(dir: &Path, metrics_url: &str, alertmanager: u16) -> PathBuf {
    let target = metrics_url
        .trim_start_matches("http://")
        .trim_end_matches("/metrics");
    let rules = format!(
        "groups:\n\
         - name: workload-health\n  rules:\n\
         \x20 - alert: {ALERT}\n\
         \x20   expr: increase(kube_pod_container_status_restarts_total[1m]) > 0 and on(namespace, pod, container) kube_pod_container_status_last_terminated_reason{{reason=\"OOMKilled\"}} == 1\n\
         \x20   for: 0s\n\
         \x20   labels:\n      severity: critical\n\
         \x20   annotations:\n      summary: Container OOMKilled in {{{{ $labels.namespace }}}}/{{{{ $labels.pod }}}}\n"
    );
    std::fs::write(dir.join("rules.yml"), rules).unwrap();
    let config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
         rule_files: [rules.yml]\n\
         alerting:\n  alertmanagers:\n  - static_configs:\n    - targets: ['127.0.0.1:{alertmanager}']\n\
         scrape_configs:\n- job_name: kube-state-metrics\n  static_configs:\n  - targets: ['{target}']\n"
    );
    let path = dir.join("prometheus.yml");
    std::fs::write(&path, config).unwrap();
    path
}

/// Alertmanager: one route to suture's webhook with the bearer token suture accepts.
fn alertmanager_config(dir: &Path, suture_url: &str, token: &str) -> PathBuf {
    let config = format!(
        "route:\n  receiver: suture\n  group_by: [alertname, namespace]\n  group_wait: 1s\n  \
         group_interval: 2s\n  repeat_interval: 1h\n\
         receivers:\n- name: suture\n  webhook_configs:\n  - url: {suture_url}/webhooks/alertmanager\n    \
         send_resolved: false\n    http_config:\n      authorization:\n        type: Bearer\n        \
         credentials: {token}\n"
    );
    let path = dir.join("alertmanager.yml");
    std::fs::write(&path, config).unwrap();
    path
}

/// The Alertmanager deliveries suture recorded (its dedup table).
async fn alertmanager_deliveries(ledger: &Ledger) -> Vec<String> {
    sqlx::query_as::<_, (String,)>(
        "SELECT delivery_id FROM webhook_deliveries WHERE source = 'alertmanager'",
    )
    .fetch_all(ledger.pool())
    .await
    .unwrap()
    .into_iter()
    .map(|(id,)| id)
    .collect()
}

/// The first incident with an `alert_firing` hop, with its hops.
async fn alerted(ledger: &Ledger) -> Option<(Incident, Vec<HopRecord>)> {
    for incident in ledger.incidents(None, 100).await.unwrap() {
        let hops = ledger.hops(&incident.key).await.unwrap();
        if hops.iter().any(|h| h.kind == "alert_firing") {
            return Some((incident, hops));
        }
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alertmanager_alert_is_tied_to_the_incident_read_from_live_objects() {
    let (prometheus, alertmanager) = (require(PROMETHEUS), require(ALERTMANAGER));
    let dir = tempfile::Builder::new()
        .prefix("suture-alerts-")
        .tempdir()
        .unwrap();
    let scenario = suture_sim::scenarios::find("oom").unwrap();
    let world = World::start(
        scenario,
        Options {
            speed: SPEED,
            dir: Some(dir.path().join("world")),
            ..Options::default()
        },
    )
    .unwrap();
    let e = world.endpoints().clone();

    // The config `suture sim` writes (alertmanager token included), for suture at `listen`.
    let listen = world_config::free_addr().unwrap();
    let config = world_config::write(&world, dir.path(), listen, SPEED).unwrap();
    let text = std::fs::read_to_string(&config.path).unwrap();
    // Bound before the daemons start: what Alertmanager posts early waits in the backlog.
    let listener = tokio::net::TcpListener::bind(listen).await.unwrap();

    let am_config = alertmanager_config(dir.path(), &config.url, &e.webhook_secret);
    let mut am = Daemon::start("alertmanager", &alertmanager, dir.path(), |port| {
        vec![
            format!("--config.file={}", am_config.display()),
            format!(
                "--storage.path={}",
                dir.path().join(format!("am-data-{port}")).display()
            ),
            format!("--web.listen-address=127.0.0.1:{port}"),
            "--cluster.listen-address=".into(),
        ]
    })
    .await;
    let prom_config = prometheus_config(dir.path(), &e.metrics_url, am.port);
    let mut prom = Daemon::start("prometheus", &prometheus, dir.path(), |port| {
        vec![
            format!("--config.file={}", prom_config.display()),
            format!(
                "--storage.tsdb.path={}",
                dir.path().join(format!("prom-data-{port}")).display()
            ),
            format!("--web.listen-address=127.0.0.1:{port}"),
        ]
    })
    .await;

    // suture serve, in process, on the config `suture sim` writes (alertmanager token included).
    let env = [
        (
            "SUTURE_PROMETHEUS__URL".to_string(),
            format!("http://127.0.0.1:{}", prom.port),
        ),
        (
            "SUTURE_POLICY__VERIFICATION_WINDOW".to_string(),
            "4m".to_string(),
        ),
    ];
    let settings = suture::config::load(Some(&text), env, dir.path()).unwrap();
    let controllers = world.kube.controllers().unwrap().clone();
    let clock = suture::clock::Clock::external_at(SPEED, move || controllers.now());
    let service = Service::start(&settings, dir.path(), Some(clock), listener)
        .await
        .unwrap();

    let ledger = &service.ledger;
    let deadline = tokio::time::Instant::now() + WAIT;
    let (incident, hops) = loop {
        if let Some(found) = alerted(ledger).await {
            break found;
        }
        if tokio::time::Instant::now() > deadline {
            panic!(
                "no alert_firing hop within {WAIT:?}; incidents: {:?}\n{}\n{}",
                ledger
                    .incidents(None, 10)
                    .await
                    .unwrap()
                    .iter()
                    .map(|i| (&i.key, i.state))
                    .collect::<Vec<_>>(),
                prom.tail(),
                am.tail()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    // The incident is the live evidence's: the OOMKilled Deployment, not the alert's name.
    let expected = format!(
        "sim/payments/Deployment/{}/oom-killed",
        world.scenario.deployment
    );
    assert_eq!(incident.key, expected);
    assert_eq!(incident.fault, "oom-killed");
    assert_eq!(
        (incident.kind.as_str(), incident.namespace.as_str()),
        ("Deployment", "payments")
    );
    assert!(!incident.key.contains(ALERT));
    assert_ne!(incident.state, IncidentState::Escalated);
    let detected = hops.iter().find(|h| h.kind == "detected").unwrap();
    assert!(
        detected.detail.to_string().contains("OOMKilled"),
        "evidence read from the Pod: {}",
        detected.detail
    );

    // The hop names Alertmanager's delivery (recorded by suture's webhook) and the alert.
    let hop = hops.iter().find(|h| h.kind == "alert_firing").unwrap();
    let d = &hop.detail;
    assert_eq!(d["alert"], ALERT);
    assert_eq!(d["labels"]["alertname"], ALERT);
    assert_eq!(d["labels"]["severity"], "critical");
    assert_eq!(d["labels"]["namespace"], "payments");
    assert_eq!(d["labels"]["job"], "kube-state-metrics");
    assert!(
        d["labels"]["pod"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}-", world.scenario.deployment))
    );
    assert!(d["opened"].is_boolean());
    let delivery = d["delivery"].as_str().unwrap();
    assert!(delivery.starts_with("sha256:"), "{delivery}");
    let recorded = alertmanager_deliveries(ledger).await;
    assert!(
        recorded.iter().any(|r| r == delivery),
        "{delivery} not in {recorded:?}"
    );

    // The reviewer merges the fix; the verification reads the pods and the alert's expression.
    let deadline = tokio::time::Instant::now() + WAIT;
    let pr = loop {
        let open = ledger.pull_requests(&incident.key).await.unwrap();
        if let Some(pr) = open.into_iter().find(|p| p.state == "open") {
            break pr;
        }
        assert!(tokio::time::Instant::now() < deadline, "no pull request");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    world
        .github
        .merge_pr(world.scenario.repo, u64::try_from(pr.number).unwrap())
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    let verdict = loop {
        let hops = ledger.hops(&incident.key).await.unwrap();
        if let Some(v) = hops.into_iter().find(|h| h.kind == "verdict") {
            break v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no verdict\n{}",
            prom.tail()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let started = ledger
        .hops(&incident.key)
        .await
        .unwrap()
        .into_iter()
        .find(|h| h.kind == "verification_started")
        .expect("verification started");
    assert_eq!(started.detail["alert_sourced"], true);
    assert!(
        started.detail["expression"]
            .as_str()
            .is_some_and(|e| e.contains("OOMKilled")),
        "the alert's expression is recorded: {}",
        started.detail
    );
    // Prometheus answered: the expression was evaluated and is false on the fixed pods.
    assert_eq!(
        verdict.detail["evidence"]["alert_firing"],
        serde_json::json!(false),
        "{}",
        verdict.detail
    );
    assert_eq!(verdict.detail["verdict"], "healthy", "{}", verdict.detail);
    let resolved = ledger.incident(&incident.key).await.unwrap().unwrap();
    assert_eq!(resolved.state, IncidentState::Resolved);

    drop(prom);
    drop(am);
    service.shutdown().await;
    world.shutdown().await;
}
