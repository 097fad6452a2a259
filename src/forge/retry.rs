//! When to retry a forge API call, and after how long. Pure: the response's status and headers,
//! the attempt number, `now` and a jitter draw in, a decision out.
//!
//! - 5xx, timeouts and refused connections: exponential back-off with full jitter.
//! - Primary rate limit (GitHub 403/429 with `x-ratelimit-remaining: 0`): wait for
//!   `x-ratelimit-reset`.
//! - Secondary rate limit (GitHub 403/429 otherwise, GitLab 429): `retry-after` when given, else
//!   at least a minute, doubling (GitHub's guidance for secondary limits).
//! - Any other 4xx: the request is wrong; retrying will not help.
//!
//! Retries are safe only because every create suture makes is looked up first (by head branch,
//! by the comment's marker), so a request that succeeded but whose answer was lost is found
//! rather than repeated.

use std::time::Duration;

/// What came back, reduced to what the decision needs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Response {
    /// `None`: no response (timeout, connection refused or reset).
    pub status: Option<u16>,
    pub retry_after: Option<String>,
    /// GitHub `x-ratelimit-remaining` / GitLab `RateLimit-Remaining`.
    pub ratelimit_remaining: Option<u64>,
    /// GitHub `x-ratelimit-reset` / GitLab `RateLimit-Reset`: Unix seconds.
    pub ratelimit_reset: Option<i64>,
    /// The body says so: GitHub answers a secondary limit with a 403 whose message reads "You
    /// have exceeded a secondary rate limit", sometimes with no header to tell.
    pub rate_limit_message: bool,
}

impl Response {
    /// Read the headers that matter (names compared case-insensitively).
    pub fn from_parts<'a>(
        status: Option<u16>,
        headers: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Response {
        let mut r = Response {
            status,
            ..Response::default()
        };
        for (name, value) in headers {
            let value = value.trim();
            match name.to_ascii_lowercase().as_str() {
                "retry-after" => r.retry_after = Some(value.to_string()),
                "x-ratelimit-remaining" | "ratelimit-remaining" => {
                    r.ratelimit_remaining = value.parse().ok()
                }
                "x-ratelimit-reset" | "ratelimit-reset" => r.ratelimit_reset = value.parse().ok(),
                _ => {}
            }
        }
        r
    }
}

/// Why a call is given up on.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GiveUp {
    /// The forge refused the request itself (400, 401, 404, 422, ...): report, do not retry.
    #[error("the forge refused the request (HTTP {0})")]
    Rejected(u16),
    #[error("still failing after {attempts} attempts")]
    Exhausted { attempts: u32 },
    /// The wait the forge asks for is longer than suture waits inside one action; the action is
    /// left for the next reconcile pass.
    #[error("rate limited until {until}")]
    RateLimitedUntil { until: jiff::Timestamp },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    Done,
    RetryAfter(Duration),
    GiveUp(GiveUp),
}

/// Back-off settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
    pub max_attempts: u32,
    /// Secondary rate limits wait at least this long (GitHub: one minute).
    pub secondary_min: Duration,
    /// Longer waits are not slept through: the call is given up until the next reconcile.
    pub max_wait: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_millis(500),
            max: Duration::from_secs(30),
            max_attempts: 6,
            secondary_min: Duration::from_secs(60),
            max_wait: Duration::from_secs(15 * 60),
        }
    }
}

impl Backoff {
    /// `attempt` counts from 1 (the call that just returned `r`); `jitter` is a uniform draw in
    /// [0, 1).
    pub fn decide(
        &self,
        r: &Response,
        attempt: u32,
        now: jiff::Timestamp,
        jitter: f64,
    ) -> Decision {
        let status = r.status;
        // A 403 with quota left, no retry-after and no rate-limit message is a missing
        // permission, not a limit.
        let rate_limited = status == Some(429)
            || (status == Some(403)
                && (r.ratelimit_remaining == Some(0)
                    || r.retry_after.is_some()
                    || r.rate_limit_message));
        let wait = match status {
            Some(s) if (200..400).contains(&s) => return Decision::Done,
            _ if rate_limited => self.rate_limit_wait(r, attempt, now),
            None | Some(500..=599) => self.exponential(attempt, jitter),
            Some(s) => return Decision::GiveUp(GiveUp::Rejected(s)),
        };
        if attempt >= self.max_attempts {
            return Decision::GiveUp(GiveUp::Exhausted { attempts: attempt });
        }
        if wait > self.max_wait {
            let until = now
                .checked_add(
                    jiff::SignedDuration::try_from(wait).unwrap_or(jiff::SignedDuration::MAX),
                )
                .unwrap_or(jiff::Timestamp::MAX);
            return Decision::GiveUp(GiveUp::RateLimitedUntil { until });
        }
        Decision::RetryAfter(wait)
    }

    /// Full jitter (AWS architecture blog): a uniform wait in [0, min(max, base * 2^(n-1))].
    fn exponential(&self, attempt: u32, jitter: f64) -> Duration {
        let cap = self
            .base
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20))
            .min(self.max);
        cap.mul_f64(jitter.clamp(0.0, 1.0))
    }

    fn rate_limit_wait(&self, r: &Response, attempt: u32, now: jiff::Timestamp) -> Duration {
        if let Some(after) = r.retry_after.as_deref().and_then(|v| retry_after(v, now)) {
            return after;
        }
        if r.ratelimit_remaining == Some(0)
            && let Some(reset) = r.ratelimit_reset
        {
            // One second past the reset: GitHub's clock and ours differ a little.
            let secs = (reset - now.as_second()).max(0) as u64 + 1;
            return Duration::from_secs(secs);
        }
        self.secondary_min
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(6))
    }
}

/// `Retry-After`: delta seconds, or an HTTP date.
fn retry_after(value: &str, now: jiff::Timestamp) -> Option<Duration> {
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = jiff::fmt::rfc2822::parse(value).ok()?.timestamp();
    let secs = (at.as_second() - now.as_second()).max(0) as u64;
    Some(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> jiff::Timestamp {
        jiff::Timestamp::from_second(1_764_000_000).unwrap_or_default()
    }

    fn decide(r: Response, attempt: u32) -> Decision {
        Backoff::default().decide(&r, attempt, now(), 0.5)
    }

    fn status(s: u16) -> Response {
        Response::from_parts(Some(s), [])
    }

    #[test]
    fn success_and_rejections_are_final() {
        assert_eq!(decide(status(201), 1), Decision::Done);
        for s in [400, 401, 404, 409, 422] {
            assert_eq!(decide(status(s), 1), Decision::GiveUp(GiveUp::Rejected(s)));
        }
        // A 403 with quota left and no retry-after: missing permission, not a limit.
        let r = Response::from_parts(Some(403), [("X-RateLimit-Remaining", "4999")]);
        assert_eq!(decide(r, 1), Decision::GiveUp(GiveUp::Rejected(403)));
    }

    #[test]
    fn server_errors_back_off_exponentially_with_jitter() {
        let b = Backoff::default();
        let wait = |attempt, jitter| match b.decide(&status(502), attempt, now(), jitter) {
            Decision::RetryAfter(d) => d,
            other => panic!("expected a retry, got {other:?}"),
        };
        assert_eq!(wait(1, 1.0), Duration::from_millis(500));
        assert_eq!(wait(2, 1.0), Duration::from_secs(1));
        assert_eq!(wait(3, 0.5), Duration::from_secs(1));
        assert_eq!(wait(5, 1.0), Duration::from_secs(8));
        assert_eq!(wait(1, 0.0), Duration::ZERO);
        // Timeouts (no response) are treated like 5xx.
        assert!(matches!(
            b.decide(&Response::from_parts(None, []), 1, now(), 0.3),
            Decision::RetryAfter(_)
        ));
        assert_eq!(
            b.decide(&status(500), 6, now(), 0.3),
            Decision::GiveUp(GiveUp::Exhausted { attempts: 6 })
        );
        let capped = Backoff {
            max_attempts: 50,
            ..Backoff::default()
        };
        assert_eq!(
            capped.decide(&status(503), 40, now(), 1.0),
            Decision::RetryAfter(Duration::from_secs(30))
        );
    }

    #[test]
    fn primary_rate_limit_waits_for_the_reset() {
        let reset = (now().as_second() + 120).to_string();
        let r = Response::from_parts(
            Some(403),
            [
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", &reset),
            ],
        );
        assert_eq!(decide(r, 1), Decision::RetryAfter(Duration::from_secs(121)));
        // GitLab spells them RateLimit-*.
        let r = Response::from_parts(
            Some(429),
            [("RateLimit-Remaining", "0"), ("RateLimit-Reset", &reset)],
        );
        assert_eq!(decide(r, 1), Decision::RetryAfter(Duration::from_secs(121)));
        // An hour away is longer than suture waits inside one action.
        let far = (now().as_second() + 3600).to_string();
        let r = Response::from_parts(
            Some(403),
            [("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", &far)],
        );
        assert!(matches!(
            decide(r, 1),
            Decision::GiveUp(GiveUp::RateLimitedUntil { until }) if until.as_second() == now().as_second() + 3601
        ));
    }

    #[test]
    fn secondary_rate_limits_honour_retry_after_or_wait_a_minute() {
        let r = Response::from_parts(Some(403), [("Retry-After", "30")]);
        assert_eq!(decide(r, 1), Decision::RetryAfter(Duration::from_secs(30)));
        // An HTTP date a day and two minutes after `now` (2025-11-24T16:00:00Z).
        let r = Response::from_parts(
            Some(429),
            [("retry-after", "Tue, 25 Nov 2025 16:02:00 GMT")],
        );
        let patient = Backoff {
            max_wait: Duration::from_secs(2 * 86_400),
            ..Backoff::default()
        };
        assert_eq!(
            patient.decide(&r, 1, now(), 0.5),
            Decision::RetryAfter(Duration::from_secs(86_400 + 120))
        );
        // GitHub's 403 secondary limit told only by its message.
        let r = Response {
            rate_limit_message: true,
            ..Response::from_parts(Some(403), [("x-ratelimit-remaining", "4000")])
        };
        assert_eq!(decide(r, 1), Decision::RetryAfter(Duration::from_secs(60)));
        // No hint at all: at least a minute, doubling.
        assert_eq!(
            decide(status(429), 1),
            Decision::RetryAfter(Duration::from_secs(60))
        );
        assert_eq!(
            decide(status(429), 2),
            Decision::RetryAfter(Duration::from_secs(120))
        );
    }
}
