use super::*;
use IncidentState as S;

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn ctx(state: IncidentState) -> Context {
    Context {
        state: Some(state),
        ..Context::default()
    }
}

const NOW: &str = "2026-11-30T12:00:00Z";

fn run(ctx: &Context, event: Event) -> Step {
    step(ctx, &event, &Policy::default(), Budget::default(), at(NOW))
}

#[test]
fn a_new_fix_is_proposed_and_opens_a_change() {
    let s = run(&ctx(S::Open), Event::Observed(Observation::Fix));
    assert_eq!(s.next, Some(S::Proposed));
    assert_eq!(s.actions, vec![Action::OpenChange]);
    let s = run(&ctx(S::Proposed), Event::ChangeOpened);
    assert_eq!((s.next, s.hop), (Some(S::PrOpen), "pr_opened"));
}

#[test]
fn a_recurrence_comments_at_most_once_per_interval_and_never_opens_another() {
    let mut c = ctx(S::PrOpen);
    let s = run(&c, Event::Observed(Observation::Fix));
    assert_eq!(s.actions, vec![Action::Comment(CommentKind::Recurrence)]);
    assert_eq!(s.next, Some(S::PrOpen));

    c.last_comment_at = Some(at("2026-11-30T11:30:00Z"));
    let s = run(&c, Event::Observed(Observation::Fix));
    assert!(s.actions.is_empty(), "{:?}", s.actions);
    assert_eq!(s.hop, "recurred");

    c.last_comment_at = Some(at("2026-11-30T11:00:00Z"));
    let s = run(&c, Event::Observed(Observation::Fix));
    assert_eq!(s.actions, vec![Action::Comment(CommentKind::Recurrence)]);
}

#[test]
fn a_crash_between_effects_is_finished_on_the_next_sighting() {
    let s = run(&ctx(S::Proposed), Event::Observed(Observation::Fix));
    assert_eq!(s.next, Some(S::Proposed));
    assert_eq!(s.actions, vec![Action::OpenChange]);
}

#[test]
fn merge_resumes_sync_and_close_without_merge_declines() {
    let s = run(&ctx(S::PrOpen), Event::Merged { sha: "abc".into() });
    assert_eq!(s.next, Some(S::Merged));
    // The baseline is captured before the resume lets Argo CD deploy the merge.
    assert_eq!(
        s.actions,
        vec![
            Action::StartVerification {
                sha: "abc".into(),
                revert: false
            },
            Action::ResumeSync { reason: "merged" }
        ]
    );
    let s = run(&ctx(S::PrOpen), Event::ClosedUnmerged);
    assert_eq!(s.next, Some(S::Declined));
    assert_eq!(s.actions, vec![Action::ResumeSync { reason: "declined" }]);
    // A redelivered merge changes nothing.
    let s = run(&ctx(S::Merged), Event::Merged { sha: "abc".into() });
    assert_eq!((s.next, s.actions.len()), (Some(S::Merged), 0));
}

#[test]
fn a_declined_fix_is_not_proposed_again_during_the_cooldown() {
    let mut c = ctx(S::Declined);
    c.declined_at = Some(at("2026-11-28T12:00:00Z"));
    let s = run(&c, Event::Observed(Observation::Fix));
    assert_eq!(s.next, Some(S::Escalated));
    let [Action::Escalate(reason)] = s.actions.as_slice() else {
        panic!("{:?}", s.actions)
    };
    assert!(reason.contains("closed without merge"), "{reason}");
    assert!(reason.contains("2026-12-05T12:00:00Z"), "{reason}");
    // Still escalated on the next sighting, without a second escalation.
    c.state = Some(S::Escalated);
    let s = run(&c, Event::Observed(Observation::Fix));
    assert_eq!((s.next, s.actions.len()), (Some(S::Escalated), 0));
    // After the cooldown the fix may go out again.
    c.declined_at = Some(at("2026-11-20T12:00:00Z"));
    let s = run(&c, Event::Observed(Observation::Fix));
    assert_eq!(s.next, Some(S::Proposed));
}

#[test]
fn pull_request_limits_defer_the_fix_without_losing_the_incident() {
    let policy = Policy::default();
    let full = Budget {
        open: 10,
        opened_last_hour: 0,
    };
    let s = step(
        &ctx(S::Open),
        &Event::Observed(Observation::Fix),
        &policy,
        full,
        at(NOW),
    );
    assert_eq!((s.next, s.hop), (Some(S::Open), "deferred"));
    assert!(s.actions.is_empty());
    assert!(
        s.note
            .unwrap()
            .contains("10 pull requests open (at most 10)")
    );
    let hourly = Budget {
        open: 3,
        opened_last_hour: 2,
    };
    let s = step(
        &ctx(S::Open),
        &Event::Observed(Observation::Fix),
        &policy,
        hourly,
        at(NOW),
    );
    assert!(
        s.note
            .unwrap()
            .contains("2 pull requests opened in the last hour")
    );
}

#[test]
fn an_unfixable_fault_escalates_once() {
    let why = Observation::Escalate("no memory limit set".into());
    let s = run(&ctx(S::Open), Event::Observed(why.clone()));
    assert_eq!(s.next, Some(S::Escalated));
    assert_eq!(
        s.actions,
        vec![Action::Escalate("no memory limit set".into())]
    );
    let s = run(&ctx(S::Escalated), Event::Observed(why));
    assert!(s.actions.is_empty());
}

#[test]
fn a_human_push_gets_one_comment_and_silences_recurrence_comments() {
    let s = run(&ctx(S::PrOpen), Event::HumanPushed);
    assert_eq!(s.actions, vec![Action::Comment(CommentKind::HumanPushed)]);
    let mut c = ctx(S::PrOpen);
    c.human_pushed = true;
    assert!(run(&c, Event::HumanPushed).actions.is_empty());
    assert!(
        run(&c, Event::Observed(Observation::Fix))
            .actions
            .is_empty()
    );
}

#[test]
fn an_expired_pause_is_resumed_whatever_the_state() {
    for state in [S::PrOpen, S::Proposed, S::Escalated] {
        let s = run(&ctx(state), Event::PauseExpired);
        assert_eq!(s.next, Some(state));
        assert_eq!(s.actions, vec![Action::ResumeSync { reason: "expired" }]);
    }
}

#[test]
fn reopening_a_declined_change_tracks_it_again() {
    let s = run(&ctx(S::Declined), Event::Reopened);
    assert_eq!(s.next, Some(S::PrOpen));
    assert!(s.actions.is_empty());
}

#[test]
fn a_healthy_verdict_resolves_and_every_other_verdict_escalates() {
    let s = run(&ctx(S::Verifying), Event::Verified(Outcome::Healthy));
    assert_eq!((s.next, s.hop), (Some(S::Resolved), "verified"));
    assert_eq!(s.actions, vec![Action::ReportVerdict]);
    for (outcome, state, hop) in [
        (Outcome::StillFiring, S::StillFiring, "still_firing"),
        (Outcome::Regressed, S::Regressed, "regressed"),
        (
            Outcome::Inconclusive,
            S::Escalated,
            "verification_inconclusive",
        ),
        (Outcome::NotDeployed, S::Escalated, "not_deployed"),
    ] {
        let s = run(&ctx(S::Verifying), Event::Verified(outcome));
        assert_eq!((s.next, s.hop), (Some(state), hop), "{outcome:?}");
        assert_eq!(
            s.actions.first(),
            Some(&Action::ReportVerdict),
            "{outcome:?}"
        );
        assert!(
            matches!(s.actions.get(1), Some(Action::Escalate(why)) if !why.is_empty()),
            "{outcome:?}: {:?}",
            s.actions
        );
    }
}

#[test]
fn a_verdict_outside_a_verification_changes_nothing() {
    for state in [S::Merged, S::Resolved, S::PrOpen] {
        let s = run(&ctx(state), Event::Verified(Outcome::Regressed));
        assert_eq!(s.next, Some(state));
        assert!(s.actions.is_empty(), "{state:?}: {:?}", s.actions);
    }
}

#[test]
fn after_a_regression_no_new_fix_is_proposed_until_a_human_acts() {
    for state in [S::Regressed, S::Reverted] {
        let s = run(&ctx(state), Event::Observed(Observation::Fix));
        assert_eq!(s.next, Some(state));
        assert!(s.actions.is_empty(), "{state:?}: {:?}", s.actions);
    }
    // A fix that did not hold is followed by the next bounded step.
    let s = run(&ctx(S::StillFiring), Event::Observed(Observation::Fix));
    assert_eq!(s.next, Some(S::Proposed));
    assert_eq!(s.actions, vec![Action::OpenChange]);
}

#[test]
fn a_regression_asks_for_the_revert_and_only_a_regression_does() {
    let s = run(&ctx(S::Verifying), Event::Verified(Outcome::Regressed));
    assert_eq!(s.actions.last(), Some(&Action::Revert));
    for outcome in [
        Outcome::Healthy,
        Outcome::StillFiring,
        Outcome::Inconclusive,
        Outcome::NotDeployed,
    ] {
        let s = run(&ctx(S::Verifying), Event::Verified(outcome));
        assert!(!s.actions.contains(&Action::Revert), "{outcome:?}");
    }
}

#[test]
fn the_revert_goes_out_merges_and_is_verified_before_the_incident_ends_reverted() {
    let s = run(&ctx(S::Regressed), Event::RevertOpened);
    assert_eq!((s.next, s.hop), (Some(S::Reverting), "revert_opened"));
    // Adopted again after a crash: nothing moves.
    let s = run(&ctx(S::Reverting), Event::RevertOpened);
    assert_eq!(s.next, Some(S::Reverting));

    let s = run(&ctx(S::Reverting), Event::Merged { sha: "r3v".into() });
    assert_eq!((s.next, s.hop), (Some(S::Merged), "revert_merged"));
    assert_eq!(
        s.actions,
        vec![Action::StartVerification {
            sha: "r3v".into(),
            revert: true
        }]
    );

    let reverting = Context {
        reverting: true,
        ..ctx(S::Verifying)
    };
    let s = run(&reverting, Event::Verified(Outcome::Healthy));
    assert_eq!((s.next, s.hop), (Some(S::Reverted), "reverted"));
    assert_eq!(s.actions, vec![Action::ReportVerdict]);
}

#[test]
fn a_revert_is_never_reverted() {
    let reverting = Context {
        reverting: true,
        ..ctx(S::Verifying)
    };
    for outcome in [
        Outcome::Regressed,
        Outcome::StillFiring,
        Outcome::Inconclusive,
        Outcome::NotDeployed,
    ] {
        let s = run(&reverting, Event::Verified(outcome));
        assert_eq!((s.next, s.hop), (Some(S::Escalated), "revert_unverified"));
        assert!(!s.actions.contains(&Action::Revert), "{outcome:?}");
        assert!(
            matches!(s.actions.get(1), Some(Action::Escalate(why)) if why.contains("does not revert a revert")),
            "{:?}",
            s.actions
        );
    }
}

#[test]
fn a_declined_revert_leaves_the_regression_held() {
    let s = run(&ctx(S::Reverting), Event::ClosedUnmerged);
    assert_eq!((s.next, s.hop), (Some(S::Regressed), "revert_declined"));
    assert!(s.actions.is_empty());
    let s = run(&ctx(S::Regressed), Event::Observed(Observation::Fix));
    assert_eq!((s.next, s.hop), (Some(S::Regressed), "recurred_held"));
}

#[test]
fn an_acknowledgement_lifts_the_hold_but_not_while_a_revert_is_out() {
    for state in [S::Regressed, S::Reverted] {
        let acked = Context {
            acknowledged: true,
            ..ctx(state)
        };
        let s = run(&acked, Event::Observed(Observation::Fix));
        assert_eq!(s.next, Some(S::Proposed), "{state:?}");
        assert_eq!(s.actions, vec![Action::OpenChange]);
    }
    let acked = Context {
        acknowledged: true,
        ..ctx(S::Reverting)
    };
    let s = run(&acked, Event::Observed(Observation::Fix));
    assert_eq!((s.next, s.hop), (Some(S::Reverting), "recurred_held"));
}
