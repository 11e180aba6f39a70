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

/// Applies `updates` to the state trie with root `prior_root`.
pub fn compute_state_root(
    src: &impl NodeSource,
    prior_root: B256,
    updates: &[AccountUpdate],
) -> Result<StateRootOutput, TrieError> {
    let mut out = StateRootOutput::default();
    let mut accounts = Trie::at(prior_root);
    for update in updates {
        let key = keccak256(update.address);
        let Some((nonce, balance, code_hash)) = update.account else {
            accounts.remove(src, &key)?;
            continue;
        };
        let storage_root = if update.storage.is_empty() && !update.wipe_storage {
            update.prior_storage_root
        } else {
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
            let (root, nodes) = storage.commit();
            out.nodes.extend(nodes);
            root
        };
        out.storage_roots.insert(update.address, storage_root);
        let leaf = TrieAccount { nonce, balance, storage_root, code_hash };
        accounts.insert(src, &key, alloy_rlp::encode(leaf))?;
    }
    let (root, nodes) = accounts.commit();
    out.nodes.extend(nodes);
    out.root = root;
    Ok(out)
}
