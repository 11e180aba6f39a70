//! The primary's side: batching pending transactions by bytes and gas, idle blocks, the
//! time-service stamp, and the dual-mode path controller that switches fast ↔ slow without a
//! view change (SBFT §1.5, sbft.md decisions 7–8).

use crate::limits::{BATCH_TXS_MAX, PENDING_TXS_MAX, TX_BYTES_MAX};
use crate::message::{Batch, CommitKind, CommitPath, Message, PrePrepare, Proposal, Tx};
use crate::output::Event;
use crate::replica::{Mode, PendingTx, Replica};
use crate::types::Digest;
use std::collections::BTreeSet;

/// Commits the controller looks back over.
const PATH_HISTORY: usize = 16;
/// Slow commits among them that switch the first path to slow.
const PATH_SLOW_TRIGGER: usize = 4;
/// Proposals made on the slow path before trying the fast path again.
const PATH_SLOW_SEQS: u64 = 64;

impl Replica {
    /// Adds a transaction to the pending pool; false if known, committed, too big or full.
    pub(crate) fn add_pending(&mut self, tx: Tx) -> bool {
        if tx.payload.len() > TX_BYTES_MAX as usize || tx.gas > self.cfg.batch_gas_max {
            return false;
        }
        let id = tx.id();
        if self.pending.contains_key(&id) || self.recent_committed_txs.contains_key(&id) || self.pending.len() >= PENDING_TXS_MAX {
            return false;
        }
        self.pending_order.insert((self.now, id));
        self.pending.insert(id, PendingTx { tx, seen_at: self.now, fresh_proposals_before: self.fresh_proposals, proposed_in: None });
        true
    }

    /// Proposes as long as the pipeline and window allow (primary only).
    pub(crate) fn try_propose(&mut self) {
        if !self.started || self.mode != Mode::Normal || !self.is_primary() || self.transfer.is_some() {
            return;
        }
        loop {
            let seq = self.next_seq;
            if seq > self.window_top() || seq.get() > self.committed_upto.get() + self.cfg.pipeline_max {
                return;
            }
            // Under load execution is the slowest stage: proposing further ahead of it only
            // queues committed blocks (their finality waits behind the queue). Holding back
            // lets the pool grow, so the next block carries more transactions for the same
            // per-block cost (signatures, one durable commit). `on_executed` resumes.
            if seq.get() > self.executed.get() + self.cfg.execution_lead_max {
                return;
            }
            let in_flight: BTreeSet<Digest> = self
                .slots
                .range(self.committed_upto.next()..)
                .filter_map(|(_, s)| s.pre_prepare.as_ref())
                .flat_map(|(p, _, _)| p.txs().iter().map(Tx::id))
                .collect();
            let txs = self.take_batch(&in_flight);
            if !txs.is_empty() && self.cfg.batch_wait_ms > 0 {
                let busy = self.slots.range(self.committed_upto.next()..).any(|(_, s)| s.pre_prepare.is_some());
                let oldest = self.pending_order.iter().find(|(_, id)| !in_flight.contains(id)).map(|(t, _)| *t);
                if busy && oldest.is_some_and(|t| self.now.since(t) < self.cfg.batch_wait_ms) {
                    // The next tick, commit or arrival proposes it.
                    return;
                }
            }
            let idle_due = self.now.since(self.last_proposal_at) >= self.cfg.empty_block_interval_ms;
            if txs.is_empty() {
                let busy = self.slots.range(self.committed_upto.next()..).any(|(_, s)| s.pre_prepare.is_some());
                if !idle_due || busy {
                    return;
                }
            }
            let empty = txs.is_empty();
            let timestamp_ms = self.now.ms().max(self.last_timestamp_ms).max(self.timestamp_floor(seq));
            self.last_timestamp_ms = timestamp_ms;
            if self.path == CommitPath::Slow && seq >= self.path_slow_until {
                self.path = CommitPath::Fast;
                self.recent_kinds.clear();
                self.event(Event::PathSwitched(CommitPath::Fast));
            }
            let pp = PrePrepare { view: self.view, seq, path: self.path, proposal: Proposal::Batch(Batch { timestamp_ms, txs }) };
            self.next_seq = seq.next();
            self.last_proposal_at = self.now;
            self.accept_pre_prepare(self.cfg.id, pp.clone());
            self.broadcast(Message::PrePrepare(pp));
            if empty {
                return;
            }
        }
    }

    fn take_batch(&self, in_flight: &BTreeSet<Digest>) -> Vec<Tx> {
        let mut txs = Vec::new();
        let (mut bytes, mut gas) = (0usize, 0u64);
        for (_, id) in &self.pending_order {
            if in_flight.contains(id) {
                continue;
            }
            let Some(p) = self.pending.get(id) else { continue };
            if bytes + p.tx.payload.len() > self.cfg.batch_bytes_max as usize
                || gas.saturating_add(p.tx.gas) > self.cfg.batch_gas_max
                || txs.len() >= BATCH_TXS_MAX as usize
            {
                break;
            }
            bytes += p.tx.payload.len();
            gas = gas.saturating_add(p.tx.gas);
            txs.push(p.tx.clone());
        }
        txs
    }

    /// Path controller: too many slow commits lately → ask collectors for the slow path first.
    pub(crate) fn record_commit_kind(&mut self, kind: CommitKind) {
        if !self.is_primary() {
            return;
        }
        self.recent_kinds.push_back(kind);
        while self.recent_kinds.len() > PATH_HISTORY {
            self.recent_kinds.pop_front();
        }
        let slow = self.recent_kinds.iter().filter(|k| **k == CommitKind::Slow).count();
        if self.path == CommitPath::Fast && slow >= PATH_SLOW_TRIGGER {
            self.path = CommitPath::Slow;
            self.path_slow_until = self.next_seq.plus(PATH_SLOW_SEQS);
            self.event(Event::PathSwitched(CommitPath::Slow));
        }
    }
}
