//! From revm's bundle (what a block changed) to trie updates and a new state root.

use crate::{
    db::DbError,
    state::StateReader,
    trie::{compute_state_root, AccountUpdate, NodeKey, NodeSource, StateRootOutput, TrieError, EMPTY_ROOT},
};
use alloy_primitives::B256;
use revm::database::BundleState;
use signet_libmdbx::TransactionKind;

/// The account updates of a bundle, in address order, with each account's storage root
/// before the block read from the state the block was executed on.
pub fn bundle_updates<K: TransactionKind>(state: &StateReader<'_, K>, bundle: &BundleState) -> Result<Vec<AccountUpdate>, DbError> {
    let mut addresses: Vec<_> = bundle.state.keys().copied().collect();
    addresses.sort_unstable();
    let mut updates = Vec::with_capacity(addresses.len());
    for address in addresses {
        let Some(account) = bundle.state.get(&address) else { continue };
        let prior_storage_root = state.account(address)?.map_or(EMPTY_ROOT, |a| a.storage_root_key());
        let wipe_storage = account.status.was_destroyed();
        let mut storage: Vec<_> = account
            .storage
            .iter()
            .filter(|(_, slot)| wipe_storage || slot.is_changed())
            .map(|(key, slot)| (B256::from(*key), slot.present_value))
            .collect();
        storage.sort_unstable_by_key(|(slot, _)| *slot);
        updates.push(AccountUpdate {
            address,
            account: account.info.as_ref().map(|i| (i.nonce, i.balance, i.code_hash)),
            prior_storage_root,
            wipe_storage,
            storage,
        });
    }
    Ok(updates)
}

/// The state root of `block` after `updates`, starting from `prior_root`.
pub fn state_root_of<S: NodeSource + Sync>(
    nodes: &S,
    prior_root: NodeKey,
    updates: &[AccountUpdate],
    block: u64,
) -> Result<StateRootOutput, TrieError> {
    compute_state_root(nodes, prior_root, updates, block)
}
