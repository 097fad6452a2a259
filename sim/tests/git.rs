//! The simulated Git remote driven by real clients: git2 and the system `git` over smart HTTP.

#[path = "git_support/mod.rs"]
mod support;

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Command, Stdio};

use suture_sim::Sim as _;
use suture_sim::git::{GitServer, MergeMethod, MergeOutcome, RepoStore, Tokens};

const TOKEN: &str = "ghs_simtoken";

fn remote() -> GitServer {
    let store = RepoStore::temp().unwrap();
    store.create("acme/gitops", "main").unwrap();
    store
        .commit_files(
            "acme/gitops",
            "main",
            [
                ("apps/web/deployment.yaml", "memory: 512Mi\n"),
                ("README.md", "hi\n"),
            ],
            "seed",
        )
        .unwrap();
    let tokens = Tokens::new();
    tokens.insert(TOKEN, "suture-bot");
    GitServer::start(store, tokens).unwrap()
}

#[test]
fn git2_clone_commit_push_fetch() {
    let srv = remote();
    let dir = tempfile::tempdir().unwrap();
    let repo = support::clone(&srv.repo_url("acme/gitops"), TOKEN, dir.path()).unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.path().join("apps/web/deployment.yaml")).unwrap(),
        "memory: 512Mi\n"
    );

    support::checkout_new_branch(&repo, "suture/oom/payments/web-1234abcd");
    let sha = support::commit(
        &repo,
        &[("apps/web/deployment.yaml", "memory: 640Mi\n")],
        "raise memory",
    );
    support::push(&repo, TOKEN, "suture/oom/payments/web-1234abcd").unwrap();

    let store = srv.store();
    assert_eq!(
        store
            .branch_sha("acme/gitops", "suture/oom/payments/web-1234abcd")
            .unwrap(),
        Some(sha.to_string())
    );
    assert_eq!(
        store
            .read_file(
                "acme/gitops",
                "suture/oom/payments/web-1234abcd",
                "apps/web/deployment.yaml"
            )
            .unwrap()
            .as_deref(),
        Some(&b"memory: 640Mi\n"[..])
    );

    // Someone else moves main; a fetch brings it.
    let new_main = store
        .commit_files("acme/gitops", "main", [("README.md", "hello\n")], "docs")
        .unwrap();
    support::fetch(&repo, TOKEN).unwrap();
    let fetched = repo
        .find_reference("refs/remotes/origin/main")
        .unwrap()
        .target()
        .unwrap();
    assert_eq!(fetched.to_string(), new_main);
}

#[test]
fn merge_of_a_pushed_branch_has_both_parents_and_is_fetchable() {
    let srv = remote();
    let dir = tempfile::tempdir().unwrap();
    let repo = support::clone(&srv.repo_url("acme/gitops"), TOKEN, dir.path()).unwrap();
    support::checkout_new_branch(&repo, "fix");
    let head = support::commit(
        &repo,
        &[("apps/web/deployment.yaml", "memory: 640Mi\n")],
        "fix",
    );
    support::push(&repo, TOKEN, "fix").unwrap();
    let store = srv.store();
    let base = store
        .commit_files(
            "acme/gitops",
            "main",
            [("README.md", "moved\n")],
            "moved on",
        )
        .unwrap();

    let MergeOutcome::Merged { sha } = store
        .merge(
            "acme/gitops",
            "main",
            "fix",
            MergeMethod::Merge,
            "Merge fix",
            "alice",
        )
        .unwrap()
    else {
        panic!("unexpected conflict")
    };
    support::fetch(&repo, TOKEN).unwrap();
    let merged = repo
        .find_reference("refs/remotes/origin/main")
        .unwrap()
        .peel_to_commit()
        .unwrap();
    assert_eq!(merged.id().to_string(), sha);
    let parents: Vec<String> = merged.parent_ids().map(|p| p.to_string()).collect();
    assert_eq!(parents, vec![base, head.to_string()]);
}

#[test]
fn git2_with_a_wrong_token_gets_an_auth_error() {
    let srv = remote();
    let dir = tempfile::tempdir().unwrap();
    let Err(err) = support::clone(&srv.repo_url("acme/gitops"), "wrong", dir.path()) else {
        panic!("clone with a wrong token succeeded")
    };
    // Our callback refuses the second ask, which only happens after a 401.
    assert!(err.message().contains("token refused"), "{err}");
}

#[test]
fn git2_push_with_a_revoked_token_fails() {
    let srv = remote();
    let dir = tempfile::tempdir().unwrap();
    let repo = support::clone(&srv.repo_url("acme/gitops"), TOKEN, dir.path()).unwrap();
    support::commit(&repo, &[("x", "1")], "x");
    srv.tokens().revoke(TOKEN);
    assert!(support::push(&repo, TOKEN, "main").is_err());
    assert!(
        srv.store()
            .read_file("acme/gitops", "main", "x")
            .unwrap()
            .is_none()
    );
}

#[test]
fn git_cli_clone_and_push_with_token_in_url() {
    let srv = remote();
    let dir = tempfile::tempdir().unwrap();
    let url = srv.repo_url_with_token("acme/gitops", TOKEN);
    support::git_ok(dir.path(), &["clone", "-q", &url, "wc"]);
    let wc = dir.path().join("wc");
    std::fs::write(wc.join("new.txt"), "from the cli\n").unwrap();
    support::git_ok(&wc, &["checkout", "-q", "-b", "cli-branch"]);
    support::git_ok(&wc, &["add", "new.txt"]);
    support::git_ok(&wc, &["commit", "-q", "-m", "cli"]);
    support::git_ok(&wc, &["push", "-q", "origin", "cli-branch"]);
    let sha = support::git_ok(&wc, &["rev-parse", "HEAD"]);
    assert_eq!(
        srv.store().branch_sha("acme/gitops", "cli-branch").unwrap(),
        Some(sha.trim().to_owned())
    );
}

#[test]
fn git_cli_with_a_credential_helper() {
    let srv = remote();
    let dir = tempfile::tempdir().unwrap();
    let helper = format!(
        "credential.helper=!f() {{ echo username=x-access-token; echo password={TOKEN}; }}; f"
    );
    support::git_ok(
        dir.path(),
        &[
            "-c",
            &helper,
            "clone",
            "-q",
            &srv.repo_url("acme/gitops"),
            "wc",
        ],
    );
    assert!(dir.path().join("wc/README.md").is_file());
}

#[test]
fn git_cli_with_a_wrong_token_is_refused() {
    let srv = remote();
    let dir = tempfile::tempdir().unwrap();
    let url = srv.repo_url_with_token("acme/gitops", "wrong");
    let out = support::git(dir.path(), &["clone", "-q", &url, "wc"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Authentication failed"), "{stderr}");

    // No credentials at all: the 401 challenge, and no prompt since the terminal is off.
    let out = support::git(
        dir.path(),
        &["clone", "-q", &srv.repo_url("acme/gitops"), "wc2"],
    );
    assert!(!out.status.success());
}

#[test]
fn unknown_repository_is_not_found() {
    let srv = remote();
    let dir = tempfile::tempdir().unwrap();
    let url = srv.repo_url_with_token("acme/nope", TOKEN);
    let out = support::git(dir.path(), &["clone", "-q", &url, "wc"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("not found") || stderr.contains("404"),
        "{stderr}"
    );
}

/// One raw HTTP/1.1 exchange; returns (status line, headers, body).
fn http(addr: std::net::SocketAddr, head: &str, body: &[u8]) -> (String, String, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let split = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let headers = String::from_utf8_lossy(&out[..split]).into_owned();
    let status = headers.lines().next().unwrap_or_default().to_owned();
    let mut body = out[split + 4..].to_vec();
    if headers
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    (status, headers, body)
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let eol = b.windows(2).position(|w| w == b"\r\n").unwrap();
        let n = usize::from_str_radix(std::str::from_utf8(&b[..eol]).unwrap().trim(), 16).unwrap();
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + n]);
        b = &b[eol + 2 + n + 2..];
    }
}

#[test]
fn gzip_request_bodies_are_inflated_like_git_sends_them() {
    let srv = remote();
    let main = srv
        .store()
        .branch_sha("acme/gitops", "main")
        .unwrap()
        .unwrap();
    // A protocol v0 upload-pack request: want main, done.
    let want = format!("want {main}\n");
    let request = format!(
        "{:04x}{want}0000{:04x}done\n",
        want.len() + 4,
        "done\n".len() + 4
    );
    let mut gz = Command::new("gzip")
        .arg("-c")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    gz.stdin
        .take()
        .unwrap()
        .write_all(request.as_bytes())
        .unwrap();
    let gzipped = gz.wait_with_output().unwrap().stdout;

    let auth = format!(
        "Basic {}",
        base64_encode(format!("x-access-token:{TOKEN}").as_bytes())
    );
    let head = format!(
        "POST /acme/gitops.git/git-upload-pack HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\n\
         Content-Type: application/x-git-upload-pack-request\r\nContent-Encoding: gzip\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        gzipped.len()
    );
    let (status, headers, body) = http(srv.addr(), &head, &gzipped);
    assert!(status.contains("200"), "{status}\n{headers}");
    assert!(
        headers
            .to_ascii_lowercase()
            .contains("content-type: application/x-git-upload-pack-result"),
        "{headers}"
    );
    assert!(
        body.starts_with(b"0008NAK\n"),
        "{:?}",
        String::from_utf8_lossy(&body[..body.len().min(40)])
    );
    assert!(body.windows(4).any(|w| w == b"PACK"));

    // The same request without credentials is challenged.
    let head = "GET /acme/gitops.git/info/refs?service=git-upload-pack HTTP/1.1\r\nHost: x\r\n\
                Connection: close\r\n\r\n";
    let (status, headers, _) = http(srv.addr(), head, b"");
    assert!(status.contains("401"), "{status}");
    assert!(
        headers
            .to_ascii_lowercase()
            .contains("www-authenticate: basic realm="),
        "{headers}"
    );
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[test]
fn paths_outside_the_root_are_refused() {
    let srv = remote();
    let auth = format!(
        "Basic {}",
        base64_encode(format!("x-access-token:{TOKEN}").as_bytes())
    );
    for path in [
        "/../../etc/passwd",
        "/acme/../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/acme/gitops.git/../../../etc/passwd",
        "/acme/gitops.git/config",
    ] {
        let head = format!(
            "GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\nConnection: close\r\n\r\n"
        );
        let (status, _, body) = http(srv.addr(), &head, b"");
        assert!(!status.contains(" 200"), "{path}: {status}");
        assert!(!String::from_utf8_lossy(&body).contains("root:"), "{path}");
    }
}

#[test]
fn a_large_push_is_streamed_chunked() {
    let srv = remote();
    let dir = tempfile::tempdir().unwrap();
    let url = srv.repo_url_with_token("acme/gitops", TOKEN);
    support::git_ok(dir.path(), &["clone", "-q", &url, "wc"]);
    let wc = dir.path().join("wc");
    // 3 MiB that does not compress: above git's 1 MiB http.postBuffer, so the pack goes out
    // with chunked transfer encoding and no Content-Length.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let blob: Vec<u8> = (0..3 * 1024 * 1024)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    std::fs::write(wc.join("big.bin"), &blob).unwrap();
    support::git_ok(&wc, &["add", "big.bin"]);
    support::git_ok(&wc, &["commit", "-q", "-m", "big"]);
    support::git_ok(&wc, &["push", "-q", "origin", "HEAD:refs/heads/big"]);
    assert_eq!(
        srv.store()
            .read_file("acme/gitops", "big", "big.bin")
            .unwrap(),
        Some(blob)
    );
}
