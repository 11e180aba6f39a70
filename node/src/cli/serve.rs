//! `stele serve`: serves JSON-RPC over TLS for an existing datadir without producing
//! blocks — the conformance set-up (jsonrpc.md §2.5: import the fixture chain, then answer
//! the fixtures with head = safe = finalized fixed). Transactions sent to it are validated
//! and kept in the pool (so `txpool_*` shows them) but never mined.

use anyhow::Context;
use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    path::PathBuf,
    sync::Arc,
};
use stele_evm::{
    db::ChainDb,
    pool::{decode_raw_transaction, validate_transaction, PoolConfig, TxPool},
    state::{StateAt, StateReader},
    ChainSpec,
};
use stele_rpc::{
    api::{BoxFuture, ChainError, ConsensusHandle, FinalizedBlock, StaticNodeInfo, SubmitError},
    eth::{EthDeps, EthLimits},
    tls::dev_ca,
    RpcConfig, RpcModules,
};
use tokio::sync::broadcast;

/// Default port: geth's, so tools find it.
const DEFAULT_PORT: u16 = 8545;
/// Pending transaction hashes buffered for slow subscribers.
const PENDING_CHANNEL_TXS: usize = 16_384;

/// Arguments of `stele serve`.
#[derive(Debug, clap::Args)]
pub(crate) struct ServeArgs {
    /// The node's data directory (the chain database is `<datadir>/chain`).
    #[arg(long)]
    datadir: PathBuf,
    /// TCP port for HTTPS and WSS.
    #[arg(long, default_value_t = DEFAULT_PORT)]
    port: u16,
    /// Address to listen on.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    host: IpAddr,
    /// Where the dev CA and server certificate live (created if missing); default
    /// `<datadir>/tls`.
    #[arg(long)]
    tls_dir: Option<PathBuf>,
    /// Most blocks one eth_getLogs may span.
    #[arg(long, default_value_t = stele_rpc::eth::LOGS_BLOCK_RANGE_MAX)]
    logs_block_range_max: u64,
    /// Most logs one eth_getLogs returns.
    #[arg(long, default_value_t = stele_rpc::eth::LOGS_RESULTS_MAX)]
    logs_results_max: usize,
    /// Gas cap of eth_call, eth_estimateGas and eth_createAccessList.
    #[arg(long, default_value_t = stele_evm::executor::call::CALL_GAS_CAP_DEFAULT)]
    call_gas_cap: u64,
    /// Time limit of one eth_call or eth_estimateGas, in milliseconds.
    #[arg(long, default_value_t = stele_rpc::eth::CALL_TIMEOUT_MS)]
    call_timeout_ms: u64,
}

/// The consensus side of a node that only serves: validates transactions into a local pool
/// and never finalizes a block.
#[derive(Debug)]
pub(crate) struct ServeOnly {
    db: ChainDb,
    spec: Arc<ChainSpec>,
    pool: Arc<TxPool>,
    /// Kept so `subscribe_finalized` hands out receivers of a live (silent) channel.
    finalized: broadcast::Sender<FinalizedBlock>,
    pending: broadcast::Sender<alloy_primitives::B256>,
}

impl ServeOnly {
    pub(crate) fn new(db: ChainDb, spec: Arc<ChainSpec>, pool: Arc<TxPool>) -> Self {
        Self {
            db,
            spec,
            pool,
            finalized: broadcast::channel(1).0,
            pending: broadcast::channel(PENDING_CHANNEL_TXS).0,
        }
    }

    fn admit(&self, raw: &[u8]) -> Result<alloy_primitives::B256, SubmitError> {
        let rejected = |message: String| SubmitError::Rejected { message };
        let unavailable = |reason: String| SubmitError::Unavailable { reason };
        let envelope = decode_raw_transaction(raw).map_err(|e| rejected(e.to_string()))?;
        let tx = self.db.read().map_err(|e| unavailable(e.to_string()))?;
        let head = tx.head_header().map_err(|e| unavailable(e.to_string()))?;
        let valid = validate_transaction(&tx, &self.spec, &head, envelope).map_err(|e| rejected(e.to_string()))?;
        let hash = valid.hash;
        self.pool.add(valid).map_err(|e| rejected(e.to_string()))?;
        Ok(hash)
    }
}

impl ConsensusHandle for ServeOnly {
    fn submit_transaction(&self, raw: alloy_primitives::Bytes) -> BoxFuture<'_, Result<alloy_primitives::B256, SubmitError>> {
        Box::pin(async move {
            let hash = self.admit(&raw)?;
            // Nobody listening is fine.
            let _ = self.pending.send(hash);
            Ok(hash)
        })
    }

    fn pending_nonce(&self, sender: alloy_primitives::Address) -> Result<u64, ChainError> {
        let tx = self.db.read().map_err(|e| ChainError::Database(e.to_string()))?;
        let state_nonce = StateReader::new(&tx, StateAt::Head)
            .account(sender)
            .map_err(|e| ChainError::Database(e.to_string()))?
            .map_or(0, |a| a.nonce);
        Ok(self.pool.pending_nonce(sender, state_nonce))
    }

    fn subscribe_finalized(&self) -> broadcast::Receiver<FinalizedBlock> {
        self.finalized.subscribe()
    }

    fn subscribe_pending(&self) -> broadcast::Receiver<alloy_primitives::B256> {
        self.pending.subscribe()
    }
}

/// Adds `eth_`, `debug_` and `txpool_` (when there is a pool) to `modules`.
pub(crate) fn merge_chain_namespaces(mut modules: RpcModules, deps: EthDeps) -> anyhow::Result<RpcModules> {
    if let Some(pool) = deps.pool.clone() {
        modules.merge(stele_rpc::txpool::module(pool)?)?;
    }
    modules.merge(stele_rpc::debug::module(deps.clone())?)?;
    modules.merge(stele_rpc::eth::module(deps)?)?;
    Ok(modules)
}

pub(crate) fn run(args: ServeArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the runtime")?;
    runtime.block_on(serve(args))
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let chain_dir = super::import::chain_db_path(&args.datadir);
    if !chain_dir.exists() {
        anyhow::bail!("no chain database in {} (run `stele import` first)", args.datadir.display());
    }
    let db = ChainDb::open(&chain_dir).with_context(|| format!("cannot open the database in {}", chain_dir.display()))?;
    let spec = stele_evm::genesis::stored_chain_spec(&db)?
        .with_context(|| format!("{} holds no chain spec (was it imported?)", chain_dir.display()))?;
    let spec = Arc::new(spec);
    let head = db.read()?.head_number()?.context("the chain database is empty")?;
    let tls_dir = args.tls_dir.clone().unwrap_or_else(|| args.datadir.join("tls"));
    let tls = dev_ca::ensure_dev_tls(&tls_dir).context("cannot prepare the dev TLS material")?;

    let pool = Arc::new(TxPool::new(PoolConfig::default()));
    let consensus = Arc::new(ServeOnly::new(db.clone(), spec.clone(), pool.clone()));
    let limits = EthLimits {
        logs_block_range_max: args.logs_block_range_max,
        logs_results_max: args.logs_results_max,
        call_gas_cap: args.call_gas_cap,
        call_timeout: std::time::Duration::from_millis(args.call_timeout_ms),
        ..EthLimits::default()
    };
    let deps = EthDeps { db, spec: spec.clone(), consensus, pool: Some(pool), limits };
    let node = Arc::new(StaticNodeInfo { chain_id: spec.chain_id, peer_count: 0, listening: false });
    let modules = merge_chain_namespaces(RpcModules::new(node)?, deps)?;
    let config = RpcConfig::new(SocketAddr::new(args.host, args.port), tls.server_cert.clone(), tls.server_key.clone());
    let handle = stele_rpc::start(&config, modules).await?;
    let addr = handle.local_addr();
    println!("serving chain {} at head {head} on https://{addr} (CA: {})", spec.chain_id, tls.ca_cert.display());
    tokio::signal::ctrl_c().await.context("cannot wait for Ctrl-C")?;
    handle.stop().await;
    Ok(())
}
