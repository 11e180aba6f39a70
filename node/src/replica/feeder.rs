//! Hands client transactions to the consensus core in nonce order, per sender.
//!
//! The core orders what it is given by arrival; a block that holds nonce 5 before nonce 4
//! would skip 5 as "nonce too high" and the transaction would be lost (the core counts it
//! as committed). So a transaction reaches the core only once every lower nonce of its
//! sender is in the chain or already handed over; later nonces wait here. The pool bounds
//! how many can wait.

use alloy_primitives::Address;
use std::collections::{BTreeMap, HashMap};
use stele_consensus::message::Tx;

/// Per-sender gate in front of the core.
#[derive(Debug, Default)]
pub(crate) struct Feeder {
    /// The next nonce the core may receive, per sender with work in flight.
    next: HashMap<Address, u64>,
    /// Transactions waiting for a lower nonce.
    waiting: HashMap<Address, BTreeMap<u64, Tx>>,
    /// Transactions a block skipped for a nonce ahead of the chain, to hand over again (next
    /// attempt) once the sender's nonce reaches them.
    retries: HashMap<Address, BTreeMap<u64, Tx>>,
}

/// Retries kept at most (the oldest sender's are dropped beyond this).
const RETRIES_MAX: usize = 4_096;

impl Feeder {
    /// A validated transaction arrived; returns what may go to the core now, in order.
    pub(crate) fn admit(&mut self, sender: Address, nonce: u64, state_nonce: u64, tx: Tx) -> Vec<Tx> {
        let next = self.next.entry(sender).or_insert(state_nonce);
        *next = (*next).max(state_nonce);
        if nonce < *next {
            // A replacement of a nonce already handed over: the block keeps the first valid one.
            return vec![tx];
        }
        if nonce > *next {
            self.waiting.entry(sender).or_default().insert(nonce, tx);
            return Vec::new();
        }
        let mut ready = vec![tx];
        *next += 1;
        self.drain(sender, &mut ready);
        ready
    }

    /// A block skipped `tx` because `nonce` was ahead of the sender's account nonce.
    pub(crate) fn retry(&mut self, sender: Address, nonce: u64, tx: Tx) {
        if self.retries.values().map(BTreeMap::len).sum::<usize>() >= RETRIES_MAX {
            tracing::warn!(%sender, nonce, "too many transactions waiting to be retried; dropping this one");
            return;
        }
        self.retries.entry(sender).or_default().insert(nonce, tx);
    }

    /// A block moved these senders' account nonces; returns transactions that became ready.
    pub(crate) fn on_block(&mut self, nonces: &[(Address, u64)]) -> Vec<Tx> {
        let mut ready = Vec::new();
        for (sender, state_nonce) in nonces {
            if let Some(r) = self.retries.get_mut(sender) {
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
            let Some(next) = self.next.get_mut(sender) else { continue };
            *next = (*next).max(*state_nonce);
            if let Some(w) = self.waiting.get_mut(sender) {
                *w = w.split_off(state_nonce);
            }
            self.drain(*sender, &mut ready);
            let idle = self.waiting.get(sender).is_none_or(BTreeMap::is_empty);
            if idle && self.next.get(sender).is_some_and(|n| n <= state_nonce) {
                self.next.remove(sender);
                self.waiting.remove(sender);
            }
        }
        ready
    }

    /// Transactions waiting for a lower nonce (or a retry).
    pub(crate) fn waiting(&self) -> usize {
        self.retries.values().map(BTreeMap::len).sum::<usize>() +
        self.waiting.values().map(BTreeMap::len).sum::<usize>()
    }

    fn drain(&mut self, sender: Address, ready: &mut Vec<Tx>) {
        let (Some(next), Some(w)) = (self.next.get_mut(&sender), self.waiting.get_mut(&sender)) else { return };
        while let Some(tx) = w.remove(next) {
            ready.push(tx);
            *next += 1;
        }
        if w.is_empty() {
            self.waiting.remove(&sender);
        }
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
    fn out_of_order_arrivals_leave_in_nonce_order() {
        let mut f = Feeder::default();
        let a = Address::repeat_byte(1);
        assert!(f.admit(a, 2, 0, tx(2)).is_empty());
        assert!(f.admit(a, 1, 0, tx(1)).is_empty());
        assert_eq!(payloads(&f.admit(a, 0, 0, tx(0))), vec![0, 1, 2]);
        assert_eq!(payloads(&f.admit(a, 3, 0, tx(3))), vec![3]);
        assert_eq!(f.waiting(), 0);
    }

    #[test]
    fn a_block_from_elsewhere_releases_the_waiting() {
        let mut f = Feeder::default();
        let a = Address::repeat_byte(1);
        // Nonces 0..=4 went through another replica; 5 and 6 arrive here first.
        assert!(f.admit(a, 6, 0, tx(6)).is_empty());
        assert!(f.admit(a, 5, 0, tx(5)).is_empty());
        assert_eq!(payloads(&f.on_block(&[(a, 5)])), vec![5, 6]);
        assert!(f.on_block(&[(a, 7)]).is_empty());
        assert!(f.next.is_empty() && f.waiting.is_empty(), "nothing left behind");
    }

    #[test]
    fn a_skipped_transaction_is_retried_when_its_predecessor_lands() {
        let mut f = Feeder::default();
        let a = Address::repeat_byte(1);
        // Nonce 4 went through another replica and was ordered after our 5: 5 was skipped.
        f.retry(a, 5, tx(55));
        assert!(f.on_block(&[(a, 4)]).is_empty(), "4 not in yet");
        assert_eq!(payloads(&f.on_block(&[(a, 5)])), vec![55]);
        assert_eq!(f.waiting(), 0);
        // A retry overtaken by the chain (the sender replaced it elsewhere) is forgotten.
        f.retry(a, 6, tx(66));
        assert!(f.on_block(&[(a, 9)]).is_empty());
        assert_eq!(f.waiting(), 0);
    }
}
