//! revm's view of the chain database: accounts, storage, code and block hashes, either at
//! the head (plain state) or as they were after any past block: accounts from their change
//! sets and history index, storage from the account's storage trie at that block (trie
//! nodes are never deleted). A storage history index would cost a block one random B-tree
//! page per changed slot; the trie is already written, next to each other, by block.
//!
//! At the head, a reader may also see through a block that is built but not yet committed
//! ([`PendingBlock`]): the block pipeline executes the next block meanwhile.

use crate::db::{
    models::{AddressBlock, BlockAddress, StorageKey, StoredAccount},
    tables::{AccountChangeSets, AccountHistory, Accounts, Bytecodes, CanonicalHashes, Storage},
    DbError, DbTx,
};
use crate::executor::pending::{PendingAccount, PendingBlock};
use crate::trie::{NodeKey, NodeSource, Trie, TrieError};
use alloy_primitives::keccak256;
use alloy_primitives::{Address, B256, U256};
use revm::{
    bytecode::Bytecode,
    database_interface::{DBErrorMarker, DatabaseRef},
    primitives::KECCAK_EMPTY,
    state::AccountInfo,
};
use signet_libmdbx::TransactionKind;

/// A database failure seen by revm; execution stops.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct StateError(#[from] pub DbError);

impl DBErrorMarker for StateError {}

/// Which state to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateAt {
    /// The head: plain state.
    Head,
    /// After this block was executed.
    Block(u64),
}

/// Reads state from a transaction.
#[derive(Debug)]
pub struct StateReader<'a, K: TransactionKind> {
    tx: &'a DbTx<K>,
    at: StateAt,
    /// A block on top of `tx`'s head whose commit may not have landed (only at the head).
    pending: Option<&'a PendingBlock>,
}

// Two references and a copyable position: copies share the transaction.
impl<K: TransactionKind> Clone for StateReader<'_, K> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<K: TransactionKind> Copy for StateReader<'_, K> {}

impl<'a, K: TransactionKind> StateReader<'a, K> {
    /// A reader over `tx`. For a past block, `at` must not be above the head.
    pub fn new(tx: &'a DbTx<K>, at: StateAt) -> Self {
        Self { tx, at, pending: None }
    }

    /// A reader of the state after `pending`, built on `tx`'s head or its parent, or of
    /// `tx`'s head when there is none.
    pub fn head_over(tx: &'a DbTx<K>, pending: Option<&'a PendingBlock>) -> Self {
        Self { tx, at: StateAt::Head, pending }
    }

    /// The head block's header (the pending block's, if there is one).
    pub fn head_header(&self) -> Result<alloy_consensus::Header, DbError> {
        match self.pending {
            Some(pending) => Ok(pending.block().header.clone()),
            None => self.tx.head_header(),
        }
    }

    /// The database's kept trie tops, for the state root of the head's child.
    pub(crate) fn resident_tries(&self) -> &'a crate::trie::ResidentTries {
        self.tx.resident_tries()
    }

    /// Where the head's state root is stored.
    pub fn head_state_root(&self) -> Result<NodeKey, DbError> {
        match self.pending {
            Some(pending) => Ok(pending.state_root()),
            None => crate::db::head_state_root(self.tx),
        }
    }

    /// The stored account (with its storage root) at the chosen state.
    pub fn account(&self, address: Address) -> Result<Option<StoredAccount>, DbError> {
        let StateAt::Block(block) = self.at else {
            match self.pending.map_or(PendingAccount::Untouched, |p| p.account(address)) {
                PendingAccount::Untouched => return self.tx.get::<Accounts>(&address),
                PendingAccount::Absent => return Ok(None),
                PendingAccount::Present(account) => return Ok(Some(account)),
            }
        };
        // The first change after `block` recorded the value the account had at `block`.
        let mut changed_at = None;
        self.tx.walk::<AccountHistory>(&AddressBlock { address, block: block + 1 }, |key, ()| {
            if key.address == address {
                changed_at = Some(key.block);
            }
            Ok(false)
        })?;
        match changed_at {
            None => self.tx.get::<Accounts>(&address),
            Some(changed) => {
                let before = self.tx.get::<AccountChangeSets>(&BlockAddress { block: changed, address })?;
                before.map(|b| b.0).ok_or_else(|| {
                    DbError::Inconsistent(format!("history names block {changed} for {address} but no change set"))
                })
            }
        }
    }

    /// A storage value at the chosen state (zero when unset).
    pub fn storage(&self, address: Address, slot: B256) -> Result<U256, DbError> {
        let StateAt::Block(_) = self.at else {
            if let Some(value) = self.pending.and_then(|p| p.storage(address, slot)) {
                return Ok(value);
            }
            return Ok(self.tx.get::<Storage>(&StorageKey { address, slot })?.unwrap_or_default());
        };
        let Some(account) = self.account(address)? else { return Ok(U256::ZERO) };
        let leaf = Trie::at(account.storage_root_key())
            .get(self.tx, &keccak256(slot))
            .map_err(|e| DbError::Inconsistent(format!("storage trie of {address}: {e}")))?;
        leaf.map_or(Ok(U256::ZERO), |rlp| {
            <U256 as alloy_rlp::Decodable>::decode(&mut rlp.as_slice())
                .map_err(|e| DbError::Inconsistent(format!("storage leaf {address}/{slot}: {e}")))
        })
    }

    /// Contract code by hash.
    pub fn code(&self, code_hash: B256) -> Result<Option<Bytecode>, DbError> {
        if code_hash == KECCAK_EMPTY {
            return Ok(Some(Bytecode::default()));
        }
        if let Some(code) = self.pending.and_then(|p| p.code(&code_hash)) {
            return Ok(Some(code));
        }
        Ok(self.tx.get::<Bytecodes>(&code_hash)?.map(|c| c.bytecode()))
    }
}

impl<K: TransactionKind> DatabaseRef for StateReader<'_, K> {
    type Error = StateError;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, StateError> {
        Ok(self.account(address)?.map(|a| a.info()))
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, StateError> {
        self.code(code_hash)?
            .ok_or_else(|| StateError(DbError::Inconsistent(format!("missing bytecode {code_hash}"))))
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, StateError> {
        Ok(self.storage(address, B256::from(index))?)
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, StateError> {
        if let Some(hash) = self.pending.and_then(|p| p.block_hash(number)) {
            return Ok(hash);
        }
        Ok(self.tx.get::<CanonicalHashes>(&number)?.unwrap_or_default())
    }
}

/// The trie nodes of the state read: the pending block's new ones, then the database's.
impl<K: TransactionKind> NodeSource for StateReader<'_, K> {
    fn node(&self, key: &NodeKey) -> Result<Option<std::sync::Arc<[u8]>>, TrieError> {
        if let Some(node) = self.pending.and_then(|p| p.node(key)) {
            return Ok(Some(node));
        }
        self.tx.node(key)
    }
}
