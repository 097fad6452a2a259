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

    /// The wall-clock instant at which this clock reads (or read) `t`: what a system outside
    /// the world (Prometheus, which stamps samples with the wall clock) calls that moment.
    pub fn wall_time_of(&self, t: Timestamp) -> Timestamp {
        let speed = match self {
            Clock::System => return t,
            Clock::Scaled { speed, .. } | Clock::External { speed, .. } => *speed,
        };
        let ahead = self.now().duration_since(t).as_secs_f64() / speed.max(f64::MIN_POSITIVE);
        let back = SignedDuration::try_from_secs_f64(ahead).unwrap_or(SignedDuration::ZERO);
        Timestamp::now().saturating_sub(back).unwrap_or(t)
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
    fn world_instants_map_back_to_the_wall_clock() {
        let world_now: Timestamp = "2026-05-05T05:05:05Z".parse().unwrap();
        let clock = Clock::external_at(30.0, move || world_now);
        // Five world minutes ago, at 30x, was ten wall seconds ago.
        let wall = clock.wall_time_of(world_now - SignedDuration::from_mins(5));
        let ago = Timestamp::now().duration_since(wall).as_secs_f64();
        assert!((9.9..=10.5).contains(&ago), "{ago}");
        let t: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(Clock::System.wall_time_of(t), t);
    }

    #[test]
    fn an_external_clock_is_read_each_time() {
        let t: Timestamp = "2026-05-05T05:05:05Z".parse().unwrap();
        assert_eq!(Clock::external(move || t).now(), t);
    }
}
