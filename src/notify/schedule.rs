//! When the next attempt happens (pure): the back-off after a failure, and the repeat interval
//! of an unacknowledged escalation by namespace.

use std::time::Duration;

use jiff::SignedDuration;

/// The first retry waits about this long; each failure doubles it, up to [`CAP`].
const BASE: Duration = Duration::from_secs(5);
/// A receiver down for an hour is tried every few minutes, not once an hour.
pub const CAP: Duration = Duration::from_secs(300);

/// The wait after the `failures`-th consecutive failure (1-based), with equal jitter (half
/// fixed, half drawn from `draw` in [0, 1)) so many rows do not retry in lock-step. A
/// receiver's `Retry-After` is honoured when longer, within the cap.
pub fn backoff(failures: u32, draw: f64, retry_after: Option<Duration>) -> Duration {
    let exp = failures.saturating_sub(1).min(16);
    let full = BASE.saturating_mul(1 << exp).min(CAP);
    let half = full / 2;
    let jittered = half + half.mul_f64(draw.clamp(0.0, 1.0));
    match retry_after {
        Some(asked) => jittered.max(asked.min(CAP)),
        None => jittered,
    }
}

/// The repeat interval: the first override whose namespace globs match, else the default.
#[derive(Clone, Debug)]
pub struct Repeats {
    default: SignedDuration,
    overrides: Vec<(globset::GlobSet, SignedDuration)>,
}

impl Repeats {
    /// Invalid globs never get here (the configuration refuses them); one that did matches
    /// nothing.
    pub fn new(default: SignedDuration, overrides: &[(Vec<String>, SignedDuration)]) -> Repeats {
        let overrides = overrides
            .iter()
            .map(|(patterns, every)| {
                let mut set = globset::GlobSetBuilder::new();
                for p in patterns {
                    if let Ok(glob) = globset::Glob::new(p) {
                        set.add(glob);
                    }
                }
                (
                    set.build().unwrap_or_else(|_| globset::GlobSet::empty()),
                    *every,
                )
            })
            .collect();
        Repeats { default, overrides }
    }

    pub fn every(&self, namespace: &str) -> SignedDuration {
        self.overrides
            .iter()
            .find(|(set, _)| set.is_match(namespace))
            .map_or(self.default, |(_, every)| *every)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_up_to_the_cap() {
        assert_eq!(backoff(1, 0.0, None), Duration::from_millis(2500));
        assert_eq!(backoff(1, 1.0, None), Duration::from_secs(5));
        assert_eq!(backoff(2, 0.0, None), Duration::from_secs(5));
        assert_eq!(backoff(3, 0.5, None), Duration::from_secs(15));
        for n in [7, 10, 40, u32::MAX] {
            let d = backoff(n, 0.999, None);
            assert!(d <= CAP && d >= CAP / 2, "{n}: {d:?}");
        }
        // Never zero, so a failing receiver is not hammered.
        assert!(backoff(0, 0.0, None) > Duration::ZERO);
    }

    #[test]
    fn retry_after_is_honoured_within_the_cap() {
        let asked = Some(Duration::from_secs(60));
        assert_eq!(backoff(1, 0.0, asked), Duration::from_secs(60));
        let huge = Some(Duration::from_secs(86_400));
        assert_eq!(backoff(1, 0.0, huge), CAP);
    }

    #[test]
    fn the_first_matching_namespace_override_wins() {
        let r = Repeats::new(
            SignedDuration::from_mins(10),
            &[
                (
                    vec!["prod-*".into(), "payments".into()],
                    SignedDuration::from_mins(5),
                ),
                (vec!["*".into()], SignedDuration::from_mins(30)),
            ],
        );
        assert_eq!(r.every("prod-eu"), SignedDuration::from_mins(5));
        assert_eq!(r.every("payments"), SignedDuration::from_mins(5));
        assert_eq!(r.every("dev"), SignedDuration::from_mins(30));
        let plain = Repeats::new(SignedDuration::from_mins(10), &[]);
        assert_eq!(plain.every("dev"), SignedDuration::from_mins(10));
    }
}
