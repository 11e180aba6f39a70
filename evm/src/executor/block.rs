//! Executes an ordered list of transactions as one block on top of the head state.
//!
//! The same function serves imported blocks (every transaction must be valid, as geth made
//! it) and stele's own blocks (a transaction that became invalid since it was ordered is
//! skipped deterministically, so every replica builds the same block).

use super::post_state::bundle_updates;
use crate::{
    chainspec::ChainSpec,
    db::{DbError, DbTx},
    state::StateReader,
    trie::TrieError,
};
use alloy_consensus::{
    transaction::Recovered, Eip658Value, Header, ReceiptEnvelope, TxEnvelope,
};
use alloy_eips::{eip4895::Withdrawal, eip7685::Requests};
use alloy_evm::{
    block::{BlockExecutionError, BlockExecutor, BlockExecutorFactory, BlockValidationError},
    eth::{EthBlockExecutionCtx, EthBlockExecutorFactory, EthEvmFactory, receipt_builder::AlloyReceiptBuilder},
    Evm, EvmEnv, EvmFactory,
};
use alloy_hardforks::EthereumHardforks;
use alloy_primitives::B256;
use revm::database::{states::bundle_state::BundleRetention, BundleState, State};
use signet_libmdbx::TransactionKind;
use std::{borrow::Cow, sync::Arc};

/// What to do with a transaction that is invalid at its point in the block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvalidTxPolicy {
    /// The block is invalid (importing a block someone else sealed).
    Reject,
    /// Leave the transaction out and go on (building a block from an ordered batch).
    Skip,
}

/// Why a block could not be executed.
#[derive(Debug, thiserror::Error)]
pub enum ExecuteError {
    /// A transaction is invalid and the policy was [`InvalidTxPolicy::Reject`].
    #[error("block {block}: transaction {index} ({hash}) is invalid: {reason}")]
    InvalidTransaction {
        /// Block number.
        block: u64,
        /// Index in the block.
        index: usize,
        /// Transaction hash.
        hash: B256,
        /// What revm or the executor said.
        reason: String,
    },
    /// The block as a whole is invalid (system call failed, bad requests...).
    #[error("block {block}: {reason}")]
    InvalidBlock {
        /// Block number.
        block: u64,
        /// Why.
        reason: String,
    },
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The trie failed (missing or corrupt nodes).
    #[error(transparent)]
    Trie(#[from] TrieError),
}

/// The fields of the header being built or checked that execution depends on.
#[derive(Debug, Clone)]
pub struct BlockEnvInput<'a> {
    /// The header (for a block being built, a draft with the execution inputs filled in).
    pub header: &'a Header,
    /// Ommer headers (pre-merge block rewards).
    pub ommers: &'a [Header],
    /// Withdrawals (after Shanghai).
    pub withdrawals: Option<&'a [Withdrawal]>,
}

/// The outcome of executing a block.
#[derive(Debug)]
pub struct Executed {
    /// Receipts of the included transactions, in order.
    pub receipts: Vec<ReceiptEnvelope>,
    /// Indexes (into the input list) of the included transactions.
    pub included: Vec<usize>,
    /// Transactions left out under [`InvalidTxPolicy::Skip`], with the reason.
    pub skipped: Vec<(usize, String)>,
    /// Gas used by the block.
    pub gas_used: u64,
    /// Blob gas used by the block.
    pub blob_gas_used: u64,
    /// EIP-7685 requests (after Prague).
    pub requests: Requests,
    /// Every account and slot the block changed, with the values before it.
    pub bundle: BundleState,
}

fn is_transaction_fault(err: &BlockExecutionError) -> bool {
    matches!(
        err,
        BlockExecutionError::Validation(
            BlockValidationError::InvalidTx { .. }
                | BlockValidationError::TransactionGasLimitMoreThanAvailableBlockGas { .. }
        )
    )
}

/// Executes `transactions` as the block described by `input`, on top of the head state
/// read through `reader`. Nothing is written.
pub fn execute_block<K: TransactionKind>(
    reader: StateReader<'_, K>,
    spec: &Arc<ChainSpec>,
    input: &BlockEnvInput<'_>,
    transactions: &[Recovered<&TxEnvelope>],
    policy: InvalidTxPolicy,
) -> Result<Executed, ExecuteError>
where
    // Pre-Byzantium receipts carry a state root per transaction (computed on every core).
    DbTx<K>: Sync,
{
    let header = input.header;
    let number = header.number;
    let mut state = State::builder().with_database_ref(reader).with_bundle_update().build();
    let env = EvmEnv::for_eth_block(header, &**spec, spec.chain_id, spec.blob_params_at(header.timestamp));
    let factory = EthBlockExecutorFactory::new(AlloyReceiptBuilder::default(), spec.clone(), EthEvmFactory::default());
    // Before Byzantium a receipt carries the state root after its transaction instead of
    // a status, so the root is computed after every transaction.
    let intermediate_roots = !spec.is_byzantium_active_at_block(number);
    let prior_root = if intermediate_roots { Some(reader.head_state_root()?) } else { None };
    let mut included = Vec::with_capacity(transactions.len());
    let mut skipped = Vec::new();
    let mut roots = Vec::new();
    let fail = |reason: String| ExecuteError::InvalidBlock { block: number, reason };

    let (receipts, gas_used, blob_gas_used, requests) = {
        let evm = factory.evm_factory().create_evm(&mut state, env);
        let ctx = EthBlockExecutionCtx {
            parent_hash: header.parent_hash,
            parent_beacon_block_root: header.parent_beacon_block_root,
            ommers: input.ommers,
            withdrawals: input.withdrawals.map(Cow::Borrowed),
            extra_data: header.extra_data.clone(),
            tx_count_hint: Some(transactions.len()),
            slot_number: None,
        };
        let mut executor = factory.create_executor(evm, ctx);
        executor.apply_pre_execution_changes().map_err(|e| fail(format!("pre-execution: {e}")))?;
        for (index, recovered) in transactions.iter().enumerate() {
            match executor.execute_transaction(*recovered) {
                Ok(_) => included.push(index),
                Err(err) if is_transaction_fault(&err) => match policy {
                    InvalidTxPolicy::Skip => skipped.push((index, err.to_string())),
                    InvalidTxPolicy::Reject => {
                        return Err(ExecuteError::InvalidTransaction {
                            block: number,
                            index,
                            hash: *recovered.inner().tx_hash(),
                            reason: err.to_string(),
                        });
                    }
                },
                Err(err) => return Err(fail(err.to_string())),
            }
            if let Some(prior_root) = prior_root {
                let db = executor.evm_mut().db_mut();
                db.merge_transitions(BundleRetention::Reverts);
                let updates = bundle_updates(&reader, &db.bundle_state)?;
                roots.push(crate::trie::compute_state_root(&reader, prior_root, &updates, number)?.root.hash);
            }
        }
        let (_evm, result) = executor.finish().map_err(|e| fail(format!("post-execution: {e}")))?;
        (result.receipts, result.gas_used, result.blob_gas_used, result.requests)
    };
    state.merge_transitions(BundleRetention::Reverts);
    let bundle = state.take_bundle();

    let mut receipts = receipts;
    if intermediate_roots {
        for (receipt, root) in receipts.iter_mut().zip(roots) {
            if let Some(with_bloom) = receipt.as_receipt_with_bloom_mut() {
                with_bloom.receipt.status = Eip658Value::PostState(root);
            }
        }
    }
    Ok(Executed { receipts, included, skipped, gas_used, blob_gas_used, requests, bundle })
}
