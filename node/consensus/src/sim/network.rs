//! The simulated network: per-link latency distributions, drop, duplicate and reorder, and
//! the seven network adversaries of concord's Apollo as sets of blocked directed links.

use super::seed::SimRng;
use crate::types::ReplicaId;
use std::collections::BTreeSet;

/// Apollo's adversaries (tests/apollo/util/bft_network_partitioning.py), by name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Adversary {
    /// Nothing blocked.
    Passive,
    /// The given primary can neither send nor receive.
    PrimaryIsolating(ReplicaId),
    /// Every message is dropped with this probability (per mille).
    PacketDropping(u32),
    /// The subset is cut off in both directions.
    SubsetIsolating(Vec<ReplicaId>),
    /// The subset receives nothing (it can still send).
    SubsetOneWayIsolating(Vec<ReplicaId>),
    /// Messages from the first set to the second are dropped.
    OneWayTwoSubsets(Vec<ReplicaId>, Vec<ReplicaId>),
    /// The two sets cannot talk to each other.
    TwoWayTwoSubsets(Vec<ReplicaId>, Vec<ReplicaId>),
}

/// Link behaviour.
#[derive(Clone, Debug)]
pub struct Network {
    n: usize,
    base_ms: Vec<u64>,
    /// Jitter added uniformly in `[0, jitter_ms]`.
    pub jitter_ms: u64,
    /// Baseline drop probability (before adversaries).
    pub drop_rate: f64,
    /// Duplicate probability.
    pub dup_rate: f64,
    blocked: BTreeSet<(u16, u16)>,
    adversary_drop: f64,
    /// Extra delay on everything a slow replica sends.
    pub slow_ms: Vec<u64>,
}

impl Network {
    /// A network of `n` replicas whose per-link base latency is drawn from `[lo, hi]` ms.
    pub fn new(n: usize, rng: &mut SimRng, lo: u64, hi: u64, jitter_ms: u64) -> Self {
        let base_ms = (0..n * n).map(|_| rng.range(lo, hi + 1)).collect();
        Self { n, base_ms, jitter_ms, drop_rate: 0.0, dup_rate: 0.0, blocked: BTreeSet::new(), adversary_drop: 0.0, slow_ms: vec![0; n] }
    }

    /// A fixed latency on every link (for measurements in message delays).
    pub fn uniform(n: usize, latency_ms: u64) -> Self {
        Self { n, base_ms: vec![latency_ms; n * n], jitter_ms: 0, drop_rate: 0.0, dup_rate: 0.0, blocked: BTreeSet::new(), adversary_drop: 0.0, slow_ms: vec![0; n] }
    }

    /// Applies an adversary (replacing the previous one).
    pub fn set_adversary(&mut self, adv: &Adversary) {
        self.blocked.clear();
        self.adversary_drop = 0.0;
        let all: Vec<ReplicaId> = (0..self.n).map(|i| ReplicaId::new(i as u16)).collect();
        let mut cut = |from: &[ReplicaId], to: &[ReplicaId]| {
            for a in from {
                for b in to {
                    if a != b {
                        self.blocked.insert((a.get(), b.get()));
                    }
                }
            }
        };
        match adv {
            Adversary::Passive => {}
            Adversary::PacketDropping(pm) => self.adversary_drop = f64::from(*pm) / 1000.0,
            Adversary::PrimaryIsolating(p) => {
                cut(&[*p], &all);
                cut(&all, &[*p]);
            }
            Adversary::SubsetIsolating(s) => {
                cut(s, &all);
                cut(&all, s);
            }
            Adversary::SubsetOneWayIsolating(s) => cut(&all, s),
            Adversary::OneWayTwoSubsets(a, b) => cut(a, b),
            Adversary::TwoWayTwoSubsets(a, b) => {
                cut(a, b);
                cut(b, a);
            }
        }
    }

    /// Delivery delays for one message (empty = dropped; two = duplicated).
    pub fn delays(&self, rng: &mut SimRng, from: ReplicaId, to: ReplicaId) -> Vec<u64> {
        if self.blocked.contains(&(from.get(), to.get())) {
            return vec![];
        }
        if rng.chance(self.drop_rate) || rng.chance(self.adversary_drop) {
            return vec![];
        }
        let base = self.base_ms[from.index() * self.n + to.index()] + self.slow_ms[from.index()];
        let mut out = vec![base + rng.range(0, self.jitter_ms + 1)];
        if rng.chance(self.dup_rate) {
            out.push(base + rng.range(0, 3 * self.jitter_ms + 2));
        }
        out
    }
}
