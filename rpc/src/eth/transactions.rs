//! Transactions: lookups by hash (mined, then the pool) and by block position, and
//! `eth_sendRawTransaction`, which hands the bytes to consensus (validation and the pool
//! live behind [`crate::api::ConsensusHandle`]).

use alloy_eips::Encodable2718;
use alloy_primitives::{Bytes, B256};
use jsonrpsee::{types::ErrorObjectOwned, RpcModule};
use serde_json::Value;
use stele_evm::db::ReadTx;

use super::{
    blocks, inline,
    format::{self, TxContext},
    params::{BlockNumberParam, Quantity},
    resolve, Args, EthCtx, EthResult,
};
use crate::error::ModuleError;

/// A mined transaction's JSON, or `None` if the block or index does not exist.
pub(crate) fn mined_at(tx: &ReadTx, number: u64, index: u64) -> EthResult<Option<Value>> {
    let Some(block) = blocks::load(tx, number)? else { return Ok(None) };
    let Ok(i) = usize::try_from(index) else { return Ok(None) };
    let Some(transaction) = block.body.transactions.get(i) else { return Ok(None) };
    let ctx = TxContext {
        block_hash: block.hash,
        block_number: number,
        block_timestamp: block.header.timestamp,
        index,
        base_fee: block.header.base_fee_per_gas,
    };
    let sender = block.senders.get(i).copied().or_else(|| format::recover_sender(transaction)).unwrap_or_default();
    Ok(Some(format::transaction(transaction, sender, Some(&ctx))))
}

fn by_hash(ctx: &EthCtx, hash: B256) -> EthResult<Value> {
    let tx = ctx.read()?;
    if let Some(location) = tx.tx_location(&hash)? {
        return Ok(mined_at(&tx, location.block, u64::from(location.index.0))?.unwrap_or(Value::Null));
    }
    let pooled = ctx.deps.pool.as_ref().and_then(|pool| pool.get(&hash));
    Ok(pooled.map(|p| format::transaction(&p.transaction, p.sender, None)).unwrap_or(Value::Null))
}

fn raw_by_hash(ctx: &EthCtx, hash: B256) -> EthResult<Value> {
    let tx = ctx.read()?;
    if let Some(location) = tx.tx_location(&hash)? {
        let body = tx.body(location.block)?;
        let raw = body.and_then(|b| b.transactions.get(location.index.0 as usize).map(|t| t.encoded_2718()));
        return Ok(raw.map(|r| Value::String(Bytes::from(r).to_string())).unwrap_or(Value::Null));
    }
    let pooled = ctx.deps.pool.as_ref().and_then(|pool| pool.get(&hash));
    Ok(pooled.map(|p| Value::String(Bytes::from(p.transaction.encoded_2718()).to_string())).unwrap_or(Value::Null))
}

pub(super) fn register(module: &mut RpcModule<EthCtx>) -> Result<(), ModuleError> {
    inline(module, "eth_getTransactionByHash", |params, ctx| by_hash(ctx, Args::new(params).next()?))?;
    inline(module, "eth_getRawTransactionByHash", |params, ctx| raw_by_hash(ctx, Args::new(params).next()?))?;
    inline(module, "eth_getTransactionByBlockHashAndIndex", |params, ctx| {
        let mut args = Args::new(params);
        let hash: B256 = args.next()?;
        let Quantity(index) = args.next()?;
        let tx = ctx.read()?;
        let Some(number) = tx.block_number(&hash)? else { return Ok(Value::Null) };
        Ok(mined_at(&tx, number, index)?.unwrap_or(Value::Null))
    })?;
    inline(module, "eth_getTransactionByBlockNumberAndIndex", |params, ctx| {
        let mut args = Args::new(params);
        let BlockNumberParam(block) = args.next()?;
        let Quantity(index) = args.next()?;
        let tx = ctx.read()?;
        let Some(number) = resolve(&tx, block)? else { return Ok(Value::Null) };
        Ok(mined_at(&tx, number, index)?.unwrap_or(Value::Null))
    })?;
    module.register_async_method("eth_sendRawTransaction", |params, ctx, _| async move {
        let raw: Bytes = Args::new(&params).next().map_err(ErrorObjectOwned::from)?;
        let hash = ctx.deps.consensus.submit_transaction(raw).await.map_err(ErrorObjectOwned::from)?;
        Ok::<B256, ErrorObjectOwned>(hash)
    })?;
    Ok(())
}
