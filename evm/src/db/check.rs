//! A consistency check of a chain database: the canonical chain is contiguous from genesis
//! to the head, every block has its header, body and receipts, and the plain state at the
//! head is exactly what the state trie under the head's state root holds.

use super::{
    models::StorageKey,
    tables::{Accounts, CanonicalHashes, Storage},
    DbError, DbTx,
};
use crate::trie::Trie;
use alloy_primitives::{keccak256, Address, B256};
use signet_libmdbx::TransactionKind;

/// What a consistent database looks like, for reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReport {
    /// The head block.
    pub head: u64,
    /// Accounts checked against the trie.
    pub accounts: u64,
    /// Storage slots checked against the trie.
    pub slots: u64,
}

fn inconsistent(msg: String) -> DbError {
    DbError::Inconsistent(msg)
}

/// Checks the whole database. Cost is linear in chain length and state size.
pub fn check_consistency<K: TransactionKind>(tx: &DbTx<K>) -> Result<CheckReport, DbError> {
    let head = tx.head_number()?.ok_or_else(|| inconsistent("no head recorded".into()))?;
    let mut parent = None;
    for number in 0..=head {
        let hash = tx.get::<CanonicalHashes>(&number)?.ok_or_else(|| inconsistent(format!("no canonical hash for block {number}")))?;
        let header = tx.header(number)?.ok_or_else(|| inconsistent(format!("no header for block {number}")))?;
        if header.hash_slow() != hash {
            return Err(inconsistent(format!("block {number}: header hash differs from canonical hash")));
        }
        if let Some(parent) = parent
            && header.parent_hash != parent
        {
            return Err(inconsistent(format!("block {number}: parent hash does not link")));
        }
        if tx.body(number)?.is_none() {
            return Err(inconsistent(format!("no body for block {number}")));
        }
        parent = Some(hash);
    }
    if tx.get::<CanonicalHashes>(&(head + 1))?.is_some() {
        return Err(inconsistent(format!("a canonical block above the head {head}")));
    }
    let accounts_trie = Trie::at(super::head_state_root(tx)?);
    let mut report = CheckReport { head, accounts: 0, slots: 0 };
    let mut accounts = Vec::new();
    tx.walk::<Accounts>(&Address::ZERO, |address, account| {
        accounts.push((address, account));
        Ok(true)
    })?;
    for (address, account) in accounts {
        let leaf = accounts_trie
            .get(tx, &keccak256(address))
            .map_err(|e| inconsistent(e.to_string()))?
            .ok_or_else(|| inconsistent(format!("account {address} is in the plain state but not in the trie")))?;
        if leaf != alloy_rlp::encode(account.trie_account()) {
            return Err(inconsistent(format!("account {address}: plain state and trie differ")));
        }
        report.accounts += 1;
        let storage_trie = Trie::at(account.storage_root_key());
        let mut slots = Vec::new();
        tx.walk::<Storage>(&StorageKey { address, slot: B256::ZERO }, |key, value| {
            if key.address != address {
                return Ok(false);
            }
            slots.push((key.slot, value));
            Ok(true)
        })?;
        for (slot, value) in slots {
            let stored = storage_trie.get(tx, &keccak256(slot)).map_err(|e| inconsistent(e.to_string()))?;
            if stored != Some(alloy_rlp::encode(value)) {
                return Err(inconsistent(format!("slot {address}/{slot}: plain state and trie differ")));
            }
            report.slots += 1;
        }
    }
    Ok(report)
}
