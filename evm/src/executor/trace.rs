//! Re-execution for debug_trace*: a stored block's transactions run again on its parent's
//! state, with an inspector switched on for the transactions being traced. The block's
//! system calls (beacon root, parent hashes) run first and the earlier transactions are
//! committed, so every traced transaction sees exactly the state it saw when the block was
//! made. Nothing is written to the database.

use crate::{
    chainspec::ChainSpec,
    db::{DbError, DbTx},
    state::{StateAt, StateReader},
};
use alloy_consensus::{transaction::Recovered, Header};
use alloy_evm::{
    block::{BlockExecutor, BlockExecutorFactory, TxResult},
    eth::{receipt_builder::AlloyReceiptBuilder, EthBlockExecutionCtx, EthBlockExecutorFactory, EthEvmContext, EthEvmFactory},
    Evm, EvmEnv, EvmFactory,
};
use revm::{
    context::result::{HaltReason, ResultAndState},
    database::State,
    database_interface::WrapDatabaseRef,
    Inspector,
};
use signet_libmdbx::TransactionKind;
use std::{borrow::Cow, sync::Arc};

/// The in-memory state a traced block runs on: the parent's state plus what the block's
/// earlier transactions changed. It is a `DatabaseRef`, so tracers read pre-state from it.
pub type TraceDb<'a, K> = State<WrapDatabaseRef<StateReader<'a, K>>>;

/// Why a block or transaction could not be traced. `Display` follows geth.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// Block 0 has no transactions and no parent state.
    #[error("genesis is not traceable")]
    Genesis,
    /// No such block.
    #[error("block #{0} not found")]
    BlockNotFound(u64),
    /// The block's re-execution failed (the database is inconsistent with the chain).
    #[error("tracing block {block} failed: {reason}")]
    Execution {
        /// Block number.
        block: u64,
        /// What the executor said.
        reason: String,
    },
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Which transactions of the block the inspector watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Traced {
    /// Every transaction.
    All,
    /// Only the one at this index; execution stops after it.
    Only(usize),
}

/// Runs block `number` again and calls `on_traced` after each traced transaction, with the
/// inspector (still holding that transaction's trace), the execution result and the state
/// as it was before the transaction. `on_traced` should reset the inspector for the next
/// transaction. Returns what `on_traced` returned, in transaction order.
pub fn trace_block<'a, K, I, T>(
    db: &'a DbTx<K>,
    spec: &Arc<ChainSpec>,
    number: u64,
    inspector: I,
    traced: Traced,
    mut on_traced: impl FnMut(usize, &mut I, &ResultAndState<HaltReason>, &TraceDb<'a, K>) -> T,
) -> Result<Vec<T>, TraceError>
where
    K: TransactionKind,
    I: Inspector<EthEvmContext<TraceDb<'a, K>>>,
{
    if number == 0 {
        return Err(TraceError::Genesis);
    }
    let header: Header = db.header(number)?.ok_or(TraceError::BlockNotFound(number))?;
    let body = db.body(number)?.ok_or(TraceError::BlockNotFound(number))?;
    let senders = db.senders(number)?;
    if senders.len() != body.transactions.len() {
        return Err(TraceError::Db(DbError::Inconsistent(format!(
            "block {number}: {} senders for {} transactions",
            senders.len(),
            body.transactions.len()
        ))));
    }
    let fail = |reason: String| TraceError::Execution { block: number, reason };
    let reader = StateReader::new(db, StateAt::Block(number - 1));
    let state: TraceDb<'a, K> = State::builder().with_database_ref(reader).build();
    let env = EvmEnv::for_eth_block(&header, &**spec, spec.chain_id, spec.blob_params_at(header.timestamp));
    let factory = EthBlockExecutorFactory::new(AlloyReceiptBuilder::default(), spec.clone(), EthEvmFactory::default());
    let evm = factory.evm_factory().create_evm_with_inspector(state, env, inspector);
    let ctx = EthBlockExecutionCtx {
        parent_hash: header.parent_hash,
        parent_beacon_block_root: header.parent_beacon_block_root,
        ommers: &body.ommers,
        withdrawals: body.withdrawals.as_ref().map(|w| Cow::Borrowed(w.as_slice())),
        extra_data: header.extra_data.clone(),
        tx_count_hint: Some(body.transactions.len()),
        slot_number: None,
    };
    let mut executor = factory.create_executor(evm, ctx);
    // System calls are not part of any transaction's trace (geth does not trace them).
    executor.evm_mut().disable_inspector();
    executor.apply_pre_execution_changes().map_err(|e| fail(format!("pre-execution: {e}")))?;
    let mut out = Vec::new();
    for (index, (transaction, sender)) in body.transactions.iter().zip(senders).enumerate() {
        let watch = match traced {
            Traced::All => true,
            Traced::Only(target) => target == index,
        };
        if watch {
            executor.evm_mut().enable_inspector();
        } else {
            executor.evm_mut().disable_inspector();
        }
        let recovered = Recovered::new_unchecked(transaction, sender);
        let output = executor
            .execute_transaction_without_commit(recovered)
            .map_err(|e| fail(format!("transaction {index}: {e}")))?;
        if watch {
            let (state, inspector, _) = executor.evm_mut().components_mut();
            out.push(on_traced(index, inspector, output.result(), &*state));
        }
        if traced == Traced::Only(index) {
            break;
        }
        executor.commit_transaction(output);
    }
    Ok(out)
}

/// Runs `request` as eth_call does (no nonce check, no base-fee floor, gas up to the cap)
/// on the state `ctx` names, with `inspector` watching. Returns the raw result (state
/// changes included, for prestate tracers) and the inspector. Nothing is committed.
pub fn inspect_call<'a, K, I>(
    db: &'a DbTx<K>,
    ctx: &crate::executor::call::CallContext<'_>,
    request: alloy_rpc_types_eth::TransactionRequest,
    inspector: I,
) -> Result<(ResultAndState<HaltReason>, I), crate::executor::call::CallError>
where
    K: TransactionKind,
    I: Inspector<EthEvmContext<WrapDatabaseRef<StateReader<'a, K>>>>,
{
    use crate::executor::call::CallError;
    use alloy_evm::rpc::TryIntoTxEnv;
    use revm::context::result::EVMError;

    let mut env = EvmEnv::for_eth_block(ctx.header, ctx.spec, ctx.spec.chain_id, ctx.spec.blob_params_at(ctx.header.timestamp));
    // The same relaxations as eth_call (executor/call.rs), so a traced call behaves the same.
    env.cfg_env.disable_nonce_check = true;
    env.cfg_env.disable_base_fee = true;
    env.cfg_env.disable_block_gas_limit = true;
    env.cfg_env.tx_gas_limit_cap = Some(u64::MAX);
    let requested_gas = request.gas;
    let mut tx_env = request.try_into_tx_env(&env).map_err(|e| CallError::Invalid(e.to_string()))?;
    tx_env.gas_limit = requested_gas.unwrap_or(ctx.gas_cap).min(ctx.gas_cap);
    let reader = StateReader::new(db, ctx.at);
    let mut evm = EthEvmFactory::default().create_evm_with_inspector(WrapDatabaseRef(reader), env, inspector);
    let result = evm.transact_raw(tx_env).map_err(|e| match e {
        EVMError::Transaction(invalid) => CallError::Invalid(invalid.to_string()),
        other => CallError::Internal(other.to_string()),
    })?;
    Ok((result, evm.into_inner().inspector))
}
