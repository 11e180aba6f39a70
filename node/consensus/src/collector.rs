//! Collector roles (SBFT §1.2, §1.4–1.6): the c+1 rotating C-collectors of each (seq, view)
//! turn vote shares into a fast commit proof (3f+c+1) or, after the slow-path timeout or when
//! the primary asked for the slow path, a prepare certificate (2f+c+1), and commit shares
//! into a slow commit proof; the c+1 E-collectors of each seq turn f+1 execution shares into
//! the finality certificate over the block hash.
//!
//! Shares are stored unverified and checked in one pairing when aggregated; only if the
//! aggregate fails are they verified one by one and the bad senders reported.

use crate::crypto::{Certificate, CryptoTr, Signature};
use crate::message::{
    CommitKind, CommitPath, Message, Share, SlotCert, StateCert, StateShare, commit_bytes, exec_bytes, vote_bytes,
};
use crate::misbehavior::Misbehavior;
use crate::output::{Event, Output};
use crate::replica::{Mode, Replica};
use crate::types::{Digest, ReplicaId, SeqNum, ViewNum};
use std::collections::BTreeMap;

/// Aggregates the shares that match `digest`; on failure verifies each and drops the bad
/// ones from `shares`. Returns the certificate (if a quorum of good shares remains) and the
/// senders of bad shares.
pub(crate) fn aggregate_verified(
    crypto: &dyn CryptoTr,
    n: usize,
    shares: &mut BTreeMap<ReplicaId, (Digest, Signature)>,
    digest: &Digest,
    msg: &[u8],
    quorum: usize,
) -> (Option<Certificate>, Vec<ReplicaId>) {
    let matching: Vec<(ReplicaId, &Signature)> =
        shares.iter().filter(|(_, (d, _))| d == digest).map(|(r, (_, s))| (*r, s)).collect();
    if matching.len() < quorum {
        return (None, vec![]);
    }
    if let Some(cert) = crypto.aggregate(n, &matching)
        && crypto.verify_certificate(n, msg, &cert)
    {
        return (Some(cert), vec![]);
    }
    let bad: Vec<ReplicaId> = matching.iter().filter(|(r, s)| !crypto.verify(*r, msg, s)).map(|(r, _)| *r).collect();
    for r in &bad {
        shares.remove(r);
    }
    let good: Vec<(ReplicaId, &Signature)> =
        shares.iter().filter(|(_, (d, _))| d == digest).map(|(r, (_, s))| (*r, s)).collect();
    if good.len() < quorum {
        return (None, bad);
    }
    let cert = crypto.aggregate(n, &good).filter(|c| crypto.verify_certificate(n, msg, c));
    (cert, bad)
}

/// The digest with the most entries and its count (ties broken by the smaller digest).
fn leading(shares: &BTreeMap<ReplicaId, (Digest, Signature)>) -> Option<(Digest, usize)> {
    let mut counts: BTreeMap<Digest, usize> = BTreeMap::new();
    for (d, _) in shares.values() {
        *counts.entry(*d).or_default() += 1;
    }
    counts.into_iter().max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
}

impl Replica {
    fn is_c_collector(&self, seq: SeqNum) -> bool {
        self.cfg.params.c_collectors(seq, self.view).contains(&self.cfg.id)
    }

    fn collecting(&self, seq: SeqNum, view: ViewNum) -> bool {
        self.mode == Mode::Normal
            && view == self.view
            && seq > self.stable_seq()
            && seq <= self.window_top()
            && !self.durable.committed.contains_key(&seq)
            && seq > self.committed_upto
            && (self.is_c_collector(seq) || self.is_primary())
    }

    pub(crate) fn on_vote_share(&mut self, from: ReplicaId, share: Share) {
        if !self.collecting(share.seq, share.view) {
            return;
        }
        let slot = self.slots.entry(share.seq).or_default();
        slot.vote_shares.entry(from).or_insert((share.digest, share.sig));
        self.collector_progress(share.seq);
    }

    pub(crate) fn on_commit_share(&mut self, from: ReplicaId, share: Share) {
        if !self.collecting(share.seq, share.view) {
            return;
        }
        let slot = self.slots.entry(share.seq).or_default();
        slot.commit_shares.entry(from).or_insert((share.digest, share.sig));
        self.collector_progress(share.seq);
    }

    /// Tick: collectors whose slow-path timeout expired switch paths (no view change, §1.5).
    pub(crate) fn collector_timeouts(&mut self) {
        let (now, wait) = (self.now, self.cfg.slow_path_timeout_ms);
        let mut due = vec![];
        for slot in self.slots.values_mut() {
            if slot.deferred.is_empty() {
                continue;
            }
            if slot.proof_seen {
                slot.deferred.clear();
                continue;
            }
            let (ready, later): (Vec<_>, Vec<_>) = slot.deferred.drain(..).partition(|(t, _)| now.since(*t) >= wait);
            slot.deferred = later;
            let need = slot.own_record;
            due.extend(ready.into_iter().map(|(_, m)| (need, m)));
        }
        for (need, m) in due {
            self.broadcast_after(need, m);
        }
        let waiting: Vec<SeqNum> = self
            .slots
            .iter()
            .filter(|(_, s)| s.slow_quorum_at.is_some() && s.prepare_cert.is_none() && s.fast_cert.is_none())
            .map(|(k, _)| *k)
            .collect();
        for seq in waiting {
            self.collector_progress(seq);
        }
    }

    /// Forms whatever certificate the shares of `seq` now allow.
    pub(crate) fn collector_progress(&mut self, seq: SeqNum) {
        if !self.collecting(seq, self.view) {
            return;
        }
        let (view, n, now) = (self.view, self.n(), self.now);
        let p = self.cfg.params;
        let crypto = self.crypto.clone();
        let timeout = self.cfg.slow_path_timeout_ms;
        let Some(slot) = self.slots.get_mut(&seq) else { return };
        let mut sends: Vec<(CommitKind, SlotCert, bool)> = vec![];
        let mut bad_all = vec![];
        if let Some((digest, count)) = leading(&slot.vote_shares) {
            if count >= p.fast_quorum() && slot.fast_cert.is_none() {
                let msg = vote_bytes(view, seq, &digest);
                let (cert, bad) = aggregate_verified(&*crypto, n, &mut slot.vote_shares, &digest, &msg, p.fast_quorum());
                bad_all.extend(bad);
                if let Some(cert) = cert {
                    let sc = SlotCert { view, seq, digest, cert };
                    slot.fast_cert = Some(sc.clone());
                    sends.push((CommitKind::Fast, sc, false));
                }
            }
            if count >= p.slow_quorum() && slot.slow_quorum_at.is_none() {
                slot.slow_quorum_at = Some(now);
            }
            let path = slot.pre_prepare.as_ref().map_or(CommitPath::Fast, |(_, _, path)| *path);
            let expired = slot.slow_quorum_at.is_some_and(|t| now.since(t) >= timeout);
            if slot.fast_cert.is_none()
                && slot.prepare_cert.is_none()
                && count >= p.slow_quorum()
                && (path == CommitPath::Slow || expired)
            {
                let msg = vote_bytes(view, seq, &digest);
                let (cert, bad) = aggregate_verified(&*crypto, n, &mut slot.vote_shares, &digest, &msg, p.slow_quorum());
                bad_all.extend(bad);
                if let Some(cert) = cert {
                    let sc = SlotCert { view, seq, digest, cert };
                    slot.prepare_cert = Some(sc.clone());
                    sends.push((CommitKind::Slow, sc, true));
                }
            }
        }
        if let Some((digest, count)) = leading(&slot.commit_shares)
            && count >= p.slow_quorum()
            && slot.slow_cert.is_none()
        {
            let msg = commit_bytes(view, seq, &digest);
            let (cert, bad) = aggregate_verified(&*crypto, n, &mut slot.commit_shares, &digest, &msg, p.slow_quorum());
            bad_all.extend(bad);
            if let Some(cert) = cert {
                let sc = SlotCert { view, seq, digest, cert };
                slot.slow_cert = Some(sc.clone());
                sends.push((CommitKind::Slow, sc, false));
            }
        }
        for r in bad_all {
            self.misbehavior(Misbehavior::BadShare { replica: r, seq });
        }
        // The first eager collector broadcasts at once; a backup collector waits the
        // slow-path timeout and broadcasts only if no other collector's proof arrived.
        // A collector outside the eager set only has shares because the eager ones failed.
        let eager = self.collectors(seq);
        let lead = eager.first() == Some(&self.cfg.id) || !eager.contains(&self.cfg.id);
        for (kind, sc, is_prepare) in sends {
            let msg = match (is_prepare, kind) {
                (true, _) => Message::Prepare(sc.clone()),
                (false, CommitKind::Fast) => Message::FastCommit(sc.clone()),
                (false, CommitKind::Slow) => Message::SlowCommit(sc.clone()),
            };
            if lead {
                let need = self.slots.get(&seq).map_or(0, |s| s.own_record);
                self.broadcast_after(need, msg);
            } else if let Some(slot) = self.slots.get_mut(&seq) {
                slot.deferred.push((now, msg));
            }
            if is_prepare {
                self.on_prepare(self.cfg.id, sc);
            } else {
                self.on_commit_cert(self.cfg.id, kind, sc, None);
            }
        }
    }

    /// E-collectors of `seq` (view-independent so a view change cannot strand shares).
    /// Like the C-collectors, the first `min(c+1, 2)` receive execution shares.
    fn e_collectors(&self, seq: SeqNum) -> Vec<ReplicaId> {
        let mut es = self.cfg.params.e_collectors(seq, ViewNum::new(0));
        es.truncate(2);
        es
    }

    /// Execution finished: sign the block hash for the E-collectors (and the checkpoint).
    pub(crate) fn on_executed(&mut self, seq: SeqNum, block_hash: Digest) {
        if seq != self.executed.next() || seq > self.exec_requested {
            return;
        }
        self.executed = seq;
        self.last_executed_at = self.now;
        self.executed_hashes.insert(seq, block_hash);
        if let Some(ts) = self.durable.committed.get(&seq).and_then(|p| p.proposal.timestamp_ms()) {
            self.executed_timestamp_ms = self.executed_timestamp_ms.max(ts);
        }
        let sig = self.crypto.sign(&exec_bytes(seq, &block_hash));
        let share = StateShare { seq, block_hash, sig };
        for c in self.e_collectors(seq) {
            if c == self.cfg.id {
                self.on_exec_share(c, share.clone());
            } else {
                self.send(c, Message::ExecShare(share.clone()));
            }
        }
        if let Some(cert) = self.pending_finality.remove(&seq) {
            self.finalize(cert);
        }
        self.after_executed_checkpoint(seq, block_hash);
        // A primary held back by its own execution queue proposes again.
        self.try_propose();
    }

    pub(crate) fn on_exec_share(&mut self, from: ReplicaId, share: StateShare) {
        let seq = share.seq;
        if !self.e_collectors(seq).contains(&self.cfg.id)
            || seq <= self.stable_seq()
            || seq > self.stable_seq().plus(2 * self.cfg.window_seqs())
            || self.finality_sent.contains(&seq)
        {
            return;
        }
        let n = self.n();
        let shares = self.exec_shares.entry(seq).or_default();
        shares.entry(from).or_insert((share.block_hash, share.sig));
        let Some((hash, count)) = leading(shares) else { return };
        let q = self.cfg.params.finality_quorum();
        if count < q {
            return;
        }
        let msg = exec_bytes(seq, &hash);
        let crypto = self.crypto.clone();
        let (cert, bad) = aggregate_verified(&*crypto, n, shares, &hash, &msg, q);
        let wrong: Vec<(ReplicaId, Digest)> =
            shares.iter().filter(|(_, (d, _))| *d != hash).map(|(r, (d, _))| (*r, *d)).collect();
        for r in bad {
            self.misbehavior(Misbehavior::BadShare { replica: r, seq });
        }
        if let Some(cert) = cert {
            for (r, d) in wrong {
                self.misbehavior(Misbehavior::WrongState { replica: r, seq, block_hash: d });
            }
            self.finality_sent.insert(seq);
            let sc = StateCert { seq, block_hash: hash, cert };
            // Built from execution shares, which rest on the executed (durable) block, not on
            // any consensus record.
            self.broadcast_after(0, Message::Finality(sc.clone()));
            self.on_finality(self.cfg.id, sc);
        }
    }

    pub(crate) fn on_finality(&mut self, from: ReplicaId, cert: StateCert) {
        let seq = cert.seq;
        if seq <= self.stable_seq() || self.finalized.contains(&seq) || self.pending_finality.contains_key(&seq) {
            return;
        }
        if seq > self.stable_seq().plus(2 * self.cfg.window_seqs()) {
            return;
        }
        let msg = exec_bytes(seq, &cert.block_hash);
        if cert.cert.signers.count() < self.cfg.params.finality_quorum()
            || !self.crypto.verify_certificate(self.n(), &msg, &cert.cert)
        {
            self.misbehavior(Misbehavior::BadCertificate { replica: from, seq });
            return;
        }
        if seq <= self.executed {
            self.finalize(cert);
        } else {
            self.pending_finality.insert(seq, cert);
        }
    }

    fn finalize(&mut self, cert: StateCert) {
        match self.executed_hashes.get(&cert.seq) {
            Some(h) if *h == cert.block_hash => {
                self.finalized.insert(cert.seq);
                self.out.push(Output::Finalized(cert));
            }
            Some(_) => self.event(Event::ExecutionDiverged(cert.seq)),
            None => {}
        }
    }
}
