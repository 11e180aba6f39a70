//! Hands client transactions to the consensus core, and hands again those a block skipped
//! only because their nonce was ahead of the chain.
//!
//! A transaction goes to the core (which gossips it to every replica) as soon as it is
//! accepted: holding it back until its predecessor is in would lose it if this replica
//! crashed meanwhile. The core orders by arrival, so a sender's burst spread over several
//! connections or replicas can be ordered n+1 before n; the block then skips n+1 ("nonce too
//! high") and the core counts it as done. Every replica sees the same skip in the same block
//! and keeps the transaction here; once the sender's nonce reaches it, every replica hands
//! over the same next-attempt payload (the core deduplicates identical payloads), so the
//! retry survives any f crashed replicas.

use alloy_primitives::Address;
use std::collections::{BTreeMap, HashMap};
use stele_consensus::message::Tx;

/// Retries kept at most (beyond this, new ones are dropped and logged).
const RETRIES_MAX: usize = 4_096;

/// Skipped transactions waiting for their sender's nonce.
#[derive(Debug, Default)]
pub(crate) struct Feeder {
    retries: HashMap<Address, BTreeMap<u64, Tx>>,
}

impl Feeder {
    /// A block skipped `tx` because `nonce` was ahead of the sender's account nonce.
    pub(crate) fn retry(&mut self, sender: Address, nonce: u64, tx: Tx) {
        if self.waiting() >= RETRIES_MAX {
            tracing::warn!(%sender, nonce, "too many transactions waiting to be retried; dropping this one");
            return;
        }
        self.retries.entry(sender).or_default().insert(nonce, tx);
    }

    /// A block moved these senders' account nonces; returns the retries that are now next.
    pub(crate) fn on_block(&mut self, nonces: &[(Address, u64)]) -> Vec<Tx> {
        let mut ready = Vec::new();
        for (sender, state_nonce) in nonces {
            let Some(r) = self.retries.get_mut(sender) else { continue };
            // Retries below the account nonce were overtaken (replaced or mined elsewhere).
            *r = r.split_off(state_nonce);
            let mut next = *state_nonce;
            while let Some(tx) = r.remove(&next) {
                ready.push(tx);
                next += 1;
            }
            if r.is_empty() {
                self.retries.remove(sender);
            }
        }
        ready
    }

    /// Transactions waiting to be retried.
    pub(crate) fn waiting(&self) -> usize {
        self.retries.values().map(BTreeMap::len).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tx(n: u8) -> Tx {
        Tx { payload: vec![n], gas: 21_000 }
    }

    fn payloads(txs: &[Tx]) -> Vec<u8> {
        txs.iter().map(|t| t.payload[0]).collect()
    }

    #[test]
    fn a_skipped_transaction_is_retried_when_its_predecessor_lands() {
        let mut f = Feeder::default();
        let a = Address::repeat_byte(1);
        // Nonces 5 and 6 were ordered before 4: both skipped.
        f.retry(a, 6, tx(66));
        f.retry(a, 5, tx(55));
        assert!(f.on_block(&[(a, 4)]).is_empty(), "4 not in yet");
        assert_eq!(payloads(&f.on_block(&[(a, 5)])), vec![55, 66]);
        assert_eq!(f.waiting(), 0);
        // A retry overtaken by the chain (the sender replaced it elsewhere) is forgotten.
        f.retry(a, 7, tx(77));
        assert!(f.on_block(&[(a, 9)]).is_empty());
        assert_eq!(f.waiting(), 0);
    }
}
