//! Polling filters: `eth_newFilter` (logs), `eth_newBlockFilter`, `eth_newPendingTransactionFilter`,
//! `eth_getFilterChanges`, `eth_getFilterLogs` and `eth_uninstallFilter`.
//!
//! A filter remembers the next block it has not reported yet, so changes are read from the
//! chain database (no per-filter queue of blocks); pending-transaction filters hold a
//! bounded broadcast receiver. Filters are capped in number and expire when not polled
//! for the idle timeout (geth: 5 minutes), so abandoned filters do not pile up.

use std::{
    collections::HashMap,
    sync::{Mutex, MutexGuard},
    time::{Duration, Instant},
};

use alloy_primitives::{keccak256, B256};
use jsonrpsee::RpcModule;
use serde_json::Value;
use tokio::sync::broadcast;

use super::{
    blocking, block_hash, head_number,
    logs::{range_logs, FilterParams, LogMatcher},
    params::BlockParam,
    resolve, Args, EthCtx, EthError, EthResult,
};
use crate::error::ModuleError;

/// Most pending hashes one pending-transaction filter returns per poll.
const PENDING_HASHES_PER_POLL_MAX: usize = 10_000;

#[derive(Debug)]
enum Kind {
    Logs { params: FilterParams, matcher: LogMatcher, next_block: u64 },
    Blocks { next_block: u64 },
    Pending { receiver: broadcast::Receiver<B256> },
}

#[derive(Debug)]
struct Filter {
    kind: Kind,
    last_poll: Instant,
}

/// The installed filters.
#[derive(Debug)]
pub(crate) struct Filters {
    inner: Mutex<HashMap<B256, Filter>>,
    max: usize,
    idle_timeout: Duration,
    created: std::sync::atomic::AtomicU64,
}

impl Filters {
    pub(crate) fn new(max: usize, idle_timeout: Duration) -> Self {
        Self { inner: Mutex::default(), max, idle_timeout, created: Default::default() }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<B256, Filter>> {
        // The map stays consistent under a panic in a handler; take it over.
        let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let timeout = self.idle_timeout;
        map.retain(|_, f| f.last_poll.elapsed() < timeout);
        map
    }

    fn install(&self, kind: Kind) -> EthResult<Value> {
        let mut map = self.lock();
        if map.len() >= self.max {
            return Err(EthError::LimitExceeded(format!("too many filters installed (limit {})", self.max)));
        }
        let n = self.created.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
        let mut seed = n.to_be_bytes().to_vec();
        seed.extend_from_slice(&nanos.to_be_bytes());
        // 16 bytes, as geth's ids: unguessable enough that one client cannot poll another's.
        let id = keccak256(&seed);
        let key = B256::left_padding_from(&id[..16]);
        map.insert(key, Filter { kind, last_poll: Instant::now() });
        Ok(Value::String(format!("0x{}", alloy_primitives::hex::encode(&id[..16]))))
    }
}

fn parse_id(raw: &str) -> EthResult<B256> {
    let digits = raw.strip_prefix("0x").unwrap_or(raw);
    let bytes = alloy_primitives::hex::decode(digits).map_err(|_| EthError::NotFound("filter not found".into()))?;
    if bytes.len() > 32 {
        return Err(EthError::NotFound("filter not found".into()));
    }
    Ok(B256::left_padding_from(&bytes))
}

fn changes(ctx: &EthCtx, id: B256) -> EthResult<Value> {
    let tx = ctx.read()?;
    let head = head_number(&tx)?;
    let mut map = ctx.filters.lock();
    let filter = map.get_mut(&id).ok_or_else(|| EthError::NotFound("filter not found".into()))?;
    filter.last_poll = Instant::now();
    match &mut filter.kind {
        Kind::Blocks { next_block } => {
            let mut hashes = Vec::new();
            for number in *next_block..=head {
                if let Some(header) = tx.header(number)? {
                    hashes.push(Value::String(block_hash(&tx, number, &header)?.to_string()));
                }
            }
            *next_block = head + 1;
            Ok(Value::Array(hashes))
        }
        Kind::Logs { params, matcher, next_block } => {
            let to = match params.to_block {
                Some(BlockParam::Number(n)) => n.min(head),
                _ => head,
            };
            if *next_block > to {
                return Ok(Value::Array(vec![]));
            }
            let logs = range_logs(ctx, &tx, *next_block, to, matcher)?;
            *next_block = to + 1;
            Ok(super::format::logs_value(&logs))
        }
        Kind::Pending { receiver } => {
            let mut hashes = Vec::new();
            while hashes.len() < PENDING_HASHES_PER_POLL_MAX {
                match receiver.try_recv() {
                    Ok(hash) => hashes.push(Value::String(hash.to_string())),
                    Err(broadcast::error::TryRecvError::Lagged(_)) => continue,
                    Err(_) => break,
                }
            }
            Ok(Value::Array(hashes))
        }
    }
}

fn filter_logs(ctx: &EthCtx, id: B256) -> EthResult<Value> {
    let params = {
        let mut map = ctx.filters.lock();
        let filter = map.get_mut(&id).ok_or_else(|| EthError::NotFound("filter not found".into()))?;
        filter.last_poll = Instant::now();
        match &filter.kind {
            Kind::Logs { params, .. } => params.clone(),
            _ => return Err(EthError::NotFound("filter not found".into())),
        }
    };
    Ok(super::format::logs_value(&super::logs::get_logs(ctx, &params)?))
}

pub(super) fn register(module: &mut RpcModule<EthCtx>) -> Result<(), ModuleError> {
    blocking(module, "eth_newFilter", |params, ctx| {
        let filter: FilterParams = Args::new(params).next()?;
        let matcher = LogMatcher::new(&filter)?;
        let tx = ctx.read()?;
        let head = head_number(&tx)?;
        let next_block = match filter.from_block {
            Some(BlockParam::Number(n)) => n,
            Some(BlockParam::Earliest) => 0,
            Some(other) => resolve(&tx, other)?.map_or(head + 1, |n| n + 1),
            None => head + 1,
        };
        ctx.filters.install(Kind::Logs { params: filter, matcher, next_block })
    })?;
    blocking(module, "eth_newBlockFilter", |_, ctx| {
        let head = head_number(&ctx.read()?)?;
        ctx.filters.install(Kind::Blocks { next_block: head + 1 })
    })?;
    blocking(module, "eth_newPendingTransactionFilter", |_, ctx| {
        let receiver = ctx.deps.consensus.subscribe_pending();
        ctx.filters.install(Kind::Pending { receiver })
    })?;
    blocking(module, "eth_getFilterChanges", |params, ctx| {
        let raw: String = Args::new(params).next()?;
        changes(ctx, parse_id(&raw)?)
    })?;
    blocking(module, "eth_getFilterLogs", |params, ctx| {
        let raw: String = Args::new(params).next()?;
        filter_logs(ctx, parse_id(&raw)?)
    })?;
    blocking(module, "eth_uninstallFilter", |params, ctx| {
        let raw: String = Args::new(params).next()?;
        let Ok(id) = parse_id(&raw) else { return Ok(false) };
        Ok(ctx.filters.lock().remove(&id).is_some())
    })?;
    Ok(())
}
