//! `suture demo`: the whole loop in one process. A simulated world (Kubernetes + controllers,
//! Argo CD, Git, GitHub, GitLab) starts with a fault seeded; the real `suture serve` wiring runs
//! against it with a SQLite ledger; the demo waits for the pull request, plays the reviewer
//! (merges through the forge API), and reports sync resumed and the incident's hops.

pub mod world_config;

use std::time::Duration;

use anyhow::{Context as _, bail};
use serde::Serialize;
use serde_json::Value;
use suture_sim::world::{Forge as SimForge, Options, World};

use crate::clock::Clock;
use crate::forge::{ChangeState, Forge, ForgeSettings, RepoPath};
use crate::gitops::place::AppRef;
use crate::gitops::sync::ArgoApps;
use crate::incident::IncidentState;
use crate::serve::Service;

/// What the demo shows (its `--format json`).
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub incident: IncidentView,
    pub pull_request: PullRequestView,
    pub application: ApplicationView,
    /// The verification sweep's last verdict (absent if none was reached).
    pub verification: Option<VerificationView>,
    /// Every pull/merge request suture opened for the incident, oldest first (the fix, a
    /// next bounded step, a revert), each merged by the demo's reviewer.
    pub changes: Vec<ChangeView>,
    pub hops: Vec<HopView>,
}

#[derive(Clone, Debug, Serialize)]
pub struct VerificationView {
    /// `healthy`, `still_firing`, `regressed`, `inconclusive`, `not_deployed`.
    pub verdict: String,
    pub merge_sha: String,
    pub evidence: Value,
}

#[derive(Clone, Debug, Serialize)]
pub struct ChangeView {
    pub url: String,
    pub head_branch: String,
    pub state: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct IncidentView {
    pub key: String,
    pub state: IncidentState,
}

#[derive(Clone, Debug, Serialize)]
pub struct PullRequestView {
    pub url: String,
    pub title: String,
    #[serde(skip)]
    pub body: String,
    pub diff: String,
    pub labels: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ApplicationView {
    pub name: String,
    /// Auto-sync was off while the pull request waited for review (read from the API).
    pub paused_during_review: bool,
    /// `spec.syncPolicy.automated` after the merge, as the API returns it.
    pub sync_after: Value,
}

#[derive(Clone, Debug, Serialize)]
pub struct HopView {
    pub at: String,
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_state: Option<IncidentState>,
    /// Why, where the hop says (an escalation's reason, a deferral's note).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
}

/// Which forge the demo's repository lives on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DemoForge {
    GitHub,
    GitLab,
}

/// How long the demo waits for each step, in wall time.
const STEP_TIMEOUT: Duration = Duration::from_secs(45);

async fn until<T, F: Future<Output = anyhow::Result<Option<T>>>>(
    what: &str,
    mut poll: impl FnMut() -> F,
) -> anyhow::Result<T> {
    let deadline = tokio::time::Instant::now() + STEP_TIMEOUT;
    loop {
        if let Some(v) = poll().await? {
            return Ok(v);
        }
        if tokio::time::Instant::now() > deadline {
            bail!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn automated(app: &Value) -> Value {
    app.pointer("/spec/syncPolicy/automated")
        .cloned()
        .unwrap_or(Value::Null)
}

fn auto_sync_on(app: &Value) -> bool {
    let a = automated(app);
    !a.is_null() && a.get("enabled").and_then(Value::as_bool) != Some(false)
}

/// Run `scenario` end to end on `forge` with the world's clock at `speed`.
pub async fn run(scenario: &str, forge: DemoForge, speed: f64) -> anyhow::Result<Report> {
    let found = suture_sim::scenarios::find(scenario)
        .with_context(|| format!("unknown scenario {scenario:?}"))?;
    let dir = tempfile::Builder::new().prefix("suture-demo-").tempdir()?;
    let options = Options {
        speed,
        dir: Some(dir.path().join("world")),
        forge: match forge {
            DemoForge::GitHub => SimForge::GitHub,
            DemoForge::GitLab => SimForge::GitLab,
        },
        ..Options::default()
    };
    let world = World::start(found, options)
        .map_err(|e| anyhow::anyhow!("starting the simulated world: {e}"))?;
    let result = run_in(&world, dir.path(), forge, speed).await;
    world.shutdown().await;
    result
}

async fn run_in(
    world: &World,
    dir: &std::path::Path,
    forge: DemoForge,
    speed: f64,
) -> anyhow::Result<Report> {
    let listen = world_config::free_addr()?;
    let config = world_config::write(world, dir, listen, speed)?;
    let text = std::fs::read_to_string(&config.path)?;
    let settings = crate::config::load(Some(&text), std::iter::empty(), dir)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let clock = match world.kube.controllers() {
        Some(c) => {
            let c = c.clone();
            Clock::external_at(speed, move || c.now())
        }
        None => Clock::System,
    };
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let service = Service::start(&settings, dir, Some(clock), listener).await?;
    let outcome = review(world, &service, &settings, forge).await;
    service.shutdown().await;
    outcome
}

/// Wait for the pull request, check the pause, merge it as a reviewer would, wait for resume.
async fn review(
    world: &World,
    service: &Service,
    settings: &crate::config::Settings,
    forge: DemoForge,
) -> anyhow::Result<Report> {
    let ledger = &service.ledger;
    let incident = until("the pull request", || async {
        let open = ledger.incidents(Some(IncidentState::PrOpen), 10).await?;
        Ok(open.into_iter().next())
    })
    .await?;
    let pr = ledger
        .pull_requests(&incident.key)
        .await?
        .into_iter()
        .next()
        .context("the incident has no pull request")?;

    let e = world.endpoints();
    let repo_url = match forge {
        DemoForge::GitHub => &e.github_clone_url,
        DemoForge::GitLab => &e.gitlab_clone_url,
    };
    let all = ForgeSettings::from_settings(settings, &Default::default())?;
    let (client, _) = Forge::for_repo(&all, repo_url)?;
    let repo = RepoPath::new(&pr.repo)?;
    let number = u64::try_from(pr.number)?;
    let change = client.get(&repo, number).await?;

    let kube = crate::serve::kube_client(Some(&e.kubeconfig), None).await?;
    let apps = ArgoApps::new(kube);
    let app_ref = AppRef {
        namespace: "argocd".into(),
        name: world.scenario.app.to_string(),
    };
    let during = apps.get(&app_ref).await?;
    let paused_during_review = !auto_sync_on(&during);

    let hops = ledger.hops(&incident.key).await?;
    let diff = hops
        .iter()
        .find(|h| h.kind == "pushed")
        .and_then(|h| h.detail.get("diff"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();

    // The reviewer merges; the forge delivers its signed webhook to suture.
    client.merge(&repo, number).await?;
    until("the merge to be recorded", || async {
        let i = ledger.incident(&incident.key).await?;
        Ok(i.filter(|i| i.state != IncidentState::PrOpen))
    })
    .await?;
    until("auto-sync to resume", || async {
        let hops = ledger.hops(&incident.key).await?;
        Ok(hops.iter().any(|h| h.kind == "sync_resumed").then_some(()))
    })
    .await?;
    // The verification sweep decides what follows; the reviewer merges whatever suture opens
    // next for the incident (the next bounded bump, a revert) until it settles.
    let mut reviewed = vec![number];
    loop {
        let state = until("the incident to settle", || async {
            let Some(state) = ledger.incident(&incident.key).await?.map(|i| i.state) else {
                return Ok(None);
            };
            // `regressed` is an end only once suture has decided not to revert.
            if state == IncidentState::Regressed {
                let hops = ledger.hops(&incident.key).await?;
                let held = hops
                    .iter()
                    .rposition(|h| h.kind == "regressed")
                    .unwrap_or(0);
                if !hops[held..].iter().any(|h| h.kind == "revert_refused") {
                    return Ok(None);
                }
            }
            Ok(settled(state).then_some(state))
        })
        .await?;
        if !matches!(state, IncidentState::PrOpen | IncidentState::Reverting) {
            break;
        }
        let next = ledger
            .pull_requests(&incident.key)
            .await?
            .into_iter()
            .find(|p| p.state == "open")
            .and_then(|p| u64::try_from(p.number).ok())
            .filter(|n| !reviewed.contains(n));
        let Some(next) = next else {
            // Opened but not yet recorded: look again.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        client.merge(&repo, next).await?;
        reviewed.push(next);
        until("the merge to be recorded", || async {
            let i = ledger.incident(&incident.key).await?;
            Ok(i.filter(|i| i.state != state))
        })
        .await?;
    }
    let after = apps.get(&app_ref).await?;
    let incident = ledger
        .incident(&incident.key)
        .await?
        .context("the incident is gone")?;
    let merged = client.get(&repo, number).await?;
    if !matches!(merged.state, ChangeState::Merged { .. }) {
        bail!("the pull request is not merged on the forge");
    }
    let all_hops = ledger.hops(&incident.key).await?;
    let mut changes: Vec<ChangeView> = ledger
        .pull_requests(&incident.key)
        .await?
        .into_iter()
        .map(|p| ChangeView {
            url: p.url,
            head_branch: p.head_branch,
            state: p.state,
        })
        .collect();
    changes.reverse();
    let verification = all_hops
        .iter()
        .rev()
        .find(|h| h.kind == "verdict")
        .map(|h| VerificationView {
            verdict: h.detail["verdict"].as_str().unwrap_or_default().to_string(),
            merge_sha: h.detail["merge_sha"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            evidence: h.detail["evidence"].clone(),
        });
    let hops = all_hops
        .into_iter()
        .map(|h| HopView {
            at: h.at.to_string(),
            why: ["reason", "note"]
                .iter()
                .find_map(|k| h.detail.get(*k).and_then(Value::as_str))
                .map(str::to_string),
            kind: h.kind,
            to_state: h.to_state,
        })
        .collect();
    Ok(Report {
        incident: IncidentView {
            key: incident.key,
            state: incident.state,
        },
        pull_request: PullRequestView {
            url: change.url,
            title: change.title,
            body: change.body,
            diff,
            labels: change.labels,
        },
        application: ApplicationView {
            name: format!("{}/{}", app_ref.namespace, app_ref.name),
            paused_during_review,
            sync_after: automated(&after),
        },
        verification,
        changes,
        hops,
    })
}

/// Where the demo's reviewer acts or stops: a pull request to review, or an end state.
/// In between (proposed, merged, verifying, still firing before the next bump) it waits.
fn settled(state: IncidentState) -> bool {
    use IncidentState as S;
    match state {
        S::PrOpen | S::Reverting => true,
        S::Resolved | S::Reverted | S::Escalated | S::Regressed | S::Declined | S::Applied => true,
        S::Open | S::Proposed | S::Merged | S::Verifying | S::StillFiring => false,
    }
}

/// The demo as people read it.
pub fn text(report: &Report) -> String {
    let mut out = String::new();
    let pr = &report.pull_request;
    out.push_str(&format!(
        "incident {} -> {}\n\n",
        report.incident.key,
        report.incident.state.as_str()
    ));
    out.push_str(&format!(
        "pull request: {}\n  {}\n  labels: {}\n\n",
        pr.url,
        pr.title,
        pr.labels.join(", ")
    ));
    out.push_str(&format!("{}\n\n", pr.body.trim_end()));
    out.push_str(&format!("diff:\n{}\n", pr.diff.trim_end()));
    let app = &report.application;
    out.push_str(&format!(
        "\nArgo CD {}: auto-sync {} during review; after the merge: {}\n",
        app.name,
        if app.paused_during_review {
            "paused"
        } else {
            "NOT paused"
        },
        app.sync_after
    ));
    if report.changes.len() > 1 {
        out.push_str("\nchanges suture opened:\n");
        for c in &report.changes {
            out.push_str(&format!("  {} {} ({})\n", c.url, c.head_branch, c.state));
        }
    }
    match &report.verification {
        Some(v) => out.push_str(&format!("verification of {}: {}\n", v.merge_sha, v.verdict)),
        None => out.push_str("verification: no verdict\n"),
    }
    out.push_str("\nhops:\n");
    for h in &report.hops {
        out.push_str(&format!("  {} {}", h.at, h.kind));
        if let Some(s) = h.to_state {
            out.push_str(&format!(" -> {}", s.as_str()));
        }
        if let Some(why) = &h.why {
            out.push_str(&format!(" ({why})"));
        }
        out.push('\n');
    }
    out
}
