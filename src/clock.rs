//! The one clock the live loop reads. Pure modules take `now` as an argument; the runner, the
//! watchers and the server ask this clock, so a simulated world at N x speed and suture agree
//! on windows, expiries and ages.

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};

#[derive(Clone, Default)]
pub enum Clock {
    /// The machine's wall clock (production).
    #[default]
    System,
    /// A world whose time runs `speed` times faster than the wall clock: at wall time
    /// `wall_origin` it was `origin` there (`suture sim` writes these into its `suture.yaml`).
    Scaled {
        origin: Timestamp,
        wall_origin: Timestamp,
        speed: f64,
    },
    /// Time read from elsewhere: an in-process simulated world (`suture demo`, tests), which
    /// runs about `speed` times the wall clock (for sleeping; 1 when unknown or stepped by hand).
    External {
        now: Arc<dyn Fn() -> Timestamp + Send + Sync>,
        speed: f64,
    },
}

impl Clock {
    /// Time read from `now`, slept on as the wall clock (a test stepping time by hand).
    pub fn external(now: impl Fn() -> Timestamp + Send + Sync + 'static) -> Clock {
        Clock::external_at(1.0, now)
    }

    /// Time read from `now`, which runs `speed` times the wall clock: periodic work (the
    /// reconcile) then ticks in the world's time, as it would against the real cluster.
    pub fn external_at(speed: f64, now: impl Fn() -> Timestamp + Send + Sync + 'static) -> Clock {
        Clock::External {
            now: Arc::new(now),
            speed,
        }
    }

    pub fn now(&self) -> Timestamp {
        match self {
            Clock::System => Timestamp::now(),
            Clock::Scaled {
                origin,
                wall_origin,
                speed,
            } => {
                let wall = Timestamp::now().duration_since(*wall_origin);
                let scaled = SignedDuration::try_from_secs_f64(wall.as_secs_f64() * speed)
                    .unwrap_or(SignedDuration::ZERO);
                origin.saturating_add(scaled).unwrap_or(*origin)
            }
            Clock::External { now, .. } => now(),
        }
    }

    /// How long a span of this clock's time lasts on the wall clock (for sleeping).
    pub fn wall(&self, span: std::time::Duration) -> std::time::Duration {
        match self {
            Clock::Scaled { speed, .. } | Clock::External { speed, .. } if *speed > 0.0 => {
                span.div_f64(*speed)
            }
            _ => span,
        }
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Clock::System => f.write_str("Clock::System"),
            Clock::Scaled { origin, speed, .. } => {
                write!(f, "Clock::Scaled({origin} at {speed}x)")
            }
            Clock::External { speed, .. } => write!(f, "Clock::External({speed}x)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scaled_clock_runs_speed_times_faster_than_the_wall() {
        let wall_origin = Timestamp::now() - SignedDuration::from_secs(10);
        let origin: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let clock = Clock::Scaled {
            origin,
            wall_origin,
            speed: 30.0,
        };
        let elapsed = clock.now().duration_since(origin).as_secs();
        // 10 wall seconds (and a little for the test itself) at 30x.
        assert!((300..=330).contains(&elapsed), "{elapsed}");
        assert_eq!(
            clock.wall(std::time::Duration::from_secs(60)),
            std::time::Duration::from_secs(2)
        );
    }

    #[test]
    fn an_external_clock_is_read_each_time() {
        let t: Timestamp = "2026-05-05T05:05:05Z".parse().unwrap();
        assert_eq!(Clock::external(move || t).now(), t);
    }
}
