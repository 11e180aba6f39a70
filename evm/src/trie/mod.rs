//! The Merkle-Patricia state: account and storage tries whose nodes live in the
//! `TrieNodes` table, keyed by the block that wrote them and their hash ([`NodeKey`]).
//!
//! A block's new state root is computed from the accounts and slots it changed only
//! ([`state_root`]): the paths to those leaves are loaded, updated and re-hashed; the rest
//! of the trie is referenced by the hashes already stored. Nodes are content-addressed and
//! never deleted, so every past root stays readable and provable ([`proof`]), and a
//! bounded [`cache`] of them can never go stale. The decoded top of the tries a block's
//! root walked is kept for the next block ([`resident`]).

pub mod cache;
pub mod mpt;
pub mod parallel;
pub mod proof;
pub mod resident;
pub mod state_root;

pub use mpt::{Committed, KeyChange, NodeKey, NodeSource, NodeWrites, Trie, TrieError};
pub use resident::{ResidentState, ResidentTries};
pub use state_root::{AccountUpdate, StateRootOutput, compute_state_root, compute_state_root_keeping, EMPTY_ROOT};

use crate::db::{tables::TrieNodes, DbTx};
use signet_libmdbx::TransactionKind;
use std::sync::Arc;

impl<K: TransactionKind> NodeSource for DbTx<K> {
    fn node(&self, key: &NodeKey) -> Result<Option<Arc<[u8]>>, TrieError> {
        if let Some(node) = self.node_cache().get(key) {
            return Ok(Some(node));
        }
        let Some(node) = self.get::<TrieNodes>(key).map_err(|e| TrieError::Store(e.to_string()))? else {
            return Ok(None);
        };
        let node: Arc<[u8]> = node.into();
        if cache::worth_caching(&node) {
            self.node_cache().insert_shared(*key, node.clone());
        }
        Ok(Some(node))
    }
}

/// An in-memory node store for the trie tests, shareable across the state root's workers.
#[cfg(test)]
pub(crate) mod mem_store {
    use super::{NodeKey, NodeSource, TrieError};
    use alloy_primitives::B256;
    use std::{
        collections::HashMap,
        sync::{Arc, Mutex},
    };

    /// Nodes by (block, hash).
    #[derive(Default)]
    pub(crate) struct MemStore(Mutex<HashMap<NodeKey, Arc<[u8]>>>);

    impl MemStore {
        /// Stores nodes as the commit of `block` would.
        pub(crate) fn extend(&self, block: u64, nodes: impl IntoIterator<Item = (B256, Vec<u8>)>) {
            self.0
                .lock()
                .expect("store lock")
                .extend(nodes.into_iter().map(|(hash, node)| (NodeKey { block, hash }, node.into())));
        }
    }

    impl NodeSource for MemStore {
        fn node(&self, key: &NodeKey) -> Result<Option<Arc<[u8]>>, TrieError> {
            Ok(self.0.lock().expect("store lock").get(key).cloned())
        }
    }
}
