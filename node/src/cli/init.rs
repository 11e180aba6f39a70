//! `stele init`: everything a cluster needs, written once: a cluster CA, per replica a
//! transport/RPC certificate (pinned by fingerprint in every config), a BLS key, and one
//! documented config.toml, plus the genesis all replicas share.
//!
//! ```text
//! OUT/ca/ca.crt, ca.key          the cluster CA (keep ca.key offline; it issues replicas)
//! OUT/genesis.json               the shared genesis
//! OUT/replica-<i>/config.toml    what `stele run --config` reads
//!                 ca.crt genesis.json replica.crt replica.key bls.key
//! ```

use crate::{
    dev::{accounts::dev_accounts, genesis::{dev_genesis, DEV_CHAIN_ID}},
    replica::{
        config::{ClusterSection, ConsensusSection, NetworkSection, PeerEntry, ReplicaConfig, ReplicaSection, RpcSection},
        files::{write_private, write_public},
        keys,
    },
};
use anyhow::{bail, Context};
use std::path::{Path, PathBuf};
use stele_consensus::ReplicaId;
use stele_net::pki::ClusterCa;

/// Arguments of `stele init`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct InitArgs {
    /// Number of replicas n = 3f + 2c + 1 (f and c are chosen as large f, then c).
    #[arg(long, default_value_t = 4)]
    pub replicas: u16,
    /// Host (IP or DNS name) of each replica, comma-separated; one host for all = loopback
    /// cluster on consecutive ports.
    #[arg(long, value_delimiter = ',', default_value = "127.0.0.1")]
    pub hosts: Vec<String>,
    /// Replica-to-replica port (the first, when replicas share a host).
    #[arg(long, default_value_t = 7100)]
    pub p2p_port: u16,
    /// JSON-RPC port (the first, when replicas share a host).
    #[arg(long, default_value_t = 8545)]
    pub rpc_port: u16,
    /// Chain id of the dev genesis (ignored with --genesis).
    #[arg(long, default_value_t = DEV_CHAIN_ID)]
    pub chain_id: u64,
    /// A geth-style genesis file; default: the dev genesis with the funded dev accounts.
    #[arg(long)]
    pub genesis: Option<PathBuf>,
    /// Cluster name (certificates and logs).
    #[arg(long, default_value = "stele-dev")]
    pub name: String,
    /// Output directory (must not exist or be empty).
    #[arg(long)]
    pub out: PathBuf,
    /// Also write `replica-<i>/stele.bundle`: the value of the OVA's `stele.bundle` property
    /// for each replica's VM (docs/operator/appliance.md).
    #[arg(long)]
    pub appliance: bool,
}

/// f and c for n replicas: the largest f with n - 1 - 3f even.
pub(crate) fn fault_params(n: u16) -> anyhow::Result<(u16, u16)> {
    if n == 0 {
        bail!("a cluster needs at least one replica");
    }
    let spare = n - 1;
    let mut f = spare / 3;
    loop {
        let rest = spare - 3 * f;
        if rest.is_multiple_of(2) {
            return Ok((f, rest / 2));
        }
        if f == 0 {
            bail!("{n} replicas cannot be written as 3f + 2c + 1");
        }
        f -= 1;
    }
}

pub(crate) fn run(args: InitArgs) -> anyhow::Result<()> {
    let out = init(&args)?;
    println!("wrote a {}-replica cluster to {}", args.replicas, out.display());
    for i in 0..args.replicas {
        println!("  replica {i}: stele run --config {}", out.join(format!("replica-{i}")).join("config.toml").display());
    }
    println!("cluster CA (trust this in clients): {}", out.join("ca").join("ca.crt").display());
    Ok(())
}

/// Writes the cluster; returns the output directory.
pub(crate) fn init(args: &InitArgs) -> anyhow::Result<PathBuf> {
    let n = args.replicas;
    let (f, c) = fault_params(n)?;
    if args.hosts.len() != 1 && args.hosts.len() != usize::from(n) {
        bail!("--hosts lists {} hosts; give one (all replicas on it) or {n}", args.hosts.len());
    }
    if args.out.exists() && std::fs::read_dir(&args.out)?.next().is_some() {
        bail!("{} is not empty; refusing to overwrite keys", args.out.display());
    }
    let shared_host = args.hosts.len() == 1;
    let host = |i: u16| if shared_host { args.hosts[0].clone() } else { args.hosts[usize::from(i)].clone() };
    let port = |base: u16, i: u16| if shared_host { base + i } else { base };
    let url_host = |h: &str| if h.contains(':') { format!("[{h}]") } else { h.to_string() };

    std::fs::create_dir_all(args.out.join("ca")).with_context(|| format!("cannot create {}", args.out.display()))?;
    let genesis_json = match &args.genesis {
        Some(path) => std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?,
        None => serde_json::to_string_pretty(&dev_genesis(args.chain_id, &dev_accounts()?)?)?,
    };
    // Refuse a genesis the node cannot run before writing any key.
    stele_evm::ChainSpec::from_genesis(serde_json::from_str(&genesis_json).context("genesis")?)?;
    write_public(&args.out.join("genesis.json"), genesis_json.as_bytes())?;

    let ca = ClusterCa::generate(&args.name)?;
    write_public(&args.out.join("ca").join("ca.crt"), ca.cert_pem().as_bytes())?;
    write_private(&args.out.join("ca").join("ca.key"), ca.key_pem().as_bytes())?;

    let mut peers = Vec::new();
    let mut secrets = Vec::new();
    for i in 0..n {
        let dir = args.out.join(format!("replica-{i}"));
        std::fs::create_dir_all(&dir)?;
        let h = host(i);
        let mut names = vec![h.clone()];
        for local in ["localhost", "127.0.0.1", "::1"] {
            if !names.iter().any(|x| x == local) {
                names.push(local.to_string());
            }
        }
        let identity = ca.issue_replica(ReplicaId::new(i), &names)?;
        write_public(&dir.join("replica.crt"), identity.cert_pem.as_bytes())?;
        write_private(&dir.join("replica.key"), identity.key_pem.as_bytes())?;
        write_public(&dir.join("ca.crt"), ca.cert_pem().as_bytes())?;
        write_public(&dir.join("genesis.json"), genesis_json.as_bytes())?;
        let pair = keys::generate_secret(&dir.join("bls.key"))?;
        peers.push(PeerEntry {
            id: i,
            address: format!("{}:{}", url_host(&h), port(args.p2p_port, i)),
            rpc_url: format!("https://{}:{}", url_host(&h), port(args.rpc_port, i)),
            cert_sha256: identity.fingerprint.to_string(),
            bls_public_key: hex::encode(&pair.public),
            bls_pop: hex::encode(&pair.pop),
        });
        secrets.push(dir);
    }
    for (i, dir) in secrets.iter().enumerate() {
        let i = i as u16;
        let listen_host = if shared_host { host(i) } else { "0.0.0.0".to_string() };
        let listen = |p: u16| -> anyhow::Result<std::net::SocketAddr> {
            let ip: std::net::IpAddr = listen_host.parse().unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
            Ok(std::net::SocketAddr::new(ip, p))
        };
        let config = ReplicaConfig {
            replica: ReplicaSection {
                id: i,
                data_dir: PathBuf::from("data"),
                bls_key: PathBuf::from("bls.key"),
                trie_cache_mib: crate::replica::config::default_trie_cache_mib(),
            },
            cluster: ClusterSection { name: args.name.clone(), f, c, genesis: PathBuf::from("genesis.json"), ca_cert: PathBuf::from("ca.crt") },
            network: NetworkSection { listen: listen(port(args.p2p_port, i))?, cert: PathBuf::from("replica.crt"), key: PathBuf::from("replica.key") },
            rpc: RpcSection { listen: listen(port(args.rpc_port, i))?, cert: PathBuf::from("replica.crt"), key: PathBuf::from("replica.key") },
            // One host: the replicas share its cores, and execution is the slowest stage.
            consensus: ConsensusSection { execution_lead: shared_host.then_some(1), ..ConsensusSection::default() },
            peers: peers.clone(),
        };
        write_public(&dir.join("config.toml"), render_config(&config)?.as_bytes())?;
        if args.appliance {
            // It carries the replica's private keys.
            write_private(&dir.join("stele.bundle"), appliance_bundle(dir, config)?.as_bytes())?;
        }
    }
    Ok(args.out.clone())
}

/// The appliance bundle of one replica: its files under the names the appliance expects
/// (`rpc.crt`/`rpc.key` serve both RPC and the transport), listen addresses left to the
/// VM's properties (`STELE_RPC_LISTEN`, `STELE_REPLICA_LISTEN`).
fn appliance_bundle(dir: &Path, mut config: ReplicaConfig) -> anyhow::Result<String> {
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).with_context(|| format!("cannot read {name}"));
    config.network.cert = PathBuf::from("rpc.crt");
    config.network.key = PathBuf::from("rpc.key");
    config.rpc.cert = PathBuf::from("rpc.crt");
    config.rpc.key = PathBuf::from("rpc.key");
    let mut files = std::collections::BTreeMap::new();
    files.insert("config.toml".to_string(), render_config(&config)?);
    files.insert("rpc.crt".to_string(), read("replica.crt")?);
    files.insert("rpc.key".to_string(), read("replica.key")?);
    files.insert("ca.crt".to_string(), read("ca.crt")?);
    files.insert("bls.key".to_string(), read("bls.key")?);
    files.insert("genesis.json".to_string(), read("genesis.json")?);
    let bundle = stele_appliance::bundle::Bundle::new(u32::from(config.replica.id), files)
        .map_err(|e| anyhow::anyhow!("replica {}: the appliance bundle is not valid: {e}", config.replica.id))?;
    Ok(bundle.encode())
}

/// The config file with a header that says what each section is for.
fn render_config(config: &ReplicaConfig) -> anyhow::Result<String> {
    let body = toml::to_string_pretty(config)?;
    Ok(format!(
        "# stele replica configuration, written by `stele init`.\n\
         # Run with: stele run --config <this file>. Relative paths are relative to this file.\n\
         # [replica]   this replica: id, data directory, BLS secret key file, and the memory\n\
         #             for state trie nodes (trie_cache_mib; raise it for chains of several million accounts)\n\
         # [cluster]   identical on every replica: name, f and c (n = 3f + 2c + 1), genesis, CA\n\
         # [network]   replica-to-replica mutual TLS: listen address, certificate and key\n\
         # [rpc]       JSON-RPC over HTTPS and WSS: listen address, certificate and key\n\
         # [consensus] optional timeouts (commit_timeout_ms, view_change_timeout_ms,\n\
         #             empty_block_interval_ms, slow_path_timeout_ms), checkpoint_interval and\n\
         #             execution_lead (blocks proposed past the executed head: 2, or 1 on one host)\n\
         # [[peers]]   every replica, this one included: transport address, RPC URL, the\n\
         #             SHA-256 pin of its certificate, its BLS public key and proof of possession\n\
         # STELE_DATA_DIR, STELE_RPC_LISTEN, STELE_REPLICA_LISTEN, STELE_RPC_TLS_CERT and\n\
         # STELE_RPC_TLS_KEY override the matching settings.\n\n{body}"
    ))
}

/// Whether `dir` holds an initialized cluster (used by `stele up`).
pub(crate) fn is_initialized(dir: &Path, n: u16) -> bool {
    (0..n).all(|i| dir.join(format!("replica-{i}")).join("config.toml").is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_parameters() {
        assert_eq!(fault_params(1).ok(), Some((0, 0)));
        assert_eq!(fault_params(3).ok(), Some((0, 1)));
        assert_eq!(fault_params(4).ok(), Some((1, 0)));
        assert_eq!(fault_params(6).ok(), Some((1, 1)));
        assert_eq!(fault_params(7).ok(), Some((2, 0)));
        assert_eq!(fault_params(5).ok(), Some((0, 2)));
    }

    #[test]
    fn replicas_on_one_host_propose_one_block_past_execution() {
        let lead = |hosts: &[&str]| {
            let dir = tempfile::tempdir().unwrap();
            let out = dir.path().join("cluster");
            let args = InitArgs {
                replicas: 4,
                hosts: hosts.iter().map(|h| h.to_string()).collect(),
                p2p_port: 7100,
                rpc_port: 8545,
                chain_id: DEV_CHAIN_ID,
                genesis: None,
                name: "t".into(),
                out: out.clone(),
                appliance: false,
            };
            init(&args).unwrap();
            let text = std::fs::read_to_string(out.join("replica-0/config.toml")).unwrap();
            let config: ReplicaConfig = toml::from_str(&text).unwrap();
            config.consensus.execution_lead
        };
        assert_eq!(lead(&["127.0.0.1"]), Some(1));
        assert_eq!(lead(&["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"]), None);
    }
}
