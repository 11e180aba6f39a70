//! From revm's bundle (what a block changed) to trie updates and a new state root.

use crate::{
    db::{tables::Accounts, DbError, DbTx},
    trie::{compute_state_root, AccountUpdate, NodeKey, StateRootOutput, TrieError, EMPTY_ROOT},
};
use alloy_primitives::B256;
use revm::database::BundleState;
use signet_libmdbx::TransactionKind;

/// The account updates of a bundle, in address order, with each account's storage root
/// before the block read from the plain state.
pub fn bundle_updates<K: TransactionKind>(tx: &DbTx<K>, bundle: &BundleState) -> Result<Vec<AccountUpdate>, DbError> {
    let mut addresses: Vec<_> = bundle.state.keys().copied().collect();
    addresses.sort_unstable();
    let mut updates = Vec::with_capacity(addresses.len());
    for address in addresses {
        let Some(account) = bundle.state.get(&address) else { continue };
        let prior_storage_root = tx.get::<Accounts>(&address)?.map_or(EMPTY_ROOT, |a| a.storage_root_key());
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
pub fn state_root_of<K: TransactionKind>(
    tx: &DbTx<K>,
    prior_root: NodeKey,
    updates: &[AccountUpdate],
    block: u64,
) -> Result<StateRootOutput, TrieError>
where
    DbTx<K>: Sync,
{
    compute_state_root(tx, prior_root, updates, block)
}
