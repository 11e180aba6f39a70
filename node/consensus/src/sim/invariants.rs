//! Safety oracles, checked after every simulation step, and the liveness oracle checked once
//! the network has healed. An oracle never trusts a replica: it re-verifies certificates
//! with its own verifier.

use crate::crypto::CryptoTr;
use crate::message::{CommitKind, CommitProof, Message, StateCert, commit_bytes, exec_bytes, vote_bytes};
use crate::params::Params;
use crate::types::{Digest, ReplicaId, SeqNum, ViewNum};
use std::collections::BTreeMap;

/// A broken invariant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation(pub String);

/// The oracle state across the whole run.
#[derive(Debug)]
pub struct Oracle {
    params: Params,
    verifier: Box<dyn CryptoTr>,
    committed: BTreeMap<SeqNum, Digest>,
    executed: BTreeMap<SeqNum, Digest>,
    votes: BTreeMap<(ReplicaId, ViewNum, SeqNum, bool), Digest>,
    views: BTreeMap<ReplicaId, ViewNum>,
    /// Commits observed (for reports).
    pub commits_seen: u64,
    /// Finality certificates checked.
    pub finality_seen: u64,
}

impl Oracle {
    /// An oracle verifying with `verifier` (any replica's instance can verify everything).
    pub fn new(params: Params, verifier: Box<dyn CryptoTr>) -> Self {
        Self {
            params,
            verifier,
            committed: BTreeMap::new(),
            executed: BTreeMap::new(),
            votes: BTreeMap::new(),
            views: BTreeMap::new(),
            commits_seen: 0,
            finality_seen: 0,
        }
    }

    /// Agreement and valid certificates: an honest replica executes `proof` as its next block.
    pub fn on_execute(&mut self, r: ReplicaId, expected_seq: SeqNum, proof: &CommitProof) -> Result<(), Violation> {
        let c = &proof.cert;
        if c.seq != expected_seq {
            return Err(Violation(format!("prefix: {r} executes {} but its chain expects {expected_seq}", c.seq)));
        }
        if proof.proposal.digest() != c.digest {
            return Err(Violation(format!("{r} executes a body that does not match its certificate at {}", c.seq)));
        }
        let (q, msg) = match proof.kind {
            CommitKind::Fast => (self.params.fast_quorum(), vote_bytes(c.view, c.seq, &c.digest)),
            CommitKind::Slow => (self.params.slow_quorum(), commit_bytes(c.view, c.seq, &c.digest)),
        };
        if c.cert.signers.count() < q || !self.verifier.verify_certificate(self.params.n(), &msg, &c.cert) {
            return Err(Violation(format!("{r} commits {} without a valid {:?} certificate", c.seq, proof.kind)));
        }
        match self.committed.get(&c.seq) {
            Some(d) if *d != c.digest => {
                return Err(Violation(format!("agreement: {r} commits {:?} at {} but {:?} was committed", c.digest, c.seq, d)));
            }
            Some(_) => {}
            None => {
                self.committed.insert(c.seq, c.digest);
            }
        }
        self.commits_seen += 1;
        Ok(())
    }

    /// Matching execution digests among honest replicas.
    pub fn on_executed(&mut self, r: ReplicaId, seq: SeqNum, hash: Digest) -> Result<(), Violation> {
        match self.executed.get(&seq) {
            Some(h) if *h != hash => Err(Violation(format!("execution: {r} has {hash:?} at {seq}, others {h:?}"))),
            Some(_) => Ok(()),
            None => {
                self.executed.insert(seq, hash);
                Ok(())
            }
        }
    }

    /// Finality certificates are valid and certify the honest execution result.
    pub fn on_finalized(&mut self, r: ReplicaId, cert: &StateCert) -> Result<(), Violation> {
        let msg = exec_bytes(cert.seq, &cert.block_hash);
        if cert.cert.signers.count() < self.params.finality_quorum()
            || !self.verifier.verify_certificate(self.params.n(), &msg, &cert.cert)
        {
            return Err(Violation(format!("{r} accepted an invalid finality certificate at {}", cert.seq)));
        }
        if self.executed.get(&cert.seq).is_some_and(|h| *h != cert.block_hash) {
            return Err(Violation(format!("finality certificate at {} certifies a wrong hash", cert.seq)));
        }
        self.finality_seen += 1;
        Ok(())
    }

    /// No honest double vote; views announced by an honest replica never go back.
    pub fn on_send(&mut self, r: ReplicaId, msg: &Message) -> Result<(), Violation> {
        let (view, vote) = match msg {
            Message::VoteShare(s) => (s.view, Some((s.view, s.seq, false, s.digest))),
            Message::CommitShare(s) => (s.view, Some((s.view, s.seq, true, s.digest))),
            Message::PrePrepare(p) => (p.view, None),
            Message::ViewChange(v) => (v.new_view, None),
            Message::Complaint(c) => (c.view, None),
            Message::Status(s) => (s.view, None),
            _ => return Ok(()),
        };
        let seen = self.views.entry(r).or_insert(view);
        if view < *seen {
            return Err(Violation(format!("views: {r} announced {view} after {}", *seen)));
        }
        *seen = view;
        if let Some((v, s, commit, d)) = vote {
            match self.votes.get(&(r, v, s, commit)) {
                Some(old) if *old != d => {
                    let what = if commit { "commit share" } else { "vote" };
                    return Err(Violation(format!("double {what}: {r} signed {old:?} and {d:?} at ({v}, {s})")));
                }
                Some(_) => {}
                None => {
                    self.votes.insert((r, v, s, commit), d);
                }
            }
        }
        Ok(())
    }

    /// Highest sequence number committed anywhere.
    pub fn committed_max(&self) -> SeqNum {
        self.committed.keys().next_back().copied().unwrap_or_default()
    }
}
