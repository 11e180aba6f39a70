//! Every table of the chain database, declared once in [`tables!`], with its key and value
//! encodings. Adding a table is one line here; the environment opens them all.

use super::codec::{Codec, Rlp};
use super::models::*;
use alloy_consensus::{BlockBody, Header, ReceiptEnvelope, TxEnvelope};
use alloy_primitives::{Address, B256};

/// A table: a name in the MDBX environment and the types of its keys and values.
pub trait Table {
    /// The MDBX sub-database name.
    const NAME: &'static str;
    /// Position of [`Self::NAME`] in [`TABLE_NAMES`]: open handles are kept in that order,
    /// so finding one is an index rather than a hash of the name on every read.
    const INDEX: usize;
    /// The key type.
    type Key: Codec;
    /// The value type.
    type Value: Codec;
}

/// A block's receipts, in transaction order.
pub type BlockReceipts = Rlp<Vec<ReceiptEnvelope>>;
/// A block's body.
pub type StoredBody = Rlp<BlockBody<TxEnvelope>>;
/// A block's transaction senders, in order (20 bytes each).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Senders(pub Vec<Address>);

impl Codec for Senders {
    fn encode(&self) -> Vec<u8> {
        self.0.iter().flat_map(|a| a.0 .0).collect()
    }
    fn decode(bytes: &[u8]) -> Result<Self, super::codec::CodecError> {
        Ok(Self(fixed_width_items("Senders", bytes, Address::len_bytes(), Address::from_slice)?))
    }
}

/// A block's transaction hashes, in order (32 bytes each). Stored so that readers which
/// name transactions (eth_getLogs, receipts of a block) need not re-encode and hash every
/// transaction of every block they touch.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TxHashList(pub Vec<B256>);

impl Codec for TxHashList {
    fn encode(&self) -> Vec<u8> {
        self.0.iter().flat_map(|h| h.0).collect()
    }
    fn decode(bytes: &[u8]) -> Result<Self, super::codec::CodecError> {
        Ok(Self(fixed_width_items("TxHashList", bytes, B256::len_bytes(), B256::from_slice)?))
    }
}

/// Splits `bytes` into `width`-byte items; a length that is not a multiple is corrupt.
fn fixed_width_items<T>(
    what: &'static str,
    bytes: &[u8],
    width: usize,
    item: impl Fn(&[u8]) -> T,
) -> Result<Vec<T>, super::codec::CodecError> {
    if !bytes.len().is_multiple_of(width) {
        return Err(super::codec::CodecError::new(what, "length not a multiple of the item width"));
    }
    Ok(bytes.chunks_exact(width).map(item).collect())
}

/// Position of `name` in [`TABLE_NAMES`] (evaluated at compile time).
const fn table_index(name: &str) -> usize {
    let mut i = 0;
    while i < TABLE_NAMES.len() {
        if TABLE_NAMES[i].len() == name.len() {
            let (a, b) = (TABLE_NAMES[i].as_bytes(), name.as_bytes());
            let mut j = 0;
            while j < a.len() && a[j] == b[j] {
                j += 1;
            }
            if j == a.len() {
                return i;
            }
        }
        i += 1;
    }
    panic!("table missing from TABLE_NAMES");
}

macro_rules! tables {
    ($($(#[$doc:meta])* $name:ident : $key:ty => $value:ty;)+) => {
        $(
            $(#[$doc])*
            #[derive(Debug, Clone, Copy)]
            pub struct $name;
            impl Table for $name {
                const NAME: &'static str = stringify!($name);
                const INDEX: usize = table_index(stringify!($name));
                type Key = $key;
                type Value = $value;
            }
        )+
        /// The names of all tables, for opening the environment.
        pub const TABLE_NAMES: &[&str] = &[$(stringify!($name)),+];
    };
}

tables! {
    /// Block number -> canonical block hash.
    CanonicalHashes: u64 => B256;
    /// Block hash -> block number.
    HeaderNumbers: B256 => u64;
    /// Block number -> header (RLP).
    Headers: u64 => Rlp<Header>;
    /// Block number -> body: transactions, ommers, withdrawals (RLP).
    Bodies: u64 => StoredBody;
    /// Block number -> transaction senders, recovered once at import.
    TxSenders: u64 => Senders;
    /// Block number -> transaction hashes, in order (absent for blocks written before the
    /// table existed; readers then hash the body's transactions).
    TxHashes: u64 => TxHashList;
    /// Block number -> receipts (RLP list of EIP-2718 receipts with bloom).
    Receipts: u64 => BlockReceipts;
    /// Transaction hash -> (block number, index).
    TxLookup: B256 => TxLocation;
    /// Address -> account at the head.
    Accounts: Address => StoredAccount;
    /// (address, slot) -> non-zero storage value at the head.
    Storage: StorageKey => alloy_primitives::U256;
    /// Code hash -> bytecode.
    Bytecodes: B256 => StoredCode;
    /// (block, node hash) -> RLP of a Merkle-Patricia node, then the blocks of its children
    /// referenced by hash (account and storage tries; nodes are never overwritten or
    /// deleted, so every past state root stays provable).
    TrieNodes: NodeKey => Vec<u8>;
    /// Block number -> the block whose write stored that block's state root node (the
    /// same block unless the block changed no state).
    StateRootBlocks: u64 => u64;
    /// (block, address) -> account before the block changed it.
    AccountChangeSets: BlockAddress => AccountBefore;
    /// (block, address, slot) -> storage value before the block changed it. Appended with
    /// each block as the record of what it changed, slot by slot; reads of storage at a past
    /// block walk that block's storage trie instead, which needs no per-slot history index.
    StorageChangeSets: BlockStorageKey => StorageBefore;
    /// (address, block): the blocks in which an account changed.
    AccountHistory: AddressBlock => ();
    /// (emitting address as a word, block): blocks with logs from an address.
    LogAddressIndex: WordBlock => ();
    /// (topic, block): blocks with logs carrying a topic at any position.
    LogTopicIndex: WordBlock => ();
    /// Name -> value: the head block, the chain spec and other single values.
    Meta: Vec<u8> => Vec<u8>;
    /// Sequence number -> consensus metadata (written by the replica, same transaction as
    /// the block).
    ConsensusMeta: u64 => Vec<u8>;
    /// Block number -> finality certificate over the block hash.
    FinalityCertificates: u64 => Vec<u8>;
    /// Block number -> the commit proof (certificate and proposal) that ordered it, written
    /// in the same transaction as the block.
    CommitProofs: u64 => Vec<u8>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tx_hash_list_round_trips_and_refuses_a_torn_value() {
        let hashes = TxHashList(vec![B256::repeat_byte(1), B256::repeat_byte(2)]);
        let bytes = hashes.encode();
        assert_eq!(bytes.len(), 64);
        assert_eq!(TxHashList::decode(&bytes).unwrap(), hashes);
        assert_eq!(TxHashList::decode(&[]).unwrap(), TxHashList::default());
        let err = TxHashList::decode(&bytes[..40]).unwrap_err();
        assert!(err.to_string().contains("TxHashList"), "{err}");
    }
}
