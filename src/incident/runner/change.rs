//! Placing a fix and sending it out: branch, pause, pull request (each an idempotent effect),
//! recurrence comments and the resume of sync.

use std::collections::BTreeMap;

use git2::Oid;
use serde_json::json;

use super::repos::{self, FixCommit, Push};
use super::unplaceable::Unplaceable;
use super::{RunError, Runner};
use crate::detection::{FaultId, Finding};
use crate::forge::body;
use crate::forge::{ChangeRequest, NewChange, RepoPath, RepoUrl};
use crate::gitops::argocd::{ApplicationSet, normalize_repo_url};
use crate::gitops::place::{self, AppRef, PlaceError, PlaceInput, Placed};
use crate::gitops::sync::{Paused, Resumed};
use crate::gitops::tree::RepoTree;
use crate::incident::machine::{self, Budget, CommentKind, Event};
use crate::incident::view::{self, SyncNote};
use crate::ledger::{Effect, Hop, PullRequest};
use crate::proposal::Draft;
use crate::state::ClusterState;

/// A fix placed in Git against a known base commit: all a pull request needs.
#[derive(Clone, Debug)]
pub struct Prepared {
    pub draft: Draft,
    pub placed: Placed,
    pub finding: Finding,
    pub base: Oid,
    pub base_branch: String,
    pub appsets: Vec<ApplicationSet>,
    /// The checks against the live cluster, as the body's Checks table shows them.
    pub checks: Vec<crate::checks::CheckResult>,
}

/// A checkout fetched for placement: its tip, branch and files.
struct Checkout {
    tip: Oid,
    branch: String,
    tree: RepoTree,
}

impl Runner {
    /// Place `draft` on fresh checkouts of the repositories its Application reads (fetched on
    /// demand, as placement asks for them). `Ok(Err(_))`: Git cannot take it; escalate.
    pub(super) async fn place(
        &self,
        draft: Draft,
        group: &[&Finding],
        slice: &ClusterState,
    ) -> Result<Result<Prepared, Unplaceable>, RunError> {
        let live = crate::plan::live_meta(slice, &draft.target.workload).unwrap_or_default();
        let mut checkouts: BTreeMap<String, Checkout> = BTreeMap::new();
        // Each round fetches one more repository; an app reads at most a few.
        for _ in 0..4 {
            let outcome = {
                let repo_for = |url: &str| checkouts.get(&normalize_repo_url(url)).map(|c| &c.tree);
                let input = PlaceInput {
                    live: &live,
                    applications: &slice.applications,
                    repo_for: &repo_for,
                    argo: &self.cfg.argo,
                };
                place::place(&draft, &input)
            };
            match outcome {
                Ok(placed) => {
                    let Some(c) = checkouts.get(&normalize_repo_url(&placed.repo_url)) else {
                        return Ok(Err(Unplaceable::NotFetched {
                            url: placed.repo_url,
                        }));
                    };
                    let finding = group.first().map(|f| (*f).clone());
                    let Some(finding) = finding else {
                        return Ok(Err(Unplaceable::NoFinding));
                    };
                    return Ok(Ok(Prepared {
                        base: c.tip,
                        base_branch: c.branch.clone(),
                        draft,
                        placed,
                        finding,
                        appsets: slice.application_sets.clone(),
                        checks: Vec::new(),
                    }));
                }
                Err(PlaceError::NoCheckout { url, application }) => {
                    let revision = target_revision(slice, &application, &url);
                    let Some(entry) = self.forge_for(&url) else {
                        return Ok(Err(Unplaceable::NoForge { url }));
                    };
                    let branch = match revision.as_deref() {
                        None | Some("" | "HEAD") => {
                            let repo = RepoUrl::parse(&url)?.path;
                            entry.forge.default_branch(&repo).await?
                        }
                        Some(b) => b.to_string(),
                    };
                    let (tip, tree) = match repos::checkout(
                        &self.cfg.git,
                        &url,
                        &branch,
                        entry.git_creds().await?.as_ref(),
                    )
                    .await
                    {
                        Ok(t) => t,
                        Err(RunError::Repo(crate::gitops::repo::RepoError::NotFound(_))) => {
                            return Ok(Err(Unplaceable::NoBranch { url, branch }));
                        }
                        Err(e) => return Err(e),
                    };
                    checkouts.insert(normalize_repo_url(&url), Checkout { tip, branch, tree });
                }
                Err(e) => return Ok(Err(Unplaceable::Place(e))),
            }
        }
        Ok(Err(Unplaceable::TooManyRepositories))
    }

    /// How many pull requests for this incident are done (closed unmerged, or merged): a new
    /// one (after the cooldown, or the next bounded step) gets fresh idempotency keys.
    async fn generation(&self, key: &str) -> Result<usize, RunError> {
        Ok(self
            .ledger
            .pull_requests(key)
            .await?
            .iter()
            .filter(|p| p.state == "closed" || p.state == "merged")
            .count())
    }

    /// Branch, pause, pull request; each step recorded before and after it runs.
    pub(super) async fn open_change(&self, key: &str, p: &Prepared) -> Result<(), RunError> {
        let url = p.placed.repo_url.clone();
        let entry = self
            .forge_for(&url)
            .ok_or_else(|| RunError::NoForge(url.clone()))?;
        let repo = RepoUrl::parse(&url)?.path;
        // Each merged fix moves the incident one bounded step on.
        let step = self.prior_bumps(key).await?.saturating_add(1);
        let branch = p.draft.key.step_branch(step);
        let prefix = format!("{key}#{}", self.generation(key).await?);
        let now = self.now();

        // Look for the open pull request before any Git work: a recurrence never opens another.
        if let Some(found) = entry.forge.find_open(&repo, &branch).await? {
            return self.opened(key, p.draft.fault, entry, &repo, &found).await;
        }
        if self.cfg.dry_run {
            let hop = Hop::new(
                "dry_run",
                json!({"would": "push, pause and open", "branch": branch,
                       "diff": p.placed.diff, "title": p.draft.title()}),
            );
            self.ledger.append_hop(key, &hop, now).await?;
            return Ok(());
        }

        let push_key = format!("push:{prefix}");
        if !matches!(
            self.ledger
                .begin_effect(&push_key, key, "push", now)
                .await?,
            Effect::Done { .. }
        ) {
            let lock = self.repos.of(&url);
            let _held = lock.lock().await;
            let message = self.templates.render(
                "commit-message.txt",
                &json!({
                    "namespace": p.draft.target.workload.namespace,
                    "name": p.draft.target.workload.name,
                    "summary": p.draft.summary(),
                    "basis": p.draft.basis,
                    "rollback_description": p.draft.rollback.description,
                    "incident_key": key,
                }),
            )?;
            let fix = FixCommit {
                base: p.base,
                branch: branch.clone(),
                files: p
                    .placed
                    .files
                    .iter()
                    .map(|f| (f.path.clone(), f.new.clone()))
                    .collect(),
                message,
                when: now,
            };
            let commit =
                match repos::push_fix(&self.cfg.git, &url, fix, entry.git_creds().await?.as_ref())
                    .await?
                {
                    Push::New(c) | Push::Adopted(c) => c,
                    Push::Foreign { authors } => {
                        let hop = Hop::new(
                            "human_pushed",
                            json!({"branch": branch, "authors": authors}),
                        );
                        self.ledger.append_hop(key, &hop, self.now()).await?;
                        return Ok(());
                    }
                };
            let result = json!({"branch": branch, "commit": commit.to_string()});
            self.ledger
                .finish_effect(&push_key, &result, self.now())
                .await?;
            let hop = Hop::new(
                "pushed",
                // The change and its basis too: the incident record (postmortem) reads them here.
                // The undo records and where they apply: what a revert restores.
                json!({"branch": branch, "commit": commit.to_string(), "diff": p.placed.diff,
                       "change": p.draft.summary(), "basis": p.draft.basis,
                       "rollback": p.draft.rollback.description,
                       "repo_url": p.placed.repo_url, "base_branch": p.base_branch,
                       "application": p.placed.application,
                       "undo": crate::gitops::revert::undo_of(&p.placed),
                       "checks": p.checks.iter().map(|c| json!({"check": c.name,
                           "result": c.outcome.as_str(), "detail": c.detail})).collect::<Vec<_>>()}),
            );
            self.ledger.append_hop(key, &hop, self.now()).await?;
        }

        let pause_key = format!("pause:{prefix}");
        let note = match self
            .ledger
            .begin_effect(&pause_key, key, "pause", self.now())
            .await?
        {
            Effect::Done { result } => {
                serde_json::from_value(result).unwrap_or_else(|_| SyncNote::NotAutomated {
                    app: app_name(&p.placed.application),
                })
            }
            _ => {
                let note = self.pause(key, &p.placed.application, &p.appsets).await?;
                let result = serde_json::to_value(&note).unwrap_or_default();
                self.ledger
                    .finish_effect(&pause_key, &result, self.now())
                    .await?;
                note
            }
        };

        let view = view::pull_request(&p.draft, &p.placed, &p.finding, &note, &p.checks);
        let change = NewChange {
            title: self.templates.title(&view)?,
            body: self.templates.body(&view)?,
            head: branch.clone(),
            base: p.base_branch.clone(),
            labels: p.draft.key.pr_labels(),
        };
        let pr_key = format!("pr:{prefix}");
        // Started-but-unfinished and fresh are the same here: `open` adopts an existing one.
        let _ = self
            .ledger
            .begin_effect(&pr_key, key, "pull_request", self.now())
            .await?;
        let opened = entry.forge.open(&repo, &change).await?;
        let result = json!({"number": opened.number, "url": opened.url});
        self.ledger
            .finish_effect(&pr_key, &result, self.now())
            .await?;
        self.opened(key, p.draft.fault, entry, &repo, &opened).await
    }

    /// The pull request exists: record it and move the incident to `pr_open`.
    async fn opened(
        &self,
        key: &str,
        fault: FaultId,
        entry: &super::ForgeEntry,
        repo: &RepoPath,
        change: &ChangeRequest,
    ) -> Result<(), RunError> {
        let now = self.now();
        self.ledger
            .record_pull_request(&PullRequest {
                incident_key: key.to_string(),
                forge: entry.kind().to_string(),
                repo: repo.as_str().to_string(),
                number: i64::try_from(change.number).unwrap_or(i64::MAX),
                url: change.url.clone(),
                head_branch: change.head_branch.clone(),
                state: "open".into(),
                merge_sha: None,
                opened_at: now,
                updated_at: now,
            })
            .await?;
        let ctx = self.context(key).await?;
        let mut step = machine::step(
            &ctx,
            &Event::ChangeOpened,
            &self.cfg.machine,
            Budget::default(),
            now,
        );
        step.note = Some(change.url.clone());
        if step.moves(&ctx)
            && let Some(metrics) = &self.metrics
        {
            metrics.pull_request_opened(entry.kind(), fault);
            if let Some(incident) = self.ledger.incident(key).await? {
                let secs = now
                    .duration_since(incident.opened_at)
                    .as_secs_f64()
                    .max(0.0);
                metrics.detection_to_pr(std::time::Duration::from_secs_f64(secs));
            }
        }
        // `apply` may open a change, which ends here: box the cycle.
        Box::pin(self.apply(key, &ctx, step, None, None)).await
    }

    /// Pause auto-sync of the fix's Application, and record the prior policy.
    async fn pause(
        &self,
        key: &str,
        app: &AppRef,
        appsets: &[ApplicationSet],
    ) -> Result<SyncNote, RunError> {
        let now = self.now();
        let until = now.saturating_add(self.cfg.pause_ttl).unwrap_or(now);
        let name = app_name(app);
        let (note, hop) = match self.argo.pause(app, appsets, key, now, until).await? {
            Paused::Paused(record) => {
                let recorded = self
                    .ledger
                    .incident_pauses(key)
                    .await?
                    .iter()
                    .any(|p| p.app_namespace == app.namespace && p.app_name == app.name);
                if !recorded {
                    self.ledger
                        .record_pause(
                            key,
                            &app.namespace,
                            &app.name,
                            &record.prior,
                            record.paused_at,
                            record.expires_at,
                        )
                        .await?;
                }
                (
                    SyncNote::Paused {
                        app: name.clone(),
                        until: record.expires_at,
                    },
                    Hop::new(
                        "sync_paused",
                        json!({"app": name, "mode": record.mode, "until": record.expires_at.to_string()}),
                    ),
                )
            }
            Paused::NotAutomated => (
                SyncNote::NotAutomated { app: name.clone() },
                Hop::new("sync_not_automated", json!({"app": name})),
            ),
            Paused::Refused(why) => (
                SyncNote::NotPaused {
                    app: name.clone(),
                    why: why.to_string(),
                },
                Hop::new(
                    "sync_not_paused",
                    json!({"app": name, "why": why.to_string()}),
                ),
            ),
        };
        self.ledger.append_hop(key, &hop, self.now()).await?;
        Ok(note)
    }

    /// Resume every pause this incident holds.
    pub(super) async fn resume(&self, key: &str, reason: &str) -> Result<(), RunError> {
        for pause in self.ledger.incident_pauses(key).await? {
            let app = AppRef {
                namespace: pause.app_namespace.clone(),
                name: pause.app_name.clone(),
            };
            if self.cfg.dry_run {
                let hop = Hop::new(
                    "dry_run",
                    json!({"would": "resume sync", "app": app_name(&app)}),
                );
                self.ledger.append_hop(key, &hop, self.now()).await?;
                continue;
            }
            let outcome = match self.argo.resume(&app, key).await {
                Ok(Resumed::Restored) => json!("restored"),
                Ok(Resumed::LeftAsChanged(policy)) => json!({"left_as_changed": policy}),
                Ok(Resumed::NotPaused) => json!("not_paused"),
                Err(crate::gitops::sync::SyncError::NotFound(_)) => json!("application_gone"),
                Err(e) => return Err(e.into()),
            };
            if self
                .ledger
                .resume_pause(pause.id, reason, self.now())
                .await?
            {
                let hop = Hop::new(
                    "sync_resumed",
                    json!({"app": app_name(&app), "reason": reason, "outcome": outcome}),
                );
                self.ledger.append_hop(key, &hop, self.now()).await?;
            }
        }
        Ok(())
    }

    /// A comment on the incident's open pull request.
    pub(super) async fn comment(
        &self,
        key: &str,
        kind: CommentKind,
        finding: Option<&Finding>,
    ) -> Result<(), RunError> {
        let Some(pr) = self
            .ledger
            .pull_requests(key)
            .await?
            .into_iter()
            .find(|p| p.state == "open")
        else {
            return Ok(());
        };
        let Some(entry) = self.forge_for(&pr.url) else {
            return Err(RunError::NoForge(pr.url));
        };
        let text = match kind {
            CommentKind::Recurrence => {
                let evidence = finding.map(|f| f.evidence.rows()).unwrap_or_default();
                let root_cause = finding.map(view::root_cause).unwrap_or_default();
                self.templates.render(
                    "recurrence-comment.md",
                    &json!({
                        "root_cause": root_cause,
                        "evidence": evidence,
                        "summary": pr.head_branch,
                        "incident_key": key,
                    }),
                )?
            }
            CommentKind::HumanPushed => format!(
                "Someone other than suture pushed to `{}`: suture will not push to this branch \
                 again. It keeps tracking incident `{key}` and reports recurrences here.",
                body::plain_text(&pr.head_branch, 200)
            ),
        };
        if self.cfg.dry_run {
            let hop = Hop::new("dry_run", json!({"would": "comment", "kind": kind}));
            self.ledger.append_hop(key, &hop, self.now()).await?;
            return Ok(());
        }
        let repo = RepoPath::new(&pr.repo)?;
        let number = u64::try_from(pr.number).unwrap_or_default();
        entry.forge.comment(&repo, number, &text).await?;
        let hop = Hop::new("commented", json!({"kind": kind, "number": pr.number}));
        self.ledger.append_hop(key, &hop, self.now()).await?;
        Ok(())
    }

    /// The configured forge whose host serves `url`.
    pub(super) fn forge_for(&self, url: &str) -> Option<&super::ForgeEntry> {
        let parsed = RepoUrl::parse(url).ok()?;
        self.forges.iter().find(|e| parsed.is_on(&e.settings.host))
    }
}

fn app_name(app: &AppRef) -> String {
    format!("{}/{}", app.namespace, app.name)
}

/// The targetRevision of `app`'s source that reads `url`.
fn target_revision(slice: &ClusterState, app: &AppRef, url: &str) -> Option<String> {
    let want = normalize_repo_url(url);
    let found = slice.applications.iter().find(|a| {
        a.metadata.name.as_deref() == Some(app.name.as_str())
            && a.metadata.namespace.as_deref() == Some(app.namespace.as_str())
    })?;
    found
        .spec
        .source
        .iter()
        .chain(&found.spec.sources)
        .find(|s| normalize_repo_url(&s.repo_url) == want)
        .and_then(|s| s.target_revision.clone())
}
