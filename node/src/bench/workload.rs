//! Builds and signs every measured transaction before the run (EIP-1559, alloy signer), and
//! encodes each as a complete `eth_sendRawTransaction` request body, so the send loop does no
//! signing and no encoding. Transaction `k` is sent by sender `k % accounts` with that
//! sender's next nonce: consecutive transactions come from different senders.

use crate::bench::{
    config::Workload,
    contracts::{LoadToken, OpenAccount},
    error::BenchError,
    keys,
    rpc::encode_request,
};
use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{keccak256, Address, Bytes, TxKind, B256, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::SolCall;

/// Fee fields every bench transaction carries.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fees {
    pub(crate) chain_id: u64,
    pub(crate) max_fee_per_gas: u128,
    pub(crate) max_priority_fee_per_gas: u128,
}

/// What a transaction does, before fees, nonce and signature.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub(crate) to: TxKind,
    pub(crate) value: U256,
    pub(crate) input: Bytes,
    pub(crate) gas_limit: u64,
}

/// One signed transaction, ready to send.
#[derive(Debug, Clone)]
pub(crate) struct SignedTx {
    pub(crate) hash: B256,
    /// Index of the sender in the bench's account list.
    pub(crate) sender: usize,
    /// The whole JSON-RPC request.
    pub(crate) body: bytes::Bytes,
}

/// Signs `call` from `signer` at `nonce`; returns the hash and the EIP-2718 bytes.
pub(crate) fn sign(signer: &PrivateKeySigner, fees: Fees, nonce: u64, call: Call) -> Result<(B256, Bytes), BenchError> {
    let tx = TxEip1559 {
        chain_id: fees.chain_id,
        nonce,
        gas_limit: call.gas_limit,
        max_fee_per_gas: fees.max_fee_per_gas,
        max_priority_fee_per_gas: fees.max_priority_fee_per_gas,
        to: call.to,
        value: call.value,
        access_list: Default::default(),
        input: call.input,
    };
    let signature = signer
        .sign_hash_sync(&tx.signature_hash())
        .map_err(|e| BenchError::Setup { what: format!("signing failed: {e}") })?;
    let envelope = TxEnvelope::Eip1559(tx.into_signed(signature));
    Ok((*envelope.tx_hash(), Bytes::from(envelope.encoded_2718())))
}

/// The measured call number `k` of `workload` (`contract` is the deployed token or
/// open-account contract; unused for native transfers).
pub(crate) fn measured_call(workload: Workload, seed: u64, contract: Address, k: usize) -> Call {
    let receiver = keys::receiver(seed, k % keys::RECEIVER_COUNT);
    match workload {
        Workload::Transfer => {
            Call { to: TxKind::Call(receiver), value: U256::from(1), input: Bytes::new(), gas_limit: workload.gas_limit() }
        }
        Workload::Erc20 => Call {
            to: TxKind::Call(contract),
            value: U256::ZERO,
            input: LoadToken::transferCall { to: receiver, value: U256::from(1) }.abi_encode().into(),
            gas_limit: workload.gas_limit(),
        },
        Workload::OpenAccount => Call {
            to: TxKind::Call(contract),
            value: U256::ZERO,
            // A fresh account id per transaction and per seed: every call writes a new slot.
            input: OpenAccount::openCall { account: keccak256(format!("stele bench {seed} account {k}")), money: U256::from(k + 1) }
                .abi_encode()
                .into(),
            gas_limit: workload.gas_limit(),
        },
    }
}

/// Signs `count` measured transactions on all cores. `nonces[s]` is sender `s`'s next nonce.
pub(crate) fn presign(
    workload: Workload,
    seed: u64,
    contract: Address,
    senders: &[PrivateKeySigner],
    nonces: &[u64],
    fees: Fees,
    count: usize,
) -> Result<Vec<SignedTx>, BenchError> {
    assert_eq!(senders.len(), nonces.len());
    assert!(!senders.is_empty());
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = count.div_ceil(threads).max(1);
    let one = |k: usize| -> Result<SignedTx, BenchError> {
        let sender = k % senders.len();
        let nonce = nonces[sender] + (k / senders.len()) as u64;
        let (hash, raw) = sign(&senders[sender], fees, nonce, measured_call(workload, seed, contract, k))?;
        // The request id is the transaction index: unique within the run, handy in captures.
        let body = encode_request("eth_sendRawTransaction", k as u64, (raw,))?;
        Ok(SignedTx { hash, sender, body })
    };
    let parts: Vec<Result<Vec<SignedTx>, BenchError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..count)
            .step_by(chunk)
            .map(|start| scope.spawn(move || (start..(start + chunk).min(count)).map(one).collect()))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(BenchError::Setup { what: "a signing thread panicked".into() })))
            .collect()
    });
    let mut txs = Vec::with_capacity(count);
    for part in parts {
        txs.extend(part?);
    }
    assert_eq!(txs.len(), count);
    Ok(txs)
}
