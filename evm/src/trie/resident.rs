//! The decoded top of the state tries, kept in memory from one block's state root to the
//! next.
//!
//! A block's root walks from the root to every changed leaf. With a million accounts the
//! first five levels of the account trie (and of a large token's storage trie) are on
//! almost every path, so each block used to look up, decode, re-link and free the same
//! ~6,000 branches (loads and frees were about half of the root's profile before this; the
//! measured gain was smaller, a few ms a block: docs/BENCHMARKS.md). The tries a block's
//! root produced stay decoded down to [`RESIDENT_DEPTH`], each unchanged branch with its
//! reference, and the next block starts from them instead of from the stored root.
//!
//! The tries are only valid for the block that produced them: they refer to nodes by the
//! block that stored them, and another block at the same height with the same state could
//! have stored them elsewhere. So they are labelled with the hash of the block whose root
//! they are, and handed out only to a block whose parent has that hash. Anything else
//! starts from the database, as before; the root does not depend on where it started.

use super::{NodeKey, Trie};
use alloy_primitives::{Address, B256};
use std::sync::{Mutex, PoisonError};

/// Branches less than this many nibbles deep stay decoded. Level 5 of a million-leaf trie
/// holds mostly leaves, which each block reads once and changes, so keeping deeper levels
/// would hold memory without saving loads. A full million-leaf trie keeps ~70,000 branches
/// (~80 MiB).
pub const RESIDENT_DEPTH: usize = 5;

/// Storage tries kept besides the account trie: the ones with the most changes lately.
pub const RESIDENT_STORAGE_TRIES: usize = 4;

/// One trie kept for the next block.
#[derive(Debug)]
pub(crate) struct ResidentTrie {
    /// Where its root is stored: it is the trie of the state whose root this is.
    pub(crate) root: NodeKey,
    pub(crate) trie: Trie,
}

/// A kept storage trie, and how busy it has been (its changes in the last block it changed
/// in, halved for every block since), to choose which ones stay.
#[derive(Debug)]
pub(crate) struct ResidentStorage {
    pub(crate) address: Address,
    pub(crate) resident: ResidentTrie,
    pub(crate) busy: usize,
}

/// The tries one state root left decoded.
#[derive(Debug, Default)]
pub struct ResidentState {
    pub(crate) accounts: Option<ResidentTrie>,
    pub(crate) storage: Vec<ResidentStorage>,
}

impl ResidentState {
    /// The account trie to start from for the state stored under `root`.
    pub(crate) fn take_accounts(&mut self, root: NodeKey) -> Trie {
        match self.accounts.take() {
            Some(resident) if resident.root == root => resident.trie,
            _ => Trie::at(root),
        }
    }

    /// `address`'s kept storage trie, if it is the one stored under `root`, and how busy it was.
    pub(crate) fn take_storage(&mut self, address: Address, root: NodeKey) -> Option<(Trie, usize)> {
        let index = self.storage.iter().position(|s| s.address == address)?;
        let kept = self.storage.swap_remove(index);
        (kept.resident.root == root).then_some((kept.resident.trie, kept.busy))
    }
}

/// The tries of the latest block rooted through this database handle, labelled with that
/// block's hash. Shared by every transaction of one [`crate::db::ChainDb`].
#[derive(Debug, Default)]
pub struct ResidentTries {
    latest: Mutex<Option<(B256, ResidentState)>>,
}

impl ResidentTries {
    /// The tries to build the child of block `parent` on: what that block's root left, or
    /// nothing if the latest tries are another block's.
    pub fn take(&self, parent: B256) -> ResidentState {
        let mut latest = self.latest.lock().unwrap_or_else(PoisonError::into_inner);
        match latest.take() {
            Some((hash, state)) if hash == parent => state,
            other => {
                *latest = other;
                ResidentState::default()
            }
        }
    }

    /// Keeps the tries of block `block_hash`'s state root, replacing older ones.
    pub fn keep(&self, block_hash: B256, state: ResidentState) {
        let replaced = self.latest.lock().unwrap_or_else(PoisonError::into_inner).replace((block_hash, state));
        // Freed outside the lock: a full trie top is tens of thousands of nodes.
        drop(replaced);
    }
}
