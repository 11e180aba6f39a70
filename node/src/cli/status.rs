//! `stele status`: view, primary, head, finality lag and peers of every replica of a
//! cluster (from one replica's config, or one endpoint).

use crate::{replica::{config::{EnvOverrides, ReplicaConfig}, rpc::Status}, rpc_client::RpcClient};
use std::path::PathBuf;

/// Arguments of `stele status`.
#[derive(Debug, clap::Args)]
pub(crate) struct StatusArgs {
    /// A replica config.toml: asks every replica it lists.
    #[arg(long, conflicts_with = "rpc")]
    config: Option<PathBuf>,
    /// One endpoint, e.g. https://127.0.0.1:8545.
    #[arg(long)]
    rpc: Option<String>,
    /// CA to trust (default: the config's cluster CA).
    #[arg(long)]
    ca: Option<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: StatusArgs) -> anyhow::Result<()> {
    let (urls, ca) = match (&args.config, &args.rpc) {
        (Some(path), _) => {
            let config = ReplicaConfig::load(path, &EnvOverrides::default())?;
            let ca = args.ca.clone().unwrap_or(config.cluster.ca_cert.clone());
            (config.peers.iter().map(|p| p.rpc_url.clone()).collect::<Vec<_>>(), ca)
        }
        (None, Some(url)) => (vec![url.clone()], args.ca.clone().ok_or_else(|| anyhow::anyhow!("--rpc needs --ca"))?),
        (None, None) => anyhow::bail!("give --config FILE or --rpc URL --ca PEM"),
    };
    let runtime = tokio::runtime::Runtime::new()?;
    let rows: Vec<(String, anyhow::Result<Status>)> = runtime.block_on(async {
        let mut rows = Vec::new();
        for url in urls {
            let result = async { RpcClient::new(&url, &ca)?.call::<Status>("stele_status", serde_json::json!([])).await }.await;
            rows.push((url, result));
        }
        rows
    });
    if args.json {
        let json: Vec<_> = rows
            .iter()
            .map(|(url, r)| match r {
                Ok(s) => serde_json::json!({"url": url, "status": s}),
                Err(e) => serde_json::json!({"url": url, "error": format!("{e:#}")}),
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&json)?);
        return Ok(());
    }
    println!(
        "{:<28} {:>7} {:>5} {:>7} {:<14} {:>8} {:>8} {:>6} {:>8}  peers",
        "endpoint", "replica", "view", "primary", "mode", "head", "final", "lag", "timeouts"
    );
    let mut down = 0;
    for (url, r) in &rows {
        match r {
            Ok(s) => {
                let peers: Vec<String> =
                    s.peers.iter().map(|p| format!("r{}{}", p.id, if p.connected { "" } else { "(down)" })).collect();
                println!(
                    "{:<28} {:>7} {:>5} {:>7} {:<14} {:>8} {:>8} {:>6} {:>8}  {}",
                    url,
                    format!("r{}", s.replica_id),
                    s.view,
                    format!("r{}", s.primary),
                    s.mode,
                    s.head,
                    s.finalized,
                    s.finality_lag,
                    format!("x{}", 1u64 << s.timeout_doublings.min(63)),
                    peers.join(" ")
                );
            }
            Err(e) => {
                down += 1;
                println!("{url:<28} unreachable: {e:#}");
            }
        }
    }
    if down == rows.len() {
        anyhow::bail!("no replica answered");
    }
    Ok(())
}
