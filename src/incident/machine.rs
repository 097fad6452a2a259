//! The incident state machine (pure): (where the incident stands, what happened, now) -> the
//! next state and the actions to take. The runner performs the actions and records the hop in
//! the same transaction as the state change; nothing here reads a clock or talks to anything.

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use super::IncidentState;

/// What the runner knows about an incident when an event arrives.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Context {
    pub state: Option<IncidentState>,
    /// When suture last commented on the open pull request.
    pub last_comment_at: Option<Timestamp>,
    /// When a pull request for this incident was last closed without merge.
    pub declined_at: Option<Timestamp>,
    /// Someone other than suture pushed to the incident's branch.
    pub human_pushed: bool,
    /// The verification under way is of suture's revert, not of its fix.
    pub reverting: bool,
    /// A human acknowledged the incident since automation was held for it (after a
    /// regression): a new sighting may be proposed again.
    pub acknowledged: bool,
}

/// The policy the machine applies (config `policy:`).
#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    pub max_open_prs: u32,
    pub max_new_prs_per_hour: u32,
    pub comment_interval: SignedDuration,
    pub declined_cooldown: SignedDuration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            max_open_prs: 10,
            max_new_prs_per_hour: 2,
            comment_interval: SignedDuration::from_hours(1),
            declined_cooldown: SignedDuration::from_hours(7 * 24),
        }
    }
}

/// How many pull requests suture has open, and opened in the last hour (Renovate's limits).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Budget {
    pub open: u32,
    pub opened_last_hour: u32,
}

/// What the runner found when it looked at the fault.
#[derive(Clone, Debug, PartialEq)]
pub enum Observation {
    /// A fix placed in Git, ready to go out as a pull request.
    Fix,
    /// No safe fix: the reason, in words a person can act on.
    Escalate(String),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// The fault was seen (first time or again).
    Observed(Observation),
    /// The pull request exists (opened now or adopted after a crash).
    ChangeOpened,
    Merged {
        sha: String,
    },
    ClosedUnmerged,
    Reopened,
    /// Commits on suture's branch that suture did not make.
    HumanPushed,
    /// The sync pause reached its expiry.
    PauseExpired,
    /// The verification sweep reached a final verdict.
    Verified(Outcome),
    /// The revert pull request exists (opened now or adopted after a crash).
    RevertOpened,
}

/// A final verification verdict, as the machine sees it (the evidence stays with the runner).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Healthy,
    StillFiring,
    Regressed,
    Inconclusive,
    NotDeployed,
}

/// What the recurrence comment says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CommentKind {
    Recurrence,
    HumanPushed,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Push the branch, pause the Application's auto-sync, open (or adopt) the pull request.
    /// Each of the three is its own idempotent effect.
    OpenChange,
    Comment(CommentKind),
    ResumeSync {
        reason: &'static str,
    },
    /// Capture the baseline for verifying the merge, before sync resumes and deploys it.
    StartVerification {
        sha: String,
        /// The merge is suture's revert (verified for the regression it undoes).
        revert: bool,
    },
    /// Open the revert of the merged fix (from its rollback spec), when the rules allow.
    Revert,
    /// Post the verdict where reviewers look (commit status, comment on the pull request).
    ReportVerdict,
    Escalate(String),
}

/// The outcome of one event.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// `None`: the incident does not exist and the event does not create it.
    pub next: Option<IncidentState>,
    pub actions: Vec<Action>,
    /// The hop's kind, as the ledger records it.
    pub hop: &'static str,
    /// Why, when the step is not the obvious one (a deferral, a cooldown).
    pub note: Option<String>,
}

impl Step {
    fn stay(ctx: &Context, hop: &'static str) -> Step {
        Step {
            next: ctx.state,
            actions: Vec::new(),
            hop,
            note: None,
        }
    }

    fn to(next: IncidentState, hop: &'static str, actions: Vec<Action>) -> Step {
        Step {
            next: Some(next),
            actions,
            hop,
            note: None,
        }
    }

    fn noted(mut self, note: String) -> Step {
        self.note = Some(note);
        self
    }

    /// Whether the incident's state changes.
    pub fn moves(&self, ctx: &Context) -> bool {
        self.next != ctx.state
    }
}

/// The next state and actions for `event`.
pub fn step(ctx: &Context, event: &Event, policy: &Policy, budget: Budget, now: Timestamp) -> Step {
    use IncidentState as S;
    match event {
        Event::Observed(observation) => observed(ctx, observation, policy, budget, now),
        Event::ChangeOpened => match ctx.state {
            Some(S::Open | S::Proposed | S::Declined) => Step::to(S::PrOpen, "pr_opened", vec![]),
            _ => Step::stay(ctx, "pr_seen"),
        },
        Event::Merged { sha } => match ctx.state {
            // The baseline first: once sync resumes, Argo CD may deploy the merge at once.
            Some(S::Proposed | S::PrOpen | S::Declined) => Step::to(
                S::Merged,
                "merged",
                vec![
                    Action::StartVerification {
                        sha: sha.clone(),
                        revert: false,
                    },
                    Action::ResumeSync { reason: "merged" },
                ],
            ),
            // The revert merged: verified the same way before the incident ends `reverted`.
            Some(S::Reverting) => Step::to(
                S::Merged,
                "revert_merged",
                vec![Action::StartVerification {
                    sha: sha.clone(),
                    revert: true,
                }],
            ),
            _ => Step::stay(ctx, "merged_again"),
        },
        Event::RevertOpened => match ctx.state {
            Some(S::Regressed) => Step::to(S::Reverting, "revert_opened", vec![]),
            _ => Step::stay(ctx, "revert_seen"),
        },
        Event::Verified(outcome) => verified(ctx, *outcome),
        Event::ClosedUnmerged => match ctx.state {
            // A reviewer declined the revert: the regression stands, held for a human.
            Some(S::Reverting) => Step::to(S::Regressed, "revert_declined", vec![]),
            Some(S::Proposed | S::PrOpen) => Step::to(
                S::Declined,
                "declined",
                vec![Action::ResumeSync { reason: "declined" }],
            ),
            _ => Step::stay(ctx, "closed"),
        },
        Event::Reopened => match ctx.state {
            // Reopened by a reviewer: the pull request is live again. Sync was resumed at the
            // close and stays so (the body says how it stood when opened).
            Some(S::Declined) => Step::to(S::PrOpen, "reopened", vec![]),
            _ => Step::stay(ctx, "reopened"),
        },
        Event::HumanPushed => match ctx.state {
            Some(S::PrOpen) if !ctx.human_pushed => Step {
                actions: vec![Action::Comment(CommentKind::HumanPushed)],
                ..Step::stay(ctx, "human_pushed")
            },
            _ => Step::stay(ctx, "human_pushed"),
        },
        Event::PauseExpired => Step {
            actions: vec![Action::ResumeSync { reason: "expired" }],
            ..Step::stay(ctx, "pause_expired")
        },
    }
}

fn observed(
    ctx: &Context,
    observation: &Observation,
    policy: &Policy,
    budget: Budget,
    now: Timestamp,
) -> Step {
    use IncidentState as S;
    match (ctx.state, observation) {
        // A change is out or merged: the open pull request hears of it, at most once per
        // interval; what a merged fix does is the verification's question.
        (Some(S::PrOpen), _) => {
            let due = ctx
                .last_comment_at
                .is_none_or(|at| now.duration_since(at) >= policy.comment_interval);
            if due && !ctx.human_pushed {
                Step {
                    actions: vec![Action::Comment(CommentKind::Recurrence)],
                    ..Step::stay(ctx, "recurred")
                }
            } else {
                Step::stay(ctx, "recurred")
            }
        }
        (Some(S::Merged | S::Verifying | S::Applied), _) => Step::stay(ctx, "recurred_after_merge"),
        // After a regression suture holds automation for the workload until a human acks.
        (Some(S::Regressed | S::Reverting | S::Reverted), _) if !ctx.acknowledged => {
            Step::stay(ctx, "recurred_held")
        }
        (Some(S::Reverting), _) => Step::stay(ctx, "recurred_held"),
        // Half done (a crash between the effects): do the rest; each effect is idempotent.
        (Some(S::Proposed), Observation::Fix) => Step {
            actions: vec![Action::OpenChange],
            ..Step::stay(ctx, "recurred")
        },
        (_, Observation::Escalate(reason)) => {
            if ctx.state == Some(S::Escalated) {
                Step::stay(ctx, "recurred")
            } else {
                Step::to(
                    S::Escalated,
                    "escalated",
                    vec![Action::Escalate(reason.clone())],
                )
                .noted(reason.clone())
            }
        }
        (state, Observation::Fix) => {
            if let Some(at) = ctx.declined_at {
                let until = at.saturating_add(policy.declined_cooldown).unwrap_or(at);
                if now < until {
                    let reason = format!(
                        "a pull request with this fix was closed without merge at {at}; \
                         suture does not propose it again before {until}"
                    );
                    return if state == Some(S::Escalated) {
                        Step::stay(ctx, "recurred")
                    } else {
                        Step::to(
                            S::Escalated,
                            "escalated",
                            vec![Action::Escalate(reason.clone())],
                        )
                        .noted(reason)
                    };
                }
            }
            if budget.open >= policy.max_open_prs {
                let note = format!(
                    "{} pull requests open (at most {}): the fix waits",
                    budget.open, policy.max_open_prs
                );
                return deferred(ctx, note);
            }
            if budget.opened_last_hour >= policy.max_new_prs_per_hour {
                let note = format!(
                    "{} pull requests opened in the last hour (at most {}): the fix waits",
                    budget.opened_last_hour, policy.max_new_prs_per_hour
                );
                return deferred(ctx, note);
            }
            Step::to(S::Proposed, "proposed", vec![Action::OpenChange])
        }
    }
}

/// A final verdict ends the window: `healthy` resolves; anything else escalates, with its
/// state saying which (design.md §7).
fn verified(ctx: &Context, outcome: Outcome) -> Step {
    use IncidentState as S;
    if ctx.state != Some(S::Verifying) {
        return Step::stay(ctx, "verified_again");
    }
    // Never revert a revert: a revert that did not clear the regression goes to a person.
    if ctx.reverting {
        return match outcome {
            Outcome::Healthy => Step::to(S::Reverted, "reverted", vec![Action::ReportVerdict]),
            _ => Step::to(
                S::Escalated,
                "revert_unverified",
                vec![
                    Action::ReportVerdict,
                    Action::Escalate(
                        "the revert did not prove the workload healthy again; suture does not \
                         revert a revert"
                            .into(),
                    ),
                ],
            ),
        };
    }
    let (next, hop, why) = match outcome {
        Outcome::Healthy => return Step::to(S::Resolved, "verified", vec![Action::ReportVerdict]),
        Outcome::StillFiring => (
            S::StillFiring,
            "still_firing",
            "the fault recurred on the pods of the merged change",
        ),
        Outcome::Regressed => (
            S::Regressed,
            "regressed",
            "a different fault appeared on the pods of the merged change",
        ),
        Outcome::Inconclusive => (
            S::Escalated,
            "verification_inconclusive",
            "the verification window ended without proof either way",
        ),
        Outcome::NotDeployed => (
            S::Escalated,
            "not_deployed",
            "Argo CD did not deploy the merge commit in time",
        ),
    };
    let mut actions = vec![Action::ReportVerdict, Action::Escalate(why.to_string())];
    if outcome == Outcome::Regressed {
        actions.push(Action::Revert);
    }
    Step::to(next, hop, actions)
}

/// Over a limit: the incident is kept (open) and the fix tried again on the next sighting.
fn deferred(ctx: &Context, note: String) -> Step {
    Step {
        next: Some(ctx.state.unwrap_or(IncidentState::Open)),
        ..Step::stay(ctx, "deferred")
    }
    .noted(note)
}

#[cfg(test)]
mod tests;
