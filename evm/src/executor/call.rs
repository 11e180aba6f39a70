//! eth_call and eth_estimateGas: run a transaction request on the state after a block
//! without committing anything. Estimation follows geth's search exactly (a run at the
//! cap, an optimistic guess from gas used, then bisection to 1.5%), so tools that compare
//! estimates across clients see the same numbers.

use crate::{
    chainspec::ChainSpec,
    state::{StateAt, StateReader},
};
use alloy_consensus::Header;
use alloy_evm::{rpc::TryIntoTxEnv, Evm, EvmEnv, EvmFactory, eth::EthEvmFactory};
use alloy_primitives::{Bytes, Log, TxKind};
use alloy_rpc_types_eth::TransactionRequest;
use revm::{
    context::{result::{EVMError, ExecutionResult, HaltReason, InvalidTransaction}, TxEnv},
    database_interface::WrapDatabaseRef,
};
use signet_libmdbx::TransactionKind;

/// Default gas cap for eth_call and eth_estimateGas (geth's --rpc.gascap).
pub const CALL_GAS_CAP_DEFAULT: u64 = 50_000_000;
/// geth's estimation stops when the bounds are within this ratio.
const ESTIMATE_ERROR_RATIO: f64 = 0.015;
/// Gas for a plain value transfer.
const TX_GAS: u64 = 21_000;
/// Stipend handed to a callee with value; part of geth's optimistic estimate.
const CALL_STIPEND: u64 = 2_300;

/// Why a call or estimate has no result. `Display` follows geth.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The call reverted; `output` is the revert data (error selector and arguments).
    #[error("execution reverted{}", reason.as_ref().map(|r| format!(": {r}")).unwrap_or_default())]
    Reverted {
        /// Revert data.
        output: Bytes,
        /// The decoded Error(string) or Panic(uint256) reason, when there is one.
        reason: Option<String>,
    },
    /// The call halted (out of gas, invalid opcode...).
    #[error("{0}")]
    Halted(String),
    /// No gas limit up to the cap lets the call succeed.
    #[error("gas required exceeds allowance ({0})")]
    GasRequiredExceedsAllowance(u64),
    /// The request is not a valid transaction here (fees, funds, nonce...).
    #[error("{0}")]
    Invalid(String),
    /// The database failed.
    #[error("internal error: {0}")]
    Internal(String),
}

/// The successful result of a call.
#[derive(Debug, Clone)]
pub struct CallOutcome {
    /// Return data.
    pub output: Bytes,
    /// Gas used.
    pub gas_used: u64,
    /// Logs emitted (discarded state).
    pub logs: Vec<Log>,
}

/// Where and how a request runs.
#[derive(Debug, Clone, Copy)]
pub struct CallContext<'a> {
    /// The chain.
    pub spec: &'a ChainSpec,
    /// The block whose state and context the call sees.
    pub header: &'a Header,
    /// Read the head (plain) state, or the state after `header`'s block.
    pub at: StateAt,
    /// Upper bound on gas.
    pub gas_cap: u64,
}

fn call_env(ctx: &CallContext<'_>) -> EvmEnv {
    let mut env = EvmEnv::for_eth_block(ctx.header, ctx.spec, ctx.spec.chain_id, ctx.spec.blob_params_at(ctx.header.timestamp));
    // geth's eth_call: no nonce check, no base fee floor, gas limited by the cap only.
    env.cfg_env.disable_nonce_check = true;
    env.cfg_env.disable_base_fee = true;
    env.cfg_env.disable_block_gas_limit = true;
    env.cfg_env.tx_gas_limit_cap = Some(u64::MAX);
    env
}

fn tx_env(ctx: &CallContext<'_>, env: &EvmEnv, request: TransactionRequest) -> Result<TxEnv, CallError> {
    let requested_gas = request.gas;
    let mut tx: TxEnv = request.try_into_tx_env(env).map_err(|e| CallError::Invalid(e.to_string()))?;
    tx.gas_limit = requested_gas.unwrap_or(ctx.gas_cap).min(ctx.gas_cap);
    Ok(tx)
}

enum Run {
    Success(CallOutcome, u64),
    Failed(ExecutionResult<HaltReason>),
    /// Below the intrinsic cost: geth treats this as a failure to raise the limit past.
    TooLittleGas,
}

fn run<K: TransactionKind>(db: &crate::db::DbTx<K>, ctx: &CallContext<'_>, env: &EvmEnv, tx: TxEnv) -> Result<Run, CallError> {
    let reader = StateReader::new(db, ctx.at);
    let mut evm = EthEvmFactory::default().create_evm(WrapDatabaseRef(reader), env.clone());
    match evm.transact_raw(tx) {
        Ok(result) => {
            let gas_used = result.result.tx_gas_used();
            let refunded = result.result.gas().final_refunded();
            Ok(match result.result {
            ExecutionResult::Success { output, logs, .. } => {
                Run::Success(CallOutcome { output: output.into_data(), gas_used, logs }, refunded)
            }
            other => Run::Failed(other),
        })
        }
        Err(EVMError::Transaction(InvalidTransaction::CallGasCostMoreThanGasLimit { .. }))
        | Err(EVMError::Transaction(InvalidTransaction::GasFloorMoreThanGasLimit { .. })) => Ok(Run::TooLittleGas),
        Err(EVMError::Transaction(invalid)) => Err(CallError::Invalid(invalid.to_string())),
        Err(EVMError::Database(e)) => Err(CallError::Internal(e.to_string())),
        Err(other) => Err(CallError::Internal(other.to_string())),
    }
}

fn failure(result: ExecutionResult<HaltReason>) -> CallError {
    match result {
        ExecutionResult::Revert { output, .. } => {
            // geth: "execution reverted: <reason>", without alloy's "revert: " label.
            let reason = alloy_sol_types::decode_revert_reason(&output)
                .map(|r| r.strip_prefix("revert: ").map(str::to_string).unwrap_or(r));
            CallError::Reverted { output, reason }
        }
        ExecutionResult::Halt { reason, .. } => CallError::Halted(halt_message(&reason)),
        ExecutionResult::Success { .. } => CallError::Internal("success reported as failure".into()),
    }
}

/// geth's words for a halt.
fn halt_message(reason: &HaltReason) -> String {
    match reason {
        HaltReason::OutOfGas(_) => "out of gas".into(),
        HaltReason::OpcodeNotFound | HaltReason::InvalidFEOpcode => "invalid opcode".into(),
        HaltReason::StackUnderflow => "stack underflow".into(),
        HaltReason::StackOverflow => "stack limit reached 1024".into(),
        HaltReason::InvalidJump => "invalid jump destination".into(),
        HaltReason::StateChangeDuringStaticCall => "write protection".into(),
        HaltReason::CallTooDeep => "max call depth exceeded".into(),
        HaltReason::OutOfFunds => "insufficient balance for transfer".into(),
        HaltReason::CreateCollision => "contract address collision".into(),
        HaltReason::CreateContractSizeLimit => "max code size exceeded".into(),
        HaltReason::CreateContractStartingWithEF => "invalid code: must not begin with 0xef".into(),
        HaltReason::NonceOverflow => "nonce uint64 overflow".into(),
        other => format!("{other:?}"),
    }
}

/// eth_call.
pub fn call<K: TransactionKind>(
    db: &crate::db::DbTx<K>,
    ctx: &CallContext<'_>,
    request: TransactionRequest,
) -> Result<CallOutcome, CallError> {
    let env = call_env(ctx);
    let tx = tx_env(ctx, &env, request)?;
    match run(db, ctx, &env, tx)? {
        Run::Success(outcome, _) => Ok(outcome),
        Run::Failed(result) => Err(failure(result)),
        Run::TooLittleGas => Err(CallError::Invalid("intrinsic gas too low".into())),
    }
}

/// eth_estimateGas: the smallest gas limit (within geth's 1.5%) at which the request
/// succeeds.
pub fn estimate_gas<K: TransactionKind>(
    db: &crate::db::DbTx<K>,
    ctx: &CallContext<'_>,
    request: TransactionRequest,
) -> Result<u64, CallError> {
    let env = call_env(ctx);
    let requested_gas = request.gas.filter(|g| *g >= TX_GAS);
    let mut tx = tx_env(ctx, &env, request)?;
    let mut hi = requested_gas.unwrap_or(ctx.header.gas_limit);
    // A fee-paying caller can afford only so much gas.
    if tx.gas_price > 0 {
        let reader = StateReader::new(db, ctx.at);
        let balance = reader
            .account(tx.caller)
            .map_err(|e| CallError::Internal(e.to_string()))?
            .map(|a| a.balance)
            .unwrap_or_default();
        let available = balance
            .checked_sub(tx.value)
            .ok_or_else(|| CallError::Invalid("insufficient funds for transfer".into()))?;
        let allowance: u64 = (available / alloy_primitives::U256::from(tx.gas_price)).saturating_to();
        hi = hi.min(allowance);
    }
    hi = hi.min(ctx.gas_cap);

    let attempt = |gas: u64, tx: &mut TxEnv| -> Result<Run, CallError> {
        tx.gas_limit = gas;
        run(db, ctx, &env, tx.clone())
    };

    // A plain transfer to an account without code needs exactly 21000.
    if let TxKind::Call(to) = tx.kind
        && tx.data.is_empty()
    {
        let reader = StateReader::new(db, ctx.at);
        let code_hash = reader.account(to).map_err(|e| CallError::Internal(e.to_string()))?.map(|a| a.code_hash);
        let no_code = code_hash.is_none_or(|h| h == revm::primitives::KECCAK_EMPTY);
        if no_code
            && hi >= TX_GAS
            && let Run::Success(..) = attempt(TX_GAS, &mut tx)?
        {
            return Ok(TX_GAS);
        }
    }

    let (used, refunded) = match attempt(hi, &mut tx)? {
        Run::Success(outcome, refunded) => (outcome.gas_used, refunded),
        Run::Failed(ExecutionResult::Halt { reason: HaltReason::OutOfGas(_), .. }) | Run::TooLittleGas => {
            return Err(CallError::GasRequiredExceedsAllowance(hi));
        }
        Run::Failed(result) => return Err(failure(result)),
    };
    let mut lo = used.saturating_sub(1);
    let optimistic = (used + refunded + CALL_STIPEND) * 64 / 63;
    if optimistic < hi {
        match attempt(optimistic, &mut tx)? {
            Run::Success(..) => hi = optimistic,
            _ => lo = optimistic,
        }
    }
    while lo + 1 < hi {
        if ((hi - lo) as f64 / hi as f64) < ESTIMATE_ERROR_RATIO {
            break;
        }
        let mut mid = (hi + lo) / 2;
        if mid > lo * 2 {
            mid = lo * 2;
        }
        match attempt(mid, &mut tx)? {
            Run::Success(..) => hi = mid,
            _ => lo = mid,
        }
    }
    Ok(hi)
}
