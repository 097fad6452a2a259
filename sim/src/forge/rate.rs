//! The request rate limit both forges count every authenticated request against: a fixed
//! window (GitHub's primary limit is per hour, GitLab's authenticated API throttle per minute).

use std::sync::{Mutex, PoisonError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub limit: u64,
    pub used: u64,
    /// Unix second the window resets at.
    pub reset: i64,
}

impl Window {
    pub fn remaining(&self) -> u64 {
        self.limit.saturating_sub(self.used)
    }
}

/// A shared counter; the forge renders its headers and its refusal.
#[derive(Debug)]
pub struct RateLimit {
    window_secs: i64,
    state: Mutex<Window>,
}

impl RateLimit {
    pub fn new(limit: u64, window_secs: i64) -> Self {
        RateLimit {
            window_secs,
            state: Mutex::new(Window {
                limit,
                used: 0,
                reset: now() + window_secs,
            }),
        }
    }

    /// A new limit, starting a fresh window.
    pub fn reset(&self, limit: u64) {
        *self.lock() = Window {
            limit,
            used: 0,
            reset: now() + self.window_secs,
        };
    }

    /// Count one request. `Err` with the window as it is when the limit is used up.
    pub fn take(&self) -> Result<(), Window> {
        let mut w = self.lock();
        let t = now();
        if t >= w.reset {
            w.used = 0;
            w.reset = t + self.window_secs;
        }
        if w.used >= w.limit {
            return Err(*w);
        }
        w.used += 1;
        Ok(())
    }

    pub fn window(&self) -> Window {
        *self.lock()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Window> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_past_the_limit_until_reset() {
        let r = RateLimit::new(2, 3600);
        assert!(r.take().is_ok());
        assert!(r.take().is_ok());
        let w = r.take().unwrap_err();
        assert_eq!((w.limit, w.used, w.remaining()), (2, 2, 0));
        assert!(w.reset > now());
        r.reset(5);
        assert_eq!(r.window().remaining(), 5);
        assert!(r.take().is_ok());
        assert_eq!(r.window().used, 1);
    }

    #[test]
    fn an_elapsed_window_starts_over() {
        let r = RateLimit::new(1, 0);
        // A zero-length window has always elapsed: every request is the first of its window.
        assert!(r.take().is_ok());
        assert!(r.take().is_ok());
    }
}
