//! The progress line on stderr, once a second: sent, included, in flight, errors, tx/s and
//! p50 latency over the last second.

use crate::bench::{report::percentile_ms, tracker::Tracker};
use std::{sync::Arc, time::Duration};

/// Prints until aborted.
pub(crate) async fn run(tracker: Arc<Tracker>) {
    let mut interval = tokio::time::interval(Duration::from_secs(1));
    // On a loaded machine a tick can be late; print once, not a burst of catch-up lines.
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    interval.tick().await;
    let mut seen = 0usize;
    let started_us = tracker.now_us();
    loop {
        interval.tick().await;
        let counts = tracker.counts();
        let mut latest = tracker.latencies_since(seen);
        seen += latest.len();
        latest.sort_unstable();
        eprintln!(
            "[{:>4}s] sent {:>8}  included {:>8}  in flight {:>6}  errors {:>5}  {:>7} tx/s  p50 {:>7.1} ms",
            // Rounded: ticks land a hair before or after each whole second.
            (tracker.now_us() - started_us + 500_000) / 1_000_000,
            counts.sent,
            counts.included,
            counts.in_flight,
            counts.errors,
            latest.len(),
            percentile_ms(&latest, 0.5)
        );
    }
}
