//! The `eth_` namespace over the real chain: blocks, transactions, receipts, state, logs,
//! calls, fees, proofs, filters and subscriptions, answered the way geth answers them
//! (jsonrpc.md §2.4: hive compares every field).
//!
//! Every read opens ONE MDBX read transaction, so a request sees one consistent snapshot
//! even while blocks are being committed. Reads run on jsonrpsee's blocking pool; chain
//! writes happen elsewhere (the replica), and transactions reach consensus only through
//! [`ConsensusHandle`].
//!
//! Files, one concern each: [`params`] (block tags, storage keys, quantities), [`format`]
//! (geth's JSON shapes), `blocks`, `transactions`, `receipts`, `state`, `logs`, `call`,
//! `fees`, `proof`, `filters`, `subscriptions`, `client`, `config` (EIP-7910 fork
//! configuration) and `capabilities` (history retention).

mod blocks;
mod call;
mod capabilities;
mod client;
mod config;
mod fees;
mod filters;
pub mod format;
mod logs;
pub mod params;
mod proof;
mod receipts;
mod state;
mod subscriptions;
mod transactions;

use std::{sync::Arc, time::Duration};

use alloy_consensus::Header;
use alloy_primitives::{Bytes, B256};
use jsonrpsee::{types::ErrorObjectOwned, RpcModule};
use stele_evm::{
    db::{DbError, ReadTx},
    pool::TxPool,
    state::StateAt,
    ChainDb, ChainSpec,
};

use crate::{api::ConsensusHandle, error::ModuleError};
pub use params::BlockParam;

/// Default most blocks one eth_getLogs may span (geth has no range limit but a result
/// limit; providers use 10k, which bounds one request's work on 2 cores).
pub const LOGS_BLOCK_RANGE_MAX: u64 = 10_000;
/// Default most logs one eth_getLogs returns (geth: 10,000 for filter queries).
pub const LOGS_RESULTS_MAX: usize = 10_000;
/// Default time one eth_call or eth_estimateGas may run (geth: --rpc.evmtimeout 5 s).
pub const CALL_TIMEOUT_MS: u64 = 5_000;
/// Default most installed filters (each holds a cursor and a queue of changes).
pub const FILTERS_MAX: usize = 1_024;
/// Default time a filter lives without being polled (geth: 5 minutes).
pub const FILTER_IDLE_TIMEOUT_MS: u64 = 5 * 60 * 1_000;

/// The configurable limits of the `eth_` namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EthLimits {
    /// Most blocks one eth_getLogs may span.
    pub logs_block_range_max: u64,
    /// Most logs one eth_getLogs returns.
    pub logs_results_max: usize,
    /// Gas cap of eth_call / eth_estimateGas / eth_createAccessList (geth's --rpc.gascap).
    pub call_gas_cap: u64,
    /// Time limit of one eth_call / eth_estimateGas.
    pub call_timeout: Duration,
    /// Most installed filters.
    pub filters_max: usize,
    /// Time a filter lives without being polled.
    pub filter_idle_timeout: Duration,
}

impl Default for EthLimits {
    fn default() -> Self {
        Self {
            logs_block_range_max: LOGS_BLOCK_RANGE_MAX,
            logs_results_max: LOGS_RESULTS_MAX,
            call_gas_cap: stele_evm::executor::call::CALL_GAS_CAP_DEFAULT,
            call_timeout: Duration::from_millis(CALL_TIMEOUT_MS),
            filters_max: FILTERS_MAX,
            filter_idle_timeout: Duration::from_millis(FILTER_IDLE_TIMEOUT_MS),
        }
    }
}

/// What the `eth_`, `debug_` and `txpool_` namespaces are built from.
#[derive(Clone)]
pub struct EthDeps {
    /// The chain database (read transactions only).
    pub db: ChainDb,
    /// The chain's rules.
    pub spec: Arc<ChainSpec>,
    /// Transaction submission, pending nonces and block notifications.
    pub consensus: Arc<dyn ConsensusHandle>,
    /// The local pool, for `txpool_*` and pending lookups; `None` on a node without one.
    pub pool: Option<Arc<TxPool>>,
    /// Limits.
    pub limits: EthLimits,
}

impl std::fmt::Debug for EthDeps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EthDeps").field("chain_id", &self.spec.chain_id).field("limits", &self.limits).finish()
    }
}

/// The shared context of every `eth_` method.
#[derive(Debug)]
pub struct EthCtx {
    pub(crate) deps: EthDeps,
    pub(crate) filters: filters::Filters,
}

impl EthCtx {
    pub(crate) fn new(deps: EthDeps) -> Self {
        let filters = filters::Filters::new(deps.limits.filters_max, deps.limits.filter_idle_timeout);
        Self { deps, filters }
    }

    /// One read transaction: the snapshot the whole request reads.
    pub(crate) fn read(&self) -> Result<ReadTx, EthError> {
        Ok(self.deps.db.read()?)
    }
}

/// Why an `eth_` request failed. Converted to geth's codes and words.
#[derive(Debug, thiserror::Error)]
pub enum EthError {
    /// Bad parameters (-32602).
    #[error("{0}")]
    InvalidParams(String),
    /// A named block, header or transaction is not there (-32000, geth's wording).
    #[error("{0}")]
    NotFound(String),
    /// The call reverted (code 3, revert data in `data`).
    #[error("{message}")]
    Reverted {
        /// `execution reverted[: reason]`.
        message: String,
        /// The revert data.
        data: Bytes,
    },
    /// Execution or validation failed (-32000, the message explains).
    #[error("{0}")]
    Execution(String),
    /// No such method or subscription (-32601), e.g. an unknown `eth_subscribe` kind.
    #[error("{0}")]
    MethodNotFound(String),
    /// The limit set for this method was exceeded (-32005).
    #[error("{0}")]
    LimitExceeded(String),
    /// The database failed (-32603; the replica logs it).
    #[error("internal error: {0}")]
    Db(#[from] DbError),
}

/// geth: an error with data, code 3, for reverts.
pub const REVERT_CODE: i32 = 3;
/// geth's code for most server-side refusals.
pub const SERVER_ERROR_CODE: i32 = -32000;

impl From<EthError> for ErrorObjectOwned {
    fn from(err: EthError) -> Self {
        match err {
            EthError::InvalidParams(m) => ErrorObjectOwned::owned::<()>(crate::error::INVALID_PARAMS_CODE, m, None),
            EthError::MethodNotFound(m) => ErrorObjectOwned::owned::<()>(-32601, m, None),
            EthError::NotFound(m) | EthError::Execution(m) => ErrorObjectOwned::owned::<()>(SERVER_ERROR_CODE, m, None),
            EthError::Reverted { message, data } => ErrorObjectOwned::owned(REVERT_CODE, message, Some(data)),
            EthError::LimitExceeded(m) => {
                ErrorObjectOwned::owned::<()>(crate::error::LIMIT_EXCEEDED_CODE, m, None)
            }
            EthError::Db(e) => {
                tracing::error!(target: "stele::rpc", error = %e, "chain database read failed");
                ErrorObjectOwned::owned::<()>(-32603, format!("internal error: {e}"), None)
            }
        }
    }
}

/// Result of an `eth_` handler.
pub type EthResult<T> = Result<T, EthError>;

/// A parameter error in geth's form: `invalid argument N: reason`.
pub(crate) fn bad_arg(index: usize, reason: impl std::fmt::Display) -> EthError {
    EthError::InvalidParams(format!("invalid argument {index}: {reason}"))
}

/// The head's number.
pub(crate) fn head_number(tx: &ReadTx) -> EthResult<u64> {
    tx.head_number()?.ok_or_else(|| EthError::NotFound("no blocks yet".into()))
}

/// The number a block parameter names, or `None` for an unknown hash or a number above the
/// head.
pub(crate) fn resolve(tx: &ReadTx, block: BlockParam) -> EthResult<Option<u64>> {
    resolve_below(tx, block, head_number(tx)?)
}

/// [`resolve`] against a head number the caller has already read from the same snapshot.
fn resolve_below(tx: &ReadTx, block: BlockParam, head: u64) -> EthResult<Option<u64>> {
    Ok(match block {
        BlockParam::Latest | BlockParam::Pending => Some(head),
        BlockParam::Earliest => Some(0),
        BlockParam::Number(n) => (n <= head).then_some(n),
        BlockParam::Hash(hash) => tx.block_number(&hash)?,
    })
}

/// The block a state read runs against, and the head of the same snapshot.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StateBlock {
    /// The block the parameter names.
    pub(crate) number: u64,
    /// The head when the snapshot was taken.
    pub(crate) head: u64,
}

impl StateBlock {
    /// Where its state is read: the plain state at the head, else the change sets.
    pub(crate) fn at(self) -> StateAt {
        if self.number == self.head { StateAt::Head } else { StateAt::Block(self.number) }
    }
}

/// The block number a state read runs against, with geth's errors for unknown blocks, and
/// without decoding its header: point reads (eth_getBalance and its kin) need only the
/// number, and skipping the header's read and RLP decode shows in their request rate.
pub(crate) fn state_block(tx: &ReadTx, block: BlockParam) -> EthResult<StateBlock> {
    let head = head_number(tx)?;
    let number = resolve_below(tx, block, head)?.ok_or_else(|| match block {
        BlockParam::Hash(_) => EthError::NotFound("header for hash not found".into()),
        _ => EthError::NotFound("header not found".into()),
    })?;
    Ok(StateBlock { number, head })
}

/// The header a state read runs against; geth's errors for unknown blocks.
pub(crate) fn state_header(tx: &ReadTx, block: BlockParam) -> EthResult<(StateBlock, Header)> {
    let state = state_block(tx, block)?;
    let header = tx.header(state.number)?.ok_or_else(|| EthError::NotFound("header not found".into()))?;
    Ok((state, header))
}

/// The canonical hash of block `number` (stored at import; recomputed if absent).
pub(crate) fn block_hash(tx: &ReadTx, number: u64, header: &Header) -> EthResult<B256> {
    Ok(tx.block_hash(number)?.unwrap_or_else(|| header.hash_slow()))
}

/// Parses the positional parameters of a request into a sequence, mapping serde errors to
/// geth's `invalid argument N`.
pub(crate) struct Args<'a> {
    seq: jsonrpsee::types::params::ParamsSequence<'a>,
    index: usize,
    /// Named parameters (a JSON object): geth accepts positional arrays only.
    object: bool,
}

impl<'a> Args<'a> {
    pub(crate) fn new(params: &'a jsonrpsee::types::Params<'a>) -> Self {
        let object = params.as_str().is_some_and(|p| p.trim_start().starts_with('{'));
        Self { seq: params.sequence(), index: 0, object }
    }

    /// The next, required argument.
    pub(crate) fn next<T: serde::de::DeserializeOwned>(&mut self) -> EthResult<T> {
        if self.object {
            return Err(EthError::InvalidParams("non-array args".into()));
        }
        let i = self.index;
        self.index += 1;
        self.seq.next::<T>().map_err(|e| arg_error(i, e))
    }

    /// The next argument if present (missing or `null` gives `None`).
    pub(crate) fn optional<T: serde::de::DeserializeOwned>(&mut self) -> EthResult<Option<T>> {
        if self.object {
            return Err(EthError::InvalidParams("non-array args".into()));
        }
        let i = self.index;
        self.index += 1;
        self.seq.optional_next::<T>().map_err(|e| arg_error(i, e))
    }
}

fn arg_error(index: usize, err: ErrorObjectOwned) -> EthError {
    let message = err.message();
    // jsonrpsee says "Invalid params" with the serde error in `data`; geth puts the reason
    // in the message.
    let reason = err
        .data()
        .map(|d| d.get().trim_matches('"').to_string())
        .unwrap_or_else(|| message.to_string());
    if reason.contains("missing value") || message.contains("missing") || reason.contains("No more params") {
        return EthError::InvalidParams(format!("missing value for required argument {index}"));
    }
    bad_arg(index, reason)
}

/// Builds the `eth_` namespace.
///
/// # Errors
/// A method name registered twice (a bug).
pub fn module(deps: EthDeps) -> Result<RpcModule<EthCtx>, ModuleError> {
    let mut module = RpcModule::new(EthCtx::new(deps));
    client::register(&mut module)?;
    config::register(&mut module)?;
    capabilities::register(&mut module)?;
    blocks::register(&mut module)?;
    transactions::register(&mut module)?;
    receipts::register(&mut module)?;
    state::register(&mut module)?;
    logs::register(&mut module)?;
    call::register(&mut module)?;
    fees::register(&mut module)?;
    proof::register(&mut module)?;
    filters::register(&mut module)?;
    subscriptions::register(&mut module)?;
    Ok(module)
}

/// The most positional arguments each method takes, as geth declares them; more is
/// "too many arguments, want at most N". Methods not listed are not checked here.
fn max_args(method: &str) -> Option<usize> {
    Some(match method {
        "eth_blockNumber" | "eth_chainId" | "eth_gasPrice" | "eth_maxPriorityFeePerGas" | "eth_syncing"
        | "eth_accounts" | "eth_blobBaseFee" | "eth_mining" | "eth_hashrate" | "eth_coinbase"
        | "eth_newBlockFilter" | "eth_newPendingTransactionFilter" | "eth_config" | "eth_capabilities" => 0,
        "eth_getTransactionByHash" | "eth_getTransactionReceipt" | "eth_sendRawTransaction"
        | "eth_getBlockTransactionCountByHash" | "eth_getBlockTransactionCountByNumber"
        | "eth_getUncleCountByBlockHash" | "eth_getUncleCountByBlockNumber" | "eth_getBlockReceipts"
        | "eth_getLogs" | "eth_newFilter" | "eth_getFilterChanges" | "eth_getFilterLogs"
        | "eth_uninstallFilter" | "eth_fillTransaction" => 1,
        "eth_getBalance" | "eth_getCode" | "eth_getTransactionCount" | "eth_getBlockByHash"
        | "eth_getBlockByNumber" | "eth_getTransactionByBlockHashAndIndex"
        | "eth_getTransactionByBlockNumberAndIndex" => 2,
        "eth_estimateGas" | "eth_createAccessList" | "eth_getStorageAt" | "eth_getProof" | "eth_feeHistory" => 3,
        "eth_call" => 4,
        _ => return None,
    })
}

/// The number of elements of a JSON array, counted while skipping them (no allocation: the
/// check runs on every point read).
struct ArgCount(usize);

impl<'de> serde::Deserialize<'de> for ArgCount {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Counter;
        impl<'de> serde::de::Visitor<'de> for Counter {
            type Value = ArgCount;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an array of arguments")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<ArgCount, A::Error> {
                let mut count = 0;
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
                    count += 1;
                }
                Ok(ArgCount(count))
            }
        }
        deserializer.deserialize_seq(Counter)
    }
}

fn check_arity(method: &str, params: &jsonrpsee::types::Params<'_>) -> Result<(), ErrorObjectOwned> {
    let Some(max) = max_args(method) else { return Ok(()) };
    let Some(raw) = params.as_str() else { return Ok(()) };
    if !raw.trim_start().starts_with('[') {
        return Ok(());
    }
    let count = serde_json::from_str::<ArgCount>(raw).map(|c| c.0).unwrap_or(0);
    if count > max {
        return Err(EthError::InvalidParams(format!("too many arguments, want at most {max}")).into());
    }
    Ok(())
}

/// Registers a read-only method that runs on the blocking pool: work that grows with a
/// range or runs code (eth_getLogs, whole blocks, proofs, filters, fee history).
pub(crate) fn blocking<R, F>(module: &mut RpcModule<EthCtx>, name: &'static str, f: F) -> Result<(), ModuleError>
where
    R: serde::Serialize + Clone + Send + 'static,
    F: Fn(&jsonrpsee::types::Params<'_>, &EthCtx) -> EthResult<R> + Clone + Send + Sync + 'static,
{
    module.register_blocking_method(name, move |params, ctx, _| {
        check_arity(name, &params)?;
        f(&params, &ctx).map_err(ErrorObjectOwned::from)
    })?;
    Ok(())
}

/// Registers a read-only method that runs inline on the connection's task, without the
/// hop to the blocking pool: a point read of one MDBX snapshot whose work is bounded by one
/// account, one storage slot or one block's transactions and receipts (state reads,
/// transaction and receipt lookups). Those take microseconds from the memory-mapped
/// database, and on a small machine handing each one to a pool thread and back (two
/// context switches and two futex wake-ups) cost more than the read itself
/// (docs/BENCHMARKS.md, "RPC reads"). Ranges and execution stay on [`blocking`].
pub(crate) fn inline<R, F>(module: &mut RpcModule<EthCtx>, name: &'static str, f: F) -> Result<(), ModuleError>
where
    R: serde::Serialize + Clone + Send + 'static,
    F: Fn(&jsonrpsee::types::Params<'_>, &EthCtx) -> EthResult<R> + Clone + Send + Sync + 'static,
{
    module.register_method(name, move |params, ctx, _| {
        check_arity(name, &params)?;
        f(&params, ctx).map_err(ErrorObjectOwned::from)
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::ArgCount;

    #[test]
    fn arg_count_counts_top_level_elements_only() {
        let count = |raw: &str| serde_json::from_str::<ArgCount>(raw).map(|c| c.0);
        assert_eq!(count("[]").unwrap(), 0);
        assert_eq!(count(r#"["0xab", "latest"]"#).unwrap(), 2);
        assert_eq!(count(r#"[{"to": "0x01", "data": [1, 2, [3]]}, "latest", null]"#).unwrap(), 3);
        assert!(count(r#"{"a": 1}"#).is_err());
        assert!(count("[1, 2").is_err());
    }
}
