use super::*;

fn fixture(rel: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{rel}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn secret(s: &str) -> Secret {
    Secret::new(s.as_bytes())
}

// The example from GitHub's "Validating webhook deliveries" documentation.
#[test]
fn github_signature_matches_the_documented_example() {
    let s = secret("It's a Secret to Everybody");
    let sig = github_signature(&s, b"Hello, World!");
    assert_eq!(
        sig,
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    );
    assert_eq!(verify_github(&[s], Some(&sig), b"Hello, World!"), Ok(()));
}

#[test]
fn github_rejects_a_changed_body_a_wrong_secret_and_bad_headers() {
    let body = fixture("github-webhooks/pull_request.closed.merged.derived.json");
    let s = secret("s3cret");
    let sig = github_signature(&s, &body);
    let mut tampered = body.clone();
    tampered[10] ^= 1;
    assert_eq!(
        verify_github(std::slice::from_ref(&s), Some(&sig), &tampered),
        Err(WebhookError::BadCredential)
    );
    assert_eq!(
        verify_github(&[secret("other")], Some(&sig), &body),
        Err(WebhookError::BadCredential)
    );
    assert_eq!(
        verify_github(std::slice::from_ref(&s), None, &body),
        Err(WebhookError::MissingCredential("X-Hub-Signature-256"))
    );
    // The SHA-1 header format, and hex that is not hex.
    for bad in ["sha1=abcdef", "sha256=zz", "757107ea"] {
        assert_eq!(
            verify_github(std::slice::from_ref(&s), Some(bad), &body),
            Err(WebhookError::MalformedCredential("X-Hub-Signature-256")),
            "{bad}"
        );
    }
    // A truncated digest never matches.
    assert_eq!(
        verify_github(std::slice::from_ref(&s), Some(&sig[..41]), &body),
        Err(WebhookError::BadCredential)
    );
    assert_eq!(
        verify_github(&[], Some(&sig), &body),
        Err(WebhookError::BadCredential)
    );
    assert_eq!(WebhookError::BadCredential.status(), 401);
}

#[test]
fn github_accepts_any_of_several_secrets_during_rotation() {
    let body = b"{}";
    let old = secret("old");
    let new = secret("new");
    let both = [new.clone(), old.clone()];
    assert_eq!(
        verify_github(&both, Some(&github_signature(&old, body)), body),
        Ok(())
    );
    assert_eq!(
        verify_github(&both, Some(&github_signature(&new, body)), body),
        Ok(())
    );
}

#[test]
fn gitlab_token_and_bearer_compare_whole_values() {
    let secrets = [secret("tok-1"), secret("tok-2")];
    assert_eq!(verify_gitlab(&secrets, Some("tok-2")), Ok(()));
    for bad in ["tok-", "tok-22", "", "TOK-1"] {
        assert_eq!(
            verify_gitlab(&secrets, Some(bad)),
            Err(WebhookError::BadCredential),
            "{bad:?}"
        );
    }
    assert_eq!(
        verify_gitlab(&secrets, None),
        Err(WebhookError::MissingCredential("X-Gitlab-Token"))
    );
    assert_eq!(verify_bearer(&secrets, Some("Bearer tok-1")), Ok(()));
    assert_eq!(verify_bearer(&secrets, Some("bearer tok-1")), Ok(()));
    assert_eq!(
        verify_bearer(&secrets, Some("Basic dG9rLTE=")),
        Err(WebhookError::MalformedCredential("Authorization"))
    );
    assert_eq!(
        verify_bearer(&secrets, Some("Bearer tok-3")),
        Err(WebhookError::BadCredential)
    );
}

#[test]
fn secrets_never_print() {
    let s = secret("hunter2");
    assert!(!format!("{s:?}").contains("hunter2"));
    let e = verify_gitlab(&[s], Some("nope")).unwrap_err();
    assert!(!e.to_string().contains("hunter2"));
    assert!(!e.to_string().contains("nope"));
}

fn github(name: &str) -> ForgeEvent {
    let body = fixture(&format!("github-webhooks/{name}"));
    let event = name.split('.').next().unwrap_or_default();
    parse_github(Some(event), &body).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn change(e: ForgeEvent) -> ChangeEvent {
    match e {
        ForgeEvent::Change(c) => c,
        other => panic!("expected a change event, got {other:?}"),
    }
}

#[test]
fn github_fixtures_map_to_actions() {
    let merged = change(github("pull_request.closed.merged.derived.json"));
    assert_eq!(
        merged.action,
        ChangeAction::Merged {
            merge_sha: "c4295bd74fb0f4fda03689c3df3f2803b658fd85".into()
        }
    );
    assert_eq!(merged.number, 2);
    assert_eq!(merged.head_branch, "changes");
    assert_eq!(merged.base_branch, "master");
    assert_eq!(merged.repo.path, "Codertocat/Hello-World");
    assert_eq!(
        merged.repo.clone_url,
        "https://github.com/Codertocat/Hello-World.git"
    );
    assert_eq!(
        merged.url,
        "https://github.com/Codertocat/Hello-World/pull/2"
    );
    // Closed without merge, though `merge_commit_sha` is set on it too.
    assert_eq!(
        change(github("pull_request.closed.payload.json")).action,
        ChangeAction::Closed
    );
    assert_eq!(
        change(github("pull_request.closed.with-organization.payload.json")).action,
        ChangeAction::Closed
    );
    assert_eq!(
        change(github("pull_request.opened.payload.json")).action,
        ChangeAction::Opened
    );
    assert_eq!(
        change(github("pull_request.reopened.payload.json")).action,
        ChangeAction::Reopened
    );
    assert_eq!(
        change(github("pull_request.synchronize.payload.json")).action,
        ChangeAction::Updated
    );
    assert_eq!(
        change(github("pull_request.labeled.payload.json")).action,
        ChangeAction::Other("labeled".into())
    );
}

#[test]
fn github_other_events_are_ignored_but_must_be_json() {
    for (name, event) in [
        ("push.payload.json", "push"),
        ("ping.payload.json", "ping"),
        ("issue_comment.created.payload.json", "issue_comment"),
    ] {
        assert_eq!(
            github(name),
            ForgeEvent::Ignored {
                event: event.into()
            }
        );
    }
    assert!(matches!(
        parse_github(Some("push"), b"{not json"),
        Err(WebhookError::Malformed(_))
    ));
    assert!(matches!(
        parse_github(Some("pull_request"), br#"{"action":"closed"}"#),
        Err(WebhookError::Malformed(_))
    ));
    assert_eq!(
        parse_github(None, b"{}"),
        Err(WebhookError::MissingHeader("X-GitHub-Event"))
    );
    assert_eq!(WebhookError::Malformed(String::new()).status(), 400);
}

#[test]
fn github_merged_without_a_merge_sha_is_malformed() {
    let mut v: serde_json::Value = serde_json::from_slice(&fixture(
        "github-webhooks/pull_request.closed.merged.derived.json",
    ))
    .unwrap_or_default();
    v["pull_request"]["merge_commit_sha"] = serde_json::Value::Null;
    let body = serde_json::to_vec(&v).unwrap_or_default();
    assert!(matches!(
        parse_github(Some("pull_request"), &body),
        Err(WebhookError::Malformed(m)) if m.contains("merge_commit_sha")
    ));
}

#[test]
fn gitlab_fixtures_map_to_actions() {
    let hook = Some("Merge Request Hook");
    let merged = change(
        parse_gitlab(hook, &fixture("gitlab-webhooks/merge_request.merge.json"))
            .unwrap_or_else(|e| panic!("{e}")),
    );
    assert_eq!(
        merged.action,
        ChangeAction::Merged {
            merge_sha: "8a4f1c2e9b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39".into()
        }
    );
    assert_eq!(merged.number, 1);
    assert_eq!(merged.head_branch, "ms-viewport");
    assert_eq!(merged.base_branch, "master");
    assert_eq!(merged.repo.path, "gitlabhq/gitlab-test");
    assert_eq!(
        merged.repo.clone_url,
        "http://example.com/gitlabhq/gitlab-test.git"
    );
    let opened = change(
        parse_gitlab(hook, &fixture("gitlab-webhooks/merge_request.open.json"))
            .unwrap_or_else(|e| panic!("{e}")),
    );
    assert_eq!(opened.action, ChangeAction::Opened);
    assert_eq!(
        parse_gitlab(Some("Push Hook"), b"{}"),
        Ok(ForgeEvent::Ignored {
            event: "Push Hook".into()
        })
    );
    assert!(matches!(
        parse_gitlab(hook, b"[]"),
        Err(WebhookError::Malformed(_))
    ));
}

#[test]
fn gitlab_close_and_merge_without_sha() {
    let mut v: serde_json::Value =
        serde_json::from_slice(&fixture("gitlab-webhooks/merge_request.merge.json"))
            .unwrap_or_default();
    v["object_attributes"]["action"] = "close".into();
    let body = serde_json::to_vec(&v).unwrap_or_default();
    assert_eq!(
        change(parse_gitlab(Some("Merge Request Hook"), &body).unwrap_or_else(|e| panic!("{e}")))
            .action,
        ChangeAction::Closed
    );
    v["object_attributes"]["action"] = "merge".into();
    v["object_attributes"]["merge_commit_sha"] = serde_json::Value::Null;
    let body = serde_json::to_vec(&v).unwrap_or_default();
    assert!(matches!(
        parse_gitlab(Some("Merge Request Hook"), &body),
        Err(WebhookError::Malformed(_))
    ));
}
