//! The replica's configuration file (`config.toml`, written by `stele init`): who this
//! replica is, the cluster it belongs to, where it listens, its keys and every peer's pinned
//! certificate and BLS public key. Relative paths are relative to the file's directory.
//!
//! The appliance's node contract (docs/operator/appliance.md) lets the environment override
//! the data directory, the listen addresses and the RPC certificate: see [`EnvOverrides`].

use serde::{Deserialize, Serialize};
use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
};
use stele_consensus::{Params, ReplicaId};

/// Why a configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not valid TOML for this schema.
    #[error("{path}: {reason}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message (names the key and line).
        reason: String,
    },
    /// The values contradict each other.
    #[error("{path}: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// `[replica]`: this replica.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReplicaSection {
    /// Replica id, 0..n.
    pub id: u16,
    /// Chain and consensus data (MDBX).
    pub data_dir: PathBuf,
    /// Secret BLS key material (hex, 32 bytes).
    pub bls_key: PathBuf,
    /// Memory for the state tries' branch nodes, MiB. Each block's state root walks from the
    /// root to every changed account and slot; the branches on those paths take roughly
    /// 40–60 MiB per million accounts or storage slots, so the default holds most of those of
    /// ~2 million and larger chains want more (docs/BENCHMARKS.md). 0 turns the cache off.
    #[serde(default = "default_trie_cache_mib")]
    pub trie_cache_mib: u64,
}

/// The largest `trie_cache_mib` accepted: the cache's tables are allocated for the budget
/// when the replica starts, so a typo must not ask for terabytes.
const TRIE_CACHE_MIB_MAX: u64 = 64 << 10;

/// The default of `trie_cache_mib`: the evm crate's cache budget.
pub(crate) fn default_trie_cache_mib() -> u64 {
    stele_evm::trie::cache::DEFAULT_NODE_CACHE_BYTES >> 20
}

/// `[cluster]`: identical on every replica.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ClusterSection {
    /// A name for logs and certificates.
    pub name: String,
    /// Tolerated Byzantine replicas.
    pub f: u16,
    /// Tolerated slow or crashed replicas on the fast path.
    pub c: u16,
    /// geth-style genesis file.
    pub genesis: PathBuf,
    /// The cluster CA certificate (PEM) replica certificates chain to.
    pub ca_cert: PathBuf,
}

/// `[network]`: replica-to-replica transport (mutual TLS).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NetworkSection {
    /// Address to accept peer connections on.
    pub listen: SocketAddr,
    /// This replica's certificate chain (PEM).
    pub cert: PathBuf,
    /// Its private key (PEM).
    pub key: PathBuf,
}

/// `[rpc]`: JSON-RPC over TLS for dApps and wallets.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RpcSection {
    /// Address for HTTPS and WSS.
    pub listen: SocketAddr,
    /// Certificate chain presented to clients (PEM).
    pub cert: PathBuf,
    /// Its private key (PEM).
    pub key: PathBuf,
}

/// One `[[peers]]` entry; every replica of the cluster is listed, this one included.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PeerEntry {
    /// Replica id.
    pub id: u16,
    /// `host:port` of its transport.
    pub address: String,
    /// Its JSON-RPC URL (for `stele status` and clients).
    pub rpc_url: String,
    /// SHA-256 of its transport certificate: the pin.
    pub cert_sha256: String,
    /// Its BLS public key (hex, 48 bytes).
    pub bls_public_key: String,
    /// Its BLS proof of possession (hex, 96 bytes).
    pub bls_pop: String,
}

/// `[consensus]`: timeouts; defaults suit a LAN.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConsensusSection {
    /// No commit for this long after work arrived → complain about the primary.
    pub commit_timeout_ms: Option<u64>,
    /// First view-change timeout (doubles on consecutive failures).
    pub view_change_timeout_ms: Option<u64>,
    /// The primary proposes an empty block after this much idle time.
    pub empty_block_interval_ms: Option<u64>,
    /// The fast path waits this long for all shares before switching to the slow path.
    pub slow_path_timeout_ms: Option<u64>,
    /// Checkpoint every this many blocks (default 150); the same on every replica. Smaller
    /// means state transfer sooner and less consensus state kept; tests shrink it.
    pub checkpoint_interval: Option<u64>,
    /// The primary proposes at most this many blocks past its own executed head (default 2,
    /// 1..=16). 2 overlaps one block's consensus with the previous one's execution, which
    /// suits replicas on their own machines. When execution is the slower stage, as with
    /// several replicas sharing one machine's cores, 1 keeps committed blocks from queueing
    /// behind execution: `stele init` writes 1 when every replica is on one host.
    pub execution_lead: Option<u64>,
}

/// The whole file.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReplicaConfig {
    /// This replica.
    pub replica: ReplicaSection,
    /// The cluster.
    pub cluster: ClusterSection,
    /// Peer transport.
    pub network: NetworkSection,
    /// JSON-RPC.
    pub rpc: RpcSection,
    /// Consensus timeouts.
    #[serde(default)]
    pub consensus: ConsensusSection,
    /// Every replica.
    pub peers: Vec<PeerEntry>,
}

/// Values the environment may override (the appliance's node contract).
#[derive(Clone, Debug, Default)]
pub(crate) struct EnvOverrides {
    /// `STELE_DATA_DIR`.
    pub data_dir: Option<PathBuf>,
    /// `STELE_REPLICA_ID` (must agree with the file).
    pub replica_id: Option<u16>,
    /// `STELE_RPC_LISTEN`.
    pub rpc_listen: Option<SocketAddr>,
    /// `STELE_REPLICA_LISTEN`.
    pub replica_listen: Option<SocketAddr>,
    /// `STELE_RPC_TLS_CERT`.
    pub rpc_cert: Option<PathBuf>,
    /// `STELE_RPC_TLS_KEY`.
    pub rpc_key: Option<PathBuf>,
}

impl EnvOverrides {
    /// Reads the `STELE_*` variables; a malformed value is an error naming the variable.
    pub(crate) fn from_env() -> Result<Self, String> {
        fn var(name: &str) -> Option<String> {
            std::env::var(name).ok().filter(|v| !v.trim().is_empty())
        }
        fn parse<T: std::str::FromStr>(name: &str) -> Result<Option<T>, String>
        where
            T::Err: std::fmt::Display,
        {
            var(name).map(|v| v.trim().parse::<T>().map_err(|e| format!("{name}={v:?}: {e}"))).transpose()
        }
        Ok(Self {
            data_dir: var("STELE_DATA_DIR").map(PathBuf::from),
            replica_id: parse("STELE_REPLICA_ID")?,
            rpc_listen: parse("STELE_RPC_LISTEN")?,
            replica_listen: parse("STELE_REPLICA_LISTEN")?,
            rpc_cert: var("STELE_RPC_TLS_CERT").map(PathBuf::from),
            rpc_key: var("STELE_RPC_TLS_KEY").map(PathBuf::from),
        })
    }
}

impl ReplicaConfig {
    /// Reads, resolves relative paths, applies `env` and validates.
    pub(crate) fn load(path: &Path, env: &EnvOverrides) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        let mut config: ReplicaConfig =
            toml::from_str(&text).map_err(|e| ConfigError::Parse { path: path.to_path_buf(), reason: e.to_string() })?;
        let base = path.parent().unwrap_or(Path::new("."));
        config.resolve_paths(base);
        config.apply(env).map_err(|reason| ConfigError::Invalid { path: path.to_path_buf(), reason })?;
        config.validate().map_err(|reason| ConfigError::Invalid { path: path.to_path_buf(), reason })?;
        Ok(config)
    }

    fn resolve_paths(&mut self, base: &Path) {
        for p in [
            &mut self.replica.data_dir,
            &mut self.replica.bls_key,
            &mut self.cluster.genesis,
            &mut self.cluster.ca_cert,
            &mut self.network.cert,
            &mut self.network.key,
            &mut self.rpc.cert,
            &mut self.rpc.key,
        ] {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
    }

    fn apply(&mut self, env: &EnvOverrides) -> Result<(), String> {
        if let Some(id) = env.replica_id
            && id != self.replica.id
        {
            return Err(format!("STELE_REPLICA_ID={id} but the file is for replica {}", self.replica.id));
        }
        if let Some(d) = &env.data_dir {
            self.replica.data_dir = d.clone();
        }
        if let Some(a) = env.rpc_listen {
            self.rpc.listen = a;
        }
        if let Some(a) = env.replica_listen {
            self.network.listen = a;
        }
        if let Some(c) = &env.rpc_cert {
            self.rpc.cert = c.clone();
        }
        if let Some(k) = &env.rpc_key {
            self.rpc.key = k.clone();
        }
        Ok(())
    }

    fn validate(&self) -> Result<(), String> {
        let params = self.params()?;
        let n = params.n();
        if self.peers.len() != n {
            return Err(format!("n = 3f + 2c + 1 = {n} replicas, but {} [[peers]] are listed", self.peers.len()));
        }
        for (i, p) in self.peers.iter().enumerate() {
            if usize::from(p.id) != i {
                return Err(format!("[[peers]] must be listed by id 0..{n}; entry {i} has id {}", p.id));
            }
            p.cert_sha256
                .parse::<stele_rpc::tls::Fingerprint>()
                .map_err(|e| format!("peer {}: cert_sha256: {e}", p.id))?;
        }
        if usize::from(self.replica.id) >= n {
            return Err(format!("replica id {} is not below n = {n}", self.replica.id));
        }
        if self.rpc.listen == self.network.listen {
            return Err(format!("rpc.listen and network.listen are both {}", self.rpc.listen));
        }
        if self.replica.trie_cache_mib > TRIE_CACHE_MIB_MAX {
            return Err(format!(
                "replica.trie_cache_mib = {} is over {TRIE_CACHE_MIB_MAX} (64 GiB); the cache is sized up front",
                self.replica.trie_cache_mib
            ));
        }
        Ok(())
    }

    /// Cluster parameters.
    pub(crate) fn params(&self) -> Result<Params, String> {
        let n = 3 * u32::from(self.cluster.f) + 2 * u32::from(self.cluster.c) + 1;
        let n = u16::try_from(n).map_err(|_| "f and c are too large".to_string())?;
        Params::new(n, self.cluster.f, self.cluster.c).map_err(|e| e.to_string())
    }

    /// This replica's id.
    pub(crate) fn id(&self) -> ReplicaId {
        ReplicaId::new(self.replica.id)
    }

    /// This replica's own entry.
    pub(crate) fn me(&self) -> &PeerEntry {
        &self.peers[usize::from(self.replica.id)]
    }
}
