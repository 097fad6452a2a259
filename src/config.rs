//! `suture serve` configuration: a YAML file, every key also settable by an environment
//! variable, secrets read from files. [`load`] reports every problem at once, and no error or
//! `Debug` output ever contains a secret's content (only the file it came from).
//!
//! Environment: `SUTURE_<SECTION>__<KEY>` (double underscore between levels, as config-rs and
//! figment do), e.g. `SUTURE_LEDGER=postgres://...`, `SUTURE_POLICY__MAX_OPEN_PRS=5`,
//! `SUTURE_WEBHOOKS__GITHUB_SECRET_FILES=[/run/a, /run/b]`. Values are read as YAML scalars or
//! flow sequences, and override the file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::forge::webhook::Secret;

/// The file as written (and as the environment overrides it). Durations are text (`24h`, `7d`).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address the webhook/API server listens on.
    pub listen: String,
    /// `sqlite://PATH` or `postgres://...`.
    pub ledger: String,
    pub cluster: ClusterConfig,
    pub argocd: ArgoConfig,
    pub git: GitConfig,
    pub forges: Vec<ForgeConfig>,
    pub webhooks: WebhookConfig,
    pub policy: PolicyConfig,
    pub api: ApiConfig,
    pub notify: NotifyConfig,
    /// A directory whose templates override the bundled ones (same file names).
    pub templates_dir: Option<PathBuf>,
    /// Only for a simulated world running faster than the wall clock (`suture sim` writes it):
    /// suture then reads the world's time, so windows and expiries agree with its timestamps.
    pub clock: Option<ClockConfig>,
    /// The Prometheus that evaluates an alert's own expression during verification; unset,
    /// alert expressions are not evaluated.
    pub prometheus: Option<PrometheusConfig>,
}

/// Where alert expressions are evaluated (`GET /api/v1/query_range`).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PrometheusConfig {
    /// The API's base, `http(s)://host:9090` (or with a path prefix).
    pub url: String,
    /// An `Authorization: Bearer` token (a proxy in front of Prometheus), read from this file.
    #[serde(default)]
    pub bearer_token_file: Option<PathBuf>,
    /// Each query gives up after this long.
    #[serde(default = "default_prometheus_timeout")]
    pub timeout: String,
}

fn default_prometheus_timeout() -> String {
    "10s".into()
}

/// A world clock running `speed` times the wall clock: at wall time `wall_origin` it was
/// `origin` there.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ClockConfig {
    pub origin: String,
    pub wall_origin: String,
    pub speed: f64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "0.0.0.0:8080".into(),
            ledger: "sqlite://suture.db".into(),
            cluster: ClusterConfig::default(),
            argocd: ArgoConfig::default(),
            git: GitConfig::default(),
            forges: Vec::new(),
            webhooks: WebhookConfig::default(),
            policy: PolicyConfig::default(),
            api: ApiConfig::default(),
            notify: NotifyConfig::default(),
            templates_dir: None,
            clock: None,
            prometheus: None,
        }
    }
}

/// The cluster whose workloads suture watches.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterConfig {
    /// The cluster's name in incident keys (`<cluster>/<namespace>/<kind>/<name>/<fault>`).
    pub name: String,
    /// A kubeconfig file; unset: in-cluster service account, then `$KUBECONFIG`.
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            name: "default".into(),
            kubeconfig: None,
            context: None,
        }
    }
}

/// Where the Argo CD Applications live: the workload cluster unless a kubeconfig is given
/// (Argo CD often runs in a management cluster).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ArgoConfig {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    /// The control-plane namespace (apps elsewhere are named `<ns>_<name>`).
    pub namespace: String,
    /// argocd-cm `application.instanceLabelKey`.
    pub instance_label_key: String,
    /// How long a pause lasts before suture resumes sync by itself.
    pub pause_ttl: String,
}

impl Default for ArgoConfig {
    fn default() -> Self {
        ArgoConfig {
            kubeconfig: None,
            context: None,
            namespace: "argocd".into(),
            instance_label_key: "app.kubernetes.io/instance".into(),
            pause_ttl: "24h".into(),
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct GitConfig {
    pub author_name: String,
    pub author_email: String,
    /// Where the cached mirrors live.
    pub cache_dir: PathBuf,
}

impl Default for GitConfig {
    fn default() -> Self {
        GitConfig {
            author_name: "suture".into(),
            author_email: "suture@localhost".into(),
            cache_dir: PathBuf::from("suture-git"),
        }
    }
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ForgeKind {
    Github,
    Gitlab,
}

/// One forge host: which API it speaks and how suture authenticates.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ForgeConfig {
    /// The host of repository URLs served by this forge (`github.com`, `gitlab.example.com`).
    pub host: String,
    pub kind: ForgeKind,
    /// API base; default `https://api.github.com` or `https://<host>/api/v4`.
    #[serde(default)]
    pub api_url: Option<String>,
    /// A token (GitHub PAT, GitLab project or group access token), read from this file.
    #[serde(default)]
    pub token_file: Option<PathBuf>,
    /// GitHub App authentication instead of a token.
    #[serde(default)]
    pub app: Option<GithubAppConfig>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GithubAppConfig {
    pub app_id: u64,
    pub installation_id: u64,
    pub private_key_file: PathBuf,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookConfig {
    /// GitHub webhook secrets, one per file; several are accepted at once for rotation.
    pub github_secret_files: Vec<PathBuf>,
    /// GitLab `X-Gitlab-Token` values, one per file.
    pub gitlab_token_files: Vec<PathBuf>,
    /// Alertmanager `http_config.authorization` bearer tokens, one per file.
    pub alertmanager_token_files: Vec<PathBuf>,
    /// Requests with larger bodies are refused with 413.
    pub max_body_bytes: u64,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            github_secret_files: Vec::new(),
            gitlab_token_files: Vec::new(),
            alertmanager_token_files: Vec::new(),
            // GitHub caps payloads at 25 MB; PR events are a few tens of KB.
            max_body_bytes: 1024 * 1024,
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyConfig {
    /// Only these namespaces (empty: all).
    pub include_namespaces: Vec<String>,
    pub exclude_namespaces: Vec<String>,
    /// Kinds suture never edits.
    pub forbidden_kinds: Vec<String>,
    /// Renovate's defaults: at most 10 open, 2 new per hour.
    pub max_open_prs: u32,
    pub max_new_prs_per_hour: u32,
    /// Everything but the writes; each write is logged as a hop instead.
    pub dry_run: bool,
    /// After a PR is closed unmerged, the same fix is not proposed again for this long.
    pub declined_cooldown: String,
    /// At most one recurrence comment per incident this often.
    pub comment_interval: String,
    /// How long the workload is watched after the merge is deployed.
    pub verification_window: String,
    /// How long after the resume Argo CD has to deploy the merge commit.
    pub deploy_timeout: String,
    /// Merge suture's own revert PR of a regressed fix without waiting for a reviewer.
    pub auto_merge_reverts: bool,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig {
            include_namespaces: Vec::new(),
            exclude_namespaces: vec!["kube-system".into()],
            forbidden_kinds: Vec::new(),
            max_open_prs: 10,
            max_new_prs_per_hour: 2,
            dry_run: false,
            declined_cooldown: "7d".into(),
            comment_interval: "1h".into(),
            verification_window: "10m".into(),
            deploy_timeout: "15m".into(),
            auto_merge_reverts: false,
        }
    }
}

/// The incident API.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    /// The bearer token `POST /api/incidents/{key}/ack` requires; unset, every ack is refused.
    pub ack_token_file: Option<PathBuf>,
    /// Where people reach suture (`https://suture.example.com`), for links in notifications.
    pub public_url: Option<String>,
}

/// Where escalations are sent, and how often they repeat until acknowledged.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct NotifyConfig {
    /// A Slack (or compatible) incoming-webhook URL, read from this file: the URL is the secret.
    pub slack_webhook_url_file: Option<PathBuf>,
    /// A generic JSON webhook URL, read from this file (it may hold a token).
    pub webhook_url_file: Option<PathBuf>,
    /// An `Authorization: Bearer` token for the generic webhook.
    pub webhook_token_file: Option<PathBuf>,
    /// An unacknowledged escalation is sent again this often.
    pub repeat_every: String,
    /// Other intervals for some namespaces (the first matching entry wins).
    pub overrides: Vec<NotifyOverride>,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig {
            slack_webhook_url_file: None,
            webhook_url_file: None,
            webhook_token_file: None,
            repeat_every: "10m".into(),
            overrides: Vec::new(),
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NotifyOverride {
    /// Namespace names or globs (`prod-*`).
    pub namespaces: Vec<String>,
    pub repeat_every: String,
}

/// One problem found in a configuration.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct ConfigIssue {
    /// Dotted key path (`policy.max_open_prs`), or the environment variable that set it.
    pub key: String,
    pub message: String,
}

/// Everything wrong with a configuration, reported together.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{} configuration problem(s):\n{}", .0.len(), .0.iter().map(|i| format!("  - {i}")).collect::<Vec<_>>().join("\n"))]
pub struct ConfigErrors(pub Vec<ConfigIssue>);

/// A secret with where it came from (for messages; the content is never shown).
#[derive(Clone, Debug)]
pub struct LoadedSecret {
    pub file: PathBuf,
    pub secret: Secret,
}

/// A GitHub App's ids and its private key (an RSA key in PEM, checked to parse).
#[derive(Clone, Debug)]
pub struct LoadedApp {
    pub app_id: u64,
    pub installation_id: u64,
    pub private_key: LoadedSecret,
}

/// A validated configuration with its secrets read.
#[derive(Clone, Debug)]
pub struct Settings {
    pub config: Config,
    pub pause_ttl: jiff::SignedDuration,
    pub declined_cooldown: jiff::SignedDuration,
    pub comment_interval: jiff::SignedDuration,
    pub verification_window: jiff::SignedDuration,
    pub deploy_timeout: jiff::SignedDuration,
    pub github_secrets: Vec<LoadedSecret>,
    pub gitlab_tokens: Vec<LoadedSecret>,
    pub alertmanager_tokens: Vec<LoadedSecret>,
    /// Forge tokens by host.
    pub forge_tokens: BTreeMap<String, LoadedSecret>,
    /// GitHub App credentials by host (`forges[].app`), the private key read and checked.
    pub forge_apps: BTreeMap<String, LoadedApp>,
    /// `api.ack_token_file`.
    pub ack_token: Option<LoadedSecret>,
    /// `notify.slack_webhook_url_file`, checked to hold an http(s) URL.
    pub slack_webhook_url: Option<LoadedSecret>,
    /// `notify.webhook_url_file`, checked likewise.
    pub webhook_url: Option<LoadedSecret>,
    pub webhook_token: Option<LoadedSecret>,
    pub repeat_every: jiff::SignedDuration,
    /// `notify.overrides`: (namespace globs, interval), first match wins.
    pub repeat_overrides: Vec<(Vec<String>, jiff::SignedDuration)>,
    /// The clock the live loop reads (the wall clock unless `clock:` is set).
    pub clock: crate::clock::Clock,
    /// `prometheus:`, ready for [`crate::prometheus::Prometheus::from_settings`]; `None`: alert
    /// expressions are not evaluated.
    pub prometheus: Option<PrometheusSettings>,
}

/// A validated `prometheus:` section with its token read.
#[derive(Clone)]
pub struct PrometheusSettings {
    /// An http(s) URL with a host (it may hold credentials: never logged).
    pub url: reqwest::Url,
    pub bearer_token: Option<LoadedSecret>,
    pub timeout: std::time::Duration,
}

impl std::fmt::Debug for PrometheusSettings {
    /// The URL's scheme, host and port only (its user info may be a credential).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrometheusSettings")
            .field("url", &self.url.origin().ascii_serialization())
            .field("bearer_token", &self.bearer_token)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl Settings {
    /// Whether any webhook can be authenticated (serve refuses to start otherwise, unless told
    /// `--insecure-webhooks`).
    pub fn has_webhook_secret(&self) -> bool {
        !(self.github_secrets.is_empty()
            && self.gitlab_tokens.is_empty()
            && self.alertmanager_tokens.is_empty())
    }
}

const ENV_PREFIX: &str = "SUTURE_";

/// Load `file` (or only defaults and the environment), apply `env` overrides, validate, and
/// read every secret file. All problems are returned together.
pub fn load(
    text: Option<&str>,
    env: impl IntoIterator<Item = (String, String)>,
    base_dir: &Path,
) -> Result<Settings, ConfigErrors> {
    let mut issues = Vec::new();
    let mut tree = match text {
        Some(t) if !t.trim().is_empty() => match serde_saphyr::from_str::<Value>(t) {
            Ok(Value::Null) => Value::Object(Default::default()),
            Ok(v @ Value::Object(_)) => v,
            Ok(_) => {
                return Err(ConfigErrors(vec![issue(
                    "(file)",
                    "must be a mapping of keys",
                )]));
            }
            Err(e) => {
                return Err(ConfigErrors(vec![issue(
                    "(file)",
                    &format!("invalid YAML: {e}"),
                )]));
            }
        },
        _ => Value::Object(Default::default()),
    };
    let known = serde_json::to_value(Config::default()).unwrap_or(Value::Null);
    let mut origin: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in env {
        let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        let path: Vec<String> = rest.split("__").map(|p| p.to_ascii_lowercase()).collect();
        if path.iter().any(String::is_empty) {
            issues.push(issue(&name, "empty key segment"));
            continue;
        }
        // Text keys take the value as it is (`1.10` stays a string); others read it as YAML.
        let text_key = matches!(
            known.pointer(&format!("/{}", path.join("/"))),
            Some(Value::String(_) | Value::Null)
        );
        let parsed = if text_key {
            Value::String(value)
        } else {
            serde_saphyr::from_str::<Value>(&value).unwrap_or(Value::String(value))
        };
        set_path(&mut tree, &path, parsed);
        origin.insert(path.join("."), name);
    }
    unknown_keys(&tree, &known, "", &origin, &mut issues);
    let config = match serde_json::from_value::<Config>(tree.clone()) {
        Ok(c) => Some(c),
        Err(_) => {
            // Find every bad value: try each one alone against the defaults.
            type_errors(&tree, &known, &mut Vec::new(), &origin, &mut issues);
            None
        }
    };
    let Some(config) = config else {
        return Err(ConfigErrors(issues));
    };
    let settings = validate(config, base_dir, &origin, &mut issues);
    if issues.is_empty() {
        settings.ok_or(ConfigErrors(issues))
    } else {
        Err(ConfigErrors(issues))
    }
}

fn issue(key: &str, message: &str) -> ConfigIssue {
    ConfigIssue {
        key: key.to_string(),
        message: message.to_string(),
    }
}

fn named(path: &str, origin: &BTreeMap<String, String>) -> String {
    match origin.get(path) {
        Some(var) => format!("{path} (from {var})"),
        None => path.to_string(),
    }
}

fn set_path(tree: &mut Value, path: &[String], value: Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut node = tree;
    for p in parents {
        if !node.get(p).is_some_and(Value::is_object) {
            node[p.as_str()] = Value::Object(Default::default());
        }
        node = &mut node[p.as_str()];
    }
    node[last.as_str()] = value;
}

fn unknown_keys(
    tree: &Value,
    known: &Value,
    prefix: &str,
    origin: &BTreeMap<String, String>,
    issues: &mut Vec<ConfigIssue>,
) {
    let (Value::Object(given), Value::Object(expected)) = (tree, known) else {
        return;
    };
    for (k, v) in given {
        let path = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match expected.get(k) {
            None => {
                let mut names: Vec<&str> = expected.keys().map(String::as_str).collect();
                names.sort_unstable();
                issues.push(issue(
                    &named(&path, origin),
                    &format!("unknown key (known here: {})", names.join(", ")),
                ));
            }
            Some(sub) => unknown_keys(v, sub, &path, origin, issues),
        }
    }
}

/// Put each given leaf alone into the defaults and see whether it deserializes, so a file with
/// three bad values gets three messages (serde stops at the first).
fn type_errors(
    tree: &Value,
    known: &Value,
    path: &mut Vec<String>,
    origin: &BTreeMap<String, String>,
    issues: &mut Vec<ConfigIssue>,
) {
    match (tree, known) {
        (Value::Object(given), Value::Object(expected)) => {
            for (k, v) in given {
                if let Some(sub) = expected.get(k) {
                    path.push(k.clone());
                    type_errors(v, sub, path, origin, issues);
                    path.pop();
                }
            }
        }
        _ => {
            let mut probe = serde_json::to_value(Config::default()).unwrap_or(Value::Null);
            set_path(&mut probe, path, tree.clone());
            if let Err(e) = serde_json::from_value::<Config>(probe) {
                issues.push(issue(&named(&path.join("."), origin), &e.to_string()));
            }
        }
    }
}

fn duration(
    key: &str,
    text: &str,
    origin: &BTreeMap<String, String>,
    issues: &mut Vec<ConfigIssue>,
) -> jiff::SignedDuration {
    let parsed = text
        .parse::<jiff::Span>()
        .and_then(|span| span.to_duration(jiff::SpanRelativeTo::days_are_24_hours()));
    match parsed {
        Ok(d) if d.is_positive() => d,
        Ok(_) => {
            issues.push(issue(&named(key, origin), "must be a positive duration"));
            jiff::SignedDuration::ZERO
        }
        Err(e) => {
            issues.push(issue(
                &named(key, origin),
                &format!("not a duration like 24h, 7d or 90s ({e})"),
            ));
            jiff::SignedDuration::ZERO
        }
    }
}

/// Read a secret file: the whole content less one trailing newline (how `echo > file` and
/// Kubernetes Secret mounts leave it). Errors name the file, never the content.
fn read_secret(
    key: &str,
    file: &Path,
    base_dir: &Path,
    origin: &BTreeMap<String, String>,
    issues: &mut Vec<ConfigIssue>,
) -> Option<LoadedSecret> {
    let path = base_dir.join(file);
    match std::fs::read(&path) {
        Ok(mut bytes) => {
            if bytes.last() == Some(&b'\n') {
                bytes.pop();
                if bytes.last() == Some(&b'\r') {
                    bytes.pop();
                }
            }
            if bytes.is_empty() {
                issues.push(issue(
                    &named(key, origin),
                    &format!("{} is empty", path.display()),
                ));
                return None;
            }
            Some(LoadedSecret {
                file: path,
                secret: Secret::new(bytes),
            })
        }
        Err(e) => {
            issues.push(issue(
                &named(key, origin),
                &format!("cannot read {}: {}", path.display(), e.kind()),
            ));
            None
        }
    }
}

fn validate(
    config: Config,
    base_dir: &Path,
    origin: &BTreeMap<String, String>,
    issues: &mut Vec<ConfigIssue>,
) -> Option<Settings> {
    if config.listen.parse::<std::net::SocketAddr>().is_err() {
        issues.push(issue(
            &named("listen", origin),
            &format!("{:?} is not an address like 0.0.0.0:8080", config.listen),
        ));
    }
    if let Err(e) = crate::ledger::Dialect::of(&config.ledger) {
        issues.push(issue(&named("ledger", origin), &e.to_string()));
    }
    if config.cluster.name.is_empty() || config.cluster.name.contains('/') {
        issues.push(issue(
            &named("cluster.name", origin),
            "must be non-empty and contain no '/' (it is part of incident keys)",
        ));
    }
    if config.policy.max_open_prs == 0 {
        issues.push(issue(
            &named("policy.max_open_prs", origin),
            "must be at least 1 (use policy.dry_run to open none)",
        ));
    }
    for ns in &config.policy.include_namespaces {
        if config.policy.exclude_namespaces.contains(ns) {
            issues.push(issue(
                &named("policy.include_namespaces", origin),
                &format!("{ns} is also excluded"),
            ));
        }
    }
    let pause_ttl = duration("argocd.pause_ttl", &config.argocd.pause_ttl, origin, issues);
    let declined_cooldown = duration(
        "policy.declined_cooldown",
        &config.policy.declined_cooldown,
        origin,
        issues,
    );
    let comment_interval = duration(
        "policy.comment_interval",
        &config.policy.comment_interval,
        origin,
        issues,
    );
    let verification_window = duration(
        "policy.verification_window",
        &config.policy.verification_window,
        origin,
        issues,
    );
    let deploy_timeout = duration(
        "policy.deploy_timeout",
        &config.policy.deploy_timeout,
        origin,
        issues,
    );
    let secrets = |key: &str, files: &[PathBuf], issues: &mut Vec<ConfigIssue>| {
        files
            .iter()
            .filter_map(|f| read_secret(key, f, base_dir, origin, issues))
            .collect::<Vec<_>>()
    };
    let github_secrets = secrets(
        "webhooks.github_secret_files",
        &config.webhooks.github_secret_files,
        issues,
    );
    let gitlab_tokens = secrets(
        "webhooks.gitlab_token_files",
        &config.webhooks.gitlab_token_files,
        issues,
    );
    let alertmanager_tokens = secrets(
        "webhooks.alertmanager_token_files",
        &config.webhooks.alertmanager_token_files,
        issues,
    );
    let mut forge_tokens = BTreeMap::new();
    let mut forge_apps = BTreeMap::new();
    let mut hosts = std::collections::BTreeSet::new();
    for (i, forge) in config.forges.iter().enumerate() {
        let key = format!("forges[{i}]");
        if forge.host.is_empty() || forge.host.contains('/') {
            issues.push(issue(&key, "host must be a bare host name like github.com"));
        }
        if !hosts.insert(forge.host.clone()) {
            issues.push(issue(&key, &format!("host {} is listed twice", forge.host)));
        }
        match (&forge.token_file, &forge.app, forge.kind) {
            (Some(_), Some(_), _) => issues.push(issue(&key, "set token_file or app, not both")),
            (None, None, _) => issues.push(issue(&key, "needs token_file (or app for GitHub)")),
            (None, Some(_), ForgeKind::Gitlab) => {
                issues.push(issue(&key, "GitHub App authentication is for GitHub only"))
            }
            (Some(file), None, _) => {
                if let Some(s) =
                    read_secret(&format!("{key}.token_file"), file, base_dir, origin, issues)
                {
                    forge_tokens.insert(forge.host.clone(), s);
                }
            }
            (None, Some(app), ForgeKind::Github) => {
                if let Some(s) = read_secret(
                    &format!("{key}.app.private_key_file"),
                    &app.private_key_file,
                    base_dir,
                    origin,
                    issues,
                ) {
                    // Checked now, so a wrong file stops suture at start rather than at the
                    // first pull request. The key itself is never shown.
                    match crate::forge::github::app_key(s.secret.expose()) {
                        Some(_) => {
                            forge_apps.insert(
                                forge.host.clone(),
                                LoadedApp {
                                    app_id: app.app_id,
                                    installation_id: app.installation_id,
                                    private_key: s,
                                },
                            );
                        }
                        None => issues.push(issue(
                            &named(&format!("{key}.app.private_key_file"), origin),
                            &format!(
                                "{} is not an RSA private key in PEM form (the .pem file \
                                 GitHub generates for the App)",
                                s.file.display()
                            ),
                        )),
                    }
                }
                if app.app_id == 0 || app.installation_id == 0 {
                    issues.push(issue(
                        &format!("{key}.app"),
                        "app_id and installation_id are GitHub's numeric ids (not 0)",
                    ));
                }
            }
        }
    }
    let optional_secret = |key: &str, file: &Option<PathBuf>, issues: &mut Vec<ConfigIssue>| {
        file.as_ref()
            .and_then(|f| read_secret(key, f, base_dir, origin, issues))
    };
    let ack_token = optional_secret("api.ack_token_file", &config.api.ack_token_file, issues);
    let url_secret = |key: &str, file: &Option<PathBuf>, issues: &mut Vec<ConfigIssue>| {
        let loaded = optional_secret(key, file, issues)?;
        if is_http_url(loaded.secret.expose()) {
            Some(loaded)
        } else {
            // The file is named, its content (a URL with a token in it) is not.
            issues.push(issue(
                &named(key, origin),
                &format!("{} does not hold an http(s) URL", loaded.file.display()),
            ));
            None
        }
    };
    let slack_webhook_url = url_secret(
        "notify.slack_webhook_url_file",
        &config.notify.slack_webhook_url_file,
        issues,
    );
    let webhook_url = url_secret(
        "notify.webhook_url_file",
        &config.notify.webhook_url_file,
        issues,
    );
    let webhook_token = optional_secret(
        "notify.webhook_token_file",
        &config.notify.webhook_token_file,
        issues,
    );
    if webhook_token.is_some() && config.notify.webhook_url_file.is_none() {
        issues.push(issue(
            &named("notify.webhook_token_file", origin),
            "is set without notify.webhook_url_file",
        ));
    }
    if let Some(url) = &config.api.public_url
        && !is_http_url(url.as_bytes())
    {
        issues.push(issue(
            &named("api.public_url", origin),
            &format!("{url:?} is not an http(s) URL"),
        ));
    }
    let repeat_every = duration(
        "notify.repeat_every",
        &config.notify.repeat_every,
        origin,
        issues,
    );
    let mut repeat_overrides = Vec::new();
    for (i, o) in config.notify.overrides.iter().enumerate() {
        let key = format!("notify.overrides[{i}]");
        for pattern in &o.namespaces {
            if let Err(e) = globset::Glob::new(pattern) {
                issues.push(issue(&key, &format!("namespace pattern {pattern:?}: {e}")));
            }
        }
        let every = duration(
            &format!("{key}.repeat_every"),
            &o.repeat_every,
            origin,
            issues,
        );
        repeat_overrides.push((o.namespaces.clone(), every));
    }
    let clock = match &config.clock {
        None => crate::clock::Clock::System,
        Some(c) => {
            let mut stamp = |key: &str, text: &str| match text.parse::<jiff::Timestamp>() {
                Ok(t) => Some(t),
                Err(_) => {
                    issues.push(issue(
                        &named(key, origin),
                        &format!("{text:?} is not an RFC 3339 timestamp"),
                    ));
                    None
                }
            };
            let (at, wall) = (
                stamp("clock.origin", &c.origin),
                stamp("clock.wall_origin", &c.wall_origin),
            );
            if !(c.speed.is_finite() && c.speed > 0.0) {
                issues.push(issue(
                    &named("clock.speed", origin),
                    "must be a positive number",
                ));
            }
            match (at, wall) {
                (Some(origin), Some(wall_origin)) => crate::clock::Clock::Scaled {
                    origin,
                    wall_origin,
                    speed: c.speed,
                },
                _ => crate::clock::Clock::System,
            }
        }
    };
    let prometheus = config.prometheus.as_ref().and_then(|p| {
        let url = reqwest::Url::parse(p.url.trim())
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
        if url.is_none() {
            // The value may carry user:password; say what is wrong, not what it is.
            issues.push(issue(
                &named("prometheus.url", origin),
                "is not an http(s) URL like http://prometheus:9090",
            ));
        }
        let bearer_token =
            optional_secret("prometheus.bearer_token_file", &p.bearer_token_file, issues);
        let timeout = duration("prometheus.timeout", &p.timeout, origin, issues);
        Some(PrometheusSettings {
            url: url?,
            bearer_token,
            timeout: timeout.unsigned_abs(),
        })
    });
    Some(Settings {
        config,
        pause_ttl,
        declined_cooldown,
        comment_interval,
        verification_window,
        deploy_timeout,
        github_secrets,
        gitlab_tokens,
        alertmanager_tokens,
        forge_tokens,
        forge_apps,
        ack_token,
        slack_webhook_url,
        webhook_url,
        webhook_token,
        repeat_every,
        repeat_overrides,
        clock,
        prometheus,
    })
}

fn is_http_url(bytes: &[u8]) -> bool {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|s| reqwest::Url::parse(s.trim()).ok())
        .is_some_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
}

#[cfg(test)]
mod tests;
