//! The new state root after a block, from the accounts and slots it changed.

use super::{
    mpt::{KeyChange, NodeKey, NodeSource, NodeWrites, Trie, TrieError},
    parallel,
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
///
/// First the storage tries of the accounts whose storage changed: they are independent of
/// each other, so small ones are spread over the workers, and a large one (an ERC-20's
/// balances) is itself split across them by subtrie ([`Trie::update_and_commit`]). Then the
/// account trie, whose leaves need those storage roots, split the same way. The root does
/// not depend on how the work was split (the proptest below checks against a rebuild).
pub fn compute_state_root_on<S: NodeSource + Sync>(
    src: &S,
    prior_root: NodeKey,
    updates: &[AccountUpdate],
    block: u64,
    workers: usize,
) -> Result<StateRootOutput, TrieError> {
    let needs_storage_trie = |u: &&AccountUpdate| u.account.is_some() && (u.wipe_storage || !u.storage.is_empty());
    let (large, small): (Vec<&AccountUpdate>, Vec<&AccountUpdate>) =
        updates.iter().filter(needs_storage_trie).partition(|u| u.storage.len() >= PARALLEL_CHANGES_MIN);
    let mut out = StateRootOutput { root: EMPTY_ROOT, storage_roots: BTreeMap::new(), nodes: Vec::new() };
    let mut new_storage_roots = HashMap::with_capacity(small.len() + large.len());
    let small_slots: usize = small.iter().map(|u| u.storage.len()).sum();
    let small_workers = if small_slots >= PARALLEL_CHANGES_MIN { workers } else { 1 };
    for (address, result) in parallel::map(small, small_workers, |update| (update.address, storage_root(src, update, block, 1))) {
        let (root, nodes) = result?;
        out.nodes.extend(nodes);
        new_storage_roots.insert(address, root);
    }
    for update in &large {
        let (root, nodes) = storage_root(src, update, block, workers)?;
        out.nodes.extend(nodes);
        new_storage_roots.insert(update.address, root);
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
    let (root, nodes) = Trie::update_and_commit(prior_root, src, &changes, account_workers, block)?;
    out.nodes.extend(nodes);
    out.root = root;
    Ok(out)
}

/// The new storage root of one account, and the trie nodes to store for it.
fn storage_root<S: NodeSource + Sync>(
    src: &S,
    update: &AccountUpdate,
    block: u64,
    workers: usize,
) -> Result<(NodeKey, NodeWrites), TrieError> {
    let start = if update.wipe_storage { EMPTY_ROOT } else { update.prior_storage_root };
    let changes: Vec<KeyChange> = update
        .storage
        .iter()
        .map(|(slot, value)| (keccak256(slot), (!value.is_zero()).then(|| alloy_rlp::encode(value))))
        .collect();
    Trie::update_and_commit(start, src, &changes, workers, block)
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
        /// a full rebuild.
        #[test]
        fn incremental_roots_match_a_full_rebuild(
            blocks in prop::collection::vec(
                prop::collection::vec((0u8..120, prop::option::of((0u64..5, prop::collection::vec((0u16..200, 0u64..3), 0..90)))), 1..100),
                1..5),
            workers in 1usize..4,
        ) {
            let store = MemStore::default();
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
                let out = compute_state_root_on(&store, root, &updates, number, workers).unwrap();
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
            }
        }
    }
}
