//! The Merkle-Patricia state: account and storage tries whose nodes live in the
//! `TrieNodes` table, keyed by hash.
//!
//! A block's new state root is computed from the accounts and slots it changed only
//! ([`state_root`]): the paths to those leaves are loaded, updated and re-hashed; the rest
//! of the trie is referenced by the hashes already stored. Nodes are content-addressed and
//! never deleted, so every past root stays readable and provable ([`proof`]), and a
//! bounded [`cache`] of them can never go stale.

pub mod cache;
pub mod mpt;
pub mod proof;
pub mod state_root;

pub use mpt::{NodeSource, Trie, TrieError};
pub use state_root::{AccountUpdate, StateRootOutput, compute_state_root};

use crate::db::{tables::TrieNodes, DbTx};
use alloy_primitives::B256;
use signet_libmdbx::TransactionKind;

impl<K: TransactionKind> NodeSource for DbTx<K> {
    fn node(&self, hash: &B256) -> Result<Option<Vec<u8>>, TrieError> {
        if let Some(node) = self.node_cache().get(hash) {
            return Ok(Some(node.to_vec()));
        }
        let node = self.get::<TrieNodes>(hash).map_err(|e| TrieError::Store(e.to_string()))?;
        if let Some(node) = &node {
            self.node_cache().insert(*hash, node);
        }
        Ok(node)
    }
}

/// An in-memory node store for the trie tests.
#[cfg(test)]
pub(crate) mod mem_store {
    use super::{NodeSource, TrieError};
    use alloy_primitives::B256;
    use std::{cell::RefCell, collections::HashMap};

    /// Nodes by hash.
    #[derive(Default)]
    pub(crate) struct MemStore(pub(crate) RefCell<HashMap<B256, Vec<u8>>>);

    impl NodeSource for MemStore {
        fn node(&self, hash: &B256) -> Result<Option<Vec<u8>>, TrieError> {
            Ok(self.0.borrow().get(hash).cloned())
        }
    }
}
