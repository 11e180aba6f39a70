//! Account state at a block: `eth_getBalance`, `eth_getTransactionCount` (`pending` counts
//! the pool's contiguous nonces), `eth_getCode` (an EIP-7702 account shows its delegation
//! designator), `eth_getStorageAt` and `eth_getStorageValues`. A missing block parameter
//! means `latest`.

use alloy_primitives::{Address, B256, U256};
use jsonrpsee::RpcModule;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use stele_evm::{
    db::ReadTx,
    state::StateReader,
};

use super::{
    blocking, inline,
    format::{quantity, quantity256},
    params::{parse_storage_key, BlockParam, RawStorageKey},
    state_block, Args, EthCtx, EthError, EthResult,
};
use crate::error::ModuleError;

/// Most slots one eth_getStorageValues may read.
pub(crate) const STORAGE_VALUES_SLOTS_MAX: usize = 1_024;

/// A reader of the state after the block `block` names (plain state at the head).
pub(crate) fn reader(tx: &ReadTx, block: BlockParam) -> EthResult<StateReader<'_, signet_libmdbx::RoSync>> {
    Ok(StateReader::new(tx, state_block(tx, block)?.at()))
}

fn block_arg(args: &mut Args<'_>) -> EthResult<BlockParam> {
    Ok(args.optional::<BlockParam>()?.unwrap_or(BlockParam::Latest))
}

fn slot_arg(args: &mut Args<'_>, index: usize) -> EthResult<B256> {
    let RawStorageKey(raw) = args.next()?;
    parse_storage_key(&raw).map(|k| k.slot).map_err(|reason| {
        let _ = index;
        EthError::InvalidParams(reason)
    })
}

pub(super) fn register(module: &mut RpcModule<EthCtx>) -> Result<(), ModuleError> {
    inline(module, "eth_getBalance", |params, ctx| {
        let mut args = Args::new(params);
        let address: Address = args.next()?;
        let block = block_arg(&mut args)?;
        let tx = ctx.read()?;
        let account = reader(&tx, block)?.account(address)?;
        Ok(quantity256(account.map(|a| a.balance).unwrap_or_default()))
    })?;
    inline(module, "eth_getTransactionCount", |params, ctx| {
        let mut args = Args::new(params);
        let address: Address = args.next()?;
        let block = block_arg(&mut args)?;
        if block.is_pending() {
            let nonce = ctx
                .deps
                .consensus
                .pending_nonce(address)
                .map_err(|e| EthError::Execution(e.to_string()))?;
            return Ok(quantity(nonce));
        }
        let tx = ctx.read()?;
        let account = reader(&tx, block)?.account(address)?;
        Ok(quantity(account.map(|a| a.nonce).unwrap_or_default()))
    })?;
    inline(module, "eth_getCode", |params, ctx| {
        let mut args = Args::new(params);
        let address: Address = args.next()?;
        let block = block_arg(&mut args)?;
        let tx = ctx.read()?;
        let state = reader(&tx, block)?;
        let code = match state.account(address)? {
            Some(account) => state.code(account.code_hash)?.map(|c| c.original_bytes()).unwrap_or_default(),
            None => Default::default(),
        };
        Ok(serde_json::to_value(code).unwrap_or(Value::Null))
    })?;
    inline(module, "eth_getStorageAt", |params, ctx| {
        let mut args = Args::new(params);
        let address: Address = args.next()?;
        let slot = slot_arg(&mut args, 1)?;
        let block = block_arg(&mut args)?;
        let tx = ctx.read()?;
        let value = reader(&tx, block)?.storage(address, slot)?;
        Ok(Value::String(B256::from(value).to_string()))
    })?;
    blocking(module, "eth_getStorageValues", |params, ctx| {
        let mut args = Args::new(params);
        let request: BTreeMap<Address, Vec<RawStorageKey>> = args.next()?;
        let block = block_arg(&mut args)?;
        if request.is_empty() {
            return Err(EthError::InvalidParams("empty request".into()));
        }
        let slots: usize = request.values().map(Vec::len).sum();
        if slots > STORAGE_VALUES_SLOTS_MAX {
            return Err(EthError::InvalidParams(format!(
                "too many slots: {slots}, the limit is {STORAGE_VALUES_SLOTS_MAX}"
            )));
        }
        let tx = ctx.read()?;
        let state = reader(&tx, block)?;
        let mut out = Map::new();
        for (address, keys) in request {
            let mut values = Vec::with_capacity(keys.len());
            for RawStorageKey(raw) in keys {
                let slot = parse_storage_key(&raw).map_err(EthError::InvalidParams)?.slot;
                let value: U256 = state.storage(address, slot)?;
                values.push(Value::String(B256::from(value).to_string()));
            }
            out.insert(format!("{address:#x}"), Value::Array(values));
        }
        Ok(Value::Object(out))
    })?;
    Ok(())
}
