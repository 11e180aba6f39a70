//! The `txpool_` namespace with geth's names and shapes: `txpool_content`,
//! `txpool_contentFrom`, `txpool_status` and `txpool_inspect`. Senders are keyed by their
//! checksummed address and transactions by decimal nonce, as geth writes them.

use std::{collections::BTreeMap, sync::Arc};

use alloy_consensus::Transaction;
use alloy_primitives::Address;
use jsonrpsee::{types::ErrorObjectOwned, RpcModule};
use serde_json::{json, Map, Value};
use stele_evm::pool::{TxPool, ValidTransaction};

use crate::{
    error::{invalid_argument, ModuleError},
    eth::format::{self, quantity},
};

type BySender = BTreeMap<Address, BTreeMap<u64, Arc<ValidTransaction>>>;

fn section(txs: &BySender, only: Option<Address>, render: impl Fn(&ValidTransaction) -> Value) -> Value {
    let mut out = Map::new();
    for (sender, by_nonce) in txs {
        if only.is_some_and(|o| o != *sender) {
            continue;
        }
        let entries: Map<String, Value> = by_nonce.iter().map(|(nonce, tx)| (nonce.to_string(), render(tx))).collect();
        out.insert(sender.to_checksum(None), Value::Object(entries));
    }
    Value::Object(out)
}

fn full(tx: &ValidTransaction) -> Value {
    format::transaction(&tx.transaction, tx.sender, None)
}

/// geth's one-line summary: `to: value wei + gas gas × price wei`.
fn summary(tx: &ValidTransaction) -> Value {
    let t = &tx.transaction;
    let to = t.to().map(|a| a.to_checksum(None)).unwrap_or_else(|| "contract creation".into());
    let price = t.gas_price().unwrap_or_else(|| t.max_fee_per_gas());
    Value::String(format!("{to}: {} wei + {} gas × {price} wei", t.value(), t.gas_limit()))
}

/// Builds the `txpool_` namespace over `pool`.
///
/// # Errors
/// A method name registered twice (a bug).
pub fn module(pool: Arc<TxPool>) -> Result<RpcModule<Arc<TxPool>>, ModuleError> {
    let mut module = RpcModule::new(pool);
    module.register_method("txpool_content", |_, pool, _| {
        let content = pool.content();
        Ok::<_, ErrorObjectOwned>(json!({
            "pending": section(&content.pending, None, full),
            "queued": section(&content.queued, None, full),
        }))
    })?;
    module.register_method("txpool_contentFrom", |params, pool, _| {
        let address: Address = params.one().map_err(|e| invalid_argument(0, e.message()))?;
        let content = pool.content();
        Ok::<_, ErrorObjectOwned>(json!({
            "pending": section(&content.pending, Some(address), full).get(address.to_checksum(None)).cloned().unwrap_or_else(|| json!({})),
            "queued": section(&content.queued, Some(address), full).get(address.to_checksum(None)).cloned().unwrap_or_else(|| json!({})),
        }))
    })?;
    module.register_method("txpool_status", |_, pool, _| {
        let (pending, queued) = pool.status();
        Ok::<_, ErrorObjectOwned>(json!({ "pending": quantity(pending as u64), "queued": quantity(queued as u64) }))
    })?;
    module.register_method("txpool_inspect", |_, pool, _| {
        let content = pool.content();
        Ok::<_, ErrorObjectOwned>(json!({
            "pending": section(&content.pending, None, summary),
            "queued": section(&content.queued, None, summary),
        }))
    })?;
    Ok(module)
}
