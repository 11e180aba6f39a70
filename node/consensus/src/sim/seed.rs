//! Seeds: one ChaCha stream per simulation, derived sub-streams, and the replay banner.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The simulation's only source of randomness.
#[derive(Debug, Clone)]
pub struct SimRng(ChaCha8Rng);

impl SimRng {
    /// A stream for `seed`, salted so that sub-streams (scenario choice, network) are independent.
    pub fn new(seed: u64, salt: u64) -> Self {
        Self(ChaCha8Rng::seed_from_u64(seed ^ salt.wrapping_mul(0x9E37_79B9_7F4A_7C15)))
    }
    /// Uniform in `[lo, hi)` (returns `lo` when empty).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo { lo } else { self.0.random_range(lo..hi) }
    }
    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.0.random_bool(p.min(1.0))
    }
    /// A uniformly chosen element.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        if items.is_empty() { None } else { items.get(self.range(0, items.len() as u64) as usize) }
    }
    /// `k` distinct indices out of `0..n`.
    pub fn subset(&mut self, n: usize, k: usize) -> Vec<usize> {
        let mut all: Vec<usize> = (0..n).collect();
        for i in 0..k.min(n) {
            let j = self.range(i as u64, n as u64) as usize;
            all.swap(i, j);
        }
        all.truncate(k.min(n));
        all.sort_unstable();
        all
    }
}

/// How to replay a failing run.
pub fn replay_hint(scenario: &str, params: &crate::params::Params, seed: u64) -> String {
    format!(
        "replay: STELE_SIM_TRACE=1 cargo run --release -p stele-consensus --example soak -- --scenario {scenario} --config {},{},{} --seed {seed}",
        params.n(),
        params.f(),
        params.c()
    )
}
