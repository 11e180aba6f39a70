//! Checking a raw transaction from `eth_sendRawTransaction` against the head state, with
//! geth's wording for every rejection, the pending nonce, and what a new block tells the
//! pool and the subscribers; shared by the dev node and the cluster replica.

use alloy_consensus::{Sealed, Transaction};
use alloy_primitives::{Address, Bytes};
use std::collections::BTreeMap;
use stele_evm::{
    db::ChainDb,
    executor::BuiltBlock,
    pool::{decode_raw_transaction, validate_transaction, TxPool, ValidTransaction},
    state::{StateAt, StateReader},
    ChainSpec,
};
use stele_rpc::api::{ChainError, FinalizedBlock, SubmitError};

/// Decodes and validates `raw` at the head.
pub(crate) fn validate_raw(db: &ChainDb, spec: &ChainSpec, raw: &Bytes) -> Result<ValidTransaction, SubmitError> {
    let rejected = |message: String| SubmitError::Rejected { message };
    let envelope = decode_raw_transaction(raw).map_err(|e| rejected(e.to_string()))?;
    let tx = db.read().map_err(|e| SubmitError::Unavailable { reason: e.to_string() })?;
    let head = tx.head_header().map_err(|e| SubmitError::Unavailable { reason: e.to_string() })?;
    validate_transaction(&tx, spec, &head, envelope).map_err(|e| rejected(e.to_string()))
}

/// The nonce `eth_getTransactionCount(…, "pending")` answers: the head's, advanced past the
/// sender's contiguous pool transactions.
pub(crate) fn pending_nonce(db: &ChainDb, pool: &TxPool, sender: Address) -> Result<u64, ChainError> {
    let tx = db.read().map_err(|e| ChainError::Database(e.to_string()))?;
    let state_nonce = StateReader::new(&tx, StateAt::Head)
        .account(sender)
        .map_err(|e| ChainError::Database(e.to_string()))?
        .map_or(0, |a| a.nonce);
    Ok(pool.pending_nonce(sender, state_nonce))
}

/// After a block: each sender's account nonce (for the pool) and the announcement that
/// subscriptions and filters are fed from.
pub(crate) fn block_outcome(built: &BuiltBlock) -> (Vec<(Address, u64)>, FinalizedBlock) {
    let mut nonces: BTreeMap<Address, u64> = BTreeMap::new();
    for (tx, sender) in built.body.transactions.iter().zip(&built.senders) {
        let next = tx.nonce() + 1;
        let entry = nonces.entry(*sender).or_default();
        *entry = (*entry).max(next);
    }
    let announced = FinalizedBlock {
        header: Sealed::new_unchecked(built.header.clone(), built.hash),
        transactions: built.body.transactions.iter().map(|t| *t.tx_hash()).collect(),
        receipts: built.receipts.clone().into(),
    };
    (nonces.into_iter().collect(), announced)
}
