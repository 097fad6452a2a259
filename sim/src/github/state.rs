//! What the simulated GitHub remembers besides Git data: users, repositories, issues and pull
//! requests (one number space per repository), labels, comments and webhooks.

use std::collections::BTreeMap;

use super::apps::{AppRec, InstallationRec};
use super::routes::ApiError;
use super::webhook::{RepoHook, WebhookConfig};

#[derive(Debug, Default)]
pub(crate) struct State {
    next_id: u64,
    /// login -> user id
    pub users: BTreeMap<String, u64>,
    /// full name -> repository
    pub repos: BTreeMap<String, RepoRec>,
    /// Simulator-wide hooks ([`crate::github::GitHubSim::add_webhook`]).
    pub hooks: Vec<WebhookConfig>,
    /// full name -> the repository's own hooks, in creation order.
    pub repo_hooks: BTreeMap<String, Vec<RepoHook>>,
    /// GitHub Apps by id ([`crate::github::GitHubSim::register_app`]).
    pub apps: BTreeMap<u64, AppRec>,
    /// Installations by id.
    pub installations: BTreeMap<u64, InstallationRec>,
    /// How long installation tokens live; `None`: GitHub's hour.
    pub installation_token_ttl: Option<jiff::SignedDuration>,
}

#[derive(Debug)]
pub(crate) struct RepoRec {
    pub id: u64,
    pub owner: String,
    pub name: String,
    pub created_at: String,
    pub next_number: u64,
    pub items: BTreeMap<u64, Item>,
    /// name -> label; created on first use as GitHub does when labelling an issue.
    pub labels: BTreeMap<String, LabelRec>,
    /// Commit statuses, oldest first.
    pub statuses: Vec<StatusRec>,
}

/// One commit status; GitHub keeps every one (the latest per context counts).
#[derive(Debug, Clone)]
pub(crate) struct StatusRec {
    pub id: u64,
    pub sha: String,
    pub state: String,
    pub context: String,
    pub description: Option<String>,
    pub target_url: Option<String>,
    pub creator: String,
    pub created_at: String,
}

impl RepoRec {
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }
}

/// An issue; a pull request is an issue with `pr` set.
#[derive(Debug)]
pub(crate) struct Item {
    pub number: u64,
    pub id: u64,
    pub title: String,
    pub body: Option<String>,
    pub user: String,
    pub open: bool,
    pub created_at: String,
    pub updated_at: String,
    pub closed_at: Option<String>,
    pub labels: Vec<String>,
    pub comments: Vec<CommentRec>,
    pub pr: Option<PrRec>,
}

#[derive(Debug)]
pub(crate) struct PrRec {
    pub id: u64,
    pub head_ref: String,
    /// Last known tip of the head branch (kept after the branch is deleted).
    pub head_sha: String,
    pub base_ref: String,
    pub base_sha: String,
    pub draft: bool,
    pub maintainer_can_modify: bool,
    pub merged_at: Option<String>,
    pub merged_by: Option<String>,
    pub merge_commit_sha: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct CommentRec {
    pub id: u64,
    pub user: String,
    pub body: String,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone)]
pub(crate) struct LabelRec {
    pub id: u64,
    pub name: String,
    pub color: String,
    pub description: Option<String>,
}

impl State {
    /// A fresh id; GitHub ids are global and never reused.
    pub fn id(&mut self) -> u64 {
        self.next_id += 1;
        // Start high so ids do not look like issue numbers in assertions.
        1000 + self.next_id
    }

    /// The id of `login`, creating the user on first sight.
    pub fn user_id(&mut self, login: &str) -> u64 {
        if let Some(id) = self.users.get(login) {
            return *id;
        }
        let id = self.id();
        self.users.insert(login.to_owned(), id);
        id
    }

    pub fn repo(&self, full_name: &str) -> Result<&RepoRec, ApiError> {
        self.repos.get(full_name).ok_or_else(ApiError::not_found)
    }

    pub fn repo_mut(&mut self, full_name: &str) -> Result<&mut RepoRec, ApiError> {
        self.repos
            .get_mut(full_name)
            .ok_or_else(ApiError::not_found)
    }

    pub fn item(&self, full_name: &str, number: u64) -> Result<&Item, ApiError> {
        self.repo(full_name)?
            .items
            .get(&number)
            .ok_or_else(ApiError::not_found)
    }

    pub fn item_mut(&mut self, full_name: &str, number: u64) -> Result<&mut Item, ApiError> {
        self.repo_mut(full_name)?
            .items
            .get_mut(&number)
            .ok_or_else(ApiError::not_found)
    }

    /// A pull request (an issue that is not one is "Not Found" here, as on GitHub).
    pub fn pull(&self, full_name: &str, number: u64) -> Result<&Item, ApiError> {
        let item = self.item(full_name, number)?;
        if item.pr.is_none() {
            return Err(ApiError::not_found());
        }
        Ok(item)
    }
}

/// Now, as GitHub writes timestamps: `2019-05-15T15:20:33Z`.
pub(crate) fn now() -> String {
    let ts = jiff::Timestamp::now();
    jiff::Timestamp::from_second(ts.as_second())
        .map(|t| t.to_string())
        .unwrap_or_else(|_| ts.to_string())
}
