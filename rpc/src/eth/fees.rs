//! Fee answers: `eth_gasPrice` (next base fee plus a tip: MetaMask uses it as both caps, so
//! it must clear the next block), `eth_maxPriorityFeePerGas`, `eth_baseFee`,
//! `eth_blobBaseFee` and `eth_feeHistory` (base fees, used ratios and gas-weighted tip
//! percentiles, as geth computes them). On a free-gas chain every answer is 0 (jsonrpc.md
//! §1.4), so clients send zero-fee transactions.

use alloy_consensus::{Header, Transaction};
use jsonrpsee::RpcModule;
use serde_json::{json, Value};
use stele_evm::chainspec::FeeRules;

use super::{
    blocking,
    format::{quantity, quantity128},
    head_number,
    params::{BlockNumberParam, Quantity},
    resolve, Args, EthCtx, EthError, EthResult,
};
use crate::error::ModuleError;

/// The tip suggested on a fee-paying chain (geth's oracle floor for an idle chain is of this
/// order; a permissioned chain has no fee market to read one from).
pub(crate) const SUGGESTED_TIP_WEI: u128 = 1_000_000_000;
/// Most blocks one eth_feeHistory covers (geth: 1024).
pub(crate) const FEE_HISTORY_BLOCKS_MAX: u64 = 1_024;
/// Most percentiles one eth_feeHistory takes (geth: 100).
pub(crate) const FEE_HISTORY_PERCENTILES_MAX: usize = 100;

/// The tip to suggest.
pub(crate) fn suggested_tip(ctx: &EthCtx) -> u128 {
    match ctx.deps.spec.fee_rules {
        FeeRules::Free => 0,
        FeeRules::Ethereum => SUGGESTED_TIP_WEI,
    }
}

fn next_base_fee(ctx: &EthCtx, head: &Header) -> u128 {
    u128::from(ctx.deps.spec.next_base_fee(head).unwrap_or(0))
}

fn head_header(ctx: &EthCtx, tx: &stele_evm::db::ReadTx) -> EthResult<Header> {
    let _ = ctx;
    Ok(tx.head_header()?)
}

fn blob_fee_of(ctx: &EthCtx, header: &Header) -> u128 {
    match (header.excess_blob_gas, ctx.deps.spec.blob_params_at(header.timestamp)) {
        (Some(excess), Some(params)) => params.calc_blob_fee(excess),
        _ => 0,
    }
}

fn next_blob_fee(ctx: &EthCtx, header: &Header) -> Option<u128> {
    let params = ctx.deps.spec.blob_params_at(header.timestamp)?;
    let next_excess = header.next_block_excess_blob_gas(params)?;
    Some(params.calc_blob_fee(next_excess))
}

/// The gas-weighted tip percentiles of one block (geth's `processBlock`).
fn rewards(tx: &stele_evm::db::ReadTx, number: u64, header: &Header, percentiles: &[f64]) -> EthResult<Vec<Value>> {
    let body = tx.body(number)?.unwrap_or_default();
    let receipts = tx.receipts(number)?.unwrap_or_default();
    if body.transactions.is_empty() {
        return Ok(percentiles.iter().map(|_| quantity(0)).collect());
    }
    let mut prior = 0;
    let mut tips: Vec<(u128, u64)> = body
        .transactions
        .iter()
        .zip(&receipts)
        .map(|(t, r)| {
            let used = r.cumulative_gas_used().saturating_sub(prior);
            prior = r.cumulative_gas_used();
            (t.effective_tip_per_gas(header.base_fee_per_gas.unwrap_or(0)).unwrap_or(0), used)
        })
        .collect();
    tips.sort_unstable_by_key(|(tip, _)| *tip);
    let mut out = Vec::with_capacity(percentiles.len());
    let mut index = 0;
    let mut sum = tips.first().map(|t| t.1).unwrap_or(0);
    for p in percentiles {
        let threshold = (header.gas_used as f64 * p / 100.0) as u64;
        while sum < threshold && index + 1 < tips.len() {
            index += 1;
            sum += tips[index].1;
        }
        out.push(quantity128(tips[index].0));
    }
    Ok(out)
}

fn fee_history(ctx: &EthCtx, count: u64, newest: BlockNumberParam, percentiles: Vec<f64>) -> EthResult<Value> {
    if percentiles.len() > FEE_HISTORY_PERCENTILES_MAX {
        return Err(EthError::InvalidParams(format!(
            "invalid reward percentiles: too many, the limit is {FEE_HISTORY_PERCENTILES_MAX}"
        )));
    }
    for (i, p) in percentiles.iter().enumerate() {
        if !(0.0..=100.0).contains(p) || (i > 0 && *p < percentiles[i - 1]) {
            return Err(EthError::InvalidParams(format!("invalid reward percentile: #{i}:{p}")));
        }
    }
    let tx = ctx.read()?;
    let head = head_number(&tx)?;
    let newest = resolve(&tx, newest.0)?.ok_or_else(|| {
        EthError::InvalidParams(format!("request beyond head block: requested {:?}, head {head}", newest.0))
    })?;
    let count = count.min(FEE_HISTORY_BLOCKS_MAX).min(newest + 1);
    if count == 0 {
        return Ok(json!({ "oldestBlock": quantity(0), "baseFeePerGas": [], "gasUsedRatio": [] }));
    }
    let oldest = newest + 1 - count;
    let mut base_fees = Vec::new();
    let mut ratios = Vec::new();
    let mut blob_fees = Vec::new();
    let mut blob_ratios = Vec::new();
    let mut reward = Vec::new();
    let mut last = None;
    for number in oldest..=newest {
        let header = tx.header(number)?.ok_or_else(|| EthError::NotFound(format!("header {number} not found")))?;
        base_fees.push(quantity(header.base_fee_per_gas.unwrap_or(0)));
        ratios.push(json!(header.gas_used as f64 / header.gas_limit.max(1) as f64));
        blob_fees.push(quantity128(blob_fee_of(ctx, &header)));
        let max_blob_gas = ctx.deps.spec.blob_params_at(header.timestamp).map(|p| p.max_blob_gas_per_block()).unwrap_or(0);
        let blob_ratio = match (header.blob_gas_used, max_blob_gas) {
            (Some(used), max) if max > 0 => used as f64 / max as f64,
            _ => 0.0,
        };
        blob_ratios.push(json!(blob_ratio));
        if !percentiles.is_empty() {
            reward.push(Value::Array(rewards(&tx, number, &header, &percentiles)?));
        }
        last = Some(header);
    }
    if let Some(header) = last {
        base_fees.push(quantity128(next_base_fee(ctx, &header)));
        blob_fees.push(quantity128(next_blob_fee(ctx, &header).unwrap_or(0)));
    }
    let mut out = json!({
        "oldestBlock": quantity(oldest),
        "baseFeePerGas": base_fees,
        "gasUsedRatio": ratios,
        "baseFeePerBlobGas": blob_fees,
        "blobGasUsedRatio": blob_ratios,
    });
    if !percentiles.is_empty() {
        out["reward"] = Value::Array(reward);
    }
    Ok(out)
}

pub(super) fn register(module: &mut RpcModule<EthCtx>) -> Result<(), ModuleError> {
    blocking(module, "eth_gasPrice", |_, ctx| {
        let tx = ctx.read()?;
        let head = head_header(ctx, &tx)?;
        Ok(quantity128(next_base_fee(ctx, &head) + suggested_tip(ctx)))
    })?;
    blocking(module, "eth_maxPriorityFeePerGas", |_, ctx| Ok(quantity128(suggested_tip(ctx))))?;
    blocking(module, "eth_baseFee", |_, ctx| {
        let tx = ctx.read()?;
        let head = head_header(ctx, &tx)?;
        Ok(quantity128(next_base_fee(ctx, &head)))
    })?;
    blocking(module, "eth_blobBaseFee", |_, ctx| {
        let tx = ctx.read()?;
        let head = head_header(ctx, &tx)?;
        Ok(quantity128(next_blob_fee(ctx, &head).unwrap_or(0)))
    })?;
    blocking(module, "eth_feeHistory", |params, ctx| {
        let mut args = Args::new(params);
        let Quantity(count) = args.next()?;
        let newest: BlockNumberParam = args.next()?;
        let percentiles: Vec<f64> = args.optional()?.unwrap_or_default();
        fee_history(ctx, count, newest, percentiles)
    })?;
    Ok(())
}
