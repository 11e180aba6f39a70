//! `eth_getLogs` and the log matching that filters and `logs` subscriptions share.
//!
//! A block is read only when its header bloom may hold a match (jsonrpc.md pitfall 11: the
//! bloom is complete because the executor builds it from the same logs), then its receipts
//! are scanned. Ranges and result counts are bounded by [`super::EthLimits`]; the range
//! errors are geth's (code -32602, hive compares the code).

use alloy_primitives::{Address, Bloom, BloomInput, Log, B256};
use jsonrpsee::RpcModule;
use serde::Deserialize;
use stele_evm::db::ReadTx;

use super::{
    blocking, block_hash,
    format::{RpcLog, TxContext},
    head_number,
    params::BlockParam,
    resolve, Args, EthCtx, EthError, EthResult,
};
use crate::error::ModuleError;

/// One value or a list (`address`, and each position of `topics`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum OneOrMany<T> {
    /// A single value.
    One(T),
    /// Any of these.
    Many(Vec<T>),
}

impl<T: Clone> OneOrMany<T> {
    fn into_vec(self) -> Vec<T> {
        match self {
            OneOrMany::One(v) => vec![v],
            OneOrMany::Many(v) => v,
        }
    }
}

/// The filter object of eth_getLogs / eth_newFilter / `logs` subscriptions.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FilterParams {
    pub(crate) from_block: Option<BlockParam>,
    pub(crate) to_block: Option<BlockParam>,
    pub(crate) block_hash: Option<B256>,
    pub(crate) address: Option<OneOrMany<Address>>,
    pub(crate) topics: Option<Vec<Option<OneOrMany<B256>>>>,
}

/// Most topic positions a filter may constrain (the LOG4 maximum).
const TOPIC_POSITIONS_MAX: usize = 4;

/// A checked log matcher.
#[derive(Debug, Clone, Default)]
pub(crate) struct LogMatcher {
    /// Any of these addresses (empty = any).
    addresses: Vec<Address>,
    /// Per position, any of these topics (empty = wildcard).
    topics: Vec<Vec<B256>>,
    /// The bloom bits of each address, computed once rather than hashed again per block.
    address_blooms: Vec<Bloom>,
    /// The bloom bits of each topic, position by position like `topics`.
    topic_blooms: Vec<Vec<Bloom>>,
}

/// The three bloom bits one address or topic sets.
fn bloom_of(input: &[u8]) -> Bloom {
    Bloom::from(BloomInput::Raw(input))
}

impl LogMatcher {
    pub(crate) fn new(params: &FilterParams) -> EthResult<Self> {
        let addresses = params.address.clone().map(OneOrMany::into_vec).unwrap_or_default();
        let topics: Vec<Vec<B256>> = params
            .topics
            .clone()
            .unwrap_or_default()
            .into_iter()
            .map(|t| t.map(OneOrMany::into_vec).unwrap_or_default())
            .collect();
        if topics.len() > TOPIC_POSITIONS_MAX {
            return Err(EthError::InvalidParams("invalid argument 0: too many topics, max is 4".into()));
        }
        let address_blooms = addresses.iter().map(|a| bloom_of(a.as_slice())).collect();
        let topic_blooms =
            topics.iter().map(|wanted| wanted.iter().map(|t| bloom_of(t.as_slice())).collect()).collect();
        Ok(Self { addresses, topics, address_blooms, topic_blooms })
    }

    /// Whether `log` matches.
    pub(crate) fn matches(&self, log: &Log) -> bool {
        if !self.addresses.is_empty() && !self.addresses.contains(&log.address) {
            return false;
        }
        let topics = log.topics();
        if self.topics.len() > topics.len() {
            return false;
        }
        self.topics.iter().zip(topics).all(|(wanted, got)| wanted.is_empty() || wanted.contains(got))
    }

    /// Whether a block with this bloom may hold a match.
    pub(crate) fn bloom_may_match(&self, bloom: &Bloom) -> bool {
        let address_ok = self.address_blooms.is_empty() || self.address_blooms.iter().any(|a| bloom.contains(a));
        address_ok
            && self.topic_blooms.iter().all(|wanted| wanted.is_empty() || wanted.iter().any(|t| bloom.contains(t)))
    }
}

/// The matching logs of block `number`, appended to `out`; fails past `limit`. The
/// block's transaction hashes are read only once one of its logs matches.
pub(crate) fn block_logs(tx: &ReadTx, number: u64, matcher: &LogMatcher, limit: usize, out: &mut Vec<RpcLog>) -> EthResult<()> {
    let Some(header) = tx.header(number)? else { return Ok(()) };
    if !matcher.bloom_may_match(&header.logs_bloom) {
        return Ok(());
    }
    let hash = block_hash(tx, number, &header)?;
    let receipts = tx.receipts(number)?.unwrap_or_default();
    // Most blocks a bloom lets through hold no match.
    let mut tx_hashes: Option<Vec<B256>> = None;
    let mut log_index = 0u64;
    for (i, receipt) in receipts.iter().enumerate() {
        let at = TxContext {
            block_hash: hash,
            block_number: number,
            block_timestamp: header.timestamp,
            index: i as u64,
            base_fee: header.base_fee_per_gas,
        };
        for log in receipt.logs() {
            if matcher.matches(log) {
                if out.len() >= limit {
                    return Err(EthError::LimitExceeded(format!("query returned more than {limit} results")));
                }
                if tx_hashes.is_none() {
                    tx_hashes = Some(tx.transaction_hashes(number)?);
                }
                let tx_hash = tx_hashes.as_deref().and_then(|h| h.get(i)).copied().unwrap_or_default();
                out.push(RpcLog::new(log, &at, tx_hash, log_index));
            }
            log_index += 1;
        }
    }
    Ok(())
}

/// Logs in blocks `from..=to` (both at most the head).
pub(crate) fn range_logs(ctx: &EthCtx, tx: &ReadTx, from: u64, to: u64, matcher: &LogMatcher) -> EthResult<Vec<RpcLog>> {
    let limits = &ctx.deps.limits;
    if to.saturating_sub(from) >= limits.logs_block_range_max {
        return Err(EthError::LimitExceeded(format!(
            "block range too large: {} blocks, the limit is {}",
            to - from + 1,
            limits.logs_block_range_max
        )));
    }
    let mut out = Vec::new();
    match indexed_candidates(tx, matcher, from, to)? {
        Some(blocks) => {
            for number in blocks {
                block_logs(tx, number, matcher, limits.logs_results_max, &mut out)?;
            }
        }
        None => {
            for number in from..=to {
                block_logs(tx, number, matcher, limits.logs_results_max, &mut out)?;
            }
        }
    }
    Ok(out)
}

/// The blocks of `from..=to` that the log index says may hold a match, ascending: for
/// each criterion (the addresses; each topic position that names topics) the union of its
/// values' blocks, intersected across criteria. The index does not record a topic's
/// position, so this is a superset that [`block_logs`] narrows down log by log. `None`
/// when the filter names no address and no topic: then every block with logs is a
/// candidate and the header scan with its bloom check is the walk to take.
fn indexed_candidates(tx: &ReadTx, matcher: &LogMatcher, from: u64, to: u64) -> EthResult<Option<Vec<u64>>> {
    let mut criteria = Vec::new();
    if !matcher.addresses.is_empty() {
        criteria.push(union_of(matcher.addresses.iter().map(|a| tx.blocks_with_log_address(*a, from, to)))?);
    }
    for wanted in matcher.topics.iter().filter(|wanted| !wanted.is_empty()) {
        criteria.push(union_of(wanted.iter().map(|t| tx.blocks_with_log_topic(*t, from, to)))?);
    }
    Ok(criteria.into_iter().reduce(|mut kept, other| {
        kept.retain(|block| other.binary_search(block).is_ok());
        kept
    }))
}

/// The ascending, duplicate-free union of block lists.
fn union_of(lists: impl Iterator<Item = Result<Vec<u64>, stele_evm::DbError>>) -> EthResult<Vec<u64>> {
    let mut all = Vec::new();
    for list in lists {
        all.extend(list?);
    }
    all.sort_unstable();
    all.dedup();
    Ok(all)
}

/// eth_getLogs with geth's checks.
pub(crate) fn get_logs(ctx: &EthCtx, params: &FilterParams) -> EthResult<Vec<RpcLog>> {
    let matcher = LogMatcher::new(params)?;
    let tx = ctx.read()?;
    if let Some(hash) = params.block_hash {
        if params.from_block.is_some() || params.to_block.is_some() {
            return Err(EthError::InvalidParams(
                "invalid argument 0: cannot specify both BlockHash and FromBlock/ToBlock, choose one or the other".into(),
            ));
        }
        let number = tx.block_number(&hash)?.ok_or_else(|| EthError::NotFound("unknown block".into()))?;
        let mut out = Vec::new();
        block_logs(&tx, number, &matcher, ctx.deps.limits.logs_results_max, &mut out)?;
        return Ok(out);
    }
    let head = head_number(&tx)?;
    let bound = |b: Option<BlockParam>| -> EthResult<u64> {
        match b.unwrap_or(BlockParam::Latest) {
            BlockParam::Number(n) => Ok(n),
            other => Ok(resolve(&tx, other)?.unwrap_or(u64::MAX)),
        }
    };
    let from = bound(params.from_block)?;
    let to = bound(params.to_block)?;
    if from > to {
        return Err(EthError::InvalidParams("invalid block range params".into()));
    }
    if to > head {
        return Err(EthError::InvalidParams("block range extends beyond current head block".into()));
    }
    range_logs(ctx, &tx, from, to, &matcher)
}

pub(super) fn register(module: &mut RpcModule<EthCtx>) -> Result<(), ModuleError> {
    blocking(module, "eth_getLogs", |params, ctx| {
        let filter: FilterParams = Args::new(params).next()?;
        get_logs(ctx, &filter)
    })?;
    Ok(())
}
