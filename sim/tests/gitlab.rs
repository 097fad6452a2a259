//! The GitLab simulator driven by GitLab's Rust client (the `gitlab` crate, async, over plain
//! http) and by git2 pushes as `oauth2:<token>`, with a webhook receiver that checks the token,
//! the idempotency key and the payload shape against the fixtures.

#[path = "payload_support/mod.rs"]
mod payload_support;
#[path = "git_support/mod.rs"]
mod support;

use std::cell::Cell;
use std::path::Path;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use git2::{Cred, FetchOptions, PushOptions, RemoteCallbacks, Repository};
use gitlab::api::projects::Project;
use gitlab::api::projects::labels::{CreateLabel, Labels};
use gitlab::api::projects::merge_requests::notes::{CreateMergeRequestNote, MergeRequestNotes};
use gitlab::api::projects::merge_requests::{
    CreateMergeRequest, EditMergeRequest, MergeMergeRequest, MergeRequest, MergeRequestState,
    MergeRequestStateEvent, MergeRequests,
};
use gitlab::api::projects::repository::branches::{Branch, Branches, CreateBranch};
use gitlab::api::projects::repository::commits::{CommitAction, CommitActionType, CreateCommit};
use gitlab::api::{ApiError, AsyncQuery};
use gitlab::{AsyncGitlab, GitlabBuilder, RestError};
use serde_json::{Value, json};
use suture_sim::gitlab::{Fault, GitLabSim};
use tokio::sync::mpsc;

const TOKEN: &str = "glpat-suture-bot";
const SECRET: &str = "webhook-secret-token";
const PROJECT: &str = "acme/gitops";
const BRANCH: &str = "suture/oom-killed/payments/checkout-api-1a2b3c4d";
const FILE: &str = "apps/checkout-api/deployment.yaml";

type GlError = ApiError<RestError>;

fn fixture(name: &str) -> Value {
    payload_support::fixture("gitlab-webhooks", name)
}

/// A simulator with one seeded project and a bot token.
fn sim() -> GitLabSim {
    let sim = GitLabSim::start().unwrap();
    sim.add_token(TOKEN, "suture-bot");
    sim.create_project(PROJECT, "main").unwrap();
    sim.store()
        .commit_files(
            PROJECT,
            "main",
            [(FILE, "memory: 512Mi\n"), ("README.md", "gitops\n")],
            "seed",
        )
        .unwrap();
    sim
}

async fn client(sim: &GitLabSim, token: &str) -> Result<AsyncGitlab, gitlab::GitlabError> {
    GitlabBuilder::new(sim.host(), token)
        .insecure()
        .build_async()
        .await
}

/// GitLab accepts any user name with the token as password; clients use `oauth2`.
fn callbacks<'a>(token: &'a str, asked: &'a Cell<u32>) -> RemoteCallbacks<'a> {
    let mut cb = RemoteCallbacks::new();
    cb.credentials(move |_url, _user, _allowed| {
        asked.set(asked.get() + 1);
        if asked.get() > 1 {
            return Err(git2::Error::from_str("token refused"));
        }
        Cred::userpass_plaintext("oauth2", token)
    });
    cb
}

/// Push `branch` with `FILE` set to `content` through git2, as suture does; returns the sha.
fn push(sim: &GitLabSim, branch: &str, content: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let asked = Cell::new(0);
    let mut fo = FetchOptions::new();
    fo.remote_callbacks(callbacks(TOKEN, &asked));
    let repo: Repository = git2::build::RepoBuilder::new()
        .fetch_options(fo)
        .clone(&sim.clone_url(PROJECT), dir.path())
        .unwrap();
    support::checkout_new_branch(&repo, branch);
    let sha = support::commit(&repo, &[(FILE, content)], "raise memory");
    let asked = Cell::new(0);
    let mut po = PushOptions::new();
    po.remote_callbacks(callbacks(TOKEN, &asked));
    repo.find_remote("origin")
        .unwrap()
        .push(
            &[format!("refs/heads/{branch}:refs/heads/{branch}")],
            Some(&mut po),
        )
        .unwrap();
    sha.to_string()
}

fn create_mr<'a>(source: &'a str, title: &'a str) -> CreateMergeRequest<'a> {
    CreateMergeRequest::builder()
        .project(PROJECT)
        .source_branch(source)
        .target_branch("main")
        .title(title)
        .description("## Root cause\nOOMKilled")
        .labels(["suture", "fault/oom-killed"].into_iter())
        .remove_source_branch(true)
        .build()
        .unwrap()
}

use payload_support::Received;

/// A webhook receiver on 127.0.0.1:0 in the test's runtime.
async fn receiver() -> (String, mpsc::UnboundedReceiver<Received>) {
    payload_support::receiver("/hooks/gitlab").await
}

/// The next delivery whose `/object_attributes/action` is `action`, skipping others.
async fn next_event(rx: &mut mpsc::UnboundedReceiver<Received>, action: &str) -> Received {
    payload_support::next_event(rx, "/object_attributes/action", action).await
}

fn assert_gitlab_headers(r: &Received) {
    assert_eq!(r.header("x-gitlab-event"), "Merge Request Hook");
    assert_eq!(r.header("x-gitlab-token"), SECRET);
    assert_eq!(r.header("content-type"), "application/json");
    assert!(r.header("user-agent").starts_with("GitLab/"));
    for h in [
        "idempotency-key",
        "x-gitlab-event-uuid",
        "x-gitlab-webhook-uuid",
    ] {
        assert!(uuid::Uuid::parse_str(r.header(h)).is_ok(), "{h}");
    }
}

/// (status, message) of a GitLab error answer.
fn status_of(e: &GlError) -> (StatusCode, Value) {
    match e {
        ApiError::GitlabWithStatus { status, msg } => (*status, json!(msg)),
        ApiError::GitlabObjectWithStatus { status, obj } => (*status, obj.clone()),
        ApiError::GitlabUnrecognizedWithStatus { status, obj } => (*status, obj.clone()),
        ApiError::GitlabService { status, .. } => (*status, Value::Null),
        other => panic!("not a GitLab error answer: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_request_lifecycle_through_the_gitlab_crate_ends_in_a_merge_hook() {
    let sim = sim();
    let (url, mut rx) = receiver().await;
    sim.add_webhook(&url, SECRET);
    let gl = client(&sim, TOKEN).await.unwrap();

    // Project by URL-encoded path and by id.
    let p: Value = Project::builder()
        .project(PROJECT)
        .build()
        .unwrap()
        .query_async(&gl)
        .await
        .unwrap();
    assert_eq!(p["path_with_namespace"], PROJECT);
    assert_eq!(p["default_branch"], "main");
    assert_eq!(p["http_url_to_repo"], format!("{}", sim.clone_url(PROJECT)));
    let id = p["id"].as_u64().unwrap();
    let by_id: Value = Project::builder()
        .project(id)
        .build()
        .unwrap()
        .query_async(&gl)
        .await
        .unwrap();
    assert_eq!(by_id["id"], id);

    // suture looks for its MR by source branch before any Git work: none yet.
    let list = MergeRequests::builder()
        .project(PROJECT)
        .state(MergeRequestState::Opened)
        .source_branch(BRANCH)
        .build()
        .unwrap();
    let found: Vec<Value> = list.query_async(&gl).await.unwrap();
    assert!(found.is_empty());

    let head = push(&sim, BRANCH, "memory: 640Mi\n");
    let b: Value = Branch::builder()
        .project(PROJECT)
        .branch(BRANCH)
        .build()
        .unwrap()
        .query_async(&gl)
        .await
        .unwrap();
    assert_eq!(b["commit"]["id"], head);

    let mr: Value = create_mr(
        BRANCH,
        "fix(payments/checkout-api): raise memory limit 512Mi -> 640Mi",
    )
    .query_async(&gl)
    .await
    .unwrap();
    assert_eq!(mr["iid"], 1);
    assert_eq!(mr["state"], "opened");
    assert_eq!(mr["sha"], head);
    assert_eq!(mr["labels"], json!(["suture", "fault/oom-killed"]));
    assert_eq!(mr["author"]["username"], "suture-bot");
    assert_eq!(mr["detailed_merge_status"], "mergeable");
    assert_eq!(mr["has_conflicts"], false);
    assert!(
        mr["web_url"]
            .as_str()
            .unwrap()
            .ends_with("/acme/gitops/-/merge_requests/1")
    );

    let open = next_event(&mut rx, "open").await;
    assert_gitlab_headers(&open);
    let mut missing = Vec::new();
    let mut want = fixture("merge_request.open.json");
    want.as_object_mut().unwrap().remove("changes");
    payload_support::missing_paths(&want, &open.json(), "", &mut missing);
    assert!(missing.is_empty(), "open payload lacks {missing:?}");

    let found: Vec<Value> = list.query_async(&gl).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["iid"], 1);

    let note: Value = CreateMergeRequestNote::builder()
        .project(PROJECT)
        .merge_request(1)
        .body("Verification plan: watch restarts for 15m")
        .build()
        .unwrap()
        .query_async(&gl)
        .await
        .unwrap();
    assert_eq!(note["noteable_type"], "MergeRequest");
    assert_eq!(note["author"]["username"], "suture-bot");
    let notes: Vec<Value> = MergeRequestNotes::builder()
        .project(PROJECT)
        .merge_request(1)
        .build()
        .unwrap()
        .query_async(&gl)
        .await
        .unwrap();
    assert_eq!(notes.len(), 1);
    assert_eq!(
        sim.notes(PROJECT, 1)[0].body,
        "Verification plan: watch restarts for 15m"
    );

    let merged: Value = MergeMergeRequest::builder()
        .project(PROJECT)
        .merge_request(1)
        .sha(head.as_str())
        .build()
        .unwrap()
        .query_async(&gl)
        .await
        .unwrap();
    assert_eq!(merged["state"], "merged");
    assert_eq!(merged["merged_by"]["username"], "suture-bot");
    let merge_sha = merged["merge_commit_sha"].as_str().unwrap().to_owned();

    // A real merge commit on main: parents are the old main tip and the MR head.
    let main = sim.store().branch_sha(PROJECT, "main").unwrap().unwrap();
    assert_eq!(main, merge_sha);
    let info = sim.store().commit_info(PROJECT, &merge_sha).unwrap();
    assert_eq!(info.parents.len(), 2);
    assert_eq!(info.parents[1], head);
    assert!(
        info.message
            .starts_with(&format!("Merge branch '{BRANCH}' into 'main'"))
    );
    assert!(info.message.contains("See merge request acme/gitops!1"));
    assert_eq!(
        sim.store()
            .read_file(PROJECT, "main", FILE)
            .unwrap()
            .unwrap(),
        b"memory: 640Mi\n"
    );
    // remove_source_branch was asked for at creation.
    assert_eq!(sim.store().branch_sha(PROJECT, BRANCH).unwrap(), None);

    let hook = next_event(&mut rx, "merge").await;
    assert_gitlab_headers(&hook);
    let payload = hook.json();
    let mut missing = Vec::new();
    payload_support::missing_paths(
        &fixture("merge_request.merge.json"),
        &payload,
        "",
        &mut missing,
    );
    assert!(missing.is_empty(), "merge payload lacks {missing:?}");
    assert_eq!(payload["object_kind"], "merge_request");
    assert_eq!(payload["object_attributes"]["state"], "merged");
    assert_eq!(payload["object_attributes"]["merge_commit_sha"], merge_sha);
    assert_eq!(payload["object_attributes"]["last_commit"]["id"], head);
    assert_eq!(payload["object_attributes"]["source_branch"], BRANCH);
    assert_eq!(payload["project"]["path_with_namespace"], PROJECT);
    assert_eq!(payload["user"]["username"], "suture-bot");
    assert_eq!(payload["labels"][0]["title"], "suture");
    assert_eq!(
        payload["changes"]["state_id"],
        json!({"previous": 1, "current": 3})
    );

    // A redelivery repeats the key and the bytes.
    let key = hook.header("idempotency-key").to_owned();
    let again = sim.redeliver(&key).await.unwrap();
    assert!(again.redelivery);
    assert_eq!(again.status, Some(200));
    let r2 = next_event(&mut rx, "merge").await;
    assert_eq!(r2.header("idempotency-key"), key);
    assert_eq!(
        r2.header("x-gitlab-event-uuid"),
        hook.header("x-gitlab-event-uuid")
    );
    assert_eq!(r2.body, hook.body);

    let snap = sim.merge_request(PROJECT, 1).unwrap();
    assert_eq!(snap.state, "merged");
    assert_eq!(snap.merge_commit_sha.as_deref(), Some(merge_sha.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_through_the_api_and_a_second_mr_for_the_branch_is_409() {
    let sim = sim();
    let gl = client(&sim, TOKEN).await.unwrap();
    let commit: Value = CreateCommit::builder()
        .project(PROJECT)
        .branch(BRANCH)
        .start_branch("main")
        .commit_message("fix: raise memory")
        .actions([
            CommitAction::builder()
                .action(CommitActionType::Update)
                .file_path(FILE)
                .content(&b"memory: 640Mi\n"[..])
                .build()
                .unwrap(),
            CommitAction::builder()
                .action(CommitActionType::Create)
                .file_path("apps/checkout-api/NOTES.md")
                // Not UTF-8: the crate sends it base64-encoded.
                .content(&b"bin\xff\n"[..])
                .build()
                .unwrap(),
            CommitAction::builder()
                .action(CommitActionType::Delete)
                .file_path("README.md")
                .build()
                .unwrap(),
        ])
        .build()
        .unwrap()
        .query_async(&gl)
        .await
        .unwrap();
    let sha = commit["id"].as_str().unwrap();
    assert_eq!(commit["author_name"], "suture-bot");
    let store = sim.store();
    assert_eq!(
        store.branch_sha(PROJECT, BRANCH).unwrap().as_deref(),
        Some(sha)
    );
    assert_eq!(
        store.read_file(PROJECT, sha, FILE).unwrap().unwrap(),
        b"memory: 640Mi\n"
    );
    assert_eq!(
        store
            .read_file(PROJECT, sha, "apps/checkout-api/NOTES.md")
            .unwrap()
            .unwrap(),
        b"bin\xff\n"
    );
    assert_eq!(store.read_file(PROJECT, sha, "README.md").unwrap(), None);

    // Creating a file that exists is GitLab's 400.
    let err = CreateCommit::builder()
        .project(PROJECT)
        .branch(BRANCH)
        .commit_message("again")
        .action(
            CommitAction::builder()
                .action(CommitActionType::Create)
                .file_path(FILE)
                .content(&b"x"[..])
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let e = gitlab::api::ignore(err).query_async(&gl).await.unwrap_err();
    assert_eq!(
        status_of(&e),
        (
            StatusCode::BAD_REQUEST,
            json!("A file with this name already exists")
        )
    );

    let _: Value = create_mr(BRANCH, "fix").query_async(&gl).await.unwrap();
    let e = gitlab::api::ignore(create_mr(BRANCH, "fix again"))
        .query_async(&gl)
        .await
        .unwrap_err();
    assert_eq!(
        status_of(&e),
        (
            StatusCode::CONFLICT,
            json!(["Another open merge request already exists for this source branch: !1"])
        )
    );
    assert_eq!(sim.merge_requests(PROJECT).len(), 1);

    // An MR from a branch that does not exist is a 422.
    let e = gitlab::api::ignore(create_mr("nope", "x"))
        .query_async(&gl)
        .await
        .unwrap_err();
    assert_eq!(status_of(&e).0, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_project_is_404_and_a_bad_token_401() {
    let sim = sim();
    // The crate checks the token with GET /user while building the client.
    let e = client(&sim, "glpat-wrong").await.unwrap_err();
    assert!(e.to_string().contains("401"), "{e}");

    let gl = client(&sim, TOKEN).await.unwrap();
    let e = gitlab::api::ignore(Project::builder().project("acme/nope").build().unwrap())
        .query_async(&gl)
        .await
        .unwrap_err();
    assert_eq!(
        status_of(&e),
        (StatusCode::NOT_FOUND, json!("404 Project Not Found"))
    );
    let e = gitlab::api::ignore(Project::builder().project(999_999).build().unwrap())
        .query_async(&gl)
        .await
        .unwrap_err();
    assert_eq!(status_of(&e).0, StatusCode::NOT_FOUND);
    let e = gitlab::api::ignore(
        MergeRequest::builder()
            .project(PROJECT)
            .merge_request(42)
            .build()
            .unwrap(),
    )
    .query_async(&gl)
    .await
    .unwrap_err();
    assert_eq!(
        status_of(&e),
        (StatusCode::NOT_FOUND, json!("404 Not found"))
    );

    // A token revoked after the client was built.
    assert!(sim.tokens().revoke(TOKEN));
    let e = gitlab::api::ignore(Project::builder().project(PROJECT).build().unwrap())
        .query_async(&gl)
        .await
        .unwrap_err();
    assert_eq!(
        status_of(&e),
        (StatusCode::UNAUTHORIZED, json!("401 Unauthorized"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_faults_surface_with_their_status() {
    let sim = sim();
    let gl = client(&sim, TOKEN).await.unwrap();
    let project = || Project::builder().project(PROJECT).build().unwrap();

    sim.faults()
        .inject(Fault::Status(502), 1, Some("/api/v4/projects/"));
    let e = gitlab::api::ignore(project())
        .query_async(&gl)
        .await
        .unwrap_err();
    assert_eq!(status_of(&e).0, StatusCode::BAD_GATEWAY);

    sim.faults().inject(Fault::Status(503), 1, None);
    let e = gitlab::api::ignore(project())
        .query_async(&gl)
        .await
        .unwrap_err();
    assert_eq!(status_of(&e).0, StatusCode::SERVICE_UNAVAILABLE);

    // Typed queries (not `api::ignore`) turn a 429 into the crate's rate-limit error.
    let typed = || async { project().query_async(&gl).await.map(|_: Value| ()) };
    sim.faults().inject(
        Fault::RateLimit {
            retry_after_secs: 7,
        },
        1,
        None,
    );
    let e = typed().await.unwrap_err();
    match e {
        ApiError::GitlabRateLimited {
            retry_after,
            rl_limit,
            rl_name,
            ..
        } => {
            assert_eq!(retry_after, Duration::from_secs(7));
            assert_eq!(rl_limit, 2000);
            assert_eq!(rl_name, "throttle_authenticated_api");
        }
        other => panic!("want a rate-limit error, got {other:?}"),
    }

    // The real throttle: past the limit, 429 until the window resets.
    sim.set_rate_limit(2);
    typed().await.unwrap();
    typed().await.unwrap();
    let e = typed().await.unwrap_err();
    assert!(
        matches!(
            e,
            ApiError::GitlabRateLimited {
                rl_remaining: 0,
                ..
            }
        ),
        "{e:?}"
    );
    sim.set_rate_limit(2000);

    // A hang delays the answer, which still arrives.
    sim.faults()
        .inject(Fault::Hang(Duration::from_millis(300)), 1, None);
    let t = Instant::now();
    gitlab::api::ignore(project())
        .query_async(&gl)
        .await
        .unwrap();
    assert!(t.elapsed() >= Duration::from_millis(300));
    assert_eq!(sim.faults().pending(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflicts_are_406_and_a_stale_sha_409() {
    let sim = sim();
    let gl = client(&sim, TOKEN).await.unwrap();
    let head_a = push(&sim, "fix-a", "memory: 640Mi\n");
    push(&sim, "fix-b", "memory: 768Mi\n");
    let _: Value = create_mr("fix-a", "a").query_async(&gl).await.unwrap();
    let _: Value = create_mr("fix-b", "b").query_async(&gl).await.unwrap();

    let merge = |iid: u64, sha: Option<&'static str>| {
        let mut b = MergeMergeRequest::builder();
        b.project(PROJECT).merge_request(iid);
        if let Some(s) = sha {
            b.sha(s);
        }
        gitlab::api::ignore(b.build().unwrap())
    };
    let e = merge(1, Some("0000000000000000000000000000000000000000"))
        .query_async(&gl)
        .await
        .unwrap_err();
    assert_eq!(
        status_of(&e),
        (
            StatusCode::CONFLICT,
            json!(format!(
                "SHA does not match HEAD of source branch: {head_a}"
            ))
        )
    );
    merge(1, None).query_async(&gl).await.unwrap();

    // !2 now conflicts with main.
    let mr: Value = MergeRequest::builder()
        .project(PROJECT)
        .merge_request(2)
        .build()
        .unwrap()
        .query_async(&gl)
        .await
        .unwrap();
    assert_eq!(mr["has_conflicts"], true);
    assert_eq!(mr["detailed_merge_status"], "conflict");
    let e = merge(2, None).query_async(&gl).await.unwrap_err();
    assert_eq!(
        status_of(&e),
        (StatusCode::NOT_ACCEPTABLE, json!("Branch cannot be merged"))
    );
    // Merging again what is merged is not allowed.
    let e = merge(1, None).query_async(&gl).await.unwrap_err();
    assert_eq!(
        status_of(&e),
        (
            StatusCode::METHOD_NOT_ALLOWED,
            json!("405 Method Not Allowed")
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edit_labels_close_reopen_and_a_human_merge() {
    let sim = sim();
    let (url, mut rx) = receiver().await;
    sim.add_webhook(&url, SECRET);
    let gl = client(&sim, TOKEN).await.unwrap();

    let label: Value = CreateLabel::builder()
        .project(PROJECT)
        .name("suture")
        .color("#cc0033")
        .description("opened by suture")
        .build()
        .unwrap()
        .query_async(&gl)
        .await
        .unwrap();
    assert_eq!(label["name"], "suture");
    let e = gitlab::api::ignore(
        CreateLabel::builder()
            .project(PROJECT)
            .name("suture")
            .color("#cc0033")
            .build()
            .unwrap(),
    )
    .query_async(&gl)
    .await
    .unwrap_err();
    assert_eq!(
        status_of(&e),
        (StatusCode::CONFLICT, json!("Label already exists"))
    );

    let _: Value = CreateBranch::builder()
        .project(PROJECT)
        .branch(BRANCH)
        .ref_("main")
        .build()
        .unwrap()
        .query_async(&gl)
        .await
        .unwrap();
    let branches: Vec<Value> = Branches::builder()
        .project(PROJECT)
        .build()
        .unwrap()
        .query_async(&gl)
        .await
        .unwrap();
    assert_eq!(branches.len(), 2);
    push_onto(&sim, BRANCH);

    let _: Value = create_mr(BRANCH, "Draft: fix")
        .query_async(&gl)
        .await
        .unwrap();
    next_event(&mut rx, "open").await;
    let edit = |f: &dyn Fn(&mut gitlab::api::projects::merge_requests::EditMergeRequestBuilder)| {
        let mut b = EditMergeRequest::builder();
        b.project(PROJECT).merge_request(1);
        f(&mut b);
        b.build().unwrap()
    };
    let mr: Value = edit(&|b| {
        b.title("fix(payments/checkout-api): raise memory")
            .add_label("verified");
    })
    .query_async(&gl)
    .await
    .unwrap();
    assert_eq!(mr["draft"], false);
    assert_eq!(
        mr["labels"],
        json!(["suture", "fault/oom-killed", "verified"])
    );
    let update = next_event(&mut rx, "update").await;
    assert!(update.json()["changes"]["title"]["previous"] == "Draft: fix");

    let mr: Value = edit(&|b| {
        b.state_event(MergeRequestStateEvent::Close);
    })
    .query_async(&gl)
    .await
    .unwrap();
    assert_eq!(mr["state"], "closed");
    let close = next_event(&mut rx, "close").await;
    assert_eq!(close.json()["object_attributes"]["state"], "closed");
    let mr: Value = edit(&|b| {
        b.state_event(MergeRequestStateEvent::Reopen);
    })
    .query_async(&gl)
    .await
    .unwrap();
    assert_eq!(mr["state"], "opened");
    next_event(&mut rx, "reopen").await;

    let labels: Vec<Value> = Labels::builder()
        .project(PROJECT)
        .build()
        .unwrap()
        .query_async(&gl)
        .await
        .unwrap();
    assert_eq!(labels.len(), 3);
    assert_eq!(
        sim.labels(PROJECT),
        ["fault/oom-killed", "suture", "verified"]
    );

    // A human clicks merge in the UI.
    let sha = sim.merge_mr(PROJECT, 1).await.unwrap();
    let hook = next_event(&mut rx, "merge").await;
    let p = hook.json();
    assert_eq!(p["user"]["username"], "root");
    assert_eq!(p["object_attributes"]["merge_commit_sha"], sha);
    assert!(sim.wait_for_deliveries(Duration::from_secs(5)).await);
    let actions: Vec<_> = sim
        .deliveries()
        .iter()
        .map(|d| d.action.clone().unwrap_or_default())
        .collect();
    assert_eq!(actions, ["open", "update", "close", "reopen", "merge"]);
    assert_payloads_match_the_fixtures(&sim.deliveries());
}

/// Every `Merge Request Hook` sent, against both GitLab payloads of the fixtures, outside
/// `changes`: which keys that holds depends on what changed (the `open` example shows an
/// edit), so there each entry is checked to be GitLab's `{previous, current}` pair.
fn assert_payloads_match_the_fixtures(deliveries: &[suture_sim::forge::Delivery]) {
    let open = fixture("merge_request.open.json");
    let merge = fixture("merge_request.merge.json");
    let mut nullable = payload_support::nullable_paths(&[open.clone(), merge.clone()]);
    // Null on GitLab too in states the two captures do not show: no assignee, never edited, no
    // time tracked, not merged yet, project (not group) labels without a description, and no
    // earlier `updated_at` on a merge request just opened.
    nullable.extend(
        [
            ".object_attributes.assignee_id",
            ".object_attributes.last_edited_at",
            ".object_attributes.last_edited_by_id",
            ".object_attributes.human_time_change",
            ".object_attributes.human_time_estimate",
            ".object_attributes.human_total_time_spent",
            ".object_attributes.merge_commit_sha",
            ".object_attributes.labels[].description",
            ".object_attributes.labels[].group_id",
            ".labels[].description",
            ".labels[].group_id",
            ".changes.labels.current[].description",
            ".changes.labels.current[].group_id",
            ".changes.updated_at.previous",
        ]
        .map(String::from),
    );
    let without_changes = |v: &Value| {
        let mut v = v.clone();
        v.as_object_mut().unwrap().remove("changes");
        v
    };
    let mut errors = Vec::new();
    for d in deliveries {
        let action = d.action.clone().unwrap_or_default();
        let payload = d.payload();
        let against = [
            (format!("{action} vs open"), without_changes(&open)),
            (format!("{action} vs merge"), without_changes(&merge)),
        ];
        let changes = payload["changes"]
            .as_object()
            .expect("changes is an object");
        for (key, change) in changes {
            let pair = change.as_object().map(|c| {
                let mut keys: Vec<&str> = c.keys().map(String::as_str).collect();
                keys.sort_unstable();
                keys
            });
            if pair.as_deref() != Some(&["current", "previous"][..]) {
                errors.push(format!(
                    "{action}: changes.{key} is not {{previous, current}}"
                ));
            }
        }
        for (what, want) in against {
            for e in payload_support::shape_mismatches(&want, &payload, &nullable) {
                errors.push(format!("{what}: {e}"));
            }
        }
    }
    assert!(errors.is_empty(), "{errors:#?}");
}

/// Add a commit on an existing remote branch.
fn push_onto(sim: &GitLabSim, branch: &str) {
    sim.store()
        .commit_files(PROJECT, branch, [(FILE, "memory: 640Mi\n")], "raise memory")
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_inputs_get_gitlab_errors_not_panics() {
    let sim = sim();
    for (method, path, body, want) in [
        (
            "POST",
            "/api/v4/projects/acme%2Fgitops/merge_requests",
            "",
            400,
        ),
        (
            "POST",
            "/api/v4/projects/acme%2Fgitops/merge_requests",
            "{not json",
            400,
        ),
        (
            "GET",
            "/api/v4/projects/acme%2Fgitops/merge_requests/abc",
            "",
            404,
        ),
        (
            "GET",
            "/api/v4/projects/acme%2Fgitops/merge_requests?state=weird",
            "",
            400,
        ),
        (
            "PUT",
            "/api/v4/projects/acme%2Fgitops/merge_requests/1",
            "",
            400,
        ),
        (
            "POST",
            "/api/v4/projects/acme%2Fgitops/repository/commits",
            "branch=x",
            400,
        ),
        (
            "POST",
            "/api/v4/projects/acme%2Fgitops/repository/branches",
            "branch=..&ref=main",
            400,
        ),
        (
            "GET",
            "/api/v4/projects/acme%2Fgitops/repository/files/..%2Fetc?ref=main",
            "",
            404,
        ),
        ("GET", "/api/v4/nothing", "", 404),
        ("DELETE", "/api/v4/projects/acme%2Fgitops", "", 405),
    ] {
        let (status, headers, _) = raw(&sim, method, path, body).await;
        assert_eq!(status, want, "{method} {path}");
        assert!(headers.contains_key("ratelimit-remaining"));
    }
    let big = "a".repeat(5 * 1024 * 1024);
    let (status, _, _) = raw(&sim, "POST", "/api/v4/projects/1/labels", &big).await;
    assert_eq!(status, 413);
}

/// A raw request, for inputs the typed client would refuse to send.
async fn raw(sim: &GitLabSim, method: &str, path: &str, body: &str) -> (u16, HeaderMap, Bytes) {
    use http_body_util::{BodyExt as _, Full};
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<Bytes>>();
    let ct = if body.starts_with('{') {
        "application/json"
    } else {
        "application/x-www-form-urlencoded"
    };
    let req = hyper::Request::builder()
        .method(method.parse::<axum::http::Method>().unwrap())
        .uri(format!("{}{path}", sim.api_url()))
        .header("private-token", TOKEN)
        .header("content-type", ct)
        .body(Full::new(Bytes::from(body.to_owned())))
        .unwrap();
    let resp = client.request(req).await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (status, headers, bytes)
}

#[test]
fn the_client_path_is_plain_http_and_project_paths_resolve() {
    let sim = sim();
    assert!(sim.api_url().starts_with("http://127.0.0.1:"));
    assert_eq!(sim.project_paths(), [PROJECT]);
    assert!(sim.project_id(PROJECT).is_some());
    assert!(
        Path::new(&sim.store().path(PROJECT).unwrap())
            .join("HEAD")
            .is_file()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_statuses_follow_gitlab_job_transitions() {
    use gitlab::api::projects::repository::commits::{
        CommitStatusState, CommitStatuses, CreateCommitStatus,
    };
    let sim = sim();
    let gl = client(&sim, TOKEN).await.unwrap();
    let sha = sim.store().branch_sha(PROJECT, "main").unwrap().unwrap();
    let post = |state| {
        CreateCommitStatus::builder()
            .project(PROJECT)
            .commit(sha.as_str())
            .state(state)
            .name("suture/verify")
            .description("verifying")
            .target_url("http://suture.example/incidents/1")
            .build()
            .unwrap()
    };
    let pending: Value = post(CommitStatusState::Pending)
        .query_async(&gl)
        .await
        .unwrap();
    assert_eq!(pending["status"], "pending");
    assert_eq!(pending["ref"], "main", "the branch containing the sha");
    assert_eq!(pending["author"]["username"], "suture-bot");
    assert_eq!(pending["finished_at"], Value::Null);
    for key in [
        "id",
        "sha",
        "name",
        "target_url",
        "description",
        "created_at",
        "started_at",
        "allow_failure",
        "pipeline_id",
    ] {
        assert!(pending.get(key).is_some(), "{key}");
    }
    // pending -> pending has no transition.
    let e = gitlab::api::ignore(post(CommitStatusState::Pending))
        .query_async(&gl)
        .await
        .unwrap_err();
    assert_eq!(
        status_of(&e),
        (
            StatusCode::BAD_REQUEST,
            json!(
                "Cannot transition status via :enqueue from :pending (Reason(s): Status cannot transition via \"enqueue\")"
            )
        )
    );
    // pending -> success updates the same status.
    let success: Value = post(CommitStatusState::Success)
        .query_async(&gl)
        .await
        .unwrap();
    assert_eq!(success["id"], pending["id"]);
    assert_eq!(success["status"], "success");
    assert!(success["finished_at"].is_string());
    // A finished status is not moved back: the next post starts a new one.
    let again: Value = post(CommitStatusState::Pending)
        .query_async(&gl)
        .await
        .unwrap();
    assert_ne!(again["id"], pending["id"]);
    assert_eq!(again["pipeline_id"], pending["pipeline_id"]);
    let list = |all| {
        CommitStatuses::builder()
            .project(PROJECT)
            .commit(sha.as_str())
            .all(all)
            .build()
            .unwrap()
    };
    let latest: Vec<Value> = list(false).query_async(&gl).await.unwrap();
    assert_eq!(latest.len(), 1);
    assert_eq!(latest[0]["status"], "pending");
    let every: Vec<Value> = list(true).query_async(&gl).await.unwrap();
    let states: Vec<&str> = every.iter().filter_map(|s| s["status"].as_str()).collect();
    assert_eq!(states, ["success", "pending"], "by id, ascending");
    assert_eq!(sim.commit_statuses(PROJECT).len(), 2);

    // An unknown commit is 404; a state GitLab does not know is 400.
    let e = gitlab::api::ignore(
        CreateCommitStatus::builder()
            .project(PROJECT)
            .commit("0000000000000000000000000000000000000001")
            .state(CommitStatusState::Success)
            .build()
            .unwrap(),
    )
    .query_async(&gl)
    .await
    .unwrap_err();
    assert_eq!(
        status_of(&e),
        (StatusCode::NOT_FOUND, json!("404 Commit Not Found"))
    );
    let e = gitlab::api::ignore(
        CommitStatuses::builder()
            .project(PROJECT)
            .commit("0000000000000000000000000000000000000001")
            .build()
            .unwrap(),
    )
    .query_async(&gl)
    .await
    .unwrap_err();
    assert_eq!(status_of(&e).0, StatusCode::NOT_FOUND);
    let (status, _, body) = raw(
        &sim,
        "POST",
        &format!("/api/v4/projects/acme%2Fgitops/statuses/{sha}"),
        "state=passed&name=suture%2Fverify",
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap(),
        json!({"error": "state does not have a valid value"})
    );
    assert_eq!(sim.commit_statuses(PROJECT).len(), 2);
}
