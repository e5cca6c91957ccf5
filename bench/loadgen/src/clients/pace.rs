//! The publication schedule every delivery client keeps: `rate`
//! publications per second for a run's duration, counted as they fall
//! due, with the wait until the next one.

use std::time::{Duration, Instant};

/// A run's schedule.
pub struct Pace {
    end: Instant,
    interval: Duration,
    next: Instant,
}

/// One step of a [`Pace`].
pub struct Tick {
    /// The time of this step.
    pub now: Instant,
    /// Publications that fell due since the last step.
    pub due: u64,
    /// When the next one falls due, or the run ends, whichever is first.
    pub until: Instant,
}

impl Tick {
    /// How long to wait for events before the next step, at most `slice`.
    pub fn wait(&self, slice: Duration) -> Duration {
        self.until.saturating_duration_since(self.now).min(slice)
    }
}

impl Pace {
    /// `rate` per second (at least one per 1,000 s), starting now, for
    /// `duration`.
    pub fn new(rate: f64, duration: Duration) -> Self {
        let start = Instant::now();
        Pace {
            end: start + duration,
            interval: Duration::from_secs_f64(1.0 / rate.max(0.001)),
            next: start,
        }
    }

    /// The next step, or `None` once the run is over.
    pub fn tick(&mut self) -> Option<Tick> {
        let now = Instant::now();
        if now >= self.end {
            return None;
        }
        let mut due = 0;
        while self.next <= now {
            due += 1;
            self.next += self.interval;
        }
        Some(Tick {
            now,
            due,
            until: self.next.min(self.end),
        })
    }
}
