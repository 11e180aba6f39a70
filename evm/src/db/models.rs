//! The records kept in the tables: accounts, storage keys, transaction locations and the
//! composite keys of the change sets and indices.

use super::codec::{composite_key, Codec, CodecError};
use alloy_primitives::{Address, B256, U256};
use alloy_trie::EMPTY_ROOT_HASH;
use revm::{bytecode::Bytecode, state::AccountInfo};

/// An account as the plain state keeps it: what revm needs plus the root of its storage
/// trie, so the state root update never has to walk the account trie to find it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredAccount {
    /// Transaction count or, for contracts, creation count.
    pub nonce: u64,
    /// Balance in wei.
    pub balance: U256,
    /// keccak256 of the code (KECCAK_EMPTY for none).
    pub code_hash: B256,
    /// Root of the account's storage trie.
    pub storage_root: B256,
    /// The block whose write stored that root node (trie nodes are keyed by block and hash,
    /// see [`NodeKey`]; 0 for the empty root, which is never read).
    pub storage_root_block: u64,
}

impl StoredAccount {
    /// Encoded length: nonce 8, balance 32, code hash 32, storage root 32 and its block 8.
    const LEN: usize = 8 + 32 + 32 + 32 + 8;

    /// Where the root node of the account's storage trie is stored.
    pub fn storage_root_key(&self) -> NodeKey {
        NodeKey { block: self.storage_root_block, hash: self.storage_root }
    }

    /// The revm view (code is loaded separately, by hash).
    pub fn info(&self) -> AccountInfo {
        AccountInfo { nonce: self.nonce, balance: self.balance, code_hash: self.code_hash, code: None, ..Default::default() }
    }

    /// The account as the state trie's leaf holds it.
    pub fn trie_account(&self) -> alloy_trie::TrieAccount {
        alloy_trie::TrieAccount {
            nonce: self.nonce,
            balance: self.balance,
            storage_root: self.storage_root,
            code_hash: self.code_hash,
        }
    }

    /// A new account record from revm's view, with an empty storage trie.
    pub fn from_info(info: &AccountInfo) -> Self {
        Self {
            nonce: info.nonce,
            balance: info.balance,
            code_hash: info.code_hash,
            storage_root: EMPTY_ROOT_HASH,
            storage_root_block: 0,
        }
    }
}

impl Codec for StoredAccount {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(Self::LEN);
        out.extend_from_slice(&self.nonce.to_be_bytes());
        out.extend_from_slice(&self.balance.to_be_bytes::<32>());
        out.extend_from_slice(self.code_hash.as_slice());
        out.extend_from_slice(self.storage_root.as_slice());
        out.extend_from_slice(&self.storage_root_block.to_be_bytes());
        out
    }
    fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        if bytes.len() != Self::LEN {
            return Err(CodecError::new("StoredAccount", format!("{} bytes", bytes.len())));
        }
        Ok(Self {
            nonce: u64::decode(&bytes[..8])?,
            balance: U256::from_be_slice(&bytes[8..40]),
            code_hash: B256::from_slice(&bytes[40..72]),
            storage_root: B256::from_slice(&bytes[72..104]),
            storage_root_block: u64::decode(&bytes[104..112])?,
        })
    }
}

/// An account before a block changed it: `None` when it did not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountBefore(pub Option<StoredAccount>);

impl Codec for AccountBefore {
    fn encode(&self) -> Vec<u8> {
        self.0.map(|a| a.encode()).unwrap_or_default()
    }
    fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        if bytes.is_empty() { Ok(Self(None)) } else { StoredAccount::decode(bytes).map(|a| Self(Some(a))) }
    }
}

/// Contract code, stored as its original bytes; revm analyses it on load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCode(pub Vec<u8>);

impl StoredCode {
    /// The bytecode revm executes (EIP-7702 delegations are recognised by their prefix).
    pub fn bytecode(&self) -> Bytecode {
        Bytecode::new_raw_checked(self.0.clone().into()).unwrap_or_else(|_| Bytecode::new_legacy(self.0.clone().into()))
    }
}

impl Codec for StoredCode {
    fn encode(&self) -> Vec<u8> {
        self.0.clone()
    }
    fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        Ok(Self(bytes.to_vec()))
    }
}

composite_key!(
    /// Where a hashed trie node is stored: the block whose write added it, then its hash.
    /// Keyed by block first, a block's new nodes are appended next to each other at the end
    /// of the table instead of landing on a random page each (a 1M-account ERC-20 block
    /// wrote ~11,000 pages for its nodes keyed by hash alone). A node refers to its children
    /// by hash, so each stored node carries its children's blocks after its RLP
    /// (`trie::mpt`).
    NodeKey { block: u64 = 8, hash: B256 = 32 }
);

composite_key!(
    /// A storage slot of an account.
    StorageKey { address: Address = 20, slot: B256 = 32 }
);

composite_key!(
    /// Where a transaction sits: block number and index in the block.
    TxLocation { block: u64 = 8, index: TxIndex = 4 }
);

/// The position of a transaction in its block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TxIndex(pub u32);

impl Codec for TxIndex {
    fn encode(&self) -> Vec<u8> {
        self.0.to_be_bytes().to_vec()
    }
    fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        let arr: [u8; 4] = bytes.try_into().map_err(|_| CodecError::new("u32", "expected 4 bytes"))?;
        Ok(Self(u32::from_be_bytes(arr)))
    }
}

composite_key!(
    /// An account changed in a block (account change set key).
    BlockAddress { block: u64 = 8, address: Address = 20 }
);

composite_key!(
    /// A storage slot changed in a block (storage change set key).
    BlockStorageKey { block: u64 = 8, address: Address = 20, slot: B256 = 32 }
);

composite_key!(
    /// A block in which an account changed (history index key): address first, so a cursor
    /// finds the first change after any block.
    AddressBlock { address: Address = 20, block: u64 = 8 }
);

composite_key!(
    /// A block with a log emitted by an address or carrying a topic (log index key).
    WordBlock { word: B256 = 32, block: u64 = 8 }
);

/// A storage value before a block changed it (zero when unset).
pub type StorageBefore = U256;
