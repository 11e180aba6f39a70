//! The `debug_` namespace: raw encodings (`debug_getRawHeader`, `debug_getRawBlock`,
//! `debug_getRawReceipts`, `debug_getRawTransaction`) and geth-style traces
//! (`debug_traceTransaction`, `debug_traceBlockByNumber`, `debug_traceBlockByHash`,
//! `debug_traceCall`) with the struct logger, `callTracer`, `prestateTracer` and
//! `noopTracer`, built with revm-inspectors.
//!
//! A trace re-executes the block on its parent's state (stele-evm `executor::trace`), so it
//! costs a block execution: these methods belong behind the `debug` scope.

use alloy_eips::Encodable2718;
use alloy_primitives::{Bytes, B256};
use alloy_rpc_types_eth::TransactionRequest;
use alloy_rpc_types_trace::geth::{
    GethDebugBuiltInTracerType, GethDebugTracerType, GethDebugTracingCallOptions, GethDebugTracingOptions,
};
use jsonrpsee::{types::ErrorObjectOwned, RpcModule};
use revm::{
    context::result::{ExecutionResult, HaltReason, ResultAndState},
    database_interface::DatabaseRef,
};
use revm_inspectors::tracing::{TracingInspector, TracingInspectorConfig};
use serde_json::{json, Value};
use stele_evm::{
    db::ReadTx,
    executor::{
        call::CallContext,
        trace::{inspect_call, trace_block, TraceError, Traced},
    },
    state::StateReader,
};

use crate::{
    error::ModuleError,
    eth::{
        params::{BlockParam, BlockNumberParam},
        resolve, state_header, Args, EthCtx, EthDeps, EthError, EthResult,
    },
};

/// Which tracer a request asked for, with its configuration checked.
#[derive(Debug, Clone)]
enum Tracer {
    StructLog(alloy_rpc_types_trace::geth::GethDefaultTracingOptions),
    Call(alloy_rpc_types_trace::geth::CallConfig),
    PreState(alloy_rpc_types_trace::geth::PreStateConfig),
    Noop,
}

impl Tracer {
    fn from_options(options: GethDebugTracingOptions) -> EthResult<Self> {
        let bad_config = |e: serde_json::Error| EthError::InvalidParams(format!("invalid tracer config: {e}"));
        match options.tracer {
            None => Ok(Tracer::StructLog(options.config)),
            Some(GethDebugTracerType::BuiltInTracer(kind)) => match kind {
                GethDebugBuiltInTracerType::CallTracer => {
                    Ok(Tracer::Call(options.tracer_config.into_call_config().map_err(bad_config)?))
                }
                GethDebugBuiltInTracerType::PreStateTracer => {
                    Ok(Tracer::PreState(options.tracer_config.into_pre_state_config().map_err(bad_config)?))
                }
                GethDebugBuiltInTracerType::NoopTracer => Ok(Tracer::Noop),
                other => Err(EthError::Execution(format!("tracer {other:?} is not supported"))),
            },
            Some(GethDebugTracerType::JsTracer(_)) => Err(EthError::Execution("JavaScript tracers are not supported".into())),
        }
    }

    fn inspector_config(&self) -> TracingInspectorConfig {
        match self {
            Tracer::StructLog(config) => TracingInspectorConfig::from_geth_config(config),
            Tracer::Call(config) => TracingInspectorConfig::from_geth_call_config(config),
            Tracer::PreState(config) => TracingInspectorConfig::from_geth_prestate_config(config),
            Tracer::Noop => TracingInspectorConfig::none(),
        }
    }

    /// The trace of one transaction from the inspector that watched it.
    fn result<DB: DatabaseRef>(&self, inspector: &TracingInspector, result: &ResultAndState<HaltReason>, db: DB) -> EthResult<Value> {
        let gas_used = result.result.tx_gas_used();
        let value = match self {
            Tracer::StructLog(config) => {
                let output = match &result.result {
                    ExecutionResult::Success { output, .. } => output.data().clone(),
                    ExecutionResult::Revert { output, .. } => output.clone(),
                    ExecutionResult::Halt { .. } => Bytes::new(),
                };
                serde_json::to_value(inspector.geth_builder().geth_traces(gas_used, output, *config))
            }
            Tracer::Call(config) => serde_json::to_value(inspector.geth_builder().geth_call_traces(*config, gas_used)),
            Tracer::PreState(config) => {
                let frame = inspector
                    .geth_builder()
                    .geth_prestate_traces(result, config, db)
                    .map_err(|_| EthError::Execution("reading the pre-state failed".into()))?;
                serde_json::to_value(frame)
            }
            Tracer::Noop => Ok(json!({})),
        };
        value.map_err(|e| EthError::Execution(format!("cannot encode the trace: {e}")))
    }
}

impl From<TraceError> for EthError {
    fn from(err: TraceError) -> Self {
        match err {
            TraceError::Db(e) => EthError::Db(e),
            other => EthError::Execution(other.to_string()),
        }
    }
}

fn options_arg(args: &mut Args<'_>) -> EthResult<Tracer> {
    Tracer::from_options(args.optional::<GethDebugTracingOptions>()?.unwrap_or_default())
}

/// Traces every transaction of block `number`: `[{txHash, result}]`.
fn trace_whole_block(ctx: &EthCtx, tx: &ReadTx, number: u64, tracer: &Tracer) -> EthResult<Value> {
    let body = tx.body(number)?.ok_or_else(|| EthError::Execution(format!("block #{number} not found")))?;
    let hashes: Vec<B256> = body.transactions.iter().map(|t| t.trie_hash()).collect();
    let inspector = TracingInspector::new(tracer.inspector_config());
    let traces = trace_block(tx, &ctx.deps.spec, number, inspector, Traced::All, |i, inspector, result, db| {
        let trace = tracer.result(inspector, result, db);
        inspector.fuse();
        let hash = hashes.get(i).copied().unwrap_or_default();
        match trace {
            Ok(result) => json!({ "txHash": hash, "result": result }),
            Err(e) => json!({ "txHash": hash, "error": e.to_string() }),
        }
    })?;
    Ok(Value::Array(traces))
}

fn trace_transaction(ctx: &EthCtx, hash: B256, tracer: &Tracer) -> EthResult<Value> {
    let tx = ctx.read()?;
    let location = tx.tx_location(&hash)?.ok_or_else(|| EthError::Execution("transaction not found".into()))?;
    let inspector = TracingInspector::new(tracer.inspector_config());
    let index = location.index.0 as usize;
    let mut traces = trace_block(&tx, &ctx.deps.spec, location.block, inspector, Traced::Only(index), |_, inspector, result, db| {
        tracer.result(inspector, result, db)
    })?;
    traces.pop().ok_or_else(|| EthError::Execution("transaction not found".into()))?
}

fn trace_call(ctx: &EthCtx, request: TransactionRequest, block: BlockParam, options: GethDebugTracingCallOptions) -> EthResult<Value> {
    if options.state_overrides.is_some() || options.block_overrides.is_some() || options.tx_index.is_some() {
        return Err(EthError::InvalidParams("invalid argument 2: overrides and txIndex are not supported".into()));
    }
    let tracer = Tracer::from_options(options.tracing_options)?;
    let tx = ctx.read()?;
    let (state, header) = state_header(&tx, block)?;
    let at = state.at();
    let call_ctx = CallContext { spec: &ctx.deps.spec, header: &header, at, gas_cap: ctx.deps.limits.call_gas_cap };
    let inspector = TracingInspector::new(tracer.inspector_config());
    let (result, inspector) = inspect_call(&tx, &call_ctx, request, inspector).map_err(EthError::from)?;
    tracer.result(&inspector, &result, StateReader::new(&tx, at))
}

fn raw_header(tx: &ReadTx, number: u64) -> EthResult<Value> {
    let header = tx.header(number)?.ok_or_else(|| EthError::NotFound(format!("header #{number} not found")))?;
    Ok(Value::String(Bytes::from(alloy_rlp::encode(&header)).to_string()))
}

fn raw_block(tx: &ReadTx, number: u64) -> EthResult<Value> {
    let header = tx.header(number)?.ok_or_else(|| EthError::NotFound(format!("block #{number} not found")))?;
    let body = tx.body(number)?.ok_or_else(|| EthError::NotFound(format!("block #{number} not found")))?;
    let block = alloy_consensus::Block { header, body };
    Ok(Value::String(Bytes::from(alloy_rlp::encode(&block)).to_string()))
}

fn raw_receipts(tx: &ReadTx, number: u64) -> EthResult<Value> {
    if tx.header(number)?.is_none() {
        return Err(EthError::NotFound(format!("block #{number} not found")));
    }
    let receipts = tx.receipts(number)?.unwrap_or_default();
    Ok(Value::Array(receipts.iter().map(|r| Value::String(Bytes::from(r.encoded_2718()).to_string())).collect()))
}

/// The block number a debug method's first argument names (number, tag or hash).
fn block_number(tx: &ReadTx, block: BlockParam) -> EthResult<u64> {
    resolve(tx, block)?.ok_or_else(|| match block {
        BlockParam::Hash(hash) => EthError::Execution(format!("block {hash} not found")),
        BlockParam::Number(n) => EthError::Execution(format!("block #{n} not found")),
        _ => EthError::Execution("block not found".into()),
    })
}

fn blocking<F>(module: &mut RpcModule<EthCtx>, name: &'static str, f: F) -> Result<(), ModuleError>
where
    F: Fn(&jsonrpsee::types::Params<'_>, &EthCtx) -> EthResult<Value> + Clone + Send + Sync + 'static,
{
    module.register_blocking_method(name, move |params, ctx, _| f(&params, &ctx).map_err(ErrorObjectOwned::from))?;
    Ok(())
}

/// Builds the `debug_` namespace.
///
/// # Errors
/// A method name registered twice (a bug).
pub fn module(deps: EthDeps) -> Result<RpcModule<EthCtx>, ModuleError> {
    let mut module = RpcModule::new(EthCtx::new(deps));
    for (name, read) in [
        ("debug_getRawHeader", raw_header as fn(&ReadTx, u64) -> EthResult<Value>),
        ("debug_getRawBlock", raw_block),
        ("debug_getRawReceipts", raw_receipts),
    ] {
        blocking(&mut module, name, move |params, ctx| {
            let block: BlockParam = Args::new(params).next()?;
            let tx = ctx.read()?;
            let number = block_number(&tx, block)?;
            read(&tx, number)
        })?;
    }
    blocking(&mut module, "debug_getRawTransaction", |params, ctx| {
        // geth decodes into common.Hash, which insists on the 0x prefix that B256's serde
        // would forgive.
        let raw: String = Args::new(params).next()?;
        let invalid = |why: &str| EthError::InvalidParams(format!("invalid argument 0: json: cannot unmarshal {why} into Go value of type common.Hash"));
        let digits = raw.strip_prefix("0x").or_else(|| raw.strip_prefix("0X")).ok_or_else(|| invalid("hex string without 0x prefix"))?;
        let hash: B256 = digits.parse().map_err(|_| invalid("invalid hex string"))?;
        let tx = ctx.read()?;
        if let Some(location) = tx.tx_location(&hash)? {
            let body = tx.body(location.block)?.unwrap_or_default();
            if let Some(t) = body.transactions.get(location.index.0 as usize) {
                return Ok(Value::String(Bytes::from(t.encoded_2718()).to_string()));
            }
        }
        let pooled = ctx.deps.pool.as_ref().and_then(|p| p.get(&hash));
        Ok(pooled.map(|p| Value::String(Bytes::from(p.transaction.encoded_2718()).to_string())).unwrap_or(Value::Null))
    })?;
    blocking(&mut module, "debug_traceTransaction", |params, ctx| {
        let mut args = Args::new(params);
        let hash: B256 = args.next()?;
        let tracer = options_arg(&mut args)?;
        trace_transaction(ctx, hash, &tracer)
    })?;
    blocking(&mut module, "debug_traceBlockByNumber", |params, ctx| {
        let mut args = Args::new(params);
        let BlockNumberParam(block) = args.next()?;
        let tracer = options_arg(&mut args)?;
        let tx = ctx.read()?;
        let number = block_number(&tx, block)?;
        trace_whole_block(ctx, &tx, number, &tracer)
    })?;
    blocking(&mut module, "debug_traceBlockByHash", |params, ctx| {
        let mut args = Args::new(params);
        let hash: B256 = args.next()?;
        let tracer = options_arg(&mut args)?;
        let tx = ctx.read()?;
        let number = block_number(&tx, BlockParam::Hash(hash))?;
        trace_whole_block(ctx, &tx, number, &tracer)
    })?;
    blocking(&mut module, "debug_traceCall", |params, ctx| {
        let mut args = Args::new(params);
        let request: TransactionRequest = args.next()?;
        let block = args.optional::<BlockParam>()?.unwrap_or(BlockParam::Latest);
        let options: GethDebugTracingCallOptions = args.optional()?.unwrap_or_default();
        trace_call(ctx, request, block, options)
    })?;
    Ok(module)
}

