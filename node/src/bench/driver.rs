//! The measured phase: dispatches the pre-signed transactions at the offered rate (open loop)
//! or as permits free up (closed loop) to sending workers, one keep-alive connection each.
//! Sender `s` always goes to target `s % targets` and always through the same worker, so its
//! nonces arrive in order; different senders run in parallel.
//!
//! Latency counts from when a transaction was *due*: its slot in the open loop's schedule, or
//! the moment the closed loop granted its permit. A transaction that waits in a worker's queue
//! because the node is slow to answer earlier sends is therefore charged that wait; measuring
//! from the actual write would hide exactly the slowness an open loop is meant to expose
//! (coordinated omission).

use crate::bench::{
    config::{BenchConfig, Load},
    rpc::decode_response,
    tracker::{Completion, Tracker},
    transport::{Connection, Target},
    workload::SignedTx,
};
use alloy_primitives::B256;
use std::{sync::Arc, time::Duration};
use tokio::{sync::mpsc, time::Instant};

/// How often the drain checks whether everything was included.
const DRAIN_POLL: Duration = Duration::from_millis(10);

/// The times that delimit the measured window, in tracker microseconds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Window {
    /// The first send.
    pub(crate) start_us: u64,
    /// End of the warmup: sends from here on are measured.
    pub(crate) measured_from_us: u64,
    /// The last send (end of `--duration`, or when the pre-signed transactions ran out).
    pub(crate) sends_end_us: u64,
    /// True when the pre-signed transactions ran out before the duration ended.
    pub(crate) exhausted: bool,
}

/// Runs the measured phase and the drain.
pub(crate) async fn run(config: &BenchConfig, txs: Arc<Vec<SignedTx>>, tracker: Arc<Tracker>) -> Window {
    let workers_per_target = config.connections_per_target.max(1);
    let mut queues = Vec::new();
    let mut workers = Vec::new();
    for (t, target) in config.targets.iter().enumerate() {
        for _ in 0..workers_per_target {
            // Unbounded on purpose: an open loop must not slow down because one connection is
            // slow, and the queue can never hold more than the pre-signed transactions.
            let (queue, jobs) = mpsc::unbounded_channel();
            queues.push(queue);
            workers.push(tokio::spawn(worker(t, target.clone(), txs.clone(), tracker.clone(), jobs)));
        }
    }
    let targets = config.targets.len();
    let route = |sender: usize| (sender % targets) * workers_per_target + (sender / targets) % workers_per_target;

    let start = Instant::now();
    let start_us = tracker.now_us();
    let measured_from_us = start_us + duration_us(config.warmup);
    let end = start + config.warmup + config.duration;
    let mut exhausted = true;
    let mut dispatched = 0u64;
    for (k, tx) in txs.iter().enumerate() {
        let intended_us = match config.load {
            Load::Open { rate_per_s } => {
                // Sleep until this transaction's slot; past slots (the timer's granularity is
                // about a millisecond) go out at once, so the offered rate holds on average.
                let offset = Duration::from_secs_f64(k as f64 / f64::from(rate_per_s));
                let due = start + offset;
                if due >= end {
                    exhausted = false;
                    break;
                }
                tokio::time::sleep_until(due).await;
                start_us + duration_us(offset)
            }
            Load::Closed { .. } => {
                match tokio::time::timeout_at(end, tracker.permits().acquire()).await {
                    Ok(Ok(permit)) => permit.forget(),
                    _ => {
                        exhausted = false;
                        break;
                    }
                }
                tracker.now_us()
            }
        };
        if queues[route(tx.sender)].send((k, intended_us)).is_err() {
            break;
        }
        dispatched += 1;
    }
    if let (Load::Open { rate_per_s }, true) = (config.load, exhausted) {
        // An open loop that sent everything ran out only if the next slot was still inside
        // the run: the default `--txs` is exactly rate x time, which is not running out.
        let next_due = start + Duration::from_secs_f64(txs.len() as f64 / f64::from(rate_per_s));
        exhausted = next_due < end;
    }
    let sends_end_us = tracker.now_us();
    drop(queues);

    let drain_end = Instant::now() + config.drain;
    // Queued transactions are not in flight yet: wait until every dispatched one was sent
    // and then until none is in flight.
    let busy = |c: crate::bench::tracker::Counts| c.sent < dispatched || c.in_flight > 0;
    while busy(tracker.counts()) && Instant::now() < drain_end {
        tokio::time::sleep(DRAIN_POLL).await;
    }
    for worker in workers {
        worker.abort();
    }
    Window { start_us, measured_from_us, sends_end_us, exhausted }
}

fn duration_us(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

/// Sends the transactions queued for it, one at a time, on one connection (reopened after
/// a failure).
async fn worker(
    target_index: usize,
    target: Arc<Target>,
    txs: Arc<Vec<SignedTx>>,
    tracker: Arc<Tracker>,
    mut jobs: mpsc::UnboundedReceiver<(usize, u64)>,
) {
    let mut connection: Option<Connection> = None;
    while let Some((k, intended_us)) = jobs.recv().await {
        let Some(tx) = txs.get(k) else { continue };
        if connection.is_none() {
            match target.connect().await {
                Ok(c) => connection = Some(c),
                Err(err) => {
                    tracker.sent(tx.hash, target_index, intended_us);
                    tracker.send_failed(tx.hash, err.kind());
                    continue;
                }
            }
        }
        let Some(open) = connection.as_mut() else { continue };
        tracker.sent(tx.hash, target_index, intended_us);
        match open.post(tx.body.clone()).await {
            Ok((status, body)) => {
                match decode_response::<B256>(&target, "eth_sendRawTransaction", status, &body) {
                    Err(err) => tracker.send_failed(tx.hash, err.kind()),
                    Ok(_) if tracker.completion() == Completion::Answer => {
                        tracker.included(target_index, tx.hash, true, tracker.now_us());
                    }
                    Ok(_) => {}
                }
            }
            Err(err) => {
                tracker.send_failed(tx.hash, err.kind());
                connection = None;
            }
        }
    }
}
