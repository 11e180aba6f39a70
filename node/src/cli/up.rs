//! `stele up`: a dev chain in one command.
//!
//! With `--replicas 1`: one process with the dev genesis, a dev CA and server certificate,
//! a block as soon as transactions are pending. With more (the default, 4): `stele init`
//! writes a loopback cluster under `<datadir>/cluster` once, then one `stele run` process
//! per replica is started and supervised — SBFT over mutual TLS, an RPC endpoint per
//! replica, the same dev accounts. Either way it prints the accounts and how to trust the CA.

use crate::dev::{
    accounts::{dev_accounts, DEV_MNEMONIC},
    genesis::{dev_genesis, DEV_CHAIN_ID},
    node::DevNode,
    producer,
};
use anyhow::Context;
use std::{net::SocketAddr, path::PathBuf, sync::Arc};
use stele_evm::{genesis::init_genesis, pool::{PoolConfig, TxPool}, ChainDb, ChainSpec};
use stele_rpc::{api::StaticNodeInfo, tls::dev_ca, RpcConfig, RpcModules};

/// Arguments of `stele up`.
#[derive(Debug, clap::Args)]
pub(crate) struct UpArgs {
    /// Data directory; reused when it already holds the dev chain.
    #[arg(long, default_value = ".stele-dev")]
    pub(super) datadir: PathBuf,
    /// Address to serve HTTPS and WSS on.
    #[arg(long, default_value = "127.0.0.1")]
    pub(super) host: std::net::IpAddr,
    /// Port to serve HTTPS and WSS on.
    #[arg(long, default_value_t = 8545)]
    pub(super) port: u16,
    /// Chain id of the dev chain.
    #[arg(long, default_value_t = DEV_CHAIN_ID)]
    pub(super) chain_id: u64,
    /// Number of replicas: 1 is a single in-process dev node; more is a cluster of that many
    /// `stele run` processes on loopback.
    #[arg(long, default_value_t = 4)]
    pub(super) replicas: u16,
    /// First replica-to-replica port of the cluster (one per replica, consecutive).
    #[arg(long, default_value_t = 7100)]
    pub(super) p2p_port: u16,
}

pub(crate) fn run(args: UpArgs) -> anyhow::Result<()> {
    if args.replicas > 1 {
        return super::up_cluster::run(&args);
    }
    let accounts = dev_accounts()?;
    let spec = Arc::new(ChainSpec::from_genesis(dev_genesis(args.chain_id, &accounts)?)?);
    std::fs::create_dir_all(&args.datadir).with_context(|| format!("cannot create {}", args.datadir.display()))?;
    let db = ChainDb::open(&crate::cli::import::chain_db_path(&args.datadir))?;
    let genesis_hash = init_genesis(&db, &spec)?;
    let tls = dev_ca::ensure_dev_tls(&args.datadir.join("tls"))?;

    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let pool = Arc::new(TxPool::new(PoolConfig::default()));
        let node = Arc::new(DevNode::new(db, spec.clone(), pool));
        let info = Arc::new(StaticNodeInfo { chain_id: spec.chain_id, peer_count: 0, listening: false });
        let modules = RpcModules::new(info)?;
        let modules = crate::cli::serve_modules::with_chain_namespaces(modules, &node)?;
        let config = RpcConfig::new(SocketAddr::new(args.host, args.port), tls.server_cert.clone(), tls.server_key.clone());
        let handle = stele_rpc::start(&config, modules).await?;
        let port = handle.local_addr().port();
        print_banner(&args, &accounts, &tls, genesis_hash, port);
        tokio::spawn(producer::run(node));
        tokio::signal::ctrl_c().await?;
        eprintln!("shutting down");
        handle.stop().await;
        anyhow::Ok(())
    })
}

fn print_banner(
    args: &UpArgs,
    accounts: &[crate::dev::accounts::DevAccount],
    tls: &dev_ca::DevTls,
    genesis_hash: alloy_primitives::B256,
    port: u16,
) {
    println!("stele dev chain (1 replica)\n");
    print_accounts(accounts);
    println!("Chain ID:          {}", args.chain_id);
    println!("Genesis:           {genesis_hash}");
    println!("Datadir:           {}", args.datadir.display());
    print_trust(&tls.ca_cert, &tls.ca_fingerprint.to_string());
    println!("\nListening on https://{0}:{1} and wss://{0}:{1}", args.host, port);
}

/// The dev accounts and the mnemonic, as anvil prints them.
pub(super) fn print_accounts(accounts: &[crate::dev::accounts::DevAccount]) {
    println!("Available Accounts\n==================");
    for (i, a) in accounts.iter().enumerate() {
        println!("({i}) {} (10000 ETH)", a.address);
    }
    println!("\nPrivate Keys\n==================");
    for (i, a) in accounts.iter().enumerate() {
        println!("({i}) {}", a.private_key_hex);
    }
    println!("\nWallet\n==================\nMnemonic:          {DEV_MNEMONIC}\nDerivation path:   m/44'/60'/0'/0/\n");
}

/// Where the CA is and how each client is told to trust it.
pub(super) fn print_trust(ca: &std::path::Path, fingerprint: &str) {
    let ca = ca.canonicalize().unwrap_or_else(|_| ca.to_path_buf());
    println!("\nTLS (trust this CA in your client)\n==================");
    println!("CA certificate:    {}", ca.display());
    println!("CA SHA-256:        {fingerprint}");
    println!("  node (ethers, viem, Hardhat): export NODE_EXTRA_CA_CERTS={}", ca.display());
    println!("  python (web3.py):             export SSL_CERT_FILE={0} REQUESTS_CA_BUNDLE={0}", ca.display());
    println!("  curl:                         curl --cacert {} ...", ca.display());
}
