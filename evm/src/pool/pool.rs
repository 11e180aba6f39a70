//! The transaction pool: validated transactions waiting for a block, kept per sender by
//! nonce. A sender's transactions from its account nonce up without a gap are *pending*
//! (ready for a block); the rest are *queued* (future nonces, as `forge script` bursts
//! send them). A transaction with the same sender and nonce replaces the old one only with
//! a fee bump of at least [`PoolConfig::price_bump_percent`].
//!
//! Bounded: per sender and globally. When full, the cheapest queued transaction of another
//! sender makes room; pending transactions are never evicted for a newcomer.

use super::validate::ValidTransaction;
use alloy_consensus::Transaction;
use alloy_primitives::{Address, B256};
use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex, MutexGuard},
};

/// Limits of the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolConfig {
    /// Transactions one sender may have in the pool (pending and queued).
    pub per_sender_max: usize,
    /// Transactions in the whole pool.
    pub global_max: usize,
    /// Minimum fee increase, in percent, for a replacement (geth: 10).
    pub price_bump_percent: u128,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self { per_sender_max: 1_024, global_max: 50_000, price_bump_percent: 10 }
    }
}

/// Why the pool refused a valid transaction. `Display` is geth's wording.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    /// The same transaction is already in the pool.
    #[error("already known")]
    AlreadyKnown,
    /// Same sender and nonce with too small a fee increase.
    #[error("replacement transaction underpriced")]
    ReplacementUnderpriced,
    /// The sender has too many transactions in the pool.
    #[error("account limit exceeded")]
    AccountLimit,
    /// The pool is full of pending transactions.
    #[error("txpool is full")]
    Full,
}

/// What adding did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    /// Ready for the next block.
    Pending,
    /// Waiting for a lower nonce.
    Queued,
    /// Replaced a transaction with the same nonce (its hash).
    Replaced(B256),
}

/// A snapshot of the pool for `txpool_content`.
#[derive(Debug, Clone, Default)]
pub struct PoolContent {
    /// Ready transactions by sender and nonce.
    pub pending: BTreeMap<Address, BTreeMap<u64, Arc<ValidTransaction>>>,
    /// Future transactions by sender and nonce.
    pub queued: BTreeMap<Address, BTreeMap<u64, Arc<ValidTransaction>>>,
}

#[derive(Debug, Default)]
struct SenderQueue {
    /// The account nonce last seen at the head.
    state_nonce: u64,
    txs: BTreeMap<u64, (u64, Arc<ValidTransaction>)>,
}

impl SenderQueue {
    /// The first nonce after the contiguous run from the state nonce.
    fn next_nonce(&self) -> u64 {
        let mut next = self.state_nonce;
        while self.txs.contains_key(&next) {
            next += 1;
        }
        next
    }
}

#[derive(Debug, Default)]
struct Inner {
    senders: HashMap<Address, SenderQueue>,
    by_hash: HashMap<B256, (Address, u64)>,
    /// Arrival counter: blocks take transactions in the order they came.
    arrivals: u64,
}

impl Inner {
    fn remove(&mut self, sender: Address, nonce: u64) {
        if let Some(queue) = self.senders.get_mut(&sender) {
            if let Some((_, tx)) = queue.txs.remove(&nonce) {
                self.by_hash.remove(&tx.hash);
            }
            if queue.txs.is_empty() {
                self.senders.remove(&sender);
            }
        }
    }

    /// The cheapest queued (not pending) transaction of a sender other than `except`.
    fn cheapest_queued(&self, except: Address) -> Option<(Address, u64)> {
        self.senders
            .iter()
            .filter(|(sender, _)| **sender != except)
            .flat_map(|(sender, queue)| {
                let next = queue.next_nonce();
                queue.txs.range(next..).map(move |(nonce, (_, tx))| (tx.transaction.max_fee_per_gas(), *sender, *nonce))
            })
            .min()
            .map(|(_, sender, nonce)| (sender, nonce))
    }
}

/// The pool. Shared between the RPC server and the block producer.
#[derive(Debug, Default)]
pub struct TxPool {
    config: PoolConfig,
    inner: Mutex<Inner>,
}

impl TxPool {
    /// An empty pool.
    pub fn new(config: PoolConfig) -> Self {
        Self { config, inner: Mutex::default() }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the maps half-updated in a way that
        // matters more than losing the pool, so a poisoned lock is taken over.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds a transaction that passed [`super::validate_transaction`].
    pub fn add(&self, tx: ValidTransaction) -> Result<Added, PoolError> {
        let mut inner = self.lock();
        if inner.by_hash.contains_key(&tx.hash) {
            return Err(PoolError::AlreadyKnown);
        }
        let sender = tx.sender;
        let nonce = tx.transaction.nonce();
        let total: usize = inner.by_hash.len();
        let queue = inner.senders.entry(sender).or_default();
        queue.state_nonce = queue.state_nonce.max(tx.account_nonce);
        let mut replaced = None;
        if let Some((_, old)) = queue.txs.get(&nonce) {
            let bump = |old: u128| old + old * self.config.price_bump_percent / 100;
            let old_tip = old.transaction.max_priority_fee_per_gas().unwrap_or(old.transaction.max_fee_per_gas());
            let new_tip = tx.transaction.max_priority_fee_per_gas().unwrap_or(tx.transaction.max_fee_per_gas());
            if tx.transaction.max_fee_per_gas() < bump(old.transaction.max_fee_per_gas()) || new_tip < bump(old_tip) {
                return Err(PoolError::ReplacementUnderpriced);
            }
            replaced = Some(old.hash);
        } else if queue.txs.len() >= self.config.per_sender_max {
            return Err(PoolError::AccountLimit);
        }
        if replaced.is_none() && total >= self.config.global_max {
            let Some((victim, victim_nonce)) = inner.cheapest_queued(sender) else {
                return Err(PoolError::Full);
            };
            inner.remove(victim, victim_nonce);
        }
        inner.arrivals += 1;
        let arrival = inner.arrivals;
        let hash = tx.hash;
        if let Some(old) = replaced {
            inner.by_hash.remove(&old);
        }
        inner.by_hash.insert(hash, (sender, nonce));
        let queue = inner.senders.entry(sender).or_default();
        queue.txs.insert(nonce, (arrival, Arc::new(tx)));
        Ok(match replaced {
            Some(old) => Added::Replaced(old),
            None if nonce < queue.next_nonce() => Added::Pending,
            None => Added::Queued,
        })
    }

    /// The nonce a new transaction of `sender` should use: past its contiguous pool
    /// transactions (`eth_getTransactionCount(.., "pending")`).
    pub fn pending_nonce(&self, sender: Address, state_nonce: u64) -> u64 {
        let inner = self.lock();
        match inner.senders.get(&sender) {
            None => state_nonce,
            Some(queue) => {
                let mut next = state_nonce.max(queue.state_nonce);
                while queue.txs.contains_key(&next) {
                    next += 1;
                }
                next
            }
        }
    }

    /// A transaction in the pool by hash.
    pub fn get(&self, hash: &B256) -> Option<Arc<ValidTransaction>> {
        let inner = self.lock();
        let (sender, nonce) = inner.by_hash.get(hash)?;
        inner.senders.get(sender)?.txs.get(nonce).map(|(_, tx)| tx.clone())
    }

    /// Numbers of pending and queued transactions.
    pub fn status(&self) -> (usize, usize) {
        let inner = self.lock();
        inner.senders.values().fold((0, 0), |(p, q), queue| {
            let next = queue.next_nonce();
            let pending = queue.txs.range(..next).count();
            (p + pending, q + queue.txs.len() - pending)
        })
    }

    /// Everything in the pool, split into pending and queued.
    pub fn content(&self) -> PoolContent {
        let inner = self.lock();
        let mut content = PoolContent::default();
        for (sender, queue) in &inner.senders {
            let next = queue.next_nonce();
            for (nonce, (_, tx)) in &queue.txs {
                let side = if *nonce < next { &mut content.pending } else { &mut content.queued };
                side.entry(*sender).or_default().insert(*nonce, tx.clone());
            }
        }
        content
    }

    /// Up to `max_count` pending transactions whose gas limits add up to at most
    /// `max_gas`, in arrival order, each sender's in nonce order. They stay in the pool
    /// until [`TxPool::on_block`] says they were included.
    pub fn next_batch(&self, max_count: usize, max_gas: u64) -> Vec<Arc<ValidTransaction>> {
        let inner = self.lock();
        // Each sender's ready run, then merged by the arrival of each run's head.
        let mut runs: Vec<std::collections::VecDeque<&(u64, Arc<ValidTransaction>)>> = inner
            .senders
            .values()
            .map(|queue| {
                let next = queue.next_nonce();
                queue.txs.range(..next).map(|(_, entry)| entry).collect()
            })
            .filter(|run: &std::collections::VecDeque<_>| !run.is_empty())
            .collect();
        let mut batch = Vec::new();
        let mut gas = 0u64;
        while batch.len() < max_count {
            let Some(best) = runs
                .iter()
                .enumerate()
                .filter_map(|(i, run)| run.front().map(|(arrival, _)| (*arrival, i)))
                .min()
                .map(|(_, i)| i)
            else {
                break;
            };
            let Some((_, tx)) = runs[best].pop_front() else { break };
            let tx_gas = tx.transaction.gas_limit();
            if gas + tx_gas > max_gas {
                // This sender's later nonces cannot go without this one.
                runs[best].clear();
                continue;
            }
            gas += tx_gas;
            batch.push(tx.clone());
        }
        batch
    }

    /// A block was committed: `nonces` are the new account nonces of the senders it
    /// touched; `dropped` are transactions the block left out as invalid.
    pub fn on_block(&self, nonces: &[(Address, u64)], dropped: &[B256]) {
        let mut inner = self.lock();
        for (sender, nonce) in nonces {
            let stale: Vec<u64> = match inner.senders.get_mut(sender) {
                Some(queue) => {
                    queue.state_nonce = queue.state_nonce.max(*nonce);
                    queue.txs.range(..*nonce).map(|(n, _)| *n).collect()
                }
                None => continue,
            };
            for n in stale {
                inner.remove(*sender, n);
            }
        }
        for hash in dropped {
            if let Some((sender, nonce)) = inner.by_hash.get(hash).copied() {
                inner.remove(sender, nonce);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_consensus::{Signed, TxEip1559, TxEnvelope};
    use alloy_primitives::{Signature, TxKind, U256};

    fn tx(sender: u8, nonce: u64, fee: u128, account_nonce: u64) -> ValidTransaction {
        let inner = TxEip1559 {
            chain_id: 1,
            nonce,
            gas_limit: 21_000,
            max_fee_per_gas: fee,
            max_priority_fee_per_gas: fee,
            to: TxKind::Call(Address::ZERO),
            value: U256::from(sender),
            ..Default::default()
        };
        let signed = Signed::new_unchecked(inner, Signature::test_signature(), alloy_primitives::keccak256([sender, nonce as u8, fee as u8]));
        let hash = *signed.hash();
        ValidTransaction {
            transaction: TxEnvelope::Eip1559(signed),
            hash,
            sender: Address::repeat_byte(sender),
            max_cost: U256::ZERO,
            account_nonce,
        }
    }

    #[test]
    fn future_nonces_queue_until_the_gap_fills() {
        let pool = TxPool::new(PoolConfig::default());
        assert_eq!(pool.add(tx(1, 2, 10, 0)).unwrap(), Added::Queued);
        assert_eq!(pool.add(tx(1, 1, 10, 0)).unwrap(), Added::Queued);
        assert_eq!(pool.pending_nonce(Address::repeat_byte(1), 0), 0);
        assert_eq!(pool.add(tx(1, 0, 10, 0)).unwrap(), Added::Pending);
        assert_eq!(pool.status(), (3, 0));
        assert_eq!(pool.pending_nonce(Address::repeat_byte(1), 0), 3);
        let batch = pool.next_batch(10, 1_000_000);
        let nonces: Vec<u64> = batch.iter().map(|t| t.transaction.nonce()).collect();
        assert_eq!(nonces, vec![0, 1, 2]);
        pool.on_block(&[(Address::repeat_byte(1), 3)], &[]);
        assert_eq!(pool.status(), (0, 0));
    }

    #[test]
    fn replacement_needs_a_ten_percent_bump() {
        let pool = TxPool::new(PoolConfig::default());
        pool.add(tx(1, 0, 100, 0)).unwrap();
        assert_eq!(pool.add(tx(1, 0, 109, 0)), Err(PoolError::ReplacementUnderpriced));
        assert!(matches!(pool.add(tx(1, 0, 110, 0)), Ok(Added::Replaced(_))));
        assert_eq!(pool.status(), (1, 0));
    }

    #[test]
    fn limits_evict_queued_of_others_never_pending() {
        let pool = TxPool::new(PoolConfig { per_sender_max: 2, global_max: 3, price_bump_percent: 10 });
        pool.add(tx(1, 0, 10, 0)).unwrap();
        pool.add(tx(1, 1, 10, 0)).unwrap();
        assert_eq!(pool.add(tx(1, 2, 10, 0)), Err(PoolError::AccountLimit));
        pool.add(tx(2, 5, 1, 0)).unwrap(); // queued, cheap
        // Full: the newcomer evicts sender 2's queued transaction.
        assert_eq!(pool.add(tx(3, 0, 10, 0)).unwrap(), Added::Pending);
        assert_eq!(pool.status(), (3, 0));
        // Full of pending only: refused.
        assert_eq!(pool.add(tx(4, 0, 10, 0)), Err(PoolError::Full));
    }

    #[test]
    fn batches_follow_arrival_and_respect_gas() {
        let pool = TxPool::new(PoolConfig::default());
        pool.add(tx(2, 0, 10, 0)).unwrap();
        pool.add(tx(1, 0, 10, 0)).unwrap();
        pool.add(tx(2, 1, 10, 0)).unwrap();
        let order: Vec<(u8, u64)> =
            pool.next_batch(10, 1_000_000).iter().map(|t| (t.sender.0[0], t.transaction.nonce())).collect();
        assert_eq!(order, vec![(2, 0), (1, 0), (2, 1)]);
        assert_eq!(pool.next_batch(10, 42_000).len(), 2);
    }
}
