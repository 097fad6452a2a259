//! suture's forge layer (`Forge` over octocrab and the `gitlab` crate) against the GitHub and
//! GitLab simulators over real HTTP: what lands on the forge is read back from the simulator's
//! own state, and faults and rate limits are the simulator's.

use std::time::{Duration, Instant};

use suture::config::ForgeKind;
use suture::forge::retry::Backoff;
use suture::forge::webhook::Secret;
use suture::forge::{
    ChangeState, CommitStatus, Forge, ForgeError, ForgeSettings, NewChange, RepoPath, RetryPolicy,
    StatusState, VERIFY_CONTEXT,
};
use suture_sim::forge::{Fault, Faults};
use suture_sim::github::GitHubSim;
use suture_sim::gitlab::GitLabSim;

const GITHUB_TOKEN: &str = "ghs_suture_bot_token_value";
const GITLAB_TOKEN: &str = "glpat-suture-bot-token-value";
const REPO: &str = "acme/gitops";
const BRANCH: &str = "suture/oom-killed/payments/checkout-api-1a2b3c4d";
const OTHER: &str = "suture/oom-killed/payments/ledger-5e6f7a8b";

/// Small waits so retries and back-off finish in milliseconds.
fn quick() -> RetryPolicy {
    RetryPolicy {
        backoff: Backoff {
            base: Duration::from_millis(5),
            max: Duration::from_millis(20),
            max_attempts: 4,
            secondary_min: Duration::from_millis(50),
            max_wait: Duration::from_secs(2),
        },
        timeout: Duration::from_secs(5),
    }
}

/// One simulated forge with `acme/gitops` (main + two fix branches) and a bot token.
enum Sim {
    GitHub(GitHubSim),
    GitLab(GitLabSim),
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    GitHub,
    GitLab,
}

const BOTH: [Kind; 2] = [Kind::GitHub, Kind::GitLab];

impl Sim {
    fn start(kind: Kind) -> Sim {
        let sim = match kind {
            Kind::GitHub => {
                let s = GitHubSim::start().unwrap();
                s.add_token(GITHUB_TOKEN, "suture-bot");
                s.create_repo(REPO, "main").unwrap();
                Sim::GitHub(s)
            }
            Kind::GitLab => {
                let s = GitLabSim::start().unwrap();
                s.add_token(GITLAB_TOKEN, "suture-bot");
                s.create_project(REPO, "main").unwrap();
                Sim::GitLab(s)
            }
        };
        let store = match &sim {
            Sim::GitHub(s) => s.store(),
            Sim::GitLab(s) => s.store(),
        };
        let main = store
            .commit_files(REPO, "main", [("app.yaml", "memory: 512Mi\n")], "seed")
            .unwrap();
        for (branch, content) in [(BRANCH, "memory: 640Mi\n"), (OTHER, "memory: 1Gi\n")] {
            store
                .create_ref(REPO, &format!("refs/heads/{branch}"), &main)
                .unwrap();
            store
                .commit_files(REPO, branch, [("app.yaml", content)], "raise memory")
                .unwrap();
        }
        sim
    }

    fn clone_url(&self) -> String {
        match self {
            Sim::GitHub(s) => s.clone_url(REPO),
            Sim::GitLab(s) => s.clone_url(REPO),
        }
    }

    fn settings_with(&self, token: &str, policy: RetryPolicy) -> ForgeSettings {
        let url = self.clone_url();
        let host = url
            .trim_start_matches("http://")
            .split('/')
            .next()
            .unwrap()
            .to_owned();
        let (kind, api) = match self {
            Sim::GitHub(s) => (ForgeKind::Github, s.api_url()),
            Sim::GitLab(s) => (ForgeKind::Gitlab, format!("{}/api/v4", s.api_url())),
        };
        ForgeSettings {
            policy,
            ..ForgeSettings::new(&host, kind, &api, Secret::new(token))
        }
    }

    fn token(&self) -> &'static str {
        match self {
            Sim::GitHub(_) => GITHUB_TOKEN,
            Sim::GitLab(_) => GITLAB_TOKEN,
        }
    }

    /// The forge for the repository, as the runner gets it.
    fn forge(&self, policy: RetryPolicy) -> (Forge, RepoPath) {
        Forge::for_repo(
            &[self.settings_with(self.token(), policy)],
            &self.clone_url(),
        )
        .unwrap()
    }

    fn faults(&self) -> &Faults {
        match self {
            Sim::GitHub(s) => s.faults(),
            Sim::GitLab(s) => s.faults(),
        }
    }

    /// Where creates go, for faults.
    fn create_path(&self) -> String {
        match self {
            Sim::GitHub(_) => format!("/repos/{REPO}/pulls"),
            Sim::GitLab(_) => "/api/v4/projects/acme%2Fgitops/merge_requests".to_owned(),
        }
    }

    fn main_sha(&self) -> String {
        let store = match self {
            Sim::GitHub(s) => s.store(),
            Sim::GitLab(s) => s.store(),
        };
        store.branch_sha(REPO, "main").unwrap().unwrap()
    }

    /// Where status posts go, for faults.
    fn status_path(&self, sha: &str) -> String {
        match self {
            Sim::GitHub(_) => format!("/repos/{REPO}/statuses/{sha}"),
            Sim::GitLab(_) => format!("/api/v4/projects/acme%2Fgitops/statuses/{sha}"),
        }
    }

    /// (state, context) of every status the sim holds, oldest first (GitLab: not retried).
    fn statuses(&self) -> Vec<(String, String)> {
        match self {
            Sim::GitHub(s) => s
                .statuses(REPO)
                .into_iter()
                .map(|s| (s.state, s.context))
                .collect(),
            Sim::GitLab(s) => s
                .commit_statuses(REPO)
                .into_iter()
                .filter(|s| !s.retried)
                .map(|s| (s.status, s.name))
                .collect(),
        }
    }

    fn set_rate_limit(&self, limit: u64) {
        match self {
            Sim::GitHub(s) => s.set_rate_limit(limit),
            Sim::GitLab(s) => s.set_rate_limit(limit),
        }
    }

    /// (number, title, body, head, base, labels, state) of every PR/MR, from the sim's state.
    fn changes(&self) -> Vec<Seen> {
        match self {
            Sim::GitHub(s) => s
                .pulls(REPO)
                .into_iter()
                .map(|p| Seen {
                    number: p.number,
                    title: p.title,
                    body: p.body.unwrap_or_default(),
                    head: p.head_ref,
                    base: p.base_ref,
                    labels: p.labels,
                    state: if p.merged { "merged".into() } else { p.state },
                    merge_sha: p.merge_commit_sha,
                    comments: p.comments.into_iter().map(|c| c.body).collect(),
                })
                .collect(),
            Sim::GitLab(s) => s
                .merge_requests(REPO)
                .into_iter()
                .map(|m| Seen {
                    number: m.iid,
                    title: m.title,
                    body: m.description,
                    head: m.source_branch,
                    base: m.target_branch,
                    labels: m.labels,
                    state: match m.state.as_str() {
                        "opened" => "open".into(),
                        s => s.to_owned(),
                    },
                    merge_sha: m.merge_commit_sha,
                    comments: m.notes.into_iter().map(|n| n.body).collect(),
                })
                .collect(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    number: u64,
    title: String,
    body: String,
    head: String,
    base: String,
    labels: Vec<String>,
    state: String,
    merge_sha: Option<String>,
    comments: Vec<String>,
}

fn fix(head: &str) -> NewChange {
    NewChange {
        title: "fix(payments/checkout-api): raise memory limit 512Mi -> 640Mi".into(),
        body: "## Root cause\nOOMKilled 3 times in 10m.\n".into(),
        head: head.into(),
        base: "main".into(),
        labels: vec!["suture".into(), "fault/oom-killed".into()],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_creates_one_with_title_body_labels_and_a_second_open_adopts_it() {
    for kind in BOTH {
        let sim = Sim::start(kind);
        let (forge, repo) = sim.forge(quick());
        assert_eq!(repo.as_str(), REPO);

        let opened = forge.open(&repo, &fix(BRANCH)).await.unwrap();
        let seen = sim.changes();
        assert_eq!(seen.len(), 1, "{kind:?}");
        let s = &seen[0];
        assert_eq!(s.number, opened.number);
        assert_eq!(s.title, fix(BRANCH).title);
        assert_eq!(s.body, fix(BRANCH).body);
        assert_eq!((s.head.as_str(), s.base.as_str()), (BRANCH, "main"));
        let mut labels = s.labels.clone();
        labels.sort();
        assert_eq!(labels, ["fault/oom-killed", "suture"], "{kind:?}");
        assert_eq!(s.state, "open");
        assert_eq!(opened.state, ChangeState::Open);
        assert_eq!(opened.head_branch, BRANCH);
        assert!(opened.url.starts_with("http://"), "{}", opened.url);

        let again = forge.open(&repo, &fix(BRANCH)).await.unwrap();
        assert_eq!(again.number, opened.number);
        assert_eq!(
            sim.changes().len(),
            1,
            "{kind:?}: adopted, not created twice"
        );

        let found = forge.find_open(&repo, BRANCH).await.unwrap().unwrap();
        assert_eq!(found.number, opened.number);
        assert_eq!(found.title, fix(BRANCH).title);
        assert_eq!(forge.find_open(&repo, OTHER).await.unwrap(), None);
        assert_eq!(forge.default_branch(&repo).await.unwrap(), "main");
        assert!(forge.stats().calls() >= 5);
        assert!(forge.stats().rate_limit_remaining().is_some_and(|r| r > 0));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn comments_land_and_get_reports_merged_with_its_sha_and_closed() {
    for kind in BOTH {
        let sim = Sim::start(kind);
        let (forge, repo) = sim.forge(quick());
        let pr = forge.open(&repo, &fix(BRANCH)).await.unwrap();
        forge
            .comment(&repo, pr.number, "Still OOMKilled after 2h.")
            .await
            .unwrap();
        assert_eq!(sim.changes()[0].comments, ["Still OOMKilled after 2h."]);

        let sha = forge.merge(&repo, pr.number).await.unwrap();
        assert_eq!(sha.len(), 40, "{kind:?}: {sha}");
        let got = forge.get(&repo, pr.number).await.unwrap();
        assert_eq!(
            got.state,
            ChangeState::Merged {
                merge_sha: sha.clone()
            }
        );
        assert_eq!(sim.changes()[0].merge_sha.as_deref(), Some(sha.as_str()));
        assert_eq!(forge.find_open(&repo, BRANCH).await.unwrap(), None);

        let other = forge.open(&repo, &fix(OTHER)).await.unwrap();
        assert_ne!(other.number, pr.number);
        forge.close(&repo, other.number).await.unwrap();
        assert_eq!(
            forge.get(&repo, other.number).await.unwrap().state,
            ChangeState::Closed
        );
        let states: Vec<String> = sim.changes().into_iter().map(|s| s.state).collect();
        assert_eq!(states, ["merged", "closed"], "{kind:?}");
        assert!(matches!(
            forge.get(&repo, 99).await,
            Err(ForgeError::NotFound)
        ));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_on_create_are_retried_into_exactly_one() {
    for kind in BOTH {
        let sim = Sim::start(kind);
        let (forge, repo) = sim.forge(quick());
        sim.faults()
            .inject_for("POST", Fault::Status(502), 2, Some(&sim.create_path()));
        let pr = forge.open(&repo, &fix(BRANCH)).await.unwrap();
        assert_eq!(
            sim.faults().pending(),
            0,
            "{kind:?}: both failures consumed"
        );
        let seen = sim.changes();
        assert_eq!(seen.len(), 1, "{kind:?}");
        assert_eq!(seen[0].number, pr.number);
        assert_eq!(seen[0].labels.len(), 2);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_whose_answer_is_lost_is_adopted_not_repeated() {
    for kind in BOTH {
        // The forge creates it, then the client sees a 502: the retry finds "already exists".
        let sim = Sim::start(kind);
        let (forge, repo) = sim.forge(quick());
        sim.faults().inject_for(
            "POST",
            Fault::StatusAfterEffect(502),
            1,
            Some(&sim.create_path()),
        );
        let pr = forge.open(&repo, &fix(BRANCH)).await.unwrap();
        assert_eq!(sim.faults().pending(), 0);
        let seen = sim.changes();
        assert_eq!(seen.len(), 1, "{kind:?}");
        assert_eq!(seen[0].number, pr.number);
        let mut labels = seen[0].labels.clone();
        labels.sort();
        assert_eq!(labels, ["fault/oom-killed", "suture"], "{kind:?}");

        // Every attempt lost: the create is given up on as transient, and the lookup after it
        // still adopts what the forge made.
        sim.faults().inject_for(
            "POST",
            Fault::StatusAfterEffect(503),
            10,
            Some(&sim.create_path()),
        );
        let other = forge.open(&repo, &fix(OTHER)).await.unwrap();
        sim.faults().clear();
        assert_eq!(other.head_branch, OTHER);
        assert_eq!(sim.changes().len(), 2, "{kind:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_past_the_timeout_is_retried_and_made_once() {
    for kind in BOTH {
        let sim = Sim::start(kind);
        let policy = RetryPolicy {
            timeout: Duration::from_millis(250),
            ..quick()
        };
        let (forge, repo) = sim.forge(policy);
        sim.faults().inject_for(
            "POST",
            Fault::Hang(Duration::from_millis(700)),
            1,
            Some(&sim.create_path()),
        );
        let pr = forge.open(&repo, &fix(BRANCH)).await.unwrap();
        // Let the abandoned request finish on the forge: it must not add a second one.
        tokio::time::sleep(Duration::from_millis(700)).await;
        let seen = sim.changes();
        assert_eq!(seen.len(), 1, "{kind:?}");
        assert_eq!(seen[0].number, pr.number);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_server_errors_are_transient_after_the_attempts() {
    for kind in BOTH {
        let sim = Sim::start(kind);
        let (forge, repo) = sim.forge(quick());
        forge.default_branch(&repo).await.unwrap();
        let before = forge.stats().calls();
        sim.faults().inject(Fault::Status(503), 10, None);
        let err = forge.default_branch(&repo).await.unwrap_err();
        assert!(matches!(err, ForgeError::Transient(_)), "{kind:?}: {err:?}");
        assert_eq!(forge.stats().calls() - before, 4, "{kind:?}: max_attempts");
        assert_eq!(sim.faults().pending(), 6);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn primary_rate_limit_exhaustion_is_rate_limited_until_the_reset() {
    for kind in BOTH {
        let sim = Sim::start(kind);
        let (forge, repo) = sim.forge(quick());
        // GitLab's client checks its token once when built: spend that call first.
        forge.default_branch(&repo).await.unwrap();
        sim.set_rate_limit(1);
        forge.default_branch(&repo).await.unwrap();
        assert_eq!(forge.stats().rate_limit_remaining(), Some(0));
        let before = forge.stats().calls();
        let err = forge.default_branch(&repo).await.unwrap_err();
        let now = jiff::Timestamp::now();
        match err {
            // GitHub's window is an hour, GitLab's throttle a minute: both longer than the
            // two seconds this policy sleeps through.
            ForgeError::RateLimited { until: Some(until) } => {
                assert!(until > now, "{kind:?}: {until}");
                assert!(until <= now + jiff::SignedDuration::from_secs(3602));
            }
            other => panic!("{kind:?}: want RateLimited, got {other:?}"),
        }
        assert_eq!(
            forge.stats().calls() - before,
            1,
            "{kind:?}: no retry burns quota"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secondary_rate_limit_backs_off_for_retry_after_then_succeeds() {
    for kind in BOTH {
        let sim = Sim::start(kind);
        let (forge, repo) = sim.forge(quick());
        forge.default_branch(&repo).await.unwrap();
        sim.faults().inject(
            Fault::RateLimit {
                retry_after_secs: 1,
            },
            1,
            None,
        );
        let t = Instant::now();
        assert_eq!(forge.default_branch(&repo).await.unwrap(), "main");
        assert!(
            t.elapsed() >= Duration::from_secs(1),
            "{kind:?}: {:?}",
            t.elapsed()
        );
        assert_eq!(sim.faults().pending(), 0);

        // A wait longer than the policy's cap is not slept through.
        sim.faults().inject(
            Fault::RateLimit {
                retry_after_secs: 600,
            },
            1,
            None,
        );
        let t = Instant::now();
        let err = forge.default_branch(&repo).await.unwrap_err();
        assert!(
            matches!(err, ForgeError::RateLimited { until: Some(_) }),
            "{kind:?}: {err:?}"
        );
        assert!(t.elapsed() < Duration::from_secs(2));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_repo_is_not_found_and_a_bad_token_rejected_without_showing_it() {
    for kind in BOTH {
        let sim = Sim::start(kind);
        let (forge, _) = sim.forge(quick());
        let nope = RepoPath::new("acme/nope").unwrap();
        assert_eq!(
            forge.default_branch(&nope).await.unwrap_err(),
            ForgeError::NotFound
        );
        assert_eq!(
            forge.find_open(&nope, BRANCH).await.unwrap_err(),
            ForgeError::NotFound
        );

        let wrong = "ghp_wrong_token_do_not_print";
        let settings = sim.settings_with(wrong, quick());
        let (forge, repo) =
            Forge::for_repo(std::slice::from_ref(&settings), &sim.clone_url()).unwrap();
        let err = forge.open(&repo, &fix(BRANCH)).await.unwrap_err();
        assert!(
            matches!(err, ForgeError::Rejected { status: 401, .. }),
            "{kind:?}: {err:?}"
        );
        for shown in [
            err.to_string(),
            format!("{err:?}"),
            format!("{forge:?}"),
            format!("{settings:?}"),
        ] {
            assert!(!shown.contains(wrong), "{kind:?}: token in {shown}");
        }
        assert!(sim.changes().is_empty());
    }
}

#[test]
fn for_repo_picks_the_forge_by_host() {
    let forges = [
        ForgeSettings::new(
            "github.com",
            ForgeKind::Github,
            "https://api.github.com",
            Secret::new("t1"),
        ),
        ForgeSettings::new(
            "gitlab.example.com",
            ForgeKind::Gitlab,
            "https://gitlab.example.com/api/v4",
            Secret::new("t2"),
        ),
    ];
    let (f, p) = Forge::for_repo(&forges, "https://github.com/acme/gitops.git").unwrap();
    assert!(matches!(f, Forge::GitHub(_)));
    assert_eq!(p.as_str(), "acme/gitops");
    let (f, p) = Forge::for_repo(&forges, "git@github.com:acme/gitops.git").unwrap();
    assert!(matches!(f, Forge::GitHub(_)));
    assert_eq!(p.as_str(), "acme/gitops");
    let (f, p) = Forge::for_repo(
        &forges,
        "https://gitlab.example.com/platform/team/gitops.git",
    )
    .unwrap();
    assert!(matches!(f, Forge::GitLab(_)));
    assert_eq!(p.as_str(), "platform/team/gitops");

    assert_eq!(
        Forge::for_repo(&forges, "https://bitbucket.org/acme/gitops.git").unwrap_err(),
        ForgeError::UnknownHost {
            host: "bitbucket.org".into()
        }
    );
    // GitHub has no subgroups.
    assert!(matches!(
        Forge::for_repo(&forges, "https://github.com/acme/team/gitops"),
        Err(ForgeError::Config(_))
    ));
    let broken = [ForgeSettings::new(
        "github.com",
        ForgeKind::Github,
        "not a url",
        Secret::new("t"),
    )];
    assert!(matches!(
        Forge::for_repo(&broken, "https://github.com/acme/gitops"),
        Err(ForgeError::Config(_))
    ));
}

fn verify_status(state: StatusState, description: &str) -> CommitStatus {
    CommitStatus {
        state,
        context: VERIFY_CONTEXT.into(),
        description: Some(description.into()),
        target_url: Some(
            "http://suture.example/incidents/prod%2Fshop%2FDeployment%2Fweb%2Foom-killed".into(),
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verify_status_moves_pending_to_success_and_reads_back_latest_first() {
    for kind in BOTH {
        let sim = Sim::start(kind);
        let (forge, repo) = sim.forge(quick());
        let sha = sim.main_sha();
        let pending = forge
            .set_status(
                &repo,
                &sha,
                &verify_status(StatusState::Pending, "verifying for 10m"),
            )
            .await
            .unwrap();
        assert_eq!(
            pending.status,
            verify_status(StatusState::Pending, "verifying for 10m")
        );
        let done = forge
            .set_status(&repo, &sha, &verify_status(StatusState::Success, "healthy"))
            .await
            .unwrap();
        assert_eq!(done.status.state, StatusState::Success);
        let seen = forge.statuses(&repo, &sha).await.unwrap();
        assert_eq!(
            seen[0].status,
            verify_status(StatusState::Success, "healthy"),
            "{kind:?}"
        );
        assert!(seen[0].created_at.is_some());
        let states: Vec<StatusState> = seen.iter().map(|s| s.status.state).collect();
        match kind {
            // GitHub keeps every post.
            Kind::GitHub => {
                assert_eq!(states, [StatusState::Success, StatusState::Pending]);
                assert_eq!(seen[1].id, pending.id);
            }
            // GitLab moves its pending status to success in place.
            Kind::GitLab => {
                assert_eq!(states, [StatusState::Success]);
                assert_eq!(seen[0].id, pending.id);
            }
        }
        let held = sim.statuses();
        assert_eq!(
            held.last(),
            Some(&("success".to_string(), VERIFY_CONTEXT.to_string())),
            "{kind:?}"
        );
        // A failure is GitLab's `failed` and reads back as a failure on both.
        let failed = forge
            .set_status(
                &repo,
                &sha,
                &verify_status(StatusState::Failure, "regressed"),
            )
            .await
            .unwrap();
        assert_eq!(failed.status.state, StatusState::Failure);
        let seen = forge.statuses(&repo, &sha).await.unwrap();
        assert_eq!(seen[0].status.state, StatusState::Failure, "{kind:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_on_an_unknown_sha_is_an_unknown_commit() {
    let unknown = "0000000000000000000000000000000000000001";
    for kind in BOTH {
        let sim = Sim::start(kind);
        let (forge, repo) = sim.forge(quick());
        let e = forge
            .set_status(&repo, unknown, &verify_status(StatusState::Pending, "x"))
            .await
            .unwrap_err();
        assert_eq!(
            e,
            ForgeError::UnknownCommit {
                sha: unknown.into()
            },
            "{kind:?}"
        );
        assert!(e.to_string().contains(unknown));
        assert_eq!(
            forge.statuses(&repo, unknown).await.unwrap_err(),
            ForgeError::UnknownCommit {
                sha: unknown.into()
            },
            "{kind:?}"
        );
        assert!(sim.statuses().is_empty());
        // An unknown repository is still not found, not an unknown commit.
        let missing = RepoPath::new("acme/nothing").unwrap();
        assert_eq!(
            forge.statuses(&missing, &sim.main_sha()).await.unwrap_err(),
            ForgeError::NotFound,
            "{kind:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_posts_are_retried_through_server_errors_and_lost_answers() {
    for kind in BOTH {
        let sim = Sim::start(kind);
        let (forge, repo) = sim.forge(quick());
        let sha = sim.main_sha();
        sim.faults()
            .inject_for("POST", Fault::Status(502), 2, Some(&sim.status_path(&sha)));
        let posted = forge
            .set_status(
                &repo,
                &sha,
                &verify_status(StatusState::Pending, "verifying"),
            )
            .await
            .unwrap();
        assert_eq!(posted.status.state, StatusState::Pending);
        assert_eq!(sim.faults().pending(), 0);
        assert_eq!(sim.statuses().len(), 1, "{kind:?}: one status for one post");

        // The post lands but its answer is lost: the retry finds it there (GitLab refuses a
        // second pending; GitHub records it again, which changes nothing a reader sees).
        sim.faults().inject_for(
            "POST",
            Fault::StatusAfterEffect(502),
            1,
            Some(&sim.status_path(&sha)),
        );
        let again = forge
            .set_status(
                &repo,
                &sha,
                &verify_status(StatusState::Pending, "verifying"),
            )
            .await
            .unwrap();
        assert_eq!(again.status.state, StatusState::Pending, "{kind:?}");
        let pending: Vec<_> = sim.statuses();
        match kind {
            Kind::GitHub => assert_eq!(pending.len(), 3),
            Kind::GitLab => assert_eq!(pending.len(), 1),
        }
    }
}
