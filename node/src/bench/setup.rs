//! The setup phase, before anything is measured: read the chain id and fees, fund the bench
//! senders from the dev accounts, deploy the workload's contract (and mint tokens to every
//! sender for the ERC-20 workload), and read each sender's next nonce.

use crate::bench::{
    config::{BenchConfig, Workload},
    contracts::{Contract, LoadToken},
    error::BenchError,
    keys,
    rpc::RpcClient,
    workload::{sign, Call, Fees},
};
use alloy_primitives::{Address, Bytes, TxKind, B256, U128, U256, U64};
use alloy_rpc_types_eth::TransactionReceipt;
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::SolCall;
use futures_util::{StreamExt, TryStreamExt};
use std::time::{Duration, Instant};

/// Senders funded or minted to per setup transaction batch: keeps a `mintBatch` well under
/// a block's gas limit (about 25,000 gas per holder).
const MINT_BATCH_HOLDERS: usize = 200;
/// Gas for one `mintBatch` holder, with headroom.
const MINT_GAS_PER_HOLDER: u64 = 30_000;
/// Gas for deploying a bench contract.
const DEPLOY_GAS: u64 = 2_000_000;
/// Tokens each sender gets: more than it can ever send (one unit per transfer).
const TOKENS_PER_SENDER: u64 = 1_000_000_000;
/// How long a setup transaction may take to be mined.
const SETUP_RECEIPT_TIMEOUT: Duration = Duration::from_secs(120);
/// Parallel reads of sender nonces.
const NONCE_READS_IN_FLIGHT: usize = 32;

/// What the measured phase needs from the setup.
#[derive(Debug)]
pub(crate) struct Prepared {
    pub(crate) fees: Fees,
    pub(crate) senders: Vec<PrivateKeySigner>,
    /// Next nonce of each sender.
    pub(crate) nonces: Vec<u64>,
    /// The deployed contract (zero for native transfers).
    pub(crate) contract: Address,
}

/// Runs the setup against `client` (the first target); prints progress on stderr.
pub(crate) async fn prepare(config: &BenchConfig, client: &RpcClient) -> Result<Prepared, BenchError> {
    let started = Instant::now();
    let chain_id: U64 = client.call("eth_chainId", ()).await?;
    let gas_price: U128 = client.call("eth_gasPrice", ()).await?;
    let tip: U128 = client.call("eth_maxPriorityFeePerGas", ()).await?;
    // Twice the current price: the base fee may rise during the run and a transaction stuck
    // under it would stall its sender for the rest of the run.
    let fees = Fees {
        chain_id: chain_id.to(),
        max_fee_per_gas: gas_price.to::<u128>().saturating_mul(2).saturating_add(tip.to()),
        max_priority_fee_per_gas: tip.to(),
    };
    let funders = crate::dev::accounts::dev_accounts()
        .map_err(|e| BenchError::Setup { what: format!("dev accounts: {e}") })?
        .iter()
        .map(|a| a.private_key_hex.parse::<PrivateKeySigner>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| BenchError::Setup { what: format!("dev account key: {e}") })?;
    let senders = (0..config.accounts)
        .map(|i| keys::sender(config.seed, i))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| BenchError::Setup { what: format!("sender key: {e}") })?;

    let per_sender_txs = config.txs.div_ceil(config.accounts) as u128;
    let per_tx_wei = u128::from(config.workload.gas_limit()) * fees.max_fee_per_gas + 1;
    // Twice what the measured phase can spend, plus 0.01 ETH, so reruns need no top-up math.
    let funding = U256::from(per_sender_txs * per_tx_wei * 2 + 10_000_000_000_000_000);
    eprintln!(
        "setup: chain {}, max fee {} wei, tip {} wei; funding {} senders with {} wei each from {} dev accounts",
        fees.chain_id, fees.max_fee_per_gas, fees.max_priority_fee_per_gas, senders.len(), funding, funders.len()
    );
    let mut next_nonce = Vec::with_capacity(funders.len());
    for funder in &funders {
        next_nonce.push(nonce_of(client, funder.address()).await?);
    }
    // Each funder sends to every funders.len()-th sender, in nonce order, on its own stream.
    let last_hashes = futures_util::future::try_join_all(funders.iter().zip(&next_nonce).enumerate().map(
        |(j, (funder, &nonce))| {
            let targets: Vec<Address> = senders.iter().skip(j).step_by(funders.len()).map(|s| s.address()).collect();
            let calls = targets.into_iter().map(|to| Call { to: TxKind::Call(to), value: funding, input: Bytes::new(), gas_limit: 21_000 });
            send_in_order(client, funder, fees, nonce, calls.collect())
        },
    ))
    .await?;
    for (j, count) in last_hashes.iter().map(|(_, n)| *n).enumerate() {
        next_nonce[j] += count;
    }
    for (hash, _) in last_hashes.iter().filter(|(h, _)| *h != B256::ZERO) {
        wait_success(client, *hash).await?;
    }
    eprintln!("setup: {} senders funded ({:.1}s)", senders.len(), started.elapsed().as_secs_f64());

    let contract = match config.workload {
        Workload::Transfer => Address::ZERO,
        Workload::Erc20 | Workload::OpenAccount => {
            let which = if config.workload == Workload::Erc20 { Contract::LoadToken } else { Contract::OpenAccount };
            let init = which.init_code().map_err(|e| BenchError::Setup { what: format!("{which:?} init code: {e}") })?;
            let deploy = Call { to: TxKind::Create, value: U256::ZERO, input: init, gas_limit: DEPLOY_GAS };
            let (hash, _) = send_in_order(client, &funders[0], fees, next_nonce[0], vec![deploy]).await?;
            next_nonce[0] += 1;
            let receipt = wait_success(client, hash).await?;
            let address = receipt
                .contract_address
                .ok_or_else(|| BenchError::Setup { what: format!("deploy {hash}: no contract address") })?;
            eprintln!("setup: {which:?} deployed at {address}");
            address
        }
    };
    if config.workload == Workload::Erc20 {
        let mints: Vec<Call> = senders
            .chunks(MINT_BATCH_HOLDERS)
            .map(|chunk| Call {
                to: TxKind::Call(contract),
                value: U256::ZERO,
                input: LoadToken::mintBatchCall { holders: chunk.iter().map(|s| s.address()).collect(), value: U256::from(TOKENS_PER_SENDER) }
                    .abi_encode()
                    .into(),
                gas_limit: 100_000 + MINT_GAS_PER_HOLDER * chunk.len() as u64,
            })
            .collect();
        let (hash, _) = send_in_order(client, &funders[0], fees, next_nonce[0], mints).await?;
        wait_success(client, hash).await?;
        eprintln!("setup: {TOKENS_PER_SENDER} tokens minted to each sender");
    }

    let nonces: Vec<u64> = futures_util::stream::iter(senders.iter().map(|s| nonce_of(client, s.address())))
        .buffered(NONCE_READS_IN_FLIGHT)
        .try_collect()
        .await?;
    eprintln!("setup: done in {:.1}s", started.elapsed().as_secs_f64());
    Ok(Prepared { fees, senders, nonces, contract })
}

/// The next nonce of `address`, counting its pending transactions.
pub(crate) async fn nonce_of(client: &RpcClient, address: Address) -> Result<u64, BenchError> {
    let nonce: U64 = client.call("eth_getTransactionCount", (address, "pending")).await?;
    Ok(nonce.to())
}

/// Signs and sends `calls` from `signer` with nonces `nonce..`, one after the other (so the
/// node sees them in order); returns the last hash (zero if none) and how many were sent.
async fn send_in_order(
    client: &RpcClient,
    signer: &PrivateKeySigner,
    fees: Fees,
    nonce: u64,
    calls: Vec<Call>,
) -> Result<(B256, u64), BenchError> {
    let mut last = B256::ZERO;
    let count = calls.len() as u64;
    for (i, call) in calls.into_iter().enumerate() {
        let (hash, raw) = sign(signer, fees, nonce + i as u64, call)?;
        let _: B256 = client.call("eth_sendRawTransaction", (raw,)).await?;
        last = hash;
    }
    Ok((last, count))
}

/// Polls for the receipt of `hash` and fails unless it is mined with status 1.
pub(crate) async fn wait_success(client: &RpcClient, hash: B256) -> Result<TransactionReceipt, BenchError> {
    let deadline = Instant::now() + SETUP_RECEIPT_TIMEOUT;
    loop {
        let receipt: Option<TransactionReceipt> = client.call("eth_getTransactionReceipt", (hash,)).await?;
        match receipt {
            Some(r) if r.status() => return Ok(r),
            Some(_) => return Err(BenchError::Setup { what: format!("transaction {hash} reverted") }),
            None if Instant::now() > deadline => {
                return Err(BenchError::Setup { what: format!("transaction {hash} not mined after {SETUP_RECEIPT_TIMEOUT:?}") })
            }
            None => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}
