//! After an ERC-20 run: reads every sender's and receiver's token balance and checks that
//! they add up to the total supply, and that the receivers got exactly one unit per
//! successful transfer the tracker saw. Catches lost, duplicated or misreported transactions.
//!
//! Everything is read at one block, the furthest head: every inclusion the tracker saw is at
//! or below it (the chain has no forks). Transfers still pending when the drain ended may
//! have landed since (an overloaded node keeps executing its pool); their receipts at or
//! below that block are counted as landed late, so the check stays exact under overload.

use crate::bench::{
    contracts::LoadToken,
    error::BenchError,
    keys,
    rpc::RpcClient,
};
use alloy_primitives::{Address, B256, Bytes, U64, U256};
use alloy_rpc_types_eth::{TransactionReceipt, TransactionRequest};
use alloy_sol_types::SolCall;
use futures_util::{StreamExt, TryStreamExt};

/// Parallel `eth_call`s.
const CALLS_IN_FLIGHT: usize = 32;

/// The outcome of the balance check.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Verification {
    pub(crate) total_supply: String,
    pub(crate) holders_sum: String,
    pub(crate) receivers_sum: String,
    /// Successful transfers, one unit each: those the tracker saw included plus
    /// `landed_after_drain`.
    pub(crate) expected_receivers_sum: u64,
    /// The block the balances were read at.
    pub(crate) block: u64,
    /// Transfers the tracker gave up on ("not included") whose receipt shows they landed,
    /// successfully, after the drain; included in `expected_receivers_sum`.
    pub(crate) landed_after_drain: u64,
    pub(crate) ok: bool,
}

async fn call<C: SolCall>(client: &RpcClient, token: Address, block: U64, call: C) -> Result<C::Return, BenchError> {
    let request = TransactionRequest::default().to(token).input(Bytes::from(call.abi_encode()).into());
    let output: Bytes = client.call("eth_call", (request, block)).await?;
    C::abi_decode_returns(&output).map_err(|e| BenchError::Setup { what: format!("decode {}: {e}", C::SIGNATURE) })
}

/// How many of `hashes` have a successful receipt in a block at or below `block`.
async fn landed_successfully(client: &RpcClient, hashes: &[B256], block: U64) -> Result<u64, BenchError> {
    futures_util::stream::iter(hashes.iter().map(|hash| async move {
        let receipt: Option<TransactionReceipt> = client.call("eth_getTransactionReceipt", (*hash,)).await?;
        Ok::<_, BenchError>(receipt.is_some_and(|r| r.status() && r.block_number.is_some_and(|n| n <= block.to::<u64>())))
    }))
    .buffered(CALLS_IN_FLIGHT)
    .try_fold(0u64, |count, landed| async move { Ok(count + u64::from(landed)) })
    .await
}

/// Checks the balances of `senders` and the seed's receivers on `token` at `block`:
/// `succeeded` transfers were seen included, `not_included` were given up on.
pub(crate) async fn erc20(
    client: &RpcClient,
    block: U64,
    token: Address,
    seed: u64,
    senders: &[Address],
    succeeded: u64,
    not_included: &[B256],
) -> Result<Verification, BenchError> {
    let landed_after_drain = landed_successfully(client, not_included, block).await?;
    let expected_receivers_sum = succeeded + landed_after_drain;
    let total_supply = call(client, token, block, LoadToken::totalSupplyCall {}).await?;
    let balances = |holders: Vec<Address>| {
        futures_util::stream::iter(holders.into_iter().map(|holder| call(client, token, block, LoadToken::balanceOfCall { holder })))
            .buffered(CALLS_IN_FLIGHT)
            .try_fold(U256::ZERO, |sum, b| async move { Ok(sum + b) })
    };
    let receivers: Vec<Address> = (0..keys::RECEIVER_COUNT).map(|i| keys::receiver(seed, i)).collect();
    let receivers_sum = balances(receivers).await?;
    let senders_sum = balances(senders.to_vec()).await?;
    let holders_sum = receivers_sum + senders_sum;
    Ok(Verification {
        total_supply: total_supply.to_string(),
        holders_sum: holders_sum.to_string(),
        receivers_sum: receivers_sum.to_string(),
        expected_receivers_sum,
        block: block.to(),
        landed_after_drain,
        ok: holders_sum == total_supply && receivers_sum == U256::from(expected_receivers_sum),
    })
}
