//! Reads of the chain itself: the head, headers, bodies and receipts by number or hash.

use super::{
    codec::Rlp,
    models::TxLocation,
    tables::{Bodies, CanonicalHashes, HeaderNumbers, Headers, Meta, Receipts, StateRootBlocks, TxHashes, TxLookup, TxSenders},
    DbError, DbTx,
};
use alloy_consensus::{BlockBody, Header, ReceiptEnvelope, TxEnvelope};
use alloy_primitives::{Address, B256};
use crate::trie::{NodeKey, EMPTY_ROOT};
use signet_libmdbx::{RwSync, TransactionKind};

/// Meta key of the head block number.
const HEAD_KEY: &[u8] = b"head";

impl<K: TransactionKind> DbTx<K> {
    /// The number of the last fully committed block, or `None` for an empty database.
    pub fn head_number(&self) -> Result<Option<u64>, DbError> {
        self.get::<Meta>(&HEAD_KEY.to_vec())?
            .map(|bytes| {
                <u64 as super::codec::Codec>::decode(&bytes)
                    .map_err(|source| DbError::Codec { table: "Meta", source })
            })
            .transpose()
    }

    /// The head header; an error for an empty database.
    pub fn head_header(&self) -> Result<Header, DbError> {
        let number = self.head_number()?.ok_or_else(|| DbError::Inconsistent("no genesis block".into()))?;
        self.header(number)?.ok_or_else(|| DbError::Inconsistent(format!("head {number} has no header")))
    }

    /// A canonical header by number.
    pub fn header(&self, number: u64) -> Result<Option<Header>, DbError> {
        Ok(self.get::<Headers>(&number)?.map(|h| h.0))
    }

    /// Where the state root of block `number`, which its header names `state_root`, is
    /// stored.
    pub fn state_root_key(&self, number: u64, state_root: B256) -> Result<NodeKey, DbError> {
        if state_root == EMPTY_ROOT.hash {
            return Ok(EMPTY_ROOT);
        }
        let block = self
            .get::<StateRootBlocks>(&number)?
            .ok_or_else(|| DbError::Inconsistent(format!("block {number} has no state root location")))?;
        Ok(NodeKey { block, hash: state_root })
    }

    /// A canonical block hash by number.
    pub fn block_hash(&self, number: u64) -> Result<Option<B256>, DbError> {
        self.get::<CanonicalHashes>(&number)
    }

    /// A block number by hash.
    pub fn block_number(&self, hash: &B256) -> Result<Option<u64>, DbError> {
        self.get::<HeaderNumbers>(hash)
    }

    /// A block body by number.
    pub fn body(&self, number: u64) -> Result<Option<BlockBody<TxEnvelope>>, DbError> {
        Ok(self.get::<Bodies>(&number)?.map(|b| b.0))
    }

    /// The senders of a block's transactions.
    pub fn senders(&self, number: u64) -> Result<Vec<Address>, DbError> {
        Ok(self.get::<TxSenders>(&number)?.map(|s| s.0).unwrap_or_default())
    }

    /// A block's transaction hashes, in order; `None` for a block written before they were
    /// stored (see [`TxHashes`]).
    pub fn tx_hashes(&self, number: u64) -> Result<Option<Vec<B256>>, DbError> {
        Ok(self.get::<TxHashes>(&number)?.map(|h| h.0))
    }

    /// A block's transaction hashes, in order: the stored ones, or for a block written
    /// before they were stored, hashed from its body.
    pub fn transaction_hashes(&self, number: u64) -> Result<Vec<B256>, DbError> {
        if let Some(hashes) = self.tx_hashes(number)? {
            return Ok(hashes);
        }
        let body = self.body(number)?.unwrap_or_default();
        Ok(body.transactions.iter().map(alloy_eips::Encodable2718::trie_hash).collect())
    }

    /// A block's receipts.
    pub fn receipts(&self, number: u64) -> Result<Option<Vec<ReceiptEnvelope>>, DbError> {
        Ok(self.get::<Receipts>(&number)?.map(|r| r.0))
    }

    /// Where a transaction is.
    pub fn tx_location(&self, hash: &B256) -> Result<Option<TxLocation>, DbError> {
        self.get::<TxLookup>(hash)
    }
}

impl DbTx<RwSync> {
    /// Records `number` as the head (in the same transaction as the block).
    pub fn set_head(&self, number: u64) -> Result<(), DbError> {
        self.put::<Meta>(&HEAD_KEY.to_vec(), &<u64 as super::codec::Codec>::encode(&number))
    }
}

/// The state root of the head block, and where it is stored.
pub fn head_state_root<K: TransactionKind>(tx: &DbTx<K>) -> Result<NodeKey, DbError> {
    let head = tx.head_header()?;
    tx.state_root_key(head.number, head.state_root)
}

/// Rlp-wrapped header, for writers.
pub(crate) fn stored_header(header: &Header) -> Rlp<Header> {
    Rlp(header.clone())
}
