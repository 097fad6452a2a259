use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn keys(e: &ConfigErrors) -> Vec<String> {
    e.0.iter().map(|i| i.key.clone()).collect()
}

fn secrets_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    for (name, content) in files {
        let path = dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("{e}"));
        }
        std::fs::write(path, content).unwrap_or_else(|e| panic!("{e}"));
    }
    dir
}

#[test]
fn no_file_means_the_documented_defaults() {
    let s = load(None, env(&[]), Path::new(".")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.config, Config::default());
    assert_eq!(s.config.ledger, "sqlite://suture.db");
    assert_eq!(s.config.policy.max_open_prs, 10);
    assert_eq!(s.config.policy.max_new_prs_per_hour, 2);
    assert_eq!(s.pause_ttl, jiff::SignedDuration::from_hours(24));
    assert_eq!(
        s.declined_cooldown,
        jiff::SignedDuration::from_hours(7 * 24)
    );
    assert_eq!(s.comment_interval, jiff::SignedDuration::from_hours(1));
    assert!(!s.has_webhook_secret());
}

#[test]
fn the_documented_example_loads_with_its_secrets() {
    let text = include_str!("../../docs/suture.example.yaml");
    let dir = secrets_dir(&[
        ("secrets/github-token", "ghp_example\n"),
        ("secrets/gitlab-token", "glpat-example"),
        ("secrets/github-webhook", "new-secret\n"),
        ("secrets/github-webhook-previous", "old-secret\r\n"),
        ("secrets/gitlab-webhook", "gl-hook"),
        ("secrets/alertmanager", "am-token"),
        ("secrets/ack-token", "ack\n"),
        (
            "secrets/slack-webhook-url",
            "https://hooks.slack.com/services/T0/B0/XYZ\n",
        ),
        (
            "secrets/escalation-webhook-url",
            "https://pager.example.com/hook",
        ),
        ("secrets/escalation-webhook-token", "pager-token"),
        ("secrets/prometheus-token", "prom-token"),
    ]);
    let s = load(Some(text), env(&[]), dir.path()).unwrap_or_else(|e| panic!("{e}"));
    assert!(s.ack_token.is_some() && s.slack_webhook_url.is_some());
    assert!(s.webhook_url.is_some() && s.webhook_token.is_some());
    assert_eq!(s.repeat_every, jiff::SignedDuration::from_mins(10));
    assert_eq!(
        s.repeat_overrides,
        vec![(
            vec!["prod-*".to_string()],
            jiff::SignedDuration::from_mins(5)
        )]
    );
    assert_eq!(s.config.cluster.name, "prod-eu-1");
    assert_eq!(s.config.forges.len(), 2);
    assert_eq!(s.config.forges[1].kind, ForgeKind::Gitlab);
    assert!(s.has_webhook_secret());
    assert_eq!(s.github_secrets.len(), 2);
    // The trailing newline a shell or a Secret mount leaves is not part of the secret.
    let body = b"{}";
    let sig = crate::forge::webhook::github_signature(&Secret::new("old-secret"), body);
    let accepted: Vec<Secret> = s.github_secrets.iter().map(|l| l.secret.clone()).collect();
    assert_eq!(
        crate::forge::webhook::verify_github(&accepted, Some(&sig), body),
        Ok(())
    );
    assert_eq!(
        s.forge_tokens.keys().collect::<Vec<_>>(),
        ["github.com", "gitlab.example.com"]
    );
    assert_eq!(s.config.policy.forbidden_kinds, ["DaemonSet"]);
    let prometheus = s
        .prometheus
        .as_ref()
        .unwrap_or_else(|| panic!("prometheus settings"));
    assert_eq!(
        prometheus.url.as_str(),
        "http://prometheus.monitoring:9090/"
    );
    assert!(prometheus.bearer_token.is_some());
    assert_eq!(prometheus.timeout, std::time::Duration::from_secs(10));
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = "
listen: nowhere
polcy: {}
policy:
  max_open_prs: ten
  max_new_prs_per_hour: -1
argocd:
  pause_ttl: soon
webhooks:
  github_secret_files: [missing-file]
";
    let e = load(Some(text), env(&[]), Path::new("/nonexistent"))
        .err()
        .unwrap_or_else(|| panic!("expected errors"));
    let k = keys(&e);
    assert!(k.contains(&"polcy".to_string()), "{e}");
    assert!(k.contains(&"policy.max_open_prs".to_string()), "{e}");
    assert!(
        k.contains(&"policy.max_new_prs_per_hour".to_string()),
        "{e}"
    );
    // Type errors stop the semantic checks, so fix them and the rest shows.
    let text = "
listen: nowhere
ledger: mysql://root:pw@db/x
cluster: {name: a/b}
policy: {max_open_prs: 0, include_namespaces: [kube-system], declined_cooldown: 0s}
argocd: {pause_ttl: soon}
webhooks: {github_secret_files: [missing-file]}
forges:
  - {host: github.com, kind: github}
  - {host: github.com, kind: github, token_file: t, app: {app_id: 1, installation_id: 2, private_key_file: k}}
  - {host: gitlab.com, kind: gitlab, app: {app_id: 1, installation_id: 2, private_key_file: k}}
";
    let e = load(Some(text), env(&[]), Path::new("/nonexistent"))
        .err()
        .unwrap_or_else(|| panic!("expected errors"));
    let k = keys(&e);
    for want in [
        "listen",
        "ledger",
        "cluster.name",
        "policy.max_open_prs",
        "policy.include_namespaces",
        "policy.declined_cooldown",
        "argocd.pause_ttl",
        "webhooks.github_secret_files",
        "forges[0]",
        "forges[1]",
        "forges[2]",
    ] {
        assert!(k.contains(&want.to_string()), "{want} missing from:\n{e}");
    }
    let text = e.to_string();
    assert!(text.contains("/nonexistent/missing-file"), "{text}");
    assert!(
        !text.contains("root:pw"),
        "the ledger password is not echoed: {text}"
    );
}

#[test]
fn unknown_keys_name_what_is_known() {
    let e = load(
        Some("policy:\n  max_open_pr: 3\n"),
        env(&[]),
        Path::new("."),
    )
    .err()
    .unwrap_or_else(|| panic!("expected errors"));
    assert_eq!(keys(&e), ["policy.max_open_pr"]);
    assert!(e.0[0].message.contains("max_open_prs"), "{e}");
}

#[test]
fn environment_overrides_the_file() {
    let dir = secrets_dir(&[("a", "one"), ("b", "two")]);
    let s = load(
        Some("ledger: sqlite://file.db\npolicy:\n  max_open_prs: 3\n"),
        env(&[
            ("SUTURE_LEDGER", "postgres://suture@127.0.0.1/suture"),
            ("SUTURE_POLICY__MAX_OPEN_PRS", "5"),
            ("SUTURE_POLICY__DRY_RUN", "true"),
            ("SUTURE_WEBHOOKS__GITHUB_SECRET_FILES", "[a, b]"),
            // A text key keeps the text: not the number 1.1.
            ("SUTURE_CLUSTER__NAME", "1.10"),
            ("PATH", "/usr/bin"),
        ]),
        dir.path(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.config.ledger, "postgres://suture@127.0.0.1/suture");
    assert_eq!(s.config.policy.max_open_prs, 5);
    assert!(s.config.policy.dry_run);
    assert_eq!(s.github_secrets.len(), 2);
    assert_eq!(s.config.cluster.name, "1.10");
    let e = load(
        None,
        env(&[
            ("SUTURE_POLICY__MAX_OPEN_PRS", "many"),
            ("SUTURE_NOPE", "1"),
        ]),
        dir.path(),
    )
    .err()
    .unwrap_or_else(|| panic!("expected errors"));
    let text = e.to_string();
    assert!(
        text.contains("policy.max_open_prs (from SUTURE_POLICY__MAX_OPEN_PRS)"),
        "{text}"
    );
    assert!(text.contains("nope (from SUTURE_NOPE)"), "{text}");
}

#[test]
fn secrets_stay_out_of_debug_and_errors() {
    let dir = secrets_dir(&[("hook", "hunter2\n"), ("empty", "\n")]);
    let s = load(
        Some("webhooks: {github_secret_files: [hook]}"),
        env(&[]),
        dir.path(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(!format!("{s:?}").contains("hunter2"));
    let e = load(
        Some("webhooks: {github_secret_files: [hook, empty]}"),
        env(&[]),
        dir.path(),
    )
    .err()
    .unwrap_or_else(|| panic!("an empty secret file is an error"));
    assert!(e.to_string().contains("empty is empty"), "{e}");
    assert!(!e.to_string().contains("hunter2"));
}

#[test]
fn malformed_files_are_one_clear_error() {
    for bad in ["listen: [", "- a\n- b\n", "42"] {
        let e = load(Some(bad), env(&[]), Path::new("."))
            .err()
            .unwrap_or_else(|| panic!("{bad:?} must fail"));
        assert_eq!(keys(&e), ["(file)"], "{bad:?}: {e}");
    }
}

#[test]
fn notify_urls_are_checked_without_being_shown() {
    let dir = secrets_dir(&[
        ("slack", "not a url with xoxb-secret\n"),
        ("hook", "https://pager.example.com/T0/secret-path"),
        ("token", "t"),
    ]);
    let text = "notify:\n  slack_webhook_url_file: slack\n  webhook_token_file: token\n  \
                repeat_every: soon\n  overrides: [{namespaces: ['[bad'], repeat_every: 0s}]\n\
                api: {public_url: 'ftp://x', ack_token_file: missing}\n";
    let e = load(Some(text), env(&[]), dir.path())
        .err()
        .unwrap_or_else(|| panic!("bad notify keys load"));
    assert_eq!(
        keys(&e),
        [
            "api.ack_token_file",
            "notify.slack_webhook_url_file",
            "notify.webhook_token_file",
            "api.public_url",
            "notify.repeat_every",
            "notify.overrides[0]",
            "notify.overrides[0].repeat_every",
        ],
        "{e}"
    );
    assert!(!e.to_string().contains("xoxb-secret"), "{e}");
    assert!(
        e.to_string().contains("does not hold an http(s) URL"),
        "{e}"
    );
    // Set by the environment, a good URL file loads; Debug never shows it.
    let s = load(
        None,
        env(&[
            ("SUTURE_NOTIFY__WEBHOOK_URL_FILE", "hook"),
            ("SUTURE_NOTIFY__REPEAT_EVERY", "2m"),
        ]),
        dir.path(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.repeat_every, jiff::SignedDuration::from_mins(2));
    assert!(!format!("{s:?}").contains("secret-path"));
}

#[test]
fn prometheus_is_off_by_default_and_validated_when_set() {
    let s = load(None, env(&[]), Path::new(".")).unwrap_or_else(|e| panic!("{e}"));
    assert!(s.prometheus.is_none());

    let dir = secrets_dir(&[("secrets/prometheus-token", "prom-token\n")]);
    let text = "
prometheus:
  url: https://prometheus.example.com/prom
  bearer_token_file: secrets/prometheus-token
  timeout: 5s
";
    let s = load(Some(text), env(&[]), dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let p = s
        .prometheus
        .as_ref()
        .unwrap_or_else(|| panic!("prometheus settings"));
    assert_eq!(p.url.as_str(), "https://prometheus.example.com/prom");
    assert_eq!(p.timeout, std::time::Duration::from_secs(5));
    let token = p
        .bearer_token
        .as_ref()
        .unwrap_or_else(|| panic!("bearer token"));
    assert_eq!(token.secret.expose(), b"prom-token");
    assert!(!format!("{s:?}").contains("prom-token"));
    let with_user = Settings {
        prometheus: Some(PrometheusSettings {
            url: reqwest::Url::parse("https://user:hunter2@prom.example.com/x")
                .unwrap_or_else(|e| panic!("{e}")),
            ..p.clone()
        }),
        ..s.clone()
    };
    assert!(!format!("{with_user:?}").contains("hunter2"));
    crate::prometheus::Prometheus::from_settings(p).unwrap_or_else(|e| panic!("{e}"));

    // The environment sets it too; the timeout has a default.
    let s = load(
        None,
        env(&[("SUTURE_PROMETHEUS__URL", "http://127.0.0.1:9090")]),
        Path::new("."),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let p = s
        .prometheus
        .unwrap_or_else(|| panic!("prometheus settings"));
    assert_eq!(p.timeout, crate::prometheus::DEFAULT_TIMEOUT);
    assert!(p.bearer_token.is_none());

    for (url, ok) in [
        ("ftp://prometheus:9090", false),
        ("prometheus:9090", false),
        ("not a url", false),
        ("http://", false),
        ("http://prometheus:9090", true),
    ] {
        let text = format!("prometheus:\n  url: \"{url}\"\n");
        let result = load(Some(&text), env(&[]), Path::new("."));
        match (result, ok) {
            (Ok(_), true) => {}
            (Err(e), false) => assert_eq!(keys(&e), ["prometheus.url"], "{url}: {e}"),
            (Ok(_), false) => panic!("{url} accepted"),
            (Err(e), true) => panic!("{url}: {e}"),
        }
    }

    // A missing token file, a bad timeout and an unknown key are reported.
    let text = "
prometheus:
  url: http://prometheus:9090
  bearer_token_file: secrets/missing
  timeout: soon
";
    let e = load(Some(text), env(&[]), dir.path())
        .err()
        .unwrap_or_else(|| panic!("expected errors"));
    assert_eq!(
        keys(&e),
        ["prometheus.bearer_token_file", "prometheus.timeout"],
        "{e}"
    );
    let text = "prometheus:\n  url: http://prometheus:9090\n  token: x\n";
    let e = load(Some(text), env(&[]), dir.path())
        .err()
        .unwrap_or_else(|| panic!("expected errors"));
    assert!(e.to_string().contains("token"), "{e}");
}

#[test]
fn github_app_key_is_read_checked_and_kept_apart_from_tokens() {
    let key = include_str!("../../tests/fixtures/github-app/app.private-key.pem");
    let public = include_str!("../../tests/fixtures/github-app/app.public-key.pem");
    let dir = secrets_dir(&[("app.pem", key), ("public.pem", public), ("t", "ghp_x")]);
    let text = "forges:
  - {host: github.com, kind: github, app: {app_id: 12, installation_id: 34, private_key_file: app.pem}}
  - {host: ghe.example.com, kind: github, token_file: t}
";
    let s = load(Some(text), env(&[]), dir.path()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        s.forge_tokens.keys().collect::<Vec<_>>(),
        ["ghe.example.com"]
    );
    let app = &s.forge_apps["github.com"];
    assert_eq!((app.app_id, app.installation_id), (12, 34));
    assert_eq!(app.private_key.secret.expose(), key.trim_end().as_bytes());

    let text = "forges:
  - {host: github.com, kind: github, app: {app_id: 0, installation_id: 34, private_key_file: public.pem}}
";
    let e = load(Some(text), env(&[]), dir.path())
        .err()
        .unwrap_or_else(|| panic!("a public key is no App key"));
    assert_eq!(
        keys(&e),
        ["forges[0].app.private_key_file", "forges[0].app"]
    );
    let shown = e.to_string();
    assert!(
        shown.contains("is not an RSA private key in PEM form"),
        "{shown}"
    );
    assert!(!shown.contains("BEGIN"), "{shown}");
}
