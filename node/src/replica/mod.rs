//! A cluster replica: the SBFT core driven by the shell, the chain in MDBX, the network over
//! mutual TLS, state transfer, and JSON-RPC over TLS. `stele run --config FILE` runs one.
//!
//! Files: [`config`] (the TOML file), [`keys`] (BLS), [`store`] (consensus records in MDBX),
//! [`execute`] (proposal → block), [`feeder`] (nonce order into the core), [`node`] (the RPC's
//! view), [`shell`] (the threads), [`envelope`] (frame bytes), [`link`] and [`net_link`] (the
//! transport), [`rpc`] (the `stele_` namespace).

pub(crate) mod config;
pub(crate) mod envelope;
pub(crate) mod execute;
pub(crate) mod feeder;
pub(crate) mod files;
pub(crate) mod keys;
pub(crate) mod link;
pub(crate) mod net_link;
pub(crate) mod node;
pub(crate) mod precheck;
pub(crate) mod rpc;
pub(crate) mod shell;
pub(crate) mod store;
#[cfg(test)]
mod tests;

use anyhow::Context;
use config::ReplicaConfig;
use envelope::PeerMessage;
use link::PeerLink;
use node::ReplicaNode;
use std::sync::Arc;
use stele_consensus::{Config, Replica, ReplicaId, SeqNum};
use stele_evm::{genesis::init_genesis, pool::{PoolConfig, TxPool}, ChainDb, ChainSpec};
use stele_rpc::{eth::{EthDeps, EthLimits}, RpcConfig, RpcModules};

/// Options that do not belong in the config file.
#[derive(Debug, Default, Clone)]
pub(crate) struct RunOptions {
    /// Misbehave (test builds only).
    #[cfg(feature = "byzantine")]
    pub byzantine: Option<stele_consensus::sim::byzantine::Strategy>,
}

/// Complain this long after the last expected commit (an idle cluster commits an empty
/// block every `empty_block_interval_ms`): with the 1 s idle interval, a dead primary is
/// replaced within about 1.5 s on a LAN.
const COMMIT_TIMEOUT_MS: u64 = 500;
/// A busy primary lets a batch gather this long (see `Config::batch_wait_ms`).
const BATCH_WAIT_MS: u64 = 10;
/// First view-change timeout.
const VIEW_CHANGE_TIMEOUT_MS: u64 = 1_000;

/// The consensus core's settings from the config.
fn core_config(config: &ReplicaConfig, block_gas_limit: u64) -> anyhow::Result<Config> {
    let params = config.params().map_err(anyhow::Error::msg)?;
    let mut c = Config::new(params, config.id());
    // A batch fills one block: the primary reserves each transaction's gas limit against the
    // chain's block gas limit (every block keeps the genesis one), neither less nor more.
    c.batch_gas_max = block_gas_limit;
    c.commit_timeout_ms = COMMIT_TIMEOUT_MS;
    c.batch_wait_ms = BATCH_WAIT_MS;
    c.view_change_timeout_ms = VIEW_CHANGE_TIMEOUT_MS;
    let o = &config.consensus;
    if let Some(v) = o.commit_timeout_ms {
        c.commit_timeout_ms = v;
    }
    if let Some(v) = o.view_change_timeout_ms {
        c.view_change_timeout_ms = v;
    }
    if let Some(v) = o.empty_block_interval_ms {
        c.empty_block_interval_ms = v;
    }
    if let Some(v) = o.slow_path_timeout_ms {
        c.slow_path_timeout_ms = v;
    }
    if let Some(v) = o.execution_lead {
        c.execution_lead_max = one_to("execution_lead", v, stele_consensus::limits::PIPELINE_SEQS_MAX)?;
    }
    if let Some(v) = o.checkpoint_interval {
        c.checkpoint_interval_seqs = one_to("checkpoint_interval", v, stele_consensus::limits::CHECKPOINT_INTERVAL_SEQS)?;
    }
    Ok(c)
}

/// `value` of `[consensus] key` if it is in 1..=`max`, else the error that names the key.
fn one_to(key: &str, value: u64, max: u64) -> anyhow::Result<u64> {
    if value == 0 || value > max {
        anyhow::bail!("[consensus] {key} must be 1..={max}");
    }
    Ok(value)
}

/// A replica's moving parts once started.
pub(crate) struct Started {
    /// The RPC's view of it.
    pub node: Arc<ReplicaNode>,
}

/// Opens the chain, restores the core from its records and starts the shell threads, state
/// transfer and the inbound dispatcher. Call inside a tokio runtime.
pub(crate) fn start(
    config: &ReplicaConfig,
    link: Arc<dyn PeerLink>,
    mut inbound: tokio::sync::mpsc::Receiver<(ReplicaId, bytes::Bytes)>,
    options: RunOptions,
) -> anyhow::Result<Started> {
    let spec = Arc::new(ChainSpec::from_genesis_file(&config.cluster.genesis)?);
    std::fs::create_dir_all(&config.replica.data_dir)
        .with_context(|| format!("cannot create {}", config.replica.data_dir.display()))?;
    let db = ChainDb::open_with_node_cache(
        &crate::cli::import::chain_db_path(&config.replica.data_dir),
        config.replica.trie_cache_mib.saturating_mul(1 << 20),
    )?;
    init_genesis(&db, &spec)?;
    let (crypto, _keys) = keys::crypto(config)?;
    let crypto: Arc<dyn stele_consensus::crypto::CryptoTr> = Arc::new(crypto);
    let store = store::ConsensusStore::open(db.clone())?;
    let head = db.read()?.head_number()?.unwrap_or(0);
    let consensus = core_config(config, spec.genesis.gas_limit)?;
    let n = consensus.params.n();
    let replica = Replica::restore(consensus, crypto.clone(), store.durable().clone(), SeqNum::new(head), shell::now_tick());
    #[cfg(not(feature = "byzantine"))]
    let _ = (options, &crypto);

    let (core_tx, core_rx) = std::sync::mpsc::channel();
    let pool = Arc::new(TxPool::new(PoolConfig::default()));
    let node = Arc::new(ReplicaNode::new(config.id(), db, spec, pool, core_tx, link.clone()));
    let (transfer_tx, transfer_rx) = tokio::sync::mpsc::unbounded_channel();
    let (reply_tx, reply_rx) = tokio::sync::mpsc::unbounded_channel();
    shell::spawn(
        replica,
        core_rx,
        node.clone(),
        link.clone(),
        store,
        transfer_tx,
        #[cfg(feature = "byzantine")]
        options.byzantine.map(|s| (s, crypto.clone())),
    )?;
    tokio::spawn(crate::statesync::fetch::run(node.clone(), link.clone(), transfer_rx, reply_rx));
    {
        let node = node.clone();
        let precheck = precheck::Precheck::spawn(node.clone(), crypto.clone(), n)?;
        tokio::spawn(async move {
            while let Some((from, bytes)) = inbound.recv().await {
                dispatch(&node, &precheck, &link, &reply_tx, from, &bytes);
            }
        });
    }
    tracing::info!(replica = config.replica.id, head, "replica started");
    Ok(Started { node })
}

/// Runs one replica until Ctrl-C or SIGTERM.
pub(crate) fn run(config: ReplicaConfig, options: RunOptions) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let (link, inbound) = net_link::start(&config).await?;
        let started = start(&config, link, inbound, options)?;
        let node = started.node;
        let info = rpc::cluster_info(&config, node.spec.chain_id)?;
        let modules = RpcModules::new(node.clone())?;
        let deps = EthDeps {
            db: node.db.clone(),
            spec: node.spec.clone(),
            consensus: node.clone(),
            pool: Some(node.pool.clone()),
            limits: EthLimits::default(),
        };
        let mut modules = crate::cli::serve_modules::merge_chain_namespaces(modules, deps)?;
        modules.merge(rpc::module(node.clone(), info)?)?;
        let rpc_config = RpcConfig::new(config.rpc.listen, config.rpc.cert.clone(), config.rpc.key.clone());
        let handle = stele_rpc::start(&rpc_config, modules).await?;
        println!(
            "replica {} of cluster {:?} ready: rpc https://{} · peers on {}",
            config.replica.id,
            config.cluster.name,
            handle.local_addr(),
            config.network.listen
        );
        wait_for_shutdown().await;
        eprintln!("replica {}: shutting down", config.replica.id);
        anyhow::Ok(())
    })
}

/// Routes one inbound frame: consensus messages to the core, state-transfer requests to
/// the database (answered on the bulk lane), replies to the running transfer.
fn dispatch(
    node: &Arc<ReplicaNode>,
    precheck: &precheck::Precheck,
    link: &Arc<dyn PeerLink>,
    replies: &tokio::sync::mpsc::UnboundedSender<(stele_consensus::ReplicaId, crate::statesync::protocol::SyncMessage)>,
    from: stele_consensus::ReplicaId,
    bytes: &[u8],
) {
    use crate::statesync::protocol::SyncMessage;
    match PeerMessage::decode(bytes) {
        Ok(PeerMessage::Consensus(msg)) => precheck.deliver(node, from, msg),
        Ok(PeerMessage::Sync(reply @ (SyncMessage::Headers { .. } | SyncMessage::Bodies { .. }))) => {
            let _ = replies.send((from, reply));
        }
        Ok(PeerMessage::Sync(request)) => {
            let node = node.clone();
            let link = link.clone();
            tokio::task::spawn_blocking(move || match crate::statesync::serve::answer(&node.db, &request) {
                Ok(Some(reply)) => link.send(from, true, PeerMessage::Sync(reply).encode()),
                Ok(None) => {}
                Err(err) => tracing::warn!(peer = from.get(), "cannot answer a state-transfer request: {err}"),
            });
        }
        Err(err) => tracing::warn!(peer = from.get(), "dropped a malformed frame: {err}"),
    }
}

async fn wait_for_shutdown() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
