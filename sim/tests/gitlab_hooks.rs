//! GitLab project hooks over real HTTP: the hooks API through GitLab's Rust client (and raw
//! requests for status codes), and delivery of Push / Merge Request / Note hooks to each
//! registered hook whose event flag is on, with its own token.

#[path = "payload_support/mod.rs"]
mod payload_support;

use std::time::Duration;

use axum::body::Bytes;
use gitlab::api::projects::hooks::{CreateHook, DeleteHook, Hook, Hooks};
use gitlab::api::projects::merge_requests::CreateMergeRequest;
use gitlab::api::projects::merge_requests::notes::CreateMergeRequestNote;
use gitlab::api::projects::repository::commits::{CommitAction, CommitActionType, CreateCommit};
use gitlab::api::{self, AsyncQuery};
use gitlab::{AsyncGitlab, GitlabBuilder};
use payload_support::Received;
use serde_json::{Value, json};
use suture_sim::gitlab::{GitLabSim, NewHook};
use tokio::sync::mpsc::UnboundedReceiver;

const TOKEN: &str = "glpat-suture-bot";
const PROJECT: &str = "acme/gitops";
const FILE: &str = "apps/checkout-api/deployment.yaml";

fn sim() -> GitLabSim {
    let sim = GitLabSim::start().unwrap();
    sim.add_token(TOKEN, "suture-bot");
    sim.create_project(PROJECT, "main").unwrap();
    sim.store()
        .commit_files(PROJECT, "main", [(FILE, "memory: 512Mi\n")], "seed")
        .unwrap();
    sim
}

async fn client(sim: &GitLabSim) -> AsyncGitlab {
    GitlabBuilder::new(sim.host(), TOKEN)
        .insecure()
        .build_async()
        .await
        .unwrap()
}

/// A raw request with the bot's token: (status, JSON body or null).
async fn raw(sim: &GitLabSim, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    use http_body_util::{BodyExt as _, Full};
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<Bytes>>();
    let req = hyper::Request::builder()
        .method(method.parse::<axum::http::Method>().unwrap())
        .uri(format!("{}/api/v4{path}", sim.api_url()))
        .header("private-token", TOKEN)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(
            body.map(|b| b.to_string()).unwrap_or_default(),
        )))
        .unwrap();
    let resp = client.request(req).await.unwrap();
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_list_get_delete_through_the_api() {
    let sim = sim();
    let pid = sim.project_id(PROJECT).unwrap();
    let gl = client(&sim).await;

    // The gitlab crate sends a form; the answer is GitLab's hook object, token not shown.
    let created: Value = CreateHook::builder()
        .project(PROJECT)
        .url("http://127.0.0.1:9/hooks/gitlab")
        .token("t-1")
        .push_events(false)
        .merge_requests_events(true)
        .note_events(true)
        .enable_ssl_verification(false)
        .build()
        .unwrap()
        .query_async(&gl)
        .await
        .unwrap();
    let id = created["id"].as_u64().unwrap();
    assert_eq!(created["url"], "http://127.0.0.1:9/hooks/gitlab");
    assert_eq!(created["project_id"], pid);
    assert_eq!(created["push_events"], false);
    assert_eq!(created["merge_requests_events"], true);
    assert_eq!(created["note_events"], true);
    assert_eq!(created["tag_push_events"], false);
    assert_eq!(created["enable_ssl_verification"], false);
    assert!(created["created_at"].as_str().unwrap().ends_with('Z'));
    assert!(created.get("token").is_none());

    // JSON by numeric id gets 201 and GitLab's defaults: push on, the rest off, SSL checked.
    let (status, second) = raw(
        &sim,
        "POST",
        &format!("/projects/{pid}/hooks"),
        Some(json!({"url": "http://127.0.0.1:9/other"})),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(second["push_events"], true);
    assert_eq!(second["merge_requests_events"], false);
    assert_eq!(second["enable_ssl_verification"], true);

    let listed: Vec<Value> = Hooks::builder()
        .project(pid)
        .build()
        .unwrap()
        .query_async(&gl)
        .await
        .unwrap();
    assert_eq!(
        listed.iter().map(|h| &h["id"]).collect::<Vec<_>>(),
        [&created["id"], &second["id"]]
    );
    let one: Value = Hook::builder()
        .project(PROJECT)
        .hook(id)
        .build()
        .unwrap()
        .query_async(&gl)
        .await
        .unwrap();
    assert_eq!(one, created);

    // DELETE is 204; the hook is gone afterwards.
    let (status, _) = raw(
        &sim,
        "DELETE",
        &format!("/projects/acme%2Fgitops/hooks/{id}"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, body) = raw(&sim, "GET", &format!("/projects/{pid}/hooks/{id}"), None).await;
    assert_eq!((status, body), (404, json!({"message": "404 Not found"})));
    api::ignore(
        DeleteHook::builder()
            .project(PROJECT)
            .hook_id(second["id"].as_u64().unwrap())
            .build()
            .unwrap(),
    )
    .query_async(&gl)
    .await
    .unwrap();
    let (_, left) = raw(&sim, "GET", &format!("/projects/{pid}/hooks"), None).await;
    assert_eq!(left, json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_projects_and_hooks_and_bad_input_get_gitlab_errors() {
    let sim = sim();
    let pid = sim.project_id(PROJECT).unwrap();
    let not_project = json!({"message": "404 Project Not Found"});
    for (method, path) in [
        ("GET", "/projects/999999/hooks"),
        ("GET", "/projects/acme%2Fnope/hooks/1"),
        ("DELETE", "/projects/acme%2Fnope/hooks/1"),
    ] {
        assert_eq!(
            raw(&sim, method, path, None).await,
            (404, not_project.clone())
        );
    }
    let body = Some(json!({"url": "http://x.invalid/h"}));
    assert_eq!(
        raw(&sim, "POST", "/projects/999999/hooks", body).await,
        (404, not_project)
    );
    let not_found = json!({"message": "404 Not found"});
    for (method, path) in [
        ("GET", format!("/projects/{pid}/hooks/424242")),
        ("DELETE", format!("/projects/{pid}/hooks/424242")),
        ("GET", format!("/projects/{pid}/hooks/abc")),
    ] {
        assert_eq!(
            raw(&sim, method, &path, None).await,
            (404, not_found.clone())
        );
    }
    let hooks = format!("/projects/{pid}/hooks");
    assert_eq!(
        raw(&sim, "POST", &hooks, Some(json!({"token": "t"}))).await,
        (400, json!({"error": "url is missing"}))
    );
    let (status, body) = raw(&sim, "POST", &hooks, Some(json!({"url": "ftp://x/h"}))).await;
    assert_eq!(status, 422);
    assert!(body["message"]["url"][0].as_str().unwrap().contains("http"));
}

/// The next delivery to a receiver, or `None` within `wait`.
async fn next(rx: &mut UnboundedReceiver<Received>, wait: Duration) -> Option<Received> {
    tokio::time::timeout(wait, rx.recv()).await.ok().flatten()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_hook_gets_the_events_it_asked_for_with_its_own_token() {
    let sim = sim();
    let gl = client(&sim).await;
    let (reviews_url, mut reviews) = payload_support::receiver("/hooks/reviews").await;
    let (pushes_url, mut pushes) = payload_support::receiver("/hooks/pushes").await;
    let reviews_id = sim
        .add_project_hook(
            PROJECT,
            NewHook {
                note_events: true,
                ..NewHook::merge_requests(&reviews_url, "token-reviews")
            },
        )
        .unwrap();
    let (status, _) = raw(
        &sim,
        "POST",
        "/projects/acme%2Fgitops/hooks",
        Some(json!({"url": pushes_url, "token": "token-pushes"})),
    )
    .await;
    assert_eq!(status, 201);

    // A commit through the API is a push: only the push hook hears it.
    let sha: Value = CreateCommit::builder()
        .project(PROJECT)
        .branch("fix")
        .start_branch("main")
        .commit_message("raise memory")
        .actions([CommitAction::builder()
            .action(CommitActionType::Update)
            .file_path(FILE)
            .content(&b"memory: 640Mi\n"[..])
            .build()
            .unwrap()])
        .build()
        .unwrap()
        .query_async(&gl)
        .await
        .unwrap();
    let push = next(&mut pushes, Duration::from_secs(10)).await.unwrap();
    assert_eq!(push.header("x-gitlab-event"), "Push Hook");
    assert_eq!(push.header("x-gitlab-token"), "token-pushes");
    assert!(uuid::Uuid::parse_str(push.header("x-gitlab-event-uuid")).is_ok());
    let p = push.json();
    assert_eq!(p["object_kind"], "push");
    assert_eq!(p["ref"], "refs/heads/fix");
    assert_eq!(p["before"], "0000000000000000000000000000000000000000");
    assert_eq!(p["after"], sha["id"]);
    assert_eq!(p["total_commits_count"], 1);
    assert_eq!(p["commits"][0]["modified"], json!([FILE]));
    assert_eq!(p["project"]["path_with_namespace"], PROJECT);

    // A merge request and a note on it reach the review hook only.
    let mr: Value = CreateMergeRequest::builder()
        .project(PROJECT)
        .source_branch("fix")
        .target_branch("main")
        .title("fix(payments/checkout-api): raise memory limit 512Mi -> 640Mi")
        .build()
        .unwrap()
        .query_async(&gl)
        .await
        .unwrap();
    let iid = mr["iid"].as_u64().unwrap();
    let opened = next(&mut reviews, Duration::from_secs(10)).await.unwrap();
    assert_eq!(opened.header("x-gitlab-event"), "Merge Request Hook");
    assert_eq!(opened.header("x-gitlab-token"), "token-reviews");
    assert_eq!(opened.json()["object_attributes"]["action"], "open");
    let note = CreateMergeRequestNote::builder()
        .project(PROJECT)
        .merge_request(iid)
        .body("suture: evidence attached")
        .build()
        .unwrap();
    let created: Value = note.query_async(&gl).await.unwrap();
    let heard = next(&mut reviews, Duration::from_secs(10)).await.unwrap();
    assert_eq!(heard.header("x-gitlab-event"), "Note Hook");
    assert_eq!(heard.header("x-gitlab-token"), "token-reviews");
    let n = heard.json();
    assert_eq!(n["object_kind"], "note");
    assert_eq!(n["object_attributes"]["id"], created["id"]);
    assert_eq!(n["object_attributes"]["note"], "suture: evidence attached");
    assert_eq!(n["object_attributes"]["noteable_type"], "MergeRequest");
    assert_eq!(n["merge_request"]["iid"], iid);
    assert!(sim.wait_for_deliveries(Duration::from_secs(10)).await);
    assert!(
        next(&mut pushes, Duration::from_millis(200))
            .await
            .is_none()
    );

    // After DELETE the review hook hears nothing more.
    let (status, _) = raw(
        &sim,
        "DELETE",
        &format!("/projects/acme%2Fgitops/hooks/{reviews_id}"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let _: Value = note.query_async(&gl).await.unwrap();
    assert!(sim.wait_for_deliveries(Duration::from_secs(10)).await);
    assert!(
        next(&mut reviews, Duration::from_millis(300))
            .await
            .is_none()
    );
    let to_reviews = sim
        .deliveries()
        .iter()
        .filter(|d| d.url == reviews_url)
        .count();
    assert_eq!(to_reviews, 2, "open and the first note only");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merge_is_a_push_to_the_target_and_the_configured_hook_still_hears_it() {
    let sim = sim();
    let gl = client(&sim).await;
    let (pushes_url, mut pushes) = payload_support::receiver("/hooks/pushes").await;
    let (configured_url, mut configured) = payload_support::receiver("/hooks/gitlab").await;
    sim.add_webhook(&configured_url, "configured-secret");
    sim.add_project_hook(
        PROJECT,
        NewHook {
            push_events: true,
            push_events_branch_filter: "ma*".to_owned(),
            merge_requests_events: false,
            ..NewHook::merge_requests(&pushes_url, "")
        },
    )
    .unwrap();
    let before = sim.store().branch_sha(PROJECT, "main").unwrap().unwrap();
    let _: Value = CreateCommit::builder()
        .project(PROJECT)
        .branch("fix")
        .start_branch("main")
        .commit_message("raise memory")
        .actions([CommitAction::builder()
            .action(CommitActionType::Update)
            .file_path(FILE)
            .content(&b"memory: 640Mi\n"[..])
            .build()
            .unwrap()])
        .build()
        .unwrap()
        .query_async(&gl)
        .await
        .unwrap();
    let mr: Value = CreateMergeRequest::builder()
        .project(PROJECT)
        .source_branch("fix")
        .target_branch("main")
        .title("raise memory")
        .build()
        .unwrap()
        .query_async(&gl)
        .await
        .unwrap();
    let merge_sha = sim
        .merge_mr(PROJECT, mr["iid"].as_u64().unwrap())
        .await
        .unwrap();

    // The branch filter lets only `main` through: the push to `fix` was not delivered.
    let push = next(&mut pushes, Duration::from_secs(10)).await.unwrap();
    let p = push.json();
    assert_eq!(p["ref"], "refs/heads/main");
    assert_eq!(p["before"], before);
    assert_eq!(p["after"], merge_sha);
    assert_eq!(push.header("x-gitlab-token"), "", "no token, no header");
    assert!(
        next(&mut pushes, Duration::from_millis(200))
            .await
            .is_none()
    );

    // The simulator-wide hook keeps getting merge request events, not pushes.
    let mut events = Vec::new();
    while let Some(r) = next(&mut configured, Duration::from_millis(300)).await {
        assert_eq!(r.header("x-gitlab-token"), "configured-secret");
        events.push(r.json()["object_attributes"]["action"].clone());
    }
    // Deliveries go out concurrently (GitLab's hook jobs keep no order either).
    events.sort_by_key(|e| e.as_str().map(str::to_owned));
    assert_eq!(events, [json!("merge"), json!("open")]);
}
