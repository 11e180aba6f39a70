//! Imports a chain file (concatenated RLP blocks, as `geth export` writes): every block is
//! executed and every field execution determines is checked against the file before the
//! block is committed. A mismatch stops the import at the last good block with an error
//! naming the block, the field and both values. Proof-of-work seals are not checked.

use crate::{
    chainspec::ChainSpec,
    db::{ChainDb, DbError, DbTx},
    executor::{
        block::{execute_block, BlockEnvInput, ExecuteError, InvalidTxPolicy},
        builder::{commit_built, BuildError, BuildTimings, BuiltBlock},
        pipeline::BlockPipeline,
        post_state::{bundle_updates, keep_resident, state_root_of},
    },
    genesis::{init_genesis, GenesisError},
    state::{StateAt, StateReader},
    trie::TrieError,
};
use alloy_consensus::{
    proofs::{calculate_ommers_root, calculate_receipt_root, calculate_transaction_root, calculate_withdrawals_root},
    transaction::SignerRecoverable,
    Block, Header, TxEnvelope,
};
use alloy_primitives::{Bloom, B256};
use alloy_rlp::Decodable;
use signet_libmdbx::TransactionKind;
use std::{
    sync::Arc,
    time::{Duration, Instant},
};

/// Why an import stopped.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The chain file is truncated or is not RLP blocks.
    #[error("chain file: cannot decode the block at byte {offset} (after block {after}): {reason}")]
    Decode {
        /// Byte offset of the undecodable block.
        offset: usize,
        /// The last block decoded before it.
        after: String,
        /// The decoder's complaint.
        reason: String,
    },
    /// A computed value differs from the block's.
    #[error("block {block}: {field} mismatch: expected {expected}, computed {computed}")]
    Mismatch {
        /// Block number.
        block: u64,
        /// Header field (or `hash`).
        field: &'static str,
        /// The value in the chain file.
        expected: String,
        /// The value stele computed.
        computed: String,
    },
    /// A block does not follow the database head.
    #[error("block {block} does not follow the database head {head}")]
    NotContiguous {
        /// The block in the file.
        block: u64,
        /// The head in the database.
        head: u64,
    },
    /// A transaction signature does not recover.
    #[error("block {block}: transaction {index} has an invalid signature: {reason}")]
    BadSignature {
        /// Block number.
        block: u64,
        /// Index in the block.
        index: usize,
        /// Why.
        reason: String,
    },
    /// Execution failed.
    #[error(transparent)]
    Execute(#[from] ExecuteError),
    /// The genesis does not fit the database.
    #[error(transparent)]
    Genesis(#[from] GenesisError),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The trie failed.
    #[error(transparent)]
    Trie(#[from] TrieError),
    /// Committing the block failed (the head moved, or the commit thread failed).
    #[error(transparent)]
    Commit(BuildError),
}

impl From<BuildError> for ImportError {
    fn from(err: BuildError) -> Self {
        match err {
            BuildError::Db(err) => Self::Db(err),
            BuildError::Execute(err) => Self::Execute(err),
            BuildError::Trie(err) => Self::Trie(err),
            other => Self::Commit(other),
        }
    }
}

/// How an import went.
#[derive(Debug, Clone, Default)]
pub struct ImportSummary {
    /// Blocks executed and committed by this run.
    pub imported: u64,
    /// Blocks already in the database (a resumed import), checked by hash.
    pub already_present: u64,
    /// The head after the import.
    pub head_number: u64,
    /// Its hash.
    pub head_hash: B256,
    /// Transactions executed.
    pub transactions: u64,
    /// Gas executed.
    pub gas: u64,
}

/// Progress reported while importing, at most about once a second and at the end.
#[derive(Debug, Clone)]
pub struct ImportProgress {
    /// The block just committed.
    pub block: u64,
    /// The last block in the file.
    pub last: u64,
    /// Blocks committed so far by this run.
    pub imported: u64,
    /// Time since the start.
    pub elapsed: Duration,
}

/// Splits a chain file into blocks. A truncated or malformed tail is an error that names
/// the offset; the blocks before it are returned with it so they can still be imported.
pub fn decode_chain_file(mut bytes: &[u8]) -> (Vec<Block<TxEnvelope>>, Option<ImportError>) {
    let total = bytes.len();
    let mut blocks: Vec<Block<TxEnvelope>> = Vec::new();
    while !bytes.is_empty() {
        let offset = total - bytes.len();
        match Block::<TxEnvelope>::decode(&mut bytes) {
            Ok(block) => blocks.push(block),
            Err(e) => {
                let after = blocks.last().map_or_else(|| "none".to_string(), |b| b.header.number.to_string());
                return (blocks, Some(ImportError::Decode { offset, after, reason: e.to_string() }));
            }
        }
    }
    (blocks, None)
}

fn check<T: PartialEq + std::fmt::Debug>(block: u64, field: &'static str, expected: T, computed: T) -> Result<(), ImportError> {
    if expected == computed {
        Ok(())
    } else {
        Err(ImportError::Mismatch { block, field, expected: format!("{expected:?}"), computed: format!("{computed:?}") })
    }
}

/// Imports `bytes` (a chain file) into `db`, writing the genesis first if the database is
/// empty. Blocks already present are checked by hash and skipped, so a second run resumes.
/// Each block is verified while the one before it commits ([`BlockPipeline`]); a block that
/// fails leaves the database at the block before it.
pub fn import_chain(
    db: &ChainDb,
    spec: &Arc<ChainSpec>,
    bytes: &[u8],
    mut on_progress: impl FnMut(&ImportProgress),
) -> Result<ImportSummary, ImportError> {
    init_genesis(db, spec)?;
    let (blocks, decode_error) = decode_chain_file(bytes);
    let last = blocks.last().map_or(0, |b| b.header.number);
    let started = Instant::now();
    let mut last_report = started;
    let mut summary = ImportSummary::default();
    let head = db.read()?.head_number()?.unwrap_or(0);
    let mut pipeline = BlockPipeline::new(db.clone(), spec.clone());
    for block in &blocks {
        let number = block.header.number;
        if number <= head {
            let hash = block.header.hash_slow();
            check_present(&db.read()?, number, hash)?;
            summary.already_present += 1;
            (summary.head_number, summary.head_hash) = (number, hash);
            continue;
        }
        if let Some(landed) = pipeline.push_with(|state| verify_block(state, spec, block))? {
            summary.count(&landed.block);
        }
        if last_report.elapsed() >= Duration::from_secs(1) && summary.head_number != last {
            last_report = Instant::now();
            on_progress(&ImportProgress { block: summary.head_number, last, imported: summary.imported, elapsed: started.elapsed() });
        }
    }
    if let Some(landed) = pipeline.finish()? {
        summary.count(&landed.block);
    }
    if !blocks.is_empty() {
        on_progress(&ImportProgress { block: summary.head_number, last, imported: summary.imported, elapsed: started.elapsed() });
    }
    if let Some(err) = decode_error {
        return Err(err);
    }
    let tx = db.read()?;
    let head = tx.head_header()?;
    summary.head_number = head.number;
    summary.head_hash = head.hash_slow();
    Ok(summary)
}

impl ImportSummary {
    /// Counts a block this run committed, which is now the head.
    fn count(&mut self, block: &BuiltBlock) {
        self.imported += 1;
        self.transactions += block.body.transactions.len() as u64;
        self.gas += block.header.gas_used;
        (self.head_number, self.head_hash) = (block.header.number, block.hash);
    }
}

/// Executes, verifies and commits one block on top of the head (state transfer uses this
/// for blocks fetched from peers). Returns its hash.
pub fn import_block(db: &ChainDb, spec: &Arc<ChainSpec>, block: &Block<TxEnvelope>, summary: &mut ImportSummary) -> Result<B256, ImportError> {
    let number = block.header.number;
    let hash = block.header.hash_slow();
    // Verified on a snapshot, so that the replica's other writers are not held up meanwhile;
    // the commit refuses the block if the head moved since.
    let built = {
        let snapshot = db.read()?;
        let head = snapshot.head_number()?.unwrap_or(0);
        if number <= head {
            check_present(&snapshot, number, hash)?;
            summary.already_present += 1;
            return Ok(hash);
        }
        verify_block(StateReader::new(&snapshot, StateAt::Head), spec, block)?
    };
    match commit_built(db, &built, |_, _| Ok(())) {
        Ok(_) => {
            summary.count(&built);
            Ok(hash)
        }
        // Another writer (the replica's own execution) may have committed this very block
        // meanwhile: then it is present, as if it had been there from the start.
        Err(err) => match db.read()?.block_hash(number)? {
            Some(stored) if stored == hash => {
                summary.already_present += 1;
                Ok(hash)
            }
            _ => Err(err.into()),
        },
    }
}

/// A block the database already holds must be the same block.
fn check_present<K: TransactionKind>(tx: &DbTx<K>, number: u64, hash: B256) -> Result<(), ImportError> {
    check(number, "hash (block already in the database)", tx.block_hash(number)?.unwrap_or_default(), hash)
}

/// Executes `block` on the head that `state` reads and checks everything the header
/// commits to. Returns the block with what its commit writes; nothing is written.
fn verify_block<K: TransactionKind>(
    state: StateReader<'_, K>,
    spec: &Arc<ChainSpec>,
    block: &Block<TxEnvelope>,
) -> Result<BuiltBlock, ImportError>
where
    DbTx<K>: Sync,
{
    let header = &block.header;
    let number = header.number;
    let hash = header.hash_slow();
    let parent = state.head_header()?;
    if number != parent.number + 1 {
        return Err(ImportError::NotContiguous { block: number, head: parent.number });
    }
    check(number, "parentHash", header.parent_hash, parent.hash_slow())?;
    check(number, "baseFeePerGas", header.base_fee_per_gas, spec.next_base_fee(&parent))?;

    let mut recovered = Vec::with_capacity(block.body.transactions.len());
    for (index, transaction) in block.body.transactions.iter().enumerate() {
        let signer = transaction
            .recover_signer()
            .map_err(|e| ImportError::BadSignature { block: number, index, reason: e.to_string() })?;
        recovered.push(alloy_consensus::transaction::Recovered::new_unchecked(transaction, signer));
    }
    let input = BlockEnvInput {
        header,
        ommers: &block.body.ommers,
        withdrawals: block.body.withdrawals.as_ref().map(|w| w.as_slice()),
    };
    let started = Instant::now();
    let executed = execute_block(state, spec, &input, &recovered, InvalidTxPolicy::Reject)?;
    let execute = started.elapsed();

    check(number, "transactionsRoot", header.transactions_root, calculate_transaction_root(&block.body.transactions))?;
    check(number, "sha3Uncles", header.ommers_hash, calculate_ommers_root(&block.body.ommers))?;
    check(number, "withdrawalsRoot", header.withdrawals_root, block.body.withdrawals.as_ref().map(|w| calculate_withdrawals_root(w)))?;
    check(number, "gasUsed", header.gas_used, executed.gas_used)?;
    let bloom = executed.receipts.iter().fold(Bloom::ZERO, |acc, r| acc | *r.logs_bloom());
    check(number, "logsBloom", header.logs_bloom, bloom)?;
    check(number, "receiptsRoot", header.receipts_root, calculate_receipt_root(&executed.receipts))?;
    if header.blob_gas_used.is_some() {
        check(number, "blobGasUsed", header.blob_gas_used, Some(executed.blob_gas_used))?;
    }
    if header.requests_hash.is_some() {
        check(number, "requestsHash", header.requests_hash, Some(executed.requests.requests_hash()))?;
    }
    let rooting = Instant::now();
    let updates = bundle_updates(&state, &executed.bundle)?;
    let parent_hash = header.parent_hash;
    let (trie, resident) = state_root_of(&state, parent_hash, state.head_state_root()?, &updates, number)?;
    let state_root = rooting.elapsed();
    check(number, "stateRoot", header.state_root, trie.root.hash)?;
    let computed = Header {
        parent_hash: parent.hash_slow(),
        state_root: trie.root.hash,
        transactions_root: calculate_transaction_root(&block.body.transactions),
        receipts_root: calculate_receipt_root(&executed.receipts),
        logs_bloom: bloom,
        gas_used: executed.gas_used,
        ..header.clone()
    };
    check(number, "hash", hash, computed.hash_slow())?;
    keep_resident(&state, hash, resident);

    let senders = recovered.iter().map(|r| r.signer()).collect();
    Ok(BuiltBlock {
        header: header.clone(),
        hash,
        body: block.body.clone(),
        senders,
        receipts: executed.receipts,
        skipped: Vec::new(),
        bundle: executed.bundle,
        trie,
        timings: BuildTimings { execute, state_root, ..Default::default() },
    })
}
