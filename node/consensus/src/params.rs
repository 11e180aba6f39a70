//! `Params`: n, f, c and every quorum size of SBFT (sbft.md §1.10), checked once.
//!
//! No other file computes a quorum: they all ask `Params`.

use crate::types::{ReplicaId, SeqNum, ViewNum};
use thiserror::Error;

/// Cluster sizing rejected by [`Params::new`].
#[derive(Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParamsError {
    /// n must equal 3f + 2c + 1.
    #[error("n = {n} but 3f + 2c + 1 = {expected} (f = {f}, c = {c})")]
    WrongSize {
        /// Replicas given.
        n: u16,
        /// Byzantine bound.
        f: u16,
        /// Crash/slow bound for the fast path.
        c: u16,
        /// 3f + 2c + 1.
        expected: u32,
    },
    /// The execution-certificate quorum must be in `f+1 ..= 2f+c+1`.
    #[error("finality quorum {quorum} outside f+1 ..= 2f+c+1")]
    FinalityQuorum {
        /// Requested quorum.
        quorum: u16,
    },
}

/// The cluster's fault parameters and derived quorum sizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Params {
    n: u16,
    f: u16,
    c: u16,
    finality_quorum: u16,
}

impl Params {
    /// Checks n = 3f + 2c + 1 (SBFT §1.1). The finality quorum defaults to f+1.
    pub fn new(n: u16, f: u16, c: u16) -> Result<Self, ParamsError> {
        let expected = 3 * u32::from(f) + 2 * u32::from(c) + 1;
        if u32::from(n) != expected {
            return Err(ParamsError::WrongSize { n, f, c, expected });
        }
        Ok(Self { n, f, c, finality_quorum: f + 1 })
    }

    /// The largest f (then c = remainder / 2) for `n` replicas, as used by the scaling runs.
    pub fn for_n(n: u16, c: u16) -> Result<Self, ParamsError> {
        let f = n.saturating_sub(1 + 2 * c) / 3;
        Self::new(n, f, c)
    }

    /// Raises the execution-certificate quorum (sbft.md decision 1: configurable up to 2f+c+1).
    pub fn with_finality_quorum(mut self, quorum: u16) -> Result<Self, ParamsError> {
        if quorum < self.f + 1 || quorum > self.slow_quorum() as u16 {
            return Err(ParamsError::FinalityQuorum { quorum });
        }
        self.finality_quorum = quorum;
        Ok(self)
    }

    /// Number of replicas.
    pub const fn n(&self) -> usize {
        self.n as usize
    }
    /// Byzantine replicas tolerated.
    pub const fn f(&self) -> usize {
        self.f as usize
    }
    /// Crashed or slow replicas tolerated by the fast path.
    pub const fn c(&self) -> usize {
        self.c as usize
    }
    /// Fast path σ: 3f + c + 1 shares (= n when c = 0).
    pub const fn fast_quorum(&self) -> usize {
        3 * self.f() + self.c() + 1
    }
    /// Slow path τ (prepare and commit): 2f + c + 1.
    pub const fn slow_quorum(&self) -> usize {
        2 * self.f() + self.c() + 1
    }
    /// View-change quorum: 2f + 2c + 1 = n − f.
    pub const fn view_change_quorum(&self) -> usize {
        2 * self.f() + 2 * self.c() + 1
    }
    /// Fast-path evidence needed in a view-change set: f + c + 1 equal votes.
    pub const fn fast_evidence(&self) -> usize {
        self.f() + self.c() + 1
    }
    /// Complaints (or view-change messages) that prove one honest replica wants to leave: f + 1.
    pub const fn complaint_quorum(&self) -> usize {
        self.f() + 1
    }
    /// Execution (finality) certificate: f + 1 by default.
    pub const fn finality_quorum(&self) -> usize {
        self.finality_quorum as usize
    }
    /// Matching checkpoint signatures for a stable checkpoint: 2f + c + 1.
    pub const fn checkpoint_quorum(&self) -> usize {
        self.slow_quorum()
    }
    /// Primary of `view`: `view mod n`.
    pub fn primary(&self, view: ViewNum) -> ReplicaId {
        ReplicaId::new((view.get() % u64::from(self.n)) as u16)
    }
    /// The c + 1 C-collectors of (seq, view): rotate with the sequence number and skip the
    /// primary whenever n allows it (SBFT §1.2; concord never uses the primary for the fast path).
    pub fn c_collectors(&self, seq: SeqNum, view: ViewNum) -> Vec<ReplicaId> {
        self.rotating(seq, view, 0)
    }
    /// The c + 1 E-collectors of seq: the same rotation shifted by c + 1 so the load spreads.
    pub fn e_collectors(&self, seq: SeqNum, view: ViewNum) -> Vec<ReplicaId> {
        self.rotating(seq, view, self.c() + 1)
    }

    fn rotating(&self, seq: SeqNum, view: ViewNum, shift: usize) -> Vec<ReplicaId> {
        let n = u64::from(self.n);
        let primary = self.primary(view);
        let want = (self.c() + 1).min(self.n().saturating_sub(1).max(1));
        let start = (seq.get() + view.get() + shift as u64) % n;
        let mut out = Vec::with_capacity(want);
        for k in 0..n {
            if out.len() == want {
                break;
            }
            let r = ReplicaId::new(((start + k) % n) as u16);
            if r != primary || self.n == 1 {
                out.push(r);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quorum_table_matches_sbft_md() {
        // (n, f, c) -> fast, slow, vc, evidence, complaint, finality  (sbft.md §1.10)
        let rows = [
            (4, 1, 0, 4, 3, 3, 2, 2, 2),
            (6, 1, 1, 5, 4, 5, 3, 2, 2),
            (7, 2, 0, 7, 5, 5, 3, 3, 3),
            (209, 64, 8, 201, 137, 145, 73, 65, 65),
        ];
        for (n, f, c, fast, slow, vc, ev, comp, fin) in rows {
            let p = Params::new(n, f, c).unwrap();
            assert_eq!(
                (p.fast_quorum(), p.slow_quorum(), p.view_change_quorum(), p.fast_evidence()),
                (fast, slow, vc, ev)
            );
            assert_eq!((p.complaint_quorum(), p.finality_quorum()), (comp, fin));
            assert_eq!(p.view_change_quorum(), p.n() - p.f());
        }
    }

    #[test]
    fn rejects_wrong_sizes() {
        assert!(Params::new(5, 1, 0).is_err());
        assert!(Params::new(4, 1, 0).unwrap().with_finality_quorum(4).is_err());
    }

    #[test]
    fn collectors_rotate_and_skip_primary() {
        let p = Params::new(6, 1, 1).unwrap();
        for s in 0..20 {
            for v in 0..6 {
                let cs = p.c_collectors(SeqNum::new(s), ViewNum::new(v));
                assert_eq!(cs.len(), 2);
                assert!(!cs.contains(&p.primary(ViewNum::new(v))));
            }
        }
        let a = p.c_collectors(SeqNum::new(1), ViewNum::new(0));
        let b = p.c_collectors(SeqNum::new(2), ViewNum::new(0));
        assert_ne!(a, b);
    }
}
