//! A block that is built but may not be committed yet, as the next block's reads see it.
//!
//! The [`pipeline`](super::pipeline) commits block N on a second thread while block N+1
//! executes. N+1 reads the state after N: what N changed comes from here (its bundle, its
//! new trie nodes, its header), everything else from a snapshot that holds at least N-1.
//! Whether or not N's commit has landed in that snapshot, the answers are the same: this
//! overlay holds N's final values for everything N touched.

use super::builder::BuiltBlock;
use crate::{
    db::models::StoredAccount,
    trie::{NodeKey, StateRootOutput, EMPTY_ROOT},
};
use alloy_primitives::{Address, B256, U256};
use revm::{bytecode::Bytecode, state::AccountInfo};
use std::{collections::HashMap, sync::Arc};

/// What a built block changed, readable before its commit lands.
#[derive(Debug)]
pub struct PendingBlock {
    block: Arc<BuiltBlock>,
    /// Index of each new trie node in `block.trie.nodes`, by hash.
    nodes: HashMap<B256, usize>,
}

/// What the overlay knows of an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PendingAccount {
    /// The block did not touch it: read the snapshot.
    Untouched,
    /// The block left it absent (self-destructed, or touched empty and cleared).
    Absent,
    /// Its state after the block.
    Present(StoredAccount),
}

impl PendingBlock {
    /// The overlay of `block`, which shares the block with its commit.
    pub fn new(block: Arc<BuiltBlock>) -> Self {
        let nodes = block.trie.nodes.iter().enumerate().map(|(index, (hash, _))| (*hash, index)).collect();
        Self { block, nodes }
    }

    /// The block.
    pub fn block(&self) -> &BuiltBlock {
        &self.block
    }

    /// The block, once nothing reads through the overlay any more.
    pub fn into_block(self) -> Arc<BuiltBlock> {
        self.block
    }

    /// Its number.
    pub fn number(&self) -> u64 {
        self.block.header.number
    }

    /// Where its state root is stored (under its own number, once committed).
    pub fn state_root(&self) -> NodeKey {
        self.block.trie.root
    }

    /// The account after the block, if the block touched it.
    pub fn account(&self, address: Address) -> PendingAccount {
        match self.block.bundle.state.get(&address) {
            None => PendingAccount::Untouched,
            Some(account) => match &account.info {
                None => PendingAccount::Absent,
                Some(info) => PendingAccount::Present(stored_account(address, info, &self.block.trie)),
            },
        }
    }

    /// A slot after the block, if the block decides it: written by the block, or zero
    /// because the block wiped the account's storage.
    pub fn storage(&self, address: Address, slot: B256) -> Option<U256> {
        let account = self.block.bundle.state.get(&address)?;
        match account.storage.get(&U256::from_be_bytes(slot.0)) {
            Some(value) => Some(value.present_value),
            None => account.status.was_destroyed().then_some(U256::ZERO),
        }
    }

    /// Code the block deployed.
    pub fn code(&self, code_hash: &B256) -> Option<Bytecode> {
        self.block.bundle.contracts.get(code_hash).cloned()
    }

    /// The block's hash, when `number` is this block.
    pub fn block_hash(&self, number: u64) -> Option<B256> {
        (number == self.number()).then_some(self.block.hash)
    }

    /// A trie node this block added.
    pub fn node(&self, key: &NodeKey) -> Option<Arc<[u8]>> {
        if key.block != self.number() {
            return None;
        }
        self.nodes.get(&key.hash).map(|index| Arc::from(self.block.trie.nodes[*index].1.as_slice()))
    }
}

/// The account row a block's commit stores for `info`: the fields revm knows, and the
/// storage root the block's state root computed for it ([`StateRootOutput::storage_roots`]
/// names every updated account that still exists).
pub(crate) fn stored_account(address: Address, info: &AccountInfo, trie: &StateRootOutput) -> StoredAccount {
    let storage_root = trie.storage_roots.get(&address).copied().unwrap_or(EMPTY_ROOT);
    StoredAccount { storage_root: storage_root.hash, storage_root_block: storage_root.block, ..StoredAccount::from_info(info) }
}
