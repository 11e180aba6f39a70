//! One sequence number in the current view: accepting the pre-prepare (window, restriction,
//! bounds and time-service checks), voting, the prepare → commit-share step of the slow path,
//! and committing on a verified proof (SBFT §1.4–1.5).

use crate::crypto::Signature;
use crate::message::{
    CommitKind, CommitPath, CommitProof, PrePrepare, Proposal, Share, SlotCert, commit_bytes, vote_bytes,
};
use crate::misbehavior::Misbehavior;
use crate::output::{Event, Output};
use crate::persist::PersistRecord;
use crate::replica::{Mode, Replica};
use crate::types::{Digest, ReplicaId, SeqNum, Tick};
use std::collections::BTreeMap;

/// Volatile per-view state of one sequence number (cleared on every view change).
#[derive(Clone, Debug, Default)]
pub(crate) struct Slot {
    /// The pre-prepare of the current view: proposal, digest and first path.
    pub(crate) pre_prepare: Option<(Proposal, Digest, CommitPath)>,
    pub(crate) received_at: Tick,
    /// C-collector: one vote share per replica.
    pub(crate) vote_shares: BTreeMap<ReplicaId, (Digest, Signature)>,
    /// C-collector: one commit share per replica.
    pub(crate) commit_shares: BTreeMap<ReplicaId, (Digest, Signature)>,
    /// C-collector: when 2f+c+1 matching vote shares were first in.
    pub(crate) slow_quorum_at: Option<Tick>,
    /// C-collector outputs, kept for retransmission.
    pub(crate) fast_cert: Option<SlotCert>,
    pub(crate) prepare_cert: Option<SlotCert>,
    pub(crate) slow_cert: Option<SlotCert>,
    /// Backup collector: certificates formed but not yet broadcast, and when.
    pub(crate) deferred: Vec<(crate::types::Tick, crate::message::Message)>,
    /// A certificate for this slot arrived from another collector.
    pub(crate) proof_seen: bool,
    /// Replica: the prepare certificate it sent a commit share for.
    pub(crate) prepared: Option<SlotCert>,
    pub(crate) pending_prepare: Option<SlotCert>,
    pub(crate) pending_commit: Option<(CommitKind, SlotCert)>,
    /// The persist id of this replica's latest own record for the slot (its vote, then its
    /// prepare): a certificate holding its share is sent only once that is durable.
    pub(crate) own_record: u64,
}

impl Replica {
    pub(crate) fn on_pre_prepare(&mut self, from: ReplicaId, pp: PrePrepare) {
        if self.mode != Mode::Normal || pp.view != self.view || from != self.primary() {
            return;
        }
        self.accept_pre_prepare(from, pp);
    }

    /// Validates and records a pre-prepare of the current view (ours or the primary's), then votes.
    pub(crate) fn accept_pre_prepare(&mut self, from: ReplicaId, pp: PrePrepare) {
        let seq = pp.seq;
        if seq <= self.committed_upto
            || seq <= self.stable_seq()
            || seq > self.window_top()
            || self.durable.committed.contains_key(&seq)
        {
            return;
        }
        let digest = pp.proposal.digest();
        if let Some((_, d, _)) = self.slots.get(&seq).and_then(|s| s.pre_prepare.as_ref()) {
            if *d != digest {
                self.misbehavior(Misbehavior::EquivocatingPrimary { replica: from, view: self.view, seq });
            }
            return;
        }
        if !self.proposal_allowed(from, seq, &digest, &pp.proposal) {
            return;
        }
        if self.plan.as_ref().is_none_or(|plan| seq >= plan.next_seq) {
            self.fresh_proposals += 1;
        }
        // One hash per carried transaction, once: the censorship check then needs no scan.
        for tx in pp.proposal.txs() {
            if let Some(p) = self.pending.get_mut(&tx.id()) {
                p.proposed_in = Some(seq);
            }
        }
        let slot = self.slots.entry(seq).or_default();
        slot.pre_prepare = Some((pp.proposal.clone(), digest, pp.path));
        slot.received_at = self.now;
        match self.durable.votes.get(&seq) {
            Some((v, p)) if *v == self.view && p.digest() != digest => {} // voted otherwise: never twice
            Some((v, _)) if *v > self.view => {}
            _ => self.vote(seq, digest, pp.proposal),
        }
        self.resume_slot(seq);
    }

    /// The new-view restriction, or for a free sequence number the batch bounds and the time
    /// service (sbft.md decision 7: not ahead of our clock by more than the skew, not older
    /// than the skew plus the delivery allowance, and never before the previous block).
    fn proposal_allowed(&mut self, from: ReplicaId, seq: SeqNum, digest: &Digest, proposal: &Proposal) -> bool {
        if let Some(plan) = &self.plan
            && seq < plan.next_seq
        {
            let ok = plan.restrictions.get(&seq).is_some_and(|(d, _)| d == digest);
            if !ok && seq > plan.lower_bound() {
                self.misbehavior(Misbehavior::BadProposal { replica: from, seq });
            }
            return ok;
        }
        let Proposal::Batch(batch) = proposal else {
            self.misbehavior(Misbehavior::BadProposal { replica: from, seq });
            return false;
        };
        let bytes: usize = batch.txs.iter().map(|t| t.payload.len()).sum();
        let gas: u64 = batch.txs.iter().map(|t| t.gas).fold(0u64, u64::saturating_add);
        if bytes > self.cfg.batch_bytes_max as usize || gas > self.cfg.batch_gas_max {
            self.misbehavior(Misbehavior::BadProposal { replica: from, seq });
            return false;
        }
        if from == self.cfg.id {
            return true;
        }
        let ts = batch.timestamp_ms;
        let now = self.now.ms();
        let ahead = ts > now.saturating_add(self.cfg.timestamp_skew_max_ms);
        let stale = ts.saturating_add(self.cfg.timestamp_skew_max_ms).saturating_add(self.cfg.timestamp_delay_max_ms) < now;
        if ahead || stale || ts < self.timestamp_floor(seq) {
            self.misbehavior(Misbehavior::BadTimestamp { replica: from, seq, timestamp_ms: ts });
            self.complain(crate::message::ComplaintReason::BadTimestamp);
            return false;
        }
        true
    }

    /// The latest timestamp of any block known to come before `seq`.
    pub(crate) fn timestamp_floor(&self, seq: SeqNum) -> u64 {
        let committed = self.durable.committed.range(..seq).filter_map(|(_, p)| p.proposal.timestamp_ms()).max();
        let proposed = self
            .slots
            .range(..seq)
            .filter_map(|(_, s)| s.pre_prepare.as_ref().and_then(|(p, _, _)| p.timestamp_ms()))
            .max();
        self.executed_timestamp_ms.max(committed.unwrap_or(0)).max(proposed.unwrap_or(0))
    }

    fn vote(&mut self, seq: SeqNum, digest: Digest, proposal: Proposal) {
        let view = self.view;
        let id = self.persist(PersistRecord::Vote { seq, view, proposal });
        self.slots.entry(seq).or_default().own_record = id;
        let sig = self.crypto.sign(&vote_bytes(view, seq, &digest));
        let share = Share { view, seq, digest, sig };
        self.send_to_collectors(seq, crate::message::Message::VoteShare(share.clone()));
        // Collectors (and the primary, the fallback collector) count their own share.
        self.on_vote_share(self.cfg.id, share);
    }

    /// Shares go to the C-collectors of (seq, view). On the slow path the primary takes the
    /// place of the last rotating collector: with c = 0 that is concord's primary-collected
    /// slow path, and a crashed backup collector can no longer stall its sequence numbers.
    pub(crate) fn send_to_collectors(&mut self, seq: SeqNum, msg: crate::message::Message) {
        for c in self.collectors(seq) {
            self.send(c, msg.clone());
        }
    }

    /// The collectors that receive shares eagerly: the first `min(c+1, 2)` of the c+1
    /// rotating C-collectors (concord: 1 if c = 0, 2 otherwise). The rest of the c+1, and the
    /// primary, receive them on retransmission. Keeps the fast path at ≤ 4n messages.
    pub(crate) fn collectors(&self, seq: SeqNum) -> Vec<ReplicaId> {
        let mut cs = self.cfg.params.c_collectors(seq, self.view);
        cs.truncate(2);
        let slow = self.slots.get(&seq).and_then(|s| s.pre_prepare.as_ref()).is_some_and(|(_, _, p)| *p == CommitPath::Slow);
        if slow {
            // The primary leads the slow path; one rotating collector backs it up when c > 0.
            cs.pop();
            cs.insert(0, self.primary());
        }
        cs
    }

    /// Retransmission goes to the C-collectors and the primary: with c = 0 a single crashed
    /// collector would otherwise stall its sequence numbers until a view change (concord's
    /// slow path always runs through the primary; here the primary is only the fallback).
    pub(crate) fn send_to_fallback_collectors(&mut self, seq: SeqNum, msg: crate::message::Message) {
        let primary = self.primary();
        let mut to = self.collectors(seq);
        for c in self.cfg.params.c_collectors(seq, self.view) {
            if !to.contains(&c) {
                to.push(c);
            }
        }
        if !to.contains(&primary) {
            to.push(primary);
        }
        for c in to {
            self.send(c, msg.clone());
        }
    }

    /// Our body for `digest` at `seq`, from the pre-prepare or from what we voted or prepared.
    pub(crate) fn body_for(&self, seq: SeqNum, digest: &Digest) -> Option<Proposal> {
        if let Some((p, d, _)) = self.slots.get(&seq).and_then(|s| s.pre_prepare.as_ref())
            && d == digest
        {
            return Some(p.clone());
        }
        if let Some((_, p)) = self.durable.votes.get(&seq)
            && p.digest() == *digest
        {
            return Some(p.clone());
        }
        if let Some((c, p)) = self.durable.prepared.get(&seq)
            && c.digest == *digest
        {
            return Some(p.clone());
        }
        None
    }

    /// Retries the steps that waited for this slot's body.
    fn resume_slot(&mut self, seq: SeqNum) {
        let Some(slot) = self.slots.get_mut(&seq) else { return };
        let pending_prepare = slot.pending_prepare.take();
        let pending_commit = slot.pending_commit.take();
        if let Some(c) = pending_prepare {
            self.prepare_checked(c);
        }
        if let Some((kind, c)) = pending_commit {
            self.commit_checked(kind, c, None);
        }
        self.collector_progress(seq);
    }

    /// Slow path step 2: a verified prepare certificate → persist it, send a commit share.
    pub(crate) fn on_prepare(&mut self, from: ReplicaId, cert: SlotCert) {
        if self.mode != Mode::Normal || cert.view != self.view || cert.seq <= self.committed_upto {
            return;
        }
        if cert.seq <= self.stable_seq() || cert.seq > self.window_top() {
            return;
        }
        if from != self.cfg.id
            && let Some(slot) = self.slots.get_mut(&cert.seq)
        {
            slot.proof_seen = true;
        }
        if self.slots.get(&cert.seq).is_some_and(|s| s.prepared.is_some()) {
            return;
        }
        let msg = vote_bytes(cert.view, cert.seq, &cert.digest);
        if cert.cert.signers.count() < self.cfg.params.slow_quorum()
            || !self.crypto.verify_certificate(self.n(), &msg, &cert.cert)
        {
            self.misbehavior(Misbehavior::BadCertificate { replica: from, seq: cert.seq });
            return;
        }
        self.prepare_checked(cert);
    }

    fn prepare_checked(&mut self, cert: SlotCert) {
        let seq = cert.seq;
        let Some(proposal) = self.body_for(seq, &cert.digest) else {
            self.slots.entry(seq).or_default().pending_prepare = Some(cert);
            return;
        };
        let slot = self.slots.entry(seq).or_default();
        if slot.prepared.is_some() {
            return;
        }
        slot.prepared = Some(cert.clone());
        let id = self.persist(PersistRecord::Prepared { cert: cert.clone(), proposal });
        self.slots.entry(seq).or_default().own_record = id;
        let sig = self.crypto.sign(&commit_bytes(cert.view, seq, &cert.digest));
        let share = Share { view: cert.view, seq, digest: cert.digest, sig };
        self.send_to_collectors(seq, crate::message::Message::CommitShare(share.clone()));
        self.on_commit_share(self.cfg.id, share);
    }

    /// A commit proof from any view: verify, then commit once we hold the body.
    pub(crate) fn on_commit_cert(&mut self, from: ReplicaId, kind: CommitKind, cert: SlotCert, body: Option<Proposal>) {
        let seq = cert.seq;
        // A backup collector holding a deferred proof stands down once a valid one arrives.
        if from != self.cfg.id
            && self.slots.get(&seq).is_some_and(|s| !s.deferred.is_empty())
            && self.commit_cert_valid(kind, &cert)
            && let Some(slot) = self.slots.get_mut(&seq)
        {
            slot.proof_seen = true;
            slot.deferred.clear();
        }
        if seq <= self.committed_upto || self.durable.committed.contains_key(&seq) || seq <= self.stable_seq() {
            return;
        }
        if seq > self.stable_seq().plus(2 * self.cfg.window_seqs()) {
            return;
        }
        if !self.commit_cert_valid(kind, &cert) {
            self.misbehavior(Misbehavior::BadCertificate { replica: from, seq });
            return;
        }
        if let Some(b) = &body
            && b.digest() != cert.digest
        {
            self.misbehavior(Misbehavior::BadCertificate { replica: from, seq });
            return;
        }
        self.seen_seq_max = self.seen_seq_max.max(seq);
        if from != self.cfg.id
            && let Some(slot) = self.slots.get_mut(&seq)
        {
            slot.proof_seen = true;
        }
        self.commit_checked(kind, cert, body);
    }

    /// Whether `cert` proves a commit of its kind.
    pub(crate) fn commit_cert_valid(&self, kind: CommitKind, cert: &SlotCert) -> bool {
        let (quorum, msg) = match kind {
            CommitKind::Fast => (self.cfg.params.fast_quorum(), vote_bytes(cert.view, cert.seq, &cert.digest)),
            CommitKind::Slow => (self.cfg.params.slow_quorum(), commit_bytes(cert.view, cert.seq, &cert.digest)),
        };
        cert.cert.signers.count() >= quorum && self.crypto.verify_certificate(self.n(), &msg, &cert.cert)
    }

    fn commit_checked(&mut self, kind: CommitKind, cert: SlotCert, body: Option<Proposal>) {
        let seq = cert.seq;
        if self.durable.committed.contains_key(&seq) || seq <= self.committed_upto {
            return;
        }
        let Some(proposal) = body.or_else(|| self.body_for(seq, &cert.digest)) else {
            self.slots.entry(seq).or_default().pending_commit = Some((kind, cert));
            return;
        };
        self.commit(CommitProof { kind, cert, proposal });
    }

    fn commit(&mut self, proof: CommitProof) {
        let seq = proof.cert.seq;
        for tx in proof.proposal.txs() {
            let id = tx.id();
            if let Some(p) = self.pending.remove(&id) {
                self.pending_order.remove(&(p.seen_at, id));
            }
            self.recent_committed_txs.insert(id, seq);
        }
        self.record_commit_kind(proof.kind);
        self.event(Event::Committed { seq, kind: proof.kind });
        self.persist(PersistRecord::Committed(Box::new(proof)));
        self.advance_committed();
    }

    /// Moves `committed_upto` over contiguous commits and asks for their execution.
    pub(crate) fn advance_committed(&mut self) {
        let before = self.committed_upto;
        while self.durable.committed.contains_key(&self.committed_upto.next()) {
            self.committed_upto = self.committed_upto.next();
        }
        if self.committed_upto > before {
            let round_ms = self
                .slots
                .get(&self.committed_upto)
                .filter(|s| s.pre_prepare.is_some())
                .map(|s| self.now.since(s.received_at));
            self.note_commit(round_ms);
            self.last_commit_at = self.now;
        }
        self.seen_seq_max = self.seen_seq_max.max(self.committed_upto);
        self.flush_execute();
    }

    /// Emits `Execute` for committed sequence numbers in order (none during state transfer).
    pub(crate) fn flush_execute(&mut self) {
        if self.transfer.is_some() || !self.started {
            return;
        }
        while self.exec_requested < self.committed_upto {
            let s = self.exec_requested.next();
            let Some(p) = self.durable.committed.get(&s) else { break };
            let p = p.clone();
            self.exec_requested = s;
            self.out.push(Output::Execute(Box::new(p)));
        }
    }
}
