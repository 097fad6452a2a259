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
    /// Handle the request normally, then answer this status instead of the real response: the
    /// change took effect but the client never learns it (a gateway failing after the backend
    /// committed), so a retried create must find what the first attempt made.
    StatusAfterEffect(u16),
}

#[derive(Debug, Clone)]
struct Rule {
    fault: Fault,
    remaining: u32,
    /// Only requests with this method (`POST`, ...); any method if `None`.
    method: Option<String>,
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
        self.push(fault, times, None, path_prefix);
    }

    /// Like [`Faults::inject`], for requests with `method` only (`POST` a create while the
    /// lookups by `GET` on the same path go through).
    pub fn inject_for(&self, method: &str, fault: Fault, times: u32, path_prefix: Option<&str>) {
        self.push(fault, times, Some(method), path_prefix);
    }

    fn push(&self, fault: Fault, times: u32, method: Option<&str>, path_prefix: Option<&str>) {
        if times == 0 {
            return;
        }
        self.lock().push(Rule {
            fault,
            remaining: times,
            method: method.map(str::to_ascii_uppercase),
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

    /// The fault for a `method` request to `path`, consuming one use of the first matching rule.
    pub(crate) fn take(&self, method: &str, path: &str) -> Option<Fault> {
        let mut rules = self.lock();
        let i = rules.iter().position(|r| {
            r.path_prefix.as_deref().is_none_or(|p| path.starts_with(p))
                && r.method.as_deref().is_none_or(|m| m == method)
        })?;
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
        assert_eq!(
            f.take("GET", "/repos/a/b/pulls/1"),
            Some(Fault::Status(502))
        );
        // A path outside the prefix gets the catch-all rule.
        assert_eq!(
            f.take("GET", "/user"),
            Some(Fault::RateLimit {
                retry_after_secs: 3
            })
        );
        assert_eq!(f.take("GET", "/user"), None);
        assert_eq!(f.take("GET", "/repos/a/b/pulls"), Some(Fault::Status(502)));
        assert_eq!(f.take("GET", "/repos/a/b/pulls"), None);
        f.inject(Fault::Status(503), 0, None);
        assert_eq!(f.pending(), 0);
    }

    #[test]
    fn clear_drops_everything_pending() {
        let f = Faults::default();
        f.inject(Fault::Hang(Duration::from_secs(1)), 5, None);
        f.clear();
        assert_eq!(f.pending(), 0);
        assert_eq!(f.take("GET", "/"), None);
    }

    #[test]
    fn a_method_rule_leaves_other_methods_alone() {
        let f = Faults::default();
        f.inject_for(
            "post",
            Fault::StatusAfterEffect(502),
            1,
            Some("/repos/a/b/pulls"),
        );
        assert_eq!(f.take("GET", "/repos/a/b/pulls"), None);
        assert_eq!(
            f.take("POST", "/repos/a/b/pulls"),
            Some(Fault::StatusAfterEffect(502))
        );
        assert_eq!(f.pending(), 0);
    }
}
