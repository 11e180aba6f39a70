//! The new state root after a block, from the accounts and slots it changed.

use super::{
    mpt::{Committed, KeyChange, NodeKey, NodeSource, NodeWrites, Trie, TrieError},
    parallel,
    resident::{ResidentState, ResidentStorage, ResidentTrie, RESIDENT_DEPTH, RESIDENT_STORAGE_TRIES},
};
use alloy_primitives::{keccak256, Address, B256, U256};
use alloy_trie::{TrieAccount, EMPTY_ROOT_HASH};
use std::collections::{BTreeMap, HashMap};

/// One account's change in a block.
#[derive(Debug, Clone)]
pub struct AccountUpdate {
    /// The account.
    pub address: Address,
    /// Its new nonce, balance and code hash; `None` when it no longer exists.
    pub account: Option<(u64, U256, B256)>,
    /// Where its storage root before the block is stored.
    pub prior_storage_root: NodeKey,
    /// The storage was cleared (self-destruct, or re-creation) before `storage` applied.
    pub wipe_storage: bool,
    /// New slot values; zero deletes the slot.
    pub storage: Vec<(B256, U256)>,
}

/// A new state root and what to store for it.
#[derive(Debug)]
pub struct StateRootOutput {
    /// The state root and where it is stored.
    pub root: NodeKey,
    /// The new storage root of every updated account that still exists.
    pub storage_roots: BTreeMap<Address, NodeKey>,
    /// Trie nodes to store under the block, (hash, stored value).
    pub nodes: NodeWrites,
}

/// The root of an empty trie (never stored, so its block means nothing).
pub const EMPTY_ROOT: NodeKey = NodeKey { block: 0, hash: EMPTY_ROOT_HASH };

/// Changes below which a trie is updated on one thread: handing work to a second thread
/// costs more than a few keys take.
const PARALLEL_CHANGES_MIN: usize = 64;

/// Applies `updates` to the state trie with root `prior_root` for `block` (whose write will
/// store the new nodes), on all cores.
pub fn compute_state_root<S: NodeSource + Sync>(
    src: &S,
    prior_root: NodeKey,
    updates: &[AccountUpdate],
    block: u64,
) -> Result<StateRootOutput, TrieError> {
    compute_state_root_on(src, prior_root, updates, block, parallel::default_workers())
}

/// [`compute_state_root`] on up to `workers` threads.
pub fn compute_state_root_on<S: NodeSource + Sync>(
    src: &S,
    prior_root: NodeKey,
    updates: &[AccountUpdate],
    block: u64,
    workers: usize,
) -> Result<StateRootOutput, TrieError> {
    Ok(compute_state_root_from(src, prior_root, updates, block, workers, ResidentState::default())?.0)
}

/// [`compute_state_root`] starting from the tries the parent block's root left decoded
/// (empty: from the database), returning the tries to keep for the next block
/// ([`super::resident`]).
pub fn compute_state_root_keeping<S: NodeSource + Sync>(
    src: &S,
    prior_root: NodeKey,
    updates: &[AccountUpdate],
    block: u64,
    resident: ResidentState,
) -> Result<(StateRootOutput, ResidentState), TrieError> {
    compute_state_root_from(src, prior_root, updates, block, parallel::default_workers(), resident)
}

/// The state root on up to `workers` threads, from `resident` where it holds the prior tries.
///
/// First the storage tries of the accounts whose storage changed: they are independent of
/// each other, so small ones are spread over the workers, and a large one (an ERC-20's
/// balances) is itself split across them by subtrie ([`Trie::update_and_commit`]). Then the
/// account trie, whose leaves need those storage roots, split the same way. The root does
/// not depend on how the work was split nor on what was resident (the proptest below checks
/// against a rebuild).
fn compute_state_root_from<S: NodeSource + Sync>(
    src: &S,
    prior_root: NodeKey,
    updates: &[AccountUpdate],
    block: u64,
    workers: usize,
    mut resident: ResidentState,
) -> Result<(StateRootOutput, ResidentState), TrieError> {
    let needs_storage_trie = |u: &&AccountUpdate| u.account.is_some() && (u.wipe_storage || !u.storage.is_empty());
    // Each changed storage trie with where it starts: its kept trie if it has one (then it
    // is kept again), or the stored root.
    let jobs: Vec<StorageJob<'_>> = updates
        .iter()
        .filter(needs_storage_trie)
        .map(|update| {
            let prior = if update.wipe_storage { EMPTY_ROOT } else { update.prior_storage_root };
            let kept = if update.wipe_storage { None } else { resident.take_storage(update.address, prior) };
            let busy = kept.as_ref().map_or(0, |(_, busy)| *busy);
            let keep = kept.is_some() || update.storage.len() >= PARALLEL_CHANGES_MIN;
            let start = kept.map_or_else(|| Trie::at(prior), |(trie, _)| trie);
            StorageJob { update, prior, start, keep, busy }
        })
        .collect();
    // Deleted accounts lose their storage trie.
    resident.storage.retain(|kept| updates.iter().all(|u| u.address != kept.address || u.account.is_some()));
    let (large, small): (Vec<StorageJob<'_>>, Vec<StorageJob<'_>>) =
        jobs.into_iter().partition(|job| job.update.storage.len() >= PARALLEL_CHANGES_MIN);
    let mut out = StateRootOutput { root: EMPTY_ROOT, storage_roots: BTreeMap::new(), nodes: Vec::new() };
    let mut new_storage_roots = HashMap::with_capacity(small.len() + large.len());
    let mut kept_storage = Vec::new();
    let small_slots: usize = small.iter().map(|job| job.update.storage.len()).sum();
    let small_workers = if small_slots >= PARALLEL_CHANGES_MIN { workers } else { 1 };
    let mut finish = |job_keep: (Address, usize, bool), committed: Committed| {
        let (address, busy, keep) = job_keep;
        out.nodes.extend(committed.writes);
        new_storage_roots.insert(address, committed.root);
        if keep {
            let resident = ResidentTrie { root: committed.root, trie: committed.resident };
            kept_storage.push(ResidentStorage { address, resident, busy });
        }
    };
    for (job_keep, result) in parallel::map(small, small_workers, |job| (job.identity(), job.run(src, block, 1))) {
        finish(job_keep, result?);
    }
    for job in large {
        let job_keep = job.identity();
        finish(job_keep, job.run(src, block, workers)?);
    }

    let mut changes = Vec::with_capacity(updates.len());
    for update in updates {
        let key = keccak256(update.address);
        let Some((nonce, balance, code_hash)) = update.account else {
            changes.push((key, None));
            continue;
        };
        let storage_root = new_storage_roots.get(&update.address).copied().unwrap_or(update.prior_storage_root);
        out.storage_roots.insert(update.address, storage_root);
        let leaf = TrieAccount { nonce, balance, storage_root: storage_root.hash, code_hash };
        changes.push((key, Some(alloy_rlp::encode(leaf))));
    }
    let account_workers = if changes.len() >= PARALLEL_CHANGES_MIN { workers } else { 1 };
    let start = resident.take_accounts(prior_root);
    let committed = Trie::update_and_commit(start, prior_root, src, &changes, account_workers, block, RESIDENT_DEPTH)?;
    out.nodes.extend(committed.writes);
    out.root = committed.root;

    // The busiest storage tries stay: this block's, then older ones fading by half a block.
    for older in &mut resident.storage {
        older.busy /= 2;
    }
    kept_storage.extend(resident.storage);
    kept_storage.sort_by(|a, b| b.busy.cmp(&a.busy));
    kept_storage.truncate(RESIDENT_STORAGE_TRIES);
    let accounts = Some(ResidentTrie { root: committed.root, trie: committed.resident });
    Ok((out, ResidentState { accounts, storage: kept_storage }))
}

/// One storage trie to update.
struct StorageJob<'a> {
    update: &'a AccountUpdate,
    /// Where its root was stored before the block (empty if wiped).
    prior: NodeKey,
    /// Its kept trie, or the stored root.
    start: Trie,
    /// Whether to keep it decoded for the next block.
    keep: bool,
    /// How busy it was before this block.
    busy: usize,
}

impl StorageJob<'_> {
    /// The account, how busy its trie is counting this block, and whether it is kept.
    fn identity(&self) -> (Address, usize, bool) {
        (self.update.address, self.busy / 2 + self.update.storage.len(), self.keep)
    }

    /// The new storage root of the account, and the trie nodes to store for it.
    fn run<S: NodeSource + Sync>(self, src: &S, block: u64, workers: usize) -> Result<Committed, TrieError> {
        let changes: Vec<KeyChange> = self
            .update
            .storage
            .iter()
            .map(|(slot, value)| (keccak256(slot), (!value.is_zero()).then(|| alloy_rlp::encode(value))))
            .collect();
        let keep_depth = if self.keep { RESIDENT_DEPTH } else { 0 };
        Trie::update_and_commit(self.start, self.prior, src, &changes, workers, block, keep_depth)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_trie::{HashBuilder, Nibbles};
    use crate::trie::mem_store::MemStore;
    use proptest::prelude::*;

    fn root_of(leaves: &BTreeMap<B256, Vec<u8>>) -> B256 {
        let mut hb = HashBuilder::default();
        for (k, v) in leaves {
            hb.add_leaf(Nibbles::unpack(k), v);
        }
        hb.root()
    }

    /// The state root from scratch: every account's storage root and leaf rebuilt.
    fn reference_root(state: &BTreeMap<Address, (u64, BTreeMap<B256, U256>)>) -> B256 {
        let leaves = state
            .iter()
            .map(|(address, (nonce, slots))| {
                let storage = slots.iter().map(|(s, v)| (keccak256(s), alloy_rlp::encode(v))).collect();
                let leaf = TrieAccount {
                    nonce: *nonce,
                    balance: U256::from(1u64),
                    storage_root: root_of(&storage),
                    code_hash: alloy_primitives::KECCAK256_EMPTY,
                };
                (keccak256(address), alloy_rlp::encode(leaf))
            })
            .collect();
        root_of(&leaves)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        /// Blocks of account and storage changes, large enough to take the parallel paths and
        /// small enough to take the one-thread path, on one to three workers, give the root of
        /// a full rebuild, and every account and slot reads back through the stored nodes.
        /// Some blocks start from the tries the previous block kept, some from the store (and
        /// the next block is then handed tries that are not its parent's, which it must
        /// ignore).
        #[test]
        fn incremental_roots_match_a_full_rebuild(
            blocks in prop::collection::vec(
                prop::collection::vec((0u8..120, prop::option::of((0u64..5, prop::collection::vec((0u16..200, 0u64..3), 0..90)))), 1..100),
                1..6),
            workers in 1usize..4,
            from_kept in prop::collection::vec(any::<bool>(), 6),
        ) {
            let store = MemStore::default();
            let mut kept = ResidentState::default();
            let mut state: BTreeMap<Address, (u64, BTreeMap<B256, U256>)> = BTreeMap::new();
            let mut root = EMPTY_ROOT;
            let mut storage_roots: BTreeMap<Address, NodeKey> = BTreeMap::new();
            for (number, block) in (1u64..).zip(blocks) {
                let mut changes: BTreeMap<Address, Option<(u64, Vec<(B256, U256)>)>> = BTreeMap::new();
                for (who, change) in block {
                    let address = Address::with_last_byte(who);
                    // One value per slot, as a block's bundle has it.
                    let change = change.map(|(nonce, slots)| {
                        let slots: BTreeMap<B256, U256> =
                            slots.into_iter().map(|(s, v)| (B256::from(U256::from(s)), U256::from(v))).collect();
                        (nonce, slots.into_iter().collect())
                    });
                    changes.insert(address, change);
                }
                let updates: Vec<AccountUpdate> = changes
                    .iter()
                    .map(|(address, change)| AccountUpdate {
                        address: *address,
                        account: change.as_ref().map(|(nonce, _)| (*nonce, U256::from(1u64), alloy_primitives::KECCAK256_EMPTY)),
                        prior_storage_root: storage_roots.get(address).copied().unwrap_or(EMPTY_ROOT),
                        // A removed account loses its storage root below, so a re-created one
                        // starts from the empty trie.
                        wipe_storage: false,
                        storage: change.as_ref().map(|(_, s)| s.clone()).unwrap_or_default(),
                    })
                    .collect();
                let out = if from_kept[number as usize - 1] {
                    let (out, next) = compute_state_root_from(&store, root, &updates, number, workers, std::mem::take(&mut kept)).unwrap();
                    kept = next;
                    out
                } else {
                    compute_state_root_on(&store, root, &updates, number, workers).unwrap()
                };
                store.extend(number, out.nodes);
                for (address, change) in changes {
                    match change {
                        None => {
                            state.remove(&address);
                            storage_roots.remove(&address);
                        }
                        Some((nonce, slots)) => {
                            let entry = state.entry(address).or_default();
                            entry.0 = nonce;
                            for (slot, value) in slots {
                                if value.is_zero() { entry.1.remove(&slot); } else { entry.1.insert(slot, value); }
                            }
                            storage_roots.insert(address, out.storage_roots[&address]);
                        }
                    }
                }
                prop_assert_eq!(out.root.hash, reference_root(&state));
                root = out.root;
                let accounts = Trie::at(root);
                for (address, (nonce, slots)) in &state {
                    let storage_root = storage_roots[address];
                    let leaf = TrieAccount {
                        nonce: *nonce,
                        balance: U256::from(1u64),
                        storage_root: storage_root.hash,
                        code_hash: alloy_primitives::KECCAK256_EMPTY,
                    };
                    prop_assert_eq!(accounts.get(&store, &keccak256(address)).unwrap(), Some(alloy_rlp::encode(leaf)));
                    let storage = Trie::at(storage_root);
                    for (slot, value) in slots {
                        prop_assert_eq!(storage.get(&store, &keccak256(slot)).unwrap(), Some(alloy_rlp::encode(value)));
                    }
                }
            }
        }
    }
}
