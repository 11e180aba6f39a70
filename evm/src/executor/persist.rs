//! Writes an executed block and everything derived from it: canonical chain, body,
//! receipts, lookups, plain state, change sets, account history and log indices, bytecode and trie
//! nodes. The caller commits the transaction, so all of it lands or none does.

use crate::{
    db::{
        chain::stored_header,
        codec::Rlp,
        models::{
            AccountBefore, AddressBlock, BlockAddress, BlockStorageKey, StorageKey, StoredCode, TxIndex, TxLocation, WordBlock,
        },
        tables::{
            AccountChangeSets, AccountHistory, Accounts, Bodies, Bytecodes, CanonicalHashes,
            HeaderNumbers, Headers, LogAddressIndex, LogTopicIndex, Receipts, Senders, Storage,
            StateRootBlocks, StorageChangeSets, TxHashList, TxHashes, TxLookup, TxSenders,
        },
        DbError, WriteTx,
    },
    trie::{NodeKey, StateRootOutput},
};
use super::pending::stored_account;
use alloy_consensus::{BlockBody, Header, ReceiptEnvelope, TxEnvelope};
use alloy_eips::Encodable2718;
use alloy_primitives::{Address, B256, U256};
use revm::database::BundleState;
use std::collections::{BTreeMap, BTreeSet};

/// A sealed block and its execution results, ready to be written.
#[derive(Debug)]
pub struct BlockToPersist<'a> {
    /// The header.
    pub header: &'a Header,
    /// keccak256(rlp(header)).
    pub hash: B256,
    /// Transactions, ommers, withdrawals.
    pub body: &'a BlockBody<TxEnvelope>,
    /// The sender of each transaction.
    pub senders: &'a [Address],
    /// The receipt of each transaction.
    pub receipts: &'a [ReceiptEnvelope],
    /// What the block changed.
    pub bundle: &'a BundleState,
    /// The new state root with storage roots and trie nodes.
    pub trie: &'a StateRootOutput,
}

/// Writes `block` into `tx` and makes it the head. Does not commit.
pub fn persist_block(tx: &WriteTx, block: &BlockToPersist<'_>) -> Result<(), DbError> {
    let number = block.header.number;
    tx.put::<CanonicalHashes>(&number, &block.hash)?;
    tx.put::<HeaderNumbers>(&block.hash, &number)?;
    tx.put::<Headers>(&number, &stored_header(block.header))?;
    tx.put::<Bodies>(&number, &Rlp(block.body.clone()))?;
    tx.put::<TxSenders>(&number, &Senders(block.senders.to_vec()))?;
    tx.put::<Receipts>(&number, &Rlp(block.receipts.to_vec()))?;
    // Keyed by hash, these rows land all over their B-trees; written in key order, each
    // insert finds the pages the previous one walked still in the CPU's caches.
    let hashes: Vec<B256> = block.body.transactions.iter().map(Encodable2718::trie_hash).collect();
    let mut lookups = Vec::with_capacity(hashes.len());
    for (index, hash) in hashes.iter().enumerate() {
        let index = TxIndex(u32::try_from(index).map_err(|_| DbError::Inconsistent("block has over 2^32 transactions".into()))?);
        lookups.push((*hash, TxLocation { block: number, index }));
    }
    tx.put::<TxHashes>(&number, &TxHashList(hashes))?;
    lookups.sort_unstable_by_key(|(hash, _)| *hash);
    for (hash, location) in &lookups {
        tx.put::<TxLookup>(hash, location)?;
    }
    write_state(tx, number, block.bundle, block.trie)?;
    // Keyed by this block first, the nodes go to the end of the table, next to each other.
    let mut nodes: Vec<&(B256, Vec<u8>)> = block.trie.nodes.iter().collect();
    nodes.sort_unstable_by_key(|node| node.0);
    nodes.dedup_by_key(|node| node.0);
    for (hash, node) in nodes {
        tx.put_trie_node(NodeKey { block: number, hash: *hash }, node)?;
    }
    tx.put::<StateRootBlocks>(&number, &block.trie.root.block)?;
    write_log_index(tx, number, block.receipts)?;
    tx.set_head(number)
}

fn write_state(tx: &WriteTx, number: u64, bundle: &BundleState, trie: &StateRootOutput) -> Result<(), DbError> {
    for (hash, code) in &bundle.contracts {
        tx.put::<Bytecodes>(hash, &StoredCode(code.original_bytes().to_vec()))?;
    }
    let addresses: BTreeSet<Address> = bundle.state.keys().copied().collect();
    for address in addresses {
        let Some(account) = bundle.state.get(&address) else { continue };
        let before = tx.get::<Accounts>(&address)?;
        tx.put::<AccountChangeSets>(&BlockAddress { block: number, address }, &AccountBefore(before))?;
        tx.put::<AccountHistory>(&AddressBlock { address, block: number }, &())?;

        // Slots as they were before the block: from a wipe (every stored slot) and from
        // the slots the block wrote.
        let mut prior: BTreeMap<B256, U256> = BTreeMap::new();
        if account.status.was_destroyed() {
            let mut wiped = Vec::new();
            tx.walk::<Storage>(&StorageKey { address, slot: B256::ZERO }, |key, value| {
                if key.address != address {
                    return Ok(false);
                }
                wiped.push((key.slot, value));
                Ok(true)
            })?;
            for (slot, value) in wiped {
                tx.delete::<Storage>(&StorageKey { address, slot })?;
                prior.insert(slot, value);
            }
        }
        let mut present = Vec::new();
        for (key, slot) in &account.storage {
            let slot_key = B256::from(*key);
            if slot.is_changed() || account.status.was_destroyed() {
                prior.entry(slot_key).or_insert(slot.previous_or_original_value);
                present.push((slot_key, slot.present_value));
            }
        }
        for (slot, value) in &prior {
            tx.put::<StorageChangeSets>(&BlockStorageKey { block: number, address, slot: *slot }, value)?;
        }
        for (slot, value) in present {
            let key = StorageKey { address, slot };
            if value.is_zero() { tx.delete::<Storage>(&key)? } else { tx.put::<Storage>(&key, &value)? }
        }

        match &account.info {
            None => tx.delete::<Accounts>(&address)?,
            Some(info) => tx.put::<Accounts>(&address, &stored_account(address, info, trie))?,
        }
    }
    Ok(())
}

fn write_log_index(tx: &WriteTx, number: u64, receipts: &[ReceiptEnvelope]) -> Result<(), DbError> {
    let mut words = BTreeSet::new();
    let mut topics = BTreeSet::new();
    for receipt in receipts {
        for log in receipt.logs() {
            words.insert(log.address.into_word());
            topics.extend(log.topics().iter().copied());
        }
    }
    for word in words {
        tx.put::<LogAddressIndex>(&WordBlock { word, block: number }, &())?;
    }
    for word in topics {
        tx.put::<LogTopicIndex>(&WordBlock { word, block: number }, &())?;
    }
    Ok(())
}
