//! The `suture.yaml` that points `suture serve` at a simulated world: its Kubernetes API
//! (kubeconfig), both forges with their tokens, one webhook secret, a SQLite ledger, and the
//! world's clock. The world's forges are told to deliver their signed webhooks to suture
//! (GitLab through a project hook).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use suture_sim::gitlab::NewHook;
use suture_sim::world::World;

/// Where the config was written and the address suture will listen on.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    pub path: PathBuf,
    pub listen: SocketAddr,
    /// `http://<listen>`.
    pub url: String,
}

/// `host:port` of an `http://host:port/...` URL.
fn authority(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split('/').next().unwrap_or(rest)
}

fn secret(dir: &Path, name: &str, value: &str) -> std::io::Result<String> {
    let secrets = dir.join("secrets");
    std::fs::create_dir_all(&secrets)?;
    let path = secrets.join(name);
    std::fs::write(&path, value)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(format!("secrets/{name}"))
}

/// A free loopback port for suture (bound once to learn it; suture binds it again).
pub fn free_addr() -> std::io::Result<SocketAddr> {
    std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()
}

/// Write `suture.yaml` (and its secret files) into `dir` for `world`, whose clock runs at
/// `speed`, and register suture's webhook endpoints with both simulated forges.
pub fn write(
    world: &World,
    dir: &Path,
    listen: SocketAddr,
    speed: f64,
) -> std::io::Result<ServeConfig> {
    let e = world.endpoints();
    let github_token = secret(dir, "github-token", &e.github_token)?;
    let gitlab_token = secret(dir, "gitlab-token", &e.gitlab_token)?;
    let webhook = secret(dir, "webhook-secret", &e.webhook_secret)?;
    let wall = jiff::Timestamp::now();
    let now = world.kube.controllers().map_or(wall, |c| c.clock().now());
    let ledger = dir.join("suture.db");
    let kubeconfig = e.kubeconfig.display();
    let text = format!(
        "# Written by `suture sim` for `suture serve --config <this file>`: the simulated world's\n\
         # endpoints, credentials (files under secrets/) and clock. Edit freely; see docs/config.md.\n\
         listen: {listen}\n\
         ledger: sqlite://{ledger}\n\
         cluster:\n  name: sim\n  kubeconfig: {kubeconfig}\n\
         argocd:\n  namespace: argocd\n  pause_ttl: 24h\n\
         git:\n  author_name: suture\n  author_email: suture@sim.invalid\n  cache_dir: git-cache\n\
         forges:\n\
         \x20 - host: {gh_host}\n    kind: github\n    api_url: {gh_api}\n    token_file: {github_token}\n\
         \x20 - host: {gl_host}\n    kind: gitlab\n    api_url: {gl_api}/api/v4\n    token_file: {gitlab_token}\n\
         webhooks:\n  github_secret_files: [{webhook}]\n  gitlab_token_files: [{webhook}]\n  alertmanager_token_files: [{webhook}]\n\
         # A short verification window: the simulated world's pods settle in seconds.\n\
         policy:\n  exclude_namespaces: [kube-system]\n  verification_window: 2m\n\
         # The world's clock: {speed} simulated seconds per wall-clock second.\n\
         clock:\n  origin: {now}\n  wall_origin: {wall}\n  speed: {speed}\n",
        ledger = ledger.display(),
        gh_host = authority(&e.github_clone_url),
        gh_api = e.github_api,
        gl_host = authority(&e.gitlab_clone_url),
        gl_api = e.gitlab_api,
    );
    let path = dir.join("suture.yaml");
    std::fs::write(&path, text)?;
    let url = format!("http://{listen}");
    world
        .github
        .add_webhook(&format!("{url}/webhooks/github"), &e.webhook_secret);
    // On GitLab suture's hook is a project hook, as `POST /projects/:id/hooks` makes it.
    world
        .gitlab
        .add_project_hook(
            &e.repo,
            NewHook::merge_requests(format!("{url}/webhooks/gitlab"), &e.webhook_secret),
        )
        .map_err(std::io::Error::other)?;
    Ok(ServeConfig { path, listen, url })
}
