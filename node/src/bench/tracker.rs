//! Tracks every measured transaction from send to inclusion: registered just before its
//! request is written, completed when the block holding it is announced on the target it was
//! sent to (or when the send fails). Completion returns a closed-loop permit. Times are
//! microseconds since the tracker was made, so the whole run shares one clock.

use alloy_primitives::B256;
use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex, MutexGuard},
    time::Instant,
};
use tokio::sync::Semaphore;

/// A transaction that was sent and is not yet included.
#[derive(Debug, Clone, Copy)]
struct Pending {
    target: usize,
    sent_us: u64,
}

/// A transaction that was included.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Included {
    pub(crate) sent_us: u64,
    /// When the block holding it was announced (its receipt was readable from then on).
    pub(crate) included_us: u64,
    /// Receipt status 1.
    pub(crate) succeeded: bool,
}

#[derive(Debug, Default)]
struct State {
    pending: HashMap<B256, Pending>,
    included: Vec<Included>,
    errors: BTreeMap<String, u64>,
    sent: u64,
}

/// Counters for the progress line.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Counts {
    pub(crate) sent: u64,
    pub(crate) included: usize,
    pub(crate) in_flight: usize,
    pub(crate) errors: u64,
}

/// What the tracker saw, once the run is over.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub(crate) sent: u64,
    pub(crate) included: Vec<Included>,
    pub(crate) errors: BTreeMap<String, u64>,
    /// Transactions still pending when the drain ended. Under overload some of them land
    /// later; the ERC-20 check looks up their receipts.
    pub(crate) not_included: Vec<B256>,
}

/// When a sent transaction counts as done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Completion {
    /// When a block holding it is announced: the real measurement.
    Inclusion,
    /// When the endpoint answers the send: only for `--generator-check`.
    Answer,
}

/// Shared by the senders, the block watchers and the progress line.
#[derive(Debug)]
pub(crate) struct Tracker {
    completion: Completion,
    epoch: Instant,
    state: Mutex<State>,
    permits: Arc<Semaphore>,
}

impl Tracker {
    /// A tracker whose closed-loop permits start at `permits`.
    pub(crate) fn new(permits: usize, completion: Completion) -> Self {
        Self { completion, epoch: Instant::now(), state: Mutex::default(), permits: Arc::new(Semaphore::new(permits)) }
    }

    /// Microseconds since the tracker was made.
    pub(crate) fn now_us(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    /// When a transaction counts as done.
    pub(crate) fn completion(&self) -> Completion {
        self.completion
    }

    /// The closed-loop permits: one per transaction allowed in flight.
    pub(crate) fn permits(&self) -> &Arc<Semaphore> {
        &self.permits
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panicking holder leaves plain counters behind; they are still worth reporting.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Registers `hash` as sent to `target`, latency counting from `intended_us` (see
    /// `driver.rs`: when the transaction was due, not when a connection was free). Called
    /// before the request is written, so a block announced before the HTTP answer arrives
    /// still finds it.
    pub(crate) fn sent(&self, hash: B256, target: usize, intended_us: u64) {
        let sent_us = intended_us.min(self.now_us());
        let mut state = self.state();
        state.sent += 1;
        state.pending.insert(hash, Pending { target, sent_us });
    }

    /// The send of `hash` failed with an error of `kind`: it will never be included.
    pub(crate) fn send_failed(&self, hash: B256, kind: String) {
        let mut state = self.state();
        if state.pending.remove(&hash).is_some() {
            *state.errors.entry(kind).or_default() += 1;
            drop(state);
            self.permits.add_permits(1);
        }
    }

    /// A block announced on `target` at `seen_us` holds `hash`. Only the target the
    /// transaction was sent to completes it: latency is measured where the client waits.
    pub(crate) fn included(&self, target: usize, hash: B256, succeeded: bool, seen_us: u64) {
        let mut state = self.state();
        let Some(pending) = state.pending.get(&hash).copied() else { return };
        if pending.target != target {
            return;
        }
        state.pending.remove(&hash);
        // The announcement can be read before `sent` stamped the clock: never negative.
        let included_us = seen_us.max(pending.sent_us);
        state.included.push(Included { sent_us: pending.sent_us, included_us, succeeded });
        if !succeeded {
            *state.errors.entry("reverted".into()).or_default() += 1;
        }
        drop(state);
        self.permits.add_permits(1);
    }

    /// Counts an error that is not tied to one transaction (a watcher reconnect, …).
    pub(crate) fn note_error(&self, kind: String) {
        *self.state().errors.entry(kind).or_default() += 1;
    }

    /// Counters now.
    pub(crate) fn counts(&self) -> Counts {
        let state = self.state();
        Counts {
            sent: state.sent,
            included: state.included.len(),
            in_flight: state.pending.len(),
            errors: state.errors.values().sum(),
        }
    }

    /// Latencies (µs) of the transactions included at index `from` and later, in order.
    pub(crate) fn latencies_since(&self, from: usize) -> Vec<u64> {
        let state = self.state();
        state.included.get(from..).unwrap_or_default().iter().map(|i| i.included_us - i.sent_us).collect()
    }

    /// Ends the run: whatever is still pending is counted as `not included`.
    pub(crate) fn finish(&self) -> Outcome {
        let mut state = self.state();
        let not_included: Vec<B256> = state.pending.drain().map(|(hash, _)| hash).collect();
        if !not_included.is_empty() {
            *state.errors.entry("not included".into()).or_default() += not_included.len() as u64;
        }
        Outcome {
            sent: state.sent,
            included: std::mem::take(&mut state.included),
            errors: std::mem::take(&mut state.errors),
            not_included,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inclusion_only_counts_on_the_target_it_was_sent_to() {
        let tracker = Tracker::new(0, Completion::Inclusion);
        let hash = B256::repeat_byte(1);
        tracker.sent(hash, 1, tracker.now_us());
        tracker.included(0, hash, true, tracker.now_us());
        assert_eq!(tracker.counts().in_flight, 1);
        tracker.included(1, hash, true, tracker.now_us());
        assert_eq!(tracker.counts().included, 1);
        assert_eq!(tracker.permits().available_permits(), 1);
    }

    #[test]
    fn failures_and_leftovers_are_counted_by_kind() {
        let tracker = Tracker::new(0, Completion::Inclusion);
        tracker.sent(B256::repeat_byte(1), 0, 0);
        tracker.sent(B256::repeat_byte(2), 0, 0);
        tracker.sent(B256::repeat_byte(3), 0, 0);
        tracker.send_failed(B256::repeat_byte(1), "rpc -32000: nonce too low".into());
        tracker.included(0, B256::repeat_byte(2), false, tracker.now_us());
        let outcome = tracker.finish();
        assert_eq!(outcome.sent, 3);
        assert_eq!(outcome.errors["rpc -32000: nonce too low"], 1);
        assert_eq!(outcome.errors["reverted"], 1);
        assert_eq!(outcome.errors["not included"], 1);
        assert_eq!(outcome.not_included, vec![B256::repeat_byte(3)]);
    }
}
