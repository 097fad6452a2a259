//! A real server binary (Prometheus, Alertmanager) started from PATH for a test, on a free port,
//! killed and reaped when the test ends however it ends.
//!
//! These binaries take a port number, not a bound socket, so the port is free when picked and
//! may be taken by another test before the binary binds it: a daemon that exits before it is
//! ready is started again on another port (a few times), instead of failing the test for a
//! neighbour's sake. Any other failure to start fails the test with the daemon's log.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The binary's path on PATH, or a failure that says how to get it.
pub fn require(bin: &str) -> PathBuf {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join(bin))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "`{bin}` is not on PATH: this test needs the real Prometheus and Alertmanager \
                 (Debian packages prometheus, prometheus-alertmanager); `scripts/test` installs \
                 them"
            )
        })
}

pub struct Daemon {
    name: &'static str,
    child: Child,
    log: PathBuf,
    pub port: u16,
}

/// Starts on another port after a daemon exits before it is ready.
const ATTEMPTS: usize = 5;
/// How long a daemon may take to answer `/-/ready` (Prometheus opens its TSDB first).
const READY: Duration = Duration::from_secs(30);

impl Daemon {
    /// Runs `bin` with `args(port)` in `dir` until its `/-/ready` answers 200.
    pub async fn start(
        name: &'static str,
        bin: &Path,
        dir: &Path,
        args: impl Fn(u16) -> Vec<String>,
    ) -> Daemon {
        let http = reqwest::Client::new();
        for attempt in 1..=ATTEMPTS {
            let port = free_port();
            let log = dir.join(format!("{name}.{attempt}.log"));
            let out = std::fs::File::create(&log).unwrap();
            let child = Command::new(bin)
                .args(args(port))
                .current_dir(dir)
                .stdin(Stdio::null())
                .stdout(out.try_clone().unwrap())
                .stderr(out)
                .spawn()
                .unwrap_or_else(|e| panic!("starting {name}: {e}"));
            let mut daemon = Daemon {
                name,
                child,
                log,
                port,
            };
            let deadline = tokio::time::Instant::now() + READY;
            loop {
                if matches!(daemon.child.try_wait(), Ok(Some(_))) {
                    break; // exited: most likely the port was taken; another one
                }
                let ready = http
                    .get(format!("http://127.0.0.1:{port}/-/ready"))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                if ready {
                    return daemon;
                }
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "{name} not ready within {READY:?}\n{}",
                    daemon.tail()
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            eprintln!(
                "{name} exited before it was ready (attempt {attempt}):\n{}",
                daemon.tail()
            );
        }
        panic!("{name} did not start in {ATTEMPTS} attempts; see the logs above");
    }

    /// The end of its log, for a failure message.
    pub fn tail(&mut self) -> String {
        let exited = match self.child.try_wait() {
            Ok(Some(status)) => format!(" (exited: {status})"),
            _ => String::new(),
        };
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(15)..].join("\n");
        format!("--- {}{exited}:\n{tail}", self.name)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
