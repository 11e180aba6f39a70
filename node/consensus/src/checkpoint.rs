//! Checkpoints every K sequence numbers, stable at 2f+c+1 matching signatures; the window of
//! 2K above the stable checkpoint; garbage collection; and state transfer for a replica that
//! fell behind what its peers still keep (SBFT §1.7, §1.9; sbft.md decision 6).

use crate::message::{Message, StateCert, StateShare, checkpoint_bytes};
use crate::misbehavior::Misbehavior;
use crate::output::{Event, Output};
use crate::persist::PersistRecord;
use crate::replica::Replica;
use crate::types::{Digest, ReplicaId, SeqNum};

impl Replica {
    fn is_checkpoint(&self, seq: SeqNum) -> bool {
        seq.get() > 0 && seq.get().is_multiple_of(self.cfg.checkpoint_interval_seqs)
    }

    /// After executing a checkpoint sequence number, sign and broadcast its state.
    pub(crate) fn after_executed_checkpoint(&mut self, seq: SeqNum, block_hash: Digest) {
        if let Some(cert) = self.pending_stable.remove(&seq) {
            self.stable_checked(cert);
        }
        if !self.is_checkpoint(seq) {
            return;
        }
        let sig = self.crypto.sign(&checkpoint_bytes(seq, &block_hash));
        let share = StateShare { seq, block_hash, sig };
        self.broadcast(Message::Checkpoint(share.clone()));
        self.on_checkpoint(self.cfg.id, share);
    }

    pub(crate) fn on_checkpoint(&mut self, from: ReplicaId, share: StateShare) {
        let seq = share.seq;
        if !self.is_checkpoint(seq) || seq <= self.stable_seq() || seq > self.stable_seq().plus(4 * self.cfg.window_seqs()) {
            return;
        }
        let n = self.n();
        let shares = self.checkpoints.entry(seq).or_default();
        shares.entry(from).or_insert((share.block_hash, share.sig));
        let mut counts = std::collections::BTreeMap::<Digest, usize>::new();
        for (d, _) in shares.values() {
            *counts.entry(*d).or_default() += 1;
        }
        let q = self.cfg.params.checkpoint_quorum();
        let Some((hash, _)) = counts.into_iter().find(|(_, k)| *k >= q) else { return };
        let msg = checkpoint_bytes(seq, &hash);
        let crypto = self.crypto.clone();
        let (cert, bad) = crate::collector::aggregate_verified(&*crypto, n, shares, &hash, &msg, q);
        let wrong: Vec<(ReplicaId, Digest)> =
            shares.iter().filter(|(_, (d, _))| *d != hash).map(|(r, (d, _))| (*r, *d)).collect();
        for r in bad {
            self.misbehavior(Misbehavior::BadShare { replica: r, seq });
        }
        if let Some(cert) = cert {
            for (r, d) in wrong {
                self.misbehavior(Misbehavior::WrongState { replica: r, seq, block_hash: d });
            }
            self.stable_checked(StateCert { seq, block_hash: hash, cert });
        }
    }

    /// A stable-checkpoint certificate from a peer (usually answering our status).
    pub(crate) fn on_stable_checkpoint(&mut self, from: ReplicaId, cert: StateCert) {
        if cert.seq <= self.stable_seq() || !self.is_checkpoint(cert.seq) {
            return;
        }
        if !self.stable_cert_valid(&cert) {
            self.misbehavior(Misbehavior::BadCertificate { replica: from, seq: cert.seq });
            return;
        }
        self.stable_checked(cert);
    }

    /// Whether `cert` is a valid stable-checkpoint certificate.
    pub(crate) fn stable_cert_valid(&self, cert: &StateCert) -> bool {
        cert.cert.signers.count() >= self.cfg.params.checkpoint_quorum()
            && self.crypto.verify_certificate(self.n(), &checkpoint_bytes(cert.seq, &cert.block_hash), &cert.cert)
    }

    /// A verified stable certificate: adopt it if our state matches, wait if we are a little
    /// behind, fetch state if we are beyond what commits can repair.
    pub(crate) fn stable_checked(&mut self, cert: StateCert) {
        if cert.seq <= self.stable_seq() {
            return;
        }
        self.seen_seq_max = self.seen_seq_max.max(cert.seq);
        if cert.seq <= self.executed {
            match self.executed_hashes.get(&cert.seq) {
                Some(h) if *h == cert.block_hash => self.make_stable(cert),
                Some(_) => self.event(Event::ExecutionDiverged(cert.seq)),
                // Hash forgotten (restart): 2f+c+1 signers include an honest replica that
                // executed the same committed prefix, which is deterministic.
                None => self.make_stable(cert),
            }
            return;
        }
        if cert.seq > self.committed_upto {
            // Peers forget commits at or below their stable checkpoint: fetch the state.
            self.start_transfer(cert);
        } else {
            self.pending_stable.insert(cert.seq, cert);
        }
    }

    fn start_transfer(&mut self, cert: StateCert) {
        if self.transfer.as_ref().is_some_and(|t| t.seq >= cert.seq) {
            return;
        }
        self.transfer = Some(cert.clone());
        self.out.push(Output::StartStateTransfer(cert));
    }

    pub(crate) fn on_transfer_done(&mut self, seq: SeqNum, block_hash: Digest) {
        let Some(target) = self.transfer.clone() else { return };
        if target.seq != seq || target.block_hash != block_hash {
            return;
        }
        self.transfer = None;
        // Transactions we held may be inside the fetched blocks: the shell drops those with
        // `Input::DropTxs`; restart the censorship clock of the rest.
        let held: Vec<_> = std::mem::take(&mut self.pending_order).into_iter().map(|(_, id)| id).collect();
        for id in held {
            if let Some(p) = self.pending.get_mut(&id) {
                p.seen_at = self.now;
                self.pending_order.insert((self.now, id));
            }
        }
        if seq > self.executed {
            self.executed = seq;
            self.exec_requested = seq;
            self.executed_hashes.insert(seq, block_hash);
            self.committed_upto = self.committed_upto.max(seq);
            self.make_stable(target);
        }
        self.advance_committed();
    }

    /// Makes `cert` the stable checkpoint and forgets everything at or below it.
    pub(crate) fn make_stable(&mut self, cert: StateCert) {
        let seq = cert.seq;
        if seq <= self.stable_seq() {
            return;
        }
        assert!(self.executed >= seq, "stable checkpoint {seq} above executed {}", self.executed);
        self.persist(PersistRecord::Stable(cert));
        let keep = seq.next();
        self.slots = self.slots.split_off(&keep);
        self.exec_shares = self.exec_shares.split_off(&keep);
        self.checkpoints = self.checkpoints.split_off(&keep);
        self.executed_hashes = self.executed_hashes.split_off(&seq);
        self.finalized = self.finalized.split_off(&keep);
        self.finality_sent = self.finality_sent.split_off(&keep);
        self.pending_finality = self.pending_finality.split_off(&keep);
        self.pending_stable = self.pending_stable.split_off(&keep);
        let horizon = SeqNum::new(seq.get().saturating_sub(self.cfg.window_seqs()));
        self.recent_committed_txs.retain(|_, s| *s > horizon);
        self.event(Event::StableCheckpoint(seq));
        self.try_propose();
    }
}
