//! Execution without a transaction: `eth_call`, `eth_estimateGas` (geth's search, in
//! stele-evm), `eth_createAccessList` (geth's fixpoint: run with the list found so far
//! until it stops changing) and `eth_fillTransaction`. Reverts answer code 3 with the revert
//! data (jsonrpc.md takeaway 4). Each run is bounded by the gas cap and the time limit.

use alloy_consensus::TxType;
use alloy_eips::eip2930::AccessList;
use alloy_primitives::{Address, Bytes, U256};
use alloy_rpc_types_eth::TransactionRequest;
use jsonrpsee::{types::ErrorObjectOwned, RpcModule};
use revm::context::result::ExecutionResult;
use revm_inspectors::access_list::AccessListInspector;
use serde_json::{json, Value};
use stele_evm::{
    executor::{
        call::{self, CallContext, CallError},
        trace::inspect_call,
    },
};

use super::{
    format::{quantity, quantity128},
    params::BlockParam,
    state_header, Args, EthCtx, EthError, EthResult,
};
use crate::error::ModuleError;

/// geth's createAccessList gives up after this many rounds (the list only grows, so it
/// converges; the bound guards pathological contracts).
const ACCESS_LIST_ROUNDS_MAX: usize = 16;

impl From<CallError> for EthError {
    fn from(err: CallError) -> Self {
        match err {
            CallError::Reverted { ref output, .. } => EthError::Reverted { data: output.clone(), message: err.to_string() },
            CallError::Internal(m) => EthError::Db(stele_evm::DbError::Inconsistent(m)),
            other => EthError::Execution(other.to_string()),
        }
    }
}

/// The parameters every execution method takes: a request and an optional block.
fn request_args(params: &jsonrpsee::types::Params<'_>) -> EthResult<(TransactionRequest, BlockParam)> {
    let mut args = Args::new(params);
    let request: TransactionRequest = args.next()?;
    let block = args.optional::<BlockParam>()?.unwrap_or(BlockParam::Latest);
    if args.optional::<Value>()?.is_some_and(|v| !v.is_null()) {
        return Err(EthError::InvalidParams("invalid argument 2: state overrides are not supported".into()));
    }
    Ok((request, block))
}

/// Runs `f` with a call context for `block` on a blocking thread, under the time limit.
async fn with_call_context<T: Send + 'static>(
    ctx: std::sync::Arc<EthCtx>,
    block: BlockParam,
    f: impl FnOnce(&stele_evm::db::ReadTx, &CallContext<'_>) -> EthResult<T> + Send + 'static,
) -> EthResult<T> {
    let timeout = ctx.deps.limits.call_timeout;
    let task = tokio::task::spawn_blocking(move || {
        let tx = ctx.read()?;
        let (state, header) = state_header(&tx, block)?;
        let at = state.at();
        let call_ctx = CallContext { spec: &ctx.deps.spec, header: &header, at, gas_cap: ctx.deps.limits.call_gas_cap };
        f(&tx, &call_ctx)
    });
    match tokio::time::timeout(timeout, task).await {
        Ok(Ok(result)) => result,
        Ok(Err(join)) => Err(EthError::Execution(format!("execution failed: {join}"))),
        Err(_) => Err(EthError::Execution(format!("execution aborted (timeout = {:?})", timeout))),
    }
}

fn create_access_list(
    tx: &stele_evm::db::ReadTx,
    call_ctx: &CallContext<'_>,
    request: TransactionRequest,
) -> EthResult<Value> {
    let mut list = request.access_list.clone().unwrap_or_default();
    for _ in 0..ACCESS_LIST_ROUNDS_MAX {
        let mut attempt = request.clone();
        attempt.access_list = Some(list.clone());
        let (result, inspector) =
            inspect_call(tx, call_ctx, attempt, AccessListInspector::new(list.clone())).map_err(EthError::from)?;
        let found: AccessList = inspector.into_access_list();
        if found == list {
            let gas_used = result.result.tx_gas_used();
            let mut out = json!({ "accessList": list, "gasUsed": quantity(gas_used) });
            match result.result {
                ExecutionResult::Success { .. } => {}
                ExecutionResult::Revert { .. } => out["error"] = Value::String("execution reverted".into()),
                ExecutionResult::Halt { reason, .. } => out["error"] = Value::String(format!("{reason:?}")),
            }
            return Ok(out);
        }
        list = found;
    }
    Err(EthError::Execution("access list did not converge".into()))
}

/// eth_fillTransaction: the request completed with nonce, gas, fees and chain id, as an
/// unsigned transaction object plus its RLP (what viem asks for first).
fn fill(ctx: &EthCtx, tx: &stele_evm::db::ReadTx, call_ctx: &CallContext<'_>, mut request: TransactionRequest) -> EthResult<Value> {
    let from = request.from.unwrap_or(Address::ZERO);
    if request.nonce.is_none() {
        let nonce = ctx.deps.consensus.pending_nonce(from).map_err(|e| EthError::Execution(e.to_string()))?;
        request.nonce = Some(nonce);
    }
    request.chain_id = Some(ctx.deps.spec.chain_id);
    let base_fee = ctx.deps.spec.next_base_fee(call_ctx.header);
    let legacy = request.gas_price.is_some() || base_fee.is_none();
    if legacy {
        request.gas_price.get_or_insert(u128::from(base_fee.unwrap_or(0)) + super::fees::suggested_tip(ctx));
    } else {
        let tip = *request.max_priority_fee_per_gas.get_or_insert(super::fees::suggested_tip(ctx));
        request.max_fee_per_gas.get_or_insert(2 * u128::from(base_fee.unwrap_or(0)) + tip);
    }
    if request.gas.is_none() {
        let gas = call::estimate_gas(tx, call_ctx, request.clone()).map_err(EthError::from)?;
        request.gas = Some(gas);
    }
    let built = request
        .clone()
        .build_typed_tx()
        .map_err(|_| EthError::InvalidParams("invalid argument 0: cannot build a transaction from these fields".into()))?;
    // geth's "raw" is the transaction with an empty signature.
    let unsigned: alloy_consensus::TxEnvelope = alloy_consensus::SignableTransaction::into_signed(
        built,
        alloy_primitives::Signature::new(alloy_primitives::U256::ZERO, alloy_primitives::U256::ZERO, false),
    )
    .into();
    let mut raw = Vec::new();
    alloy_eips::Encodable2718::encode_2718(&unsigned, &mut raw);
    let ty = if legacy { TxType::Legacy } else { TxType::Eip1559 };
    let mut object = json!({
        "type": quantity(ty as u64),
        "nonce": quantity(request.nonce.unwrap_or_default()),
        "to": request.to.and_then(|k| k.to().copied()),
        "gas": quantity(request.gas.unwrap_or_default()),
        "value": format!("{:#x}", request.value.unwrap_or(U256::ZERO)),
        "input": request.input.input().cloned().unwrap_or_default(),
        "chainId": quantity(ctx.deps.spec.chain_id),
    });
    if legacy {
        object["gasPrice"] = quantity128(request.gas_price.unwrap_or_default());
    } else {
        object["maxFeePerGas"] = quantity128(request.max_fee_per_gas.unwrap_or_default());
        object["maxPriorityFeePerGas"] = quantity128(request.max_priority_fee_per_gas.unwrap_or_default());
        object["accessList"] = json!(request.access_list.clone().unwrap_or_default());
    }
    Ok(json!({ "raw": Bytes::from(raw), "tx": object }))
}

fn register_exec<F>(module: &mut RpcModule<EthCtx>, name: &'static str, f: F) -> Result<(), ModuleError>
where
    F: Fn(&EthCtx, &stele_evm::db::ReadTx, &CallContext<'_>, TransactionRequest) -> EthResult<Value>
        + Clone
        + Send
        + Sync
        + 'static,
{
    module.register_async_method(name, move |params, ctx, _| {
        let f = f.clone();
        async move {
            let (request, block) = request_args(&params).map_err(ErrorObjectOwned::from)?;
            let inner = ctx.clone();
            with_call_context(ctx, block, move |tx, call_ctx| f(&inner, tx, call_ctx, request))
                .await
                .map_err(ErrorObjectOwned::from)
        }
    })?;
    Ok(())
}

pub(super) fn register(module: &mut RpcModule<EthCtx>) -> Result<(), ModuleError> {
    register_exec(module, "eth_call", |_, tx, call_ctx, request| {
        let outcome = call::call(tx, call_ctx, request)?;
        Ok(serde_json::to_value(outcome.output).unwrap_or(Value::Null))
    })?;
    register_exec(module, "eth_estimateGas", |_, tx, call_ctx, request| {
        Ok(quantity(call::estimate_gas(tx, call_ctx, request)?))
    })?;
    register_exec(module, "eth_createAccessList", |_, tx, call_ctx, request| create_access_list(tx, call_ctx, request))?;
    register_exec(module, "eth_fillTransaction", fill)?;
    Ok(())
}
