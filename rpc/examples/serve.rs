//! Runs the RPC server alone, for trying it by hand with curl, websocat or a wallet: a dev
//! CA and server certificate are created (or reused) in `<dir>/tls`, and the chain-free
//! methods (`web3_*`, `net_*`) are served over HTTPS and WSS until Ctrl-C.
//!
//! ```sh
//! cargo run -p stele-rpc --example serve -- --dir /tmp/stele-rpc --listen 127.0.0.1:8545 --chain-id 1337
//! curl --cacert /tmp/stele-rpc/tls/ca.pem -H 'content-type: application/json' \
//!      -d '{"jsonrpc":"2.0","id":1,"method":"web3_clientVersion"}' https://localhost:8545
//! ```

use std::{net::SocketAddr, path::PathBuf, process::ExitCode, sync::Arc};

use stele_rpc::{RpcConfig, RpcModules, api::StaticNodeInfo, tls::dev_ca};

struct Args {
    dir: PathBuf,
    listen: SocketAddr,
    chain_id: u64,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        dir: std::env::temp_dir().join("stele-rpc"),
        listen: SocketAddr::from(([127, 0, 0, 1], 8545)),
        chain_id: 1337,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--dir" => args.dir = PathBuf::from(value()?),
            "--listen" => args.listen = value()?.parse().map_err(|e| format!("--listen: {e}"))?,
            "--chain-id" => args.chain_id = value()?.parse().map_err(|e| format!("--chain-id: {e}"))?,
            "-h" | "--help" => {
                return Err("usage: serve [--dir DIR] [--listen ADDR:PORT] [--chain-id N]".into());
            }
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    Ok(args)
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = match parse_args() {
        Ok(args) => args,
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::from(2);
        }
    };
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let tls = dev_ca::ensure_dev_tls(&args.dir.join("tls"))?;
    let config = RpcConfig::new(args.listen, tls.server_cert.clone(), tls.server_key.clone());
    let node = Arc::new(StaticNodeInfo { chain_id: args.chain_id, peer_count: 0, listening: true });
    let handle = stele_rpc::start(&config, RpcModules::new(node)?).await?;
    let addr = handle.local_addr();
    println!("stele-rpc listening ({:?} TLS material)", tls.outcome);
    println!("  HTTPS  https://localhost:{}", addr.port());
    println!("  WSS    wss://localhost:{}", addr.port());
    println!("  CA     {}  (trust this in your client)", tls.ca_cert.display());
    println!("  CA     SHA-256 {}", tls.ca_fingerprint);
    println!("  server SHA-256 {}", tls.server_fingerprint);
    println!(
        "  try:   curl --cacert {} -H 'content-type: application/json' -d '{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"net_version\"}}' https://localhost:{}",
        tls.ca_cert.display(),
        addr.port()
    );
    tokio::signal::ctrl_c().await?;
    println!("stopping");
    handle.stop().await;
    Ok(())
}
