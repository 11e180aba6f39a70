//! Retransmission without a timer per message: a replica that is stuck (view change, a gap,
//! an old uncommitted slot, a quiet primary) re-sends its own shares and broadcasts a
//! `Status`; peers answer with exactly what it misses: the new-view message, their
//! view-change message, commit proofs with bodies, a stable checkpoint certificate, or the
//! current pre-prepares and collector certificates.

use crate::limits::CATCHUP_SEQS_MAX;
use crate::message::{Complaint, Message, PrePrepare, Share, Status, commit_bytes, vote_bytes};
use crate::replica::{Mode, Replica};
use crate::types::{ReplicaId, SeqNum};

impl Replica {
    fn stuck(&self) -> bool {
        let interval = self.cfg.status_interval_ms;
        self.mode == Mode::ViewChange
            || self.gap_since.is_some_and(|t| self.now.since(t) > interval)
            || self.transfer.is_some()
            || self.slots.iter().any(|(s, slot)| {
                *s > self.committed_upto && slot.pre_prepare.is_some() && self.now.since(slot.received_at) > interval
            })
            || self.pending_order.first().is_some_and(|(t, _)| self.now.since(*t) > interval)
            || self.now.since(self.last_commit_at.max(self.view_entered_at)) > self.cfg.empty_block_interval_ms + interval
    }

    /// Tick: when stuck, ask for help and re-send what others may have missed from us.
    pub(crate) fn maybe_status(&mut self) {
        // Pipelined commits arrive out of order; only a gap that persists means we missed one.
        if self.committed_upto >= self.seen_seq_max {
            self.gap_since = None;
        } else if self.gap_since.is_none() {
            self.gap_since = Some(self.now);
        }
        if self.now.since(self.last_status_at) < self.cfg.status_interval_ms || !self.stuck() {
            return;
        }
        self.last_status_at = self.now;
        self.broadcast(Message::Status(Status {
            view: self.view,
            in_view_change: self.mode == Mode::ViewChange,
            committed: self.committed_upto,
            stable: self.stable_seq(),
        }));
        if self.complained_in == Some(self.view) {
            self.broadcast(Message::Complaint(Complaint {
                view: self.view,
                reason: crate::message::ComplaintReason::Timeout,
            }));
        }
        // Our checkpoint signatures above the stable checkpoint may have been lost.
        let own: Vec<Message> = self
            .checkpoints
            .values()
            .filter_map(|m| m.get(&self.cfg.id))
            .zip(self.checkpoints.keys())
            .map(|((h, sig), seq)| Message::Checkpoint(crate::message::StateShare { seq: *seq, block_hash: *h, sig: sig.clone() }))
            .take(2)
            .collect();
        for m in own {
            self.broadcast(m);
        }
        if self.mode == Mode::ViewChange {
            if let Some(vc) = self.view_changes.get(&self.cfg.id).cloned() {
                let primary = self.primary();
                self.send(primary, Message::ViewChange(Box::new(vc)));
            }
            return;
        }
        let view = self.view;
        let open: Vec<SeqNum> = self.slots.range(self.committed_upto.next()..).map(|(s, _)| *s).take(64).collect();
        for seq in open {
            if self.durable.committed.contains_key(&seq) {
                continue;
            }
            if let Some((v, p)) = self.durable.votes.get(&seq).cloned()
                && v == view
            {
                let digest = p.digest();
                let sig = self.crypto.sign(&vote_bytes(view, seq, &digest));
                self.send_to_fallback_collectors(seq, Message::VoteShare(Share { view, seq, digest, sig }));
            }
            if let Some(cert) = self.slots.get(&seq).and_then(|s| s.prepared.clone()) {
                let sig = self.crypto.sign(&commit_bytes(view, seq, &cert.digest));
                self.send_to_fallback_collectors(seq, Message::CommitShare(Share { view, seq, digest: cert.digest, sig }));
            }
        }
    }

    pub(crate) fn on_status(&mut self, from: ReplicaId, st: Status) {
        let behind_view = st.view < self.view || (st.view == self.view && st.in_view_change);
        if behind_view {
            match self.mode {
                Mode::Normal => {
                    if let Some(nv) = self.durable.new_view.clone().filter(|nv| nv.view == self.view) {
                        self.send(from, Message::NewView(Box::new(nv)));
                    }
                }
                Mode::ViewChange => {
                    if let Some(vc) = self.view_changes.get(&self.cfg.id).cloned() {
                        self.send(from, Message::ViewChange(Box::new(vc)));
                    }
                }
            }
        }
        if st.stable < self.stable_seq()
            && st.committed >= self.stable_seq()
            && let Some(cert) = self.durable.stable.clone()
        {
            self.send(from, Message::StableCheckpoint(cert));
        }
        if st.committed < self.committed_upto {
            if st.committed < self.stable_seq() {
                if let Some(cert) = self.durable.stable.clone() {
                    self.send(from, Message::StableCheckpoint(cert));
                }
            } else {
                let upto = SeqNum::new(self.committed_upto.get().min(st.committed.get() + CATCHUP_SEQS_MAX));
                let proofs: Vec<_> =
                    self.durable.committed.range(st.committed.next()..=upto).map(|(_, p)| p.clone()).collect();
                for p in proofs {
                    self.send(from, Message::Committed(Box::new(p)));
                }
            }
        }
        if st.view == self.view && !st.in_view_change && self.mode == Mode::Normal {
            let primary = self.is_primary();
            let open: Vec<(SeqNum, crate::slot::Slot)> = self
                .slots
                .range(st.committed.next().max(self.committed_upto.next())..)
                .take(self.cfg.pipeline_max as usize * 2)
                .map(|(s, slot)| (*s, slot.clone()))
                .collect();
            for (seq, slot) in open {
                if primary && let Some((proposal, _, path)) = slot.pre_prepare {
                    self.send(from, Message::PrePrepare(PrePrepare { view: self.view, seq, path, proposal }));
                }
                if let Some(c) = slot.prepare_cert {
                    self.send(from, Message::Prepare(c));
                }
            }
        }
    }
}
