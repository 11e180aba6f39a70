//! Turning a committed proposal into a block: decode and recover its transactions, order
//! each sender's transactions by nonce, build the block with the evm block builder and
//! commit it together with its commit proof in one write transaction.
//!
//! Everything here is a pure function of the chain and the proposal, so every correct
//! replica builds the same block: undecodable transactions and bad signatures are left out,
//! the builder skips transactions that fail validation, the timestamp is the primary's
//! (never before the parent's).
//!
//! A transaction's payload in the consensus core is `[attempt] ++ raw transaction`. The core
//! identifies transactions by payload and never orders the same payload twice; a transaction
//! skipped only because its nonce was ahead of the chain (its predecessor was ordered later)
//! is handed over again by every replica with the next attempt number once its predecessor
//! is in (`feeder`), instead of being lost.

use alloy_consensus::{transaction::{Recovered, SignerRecoverable}, TxEnvelope};
use alloy_primitives::{Address, B256};
use std::{collections::HashMap, sync::Arc};
use stele_consensus::{message::CommitProof, wire};
use stele_evm::{
    db::tables::CommitProofs,
    executor::{build_and_commit_with, BlockRequest, BuildError, BuiltBlock},
    pool::decode_raw_transaction,
    ChainDb, ChainSpec, DbError,
};

/// Why a committed sequence number could not be executed. Every variant stops the replica's
/// execution: continuing would fork it from the cluster.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ExecuteError {
    /// The chain head is not the block before `seq`.
    #[error("cannot execute sequence {seq}: the chain head is block {head}")]
    OutOfOrder {
        /// Sequence number asked for.
        seq: u64,
        /// Current head.
        head: u64,
    },
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The builder failed.
    #[error(transparent)]
    Build(#[from] BuildError),
}

/// What executing one sequence number did.
#[derive(Debug)]
pub(crate) enum Executed {
    /// A new block, the hashes of the transactions it left out as invalid for good, and
    /// those left out only for a nonce ahead of the chain (to hand over again).
    Built(Box<BuiltBlock>, Vec<B256>, Vec<Retry>),
    /// The block was already in the chain (a replay after restart); its hash.
    AlreadyPresent(B256),
}

impl Executed {
    /// The block hash.
    pub(crate) fn hash(&self) -> B256 {
        match self {
            Executed::Built(b, _, _) => b.hash,
            Executed::AlreadyPresent(h) => *h,
        }
    }
}

/// Executes `proof` (sequence number = block number) on top of the head. `known_sender`
/// answers for transactions whose sender this replica recovered itself already (its pool's,
/// admitted through its own RPC), so their signatures are not recovered a second time.
pub(crate) fn execute_commit(
    db: &ChainDb,
    spec: &Arc<ChainSpec>,
    proof: &CommitProof,
    known_sender: impl Fn(&B256) -> Option<Address>,
) -> Result<Executed, ExecuteError> {
    let seq = proof.cert.seq.get();
    let (head, parent_timestamp) = {
        let tx = db.read()?;
        let head = tx.head_header()?;
        if seq <= head.number {
            let hash = tx.block_hash(seq)?.ok_or(ExecuteError::OutOfOrder { seq, head: head.number })?;
            return Ok(Executed::AlreadyPresent(hash));
        }
        (head.number, head.timestamp)
    };
    if seq != head + 1 {
        return Err(ExecuteError::OutOfOrder { seq, head });
    }
    let timestamp = proof.proposal.timestamp_ms().map_or(parent_timestamp, |ms| (ms / 1_000).max(parent_timestamp));
    let (transactions, attempts): (Vec<_>, Vec<_>) =
        nonce_ordered(proof.proposal.txs().iter().filter_map(|t| recover(&t.payload, &known_sender)).collect())
            .into_iter()
            .unzip();
    let request = BlockRequest { timestamp, beneficiary: Address::ZERO, transactions, extra_data: Default::default() };
    let encoded = wire::encode(proof);
    let built = build_and_commit_with(db, spec, &request, |tx, _| tx.put::<CommitProofs>(&seq, &encoded))?;
    let mut dropped = Vec::new();
    let mut retries = Vec::new();
    for (index, reason) in &built.skipped {
        let tx = &request.transactions[*index];
        let attempt: u8 = attempts[*index];
        if reason.contains("too high, expected") && attempt < ATTEMPTS_MAX {
            use alloy_consensus::Transaction;
            retries.push(Retry {
                sender: tx.signer(),
                nonce: tx.inner().nonce(),
                payload: payload(&alloy_eips::eip2718::Encodable2718::encoded_2718(tx.inner()), attempt + 1),
                gas: tx.inner().gas_limit(),
            });
        } else {
            dropped.push(*tx.tx_hash());
        }
    }
    Ok(Executed::Built(Box::new(built), dropped, retries))
}

/// A transaction handed over again at most this many times.
const ATTEMPTS_MAX: u8 = 8;

/// A transaction to hand to the core again once its sender's nonce reaches it.
#[derive(Debug, Clone)]
pub(crate) struct Retry {
    /// Its sender.
    pub sender: Address,
    /// Its nonce.
    pub nonce: u64,
    /// The payload of the next attempt.
    pub payload: Vec<u8>,
    /// Its gas limit.
    pub gas: u64,
}

/// The core payload of a raw transaction at `attempt`.
pub(crate) fn payload(raw: &[u8], attempt: u8) -> Vec<u8> {
    let mut p = Vec::with_capacity(raw.len() + 1);
    p.push(attempt);
    p.extend_from_slice(raw);
    p
}

/// Decodes one payload and finds its sender: from `known_sender` when this replica has
/// recovered it before, else from the signature. `None` for bytes no honest client sends.
///
/// Trusting `known_sender` by hash is sound: the hash is keccak over the whole signed
/// transaction, so an entry found under it was recovered from these very bytes, and the
/// entries come from this replica's own recovery, never from a peer's word.
pub(crate) fn recover(payload: &[u8], known_sender: impl Fn(&B256) -> Option<Address>) -> Option<(Recovered<TxEnvelope>, u8)> {
    let (&attempt, raw) = payload.split_first()?;
    let envelope = decode_raw_transaction(raw).ok()?;
    let signer = match known_sender(envelope.tx_hash()) {
        Some(sender) => sender,
        None => envelope.recover_signer().ok()?,
    };
    Some((Recovered::new_unchecked(envelope, signer), attempt))
}

/// Keeps the batch's order of senders but puts each sender's transactions in nonce order in
/// the places that sender's transactions occupy. Transactions gossiped through different
/// replicas can arrive at the primary out of nonce order; without this the later nonce would
/// be skipped as "nonce too high" and lost.
pub(crate) fn nonce_ordered<T>(txs: Vec<(Recovered<TxEnvelope>, T)>) -> Vec<(Recovered<TxEnvelope>, T)> {
    use alloy_consensus::Transaction;
    let mut by_sender: HashMap<Address, Vec<(Recovered<TxEnvelope>, T)>> = HashMap::new();
    let mut slots = Vec::with_capacity(txs.len());
    for tx in txs {
        slots.push(tx.0.signer());
        by_sender.entry(tx.0.signer()).or_default().push(tx);
    }
    for list in by_sender.values_mut() {
        // Popped from the back, lowest nonce first. Reversed before the stable sort so that
        // of two equal nonces (a replacement) the earlier arrival is popped first.
        list.reverse();
        list.sort_by_key(|t| std::cmp::Reverse(t.0.inner().nonce()));
    }
    slots.into_iter().filter_map(|sender| by_sender.get_mut(&sender).and_then(Vec::pop)).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use alloy_consensus::{SignableTransaction, TxLegacy, Transaction};
    use alloy_primitives::{TxKind, U256};
    use alloy_signer::SignerSync;
    use alloy_signer_local::PrivateKeySigner;

    fn signed(signer: &PrivateKeySigner, nonce: u64) -> Recovered<TxEnvelope> {
        let tx = TxLegacy { chain_id: Some(1337), nonce, gas_price: 1, gas_limit: 21_000, to: TxKind::Call(Address::ZERO), value: U256::ZERO, input: Default::default() };
        let sig = signer.sign_hash_sync(&tx.signature_hash()).unwrap();
        let env: TxEnvelope = tx.into_signed(sig).into();
        Recovered::new_unchecked(env, signer.address())
    }

    #[test]
    fn each_sender_in_nonce_order_in_its_own_places() {
        let a = PrivateKeySigner::random();
        let b = PrivateKeySigner::random();
        let batch: Vec<_> = [signed(&a, 2), signed(&b, 5), signed(&a, 0), signed(&b, 4), signed(&a, 1)].into_iter().map(|t| (t, 0u8)).collect();
        let ordered = nonce_ordered(batch);
        let got: Vec<(Address, u64)> = ordered.iter().map(|(t, _)| (t.signer(), t.inner().nonce())).collect();
        assert_eq!(
            got,
            vec![(a.address(), 0), (b.address(), 4), (a.address(), 1), (b.address(), 5), (a.address(), 2)]
        );
    }

    #[test]
    fn garbage_payloads_are_left_out() {
        let unknown = |_: &B256| None;
        assert!(recover(&[0, 0xde, 0xad], unknown).is_none());
        assert!(recover(&[], unknown).is_none());
        assert!(recover(&[0], unknown).is_none());
    }

    #[test]
    fn a_sender_known_by_hash_is_used_and_others_are_recovered() {
        let a = PrivateKeySigner::random();
        let tx = signed(&a, 0);
        let first = payload(&alloy_eips::eip2718::Encodable2718::encoded_2718(tx.inner()), 3);
        let recovered = recover(&first, |_: &B256| None).unwrap();
        assert_eq!((recovered.0.signer(), recovered.1), (a.address(), 3));
        // A known sender is taken as it is, and only for the hash it was recorded under.
        let elsewhere = Address::repeat_byte(7);
        let hash = *tx.tx_hash();
        let known = |h: &B256| (*h == hash).then_some(elsewhere);
        assert_eq!(recover(&first, known).unwrap().0.signer(), elsewhere);
        let other = signed(&a, 1);
        let other_payload = payload(&alloy_eips::eip2718::Encodable2718::encoded_2718(other.inner()), 0);
        assert_eq!(recover(&other_payload, known).unwrap().0.signer(), a.address());
    }
}
