//! Blocks: `eth_getBlockByNumber`, `eth_getBlockByHash` and the transaction and uncle
//! counts. Unknown blocks answer `null`, as geth does.

use alloy_consensus::{BlockBody, Header, TxEnvelope};
use alloy_primitives::{Address, B256};
use jsonrpsee::RpcModule;
use serde_json::Value;
use stele_evm::db::ReadTx;

use super::{
    blocking, block_hash,
    format::{self, quantity, TxDetail},
    params::BlockNumberParam,
    resolve, Args, EthCtx, EthError, EthResult,
};
use crate::error::ModuleError;

/// A stored block with everything its JSON needs.
pub(crate) struct StoredBlock {
    pub(crate) header: Header,
    pub(crate) hash: B256,
    pub(crate) body: BlockBody<TxEnvelope>,
    pub(crate) senders: Vec<Address>,
}

/// Reads block `number` (header, hash, body, senders).
pub(crate) fn load(tx: &ReadTx, number: u64) -> EthResult<Option<StoredBlock>> {
    let Some(header) = tx.header(number)? else { return Ok(None) };
    let hash = block_hash(tx, number, &header)?;
    let body = tx.body(number)?.ok_or_else(|| {
        EthError::Db(stele_evm::DbError::Inconsistent(format!("block {number} has a header but no body")))
    })?;
    let senders = tx.senders(number)?;
    Ok(Some(StoredBlock { header, hash, body, senders }))
}

fn block_json(tx: &ReadTx, number: Option<u64>, full: bool) -> EthResult<Value> {
    let Some(number) = number else { return Ok(Value::Null) };
    let Some(block) = load(tx, number)? else { return Ok(Value::Null) };
    let detail = if full { TxDetail::Full } else { TxDetail::Hashes };
    Ok(format::block(&block.header, block.hash, &block.body, &block.senders, detail))
}

fn count(tx: &ReadTx, number: Option<u64>, uncles: bool) -> EthResult<Value> {
    let Some(number) = number else { return Ok(Value::Null) };
    let Some(body) = tx.body(number)? else { return Ok(Value::Null) };
    let n = if uncles { body.ommers.len() } else { body.transactions.len() };
    Ok(quantity(n as u64))
}

pub(super) fn register(module: &mut RpcModule<EthCtx>) -> Result<(), ModuleError> {
    blocking(module, "eth_getBlockByNumber", |params, ctx| {
        let mut args = Args::new(params);
        let BlockNumberParam(block) = args.next()?;
        let full: bool = args.next()?;
        let tx = ctx.read()?;
        block_json(&tx, resolve(&tx, block)?, full)
    })?;
    blocking(module, "eth_getBlockByHash", |params, ctx| {
        let mut args = Args::new(params);
        let hash: B256 = args.next()?;
        let full: bool = args.next()?;
        let tx = ctx.read()?;
        block_json(&tx, tx.block_number(&hash)?, full)
    })?;
    for (name, uncles) in [("eth_getBlockTransactionCountByNumber", false), ("eth_getUncleCountByBlockNumber", true)] {
        blocking(module, name, move |params, ctx| {
            let BlockNumberParam(block) = Args::new(params).next()?;
            let tx = ctx.read()?;
            count(&tx, resolve(&tx, block)?, uncles)
        })?;
    }
    for (name, uncles) in [("eth_getBlockTransactionCountByHash", false), ("eth_getUncleCountByBlockHash", true)] {
        blocking(module, name, move |params, ctx| {
            let hash: B256 = Args::new(params).next()?;
            let tx = ctx.read()?;
            count(&tx, tx.block_number(&hash)?, uncles)
        })?;
    }
    Ok(())
}
