//! An invocation's deadline, checked at every message its stream hands out. The precise clock
//! costs tens of nanoseconds per reading, a tenth of what a streamed message costs in all;
//! where the system has a coarse monotonic clock (Linux: advanced at every scheduler tick,
//! read in a few nanoseconds) the check reads that one instead: never early, at most two
//! ticks late.

use std::time::Duration;

use tokio::time::Instant;

/// When an invocation's time is up.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline {
    at: Instant,
    /// `at` on the coarse clock, where there is one.
    coarse: Option<Duration>,
}

impl Deadline {
    /// The deadline `at`.
    pub(crate) fn new(at: Instant) -> Self {
        // The coarse clock lags the precise one by up to its resolution, at both readings: one
        // resolution more keeps the check from ever firing before `at`.
        let coarse = coarse_now()
            .map(|now| now + at.saturating_duration_since(Instant::now()) + coarse_resolution());
        Deadline { at, coarse }
    }

    /// The deadline on tokio's clock, for a timer.
    pub(crate) fn instant(&self) -> Instant {
        self.at
    }

    /// Whether the time is up (on the coarse clock, up to two scheduler ticks late).
    pub(crate) fn passed(&self) -> bool {
        match (self.coarse, coarse_now()) {
            (Some(at), Some(now)) => now >= at,
            _ => Instant::now() >= self.at,
        }
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn coarse_now() -> Option<Duration> {
    use rustix::time::{ClockId, clock_gettime};
    let t = clock_gettime(ClockId::MonotonicCoarse);
    let secs = u64::try_from(t.tv_sec).ok()?;
    let nanos = u32::try_from(t.tv_nsec).ok()?;
    Some(Duration::new(secs, nanos))
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn coarse_resolution() -> Duration {
    use rustix::time::{ClockId, clock_getres};
    let t = clock_getres(ClockId::MonotonicCoarse);
    let nanos = u64::try_from(t.tv_nsec).unwrap_or(0);
    let secs = u64::try_from(t.tv_sec).unwrap_or(0);
    // A tick is at least 1 ms on Linux (HZ ≤ 1000); never trust a smaller answer.
    Duration::new(secs, 0)
        .saturating_add(Duration::from_nanos(nanos))
        .max(Duration::from_millis(1))
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn coarse_now() -> Option<Duration> {
    None
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn coarse_resolution() -> Duration {
    Duration::ZERO
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_deadline_never_passes_early_and_passes_within_two_ticks() {
        let d = Deadline::new(Instant::now() + Duration::from_millis(200));
        assert!(!d.passed());
        tokio::time::sleep_until(d.instant()).await;
        tokio::time::sleep(2 * coarse_resolution() + Duration::from_millis(1)).await;
        assert!(d.passed());
        let now = Deadline::new(Instant::now());
        tokio::time::sleep(2 * coarse_resolution() + Duration::from_millis(1)).await;
        assert!(now.passed());
    }
}
