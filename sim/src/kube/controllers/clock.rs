//! The simulated clock every controller reads. It either runs at wall-clock speed times a
//! factor (for demos) or stands still until a test moves it (`advance`), so tests are
//! deterministic and never sleep.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use tokio::sync::watch;

/// A cheap-to-clone handle to one simulated clock.
#[derive(Clone)]
pub struct SimClock {
    inner: Arc<Inner>,
}

struct Inner {
    state: Mutex<State>,
    /// Bumped on every manual move, so the control loop re-evaluates at once.
    moved: watch::Sender<u64>,
}

struct State {
    /// Simulated time at `anchor`.
    base: Timestamp,
    /// `Some` when running: simulated time advances with the wall clock from here.
    anchor: Option<Instant>,
    /// Simulated seconds per wall-clock second.
    factor: f64,
    moves: u64,
}

impl SimClock {
    /// A clock that stands still at `start` until `advance` moves it.
    pub fn manual(start: Timestamp) -> SimClock {
        SimClock::new(start, None, 1.0)
    }

    /// A clock running `factor` times faster than the wall clock (100.0: one simulated second
    /// every 10 ms). Non-positive or non-finite factors mean 1.0.
    pub fn scaled(start: Timestamp, factor: f64) -> SimClock {
        let factor = if factor.is_finite() && factor > 0.0 {
            factor
        } else {
            1.0
        };
        SimClock::new(start, Some(Instant::now()), factor)
    }

    fn new(start: Timestamp, anchor: Option<Instant>, factor: f64) -> SimClock {
        SimClock {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    base: start,
                    anchor,
                    factor,
                    moves: 0,
                }),
                moved: watch::channel(0).0,
            }),
        }
    }

    /// The wall-clock time, whole seconds (objects carry seconds; a clean start keeps the
    /// simulated timestamps free of rounding surprises).
    pub fn wall_start() -> Timestamp {
        let now = Timestamp::now();
        Timestamp::from_second(now.as_second()).unwrap_or(now)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn now(&self) -> Timestamp {
        let state = self.lock();
        match state.anchor {
            Some(anchor) => plus(state.base, anchor.elapsed().as_secs_f64() * state.factor),
            None => state.base,
        }
    }

    /// Moves simulated time forward by `d` (in either mode).
    pub fn advance(&self, d: Duration) {
        let mut state = self.lock();
        state.base = plus(state.base, d.as_secs_f64());
        state.moves += 1;
        let moves = state.moves;
        drop(state);
        self.inner.moved.send_replace(moves);
    }

    /// Moves simulated time forward to `t`; earlier times are ignored (time never goes back).
    pub fn advance_to(&self, t: Timestamp) {
        let now = self.now();
        if t > now {
            let d = t.duration_since(now);
            self.advance(Duration::from_secs_f64(d.as_secs_f64().max(0.0)));
        }
    }

    /// True when the clock runs by itself.
    pub fn is_running(&self) -> bool {
        self.lock().anchor.is_some()
    }

    /// How long to wait on the wall clock until simulated time reaches `t`; `None` for a
    /// manual clock (only `advance` gets it there).
    pub fn wall_delay_until(&self, t: Timestamp) -> Option<Duration> {
        let factor = {
            let state = self.lock();
            state.anchor?;
            state.factor
        };
        let sim = t.duration_since(self.now()).as_secs_f64().max(0.0);
        Some(Duration::from_secs_f64(sim / factor))
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.moved.subscribe()
    }
}

/// `t + secs`, saturating instead of panicking at the end of time.
pub fn plus(t: Timestamp, secs: f64) -> Timestamp {
    if !secs.is_finite() {
        return t;
    }
    t.checked_add(SignedDuration::from_secs_f64(secs))
        .unwrap_or(t)
}

/// Whole seconds from `a` to `b` (negative when `b` is earlier).
pub fn secs_between(a: Timestamp, b: Timestamp) -> f64 {
    b.duration_since(a).as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let start = SimClock::wall_start();
        let clock = SimClock::manual(start);
        assert_eq!(clock.now(), start);
        clock.advance(Duration::from_secs(90));
        assert_eq!(secs_between(start, clock.now()), 90.0);
        clock.advance_to(start);
        assert_eq!(secs_between(start, clock.now()), 90.0);
        assert!(clock.wall_delay_until(plus(start, 100.0)).is_none());
    }

    #[test]
    fn scaled_clock_runs_faster() {
        let start = SimClock::wall_start();
        let clock = SimClock::scaled(start, 1000.0);
        std::thread::sleep(Duration::from_millis(20));
        assert!(secs_between(start, clock.now()) >= 10.0);
        let delay = clock.wall_delay_until(plus(clock.now(), 10.0));
        assert!(delay.is_some_and(|d| d <= Duration::from_millis(11)));
    }
}
