//! The revert of a regressed fix (design.md §7). GitHub has no revert endpoint and GitLab's
//! commits straight onto the target branch, so suture builds the revert itself: the fix's undo
//! records (the exact prior values, recorded when it was pushed) applied with the same
//! minimal-diff editor to the base branch as it is now, pushed to `suture/revert/...` and sent
//! as a PR/MR `revert(<ns>/<name>): ...`. suture merges it only when `auto_merge_reverts` says.
//!
//! The rules, learned from Kargo's automatic rollback: act only when no sync of the app is in
//! flight; never revert a revert (the machine never asks for one); never on a failure older
//! than the verification window; never over lines someone else changed after suture's merge.
//! Anything that stops a revert is escalated with its reason, and the workload stays held.

use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use super::repos::{self, FixCommit, Push};
use super::{RunError, Runner};
use crate::forge::{NewChange, RepoPath, RepoUrl};
use crate::gitops::argocd::Application;
use crate::gitops::edit::path_to_string;
use crate::gitops::place::AppRef;
use crate::gitops::revert::{self, Undo};
use crate::incident::IncidentState;
use crate::incident::key::IncidentKey;
use crate::incident::machine::{self, Budget, Event};
use crate::incident::verify::{DeployMark, DeployStatus, revision};
use crate::ledger::{Effect, Hop, HopRecord, PullRequest};
use crate::objref::ObjectRef;

pub(super) fn is_revert(pr: &PullRequest) -> bool {
    IncidentKey::is_revert_branch(&pr.head_branch)
}

/// Whether a revert can go out now.
#[derive(Debug, PartialEq)]
enum Gate {
    /// Not yet (a sync in flight): the reconcile asks again.
    Wait(String),
    /// Not at all: a person decides.
    Refuse(String),
}

/// What the revert is built from: the fix's `pushed` hop and its merged pull request.
struct Fix {
    pr: PullRequest,
    undo: Vec<Undo>,
    repo_url: String,
    base_branch: String,
    application: Option<AppRef>,
    change: String,
    rollback: String,
}

impl Runner {
    /// Open the revert of the incident's merged fix, or say why not.
    pub(super) async fn revert(&self, key: &str) -> Result<(), RunError> {
        let Some(incident) = self.ledger.incident(key).await? else {
            return Ok(());
        };
        if incident.state != IncidentState::Regressed {
            return Ok(());
        }
        let hops = self.ledger.hops(key).await?;
        let prs = self.ledger.pull_requests(key).await?;
        if prs.iter().any(|p| is_revert(p) && p.state == "open") {
            // Opened before a crash: only the state change is missing.
            return self.revert_opened(key).await;
        }
        let held_since = hops
            .iter()
            .rev()
            .find(|h| h.kind == "regressed")
            .map_or(0, |h| h.id);
        let decided = hops
            .iter()
            .any(|h| h.id > held_since && h.kind == "revert_refused");
        // One revert per regression: refused, declined or merged ones are not tried again.
        if decided || prs.iter().any(|p| is_revert(p) && p.state != "open") {
            return Ok(());
        }
        let gate = match self.fix_of(&hops, &prs) {
            Ok(fix) => match self.gate(&hops, &fix).await? {
                None => return self.send_revert(key, &hops, &fix).await,
                Some(gate) => gate,
            },
            Err(why) => Gate::Refuse(why),
        };
        match gate {
            Gate::Wait(why) => {
                let last = hops.iter().rev().find(|h| h.kind.starts_with("revert_"));
                if last.is_none_or(|h| h.kind != "revert_waiting" || h.detail["reason"] != why) {
                    let hop = Hop::new("revert_waiting", json!({ "reason": why }));
                    self.ledger.append_hop(key, &hop, self.now()).await?;
                }
                Ok(())
            }
            Gate::Refuse(why) => self.refuse_revert(key, &why).await,
        }
    }

    async fn refuse_revert(&self, key: &str, why: &str) -> Result<(), RunError> {
        tracing::warn!(incident = key, reason = why, "revert refused");
        let now = self.now();
        let hop = Hop::new("revert_refused", json!({ "reason": why }));
        self.ledger.append_hop(key, &hop, now).await?;
        let reason = format!("suture did not revert its regressed fix: {why}");
        let hop = Hop::new("escalated", json!({ "reason": reason }));
        self.ledger.append_hop(key, &hop, now).await?;
        Ok(())
    }

    /// The merged fix and its undo records, from the ledger.
    fn fix_of(&self, hops: &[HopRecord], prs: &[PullRequest]) -> Result<Fix, String> {
        // Newest first: the fix that was just verified.
        let pr = prs
            .iter()
            .find(|p| p.state == "merged" && !is_revert(p))
            .cloned()
            .ok_or("the incident has no merged fix to revert")?;
        let pushed = hops
            .iter()
            .rev()
            .find(|h| h.kind == "pushed" && h.detail["branch"] == pr.head_branch.as_str())
            .ok_or("the fix's push is not in the ledger")?;
        let d = &pushed.detail;
        let undo: Vec<Undo> = serde_json::from_value(d["undo"].clone())
            .map_err(|_| "the fix's record carries no rollback to apply".to_string())?;
        let text = |k: &str| d[k].as_str().unwrap_or_default().to_string();
        let a = &d["application"];
        let application =
            a["name"]
                .as_str()
                .zip(a["namespace"].as_str())
                .map(|(name, namespace)| AppRef {
                    name: name.to_string(),
                    namespace: namespace.to_string(),
                });
        Ok(Fix {
            pr,
            undo,
            repo_url: text("repo_url"),
            base_branch: text("base_branch"),
            application,
            change: text("change"),
            rollback: text("rollback"),
        })
    }

    /// The rules that hold a revert back (`None`: go), read from the ledger, the workload and
    /// Argo CD, and decided by [`rules`].
    async fn gate(&self, hops: &[HopRecord], fix: &Fix) -> Result<Option<Gate>, RunError> {
        let regressed_at = hops
            .iter()
            .rev()
            .find(|h| h.kind == "verdict" && h.detail["verdict"] == "regressed")
            .map(|h| h.at);
        let mark: Option<DeployMark> = hops
            .iter()
            .rev()
            .find(|h| h.kind == "deploy_seen")
            .and_then(|h| serde_json::from_value(h.detail.clone()).ok());
        let workload_now = match (&self.slice, fix.pr.incident_key.parse::<IncidentKey>()) {
            (Some(slice_of), Ok(key)) => {
                let workload = ObjectRef::of_kind(&key.kind, &key.namespace, &key.name);
                revision::generation(&slice_of(&workload), &workload)
            }
            _ => (None, None),
        };
        let argo = match &fix.application {
            None => None,
            Some(app) => match self.argo.get(app).await {
                Ok(value) => Some(
                    serde_json::from_value::<Application>(value)
                        .map(|a| DeployStatus::from_application(&a))
                        .unwrap_or_default(),
                ),
                Err(crate::gitops::sync::SyncError::NotFound(_)) => {
                    return Ok(Some(Gate::Refuse(format!(
                        "Argo CD Application {}/{} is gone",
                        app.namespace, app.name
                    ))));
                }
                Err(e) => return Err(e.into()),
            },
        };
        Ok(rules(&Facts {
            now: self.now(),
            window: self.cfg.windows.window,
            regressed_at,
            mark: mark.as_ref(),
            workload_now,
            argo: argo.as_ref(),
            merge_sha: fix.pr.merge_sha.as_deref().unwrap_or_default(),
        }))
    }

    /// Build the revert on the base branch's tip, push it, open the pull request.
    async fn send_revert(&self, key: &str, hops: &[HopRecord], fix: &Fix) -> Result<(), RunError> {
        let incident: IncidentKey = key.parse()?;
        let entry = self
            .forge_for(&fix.pr.url)
            .ok_or_else(|| RunError::NoForge(fix.pr.url.clone()))?;
        let repo = RepoPath::new(&fix.pr.repo)?;
        let url = if fix.repo_url.is_empty() {
            RepoUrl::parse(&fix.pr.url).map(|u| format!("https://{}/{}.git", u.authority, repo))?
        } else {
            fix.repo_url.clone()
        };
        let base = match fix.base_branch.as_str() {
            "" => entry.forge.default_branch(&repo).await?,
            b => b.to_string(),
        };
        let branch = incident.revert_branch(&fix.pr.head_branch);
        let title = incident.revert_title(&fix.change);
        if self.cfg.dry_run {
            let hop = Hop::new(
                "dry_run",
                json!({"would": "push and open the revert", "branch": branch, "title": title}),
            );
            self.ledger.append_hop(key, &hop, self.now()).await?;
            return Ok(());
        }

        let push_key = format!("revert_push:{key}");
        if !matches!(
            self.ledger
                .begin_effect(&push_key, key, "push", self.now())
                .await?,
            Effect::Done { .. }
        ) {
            let lock = self.repos.of(&url);
            let _held = lock.lock().await;
            let (tip, tree) = repos::checkout(
                &self.cfg.git,
                &url,
                &base,
                entry.git_creds().await?.as_ref(),
            )
            .await?;
            let files = match revert::revert(&fix.undo, |f| tree.file(f)) {
                Ok(files) => files,
                Err(e) => return self.refuse_revert(key, &e.to_string()).await,
            };
            let diff = crate::gitops::compose::diff_all(&files);
            let message = format!(
                "{title}\n\nThis reverts {}: it regressed the workload. It restores the values \
                 the fix replaced ({}).\n\nIncident: {key}\n",
                fix.pr.url, fix.rollback
            );
            let commit = FixCommit {
                base: tip,
                branch: branch.clone(),
                files: files
                    .iter()
                    .map(|f| (f.path.clone(), f.new.clone()))
                    .collect(),
                message,
                when: self.now(),
            };
            let commit = match repos::push_fix(
                &self.cfg.git,
                &url,
                commit,
                entry.git_creds().await?.as_ref(),
            )
            .await?
            {
                Push::New(c) | Push::Adopted(c) => c,
                Push::Foreign { authors } => {
                    let why = format!("someone else ({}) pushed to {branch}", authors.join(", "));
                    return self.refuse_revert(key, &why).await;
                }
            };
            let result = json!({"branch": branch, "commit": commit.to_string()});
            self.ledger
                .finish_effect(&push_key, &result, self.now())
                .await?;
            let hop = Hop::new(
                "revert_pushed",
                json!({"branch": branch, "commit": commit.to_string(), "diff": diff,
                       "base_branch": base, "reverts": fix.pr.url}),
            );
            self.ledger.append_hop(key, &hop, self.now()).await?;
        }

        let body = self
            .templates
            .render("revert-body.md", &body_view(key, hops, fix))?;
        let change = NewChange {
            title,
            body,
            head: branch.clone(),
            base,
            labels: incident.revert_labels(),
        };
        let pr_key = format!("revert_pr:{key}");
        let _ = self
            .ledger
            .begin_effect(&pr_key, key, "pull_request", self.now())
            .await?;
        let opened = entry.forge.open(&repo, &change).await?;
        self.ledger
            .finish_effect(
                &pr_key,
                &json!({"number": opened.number, "url": opened.url}),
                self.now(),
            )
            .await?;
        let now = self.now();
        self.ledger
            .record_pull_request(&PullRequest {
                incident_key: key.to_string(),
                forge: entry.kind().to_string(),
                repo: repo.as_str().to_string(),
                number: i64::try_from(opened.number).unwrap_or(i64::MAX),
                url: opened.url.clone(),
                head_branch: opened.head_branch.clone(),
                state: "open".into(),
                merge_sha: None,
                opened_at: now,
                updated_at: now,
            })
            .await?;
        self.revert_opened(key).await?;
        if self.cfg.auto_merge_reverts {
            // The merge webhook (or the reconcile, if it is lost) carries on from here.
            let sha = entry.forge.merge(&repo, opened.number).await?;
            let hop = Hop::new(
                "revert_auto_merged",
                json!({"number": opened.number, "merge_sha": sha}),
            );
            self.ledger.append_hop(key, &hop, self.now()).await?;
        }
        Ok(())
    }

    async fn revert_opened(&self, key: &str) -> Result<(), RunError> {
        let ctx = self.context(key).await?;
        let step = machine::step(
            &ctx,
            &Event::RevertOpened,
            &self.cfg.machine,
            Budget::default(),
            self.now(),
        );
        Box::pin(self.apply(key, &ctx, step, None, None)).await
    }

    /// Regressed incidents whose revert is waiting (a sync was in flight) or was interrupted.
    pub(super) async fn reconcile_reverts(&self) -> Result<(), RunError> {
        for incident in self
            .ledger
            .incidents(Some(IncidentState::Regressed), 100)
            .await?
        {
            if let Err(e) = self.revert(&incident.key).await {
                tracing::warn!(incident = %incident.key, error = %e, "revert failed; retried");
            }
        }
        Ok(())
    }
}

/// What the revert rules read.
struct Facts<'a> {
    now: Timestamp,
    window: SignedDuration,
    /// When the `regressed` verdict was recorded.
    regressed_at: Option<Timestamp>,
    /// The merge's deploy mark (its generation and scale).
    mark: Option<&'a DeployMark>,
    /// The workload's generation and replicas now.
    workload_now: (Option<i64>, Option<i32>),
    /// The Application's sync state now (`None`: no Application known).
    argo: Option<&'a DeployStatus>,
    merge_sha: &'a str,
}

/// Kargo's rules for an automatic rollback, as suture applies them (pure).
fn rules(f: &Facts) -> Option<Gate> {
    let Some(seen) = f.regressed_at else {
        return Some(Gate::Refuse("no regressed verdict is recorded".into()));
    };
    if f.now.duration_since(seen) > f.window {
        return Some(Gate::Refuse(format!(
            "the regression was seen at {seen}, longer ago than the verification window \
             ({:#}); suture does not revert on old evidence",
            f.window
        )));
    }
    // Someone else rolled the workload after the merge's rollout (a spec change at the same
    // scale): what runs is no longer suture's change alone.
    if let (Some(mark), (Some(to), replicas)) = (f.mark, f.workload_now)
        && let Some(from) = mark.generation
        && to > from
        && replicas == mark.replicas
    {
        return Some(Gate::Refuse(format!(
            "the workload was changed after suture's rollout (generation {from} -> {to}); \
             another rollout is in flight or done"
        )));
    }
    let argo = f.argo?;
    if argo.operation_phase.as_deref() == Some("Running") {
        return Some(Gate::Wait(
            "Argo CD is syncing the app; the revert waits for it to finish".into(),
        ));
    }
    let revisions = argo.synced_revisions();
    if !f.merge_sha.is_empty() && !revisions.is_empty() && !argo.synced(f.merge_sha) {
        return Some(Gate::Refuse(format!(
            "Argo CD has since synced {} on top of suture's merge {}; someone else changed \
             the app",
            revisions.join(", "),
            f.merge_sha
        )));
    }
    None
}

/// What `revert-body.md` reads.
fn body_view(key: &str, hops: &[HopRecord], fix: &Fix) -> Value {
    let verdict = hops
        .iter()
        .rev()
        .find(|h| h.kind == "verdict" && h.detail["verdict"] == "regressed")
        .map(|h| h.detail.clone())
        .unwrap_or_default();
    let undo: Vec<Value> = fix
        .undo
        .iter()
        .filter_map(|u| match u {
            Undo::Restore {
                file, path, before, ..
            } => Some(json!({
                "file": file,
                "field": path_to_string(path),
                "to": before.as_ref().map_or_else(|| "absent (the fix added it)".to_string(), revert::show),
            })),
            Undo::Manual { .. } => None,
        })
        .collect();
    let application = fix
        .application
        .as_ref()
        .map(|a| format!("{}/{}", a.namespace, a.name))
        .unwrap_or_default();
    json!({
        "incident_key": key,
        "fix_url": fix.pr.url,
        "regression": super::verification::status_line(&verdict),
        "evidence": verdict["rows"],
        "findings": verdict["findings"],
        "rollback_description": fix.rollback,
        "undo": undo,
        "application": application,
        "machine": {"incident_key": key, "revert_of": fix.pr.number, "undo": fix.undo},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn synced(sha: &str, phase: &str) -> DeployStatus {
        DeployStatus {
            operation_phase: Some(phase.into()),
            sync_revision: Some(sha.into()),
            sync_status: Some("Synced".into()),
            target_revision: Some(sha.into()),
            auto_sync: true,
            ..DeployStatus::default()
        }
    }

    fn mark() -> DeployMark {
        DeployMark {
            at: t("2026-01-01T01:00:00Z"),
            since: t("2026-01-01T00:59:50Z"),
            revision: Some("new222".into()),
            generation: Some(4),
            replicas: Some(2),
        }
    }

    /// A regression seen a minute ago, the merge deployed and nothing moved since.
    fn facts<'a>(mark: &'a DeployMark, argo: &'a DeployStatus) -> Facts<'a> {
        Facts {
            now: t("2026-01-01T01:03:00Z"),
            window: SignedDuration::from_mins(10),
            regressed_at: Some(t("2026-01-01T01:02:00Z")),
            mark: Some(mark),
            workload_now: (Some(4), Some(2)),
            argo: Some(argo),
            merge_sha: SHA,
        }
    }

    fn refused(gate: Option<Gate>) -> String {
        match gate {
            Some(Gate::Refuse(why)) => why,
            other => panic!("not refused: {other:?}"),
        }
    }

    #[test]
    fn a_fresh_regression_of_a_settled_merge_is_reverted() {
        let (m, argo) = (mark(), synced(SHA, "Succeeded"));
        assert_eq!(rules(&facts(&m, &argo)), None);
        // A scale (an HPA) is not someone else's rollout.
        let scaled = Facts {
            workload_now: (Some(5), Some(4)),
            ..facts(&m, &argo)
        };
        assert_eq!(rules(&scaled), None);
    }

    #[test]
    fn never_on_evidence_older_than_the_window() {
        let (m, argo) = (mark(), synced(SHA, "Succeeded"));
        let old = Facts {
            now: t("2026-01-01T01:12:01Z"),
            ..facts(&m, &argo)
        };
        let why = refused(rules(&old));
        assert!(
            why.contains("suture does not revert on old evidence"),
            "{why}"
        );
        assert!(why.contains("2026-01-01T01:02:00Z"), "{why}");
        let none = Facts {
            regressed_at: None,
            ..facts(&m, &argo)
        };
        assert_eq!(refused(rules(&none)), "no regressed verdict is recorded");
    }

    #[test]
    fn a_sync_in_flight_waits_and_another_rollout_or_commit_refuses() {
        let m = mark();
        let running = synced(SHA, "Running");
        assert!(matches!(rules(&facts(&m, &running)), Some(Gate::Wait(_))));

        let argo = synced(SHA, "Succeeded");
        let rolled = Facts {
            workload_now: (Some(5), Some(2)),
            ..facts(&m, &argo)
        };
        assert!(refused(rules(&rolled)).contains("generation 4 -> 5"));

        let later = synced("fedcba9876543210fedcba9876543210fedcba98", "Succeeded");
        let why = refused(rules(&facts(&m, &later)));
        assert!(why.contains("on top of suture's merge"), "{why}");
    }
}
