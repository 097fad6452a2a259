//! An alert expression evaluated by the real Prometheus (Debian's `prometheus`, started from
//! PATH; `scripts/test` installs it; this test fails, never skips, without it). Prometheus
//! scrapes a gauge this test serves and controls, every second.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use jiff::Timestamp;
use reqwest::Url;
use suture::prometheus::{Condition, PromError, Prometheus};

#[path = "support/daemon.rs"]
mod daemon;
use daemon::{Daemon, require};

const PROMETHEUS: &str = "prometheus";
const WAIT: Duration = Duration::from_secs(30);

/// Serve `demo_gauge <value>` in the Prometheus text format on `/metrics`.
async fn serve_gauge(gauge: Arc<AtomicU64>) -> std::net::SocketAddr {
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let gauge = gauge.clone();
            async move {
                let value = f64::from_bits(gauge.load(Ordering::SeqCst));
                (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        "text/plain; version=0.0.4",
                    )],
                    format!(
                        "# HELP demo_gauge A gauge the test sets.\n# TYPE demo_gauge gauge\n\
                         demo_gauge {value}\n"
                    ),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

fn set(gauge: &AtomicU64, value: f64) {
    gauge.store(value.to_bits(), Ordering::SeqCst);
}

/// Poll until `expr` was true in the last two seconds, or fail with Prometheus' log.
async fn wait_firing(prom: &Prometheus, proc: &mut Daemon, expr: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let now = Timestamp::now();
        let result = prom
            .condition_over(expr, now - jiff::SignedDuration::from_secs(2), now)
            .await;
        if matches!(result, Ok(Condition::Firing)) {
            return;
        }
        if tokio::time::Instant::now() > deadline {
            panic!(
                "{expr} not firing within {WAIT:?} (last: {result:?})\n{}",
                proc.tail()
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_expression_is_evaluated_by_the_real_prometheus() {
    let bin = require(PROMETHEUS);
    let dir = tempfile::Builder::new()
        .prefix("suture-prometheus-")
        .tempdir()
        .unwrap();
    let gauge = Arc::new(AtomicU64::new(0));
    set(&gauge, 10.0);
    let target = serve_gauge(gauge.clone()).await;

    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             scrape_configs:\n- job_name: demo\n  static_configs:\n  - targets: ['{target}']\n"
        ),
    )
    .unwrap();
    // A data directory per attempt: one that exited may leave its lock behind.
    let data = |port: u16| dir.path().join(format!("prom-data-{port}"));
    let mut proc = Daemon::start("prometheus", &bin, dir.path(), |port| {
        vec![
            format!("--config.file={}", config.display()),
            format!("--storage.tsdb.path={}", data(port).display()),
            format!("--web.listen-address=127.0.0.1:{port}"),
        ]
    })
    .await;
    let base = Url::parse(&format!("http://127.0.0.1:{}", proc.port)).unwrap();

    let prom = Prometheus::new(base, None, Duration::from_secs(5)).unwrap();

    // True over the window while the gauge is 10.
    wait_firing(&prom, &mut proc, "demo_gauge > 5").await;
    let t0 = Timestamp::now();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let t1 = Timestamp::now();
    assert_eq!(
        prom.condition_over("demo_gauge > 5", t0, t1).await.unwrap(),
        Condition::Firing
    );
    assert_eq!(
        prom.condition_over("demo_gauge > 5", t0, t1)
            .await
            .unwrap()
            .as_alert(),
        Some(true)
    );

    // The gauge drops to 0; a window that starts once Prometheus has scraped the drop is clear.
    set(&gauge, 0.0);
    wait_firing(&prom, &mut proc, "demo_gauge == 0").await;
    let t2 = Timestamp::now();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let t3 = Timestamp::now();
    let clear = prom.condition_over("demo_gauge > 5", t2, t3).await.unwrap();
    assert_eq!(clear, Condition::Clear, "{}", proc.tail());
    assert_eq!(clear.as_alert(), Some(false));
    // The window over both is firing: true at some step.
    assert_eq!(
        prom.condition_over("demo_gauge > 5", t0, t3).await.unwrap(),
        Condition::Firing
    );

    // A metric Prometheus never scraped: no data, nothing to say about the alert.
    let none = prom
        .condition_over("no_such_metric_total > 0", t0, t3)
        .await
        .unwrap();
    assert_eq!(none, Condition::NoData);
    assert_eq!(none.as_alert(), None);
    // A window before Prometheus had any sample of the gauge: no data either.
    let before = t0 - jiff::SignedDuration::from_hours(1);
    assert_eq!(
        prom.condition_over(
            "demo_gauge > 5",
            before,
            before + jiff::SignedDuration::from_secs(30)
        )
        .await
        .unwrap(),
        Condition::NoData
    );

    // A syntax error: Prometheus' own bad_data message.
    match prom.condition_over("demo_gauge >", t0, t3).await {
        Err(PromError::Status {
            code,
            error_type,
            message,
        }) => {
            assert_eq!(code, 400);
            assert_eq!(error_type, "bad_data");
            assert!(message.contains("parse error"), "{message}");
        }
        other => panic!("expected a bad_data error, got {other:?}"),
    }

    drop(proc);
    // Nothing listening any more: a transport error, not a verdict.
    let gone = prom.condition_over("demo_gauge > 5", t0, t3).await;
    assert!(matches!(gone, Err(PromError::Http(_))), "{gone:?}");
}

/// The bearer token reaches the server as `Authorization: Bearer`, and no error shows it.
#[tokio::test]
async fn the_bearer_token_is_sent_and_never_shown() {
    let seen = Arc::new(std::sync::Mutex::new(None::<String>));
    let record = seen.clone();
    let app = axum::Router::new().route(
        "/prefix/api/v1/query_range",
        axum::routing::get(move |headers: axum::http::HeaderMap| {
            let record = record.clone();
            async move {
                *record.lock().unwrap() = headers
                    .get(axum::http::header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                (
                    axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                    r#"{"status":"error","errorType":"execution","error":"boom"}"#,
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let base = Url::parse(&format!("http://{addr}/prefix")).unwrap();
    let token = suture::forge::webhook::Secret::new("t0ps3cret");
    let prom = Prometheus::new(base, Some(token), Duration::from_secs(5)).unwrap();
    let now = Timestamp::now();
    let e = prom
        .condition_over("up", now - jiff::SignedDuration::from_mins(10), now)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, PromError::Status { code: 422, error_type, message } if error_type == "execution" && message == "boom"),
        "{e:?}"
    );
    assert_eq!(seen.lock().unwrap().as_deref(), Some("Bearer t0ps3cret"));
    assert!(!format!("{e} {e:?} {prom:?}").contains("t0ps3cret"));
}
