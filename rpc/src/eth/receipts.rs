//! Receipts: `eth_getTransactionReceipt` and `eth_getBlockReceipts`. A receipt's `gasUsed`
//! is its cumulative gas minus the previous one's and `logIndex` counts across the block
//! (jsonrpc.md pitfall 10), so both are derived from the whole block's receipts.

use alloy_primitives::B256;
use jsonrpsee::RpcModule;
use stele_evm::db::ReadTx;

use super::{
    blocking, blocks, inline,
    format::{self, ReceiptContext, RpcReceipt, TxContext},
    params::BlockParam,
    resolve, Args, EthCtx, EthError, EthResult,
};
use crate::error::ModuleError;

/// The JSON receipts of block `number`, all of them or only the one at `only`.
pub(crate) fn block_receipts(
    ctx: &EthCtx,
    tx: &ReadTx,
    number: u64,
    only: Option<usize>,
) -> EthResult<Option<Vec<RpcReceipt>>> {
    let Some(block) = blocks::load(tx, number)? else { return Ok(None) };
    let receipts = tx.receipts(number)?.unwrap_or_default();
    if receipts.len() != block.body.transactions.len() {
        return Err(EthError::Db(stele_evm::DbError::Inconsistent(format!(
            "block {number}: {} receipts for {} transactions",
            receipts.len(),
            block.body.transactions.len()
        ))));
    }
    let blob_gas_price = format::blob_gas_price(&block.header, ctx.deps.spec.blob_params_at(block.header.timestamp));
    let mut out = Vec::new();
    let mut prior_cumulative_gas = 0;
    let mut first_log_index = 0u64;
    for (i, (receipt, transaction)) in receipts.iter().zip(&block.body.transactions).enumerate() {
        if only.is_none_or(|o| o == i) {
            let sender =
                block.senders.get(i).copied().or_else(|| format::recover_sender(transaction)).unwrap_or_default();
            let rctx = ReceiptContext {
                tx: transaction,
                sender,
                at: TxContext {
                    block_hash: block.hash,
                    block_number: number,
                    block_timestamp: block.header.timestamp,
                    index: i as u64,
                    base_fee: block.header.base_fee_per_gas,
                },
                prior_cumulative_gas,
                first_log_index,
                blob_gas_price,
            };
            out.push(format::receipt(receipt, &rctx));
        }
        prior_cumulative_gas = receipt.cumulative_gas_used();
        first_log_index += receipt.logs().len() as u64;
    }
    Ok(Some(out))
}

pub(super) fn register(module: &mut RpcModule<EthCtx>) -> Result<(), ModuleError> {
    inline(module, "eth_getTransactionReceipt", |params, ctx| {
        let hash: B256 = Args::new(params).next()?;
        let tx = ctx.read()?;
        let Some(location) = tx.tx_location(&hash)? else { return Ok(None) };
        let receipts = block_receipts(ctx, &tx, location.block, Some(location.index.0 as usize))?;
        Ok(receipts.and_then(|mut r| r.pop()))
    })?;
    blocking(module, "eth_getBlockReceipts", |params, ctx| {
        let block: BlockParam = Args::new(params).next()?;
        let tx = ctx.read()?;
        let Some(number) = resolve(&tx, block)? else { return Ok(None) };
        block_receipts(ctx, &tx, number, None)
    })?;
    Ok(())
}
