//! `stele bench`: the cluster load generator. It funds fresh senders from the dev accounts,
//! deploys the workload's contract, pre-signs every transaction, then sends them with
//! `eth_sendRawTransaction` over many keep-alive connections to one or more replicas (or to
//! anvil, for comparison) at a fixed rate (open loop) or with a fixed number in flight
//! (closed loop), and measures finality latency and sustained throughput.
//!
//! Module map, in the order a run uses them:
//! - `config`: the checked run configuration, `keys`: sender keys and receivers,
//!   `contracts`: init code and ABIs of the bench contracts
//! - `transport`: HTTP/1.1 (plain or rustls) and WebSocket streams; `rpc`: JSON-RPC on top
//! - `setup`: funding, deployment, minting, nonces; `workload`: building and pre-signing
//! - `heads`: per-target `newHeads` watcher and receipt fetcher; `tracker`: send → inclusion
//! - `driver`: open/closed loop dispatch to sending workers; `progress`: the stderr line
//! - `sampler`: CPU/RSS of node processes; `verify`: ERC-20 balance check
//! - `report`: figures and JSON; `plot`: SVG; `sink`: a trivial endpoint for
//!   `--generator-check`, the generator's own ceiling

pub(crate) mod config;
mod contracts;
mod driver;
pub(crate) mod error;
mod heads;
mod keys;
mod plot;
mod progress;
pub(crate) mod report;
mod rpc;
mod sampler;
mod setup;
mod sink;
mod tracker;
pub(crate) mod transport;
mod verify;
mod workload;

use config::{BenchConfig, Load, Workload};
use error::BenchError;
use rpc::RpcClient;
use std::{sync::Arc, time::Instant};
use tracker::{Completion, Tracker};

/// Runs one benchmark and writes `--out` and `--plot` if asked.
pub(crate) async fn run(config: BenchConfig) -> Result<report::Report, BenchError> {
    let started_unix_s = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let clients: Vec<Arc<RpcClient>> = config.targets.iter().map(|t| Arc::new(RpcClient::new(t.clone()))).collect();
    let first = clients.first().ok_or_else(|| BenchError::Setup { what: "no --target".into() })?;
    let prepared = setup::prepare(&config, first).await?;
    wait_for_setup_everywhere(&clients).await?;

    let signing = Instant::now();
    let (workload, seed, contract, count) = (config.workload, config.seed, prepared.contract, config.txs);
    let (senders, nonces, fees) = (prepared.senders.clone(), prepared.nonces.clone(), prepared.fees);
    let txs = tokio::task::spawn_blocking(move || workload::presign(workload, seed, contract, &senders, &nonces, fees, count))
        .await
        .map_err(|e| BenchError::Setup { what: format!("signing task: {e}") })??;
    eprintln!("bench: {} transactions pre-signed in {:.1}s (not measured)", txs.len(), signing.elapsed().as_secs_f64());

    let permits = match config.load {
        Load::Closed { concurrency } => concurrency,
        Load::Open { .. } => 0,
    };
    let tracker = Arc::new(Tracker::new(permits, Completion::Inclusion));
    let mut background = Vec::new();
    for (index, client) in clients.iter().enumerate() {
        let head: alloy_primitives::U64 = client.call("eth_blockNumber", ()).await?;
        background.push(tokio::spawn(heads::watch(index, client.clone(), tracker.clone(), head.to())));
    }
    // Let the subscriptions open before the first send, so the first blocks are stamped on
    // announcement rather than when a late subscription catches up.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let sampler = Arc::new(tokio::sync::Mutex::new(sampler::Sampler::new(&config.pids, tracker.now_us())));
    background.push(tokio::spawn(sampler::run(sampler.clone(), tracker.clone())));
    background.push(tokio::spawn(progress::run(tracker.clone())));

    eprintln!(
        "bench: {:?} {:?} against {} target(s), {} senders, warmup {:?}, duration {:?}",
        config.workload,
        config.load,
        config.targets.len(),
        config.accounts,
        config.warmup,
        config.duration
    );
    let window = driver::run(&config, Arc::new(txs), tracker.clone()).await;
    for task in &background {
        task.abort();
    }
    // A last sample covers the tail that a short run ends in.
    let processes = {
        let mut sampler = sampler.lock().await;
        sampler.sample(tracker.now_us());
        sampler.series()
    };
    let outcome = tracker.finish();

    let verification = if config.workload == Workload::Erc20 {
        let succeeded = outcome.included.iter().filter(|i| i.succeeded).count() as u64;
        let senders: Vec<_> = prepared.senders.iter().map(|s| s.address()).collect();
        // Each inclusion was seen on its own target; in a cluster under load replicas execute
        // at different paces, so read the balances where the chain is furthest along (it
        // holds every block any target announced).
        let mut furthest = first;
        let mut furthest_head = alloy_primitives::U64::ZERO;
        for client in &clients {
            let head: alloy_primitives::U64 = client.call("eth_blockNumber", ()).await?;
            if head > furthest_head {
                (furthest, furthest_head) = (client, head);
            }
        }
        Some(
            verify::erc20(furthest, furthest_head, prepared.contract, config.seed, &senders, succeeded, &outcome.not_included)
                .await?,
        )
    } else {
        None
    };
    let report = report::build(&config, window, outcome, processes, verification, started_unix_s);
    if let Some(path) = &config.out {
        let json = serde_json::to_vec_pretty(&report).map_err(|e| BenchError::Output { path: path.clone(), reason: e.to_string() })?;
        std::fs::write(path, json).map_err(|e| BenchError::Output { path: path.clone(), reason: e.to_string() })?;
    }
    if let Some(path) = &config.plot {
        plot::write(&report, path)?;
    }
    Ok(report)
}

/// The longest a target may lag behind the first one after the setup.
const SETUP_CATCH_UP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// The setup ran against the first target; before sending to the others, wait until each has
/// the setup's blocks, or a lagging replica would refuse the senders' first transactions
/// (unknown sender, no balance) and the run would count a setup delay as errors.
async fn wait_for_setup_everywhere(clients: &[Arc<RpcClient>]) -> Result<(), BenchError> {
    let Some((first, others)) = clients.split_first() else { return Ok(()) };
    let setup_head: alloy_primitives::U64 = first.call("eth_blockNumber", ()).await?;
    let deadline = Instant::now() + SETUP_CATCH_UP_TIMEOUT;
    for client in others {
        loop {
            let head: alloy_primitives::U64 = client.call("eth_blockNumber", ()).await?;
            if head >= setup_head {
                break;
            }
            if Instant::now() > deadline {
                return Err(BenchError::Setup {
                    what: format!("{} is at block {head}, the setup ended at {setup_head}", client.target().url),
                });
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
    Ok(())
}

/// `--generator-check`: runs the send path against the in-process sink (see `sink.rs`) and
/// returns the answered requests per second. `config.targets` is ignored.
pub(crate) async fn check_generator(mut config: BenchConfig) -> Result<report::Report, BenchError> {
    let address = sink::start().await?;
    config.targets = vec![Arc::new(transport::Target::parse(&format!("http://{address}/"), None)?)];
    let senders = (0..config.accounts)
        .map(|i| keys::sender(config.seed, i))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| BenchError::Setup { what: format!("sender key: {e}") })?;
    let nonces = vec![0; senders.len()];
    let fees = workload::Fees { chain_id: 1, max_fee_per_gas: 2_000_000_000, max_priority_fee_per_gas: 1_000_000_000 };
    let (workload, seed, count) = (config.workload, config.seed, config.txs);
    let signing = Instant::now();
    let txs = tokio::task::spawn_blocking(move || {
        workload::presign(workload, seed, alloy_primitives::Address::ZERO, &senders, &nonces, fees, count)
    })
    .await
    .map_err(|e| BenchError::Setup { what: format!("signing task: {e}") })??;
    eprintln!("generator check: {} transactions pre-signed in {:.1}s; sink at {address}", txs.len(), signing.elapsed().as_secs_f64());
    let permits = match config.load {
        Load::Closed { concurrency } => concurrency,
        Load::Open { .. } => 0,
    };
    let tracker = Arc::new(Tracker::new(permits, Completion::Answer));
    let progress = tokio::spawn(progress::run(tracker.clone()));
    let window = driver::run(&config, Arc::new(txs), tracker.clone()).await;
    progress.abort();
    let outcome = tracker.finish();
    Ok(report::build(&config, window, outcome, Vec::new(), None, 0))
}
