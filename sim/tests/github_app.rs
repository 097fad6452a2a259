//! GitHub App installation tokens: `POST /app/installations/{id}/access_tokens` with the App's
//! JWT (made by octocrab itself, and by hand for the bad ones), and the token it hands out on
//! the REST API and the Git remote.

#[path = "git_support/mod.rs"]
mod support;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use octocrab::Octocrab;
use octocrab::models::{AppId, InstallationId};
use serde_json::{Value, json};
use suture_sim::github::GitHubSim;

const APP_ID: u64 = 424242;
const INSTALLATION: u64 = 9001;
const REPO: &str = "acme/gitops";

fn key_file(name: &str) -> String {
    let path = format!(
        "{}/../tests/fixtures/github-app/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).expect(&path)
}

fn sim() -> GitHubSim {
    let sim = GitHubSim::start().unwrap();
    sim.register_app(
        APP_ID,
        INSTALLATION,
        "acme",
        &key_file("app.public-key.pem"),
    )
    .unwrap();
    sim.create_repo(REPO, "main").unwrap();
    sim.store()
        .commit_files(REPO, "main", [("app.yaml", "memory: 512Mi\n")], "seed")
        .unwrap();
    sim
}

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// A JWT with these claims, signed RS256 by `key_name`.
fn jwt(key_name: &str, claims: Value) -> String {
    let key = EncodingKey::from_rsa_pem(key_file(key_name).as_bytes()).unwrap();
    jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &key).unwrap()
}

/// A client sending `Authorization: Bearer <bearer>`.
fn bearer(sim: &GitHubSim, bearer: &str) -> Octocrab {
    Octocrab::builder()
        .base_uri(sim.api_url())
        .unwrap()
        .personal_token(bearer.to_owned())
        .build()
        .unwrap()
}

/// The status and body of `POST /app/installations/{installation}/access_tokens`.
async fn create_token(sim: &GitHubSim, token: &str, installation: u64) -> (u16, Value) {
    let resp = bearer(sim, token)
        ._post(
            format!("/app/installations/{installation}/access_tokens"),
            None::<&()>,
        )
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let body = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .unwrap()
        .to_bytes();
    (status, serde_json::from_slice(&body).unwrap())
}

fn good_claims() -> Value {
    json!({"iss": APP_ID, "iat": now() - 60, "exp": now() + 540})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_app_valid_jwt_gets_an_installation_token_for_api_and_git() {
    let sim = sim();
    let (status, body) = create_token(
        &sim,
        &jwt("app.private-key.pem", good_claims()),
        INSTALLATION,
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let token = body["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("ghs_"), "{token}");
    let expires = body["expires_at"].as_str().unwrap();
    assert!(expires.ends_with('Z'), "{expires}");
    let expires: jiff::Timestamp = expires.parse().unwrap();
    let left = expires.as_second() - now();
    assert!((3500..=3600).contains(&left), "{left}");
    assert_eq!(
        body["permissions"],
        json!({"contents": "write", "pull_requests": "write", "statuses": "write"})
    );
    assert_eq!(body["repository_selection"], "selected");
    assert_eq!(sim.installation_tokens_issued(INSTALLATION), 1);

    // The token works on the REST API as the App's bot...
    let repo = bearer(&sim, &token)
        .repos("acme", "gitops")
        .get()
        .await
        .unwrap();
    assert_eq!(repo.default_branch.as_deref(), Some("main"));
    // ...and on the Git remote, as `x-access-token:<token>`.
    let dir = tempfile::tempdir().unwrap();
    let clone = support::clone(&sim.clone_url(REPO), &token, dir.path()).unwrap();
    support::checkout_new_branch(&clone, "suture/app");
    support::commit(&clone, &[("app.yaml", "memory: 1Gi\n")], "raise memory");
    support::push(&clone, &token, "suture/app").unwrap();
    assert!(
        sim.store()
            .branch_sha(REPO, "suture/app")
            .unwrap()
            .is_some()
    );
    // The JWT itself is no token for the REST API.
    let jwt_only = jwt("app.private-key.pem", good_claims());
    assert!(
        bearer(&sim, &jwt_only)
            .repos("acme", "gitops")
            .get()
            .await
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_app_octocrab_installation_client_fetches_its_own_token() {
    let sim = sim();
    let key = EncodingKey::from_rsa_pem(key_file("app.private-key.pem").as_bytes()).unwrap();
    let app = Octocrab::builder()
        .base_uri(sim.api_url())
        .unwrap()
        .app(AppId(APP_ID), key)
        .build()
        .unwrap();
    let installation = app.installation(InstallationId(INSTALLATION)).unwrap();
    let repo = installation.repos("acme", "gitops").get().await.unwrap();
    assert_eq!(repo.full_name.as_deref(), Some(REPO));
    let got = app
        .apps()
        .installation(InstallationId(INSTALLATION))
        .await
        .unwrap();
    assert_eq!(got.id, InstallationId(INSTALLATION));
    assert_eq!(got.app_id, Some(AppId(APP_ID)));
    // The client id as `iss` is accepted too, and the id as a string.
    let (status, _) = create_token(
        &sim,
        &jwt(
            "app.private-key.pem",
            json!({"iss": APP_ID.to_string(), "iat": now(), "exp": now() + 300}),
        ),
        INSTALLATION,
    )
    .await;
    assert_eq!(status, 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_app_bad_jwts_are_401_and_an_unknown_installation_404() {
    let sim = sim();
    let decoded = "A JSON web token could not be decoded";
    let cases = [
        (
            "wrong key",
            jwt("other.private-key.pem", good_claims()),
            decoded,
        ),
        ("not a JWT", "not-a-jwt".to_owned(), decoded),
        (
            "unknown app",
            jwt(
                "app.private-key.pem",
                json!({"iss": 1, "iat": now() - 60, "exp": now() + 540}),
            ),
            decoded,
        ),
        (
            "expired",
            jwt(
                "app.private-key.pem",
                json!({"iss": APP_ID, "iat": now() - 700, "exp": now() - 100}),
            ),
            "'Expiration time' claim ('exp') must be a numeric value representing the future \
             time at which the assertion expires",
        ),
        (
            "iat in the future",
            jwt(
                "app.private-key.pem",
                json!({"iss": APP_ID, "iat": now() + 120, "exp": now() + 300}),
            ),
            "'Issued at' claim ('iat') must be an Integer representing the time that the \
             assertion was issued",
        ),
        (
            "exp too far",
            jwt(
                "app.private-key.pem",
                json!({"iss": APP_ID, "iat": now(), "exp": now() + 3600}),
            ),
            "'Expiration time' claim ('exp') is too far in the future",
        ),
    ];
    for (what, token, message) in cases {
        let (status, body) = create_token(&sim, &token, INSTALLATION).await;
        assert_eq!(status, 401, "{what}: {body}");
        assert_eq!(body["message"], message, "{what}");
        assert!(body["documentation_url"].is_string(), "{what}");
    }
    let (status, body) =
        create_token(&sim, &jwt("app.private-key.pem", good_claims()), 12345).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["message"], "Not Found");
    assert_eq!(sim.installation_tokens_issued(INSTALLATION), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_app_installation_tokens_expire() {
    let sim = sim();
    sim.set_installation_token_ttl(std::time::Duration::from_secs(1));
    let (status, body) = create_token(
        &sim,
        &jwt("app.private-key.pem", good_claims()),
        INSTALLATION,
    )
    .await;
    assert_eq!(status, 201);
    let token = body["token"].as_str().unwrap().to_owned();
    bearer(&sim, &token)
        .repos("acme", "gitops")
        .get()
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let err = bearer(&sim, &token)
        .repos("acme", "gitops")
        .get()
        .await
        .unwrap_err();
    match err {
        octocrab::Error::GitHub { source, .. } => {
            assert_eq!(source.status_code.as_u16(), 401);
            assert_eq!(source.message, "Bad credentials");
        }
        other => panic!("{other:?}"),
    }
    let dir = tempfile::tempdir().unwrap();
    assert!(support::clone(&sim.clone_url(REPO), &token, dir.path()).is_err());
}
