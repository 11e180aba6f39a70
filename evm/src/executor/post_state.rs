//! From revm's bundle (what a block changed) to trie updates and a new state root.

use crate::{
    db::{DbError, DbTx},
    state::StateReader,
    trie::{compute_state_root_keeping, AccountUpdate, NodeKey, ResidentState, StateRootOutput, TrieError, EMPTY_ROOT},
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

/// The state root of `block` after `updates`, starting from `prior_root`, the root of
/// `state`'s head, whose hash is `parent_hash`: from the tries the parent's own root left
/// decoded if this process rooted it ([`crate::trie::resident`]). Returns the tries to
/// [`keep_resident`] once the new block's hash is known and the block is accepted.
pub fn state_root_of<K: TransactionKind>(
    state: &StateReader<'_, K>,
    parent_hash: B256,
    prior_root: NodeKey,
    updates: &[AccountUpdate],
    block: u64,
) -> Result<(StateRootOutput, ResidentState), TrieError>
where
    DbTx<K>: Sync,
{
    let resident = state.resident_tries().take(parent_hash);
    compute_state_root_keeping(state, prior_root, updates, block, resident)
}

/// Keeps the tries of block `block_hash`'s state root for its child.
pub fn keep_resident<K: TransactionKind>(state: &StateReader<'_, K>, block_hash: B256, resident: ResidentState) {
    state.resident_tries().keep(block_hash, resident);
}
