//! A live loop for one test, in the style of rust-lang/bors's test harness: a simulated world
//! (Kubernetes, Argo CD, Git, GitHub, GitLab), `suture serve`'s own wiring against it, and a
//! ledger on SQLite or PostgreSQL. The test reads what suture did through [`Live::take_changes`]
//! and [`Live::take_comments`]; [`Live::finish`] fails on any pull request, comment or paused
//! Application the test did not take, so a stray side effect cannot pass unnoticed.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use suture::clock::Clock;
use suture::config::Settings;
use suture::demo::world_config;
use suture::gitops::place::AppRef;
use suture::gitops::sync::ArgoApps;
use suture::incident::IncidentState;
use suture::ledger::{HopRecord, Incident, Ledger};
use suture::serve::Service;
use suture_sim::forge::Faults;
use suture_sim::world::{Forge, Options, World};

use super::testdb::{TestDb, postgres_db, sqlite_db};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// A pull request or merge request as the simulated forge holds it.
#[derive(Clone, Debug)]
pub struct Change {
    pub number: u64,
    pub title: String,
    pub body: String,
    pub head: String,
    pub labels: Vec<String>,
    /// `open`, `merged` or `closed`.
    pub state: String,
}

/// A GitHub App for [`Live::start_as_github_app`].
#[derive(Clone, Debug)]
pub struct GithubApp<'a> {
    pub app_id: u64,
    pub installation_id: u64,
    pub private_key: &'a Path,
    pub public_key: &'a Path,
}

/// How long a wait may take in wall time before the test fails.
const WAIT: Duration = Duration::from_secs(60);

pub struct Live {
    /// `None` only during teardown.
    world: Option<World>,
    pub forge: Forge,
    service: Option<Service>,
    settings: Settings,
    dir: tempfile::TempDir,
    listen: SocketAddr,
    db: TestDb,
    /// The test's own Argo CD client (the scenario's Application is read through it).
    apps: ArgoApps,
    taken_changes: Vec<u64>,
    taken_comments: BTreeMap<u64, usize>,
    expect_paused: bool,
    finished: bool,
    speed: f64,
}

impl Live {
    /// Start `scenario` on `forge` with the world's clock at `speed` and the ledger on `db`;
    /// `env` overrides configuration keys as `SUTURE_...` variables would.
    pub async fn start(
        scenario: &str,
        forge: Forge,
        db: Db,
        speed: f64,
        env: &[(&str, &str)],
    ) -> Live {
        Self::start_with(scenario, forge, db, speed, env, None).await
    }

    /// [`Live::start`] on GitHub, suture authenticated as a GitHub App installation
    /// (`forges[].app` with `app.private_key`) rather than a token; the world's GitHub knows the
    /// App by `app.public_key`.
    pub async fn start_as_github_app(
        scenario: &str,
        db: Db,
        speed: f64,
        env: &[(&str, &str)],
        app: &GithubApp<'_>,
    ) -> Live {
        Self::start_with(scenario, Forge::GitHub, db, speed, env, Some(app)).await
    }

    async fn start_with(
        scenario: &str,
        forge: Forge,
        db: Db,
        speed: f64,
        env: &[(&str, &str)],
        app: Option<&GithubApp<'_>>,
    ) -> Live {
        let found = suture_sim::scenarios::find(scenario).expect("known scenario");
        let dir = tempfile::Builder::new()
            .prefix("suture-live-")
            .tempdir()
            .expect("tempdir");
        let options = Options {
            speed,
            dir: Some(dir.path().join("world")),
            forge,
            ..Options::default()
        };
        let world = World::start(found, options).expect("the simulated world starts");
        let db = match db {
            Db::Sqlite => sqlite_db().await,
            Db::Postgres => postgres_db().await,
        };
        let listen = world_config::free_addr().expect("a free port");
        let config = world_config::write(&world, dir.path(), listen, speed).expect("config");
        let mut text = std::fs::read_to_string(&config.path).expect("read config");
        if let Some(app) = app {
            let owner = world.scenario.repo.split('/').next().expect("owner/name");
            let public = std::fs::read_to_string(app.public_key).expect("the App's public key");
            world
                .github
                .register_app(app.app_id, app.installation_id, owner, &public)
                .expect("register the App");
            // The GitHub forge comes first in the written config.
            let token_line = "    token_file: secrets/github-token\n";
            assert!(text.contains(token_line), "{text}");
            text = text.replacen(
                token_line,
                &format!(
                    "    app:\n      app_id: {}\n      installation_id: {}\n      private_key_file: {}\n",
                    app.app_id,
                    app.installation_id,
                    app.private_key.display()
                ),
                1,
            );
        }
        let mut vars = vec![("SUTURE_LEDGER".to_string(), db.url.clone())];
        vars.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let settings = suture::config::load(Some(&text), vars, dir.path()).expect("valid config");
        let kube = suture::serve::kube_client(Some(&world.endpoints().kubeconfig), None)
            .await
            .expect("kube client");
        let mut live = Live {
            apps: ArgoApps::new(kube),
            world: Some(world),
            forge,
            service: None,
            settings,
            dir,
            listen,
            db,
            taken_changes: Vec::new(),
            taken_comments: BTreeMap::new(),
            expect_paused: false,
            finished: false,
            speed,
        };
        live.start_service().await;
        live
    }

    /// (Re)start suture on the same address, ledger and Git cache, as a restarted pod would.
    pub async fn start_service(&mut self) {
        assert!(self.service.is_none(), "suture is already running");
        let clock = match self.world().kube.controllers() {
            Some(c) => {
                let c = c.clone();
                Clock::external_at(self.speed, move || c.now())
            }
            None => Clock::System,
        };
        let listener = bind_again(self.listen).await;
        let service = Service::start(&self.settings, self.dir.path(), Some(clock), listener)
            .await
            .expect("suture serve starts");
        self.service = Some(service);
    }

    /// Stop suture (its in-flight work is dropped; the ledger keeps what was written).
    pub async fn stop_service(&mut self) {
        if let Some(s) = self.service.take() {
            s.shutdown().await;
        }
    }

    pub fn world(&self) -> &World {
        self.world.as_ref().expect("the world is running")
    }

    /// The test's own connection to the ledger suture writes.
    pub fn ledger(&self) -> &Ledger {
        &self.db.ledger
    }

    pub fn base_dir(&self) -> &Path {
        self.dir.path()
    }

    /// The simulated forge's fault injection.
    pub fn faults(&self) -> &Faults {
        match self.forge {
            Forge::GitHub => self.world().github.faults(),
            Forge::GitLab => self.world().gitlab.faults(),
        }
    }

    /// Path prefix of the forge's create-change endpoint, for fault rules.
    pub fn create_change_path(&self) -> String {
        let repo = self.world().scenario.repo;
        match self.forge {
            Forge::GitHub => format!("/repos/{repo}/pulls"),
            Forge::GitLab => format!(
                "/api/v4/projects/{}/merge_requests",
                repo.replace('/', "%2F")
            ),
        }
    }

    /// The simulated world's time.
    pub fn now(&self) -> jiff::Timestamp {
        self.world()
            .kube
            .controllers()
            .map_or_else(jiff::Timestamp::now, |c| c.now())
    }

    /// Poll until `poll` yields, failing the test after a minute of wall time.
    pub async fn until<T, F: Future<Output = Option<T>>>(
        &self,
        what: &str,
        mut poll: impl FnMut() -> F,
    ) -> T {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Some(v) = poll().await {
                return v;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Wait for the one incident in `state`.
    pub async fn incident_in(&self, state: IncidentState) -> Incident {
        let ledger = self.ledger().clone();
        self.until(&format!("an incident in state {}", state.as_str()), || {
            let ledger = ledger.clone();
            async move {
                ledger
                    .incidents(Some(state), 10)
                    .await
                    .ok()
                    .and_then(|v| v.into_iter().next())
            }
        })
        .await
    }

    pub async fn hops(&self, key: &str) -> Vec<HopRecord> {
        self.ledger().hops(key).await.expect("hops")
    }

    /// Every change on the forge's GitOps repository, whether taken or not.
    pub fn changes(&self) -> Vec<Change> {
        let repo = self.world().scenario.repo;
        match self.forge {
            Forge::GitHub => self
                .world()
                .github
                .pulls(repo)
                .into_iter()
                .map(|p| Change {
                    number: p.number,
                    title: p.title,
                    body: p.body.unwrap_or_default(),
                    head: p.head_ref,
                    labels: p.labels,
                    state: if p.merged { "merged".into() } else { p.state },
                })
                .collect(),
            Forge::GitLab => self
                .world()
                .gitlab
                .merge_requests(repo)
                .into_iter()
                .map(|m| Change {
                    number: m.iid,
                    title: m.title,
                    body: m.description,
                    head: m.source_branch,
                    labels: m.labels,
                    state: if m.state == "opened" {
                        "open".into()
                    } else {
                        m.state
                    },
                })
                .collect(),
        }
    }

    /// The bot's comments on change `number` (GitLab's system notes are not comments).
    pub fn comments(&self, number: u64) -> Vec<String> {
        let repo = self.world().scenario.repo;
        match self.forge {
            Forge::GitHub => self
                .world()
                .github
                .comments(repo, number)
                .into_iter()
                .map(|c| c.body)
                .collect(),
            Forge::GitLab => self
                .world()
                .gitlab
                .notes(repo, number)
                .into_iter()
                .filter(|n| n.author == suture_sim::world::BOT)
                .map(|n| n.body)
                .collect(),
        }
    }

    /// Every commit status on the GitOps repository, oldest first, as `(sha, context, state)`
    /// in GitHub's words (GitLab's `failed` reads `failure`, `running` reads `pending`).
    pub fn statuses(&self) -> Vec<(String, String, String)> {
        let repo = self.world().scenario.repo;
        match self.forge {
            Forge::GitHub => self
                .world()
                .github
                .statuses(repo)
                .into_iter()
                .map(|s| (s.sha, s.context, s.state))
                .collect(),
            Forge::GitLab => self
                .world()
                .gitlab
                .commit_statuses(repo)
                .into_iter()
                .map(|s| {
                    let state = match s.status.as_str() {
                        "success" => "success",
                        "failed" => "failure",
                        "canceled" | "skipped" => "error",
                        _ => "pending",
                    };
                    (s.sha, s.name, state.to_string())
                })
                .collect(),
        }
    }

    /// The changes on the forge now, marked as expected by the test.
    /// The `suture/verify` states posted on commit `sha`, oldest first.
    pub fn verify_states(&self, sha: &str) -> Vec<String> {
        self.statuses()
            .into_iter()
            .filter(|(s, context, _)| s == sha && context == "suture/verify")
            .map(|(_, _, state)| state)
            .collect()
    }

    pub fn take_changes(&mut self) -> Vec<Change> {
        let all = self.changes();
        self.taken_changes = all.iter().map(|c| c.number).collect();
        all
    }

    /// The comments on `number` now, marked as expected by the test.
    pub fn take_comments(&mut self, number: u64) -> Vec<String> {
        let all = self.comments(number);
        self.taken_comments.insert(number, all.len());
        all
    }

    /// Merge change `number` as a reviewer would; the forge sends its signed webhook.
    pub async fn merge(&self, number: u64) -> String {
        let repo = self.world().scenario.repo;
        match self.forge {
            Forge::GitHub => self
                .world()
                .github
                .merge_pr(repo, number)
                .await
                .map_err(|e| e.to_string()),
            Forge::GitLab => self
                .world()
                .gitlab
                .merge_mr(repo, number)
                .await
                .map_err(|e| e.to_string()),
        }
        .expect("merge")
    }

    /// The scenario's Application as the API returns it, read through the real client.
    pub async fn application(&self) -> Value {
        let app = AppRef {
            namespace: "argocd".into(),
            name: self.world().scenario.app.to_string(),
        };
        self.apps.get(&app).await.expect("application")
    }

    /// An operator switches the scenario's Application's auto-sync off by hand (as
    /// `argocd app set --sync-policy none` does), through the real client.
    pub async fn pause_by_hand(&self) {
        let kube = suture::serve::kube_client(Some(&self.world().endpoints().kubeconfig), None)
            .await
            .expect("kube client");
        let apps: kube::Api<kube::api::DynamicObject> = kube::Api::namespaced_with(
            kube,
            "argocd",
            &kube::api::ApiResource {
                group: "argoproj.io".into(),
                version: "v1alpha1".into(),
                api_version: "argoproj.io/v1alpha1".into(),
                kind: "Application".into(),
                plural: "applications".into(),
            },
        );
        apps.patch(
            self.world().scenario.app,
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(
                serde_json::json!({"spec": {"syncPolicy": {"automated": null}}}),
            ),
        )
        .await
        .expect("pause by hand");
    }

    /// The test expects the Application to be left with auto-sync paused.
    pub fn expect_paused(&mut self) {
        self.expect_paused = true;
    }

    /// Stop suture and the world; fail on any change, comment or pause the test did not take.
    pub async fn finish(mut self) {
        self.finished = true;
        self.stop_service().await;
        let mut stray = Vec::new();
        for c in self.changes() {
            if !self.taken_changes.contains(&c.number) {
                stray.push(format!("change !{} {:?} ({})", c.number, c.title, c.state));
                continue;
            }
            let seen = self.taken_comments.get(&c.number).copied().unwrap_or(0);
            for body in self.comments(c.number).iter().skip(seen) {
                stray.push(format!("comment on !{}: {body:?}", c.number));
            }
        }
        let app = self.application().await;
        if auto_sync_on(&app) == self.expect_paused {
            stray.push(format!(
                "Application auto-sync is {} (expected {}): {}",
                if auto_sync_on(&app) { "on" } else { "paused" },
                if self.expect_paused { "paused" } else { "on" },
                app.pointer("/spec/syncPolicy").unwrap_or(&Value::Null)
            ));
        }
        if let Some(world) = self.world.take() {
            world.shutdown().await;
        }
        assert!(
            stray.is_empty(),
            "unexpected at teardown:\n{}",
            stray.join("\n")
        );
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        if !self.finished && !std::thread::panicking() {
            panic!("the test ended without Live::finish (its teardown checks were skipped)");
        }
    }
}

/// `spec.syncPolicy.automated` present and not `enabled: false`.
/// The kinds of `hops`, in order (for assertion messages).
pub fn kinds(hops: &[HopRecord]) -> Vec<&str> {
    hops.iter().map(|h| h.kind.as_str()).collect()
}

/// How many of `hops` are of `kind`.
pub fn count(hops: &[HopRecord], kind: &str) -> usize {
    hops.iter().filter(|h| h.kind == kind).count()
}

pub fn auto_sync_on(app: &Value) -> bool {
    let a = app
        .pointer("/spec/syncPolicy/automated")
        .unwrap_or(&Value::Null);
    !a.is_null() && a.get("enabled").and_then(Value::as_bool) != Some(false)
}

/// Bind `addr` again after a previous listener closed (the port may linger briefly).
async fn bind_again(addr: SocketAddr) -> tokio::net::TcpListener {
    for _ in 0..100 {
        if let Ok(l) = tokio::net::TcpListener::bind(addr).await {
            return l;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("cannot bind {addr} again");
}
