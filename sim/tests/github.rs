//! The GitHub simulator driven by GitHub's real client (octocrab) and by git2 pushes, with a
//! webhook receiver that checks signatures and the payload shape against the fixtures.

#[path = "payload_support/mod.rs"]
mod payload_support;
#[path = "git_support/mod.rs"]
mod support;

use std::time::Duration;

use axum::body::Bytes;
use axum::http::HeaderMap;
use hmac::{Hmac, Mac};
use octocrab::Octocrab;
use octocrab::params::repos::Reference;
use serde_json::Value;
use sha2::Sha256;
use suture_sim::github::{Fault, GitHubSim};
use tokio::sync::mpsc;

const TOKEN: &str = "ghs_suture_bot";
const HUMAN_TOKEN: &str = "ghp_alice";
const SECRET: &str = "It's a Secret to Everybody";
const REPO: &str = "acme/gitops";
const BRANCH: &str = "suture/oom-killed/payments/checkout-api-1a2b3c4d";

fn fixture(name: &str) -> Value {
    payload_support::fixture("github-webhooks", name)
}

/// A simulator with one seeded repository and a bot token.
fn sim() -> GitHubSim {
    let sim = GitHubSim::start().unwrap();
    sim.add_token(TOKEN, "suture-bot");
    sim.add_token(HUMAN_TOKEN, "alice");
    sim.create_repo(REPO, "main").unwrap();
    sim.store()
        .commit_files(
            REPO,
            "main",
            [
                ("apps/checkout-api/deployment.yaml", "memory: 512Mi\n"),
                ("README.md", "gitops\n"),
            ],
            "seed",
        )
        .unwrap();
    sim
}

fn client(sim: &GitHubSim, token: &str) -> Octocrab {
    Octocrab::builder()
        .base_uri(sim.api_url())
        .unwrap()
        .personal_token(token.to_owned())
        .build()
        .unwrap()
}

/// Push `BRANCH` with one change through git2, as suture does; returns the head sha.
fn push_fix(sim: &GitHubSim, content: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let repo = support::clone(&sim.clone_url(REPO), TOKEN, dir.path()).unwrap();
    support::checkout_new_branch(&repo, BRANCH);
    let sha = support::commit(
        &repo,
        &[("apps/checkout-api/deployment.yaml", content)],
        "raise memory",
    );
    support::push(&repo, TOKEN, BRANCH).unwrap();
    sha.to_string()
}

use payload_support::Received;

/// A webhook receiver on 127.0.0.1:0 in the test's runtime.
async fn receiver() -> (String, mpsc::UnboundedReceiver<Received>) {
    payload_support::receiver("/hooks/github").await
}

/// The next delivery whose `/action` is `action`, skipping others.
async fn next_event(rx: &mut mpsc::UnboundedReceiver<Received>, action: &str) -> Received {
    payload_support::next_event(rx, "/action", action).await
}

/// Checked independently of the simulator's own signing code.
fn valid_signature(r: &Received) -> bool {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(&r.body);
    let want: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    r.header("x-hub-signature-256") == format!("sha256={want}")
}

fn github_error(e: &octocrab::Error) -> &octocrab::GitHubError {
    match e {
        octocrab::Error::GitHub { source, .. } => source,
        other => panic!("not a GitHub error: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_request_lifecycle_through_octocrab_ends_in_a_signed_merge_webhook() {
    let sim = sim();
    let (url, mut hooks) = receiver().await;
    sim.add_webhook(&url, SECRET);
    let gh = client(&sim, TOKEN);

    let repo = gh.repos("acme", "gitops").get().await.unwrap();
    assert_eq!(repo.full_name.as_deref(), Some(REPO));
    assert_eq!(repo.default_branch.as_deref(), Some("main"));
    assert_eq!(
        repo.clone_url.as_ref().map(|u| u.to_string()),
        Some(sim.clone_url(REPO))
    );

    // suture looks for an existing PR by head before any Git work.
    let head = format!("acme:{BRANCH}");
    let existing = gh
        .pulls("acme", "gitops")
        .list()
        .state(octocrab::params::State::Open)
        .head(head.clone())
        .base("main")
        .send()
        .await
        .unwrap();
    assert!(existing.items.is_empty());

    let head_sha = push_fix(&sim, "memory: 640Mi\n");
    let pr = gh
        .pulls("acme", "gitops")
        .create(
            "fix(payments/checkout-api): raise memory limit 512Mi -> 640Mi",
            BRANCH,
            "main",
        )
        .body("## Root cause\nOOMKilled")
        .draft(false)
        .send()
        .await
        .unwrap();
    assert_eq!(pr.number, 1);
    assert_eq!(pr.head.ref_field, BRANCH);
    assert_eq!(pr.head.sha, head_sha);
    assert_eq!(pr.base.ref_field, "main");
    assert_eq!(pr.mergeable, Some(true));
    assert_eq!(pr.merged, Some(false));
    assert!(
        pr.html_url
            .as_ref()
            .is_some_and(|u| u.as_str().ends_with("/acme/gitops/pull/1"))
    );
    assert_eq!(
        pr.user.as_ref().map(|u| u.login.as_str()),
        Some("suture-bot")
    );

    let found = gh
        .pulls("acme", "gitops")
        .list()
        .state(octocrab::params::State::Open)
        .head(head)
        .send()
        .await
        .unwrap();
    assert_eq!(found.items.len(), 1);
    assert_eq!(found.items[0].number, 1);
    let other_head = gh
        .pulls("acme", "gitops")
        .list()
        .head("acme:someone-else")
        .send()
        .await
        .unwrap();
    assert!(other_head.items.is_empty());
    // As on GitHub, a head without `owner:` is ignored: it lists every PR.
    let bare_head = gh
        .pulls("acme", "gitops")
        .list()
        .head("someone-else")
        .send()
        .await
        .unwrap();
    assert_eq!(bare_head.items.len(), 1);

    let labels = gh
        .issues("acme", "gitops")
        .add_labels(1, &["suture".to_owned(), "fault/oom-killed".to_owned()])
        .await
        .unwrap();
    let names: Vec<_> = labels.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["suture", "fault/oom-killed"]);
    gh.issues("acme", "gitops")
        .create_comment(1, "Second occurrence at 12:05")
        .await
        .unwrap();
    let comments = gh
        .issues("acme", "gitops")
        .list_comments(1)
        .send()
        .await
        .unwrap();
    assert_eq!(comments.items.len(), 1);
    assert_eq!(
        comments.items[0].body.as_deref(),
        Some("Second occurrence at 12:05")
    );
    assert_eq!(sim.labels(REPO, 1), ["suture", "fault/oom-killed"]);
    assert_eq!(sim.comments(REPO, 1)[0].user, "suture-bot");

    // main moves on, so the merge is a real two-parent merge.
    let base_tip = sim
        .store()
        .commit_files(REPO, "main", [("README.md", "gitops v2\n")], "docs")
        .unwrap();
    let merged = client(&sim, HUMAN_TOKEN)
        .pulls("acme", "gitops")
        .merge(1)
        .method(octocrab::params::pulls::MergeMethod::Merge)
        .sha(head_sha.clone())
        .send()
        .await
        .unwrap();
    assert!(merged.merged);
    let merge_sha = merged.sha.unwrap();
    let commit = sim.store().commit_info(REPO, &merge_sha).unwrap();
    assert_eq!(commit.parents, vec![base_tip, head_sha.clone()]);
    assert_eq!(
        sim.store().branch_sha(REPO, "main").unwrap(),
        Some(merge_sha.clone())
    );
    assert_eq!(
        sim.store()
            .read_file(REPO, "main", "apps/checkout-api/deployment.yaml")
            .unwrap()
            .as_deref(),
        Some(&b"memory: 640Mi\n"[..])
    );

    let hook = next_event(&mut hooks, "closed").await;
    assert!(valid_signature(&hook), "bad signature");
    assert_eq!(hook.header("x-github-event"), "pull_request");
    assert_eq!(hook.header("content-type"), "application/json");
    assert!(hook.header("user-agent").starts_with("GitHub-Hookshot/"));
    let delivery = hook.header("x-github-delivery");
    assert!(uuid::Uuid::parse_str(delivery).is_ok(), "{delivery}");
    let payload = hook.json();
    assert_eq!(payload["pull_request"]["merged"], true);
    assert_eq!(
        payload["pull_request"]["merge_commit_sha"],
        merge_sha.as_str()
    );
    assert_eq!(payload["pull_request"]["merged_by"]["login"], "alice");
    assert_eq!(payload["number"], 1);
    assert_eq!(payload["pull_request"]["head"]["ref"], BRANCH);
    assert_eq!(payload["pull_request"]["head"]["sha"], head_sha.as_str());
    assert_eq!(payload["pull_request"]["base"]["ref"], "main");
    assert_eq!(payload["repository"]["full_name"], REPO);
    assert_eq!(
        payload["repository"]["clone_url"],
        sim.clone_url(REPO).as_str()
    );
    assert_eq!(payload["sender"]["login"], "alice");
    assert!(payload["pull_request"]["merged_at"].is_string());
    let mut missing = Vec::new();
    payload_support::missing_paths(
        &fixture("pull_request.closed.merged.derived.json"),
        &payload,
        "",
        &mut missing,
    );
    assert!(missing.is_empty(), "payload lacks {missing:?}");

    let recorded = sim.deliveries();
    let d = recorded.iter().find(|d| d.id == delivery).unwrap();
    assert_eq!(d.action.as_deref(), Some("closed"));
    assert_eq!(d.body, hook.body.to_vec());
    // opened + 2 labeled + closed
    assert_eq!(recorded.len(), 4, "{recorded:?}");

    let after = gh.pulls("acme", "gitops").get(1).await.unwrap();
    assert_eq!(after.merged, Some(true));
    assert_eq!(after.merge_commit_sha.as_deref(), Some(merge_sha.as_str()));
    assert!(gh.pulls("acme", "gitops").is_merged(1).await.unwrap());
    let open = gh
        .pulls("acme", "gitops")
        .list()
        .state(octocrab::params::State::Open)
        .send()
        .await
        .unwrap();
    assert!(open.items.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opened_payload_has_every_key_of_the_fixture() {
    let sim = sim();
    let (url, mut hooks) = receiver().await;
    sim.add_webhook(&url, SECRET);
    push_fix(&sim, "memory: 640Mi\n");
    client(&sim, TOKEN)
        .pulls("acme", "gitops")
        .create("t", BRANCH, "main")
        .send()
        .await
        .unwrap();
    let hook = next_event(&mut hooks, "opened").await;
    assert!(valid_signature(&hook));
    let mut missing = Vec::new();
    payload_support::missing_paths(
        &fixture("pull_request.opened.payload.json"),
        &hook.json(),
        "",
        &mut missing,
    );
    assert!(missing.is_empty(), "payload lacks {missing:?}");
}

/// The fixtures a `pull_request` payload must match: every capture of its action (a merge is
/// a `closed` action with `merged: true`).
fn fixtures_for(action: &str, merged: bool) -> Vec<(&'static str, Value)> {
    let names: &[&str] = match (action, merged) {
        ("opened", _) => &["pull_request.opened.payload.json"],
        ("labeled", _) => &["pull_request.labeled.payload.json"],
        ("reopened", _) => &["pull_request.reopened.payload.json"],
        ("closed", false) => &[
            "pull_request.closed.payload.json",
            "pull_request.closed.with-organization.payload.json",
        ],
        ("closed", true) => &[
            "pull_request.closed.payload.json",
            "pull_request.closed.with-organization.payload.json",
            "pull_request.closed.merged.derived.json",
        ],
        _ => &[],
    };
    names
        .iter()
        .map(|n| {
            let mut f = fixture(n);
            // GitHub sends `organization` only for repositories an organization owns; the
            // simulated owners are users.
            f.as_object_mut().unwrap().remove("organization");
            (*n, f)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_pull_request_payload_matches_every_fixture_of_its_action() {
    let sim = sim();
    let (url, mut hooks) = receiver().await;
    sim.add_webhook(&url, SECRET);
    push_fix(&sim, "memory: 640Mi\n");
    let gh = client(&sim, TOKEN);
    let pulls = gh.pulls("acme", "gitops");
    pulls
        .create("fix", BRANCH, "main")
        .body("raise memory")
        .send()
        .await
        .unwrap();
    gh.issues("acme", "gitops")
        .add_labels(1, &["suture".to_owned(), "fault/oom-killed".to_owned()])
        .await
        .unwrap();
    pulls
        .update(1)
        .state(octocrab::params::pulls::State::Closed)
        .send()
        .await
        .unwrap();
    pulls
        .update(1)
        .state(octocrab::params::pulls::State::Open)
        .send()
        .await
        .unwrap();
    sim.merge_pr(REPO, 1).await.unwrap();
    assert!(sim.wait_for_deliveries(Duration::from_secs(10)).await);

    let all: Vec<Value> = [
        "pull_request.opened.payload.json",
        "pull_request.labeled.payload.json",
        "pull_request.reopened.payload.json",
        "pull_request.closed.payload.json",
        "pull_request.closed.with-organization.payload.json",
        "pull_request.closed.merged.derived.json",
        "pull_request.synchronize.payload.json",
    ]
    .iter()
    .map(|n| fixture(n))
    .collect();
    let mut nullable = payload_support::nullable_paths(&all);
    // Nullable in GitHub's REST schema (a label created without one has no description), but
    // every captured label happens to have one.
    nullable.extend([".label.description", ".pull_request.labels[].description"].map(String::from));
    let mut seen = Vec::new();
    let mut errors = Vec::new();
    // What the receiver got, byte for byte, not what the simulator recorded.
    while let Ok(hook) = hooks.try_recv() {
        assert!(valid_signature(&hook));
        let payload = hook.json();
        let action = payload["action"].as_str().unwrap().to_owned();
        let merged = payload["pull_request"]["merged"] == true;
        let fixtures = fixtures_for(&action, merged);
        assert!(!fixtures.is_empty(), "no fixture for {action}");
        for (name, want) in fixtures {
            for e in payload_support::shape_mismatches(&want, &payload, &nullable) {
                errors.push(format!("{action} vs {name}: {e}"));
            }
        }
        seen.push(if merged { "merged".to_owned() } else { action });
    }
    // Deliveries run concurrently: compare what arrived, not in which order.
    seen.sort();
    assert_eq!(
        seen,
        [
            "closed", "labeled", "labeled", "merged", "opened", "reopened"
        ]
    );
    assert!(errors.is_empty(), "{errors:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_pr_for_the_same_head_is_422() {
    let sim = sim();
    push_fix(&sim, "memory: 640Mi\n");
    let pulls = client(&sim, TOKEN);
    pulls
        .pulls("acme", "gitops")
        .create("first", BRANCH, "main")
        .send()
        .await
        .unwrap();
    let err = pulls
        .pulls("acme", "gitops")
        .create("second", BRANCH, "main")
        .send()
        .await
        .unwrap_err();
    let e = github_error(&err);
    assert_eq!(e.status_code.as_u16(), 422);
    assert_eq!(e.message, "Validation Failed");
    let errors = e.errors.as_ref().unwrap();
    assert_eq!(errors[0]["resource"], "PullRequest");
    assert_eq!(errors[0]["code"], "custom");
    assert_eq!(
        errors[0]["message"],
        format!("A pull request already exists for acme:{BRANCH}.")
    );
    assert_eq!(sim.pulls(REPO).len(), 1);

    // A head branch that does not exist, and one with nothing to merge.
    let err = pulls
        .pulls("acme", "gitops")
        .create("x", "no-such-branch", "main")
        .send()
        .await
        .unwrap_err();
    let e = github_error(&err);
    assert_eq!(e.status_code.as_u16(), 422);
    assert_eq!(e.errors.as_ref().unwrap()[0]["field"], "head");
    let main = sim.store().branch_sha(REPO, "main").unwrap().unwrap();
    sim.store()
        .create_ref(REPO, "refs/heads/same", &main)
        .unwrap();
    let err = pulls
        .pulls("acme", "gitops")
        .create("x", "same", "main")
        .send()
        .await
        .unwrap_err();
    assert!(
        github_error(&err).errors.as_ref().unwrap()[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("No commits between main and same")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_repo_is_404_and_a_bad_token_401() {
    let sim = sim();
    let err = client(&sim, TOKEN)
        .repos("acme", "nope")
        .get()
        .await
        .unwrap_err();
    let e = github_error(&err);
    assert_eq!(e.status_code.as_u16(), 404);
    assert_eq!(e.message, "Not Found");
    assert!(e.documentation_url.is_some());
    let err = client(&sim, TOKEN)
        .pulls("acme", "gitops")
        .get(99)
        .await
        .unwrap_err();
    assert_eq!(github_error(&err).status_code.as_u16(), 404);

    let err = client(&sim, "ghp_wrong")
        .repos("acme", "gitops")
        .get()
        .await
        .unwrap_err();
    let e = github_error(&err);
    assert_eq!(e.status_code.as_u16(), 401);
    assert_eq!(e.message, "Bad credentials");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_server_errors_are_retried_by_octocrab_then_surface() {
    let sim = sim();
    let gh = client(&sim, TOKEN);
    // octocrab retries 5xx three times by default: two failures are absorbed.
    sim.faults()
        .inject(Fault::Status(502), 2, Some("/repos/acme/gitops"));
    gh.repos("acme", "gitops").get().await.unwrap();
    assert_eq!(sim.faults().pending(), 0);

    sim.faults().inject(Fault::Status(503), 10, None);
    let err = gh.repos("acme", "gitops").get().await.unwrap_err();
    assert_eq!(github_error(&err).status_code.as_u16(), 503);
    assert_eq!(sim.faults().pending(), 6, "one try and three retries");
    sim.faults().clear();

    // A prefix that does not match leaves other paths alone.
    sim.faults()
        .inject(Fault::Status(500), 10, Some("/repos/acme/gitops/pulls"));
    gh.repos("acme", "gitops").get().await.unwrap();
    assert_eq!(sim.faults().pending(), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secondary_rate_limit_is_a_403_with_retry_after() {
    let sim = sim();
    sim.faults().inject(
        Fault::RateLimit {
            retry_after_secs: 60,
        },
        1,
        Some("/repos/acme/gitops/pulls"),
    );
    let err = client(&sim, TOKEN)
        .pulls("acme", "gitops")
        .list()
        .send()
        .await
        .unwrap_err();
    let e = github_error(&err);
    assert_eq!(e.status_code.as_u16(), 403);
    assert!(e.message.contains("secondary rate limit"), "{}", e.message);
    let headers = e.headers.as_ref().unwrap();
    assert_eq!(headers["retry-after"], "60");
    assert!(headers.contains_key("x-ratelimit-remaining"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hang_past_the_client_timeout_is_a_timeout_error() {
    let sim = sim();
    let gh = Octocrab::builder()
        .base_uri(sim.api_url())
        .unwrap()
        .personal_token(TOKEN.to_owned())
        .set_read_timeout(Some(Duration::from_millis(300)))
        .add_retry_config(octocrab::service::middleware::retry::RetryConfig::None)
        .build()
        .unwrap();
    sim.faults()
        .inject(Fault::Hang(Duration::from_secs(3)), 1, None);
    let started = std::time::Instant::now();
    let err = gh.repos("acme", "gitops").get().await.unwrap_err();
    assert!(
        !matches!(err, octocrab::Error::GitHub { .. }),
        "expected a transport error, got {err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
    gh.repos("acme", "gitops").get().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflicts_are_405_and_a_stale_head_sha_409() {
    let sim = sim();
    let head = push_fix(&sim, "memory: 640Mi\n");
    let gh = client(&sim, TOKEN);
    gh.pulls("acme", "gitops")
        .create("fix", BRANCH, "main")
        .send()
        .await
        .unwrap();

    let err = gh
        .pulls("acme", "gitops")
        .merge(1)
        .sha("0".repeat(40))
        .send()
        .await
        .unwrap_err();
    assert_eq!(github_error(&err).status_code.as_u16(), 409);

    // Someone edits the same line on main: not mergeable.
    sim.store()
        .commit_files(
            REPO,
            "main",
            [("apps/checkout-api/deployment.yaml", "memory: 1Gi\n")],
            "manual bump",
        )
        .unwrap();
    let pr = gh.pulls("acme", "gitops").get(1).await.unwrap();
    assert_eq!(pr.mergeable, Some(false));
    assert_eq!(pr.head.sha, head);
    let err = gh
        .pulls("acme", "gitops")
        .merge(1)
        .send()
        .await
        .unwrap_err();
    let e = github_error(&err);
    assert_eq!(e.status_code.as_u16(), 405);
    assert_eq!(e.message, "Pull Request is not mergeable");
    assert!(!sim.pull(REPO, 1).unwrap().merged);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_human_merge_sends_the_webhook_and_redelivery_repeats_it() {
    let sim = sim();
    let (url, mut hooks) = receiver().await;
    sim.add_webhook(&url, SECRET);
    let head = push_fix(&sim, "memory: 640Mi\n");
    client(&sim, TOKEN)
        .pulls("acme", "gitops")
        .create("fix", BRANCH, "main")
        .send()
        .await
        .unwrap();
    next_event(&mut hooks, "opened").await;

    let merge_sha = sim.merge_pr(REPO, 1).await.unwrap();
    let first = next_event(&mut hooks, "closed").await;
    assert!(valid_signature(&first));
    assert_eq!(
        first.json()["pull_request"]["merge_commit_sha"],
        merge_sha.as_str()
    );
    let parents = sim.store().commit_info(REPO, &merge_sha).unwrap().parents;
    assert_eq!(parents.len(), 2);
    assert_eq!(parents[1], head);

    let id = first.header("x-github-delivery").to_owned();
    let attempt = sim.redeliver(&id).await.unwrap();
    assert!(attempt.redelivery);
    assert_eq!(attempt.status, Some(200));
    let again = next_event(&mut hooks, "closed").await;
    assert_eq!(again.header("x-github-delivery"), id);
    assert_eq!(again.body, first.body);
    assert!(valid_signature(&again));
    assert!(sim.redeliver("nope").await.is_err());

    // Merging twice is refused.
    assert!(sim.merge_pr(REPO, 1).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_without_merge_sends_closed_not_merged() {
    let sim = sim();
    let (url, mut hooks) = receiver().await;
    sim.add_webhook(&url, SECRET);
    push_fix(&sim, "memory: 640Mi\n");
    let gh = client(&sim, TOKEN);
    gh.pulls("acme", "gitops")
        .create("fix", BRANCH, "main")
        .send()
        .await
        .unwrap();
    let pr = gh
        .pulls("acme", "gitops")
        .update(1)
        .title("fix (superseded)")
        .state(octocrab::params::pulls::State::Closed)
        .send()
        .await
        .unwrap();
    assert_eq!(pr.title.as_deref(), Some("fix (superseded)"));
    assert_eq!(pr.state, Some(octocrab::models::IssueState::Closed));
    let hook = next_event(&mut hooks, "closed").await;
    assert_eq!(hook.json()["pull_request"]["merged"], false);
    assert!(hook.json()["pull_request"]["merge_commit_sha"].is_null());

    // Reopen, then close through the helper.
    gh.pulls("acme", "gitops")
        .update(1)
        .state(octocrab::params::pulls::State::Open)
        .send()
        .await
        .unwrap();
    next_event(&mut hooks, "reopened").await;
    sim.close_pr(REPO, 1).await.unwrap();
    next_event(&mut hooks, "closed").await;
    assert_eq!(sim.pull(REPO, 1).unwrap().state, "closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn git_refs_through_the_api() {
    let sim = sim();
    let gh = client(&sim, TOKEN);
    let repos = gh.repos("acme", "gitops");
    let main = repos
        .get_ref(&Reference::Branch("main".into()))
        .await
        .unwrap();
    let main_sha = match &main.object {
        octocrab::models::repos::Object::Commit { sha, .. } => sha.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(main.ref_field, "refs/heads/main");

    let created = repos
        .create_ref(&Reference::Branch("work".into()), main_sha.clone())
        .await
        .unwrap();
    assert_eq!(created.ref_field, "refs/heads/work");
    assert_eq!(
        sim.store().branch_sha(REPO, "work").unwrap(),
        Some(main_sha.clone())
    );
    let err = repos
        .create_ref(&Reference::Branch("work".into()), main_sha.clone())
        .await
        .unwrap_err();
    let e = github_error(&err);
    assert_eq!(
        (e.status_code.as_u16(), e.message.as_str()),
        (422, "Reference already exists")
    );
    let err = repos
        .get_ref(&Reference::Branch("missing".into()))
        .await
        .unwrap_err();
    assert_eq!(github_error(&err).status_code.as_u16(), 404);

    // PATCH and DELETE through raw routes (octocrab has no builder for them).
    let older = main_sha;
    let newer = sim
        .store()
        .commit_files(REPO, "work", [("x", "1")], "x")
        .unwrap();
    let (status, body) = raw(
        &sim,
        "PATCH",
        "/repos/acme/gitops/git/refs/heads/work",
        Some(TOKEN),
        &format!(r#"{{"sha":"{older}"}}"#),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["message"], "Update is not a fast forward");
    let (status, body) = raw(
        &sim,
        "PATCH",
        "/repos/acme/gitops/git/refs/heads/work",
        Some(TOKEN),
        &format!(r#"{{"sha":"{older}","force":true}}"#),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["object"]["sha"], older.as_str());
    assert_ne!(older, newer);
    let (status, _) = raw(
        &sim,
        "DELETE",
        "/repos/acme/gitops/git/refs/heads/main",
        Some(TOKEN),
        "",
    )
    .await;
    assert_eq!(status, 422);
    let (status, _) = raw(
        &sim,
        "DELETE",
        "/repos/acme/gitops/git/refs/heads/work",
        Some(TOKEN),
        "",
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(sim.store().branch_sha(REPO, "work").unwrap(), None);
}

/// One raw request; returns the status and the JSON body (Null when empty).
async fn raw(
    sim: &GitHubSim,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> (u16, Value) {
    let (status, _, body) = raw_full(sim, method, path, token, body.as_bytes().to_vec()).await;
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

async fn raw_full(
    sim: &GitHubSim,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Vec<u8>,
) -> (u16, HeaderMap, Bytes) {
    use http_body_util::{BodyExt as _, Full};
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<Bytes>>();
    let mut req = hyper::Request::builder()
        .method(method)
        .uri(format!("{}{path}", sim.api_url()))
        .header("content-type", "application/json");
    if let Some(t) = token {
        req = req.header("authorization", format!("token {t}"));
    }
    let resp = client
        .request(req.body(Full::new(Bytes::from(body))).unwrap())
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (status, headers, bytes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_githubs_errors_and_rate_limit_headers() {
    let sim = sim();
    let (status, headers, _) =
        raw_full(&sim, "GET", "/repos/acme/gitops", Some(TOKEN), Vec::new()).await;
    assert_eq!(status, 200);
    for h in [
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
        "x-ratelimit-used",
        "x-ratelimit-resource",
    ] {
        assert!(headers.contains_key(h), "missing {h}");
    }
    assert_eq!(headers["x-ratelimit-limit"], "5000");

    let (status, body) = raw(&sim, "GET", "/repos/acme/gitops", None, "").await;
    assert_eq!(
        (status, body["message"].as_str()),
        (401, Some("Requires authentication"))
    );
    let (status, headers, _) = raw_full(&sim, "GET", "/nope", None, Vec::new()).await;
    assert_eq!(status, 401);
    assert!(headers.contains_key("x-ratelimit-remaining"));

    let (status, body) = raw(
        &sim,
        "POST",
        "/repos/acme/gitops/pulls",
        Some(TOKEN),
        "{not json",
    )
    .await;
    assert_eq!(
        (status, body["message"].as_str()),
        (400, Some("Problems parsing JSON"))
    );
    let (status, body) = raw(
        &sim,
        "POST",
        "/repos/acme/gitops/pulls",
        Some(TOKEN),
        r#"{"title": 5}"#,
    )
    .await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = raw(
        &sim,
        "POST",
        "/repos/acme/gitops/pulls",
        Some(TOKEN),
        r#"{"title":"t","base":"main"}"#,
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(body["errors"][0]["code"], "missing_field");
    assert_eq!(body["errors"][0]["field"], "head");
    let (status, _) = raw(&sim, "GET", "/repos/acme/gitops/pulls/abc", Some(TOKEN), "").await;
    assert_eq!(status, 404);
    let (status, _) = raw(
        &sim,
        "GET",
        "/repos/acme/gitops/pulls/99999999999999999999999",
        Some(TOKEN),
        "",
    )
    .await;
    assert_eq!(status, 404);
    let (status, body) = raw(&sim, "DELETE", "/repos/acme/gitops/pulls", Some(TOKEN), "").await;
    assert_eq!((status, body["message"].as_str()), (404, Some("Not Found")));
    let (status, _) = raw(
        &sim,
        "POST",
        "/repos/acme/gitops/issues/1/comments",
        Some(TOKEN),
        r#"{"body":"x"}"#,
    )
    .await;
    assert_eq!(status, 404, "no issue 1 yet");
    let big = vec![b' '; 2 * 1024 * 1024];
    let (status, _, _) = raw_full(&sim, "POST", "/repos/acme/gitops/pulls", Some(TOKEN), big).await;
    assert_eq!(status, 413);
    let (status, _) = raw(
        &sim,
        "PUT",
        "/repos/acme/gitops/pulls/1/merge",
        Some(TOKEN),
        r#"{"merge_method":"octopus"}"#,
    )
    .await;
    assert_eq!(status, 422);

    // Primary rate limit: exhausted -> 403 with remaining 0.
    sim.set_rate_limit(2);
    for _ in 0..2 {
        assert_eq!(raw(&sim, "GET", "/user", Some(TOKEN), "").await.0, 200);
    }
    let (status, headers, body) = raw_full(&sim, "GET", "/user", Some(TOKEN), Vec::new()).await;
    assert_eq!(status, 403);
    assert_eq!(headers["x-ratelimit-remaining"], "0");
    assert!(String::from_utf8_lossy(&body).contains("API rate limit exceeded"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_token_also_pushes_and_a_revoked_one_does_not() {
    let sim = sim();
    let gh = client(&sim, TOKEN);
    let user = gh.current().user().await.unwrap();
    assert_eq!(user.login, "suture-bot");
    push_fix(&sim, "memory: 700Mi\n");
    sim.tokens().revoke(TOKEN);
    let err = gh.current().user().await.unwrap_err();
    assert_eq!(github_error(&err).status_code.as_u16(), 401);
    let dir = tempfile::tempdir().unwrap();
    assert!(support::clone(&sim.clone_url(REPO), TOKEN, dir.path()).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repository_hooks_register_list_deliver_signed_and_stop_once_deleted() {
    let sim = sim();
    let (url, mut hooks) = receiver().await;
    let body = serde_json::json!({
        "name": "web",
        "active": true,
        "events": ["pull_request"],
        "config": {"url": url, "content_type": "json", "secret": SECRET, "insecure_ssl": "0"},
    })
    .to_string();
    let (status, hook) = raw(&sim, "POST", "/repos/acme/gitops/hooks", Some(TOKEN), &body).await;
    assert_eq!(status, 201, "{hook}");
    let id = hook["id"].as_u64().unwrap();
    assert_eq!(hook["type"], "Repository");
    assert_eq!(hook["events"], serde_json::json!(["pull_request"]));
    assert_eq!(hook["config"]["url"], url.as_str());
    assert_eq!(
        hook["config"]["secret"], "********",
        "the secret is never shown back"
    );
    assert_eq!(
        hook["url"],
        format!("{}/repos/{REPO}/hooks/{id}", sim.api_url())
    );
    // The same URL twice is refused; a hook without a URL too.
    let (status, _) = raw(&sim, "POST", "/repos/acme/gitops/hooks", Some(TOKEN), &body).await;
    assert_eq!(status, 422);
    let (status, _) = raw(
        &sim,
        "POST",
        "/repos/acme/gitops/hooks",
        Some(TOKEN),
        r#"{"config": {}}"#,
    )
    .await;
    assert_eq!(status, 422);
    let (status, _) = raw(&sim, "POST", "/repos/acme/nope/hooks", Some(TOKEN), &body).await;
    assert_eq!(status, 404);

    let (status, list) = raw(&sim, "GET", "/repos/acme/gitops/hooks", Some(TOKEN), "").await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["id"], id);

    // GitHub pings a new hook, then delivers the events it subscribed to, signed.
    let ping = hooks.recv().await.unwrap();
    assert_eq!(ping.header("x-github-event"), "ping");
    assert_eq!(ping.json()["hook_id"], id);
    assert!(valid_signature(&ping));
    push_fix(&sim, "memory: 640Mi\n");
    let gh = client(&sim, TOKEN);
    gh.pulls("acme", "gitops")
        .create("fix", BRANCH, "main")
        .send()
        .await
        .unwrap();
    let opened = next_event(&mut hooks, "opened").await;
    assert_eq!(opened.header("x-github-event"), "pull_request");
    assert_eq!(opened.header("x-github-hook-id"), id.to_string());
    assert_eq!(
        opened.header("x-github-hook-installation-target-type"),
        "repository"
    );
    assert!(!opened.header("x-github-delivery").is_empty());
    assert!(valid_signature(&opened));
    assert_eq!(opened.json()["repository"]["full_name"], REPO);

    let (status, _) = raw(
        &sim,
        "DELETE",
        &format!("/repos/acme/gitops/hooks/{id}"),
        Some(TOKEN),
        "",
    )
    .await;
    assert_eq!(status, 204);
    let (status, list) = raw(&sim, "GET", "/repos/acme/gitops/hooks", Some(TOKEN), "").await;
    assert_eq!((status, list), (200, serde_json::json!([])));
    let (status, _) = raw(
        &sim,
        "DELETE",
        &format!("/repos/acme/gitops/hooks/{id}"),
        Some(TOKEN),
        "",
    )
    .await;
    assert_eq!(status, 404);
    let before = sim.deliveries().len();
    sim.merge_pr(REPO, 1).await.unwrap();
    assert!(sim.wait_for_deliveries(Duration::from_secs(5)).await);
    assert_eq!(
        sim.deliveries().len(),
        before,
        "a deleted hook gets nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_statuses_created_listed_newest_first_and_combined_per_context() {
    use octocrab::models::StatusState;
    let sim = sim();
    let gh = client(&sim, TOKEN);
    let sha = sim.store().branch_sha(REPO, "main").unwrap().unwrap();
    let repos = gh.repos("acme", "gitops");
    let pending = repos
        .create_status(sha.clone(), StatusState::Pending)
        .context("suture/verify".into())
        .description("verifying for 10m".into())
        .target("http://suture.example/incidents/1".into())
        .send()
        .await
        .unwrap();
    assert_eq!(pending.state, StatusState::Pending);
    assert_eq!(pending.context.as_deref(), Some("suture/verify"));
    assert_eq!(
        pending.creator.as_ref().map(|c| c.login.as_str()),
        Some("suture-bot")
    );
    assert!(pending.node_id.is_some() && pending.created_at.is_some());
    repos
        .create_status(sha.clone(), StatusState::Success)
        .context("suture/verify".into())
        .description("healthy".into())
        .send()
        .await
        .unwrap();
    repos
        .create_status(sha.clone(), StatusState::Pending)
        .context("ci/build".into())
        .send()
        .await
        .unwrap();

    let list = repos.list_statuses(sha.clone()).send().await.unwrap().items;
    let states: Vec<(StatusState, Option<String>)> =
        list.iter().map(|s| (s.state, s.context.clone())).collect();
    assert_eq!(
        states,
        [
            (StatusState::Pending, Some("ci/build".into())),
            (StatusState::Success, Some("suture/verify".into())),
            (StatusState::Pending, Some("suture/verify".into())),
        ]
    );
    // A branch name works as the ref for reads.
    let (status, by_branch) = raw(
        &sim,
        "GET",
        "/repos/acme/gitops/commits/main/statuses",
        Some(TOKEN),
        "",
    )
    .await;
    assert_eq!((status, by_branch.as_array().map(Vec::len)), (200, Some(3)));

    let combined = repos
        .combined_status_for_ref(&Reference::Branch("main".into()))
        .await
        .unwrap();
    assert_eq!(combined.sha, sha);
    assert_eq!(combined.total_count, 2, "latest per context");
    assert_eq!(combined.state, StatusState::Pending, "ci/build is pending");
    repos
        .create_status(sha.clone(), StatusState::Failure)
        .context("ci/build".into())
        .send()
        .await
        .unwrap();
    let combined = repos
        .combined_status_for_ref(&Reference::Branch("main".into()))
        .await
        .unwrap();
    assert_eq!(combined.state, StatusState::Failure);
    assert_eq!(sim.statuses(REPO).len(), 4);

    // An unknown sha and a bad state are 422, as on GitHub; nothing is recorded.
    let unknown = "0000000000000000000000000000000000000001";
    let (status, body) = raw(
        &sim,
        "POST",
        &format!("/repos/acme/gitops/statuses/{unknown}"),
        Some(TOKEN),
        r#"{"state":"success"}"#,
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(
        body["message"],
        format!("No commit found for SHA: {unknown}")
    );
    let (status, _) = raw(
        &sim,
        "POST",
        &format!("/repos/acme/gitops/statuses/{sha}"),
        Some(TOKEN),
        r#"{"state":"passed"}"#,
    )
    .await;
    assert_eq!(status, 422);
    let (status, _) = raw(
        &sim,
        "POST",
        "/repos/acme/gitops/statuses/main",
        Some(TOKEN),
        r#"{"state":"success"}"#,
    )
    .await;
    assert_eq!(status, 422, "a branch name is not a sha here");
    assert_eq!(sim.statuses(REPO).len(), 4);
    let (status, _) = raw(
        &sim,
        "GET",
        &format!("/repos/acme/gitops/commits/{unknown}/status"),
        Some(TOKEN),
        "",
    )
    .await;
    assert_eq!(status, 404);
}

/// The `ping` GitHub sends a new hook, against every ping fixture: one hook a user created and
/// one an App's installation created (GitHub then names the App in `hook.app_id`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_ping_payload_matches_every_ping_fixture() {
    const APP_ID: u64 = 29310;
    const APP_TOKEN: &str = "ghs_installation";
    let sim = sim();
    let pem = std::fs::read_to_string(format!(
        "{}/../tests/fixtures/github-app/app.public-key.pem",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let bot = sim.register_app(APP_ID, 9001, "acme", &pem).unwrap();
    // Stands in for an installation token: those act as the App's bot login.
    sim.add_token(APP_TOKEN, &bot);
    let (url, mut hooks) = receiver().await;
    let by_app = format!("{url}?by=app");
    for (token, hook_url) in [(TOKEN, &url), (APP_TOKEN, &by_app)] {
        let body = serde_json::json!({
            "name": "web",
            "events": ["*"],
            "config": {"url": hook_url, "content_type": "json", "secret": SECRET, "insecure_ssl": "0"},
        })
        .to_string();
        let (status, hook) =
            raw(&sim, "POST", "/repos/acme/gitops/hooks", Some(token), &body).await;
        assert_eq!(status, 201, "{hook}");
    }
    assert!(sim.wait_for_deliveries(Duration::from_secs(10)).await);

    let names = ["ping.payload.json", "ping.with-app_id.payload.json"];
    let all: Vec<Value> = names.iter().map(|n| fixture(n)).collect();
    let mut nullable = payload_support::nullable_paths(&all);
    // A repository without a detected language (the simulated ones hold YAML only); null in the
    // captures of other events (pull_request.opened), just not in the ping ones.
    nullable.insert(".repository.language".to_owned());
    let mut errors = Vec::new();
    let mut seen = Vec::new();
    // What the receiver got, byte for byte, not what the simulator recorded.
    while let Ok(ping) = hooks.try_recv() {
        assert_eq!(ping.header("x-github-event"), "ping");
        assert!(valid_signature(&ping));
        let payload = ping.json();
        let app_made = payload["hook"]["config"]["url"] == by_app.as_str();
        if app_made {
            assert_eq!(payload["hook"]["app_id"], APP_ID);
        } else {
            assert!(payload["hook"].get("app_id").is_none(), "{payload}");
        }
        for (name, want) in names.iter().zip(&all) {
            let mut want = want.clone();
            if !app_made {
                // Only a hook an App created names one.
                want["hook"].as_object_mut().unwrap().remove("app_id");
            }
            for e in payload_support::shape_mismatches(&want, &payload, &nullable) {
                errors.push(format!("ping (app: {app_made}) vs {name}: {e}"));
            }
        }
        seen.push(app_made);
    }
    seen.sort();
    assert_eq!(seen, [false, true]);
    assert!(errors.is_empty(), "{errors:#?}");
}

/// A fault after the effect: the handler runs (the hook exists) but the client gets the 5xx,
/// with the rate headers every response carries; a request refused at auth never runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_after_effect_answers_5xx_once_the_change_took_effect() {
    let sim = sim();
    let (url, _hooks) = receiver().await;
    let hooks = "/repos/acme/gitops/hooks";
    let body = serde_json::json!({"config": {"url": url, "content_type": "json"}}).to_string();
    sim.faults()
        .inject_for("POST", Fault::StatusAfterEffect(502), 2, Some(hooks));
    let (status, _) = raw(&sim, "POST", hooks, Some("ghp_unknown"), &body).await;
    assert_eq!(status, 401);
    let (status, headers, _) = raw_full(&sim, "POST", hooks, Some(TOKEN), body.into()).await;
    assert_eq!(status, 502);
    assert!(headers.contains_key("x-ratelimit-remaining"));
    assert_eq!(sim.faults().pending(), 0);
    let (status, list) = raw(&sim, "GET", hooks, Some(TOKEN), "").await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().unwrap().len(), 1, "the create took effect");
}
