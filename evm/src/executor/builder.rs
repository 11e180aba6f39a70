//! Builds stele's own blocks: given the parent, a timestamp, a beneficiary and an ordered
//! batch of transactions (as consensus committed it), execute them, leave out
//! deterministically those invalid at their point (nonce, balance, block gas, blob
//! transactions), and seal an Ethereum block. The same inputs give the same block hash on
//! every machine: nothing here reads a clock or a random source.

use super::{
    block::{execute_block, BlockEnvInput, ExecuteError, InvalidTxPolicy},
    persist::{persist_block, BlockToPersist},
    post_state::{bundle_updates, keep_resident, state_root_of},
};
use crate::{
    chainspec::ChainSpec,
    db::{ChainDb, DbError, DbTx},
    state::{StateAt, StateReader},
    trie::StateRootOutput,
};
use alloy_consensus::{
    constants::EMPTY_OMMER_ROOT_HASH,
    proofs::{calculate_receipt_root, calculate_transaction_root},
    transaction::Recovered,
    BlockBody, BlockHeader, Header, ReceiptEnvelope, TxEnvelope, EMPTY_ROOT_HASH,
};
use alloy_eips::eip4895::Withdrawals;
use alloy_hardforks::EthereumHardforks;
use alloy_primitives::{keccak256, Address, Bloom, Bytes, B256};
use revm::database::BundleState;
use signet_libmdbx::TransactionKind;
use std::sync::Arc;

/// What a block is built from.
#[derive(Debug, Clone)]
pub struct BlockRequest {
    /// Seconds since the epoch; at least the parent's (stele allows equal timestamps,
    /// sbft.md decision 7).
    pub timestamp: u64,
    /// Who receives the priority fees.
    pub beneficiary: Address,
    /// The ordered batch.
    pub transactions: Vec<Recovered<TxEnvelope>>,
    /// Free-form header extra data (at most 32 bytes).
    pub extra_data: Bytes,
}

/// Why a block could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The timestamp goes back in time.
    #[error("timestamp {timestamp} is before the parent's {parent}")]
    TimestampBeforeParent {
        /// Requested.
        timestamp: u64,
        /// The parent's.
        parent: u64,
    },
    /// Extra data over 32 bytes.
    #[error("extra data is {0} bytes; at most 32")]
    ExtraDataTooLong(usize),
    /// Execution failed for the block as a whole.
    #[error(transparent)]
    Execute(#[from] ExecuteError),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The trie failed.
    #[error(transparent)]
    Trie(#[from] crate::trie::TrieError),
    /// The thread that commits blocks in the pipeline failed.
    #[error("the block commit thread: {0}")]
    CommitThread(String),
}

/// A sealed block with everything needed to persist it.
#[derive(Debug)]
pub struct BuiltBlock {
    /// The header.
    pub header: Header,
    /// keccak256(rlp(header)).
    pub hash: B256,
    /// The included transactions (and empty ommers, withdrawals if Shanghai is active).
    pub body: BlockBody<TxEnvelope>,
    /// Senders of the included transactions.
    pub senders: Vec<Address>,
    /// Receipts of the included transactions.
    pub receipts: Vec<ReceiptEnvelope>,
    /// Transactions left out, as (index in the request, reason).
    pub skipped: Vec<(usize, String)>,
    /// What the block changed.
    pub bundle: BundleState,
    /// The state root and trie nodes.
    pub trie: StateRootOutput,
    /// Where the time went.
    pub timings: BuildTimings,
}

/// Wall time of each stage of building a block, for benchmarks and logs.
#[derive(Debug, Clone, Copy, Default)]
pub struct BuildTimings {
    /// Executing the transactions (revm), receipts included.
    pub execute: std::time::Duration,
    /// Computing the state root (trie reads, updates and hashing).
    pub state_root: std::time::Duration,
    /// Writing the block and state and committing (zero until committed).
    pub commit: std::time::Duration,
    /// The part of `commit` spent in MDBX's commit itself: the B-tree's copy-on-write
    /// bookkeeping and the durable flush of every dirty page to disk.
    pub flush: std::time::Duration,
}

/// The header of the child of `parent`, without the fields execution determines.
fn draft_header(spec: &ChainSpec, parent: &Header, request: &BlockRequest) -> Header {
    let number = parent.number + 1;
    let timestamp = request.timestamp;
    let cancun = spec.is_cancun_active_at_timestamp(timestamp);
    Header {
        parent_hash: parent.hash_slow(),
        ommers_hash: EMPTY_OMMER_ROOT_HASH,
        beneficiary: request.beneficiary,
        number,
        gas_limit: parent.gas_limit,
        timestamp,
        extra_data: request.extra_data.clone(),
        // No beacon chain: the randomness opcode sees a value derived from the parent,
        // the same on every replica (and useless as randomness, as documented).
        mix_hash: keccak256(parent.hash_slow()),
        base_fee_per_gas: spec.next_base_fee(parent),
        withdrawals_root: spec.is_shanghai_active_at_timestamp(timestamp).then_some(EMPTY_ROOT_HASH),
        blob_gas_used: cancun.then_some(0),
        excess_blob_gas: if cancun {
            Some(parent.maybe_next_block_excess_blob_gas(spec.blob_params_at(timestamp)).unwrap_or(0))
        } else {
            None
        },
        parent_beacon_block_root: cancun.then_some(B256::ZERO),
        requests_hash: None,
        ..Default::default()
    }
}

/// Builds the child of the head block. Nothing is written.
pub fn build_block<K: TransactionKind>(
    tx: &DbTx<K>,
    spec: &Arc<ChainSpec>,
    request: &BlockRequest,
) -> Result<BuiltBlock, BuildError>
where
    // The state root is computed on every core.
    DbTx<K>: Sync,
{
    build_block_on(StateReader::new(tx, StateAt::Head), spec, request)
}

/// Builds the child of the head block that `state` reads (which may be a block not yet
/// committed, [`StateReader::head_over`]). Nothing is written.
pub fn build_block_on<K: TransactionKind>(
    state: StateReader<'_, K>,
    spec: &Arc<ChainSpec>,
    request: &BlockRequest,
) -> Result<BuiltBlock, BuildError>
where
    DbTx<K>: Sync,
{
    if request.extra_data.len() > 32 {
        return Err(BuildError::ExtraDataTooLong(request.extra_data.len()));
    }
    let parent = state.head_header()?;
    if request.timestamp < parent.timestamp {
        return Err(BuildError::TimestampBeforeParent { timestamp: request.timestamp, parent: parent.timestamp });
    }
    let mut header = draft_header(spec, &parent, request);

    // Blob transactions carry no blobs here (stele has no blob network): never included.
    let mut skipped = Vec::new();
    let mut candidates = Vec::with_capacity(request.transactions.len());
    let mut candidate_index = Vec::with_capacity(request.transactions.len());
    for (index, transaction) in request.transactions.iter().enumerate() {
        if transaction.inner().is_eip4844() {
            skipped.push((index, "blob transactions are not supported".to_string()));
        } else {
            candidates.push(Recovered::new_unchecked(transaction.inner(), transaction.signer()));
            candidate_index.push(index);
        }
    }
    let withdrawals = header.withdrawals_root.map(|_| Withdrawals::default());
    let input = BlockEnvInput { header: &header, ommers: &[], withdrawals: withdrawals.as_ref().map(|w| w.as_slice()) };
    let started = std::time::Instant::now();
    let executed = execute_block(state, spec, &input, &candidates, InvalidTxPolicy::Skip)?;
    let execute = started.elapsed();
    skipped.extend(executed.skipped.iter().map(|(i, reason)| (candidate_index[*i], reason.clone())));
    skipped.sort();

    let included: Vec<&Recovered<TxEnvelope>> =
        executed.included.iter().map(|i| &request.transactions[candidate_index[*i]]).collect();
    let transactions: Vec<TxEnvelope> = included.iter().map(|r| r.inner().clone()).collect();
    let senders = included.iter().map(|r| r.signer()).collect();

    let started = std::time::Instant::now();
    let updates = bundle_updates(&state, &executed.bundle)?;
    let (trie, resident) = state_root_of(&state, header.parent_hash, state.head_state_root()?, &updates, header.number)?;
    let state_root = started.elapsed();
    header.state_root = trie.root.hash;
    header.transactions_root = calculate_transaction_root(&transactions);
    header.receipts_root = calculate_receipt_root(&executed.receipts);
    header.logs_bloom = executed.receipts.iter().fold(Bloom::ZERO, |acc, r| acc | *r.logs_bloom());
    header.gas_used = executed.gas_used;
    if header.blob_gas_used.is_some() {
        header.blob_gas_used = Some(executed.blob_gas_used);
    }
    if spec.is_prague_active_at_timestamp(header.timestamp) {
        header.requests_hash = Some(executed.requests.requests_hash());
    }
    let hash = header.hash_slow();
    keep_resident(&state, hash, resident);
    Ok(BuiltBlock {
        header,
        hash,
        body: BlockBody { transactions, ommers: Vec::new(), withdrawals },
        senders,
        receipts: executed.receipts,
        skipped,
        bundle: executed.bundle,
        trie,
        timings: BuildTimings { execute, state_root, ..Default::default() },
    })
}

/// Builds the next block on the head and commits it in one write transaction.
pub fn build_and_commit(db: &ChainDb, spec: &Arc<ChainSpec>, request: &BlockRequest) -> Result<BuiltBlock, BuildError> {
    build_and_commit_with(db, spec, request, |_, _| Ok(()))
}

/// Like [`build_and_commit`], and `also` writes the caller's rows (e.g. the consensus
/// metadata of the block) into the same write transaction, so both land or neither does.
pub fn build_and_commit_with(
    db: &ChainDb,
    spec: &Arc<ChainSpec>,
    request: &BlockRequest,
    also: impl FnOnce(&crate::db::WriteTx, &BuiltBlock) -> Result<(), DbError>,
) -> Result<BuiltBlock, BuildError> {
    // Execute against a read snapshot: MDBX has one writer, and a block of ERC-20 transfers
    // takes long enough to execute that holding the write lock meanwhile stalls every other
    // writer (the replica's consensus records). Only this thread writes blocks, so the head
    // cannot move between the snapshot and the write below.
    let mut built = {
        let snapshot = db.read()?;
        build_block(&snapshot, spec, request)?
    };
    let (commit, flush) = commit_built(db, &built, also)?;
    built.timings.commit = commit;
    built.timings.flush = flush;
    Ok(built)
}

/// Writes `built` and the caller's rows in one write transaction and commits it; the
/// database's head must be `built`'s parent. Returns the time the whole write took and the
/// part of it spent in MDBX's commit (the flush).
pub(crate) fn commit_built(
    db: &ChainDb,
    built: &BuiltBlock,
    also: impl FnOnce(&crate::db::WriteTx, &BuiltBlock) -> Result<(), DbError>,
) -> Result<(std::time::Duration, std::time::Duration), BuildError> {
    let tx = db.write()?;
    if tx.head_number()? != Some(built.header.number - 1) {
        return Err(BuildError::Db(DbError::Inconsistent(format!(
            "the head moved while block {} was being built",
            built.header.number
        ))));
    }
    let started = std::time::Instant::now();
    persist_block(
        &tx,
        &BlockToPersist {
            header: &built.header,
            hash: built.hash,
            body: &built.body,
            senders: &built.senders,
            receipts: &built.receipts,
            bundle: &built.bundle,
            trie: &built.trie,
        },
    )?;
    also(&tx, built)?;
    let flushing = std::time::Instant::now();
    tx.commit()?;
    Ok((started.elapsed(), flushing.elapsed()))
}
