//! The real `suture serve` binary against a simulated world, killed with SIGKILL between its
//! effects and started again: nothing is done twice and nothing is left half-done.
#![cfg(feature = "sim")]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use suture::demo::world_config;
use suture::incident::IncidentState;
use suture::ledger::Ledger;
use suture_sim::forge::Fault;
use suture_sim::world::{Options, World};

const KEY: &str = "sim/payments/Deployment/checkout-api/oom-killed";

/// `suture serve` as a child process; SIGKILLed when dropped.
struct Serve(Child);

impl Serve {
    fn start(config: &Path, log: &Path) -> Serve {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_suture"))
            .args(["serve", "--config"])
            .arg(config)
            .env("RUST_LOG", "info")
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn suture serve");
        Serve(child)
    }

    /// SIGKILL: no shutdown hook runs, as when the node dies or the OOM killer strikes.
    fn kill(mut self) {
        self.0.kill().expect("SIGKILL");
        self.0.wait().expect("reap");
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn until<T, F: Future<Output = Option<T>>>(
    what: &str,
    log: &Path,
    mut poll: impl FnMut() -> F,
) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(v) = poll().await {
            return v;
        }
        if tokio::time::Instant::now() > deadline {
            let log = std::fs::read_to_string(log).unwrap_or_default();
            panic!("timed out waiting for {what}; suture's log:\n{log}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn count(hops: &[suture::ledger::HopRecord], kind: &str) -> usize {
    hops.iter().filter(|h| h.kind == kind).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_after_push_and_pause_then_restart_opens_exactly_one_pr() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = suture_sim::scenarios::find("oom").unwrap();
    let options = Options {
        speed: 30.0,
        dir: Some(dir.path().join("world")),
        ..Options::default()
    };
    let world = World::start(scenario, options).expect("world");
    let listen = world_config::free_addr().unwrap();
    let config = world_config::write(&world, dir.path(), listen, 30.0).unwrap();
    let log = dir.path().join("suture.log");
    let repo = world.scenario.repo;
    // The forge refuses every PR create, so suture stops between the pause and the PR.
    world.github.faults().inject_for(
        "POST",
        Fault::Status(503),
        100_000,
        Some(&format!("/repos/{repo}/pulls")),
    );

    let first = Serve::start(&config.path, &log);
    let db = format!("sqlite://{}", dir.path().join("suture.db").display());
    let ledger = until("the ledger file", &log, || async {
        Ledger::connect(&db).await.ok()
    })
    .await;
    until("the push and the pause", &log, || async {
        let hops = ledger.hops(KEY).await.ok()?;
        (count(&hops, "pushed") == 1 && count(&hops, "sync_paused") == 1).then_some(())
    })
    .await;
    first.kill();
    assert!(world.github.pulls(repo).is_empty());
    world.github.faults().clear();

    let second = Serve::start(&config.path, &log);
    until("the pull request after the restart", &log, || async {
        let open = ledger
            .incidents(Some(IncidentState::PrOpen), 10)
            .await
            .ok()?;
        open.into_iter().next()
    })
    .await;
    // Give a duplicate, if there were one, the time to appear.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let pulls = world.github.pulls(repo);
    assert_eq!(pulls.len(), 1, "{pulls:?}");
    let hops = ledger.hops(KEY).await.unwrap();
    assert_eq!(count(&hops, "pushed"), 1);
    assert_eq!(count(&hops, "pr_opened"), 1);
    // The branch holds the one fix commit on top of the base.
    let base = world
        .repos
        .branch_sha(repo, world.scenario.branch)
        .unwrap()
        .expect("base branch");
    let commits = world
        .repos
        .commits_between(repo, &base, &pulls[0].head_sha)
        .expect("branch commits");
    assert_eq!(commits.len(), 1, "{commits:?}");
    let pauses = ledger.incident_pauses(KEY).await.unwrap();
    assert_eq!(pauses.len(), 1, "one pause, paired with the PR: {pauses:?}");
    assert!(pauses[0].resumed_at.is_none());
    second.kill();

    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.lines().count() > 5, "suture logged nothing:\n{text}");
    let e = world.endpoints();
    for secret in [&e.github_token, &e.gitlab_token, &e.webhook_secret] {
        assert!(!text.contains(secret.as_str()), "a secret reached the log");
    }
    ledger.close().await;
    world.shutdown().await;
}
