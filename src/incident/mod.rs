//! Incidents: one per key (`cluster/namespace/kind/name/fault-id`), moving through the states of
//! design.md §8. `key` is the incident key, the one source of branch names, ledger keys, metric
//! labels and PR metadata. The state machine and its runner arrive with the live loop; the
//! states are here so the ledger can store them.

pub mod event;
pub mod key;
pub mod machine;
pub mod runner;
pub mod verify;
pub mod view;

pub use key::{IncidentKey, KeyParseError};

/// Where an incident stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentState {
    /// Detected; nothing proposed yet.
    Open,
    /// A fix is drafted and placed in Git.
    Proposed,
    PrOpen,
    Merged,
    Verifying,
    Resolved,
    StillFiring,
    Regressed,
    /// The revert of a regressed fix is out for review (or merged and being verified).
    Reverting,
    Reverted,
    Escalated,
    /// The pull request was closed without merging.
    Declined,
    /// Applied directly (the guarded direct rail).
    Applied,
}

impl IncidentState {
    pub const ALL: [IncidentState; 13] = [
        IncidentState::Open,
        IncidentState::Proposed,
        IncidentState::PrOpen,
        IncidentState::Merged,
        IncidentState::Verifying,
        IncidentState::Resolved,
        IncidentState::StillFiring,
        IncidentState::Regressed,
        IncidentState::Reverting,
        IncidentState::Reverted,
        IncidentState::Escalated,
        IncidentState::Declined,
        IncidentState::Applied,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IncidentState::Open => "open",
            IncidentState::Proposed => "proposed",
            IncidentState::PrOpen => "pr_open",
            IncidentState::Merged => "merged",
            IncidentState::Verifying => "verifying",
            IncidentState::Resolved => "resolved",
            IncidentState::StillFiring => "still_firing",
            IncidentState::Regressed => "regressed",
            IncidentState::Reverting => "reverting",
            IncidentState::Reverted => "reverted",
            IncidentState::Escalated => "escalated",
            IncidentState::Declined => "declined",
            IncidentState::Applied => "applied",
        }
    }
}

impl std::fmt::Display for IncidentState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown incident state {0:?}")]
pub struct UnknownState(pub String);

impl std::str::FromStr for IncidentState {
    type Err = UnknownState;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        IncidentState::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| UnknownState(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_through_text_and_serde() {
        for state in IncidentState::ALL {
            assert_eq!(state.as_str().parse::<IncidentState>(), Ok(state));
            let json = serde_json::to_string(&state).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", state.as_str()));
        }
        assert_eq!(
            "PR_OPEN".parse::<IncidentState>(),
            Err(UnknownState("PR_OPEN".into()))
        );
    }
}
