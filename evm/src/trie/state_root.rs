//! The new state root after a block, from the accounts and slots it changed.

use super::mpt::{NodeSource, Trie, TrieError};
use alloy_primitives::{keccak256, Address, B256, U256};
use alloy_trie::{TrieAccount, EMPTY_ROOT_HASH};
use std::collections::BTreeMap;

/// One account's change in a block.
#[derive(Debug, Clone)]
pub struct AccountUpdate {
    /// The account.
    pub address: Address,
    /// Its new nonce, balance and code hash; `None` when it no longer exists.
    pub account: Option<(u64, U256, B256)>,
    /// Its storage root before the block.
    pub prior_storage_root: B256,
    /// The storage was cleared (self-destruct, or re-creation) before `storage` applied.
    pub wipe_storage: bool,
    /// New slot values; zero deletes the slot.
    pub storage: Vec<(B256, U256)>,
}

/// A new state root and what to store for it.
#[derive(Debug, Default)]
pub struct StateRootOutput {
    /// The state root.
    pub root: B256,
    /// The new storage root of every updated account that still exists.
    pub storage_roots: BTreeMap<Address, B256>,
    /// Trie nodes to store, (hash, RLP).
    pub nodes: Vec<(B256, Vec<u8>)>,
}

/// Updates whose storage trie needs no work in a worker thread: spawning one costs more than
/// a few slots take.
const PARALLEL_STORAGE_SLOTS_MIN: usize = 64;

/// Applies `updates` to the state trie with root `prior_root`.
///
/// The storage tries of the accounts whose storage changed are independent of each other and
/// of the account trie, except that each one's root goes into its account's leaf. So they are
/// computed on a second thread while this one puts in the leaves of every other account; the
/// remaining leaves follow once the storage roots are known. Leaves of different keys
/// commute, so the root is the same as in any sequential order (the proptest below checks).
pub fn compute_state_root<S: NodeSource + Sync>(
    src: &S,
    prior_root: B256,
    updates: &[AccountUpdate],
) -> Result<StateRootOutput, TrieError> {
    let needs_storage_trie = |u: &AccountUpdate| u.account.is_some() && (u.wipe_storage || !u.storage.is_empty());
    let slots: usize = updates.iter().filter(|u| needs_storage_trie(u)).map(|u| u.storage.len()).sum();
    let (with_storage, without): (Vec<&AccountUpdate>, Vec<&AccountUpdate>) = updates.iter().partition(|u| needs_storage_trie(u));
    let mut out = StateRootOutput::default();
    let mut accounts = Trie::at(prior_root);
    let storage = if slots >= PARALLEL_STORAGE_SLOTS_MIN {
        std::thread::scope(|scope| {
            let worker = scope.spawn(|| storage_roots(src, &with_storage));
            let leaves = put_account_leaves(src, &mut accounts, &without, &mut out);
            let storage = worker.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            leaves.and(storage)
        })?
    } else {
        put_account_leaves(src, &mut accounts, &without, &mut out)?;
        storage_roots(src, &with_storage)?
    };
    for (update, (root, nodes)) in with_storage.iter().zip(storage) {
        out.nodes.extend(nodes);
        put_account_leaf(src, &mut accounts, update, root, &mut out)?;
    }
    let (root, nodes) = accounts.commit();
    out.nodes.extend(nodes);
    out.root = root;
    Ok(out)
}

/// The new storage root and trie nodes of each update, in order.
fn storage_roots<S: NodeSource>(src: &S, updates: &[&AccountUpdate]) -> Result<Vec<(B256, Vec<(B256, Vec<u8>)>)>, TrieError> {
    updates
        .iter()
        .map(|update| {
            let start = if update.wipe_storage { EMPTY_ROOT_HASH } else { update.prior_storage_root };
            let mut storage = Trie::at(start);
            for (slot, value) in &update.storage {
                let slot_key = keccak256(slot);
                if value.is_zero() {
                    storage.remove(src, &slot_key)?;
                } else {
                    storage.insert(src, &slot_key, alloy_rlp::encode(value))?;
                }
            }
            Ok(storage.commit())
        })
        .collect()
}

/// Puts in (or removes) the leaves of accounts whose storage root did not change.
fn put_account_leaves<S: NodeSource>(
    src: &S,
    accounts: &mut Trie,
    updates: &[&AccountUpdate],
    out: &mut StateRootOutput,
) -> Result<(), TrieError> {
    for update in updates {
        put_account_leaf(src, accounts, update, update.prior_storage_root, out)?;
    }
    Ok(())
}

fn put_account_leaf<S: NodeSource>(
    src: &S,
    accounts: &mut Trie,
    update: &AccountUpdate,
    storage_root: B256,
    out: &mut StateRootOutput,
) -> Result<(), TrieError> {
    let key = keccak256(update.address);
    let Some((nonce, balance, code_hash)) = update.account else {
        return accounts.remove(src, &key);
    };
    out.storage_roots.insert(update.address, storage_root);
    let leaf = TrieAccount { nonce, balance, storage_root, code_hash };
    accounts.insert(src, &key, alloy_rlp::encode(leaf))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_trie::{HashBuilder, Nibbles};
    use proptest::prelude::*;
    use std::{collections::HashMap, sync::Mutex};

    /// A thread-safe in-memory node store.
    #[derive(Default)]
    struct SharedStore(Mutex<HashMap<B256, Vec<u8>>>);

    impl NodeSource for SharedStore {
        fn node(&self, hash: &B256) -> Result<Option<Vec<u8>>, TrieError> {
            Ok(self.0.lock().expect("store lock").get(hash).cloned())
        }
    }

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
        /// Blocks of account and storage changes, large enough to take the two-thread path
        /// and small enough to take the one-thread path, give the root of a full rebuild.
        #[test]
        fn incremental_roots_match_a_full_rebuild(
            blocks in prop::collection::vec(
                prop::collection::vec((0u8..40, prop::option::of((0u64..5, prop::collection::vec((0u16..200, 0u64..3), 0..90)))), 1..30),
                1..5)
        ) {
            let store = SharedStore::default();
            let mut state: BTreeMap<Address, (u64, BTreeMap<B256, U256>)> = BTreeMap::new();
            let mut root = EMPTY_ROOT_HASH;
            let mut storage_roots: BTreeMap<Address, B256> = BTreeMap::new();
            for block in blocks {
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
                        prior_storage_root: storage_roots.get(address).copied().unwrap_or(EMPTY_ROOT_HASH),
                        // A removed account loses its storage root below, so a re-created one
                        // starts from the empty trie.
                        wipe_storage: false,
                        storage: change.as_ref().map(|(_, s)| s.clone()).unwrap_or_default(),
                    })
                    .collect();
                let out = compute_state_root(&store, root, &updates).unwrap();
                store.0.lock().unwrap().extend(out.nodes);
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
                prop_assert_eq!(out.root, reference_root(&state));
                root = out.root;
            }
        }
    }
}
