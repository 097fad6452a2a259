//! Forge deliveries (and what the reconcile reads back when a webhook went missing).

use serde_json::json;

use super::{RunError, Runner};
use crate::forge::webhook::{ChangeAction, ChangeEvent, RepoId};
use crate::forge::{ChangeState, RepoPath, RepoUrl};
use crate::incident::machine::{self, Budget, Event};
use crate::ledger::{Hop, PullRequest};

impl Runner {
    /// A pull/merge request event. Only pull requests suture opened are acted on.
    pub(super) async fn change_event(
        &self,
        delivery: &str,
        event: &ChangeEvent,
    ) -> Result<(), RunError> {
        let Some(entry) = self.forge_for(&event.url) else {
            return Ok(());
        };
        let kind = entry.kind();
        let Some(pr) = self
            .ledger
            .pull_request_by_branch(kind, &event.repo.path, &event.head_branch)
            .await?
        else {
            return Ok(());
        };
        let key = pr.incident_key.clone();
        let now = self.now();
        let record = |state: &str, merge_sha: Option<String>| PullRequest {
            state: state.to_string(),
            merge_sha,
            updated_at: now,
            ..pr.clone()
        };
        let machine_event = match &event.action {
            ChangeAction::Merged { merge_sha } => {
                self.ledger
                    .record_pull_request(&record("merged", Some(merge_sha.clone())))
                    .await?;
                Event::Merged {
                    sha: merge_sha.clone(),
                }
            }
            ChangeAction::Closed => {
                self.ledger
                    .record_pull_request(&record("closed", None))
                    .await?;
                Event::ClosedUnmerged
            }
            ChangeAction::Reopened => {
                self.ledger
                    .record_pull_request(&record("open", None))
                    .await?;
                Event::Reopened
            }
            ChangeAction::Updated => {
                let url = clone_url(&event.repo, &event.url);
                let authors = super::repos::foreign_authors(
                    &self.cfg.git,
                    &url,
                    &event.head_branch,
                    entry.git_creds().await?.as_ref(),
                )
                .await?;
                if authors.is_empty() {
                    return Ok(());
                }
                let hop = Hop::new(
                    "human_pushed",
                    json!({"authors": authors, "delivery": delivery}),
                );
                self.ledger.append_hop(&key, &hop, now).await?;
                Event::HumanPushed
            }
            ChangeAction::Opened | ChangeAction::Other(_) => return Ok(()),
        };
        let ctx = self.context(&key).await?;
        let mut step = machine::step(
            &ctx,
            &machine_event,
            &self.cfg.machine,
            Budget::default(),
            now,
        );
        step.note = Some(format!("delivery {delivery}: pull request #{}", pr.number));
        self.apply(&key, &ctx, step, None, None).await
    }

    /// Read every open pull request's state through the API: a merge or close whose webhook
    /// never arrived is handled as if it had.
    pub(super) async fn reconcile_pull_requests(&self) -> Result<(), RunError> {
        for pr in self.ledger.pull_requests_in("open").await? {
            let Some(entry) = self.forge_for(&pr.url) else {
                continue;
            };
            let repo = RepoPath::new(&pr.repo)?;
            let number = u64::try_from(pr.number).unwrap_or_default();
            let current = entry.forge.get(&repo, number).await?;
            let action = match current.state {
                ChangeState::Merged { merge_sha } => ChangeAction::Merged { merge_sha },
                ChangeState::Closed => ChangeAction::Closed,
                ChangeState::Open => continue,
            };
            let event = ChangeEvent {
                repo: RepoId {
                    path: pr.repo.clone(),
                    clone_url: String::new(),
                },
                number,
                action,
                head_branch: pr.head_branch.clone(),
                base_branch: current.base_branch.clone(),
                url: pr.url.clone(),
            };
            self.change_event("reconcile", &event).await?;
        }
        Ok(())
    }
}

/// The repository's clone URL: the delivery's, or the web URL's host and path.
fn clone_url(repo: &RepoId, web_url: &str) -> String {
    if !repo.clone_url.is_empty() {
        return repo.clone_url.clone();
    }
    let scheme = web_url.split_once("://").map_or("https", |(s, _)| s);
    match RepoUrl::parse(web_url) {
        Ok(url) => format!("{scheme}://{}/{}.git", url.authority, repo.path),
        Err(_) => String::new(),
    }
}
