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
        if bytes.len() % 20 != 0 {
            return Err(super::codec::CodecError::new("Senders", "length not a multiple of 20"));
        }
        Ok(Self(bytes.chunks_exact(20).map(Address::from_slice).collect()))
    }
}

macro_rules! tables {
    ($($(#[$doc:meta])* $name:ident : $key:ty => $value:ty;)+) => {
        $(
            $(#[$doc])*
            #[derive(Debug, Clone, Copy)]
            pub struct $name;
            impl Table for $name {
                const NAME: &'static str = stringify!($name);
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
    /// Node hash -> RLP of a Merkle-Patricia node (account and storage tries; nodes are
    /// content-addressed and kept, so every past state root stays provable).
    TrieNodes: B256 => Vec<u8>;
    /// (block, address) -> account before the block changed it.
    AccountChangeSets: BlockAddress => AccountBefore;
    /// (block, address, slot) -> storage value before the block changed it.
    StorageChangeSets: BlockStorageKey => StorageBefore;
    /// (address, block): the blocks in which an account changed.
    AccountHistory: AddressBlock => ();
    /// (address, slot, block): the blocks in which a slot changed.
    StorageHistory: StorageBlock => ();
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
