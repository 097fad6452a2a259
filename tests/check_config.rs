//! `suture check-config` as an operator runs it.

use std::process::Command;

fn check(dir: &std::path::Path, file: &str, env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_suture"));
    cmd.args(["check-config", &dir.join(file).display().to_string()]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("suture runs")
}

#[test]
fn reports_every_problem_and_accepts_a_good_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("bad.yaml"),
        "listen: nowhere\npolicy: {max_open_prs: 0}\nwebhooks: {github_secret_files: [nope]}\n",
    )
    .expect("write");
    let out = check(dir.path(), "bad.yaml", &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("3 configuration problem(s)"), "{err}");
    for key in [
        "listen:",
        "policy.max_open_prs:",
        "webhooks.github_secret_files:",
    ] {
        assert!(err.contains(key), "{key} in {err}");
    }
    std::fs::write(dir.path().join("hook"), "s3cret\n").expect("write");
    std::fs::write(
        dir.path().join("good.yaml"),
        "cluster: {name: prod}\nwebhooks: {github_secret_files: [hook]}\n",
    )
    .expect("write");
    let out = check(
        dir.path(),
        "good.yaml",
        &[("SUTURE_LEDGER", "postgres://u:pw@db/x")],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("ok (cluster prod, ledger postgres"),
        "{stdout}"
    );
    assert!(!stdout.contains("pw"), "{stdout}");
    assert!(!stdout.contains("s3cret"), "{stdout}");
    // Without any webhook secret the operator is told serve will refuse.
    std::fs::write(dir.path().join("open.yaml"), "{}\n").expect("write");
    let out = check(dir.path(), "open.yaml", &[]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("--insecure-webhooks"));
    let out = check(dir.path(), "missing.yaml", &[]);
    assert_eq!(out.status.code(), Some(2));
}
