//! After an ERC-20 run: reads every sender's and receiver's token balance and checks that
//! they add up to the total supply, and that the receivers got exactly one unit per
//! successful transfer the tracker saw. Catches lost, duplicated or misreported transactions.

use crate::bench::{
    contracts::LoadToken,
    error::BenchError,
    keys,
    rpc::RpcClient,
};
use alloy_primitives::{Address, Bytes, U256};
use alloy_rpc_types_eth::TransactionRequest;
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
    /// Successful transfers the tracker counted (one unit each).
    pub(crate) expected_receivers_sum: u64,
    pub(crate) ok: bool,
}

async fn call<C: SolCall>(client: &RpcClient, token: Address, call: C) -> Result<C::Return, BenchError> {
    let request = TransactionRequest::default().to(token).input(Bytes::from(call.abi_encode()).into());
    let output: Bytes = client.call("eth_call", (request, "latest")).await?;
    C::abi_decode_returns(&output).map_err(|e| BenchError::Setup { what: format!("decode {}: {e}", C::SIGNATURE) })
}

/// Checks the balances of `senders` and the seed's receivers on `token`.
pub(crate) async fn erc20(
    client: &RpcClient,
    token: Address,
    seed: u64,
    senders: &[Address],
    succeeded: u64,
) -> Result<Verification, BenchError> {
    let total_supply = call(client, token, LoadToken::totalSupplyCall {}).await?;
    let balances = |holders: Vec<Address>| {
        futures_util::stream::iter(holders.into_iter().map(|holder| call(client, token, LoadToken::balanceOfCall { holder })))
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
        expected_receivers_sum: succeeded,
        ok: holders_sum == total_supply && receivers_sum == U256::from(succeeded),
    })
}
