//! The JSON shapes of blocks, transactions, receipts and logs, exactly as geth writes them
//! (hive compares key by key: no `totalDifficulty`; `blockTimestamp` on mined transactions
//! and logs; `v` and `yParity` on typed transactions; the effective `gasPrice` on mined
//! dynamic-fee ones; `root` instead of `status` before Byzantium; blob fields on type 3).
//!
//! Built as `serde_json` maps rather than with alloy's RPC types because the field set
//! depends on the transaction type and on whether it is mined, and alloy's types differ
//! from geth in a few of those fields.

use alloy_consensus::{
    transaction::SignerRecoverable, BlockBody, Header, ReceiptEnvelope, Transaction, TxEnvelope, TxReceipt,
};
use alloy_eips::{eip2930::AccessList, eip7840::BlobParams, Encodable2718, Typed2718};
use alloy_primitives::{Address, B256, U256};
use serde_json::{json, Map, Value};

/// A quantity as compact hex (`0x0`, `0x1b`).
pub fn quantity(n: u64) -> Value {
    Value::String(format!("{n:#x}"))
}

/// A 128-bit quantity as compact hex.
pub fn quantity128(n: u128) -> Value {
    Value::String(format!("{n:#x}"))
}

/// A 256-bit quantity as compact hex.
pub fn quantity256(n: U256) -> Value {
    Value::String(format!("{n:#x}"))
}

fn to_value<T: serde::Serialize>(v: T) -> Value {
    // Serialising alloy primitives (hashes, addresses, bytes) into a Value cannot fail.
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// Where a transaction sits, when it is mined.
#[derive(Debug, Clone, Copy)]
pub struct TxContext {
    /// Block hash.
    pub block_hash: B256,
    /// Block number.
    pub block_number: u64,
    /// Block timestamp.
    pub block_timestamp: u64,
    /// Index in the block.
    pub index: u64,
    /// The block's base fee (for the effective gas price of dynamic-fee transactions).
    pub base_fee: Option<u64>,
}

fn access_list(list: &AccessList) -> Value {
    Value::Array(
        list.0
            .iter()
            .map(|item| json!({"address": item.address, "storageKeys": item.storage_keys}))
            .collect(),
    )
}

/// A transaction as `eth_getTransactionByHash` (mined: `ctx` is `Some`) or `txpool_content`
/// (pending: `ctx` is `None`) returns it.
pub fn transaction(tx: &TxEnvelope, sender: Address, ctx: Option<&TxContext>) -> Value {
    let mut m = Map::new();
    match ctx {
        Some(c) => {
            m.insert("blockHash".into(), to_value(c.block_hash));
            m.insert("blockNumber".into(), quantity(c.block_number));
            m.insert("blockTimestamp".into(), quantity(c.block_timestamp));
            m.insert("transactionIndex".into(), quantity(c.index));
        }
        None => {
            for key in ["blockHash", "blockNumber", "blockTimestamp", "transactionIndex"] {
                m.insert(key.into(), Value::Null);
            }
        }
    }
    m.insert("from".into(), to_value(sender));
    m.insert("gas".into(), quantity(tx.gas_limit()));
    let gas_price = match (tx.gas_price(), ctx) {
        (Some(price), _) => price,
        // Mined dynamic-fee transactions report what they paid; pending ones their cap.
        (None, Some(c)) => tx.effective_gas_price(c.base_fee),
        (None, None) => tx.max_fee_per_gas(),
    };
    m.insert("gasPrice".into(), quantity128(gas_price));
    m.insert("hash".into(), to_value(tx.trie_hash()));
    m.insert("input".into(), to_value(tx.input()));
    m.insert("nonce".into(), quantity(tx.nonce()));
    m.insert("to".into(), to_value(tx.to()));
    m.insert("value".into(), quantity256(tx.value()));
    m.insert("type".into(), quantity(u64::from(tx.ty())));
    let signature = tx.signature();
    match tx {
        TxEnvelope::Legacy(signed) => {
            let chain_id = signed.tx().chain_id;
            let v = alloy_consensus::transaction::to_eip155_value(signature.v(), chain_id);
            if let Some(id) = chain_id {
                m.insert("chainId".into(), quantity(id));
            }
            m.insert("v".into(), quantity128(v));
        }
        _ => {
            if tx.max_priority_fee_per_gas().is_some() {
                m.insert("maxFeePerGas".into(), quantity128(tx.max_fee_per_gas()));
                m.insert("maxPriorityFeePerGas".into(), quantity128(tx.max_priority_fee_per_gas().unwrap_or_default()));
            }
            if let Some(blob_fee) = tx.max_fee_per_blob_gas() {
                m.insert("maxFeePerBlobGas".into(), quantity128(blob_fee));
            }
            m.insert("accessList".into(), tx.access_list().map(access_list).unwrap_or(Value::Array(vec![])));
            m.insert("chainId".into(), quantity(tx.chain_id().unwrap_or_default()));
            if let Some(hashes) = tx.blob_versioned_hashes() {
                m.insert("blobVersionedHashes".into(), to_value(hashes));
            }
            if let Some(auths) = tx.authorization_list() {
                let list = auths
                    .iter()
                    .map(|a| {
                        json!({
                            "chainId": quantity256(a.inner().chain_id),
                            "address": a.inner().address,
                            "nonce": quantity(a.inner().nonce),
                            "yParity": quantity(u64::from(a.y_parity())),
                            "r": quantity256(a.r()),
                            "s": quantity256(a.s()),
                        })
                    })
                    .collect();
                m.insert("authorizationList".into(), Value::Array(list));
            }
            let parity = u64::from(signature.v());
            m.insert("v".into(), quantity(parity));
            m.insert("yParity".into(), quantity(parity));
        }
    }
    m.insert("r".into(), quantity256(signature.r()));
    m.insert("s".into(), quantity256(signature.s()));
    Value::Object(m)
}

/// The sender of a pool transaction, recovered again (pool entries carry it already; this
/// is for callers that only have the envelope).
pub fn recover_sender(tx: &TxEnvelope) -> Option<Address> {
    tx.recover_signer().ok()
}

/// Everything a receipt's JSON needs besides the receipt itself.
#[derive(Debug, Clone, Copy)]
pub struct ReceiptContext<'a> {
    /// The transaction.
    pub tx: &'a TxEnvelope,
    /// Its sender.
    pub sender: Address,
    /// Its position.
    pub at: TxContext,
    /// Cumulative gas of the previous receipt in the block.
    pub prior_cumulative_gas: u64,
    /// Index of the receipt's first log in the block.
    pub first_log_index: u64,
    /// Blob base fee of the block (type-3 receipts).
    pub blob_gas_price: Option<u128>,
}

/// A log with its position, as `eth_getLogs`, filters, `logs` subscriptions and receipts
/// show it. Serialised straight from this struct, without building a `serde_json` map per
/// log first (eth_getLogs returns up to [`super::LOGS_RESULTS_MAX`] of them). The fields
/// are declared in the order the map form wrote them (alphabetical), so the JSON is the
/// same byte for byte.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RpcLog {
    address: Address,
    block_hash: B256,
    #[serde(serialize_with = "hex_u64")]
    block_number: u64,
    #[serde(serialize_with = "hex_u64")]
    block_timestamp: u64,
    data: alloy_primitives::Bytes,
    #[serde(serialize_with = "hex_u64")]
    log_index: u64,
    removed: bool,
    topics: Vec<B256>,
    transaction_hash: B256,
    #[serde(serialize_with = "hex_u64")]
    transaction_index: u64,
}

impl RpcLog {
    /// `log`, the `log_index`-th of its block, emitted by transaction `tx_hash` at `at`.
    pub fn new(log: &alloy_primitives::Log, at: &TxContext, tx_hash: B256, log_index: u64) -> Self {
        Self {
            address: log.address,
            block_hash: at.block_hash,
            block_number: at.block_number,
            block_timestamp: at.block_timestamp,
            data: log.data.data.clone(),
            log_index,
            removed: false,
            topics: log.topics().to_vec(),
            transaction_hash: tx_hash,
            transaction_index: at.index,
        }
    }
}

/// A `u64` as compact hex, written into the output without a temporary string.
fn hex_u64<S: serde::Serializer>(n: &u64, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&format_args!("{n:#x}"))
}

/// Logs as a JSON array (what filters hand back).
pub fn logs_value(logs: &[RpcLog]) -> Value {
    to_value(logs)
}

/// A log with its position as a JSON value (see [`RpcLog`]).
pub fn log(log: &alloy_primitives::Log, at: &TxContext, tx_hash: B256, log_index: u64) -> Value {
    to_value(RpcLog::new(log, at, tx_hash, log_index))
}

/// A receipt as `eth_getTransactionReceipt` and `eth_getBlockReceipts` return it.
/// Serialised straight from this struct, like [`RpcLog`]; the fields are declared in the
/// order the map form wrote them (alphabetical), so the JSON is the same byte for byte.
/// `contractAddress` and `to` are always present (`null` when absent); `root` (before
/// Byzantium) replaces `status`; the blob fields appear on type-3 transactions only.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RpcReceipt {
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "hex_opt_u128")]
    blob_gas_price: Option<u128>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "hex_opt_u64")]
    blob_gas_used: Option<u64>,
    block_hash: B256,
    #[serde(serialize_with = "hex_u64")]
    block_number: u64,
    contract_address: Option<Address>,
    #[serde(serialize_with = "hex_u64")]
    cumulative_gas_used: u64,
    #[serde(serialize_with = "hex_u128")]
    effective_gas_price: u128,
    from: Address,
    #[serde(serialize_with = "hex_u64")]
    gas_used: u64,
    logs: Vec<RpcLog>,
    logs_bloom: alloy_primitives::Bloom,
    #[serde(skip_serializing_if = "Option::is_none")]
    root: Option<B256>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "hex_opt_u64")]
    status: Option<u64>,
    to: Option<Address>,
    transaction_hash: B256,
    #[serde(serialize_with = "hex_u64")]
    transaction_index: u64,
    #[serde(serialize_with = "hex_u64")]
    r#type: u64,
}

fn hex_u128<S: serde::Serializer>(n: &u128, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&format_args!("{n:#x}"))
}

// Only called for `Some` (the fields skip `None`); `None` would be written as `null`.
fn hex_opt_u64<S: serde::Serializer>(n: &Option<u64>, serializer: S) -> Result<S::Ok, S::Error> {
    match n {
        Some(n) => hex_u64(n, serializer),
        None => serializer.serialize_none(),
    }
}

fn hex_opt_u128<S: serde::Serializer>(n: &Option<u128>, serializer: S) -> Result<S::Ok, S::Error> {
    match n {
        Some(n) => hex_u128(n, serializer),
        None => serializer.serialize_none(),
    }
}

/// A receipt as `eth_getTransactionReceipt` returns it.
pub fn receipt(receipt: &ReceiptEnvelope, ctx: &ReceiptContext<'_>) -> RpcReceipt {
    let tx = ctx.tx;
    let at = &ctx.at;
    let tx_hash = tx.trie_hash();
    let cumulative = receipt.cumulative_gas_used();
    let logs = receipt
        .logs()
        .iter()
        .enumerate()
        .map(|(i, l)| RpcLog::new(l, at, tx_hash, ctx.first_log_index + i as u64))
        .collect();
    let (root, status) = match receipt.status_or_post_state() {
        alloy_consensus::Eip658Value::PostState(root) => (Some(root), None),
        alloy_consensus::Eip658Value::Eip658(ok) => (None, Some(u64::from(ok))),
    };
    let blob_gas_used =
        tx.blob_versioned_hashes().map(|hashes| alloy_eips::eip4844::DATA_GAS_PER_BLOB * hashes.len() as u64);
    RpcReceipt {
        blob_gas_price: blob_gas_used.map(|_| ctx.blob_gas_price.unwrap_or(1)),
        blob_gas_used,
        block_hash: at.block_hash,
        block_number: at.block_number,
        contract_address: if tx.to().is_none() { Some(ctx.sender.create(tx.nonce())) } else { None },
        cumulative_gas_used: cumulative,
        effective_gas_price: tx.effective_gas_price(at.base_fee),
        from: ctx.sender,
        gas_used: cumulative.saturating_sub(ctx.prior_cumulative_gas),
        logs,
        logs_bloom: receipt.bloom(),
        root,
        status,
        to: tx.to(),
        transaction_hash: tx_hash,
        transaction_index: at.index,
        r#type: u64::from(tx.ty()),
    }
}

/// The blob base fee of a block, given the blob parameters in force at its timestamp.
pub fn blob_gas_price(header: &Header, params: Option<BlobParams>) -> Option<u128> {
    let excess = header.excess_blob_gas?;
    Some(params.unwrap_or_else(BlobParams::cancun).calc_blob_fee(excess))
}

/// How a block lists its transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxDetail {
    /// Hashes only.
    Hashes,
    /// Full transaction objects.
    Full,
}

/// A block as `eth_getBlockByNumber` returns it.
pub fn block(
    header: &Header,
    hash: B256,
    body: &BlockBody<TxEnvelope>,
    senders: &[Address],
    detail: TxDetail,
) -> Value {
    let Value::Object(mut m) = header_fields(header, hash) else { return Value::Null };
    let size = alloy_rlp::Encodable::length(&alloy_consensus::Block { header: header.clone(), body: body.clone() });
    m.insert("size".into(), quantity(size as u64));
    let transactions: Vec<Value> = match detail {
        TxDetail::Hashes => body.transactions.iter().map(|t| to_value(t.trie_hash())).collect(),
        TxDetail::Full => body
            .transactions
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let ctx = TxContext {
                    block_hash: hash,
                    block_number: header.number,
                    block_timestamp: header.timestamp,
                    index: i as u64,
                    base_fee: header.base_fee_per_gas,
                };
                let sender = senders.get(i).copied().or_else(|| recover_sender(t)).unwrap_or_default();
                transaction(t, sender, Some(&ctx))
            })
            .collect(),
    };
    m.insert("transactions".into(), Value::Array(transactions));
    let uncles: Vec<Value> = body.ommers.iter().map(|o| to_value(o.hash_slow())).collect();
    m.insert("uncles".into(), Value::Array(uncles));
    if let Some(withdrawals) = &body.withdrawals {
        let list = withdrawals
            .iter()
            .map(|w| {
                json!({
                    "index": quantity(w.index),
                    "validatorIndex": quantity(w.validator_index),
                    "address": w.address,
                    "amount": quantity(w.amount),
                })
            })
            .collect();
        m.insert("withdrawals".into(), Value::Array(list));
    }
    Value::Object(m)
}

/// The header fields of a block (also the `newHeads` notification).
pub fn header_fields(header: &Header, hash: B256) -> Value {
    let mut m = Map::new();
    if let Some(fee) = header.base_fee_per_gas {
        m.insert("baseFeePerGas".into(), quantity(fee));
    }
    if let Some(used) = header.blob_gas_used {
        m.insert("blobGasUsed".into(), quantity(used));
    }
    if let Some(excess) = header.excess_blob_gas {
        m.insert("excessBlobGas".into(), quantity(excess));
    }
    m.insert("difficulty".into(), quantity256(header.difficulty));
    m.insert("extraData".into(), to_value(&header.extra_data));
    m.insert("gasLimit".into(), quantity(header.gas_limit));
    m.insert("gasUsed".into(), quantity(header.gas_used));
    m.insert("hash".into(), to_value(hash));
    m.insert("logsBloom".into(), to_value(header.logs_bloom));
    m.insert("miner".into(), to_value(header.beneficiary));
    m.insert("mixHash".into(), to_value(header.mix_hash));
    m.insert("nonce".into(), to_value(header.nonce));
    m.insert("number".into(), quantity(header.number));
    if let Some(root) = header.parent_beacon_block_root {
        m.insert("parentBeaconBlockRoot".into(), to_value(root));
    }
    m.insert("parentHash".into(), to_value(header.parent_hash));
    m.insert("receiptsRoot".into(), to_value(header.receipts_root));
    if let Some(requests) = header.requests_hash {
        m.insert("requestsHash".into(), to_value(requests));
    }
    m.insert("sha3Uncles".into(), to_value(header.ommers_hash));
    m.insert("stateRoot".into(), to_value(header.state_root));
    m.insert("timestamp".into(), quantity(header.timestamp));
    m.insert("transactionsRoot".into(), to_value(header.transactions_root));
    if let Some(root) = header.withdrawals_root {
        m.insert("withdrawalsRoot".into(), to_value(root));
    }
    Value::Object(m)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use alloy_consensus::{Receipt, ReceiptWithBloom, Signed, TxEip1559, TxLegacy};
    use alloy_primitives::{Bytes, Log, LogData, Signature, TxKind};

    fn at() -> TxContext {
        TxContext {
            block_hash: B256::repeat_byte(0xbb),
            block_number: 0x1234,
            block_timestamp: 0x6b02_d030,
            index: 3,
            base_fee: Some(7),
        }
    }

    fn sample_log(n: u8) -> Log {
        Log {
            address: Address::repeat_byte(n),
            data: LogData::new_unchecked(vec![B256::repeat_byte(1), B256::repeat_byte(n)], Bytes::from(vec![n; 40])),
        }
    }

    /// The map form these structs replaced, kept as the reference for the bytes on the wire.
    fn log_as_map(log: &Log, at: &TxContext, tx_hash: B256, log_index: u64) -> Value {
        json!({
            "address": log.address, "topics": log.topics(), "data": log.data.data,
            "blockNumber": quantity(at.block_number), "transactionHash": tx_hash,
            "transactionIndex": quantity(at.index), "blockHash": at.block_hash,
            "blockTimestamp": quantity(at.block_timestamp), "logIndex": quantity(log_index), "removed": false,
        })
    }

    #[test]
    fn log_json_is_the_map_form_byte_for_byte() {
        let log = sample_log(9);
        let hash = B256::repeat_byte(0xcc);
        let typed = serde_json::to_string(&RpcLog::new(&log, &at(), hash, 17)).unwrap();
        assert_eq!(typed, serde_json::to_string(&log_as_map(&log, &at(), hash, 17)).unwrap());
        assert_eq!(serde_json::to_string(&super::log(&log, &at(), hash, 0)).unwrap(),
            serde_json::to_string(&log_as_map(&log, &at(), hash, 0)).unwrap());
    }

    fn receipt_as_map(receipt: &ReceiptEnvelope, ctx: &ReceiptContext<'_>) -> Value {
        let tx = ctx.tx;
        let at = &ctx.at;
        let tx_hash = tx.trie_hash();
        let cumulative = receipt.cumulative_gas_used();
        let mut m = Map::new();
        m.insert("blockHash".into(), to_value(at.block_hash));
        m.insert("blockNumber".into(), quantity(at.block_number));
        let contract = if tx.to().is_none() { Some(ctx.sender.create(tx.nonce())) } else { None };
        m.insert("contractAddress".into(), to_value(contract));
        m.insert("cumulativeGasUsed".into(), quantity(cumulative));
        m.insert("effectiveGasPrice".into(), quantity128(tx.effective_gas_price(at.base_fee)));
        m.insert("from".into(), to_value(ctx.sender));
        m.insert("gasUsed".into(), quantity(cumulative.saturating_sub(ctx.prior_cumulative_gas)));
        let logs: Vec<Value> = receipt
            .logs()
            .iter()
            .enumerate()
            .map(|(i, l)| log_as_map(l, at, tx_hash, ctx.first_log_index + i as u64))
            .collect();
        m.insert("logs".into(), Value::Array(logs));
        m.insert("logsBloom".into(), to_value(receipt.bloom()));
        match receipt.status_or_post_state() {
            alloy_consensus::Eip658Value::PostState(root) => m.insert("root".into(), to_value(root)),
            alloy_consensus::Eip658Value::Eip658(ok) => m.insert("status".into(), quantity(u64::from(ok))),
        };
        m.insert("to".into(), to_value(tx.to()));
        m.insert("transactionHash".into(), to_value(tx_hash));
        m.insert("transactionIndex".into(), quantity(at.index));
        m.insert("type".into(), quantity(u64::from(tx.ty())));
        Value::Object(m)
    }

    #[test]
    fn receipt_json_is_the_map_form_byte_for_byte() {
        let signature = Signature::test_signature();
        let call = TxEnvelope::Eip1559(Signed::new_unhashed(
            TxEip1559 {
                chain_id: 1337,
                nonce: 4,
                gas_limit: 100_000,
                max_fee_per_gas: 20,
                max_priority_fee_per_gas: 1,
                to: TxKind::Call(Address::repeat_byte(5)),
                ..Default::default()
            },
            signature,
        ));
        let create = TxEnvelope::Legacy(Signed::new_unhashed(
            TxLegacy { nonce: 9, gas_price: 10, gas_limit: 500_000, to: TxKind::Create, ..Default::default() },
            signature,
        ));
        let logs = vec![sample_log(1), sample_log(2)];
        let with_bloom = |status: bool| ReceiptWithBloom::from(Receipt { status: status.into(), cumulative_gas_used: 90_000, logs: logs.clone() });
        let cases = [
            (&call, ReceiptEnvelope::Eip1559(with_bloom(true))),
            (&call, ReceiptEnvelope::Eip1559(with_bloom(false))),
            (&create, ReceiptEnvelope::Legacy(with_bloom(true))),
        ];
        for (tx, receipt) in &cases {
            let ctx = ReceiptContext {
                tx,
                sender: Address::repeat_byte(0xaa),
                at: at(),
                prior_cumulative_gas: 40_000,
                first_log_index: 6,
                blob_gas_price: None,
            };
            let typed = serde_json::to_string(&super::receipt(receipt, &ctx)).unwrap();
            assert_eq!(typed, serde_json::to_string(&receipt_as_map(receipt, &ctx)).unwrap());
        }
    }
}
