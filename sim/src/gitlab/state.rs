//! What the simulated GitLab remembers besides Git data: users, projects (numeric id and
//! `group/name` path), merge requests (one iid space per project), notes, labels and
//! webhooks.

use std::collections::BTreeMap;

use super::routes::ApiError;
use super::webhook::WebhookConfig;

#[derive(Debug, Default)]
pub(crate) struct State {
    next_id: u64,
    /// username -> user
    pub users: BTreeMap<String, UserRec>,
    /// id -> project
    pub projects: BTreeMap<u64, ProjectRec>,
    pub hooks: Vec<WebhookConfig>,
}

#[derive(Debug, Clone)]
pub(crate) struct UserRec {
    pub id: u64,
    pub username: String,
    pub name: String,
}

#[derive(Debug)]
pub(crate) struct ProjectRec {
    pub id: u64,
    /// `group/name`, as the Git remote stores it.
    pub path: String,
    pub created_at: String,
    pub next_iid: u64,
    pub mrs: BTreeMap<u64, MrRec>,
    /// title -> label; GitLab creates project labels on first use on a merge request.
    pub labels: BTreeMap<String, LabelRec>,
    /// Project webhooks (`POST /projects/:id/hooks`), oldest first.
    pub hooks: Vec<ProjectHook>,
    /// External commit statuses (generic jobs), by id order.
    pub statuses: Vec<CommitStatusRec>,
}

/// A project webhook with the event flags GitLab keeps per hook.
#[derive(Debug, Clone)]
pub(crate) struct ProjectHook {
    pub id: u64,
    pub url: String,
    pub name: String,
    pub description: String,
    /// Sent as `X-Gitlab-Token`; never shown back by the API.
    pub token: String,
    pub push_events: bool,
    pub push_events_branch_filter: String,
    pub tag_push_events: bool,
    pub merge_requests_events: bool,
    pub note_events: bool,
    pub issues_events: bool,
    pub enable_ssl_verification: bool,
    /// `X-Gitlab-Webhook-UUID`.
    pub uuid: String,
    pub created_at: String,
}

impl ProjectHook {
    /// Whether the hook's flag for `event` (`Push Hook`, `Merge Request Hook`, ...) is on.
    pub fn wants(&self, event: &str, branch: Option<&str>) -> bool {
        match event {
            "Push Hook" => {
                self.push_events
                    && (self.push_events_branch_filter.is_empty()
                        || branch
                            .is_some_and(|b| branch_matches(&self.push_events_branch_filter, b)))
            }
            "Tag Push Hook" => self.tag_push_events,
            "Merge Request Hook" => self.merge_requests_events,
            "Note Hook" => self.note_events,
            "Issue Hook" => self.issues_events,
            _ => false,
        }
    }
}

/// GitLab's default `wildcard` branch filter: a name, or a pattern with `*`.
fn branch_matches(filter: &str, branch: &str) -> bool {
    let parts: Vec<&str> = filter.split('*').collect();
    if parts.len() == 1 {
        return filter == branch;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !branch.starts_with(first) || branch.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &branch[first.len()..branch.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    branch.ends_with(last)
}

/// An external commit status: GitLab models it as a job with a state machine.
#[derive(Debug, Clone)]
pub(crate) struct CommitStatusRec {
    pub id: u64,
    pub pipeline_id: u64,
    pub sha: String,
    pub ref_: Option<String>,
    pub name: String,
    pub status: String,
    pub description: Option<String>,
    pub target_url: Option<String>,
    pub author: String,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// Replaced by a newer status of the same name and ref (listed only with `all=true`).
    pub retried: bool,
}

impl ProjectRec {
    pub fn namespace(&self) -> &str {
        self.path.split_once('/').map_or("", |(ns, _)| ns)
    }

    pub fn name(&self) -> &str {
        self.path.split_once('/').map_or(&*self.path, |(_, n)| n)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MrState {
    Opened,
    Closed,
    Merged,
}

impl MrState {
    pub fn as_str(self) -> &'static str {
        match self {
            MrState::Opened => "opened",
            MrState::Closed => "closed",
            MrState::Merged => "merged",
        }
    }

    /// `state_id` in webhook payloads.
    pub fn id(self) -> u64 {
        match self {
            MrState::Opened => 1,
            MrState::Closed => 2,
            MrState::Merged => 3,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct MrRec {
    pub id: u64,
    pub iid: u64,
    pub title: String,
    pub description: String,
    pub author: String,
    pub state: MrState,
    pub source_branch: String,
    pub target_branch: String,
    /// Last known tip of the source branch (kept after the branch is deleted).
    pub sha: String,
    pub labels: Vec<String>,
    pub notes: Vec<NoteRec>,
    pub remove_source_branch: bool,
    pub squash: bool,
    pub created_at: String,
    pub updated_at: String,
    pub closed_at: Option<String>,
    pub closed_by: Option<String>,
    pub merged_at: Option<String>,
    pub merged_by: Option<String>,
    pub merge_commit_sha: Option<String>,
}

impl MrRec {
    /// GitLab derives draft status from the title prefix.
    pub fn draft(&self) -> bool {
        let t = self.title.trim_start().to_ascii_lowercase();
        ["draft:", "[draft]", "(draft)", "draft -"]
            .iter()
            .any(|p| t.starts_with(p))
    }
}

#[derive(Debug, Clone)]
pub(crate) struct NoteRec {
    pub id: u64,
    pub author: String,
    pub body: String,
    pub created_at: String,
}

#[derive(Debug, Clone)]
pub(crate) struct LabelRec {
    pub id: u64,
    pub name: String,
    pub color: String,
    pub description: Option<String>,
    pub created_at: String,
}

impl State {
    /// A fresh id; GitLab ids are global and never reused.
    pub fn id(&mut self) -> u64 {
        self.next_id += 1;
        // Start high so ids do not look like iids in assertions.
        100 + self.next_id
    }

    /// The user `username`, created on first sight.
    pub fn user(&mut self, username: &str) -> UserRec {
        if let Some(u) = self.users.get(username) {
            return u.clone();
        }
        let u = UserRec {
            id: self.id(),
            username: username.to_owned(),
            name: username.to_owned(),
        };
        self.users.insert(username.to_owned(), u.clone());
        u
    }

    /// The project named by a path parameter: a numeric id or `group/name` (decoded).
    pub fn project_key(&self, key: &str) -> Result<u64, ApiError> {
        let found = match key.parse::<u64>() {
            Ok(id) => self.projects.get(&id).map(|p| p.id),
            Err(_) => self
                .projects
                .values()
                .find(|p| p.path.eq_ignore_ascii_case(key))
                .map(|p| p.id),
        };
        found.ok_or_else(|| ApiError::not_found("Project"))
    }

    pub fn project(&self, id: u64) -> Result<&ProjectRec, ApiError> {
        self.projects
            .get(&id)
            .ok_or_else(|| ApiError::not_found("Project"))
    }

    pub fn project_mut(&mut self, id: u64) -> Result<&mut ProjectRec, ApiError> {
        self.projects
            .get_mut(&id)
            .ok_or_else(|| ApiError::not_found("Project"))
    }

    pub fn mr(&self, project: u64, iid: u64) -> Result<&MrRec, ApiError> {
        self.project(project)?
            .mrs
            .get(&iid)
            .ok_or_else(|| ApiError::not_found(""))
    }

    pub fn mr_mut(&mut self, project: u64, iid: u64) -> Result<&mut MrRec, ApiError> {
        self.project_mut(project)?
            .mrs
            .get_mut(&iid)
            .ok_or_else(|| ApiError::not_found(""))
    }

    /// Make sure every title is a project label (GitLab creates missing ones on use).
    pub fn ensure_labels(&mut self, project: u64, titles: &[String]) -> Result<(), ApiError> {
        let missing: Vec<String> = {
            let p = self.project(project)?;
            titles
                .iter()
                .filter(|t| !p.labels.contains_key(*t))
                .cloned()
                .collect()
        };
        for title in missing {
            let id = self.id();
            self.project_mut(project)?.labels.insert(
                title.clone(),
                LabelRec {
                    id,
                    name: title,
                    // GitLab's default colour for labels created on the fly.
                    color: "#6699cc".to_owned(),
                    description: None,
                    created_at: now(),
                },
            );
        }
        Ok(())
    }
}

/// Now, as GitLab writes API timestamps: `2024-05-15T15:20:33.000Z`.
pub(crate) fn now() -> String {
    let ts = jiff::Timestamp::now();
    let secs = jiff::Timestamp::from_second(ts.as_second()).unwrap_or(ts);
    format!("{}", secs.strftime("%Y-%m-%dT%H:%M:%S.000Z"))
}

/// A timestamp as webhook `changes` write it: `2013-12-03 17:23:34 UTC`.
pub(crate) fn hook_time(api_time: &str) -> String {
    api_time
        .parse::<jiff::Timestamp>()
        .map(|t| format!("{}", t.strftime("%Y-%m-%d %H:%M:%S UTC")))
        .unwrap_or_else(|_| api_time.to_owned())
}
