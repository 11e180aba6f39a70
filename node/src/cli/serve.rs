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
    pool::{PoolConfig, TxPool},
};
use stele_rpc::{
    api::StaticNodeInfo,
    eth::{EthDeps, EthLimits},
    tls::dev_ca,
    RpcConfig, RpcModules,
};

/// Default port: geth's, so tools find it.
const DEFAULT_PORT: u16 = 8545;

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
    // The dev node's admission path without its block producer: transactions are
    // validated into the pool (txpool_* shows them) and never mined.
    let consensus = Arc::new(crate::dev::node::DevNode::new(db.clone(), spec.clone(), pool.clone()));
    let limits = EthLimits {
        logs_block_range_max: args.logs_block_range_max,
        logs_results_max: args.logs_results_max,
        call_gas_cap: args.call_gas_cap,
        call_timeout: std::time::Duration::from_millis(args.call_timeout_ms),
        ..EthLimits::default()
    };
    let deps = EthDeps { db, spec: spec.clone(), consensus, pool: Some(pool), limits };
    let node = Arc::new(StaticNodeInfo { chain_id: spec.chain_id, peer_count: 0, listening: false });
    let modules = super::serve_modules::merge_chain_namespaces(RpcModules::new(node)?, deps)?;
    let config = RpcConfig::new(SocketAddr::new(args.host, args.port), tls.server_cert.clone(), tls.server_key.clone());
    let handle = stele_rpc::start(&config, modules).await?;
    let addr = handle.local_addr();
    println!("serving chain {} at head {head} on https://{addr} (CA: {})", spec.chain_id, tls.ca_cert.display());
    tokio::signal::ctrl_c().await.context("cannot wait for Ctrl-C")?;
    handle.stop().await;
    Ok(())
}
