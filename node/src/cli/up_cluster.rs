//! `stele up --replicas N` (N > 1): a local cluster on loopback. Writes the cluster once with
//! `stele init` under `<datadir>/cluster`, starts one `stele run` process per replica (logs in
//! each replica's directory), waits until every endpoint answers, prints the accounts, the
//! endpoints and how to trust the cluster CA, and stops the replicas on Ctrl-C or SIGTERM.

use super::{init, up::{print_accounts, print_trust, UpArgs}};
use crate::{dev::accounts::dev_accounts, rpc_client::RpcClient};
use anyhow::{bail, Context};
use std::{
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// How long the replicas get to open their databases and endpoints.
const READY_TIMEOUT: Duration = Duration::from_secs(120);

pub(crate) fn run(args: &UpArgs) -> anyhow::Result<()> {
    let dir = args.datadir.join("cluster");
    if !init::is_initialized(&dir, args.replicas) {
        if dir.exists() && std::fs::read_dir(&dir)?.next().is_some() {
            bail!("{} holds a cluster of another size; remove it or use --datadir elsewhere", dir.display());
        }
        init::init(&init::InitArgs {
            replicas: args.replicas,
            hosts: vec![args.host.to_string()],
            p2p_port: args.p2p_port,
            rpc_port: args.port,
            chain_id: args.chain_id,
            genesis: None,
            name: "stele-dev".into(),
            out: dir.clone(),
            appliance: false,
        })?;
    }
    let exe = std::env::current_exe().context("cannot find the stele executable")?;
    let mut children: Vec<(u16, Child)> = Vec::new();
    for i in 0..args.replicas {
        let replica_dir = dir.join(format!("replica-{i}"));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(replica_dir.join("replica.log"))
            .with_context(|| format!("cannot open the log of replica {i}"))?;
        let child = Command::new(&exe)
            .arg("run")
            .arg("--config")
            .arg(replica_dir.join("config.toml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot start replica {i}"))?;
        children.push((i, child));
    }
    let result = supervise(args, &dir, &mut children);
    for (_, child) in &mut children {
        terminate(child);
    }
    for (i, child) in &mut children {
        let _ = child.wait();
        eprintln!("replica {i} stopped");
    }
    result
}

/// SIGTERM (a clean shutdown), via kill(1) to keep the binary free of libc calls.
fn terminate(child: &mut Child) {
    if matches!(child.try_wait(), Ok(None)) {
        let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
    }
}

fn supervise(args: &UpArgs, dir: &Path, children: &mut [(u16, Child)]) -> anyhow::Result<()> {
    let ca = dir.join("ca").join("ca.crt");
    let urls: Vec<String> = (0..args.replicas).map(|i| format!("https://{}:{}", host_for_url(args), args.port + i)).collect();
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let started = Instant::now();
        for (i, url) in urls.iter().enumerate() {
            let client = RpcClient::new(url, &ca)?;
            loop {
                if client.call::<serde_json::Value>("eth_chainId", serde_json::json!([])).await.is_ok() {
                    break;
                }
                if let Some(status) = children[i].1.try_wait()? {
                    bail!("replica {i} exited ({status}); see {}", dir.join(format!("replica-{i}")).join("replica.log").display());
                }
                if started.elapsed() > READY_TIMEOUT {
                    bail!("replica {i} did not answer on {url} within {READY_TIMEOUT:?}");
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        anyhow::Ok(())
    })?;

    println!("stele dev cluster ({} replicas, SBFT, TLS everywhere)\n", args.replicas);
    print_accounts(&dev_accounts()?);
    println!("Chain ID:          {}", args.chain_id);
    println!("Cluster:           {}", dir.display());
    let fingerprint = stele_rpc::tls::Fingerprint::of_pem_file(&ca).map(|f| f.to_string()).unwrap_or_default();
    print_trust(&ca, &fingerprint);
    println!("\nReplicas (HTTPS and WSS on each; send to any)\n==================");
    for (i, url) in urls.iter().enumerate() {
        println!("replica {i}: {url}  {}  log: {}", url.replace("https://", "wss://"), dir.join(format!("replica-{i}")).join("replica.log").display());
    }
    println!("\nStatus:            stele status --config {}", dir.join("replica-0").join("config.toml").display());
    println!("Ready.");

    runtime.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        let mut reported = vec![false; children.len()];
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => break,
                _ = term.recv() => break,
                _ = tokio::time::sleep(Duration::from_millis(500)) => {
                    for (k, (i, child)) in children.iter_mut().enumerate() {
                        if !reported[k] && let Ok(Some(status)) = child.try_wait() {
                            reported[k] = true;
                            eprintln!("replica {i} exited ({status}); the others go on. Log: {}", dir.join(format!("replica-{i}")).join("replica.log").display());
                        }
                    }
                }
            }
        }
        eprintln!("shutting down the cluster");
        anyhow::Ok(())
    })
}

fn host_for_url(args: &UpArgs) -> String {
    match args.host {
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        std::net::IpAddr::V4(ip) => ip.to_string(),
    }
}
