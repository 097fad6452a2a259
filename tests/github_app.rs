//! suture authenticated as a GitHub App installation (`forges[].app`) against the GitHub
//! simulator: the configuration is loaded as `suture serve` loads it, octocrab mints the
//! installation token from the App's JWT, the branch is pushed with that token as
//! `x-access-token` and the pull request is opened by the App's bot. A private key the App does
//! not have is a clear error, and nothing is pushed or opened. Last, the live loop's OOM
//! scenario with suture configured as the App: the fix is pushed and the PR opened by its bot.

#[path = "support/live.rs"]
#[allow(dead_code)]
mod live;
#[path = "support/testdb.rs"]
#[allow(dead_code)]
mod testdb;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use suture::forge::{Forge, ForgeError, ForgeSettings, ForgeStats, NewChange, RepoUrl};
use suture::gitops::repo::{Expect, Mirror};
use suture::incident::runner::ForgeEntry;
use suture_sim::github::GitHubSim;

const APP_ID: u64 = 424242;
const INSTALLATION: u64 = 9001;
const REPO: &str = "acme/gitops";
const BRANCH: &str = "suture/oom-killed/payments/checkout-api-1a2b3c4d";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/github-app")
}

/// The simulator with the App registered (its public key) and a seeded repository.
fn sim() -> GitHubSim {
    let sim = GitHubSim::start().unwrap();
    let public = std::fs::read_to_string(fixtures().join("app.public-key.pem")).unwrap();
    let bot = sim
        .register_app(APP_ID, INSTALLATION, "acme", &public)
        .unwrap();
    assert_eq!(bot, format!("app-{APP_ID}[bot]"));
    sim.create_repo(REPO, "main").unwrap();
    sim.store()
        .commit_files(REPO, "main", [("app.yaml", "memory: 512Mi\n")], "seed")
        .unwrap();
    sim
}

fn host(sim: &GitHubSim) -> String {
    sim.clone_url(REPO)
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_owned()
}

/// `forges:` with the App and `key` as its private key file, loaded like `suture serve` does.
fn load(sim: &GitHubSim, key: &Path) -> Result<suture::config::Settings, String> {
    let text = format!(
        "forges:\n  - host: \"{}\"\n    kind: github\n    api_url: {}\n    app:\n      app_id: {APP_ID}\n      installation_id: {INSTALLATION}\n      private_key_file: {}\n",
        host(sim),
        sim.api_url(),
        key.display()
    );
    suture::config::load(Some(&text), std::iter::empty(), Path::new("/")).map_err(|e| e.to_string())
}

fn entry(settings: &suture::config::Settings) -> ForgeEntry {
    let stats = Arc::new(ForgeStats::default());
    let mut forges = ForgeSettings::from_settings(settings, &stats).unwrap();
    assert_eq!(forges.len(), 1);
    ForgeEntry::new(forges.remove(0)).unwrap()
}

fn change() -> NewChange {
    NewChange {
        title: "checkout-api: raise the memory limit to 640Mi".into(),
        body: "OOMKilled three times in ten minutes.".into(),
        head: BRANCH.into(),
        base: "main".into(),
        labels: vec!["suture".into()],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_app_pushes_with_the_installation_token_and_opens_the_pr_as_its_bot() {
    let sim = sim();
    let settings = load(&sim, &fixtures().join("app.private-key.pem")).unwrap();
    assert!(settings.forge_tokens.is_empty());
    let entry = entry(&settings);
    assert!(entry.creds.is_none(), "an App has no fixed Git password");
    let url = sim.clone_url(REPO);
    // The runner's client: the entry's own, which keeps octocrab's token cache.
    let (forge, repo) = (&entry.forge, RepoUrl::parse(&url).unwrap().path);

    // Git over HTTPS with the installation token octocrab obtained.
    let creds = entry.git_creds().await.unwrap().unwrap();
    assert_eq!(creds.username, "x-access-token");
    assert!(creds.token.expose().starts_with(b"ghs_"));
    assert!(
        !format!("{creds:?}").contains("ghs_"),
        "the token is never shown"
    );
    let cache = tempfile::tempdir().unwrap();
    let pushed = {
        let (cache, url, creds) = (cache.path().to_owned(), url.clone(), creds.clone());
        tokio::task::spawn_blocking(move || {
            let mirror = Mirror::open(&cache, &url).unwrap();
            mirror.fetch(Some(&creds)).unwrap();
            let main = mirror.remote_branch("main").unwrap();
            let commit = mirror
                .commit(
                    main,
                    &[("app.yaml".into(), "memory: 640Mi\n".into())],
                    "suture",
                    "suture@localhost",
                    "checkout-api: raise the memory limit",
                    jiff::Timestamp::now(),
                )
                .unwrap();
            mirror
                .push(commit, BRANCH, Expect::Absent, Some(&creds))
                .unwrap();
            commit.to_string()
        })
        .await
        .unwrap()
    };
    assert_eq!(
        sim.store().branch_sha(REPO, BRANCH).unwrap().as_deref(),
        Some(pushed.as_str())
    );

    // The pull request through the App client (its own token, cached by octocrab).
    let pr = forge.open(&repo, &change()).await.unwrap();
    let on_sim = sim.pull(REPO, pr.number).unwrap();
    assert_eq!(on_sim.user, format!("app-{APP_ID}[bot]"));
    assert_eq!(on_sim.head_ref, BRANCH);
    assert_eq!(on_sim.head_sha, pushed);
    assert_eq!(on_sim.labels, ["suture"]);
    assert_eq!(forge.default_branch(&repo).await.unwrap(), "main");
    // One token served the push and every API call: it is cached until shortly before expiry.
    entry.git_creds().await.unwrap();
    assert_eq!(sim.installation_tokens_issued(INSTALLATION), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_app_token_renewed_when_the_cached_one_is_about_to_expire() {
    let sim = sim();
    // Tokens that live less than suture's renewal margin are renewed on every use.
    sim.set_installation_token_ttl(std::time::Duration::from_secs(120));
    let settings = load(&sim, &fixtures().join("app.private-key.pem")).unwrap();
    let entry = entry(&settings);
    let first = entry.git_creds().await.unwrap().unwrap();
    let second = entry.git_creds().await.unwrap().unwrap();
    assert_ne!(first.token.expose(), second.token.expose());
    assert_eq!(sim.installation_tokens_issued(INSTALLATION), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_app_with_a_wrong_private_key_is_a_clear_error_and_opens_nothing() {
    let sim = sim();
    let settings = load(&sim, &fixtures().join("other.private-key.pem")).unwrap();
    let entry = entry(&settings);
    let url = sim.clone_url(REPO);
    let (forge, repo) = Forge::for_repo(std::slice::from_ref(&entry.settings), &url).unwrap();

    let refused = |e: &ForgeError| {
        matches!(
            e,
            ForgeError::AppAuth { app_id: APP_ID, installation_id: INSTALLATION, status: 401, message }
                if message == "A JSON web token could not be decoded"
        )
    };
    let e = entry.git_creds().await.unwrap_err();
    assert!(refused(&e), "{e:?}");
    let text = e.to_string();
    assert!(text.contains(&format!("GitHub App {APP_ID}")), "{text}");
    assert!(text.contains("HTTP 401"), "{text}");
    let e = forge.open(&repo, &change()).await.unwrap_err();
    assert!(refused(&e), "{e:?}");
    assert!(sim.pulls(REPO).is_empty());
    assert_eq!(sim.store().branch_sha(REPO, BRANCH).unwrap(), None);
    assert_eq!(sim.installation_tokens_issued(INSTALLATION), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_app_key_file_that_is_no_rsa_key_is_a_config_error_at_start() {
    let sim = sim();
    // The public key, mistaken for the private one.
    let e = load(&sim, &fixtures().join("app.public-key.pem")).unwrap_err();
    assert!(e.contains("forges[0].app.private_key_file"), "{e}");
    assert!(e.contains("is not an RSA private key in PEM form"), "{e}");
    assert!(
        !e.contains("BEGIN"),
        "the file's content is never shown: {e}"
    );
    let e = load(&sim, &fixtures().join("missing.pem")).unwrap_err();
    assert!(e.contains("forges[0].app.private_key_file"), "{e}");
}

/// The live loop (`suture serve`'s wiring) with `forges[].app`: an OOM-killed workload becomes
/// one PR, pushed with and opened through the App's installation token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_app_live_loop_opens_the_oom_fix_as_the_app() {
    let (private, public) = (
        fixtures().join("app.private-key.pem"),
        fixtures().join("app.public-key.pem"),
    );
    let app = live::GithubApp {
        app_id: APP_ID,
        installation_id: INSTALLATION,
        private_key: &private,
        public_key: &public,
    };
    let mut live = live::Live::start_as_github_app(
        "oom",
        live::Db::Sqlite,
        30.0,
        &[("SUTURE_POLICY__VERIFICATION_WINDOW", "3m")],
        &app,
    )
    .await;
    let incident = live
        .incident_in(suture::incident::IncidentState::PrOpen)
        .await;
    assert_eq!(
        incident.key,
        "sim/payments/Deployment/checkout-api/oom-killed"
    );
    let changes = live.take_changes();
    assert_eq!(changes.len(), 1, "{changes:?}");
    let repo = live.world().scenario.repo;
    let pr = live.world().github.pull(repo, changes[0].number).unwrap();
    assert_eq!(pr.user, format!("app-{APP_ID}[bot]"));
    let head = live
        .world()
        .github
        .store()
        .branch_sha(repo, &pr.head_ref)
        .unwrap();
    assert_eq!(head.as_deref(), Some(pr.head_sha.as_str()));
    assert!(live.world().github.installation_tokens_issued(INSTALLATION) >= 1);
    live.expect_paused();
    live.finish().await;
}
