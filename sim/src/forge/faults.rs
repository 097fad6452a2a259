//! Fault injection: the next N requests (optionally only under a path prefix) fail the way the
//! forge fails, so retry and back-off paths can be tested against the real clients.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// How a request fails; each forge answers it in its own words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status (e.g. 500, 502, 503) and the forge's error body.
    Status(u16),
    /// Throttled, with `Retry-After: <secs>`: GitHub's 403 "secondary rate limit", GitLab's
    /// 429 "Retry later".
    RateLimit { retry_after_secs: u64 },
    /// Sleep this long before handling the request normally (a client with a shorter timeout
    /// gives up; the request may still take effect, as on the real forges).
    Hang(Duration),
}

#[derive(Debug, Clone)]
struct Rule {
    fault: Fault,
    remaining: u32,
    path_prefix: Option<String>,
}

/// The injected faults of one simulator; cloning shares them.
#[derive(Debug, Clone, Default)]
pub struct Faults(Arc<Mutex<Vec<Rule>>>);

impl Faults {
    /// Fail the next `times` requests whose raw path starts with `path_prefix` (all if `None`),
    /// e.g. `/repos/acme/gitops/pulls` or `/api/v4/projects/acme%2Fgitops/merge_requests`.
    /// Rules are tried in the order they were injected.
    pub fn inject(&self, fault: Fault, times: u32, path_prefix: Option<&str>) {
        if times == 0 {
            return;
        }
        self.lock().push(Rule {
            fault,
            remaining: times,
            path_prefix: path_prefix.map(str::to_owned),
        });
    }

    /// Drop every pending fault.
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// How many injected failures are still to happen.
    pub fn pending(&self) -> u32 {
        self.lock().iter().map(|r| r.remaining).sum()
    }

    /// The fault for a request to `path`, consuming one use of the first matching rule.
    pub(crate) fn take(&self, path: &str) -> Option<Fault> {
        let mut rules = self.lock();
        let i = rules
            .iter()
            .position(|r| r.path_prefix.as_deref().is_none_or(|p| path.starts_with(p)))?;
        let fault = rules[i].fault.clone();
        rules[i].remaining -= 1;
        if rules[i].remaining == 0 {
            rules.remove(i);
        }
        Some(fault)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Rule>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_down_and_matches_prefixes_in_injection_order() {
        let f = Faults::default();
        f.inject(Fault::Status(502), 2, Some("/repos/a/b/pulls"));
        f.inject(
            Fault::RateLimit {
                retry_after_secs: 3,
            },
            1,
            None,
        );
        assert_eq!(f.pending(), 3);
        assert_eq!(f.take("/repos/a/b/pulls/1"), Some(Fault::Status(502)));
        // A path outside the prefix gets the catch-all rule.
        assert_eq!(
            f.take("/user"),
            Some(Fault::RateLimit {
                retry_after_secs: 3
            })
        );
        assert_eq!(f.take("/user"), None);
        assert_eq!(f.take("/repos/a/b/pulls"), Some(Fault::Status(502)));
        assert_eq!(f.take("/repos/a/b/pulls"), None);
        f.inject(Fault::Status(503), 0, None);
        assert_eq!(f.pending(), 0);
    }

    #[test]
    fn clear_drops_everything_pending() {
        let f = Faults::default();
        f.inject(Fault::Hang(Duration::from_secs(1)), 5, None);
        f.clear();
        assert_eq!(f.pending(), 0);
        assert_eq!(f.take("/"), None);
    }
}
