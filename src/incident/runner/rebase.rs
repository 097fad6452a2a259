//! Open fixes whose base branch moved under the files they change (a teammate's commit, an
//! image updater, Renovate): rebuilt on the new tip from the fix's own records, the same
//! values re-verified there, and force-pushed over suture's own commit only. When the base
//! changed a line the fix changes, suture does not rebase over it: it says so on the pull
//! request, once, and a person decides.

use std::collections::HashSet;

use git2::Oid;
use serde_json::json;

use super::repos::{self, FixCommit};
use super::revert::is_revert;
use super::{RunError, Runner};
use crate::forge::RepoPath;
use crate::gitops::compose::diff_all;
use crate::gitops::revert::{self, Undo};
use crate::ledger::{Hop, PullRequest};

impl Runner {
    /// One look at every open fix pull request; each repository is fetched once per look,
    /// however many of its pull requests are open.
    pub(super) async fn reconcile_rebases(&self) -> Result<(), RunError> {
        let mut fetched = HashSet::new();
        for pr in self.ledger.pull_requests_in("open").await? {
            if is_revert(&pr) {
                continue;
            }
            if let Err(e) = self.rebase_if_moved(&pr, &mut fetched).await {
                tracing::warn!(incident = %pr.incident_key, error = %e, "rebase check failed");
            }
        }
        Ok(())
    }

    async fn rebase_if_moved(
        &self,
        pr: &PullRequest,
        fetched: &mut HashSet<String>,
    ) -> Result<(), RunError> {
        let key = &pr.incident_key;
        let hops = self.ledger.hops(key).await?;
        let Some(pushed) = hops
            .iter()
            .rev()
            .find(|h| h.kind == "pushed" && h.detail["branch"] == pr.head_branch.as_str())
        else {
            return Ok(());
        };
        // The branch's current commit: the latest rebase of it, else the push.
        let later = hops.iter().filter(|h| h.id > pushed.id);
        let current = later
            .clone()
            .rev()
            .find(|h| h.kind == "rebased" && h.detail["branch"] == pr.head_branch.as_str())
            .unwrap_or(pushed);
        // A person pushed to the branch, or the rebase was refused: not suture's to move.
        if later
            .clone()
            .any(|h| h.kind == "human_pushed" || h.kind == "rebase_refused")
        {
            return Ok(());
        }
        let d = &pushed.detail;
        let (Ok(undo), Some(url), Some(base), Some(commit)) = (
            serde_json::from_value::<Vec<Undo>>(d["undo"].clone()),
            d["repo_url"].as_str(),
            d["base_branch"].as_str(),
            current.detail["commit"]
                .as_str()
                .and_then(|c| Oid::from_str(c).ok()),
        ) else {
            return Ok(());
        };
        let Some(entry) = self.forge_for(&pr.url) else {
            return Err(RunError::NoForge(pr.url.clone()));
        };
        let files: Vec<String> = undo
            .iter()
            .map(|u| match u {
                Undo::Restore { file, .. } | Undo::Manual { file, .. } => file.clone(),
            })
            .collect();
        let lock = self.repos.of(url);
        let _held = lock.lock().await;
        let Some(moved) = repos::base_move(
            &self.cfg.git,
            url,
            base,
            commit,
            files,
            fetched.insert(url.to_string()),
            entry.git_creds().await?.as_ref(),
        )
        .await?
        else {
            return Ok(());
        };
        let written = match revert::reapply(&undo, |f| moved.tree.file(f)) {
            Ok(w) => w,
            Err(e) => {
                let why = e.to_string();
                let hop = Hop::new(
                    "rebase_refused",
                    json!({"branch": pr.head_branch, "base": moved.tip.to_string(), "reason": why}),
                );
                self.ledger.append_hop(key, &hop, self.now()).await?;
                let text = format!(
                    "The base branch `{base}` changed the lines this pull request changes \
                     ({}): {why}. suture will not rebase it; merge or close it as you see fit.",
                    moved.changed.join(", ")
                );
                if !self.cfg.dry_run {
                    let repo = RepoPath::new(&pr.repo)?;
                    let number = u64::try_from(pr.number).unwrap_or_default();
                    entry.forge.comment(&repo, number, &text).await?;
                }
                let hop = Hop::new(
                    "commented",
                    json!({"kind": "rebase_refused", "number": pr.number}),
                );
                self.ledger.append_hop(key, &hop, self.now()).await?;
                return Ok(());
            }
        };
        if self.cfg.dry_run {
            let hop = Hop::new(
                "dry_run",
                json!({"would": "rebase", "branch": pr.head_branch}),
            );
            self.ledger.append_hop(key, &hop, self.now()).await?;
            return Ok(());
        }
        let fix = FixCommit {
            base: moved.tip,
            branch: pr.head_branch.clone(),
            files: written
                .iter()
                .map(|w| (w.path.clone(), w.new.clone()))
                .collect(),
            message: moved.message.clone(),
            when: self.now(),
        };
        let creds = entry.git_creds().await?;
        let new = repos::replace_fix(&self.cfg.git, url, fix, commit, creds.as_ref()).await?;
        let hop = Hop::new(
            "rebased",
            json!({"branch": pr.head_branch, "from": commit.to_string(), "commit": new.to_string(),
                   "base": moved.tip.to_string(), "files": moved.changed, "diff": diff_all(&written)}),
        );
        self.ledger.append_hop(key, &hop, self.now()).await?;
        Ok(())
    }
}
