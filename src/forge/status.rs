//! Commit statuses (`suture/verify` on the merge commit): what suture posts and reads back,
//! the same on both forges. GitLab has no `error` state; suture writes it as `failed`.

/// The four states GitHub knows; GitLab's are mapped onto them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StatusState {
    Pending,
    Success,
    Failure,
    Error,
}

impl StatusState {
    /// GitHub's word.
    pub fn github(self) -> &'static str {
        match self {
            StatusState::Pending => "pending",
            StatusState::Success => "success",
            StatusState::Failure => "failure",
            StatusState::Error => "error",
        }
    }

    /// GitLab's state as read: a running or created job is still pending; a canceled or
    /// skipped one did not verify anything.
    pub fn from_gitlab(s: &str) -> StatusState {
        match s {
            "success" => StatusState::Success,
            "failed" => StatusState::Failure,
            "canceled" | "skipped" => StatusState::Error,
            _ => StatusState::Pending,
        }
    }
}

/// A status to post.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitStatus {
    pub state: StatusState,
    /// `suture/verify` (GitLab calls it the status's name).
    pub context: String,
    pub description: Option<String>,
    pub target_url: Option<String>,
}

/// The context suture's verification posts under.
pub const VERIFY_CONTEXT: &str = "suture/verify";

/// A status as the forge reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PostedStatus {
    pub id: u64,
    pub status: CommitStatus,
    pub created_at: Option<jiff::Timestamp>,
}

/// Newest first on both forges (GitLab lists by id, ascending).
pub(crate) fn newest_first(mut list: Vec<PostedStatus>) -> Vec<PostedStatus> {
    list.sort_by_key(|s| std::cmp::Reverse(s.id));
    list
}
