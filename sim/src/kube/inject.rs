//! Failure injection for resilience tests: fail the next N requests under a path prefix with a
//! 5xx `Status`, add latency, and cut open watch connections.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch as notify;

use super::status::{ApiError, Reason};

#[derive(Debug)]
struct Failure {
    prefix: String,
    remaining: usize,
    reason: Reason,
}

#[derive(Debug, Default)]
struct Rules {
    failures: Vec<Failure>,
    latency: Vec<(String, Duration)>,
}

/// A handle to the server's fault rules; clones share them.
#[derive(Clone, Debug)]
pub struct Faults {
    rules: Arc<Mutex<Rules>>,
    drops: Arc<notify::Sender<u64>>,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            rules: Arc::default(),
            drops: Arc::new(notify::channel(0).0),
        }
    }
}

impl Faults {
    fn rules(&self) -> std::sync::MutexGuard<'_, Rules> {
        self.rules.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The next `n` requests whose path starts with `prefix` get 500 `InternalError`.
    pub fn fail_next(&self, prefix: &str, n: usize) {
        self.fail_next_with(prefix, n, Reason::InternalError);
    }

    /// Like `fail_next` with another reason (`ServiceUnavailable` 503, `Timeout` 504).
    pub fn fail_next_with(&self, prefix: &str, n: usize, reason: Reason) {
        self.rules().failures.push(Failure {
            prefix: prefix.to_string(),
            remaining: n,
            reason,
        });
    }

    /// Every request under `prefix` waits `delay` first (`Duration::ZERO` removes the rule;
    /// requests still waiting are released then).
    pub fn set_latency(&self, prefix: &str, delay: Duration) {
        let mut rules = self.rules();
        rules.latency.retain(|(p, _)| p != prefix);
        if !delay.is_zero() {
            rules.latency.push((prefix.to_string(), delay));
        }
    }

    /// Ends every open watch stream (clients see the connection close and re-watch).
    pub fn drop_watches(&self) {
        self.drops.send_modify(|n| *n += 1);
    }

    /// Removes all failure and latency rules.
    pub fn clear(&self) {
        let mut rules = self.rules();
        rules.failures.clear();
        rules.latency.clear();
    }

    pub(crate) fn watch_drops(&self) -> notify::Receiver<u64> {
        self.drops.subscribe()
    }

    /// The injected delay for `path`, the longest matching rule.
    pub(crate) fn latency(&self, path: &str) -> Option<Duration> {
        self.rules()
            .latency
            .iter()
            .filter(|(p, _)| path.starts_with(p.as_str()))
            .map(|(_, d)| *d)
            .max()
    }

    /// Consumes one injected failure for `path`, if any is armed.
    pub(crate) fn take_failure(&self, path: &str) -> Option<ApiError> {
        let mut rules = self.rules();
        let rule = rules
            .failures
            .iter_mut()
            .find(|f| f.remaining > 0 && path.starts_with(f.prefix.as_str()))?;
        rule.remaining -= 1;
        let reason = rule.reason;
        rules.failures.retain(|f| f.remaining > 0);
        let mut err = ApiError::internal("injected failure");
        err.reason = reason;
        err.code = reason.code();
        Some(err)
    }
}
