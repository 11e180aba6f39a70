//! Four replicas in one process, wired by channels instead of TLS: the shell, the MDBX
//! persistence, BLS, execution and finality certificates working together, without the
//! transport (which has its own tests) or processes (tests/cluster has those).

use super::{
    config::{ClusterSection, ConsensusSection, NetworkSection, PeerEntry, ReplicaConfig, ReplicaSection, RpcSection},
    keys,
    link::PeerLink,
    start, RunOptions, Started,
};
use crate::dev::{accounts::dev_accounts, genesis::dev_genesis};
use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, Bytes, TxKind, B256, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use std::{
    collections::HashSet,
    path::Path,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};
use stele_consensus::ReplicaId;
use stele_evm::db::tables::FinalityCertificates;
use stele_rpc::api::ConsensusHandle;
use tokio::sync::mpsc;

type Inbox = mpsc::Sender<(ReplicaId, bytes::Bytes)>;

/// Channels between replicas; a replica in `down` neither sends nor receives.
struct Loopback {
    me: ReplicaId,
    inboxes: Arc<Vec<Inbox>>,
    down: Arc<Mutex<HashSet<u16>>>,
}

impl Loopback {
    fn cut(&self, id: u16) -> bool {
        self.down.lock().unwrap().contains(&id)
    }
}

impl PeerLink for Loopback {
    fn send(&self, to: ReplicaId, _bulk: bool, payload: bytes::Bytes) {
        if self.cut(self.me.get()) || self.cut(to.get()) {
            return;
        }
        let _ = self.inboxes[to.index()].try_send((self.me, payload));
    }
    fn broadcast(&self, payload: bytes::Bytes) {
        for i in 0..self.inboxes.len() as u16 {
            if i != self.me.get() {
                self.send(ReplicaId::new(i), false, payload.clone());
            }
        }
    }
    fn peers(&self) -> Vec<(ReplicaId, bool)> {
        (0..self.inboxes.len() as u16).filter(|i| *i != self.me.get()).map(|i| (ReplicaId::new(i), !self.cut(i))).collect()
    }
}

fn configs(dir: &Path, n: u16, empty_block_interval_ms: u64) -> Vec<ReplicaConfig> {
    configs_with(dir, n, ConsensusSection { empty_block_interval_ms: Some(empty_block_interval_ms), ..Default::default() })
}

fn configs_with(dir: &Path, n: u16, consensus: ConsensusSection) -> Vec<ReplicaConfig> {
    let genesis = dir.join("genesis.json");
    std::fs::write(&genesis, serde_json::to_string(&dev_genesis(1337, &dev_accounts().unwrap()).unwrap()).unwrap()).unwrap();
    let mut peers = Vec::new();
    for i in 0..n {
        std::fs::create_dir_all(dir.join(format!("r{i}"))).unwrap();
        let pair = keys::generate_secret(&dir.join(format!("r{i}/bls.key"))).unwrap();
        peers.push(PeerEntry {
            id: i,
            address: format!("127.0.0.1:{}", 1 + i),
            rpc_url: String::new(),
            cert_sha256: "00".repeat(32),
            bls_public_key: hex::encode(&pair.public),
            bls_pop: hex::encode(&pair.pop),
        });
    }
    (0..n)
        .map(|i| ReplicaConfig {
            replica: ReplicaSection {
                id: i,
                data_dir: dir.join(format!("r{i}/data")),
                bls_key: dir.join(format!("r{i}/bls.key")),
                trie_cache_mib: crate::replica::config::default_trie_cache_mib(),
            },
            cluster: ClusterSection { name: "test".into(), f: 1, c: 0, genesis: genesis.clone(), ca_cert: "unused".into() },
            network: NetworkSection { listen: "127.0.0.1:1".parse().unwrap(), cert: "unused".into(), key: "unused".into() },
            rpc: RpcSection { listen: "127.0.0.1:2".parse().unwrap(), cert: "unused".into(), key: "unused".into() },
            consensus: consensus.clone(),
            peers: peers.clone(),
        })
        .collect()
}

fn transfer(signer: &PrivateKeySigner, nonce: u64) -> Bytes {
    let tx = TxEip1559 {
        chain_id: 1337,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 10_000_000_000,
        max_priority_fee_per_gas: 1,
        to: TxKind::Call(Address::repeat_byte(0x42)),
        value: U256::from(1),
        ..Default::default()
    };
    let sig = signer.sign_hash_sync(&tx.signature_hash()).unwrap();
    let env: TxEnvelope = tx.into_signed(sig).into();
    env.encoded_2718().into()
}

async fn wait_for(what: &str, deadline: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < deadline, "timed out after {deadline:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Starts every replica of `configs` on one loopback network.
fn start_all(configs: &[ReplicaConfig]) -> (Vec<Started>, Arc<Mutex<HashSet<u16>>>) {
    let mut senders = Vec::new();
    let mut receivers = Vec::new();
    for _ in configs {
        let (tx, rx) = mpsc::channel(65_536);
        senders.push(tx);
        receivers.push(rx);
    }
    let inboxes = Arc::new(senders);
    let down = Arc::new(Mutex::new(HashSet::new()));
    let mut replicas: Vec<Started> = Vec::new();
    for (config, inbound) in configs.iter().zip(receivers) {
        let link = Arc::new(Loopback { me: config.id(), inboxes: inboxes.clone(), down: down.clone() });
        replicas.push(start(config, link, inbound, RunOptions::default()).unwrap());
    }
    (replicas, down)
}

fn head(r: &Started) -> u64 {
    r.node.db.read().unwrap().head_number().unwrap().unwrap_or(0)
}

fn assert_same_chain(replicas: &[&Started]) {
    let common = replicas.iter().map(|r| head(r)).min().unwrap();
    for number in 1..=common {
        let hashes: HashSet<B256> =
            replicas.iter().map(|r| r.node.db.read().unwrap().block_hash(number).unwrap().unwrap()).collect();
        assert_eq!(hashes.len(), 1, "replicas disagree at block {number}: {hashes:?}");
    }
}

/// `trie_cache_mib` may be left out (the default), set, or refused when absurd, with the key
/// named: the cache's tables are allocated up front.
#[test]
fn the_trie_cache_budget_has_a_default_and_a_ceiling() {
    let dir = tempfile::tempdir().unwrap();
    let config = configs(dir.path(), 4, 1_000).remove(0);
    let path = dir.path().join("config.toml");
    let load = |text: &str| {
        std::fs::write(&path, text).unwrap();
        ReplicaConfig::load(&path, &Default::default())
    };
    let text = toml::to_string_pretty(&config).unwrap();
    assert!(text.contains("trie_cache_mib = 128"), "{text}");
    let without: String = text.lines().filter(|l| !l.starts_with("trie_cache_mib")).map(|l| format!("{l}\n")).collect();
    assert_eq!(load(&without).unwrap().replica.trie_cache_mib, 128);
    assert_eq!(load(&text.replace("trie_cache_mib = 128", "trie_cache_mib = 1024")).unwrap().replica.trie_cache_mib, 1024);
    let refused = load(&text.replace("trie_cache_mib = 128", "trie_cache_mib = 1000000000")).unwrap_err().to_string();
    assert!(refused.contains("replica.trie_cache_mib = 1000000000 is over 65536"), "{refused}");
}

#[test]
fn the_execution_lead_is_bounded_and_applied() {
    let dir = tempfile::tempdir().unwrap();
    let lead = |v: Option<u64>| {
        let mut config = configs(dir.path(), 4, 1_000).remove(0);
        config.consensus.execution_lead = v;
        super::core_config(&config, 30_000_000).map(|c| c.execution_lead_max).map_err(|e| e.to_string())
    };
    assert_eq!(lead(None).unwrap(), stele_consensus::limits::EXECUTION_LEAD_SEQS);
    assert_eq!(lead(Some(1)).unwrap(), 1);
    for bad in [0, 17] {
        let refused = lead(Some(bad)).unwrap_err();
        assert!(refused.contains("[consensus] execution_lead must be 1..=16"), "{refused}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_replicas_order_execute_and_certify_the_same_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let configs = configs(dir.path(), 4, 200);
    let (replicas, down) = start_all(&configs);
    let signer: PrivateKeySigner = dev_accounts().unwrap()[0].private_key_hex.parse().unwrap();

    // A burst to one backup, nonces shuffled: the feeder must hand them over in order.
    let mut hashes = Vec::new();
    let mut order: Vec<u64> = (0..30).collect();
    order.reverse();
    order.swap(3, 17);
    for nonce in order {
        hashes.push(replicas[1].node.submit_transaction(transfer(&signer, nonce)).await.unwrap());
    }
    let mined = |r: &Started, h: &B256| r.node.db.read().unwrap().tx_location(h).unwrap().is_some();
    wait_for("all 30 transactions on all replicas", Duration::from_secs(180), || {
        replicas.iter().all(|r| hashes.iter().all(|h| mined(r, h)))
    })
    .await;

    // Same block at every height on every replica.
    assert_same_chain(&replicas.iter().collect::<Vec<_>>());
    let common = replicas.iter().map(head).min().unwrap();

    // A finality certificate that verifies against the cluster's keys alone.
    let keys = keys::key_set(&configs[0]).unwrap();
    let params = configs[0].params().unwrap();
    let number = common;
    wait_for("a finality certificate", Duration::from_secs(30), || {
        replicas[0].node.db.read().unwrap().get::<FinalityCertificates>(&number).unwrap().is_some()
    })
    .await;
    let encoded = replicas[0].node.db.read().unwrap().get::<FinalityCertificates>(&number).unwrap().unwrap();
    let hash = replicas[0].node.db.read().unwrap().block_hash(number).unwrap().unwrap();
    crate::cli::verify_block::verify_block_certificate(&keys, &params, number, hash, &encoded).unwrap();
    let other = replicas[0].node.db.read().unwrap().block_hash(number - 1).unwrap().unwrap();
    assert!(crate::cli::verify_block::verify_block_certificate(&keys, &params, number, other, &encoded).is_err());

    // One replica cut off: the other three (n - f) keep ordering.
    down.lock().unwrap().insert(3);
    let extra = replicas[0].node.submit_transaction(transfer(&signer, 30)).await.unwrap();
    wait_for("a transaction with replica 3 cut off", Duration::from_secs(180), || {
        replicas[..3].iter().all(|r| mined(r, &extra))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_cut_off_past_two_checkpoints_catches_up_by_state_transfer() {
    let dir = tempfile::tempdir().unwrap();
    // Idle blocks as fast as the cluster orders them and a checkpoint every 10 blocks, so the
    // cut-off replica falls behind the window (2 checkpoints) soon.
    let consensus = ConsensusSection { empty_block_interval_ms: Some(1), checkpoint_interval: Some(10), ..Default::default() };
    let configs = configs_with(dir.path(), 4, consensus);
    let (replicas, down) = start_all(&configs);
    down.lock().unwrap().insert(3);
    let behind = head(&replicas[3]);
    let target = behind + 4 * 10 + 5;
    wait_for("the three others to pass four checkpoints", Duration::from_secs(300), || head(&replicas[0]) >= target).await;
    assert!(head(&replicas[3]) <= behind + 1, "the cut-off replica must not have moved");
    down.lock().unwrap().clear();
    let caught_up_to = head(&replicas[0]);
    wait_for("replica 3 to catch up", Duration::from_secs(300), || head(&replicas[3]) >= caught_up_to).await;
    // The transfer's blocks are visible (head) a moment before its end is counted.
    let transferred = || replicas[3].node.transfers_done.load(std::sync::atomic::Ordering::Relaxed) >= 1;
    wait_for("replica 3's state transfer to be counted (caught up by a transfer, not by replaying commits)", Duration::from_secs(30), transferred).await;
    assert_same_chain(&replicas.iter().collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement, run by hand"]
async fn idle_block_rate() {
    let _ = tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).with_test_writer().try_init();
    let dir = tempfile::tempdir().unwrap();
    let configs = configs(dir.path(), 4, 1);
    let (replicas, _down) = start_all(&configs);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let h0 = head(&replicas[0]);
    tokio::time::sleep(Duration::from_secs(5)).await;
    let h1 = head(&replicas[0]);
    eprintln!("idle blocks/s with 4 replicas: {:.1}", (h1 - h0) as f64 / 5.0);
}

/// The primary's batches are bounded by the chain's block gas limit, whatever it is: a bigger
/// batch would have its tail skipped by the block builder, a smaller one would leave blocks
/// part empty under load.
#[test]
fn batches_are_bounded_by_the_block_gas_limit_of_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let config = &configs(dir.path(), 4, 1_000)[0];
    for gas_limit in [8_000_000u64, 30_000_000, 120_000_000] {
        assert_eq!(super::core_config(config, gas_limit).unwrap().batch_gas_max, gas_limit);
    }
}
