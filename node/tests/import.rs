//! `stele import` as a user runs it: a real process over a real MDBX datadir, on the
//! execution-apis test chain (54 blocks made by geth, Frontier through Osaka).
#![allow(clippy::unwrap_used)]

use alloy_rlp::Encodable;
use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
    time::{Duration, Instant},
};
use stele_evm::{db::check::check_consistency, import::decode_chain_file, ChainDb};

fn fixtures() -> PathBuf {
    let dir = std::env::var("STELE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared"));
    dir.join("conformance/execution-apis")
}

fn stele() -> Command {
    Command::new(env!("CARGO_BIN_EXE_stele"))
}

fn import(datadir: &Path, genesis: &Path, chain: &Path) -> Output {
    stele()
        .args(["import", "--datadir"])
        .arg(datadir)
        .arg("--genesis")
        .arg(genesis)
        .arg("--chain")
        .arg(chain)
        .output()
        .expect("stele runs")
}

fn expected_head() -> String {
    let fcu: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixtures().join("headfcu.json")).unwrap()).unwrap();
    fcu["params"][0]["headBlockHash"].as_str().unwrap().to_string()
}

fn open(datadir: &Path) -> ChainDb {
    ChainDb::open(&datadir.join("chain")).unwrap()
}

#[test]
fn import_reaches_the_fixture_head_with_every_hash_identical() {
    let dir = tempfile::tempdir().unwrap();
    let out = import(dir.path(), &fixtures().join("genesis.json"), &fixtures().join("chain.rlp"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "import failed: {}{}", stdout, String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains(&format!("head 54 {}", expected_head())), "{stdout}");

    let db = open(dir.path());
    let tx = db.read().unwrap();
    let (blocks, err) = decode_chain_file(&std::fs::read(fixtures().join("chain.rlp")).unwrap());
    assert!(err.is_none());
    assert_eq!(blocks.len(), 54);
    for block in &blocks {
        assert_eq!(tx.block_hash(block.header.number).unwrap(), Some(block.header.hash_slow()), "block {}", block.header.number);
    }
    let report = check_consistency(&tx).unwrap();
    assert_eq!(report.head, 54);
    assert!(report.accounts > 20);
    readers_tables_agree_with_the_blocks(&tx, &blocks);

    // A second run finds everything present and changes nothing.
    drop(tx);
    drop(db);
    let out = import(dir.path(), &fixtures().join("genesis.json"), &fixtures().join("chain.rlp"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(stdout.contains("imported 0 blocks (54 already present)"), "{stdout}");
}

/// What eth_getLogs and receipts read instead of the blocks themselves: the stored
/// transaction hashes and the log index must say what a scan of the blocks says.
fn readers_tables_agree_with_the_blocks(tx: &stele_evm::db::ReadTx, blocks: &[alloy_consensus::Block<alloy_consensus::TxEnvelope>]) {
    use std::collections::{BTreeMap, BTreeSet};
    let mut by_address: BTreeMap<alloy_primitives::Address, BTreeSet<u64>> = BTreeMap::new();
    let mut by_topic: BTreeMap<alloy_primitives::B256, BTreeSet<u64>> = BTreeMap::new();
    for block in blocks {
        let number = block.header.number;
        let hashes: Vec<_> = block.body.transactions.iter().map(alloy_eips::Encodable2718::trie_hash).collect();
        assert_eq!(tx.tx_hashes(number).unwrap(), Some(hashes), "transaction hashes of block {number}");
        for receipt in tx.receipts(number).unwrap().unwrap_or_default() {
            for log in receipt.logs() {
                by_address.entry(log.address).or_default().insert(number);
                for topic in log.topics() {
                    by_topic.entry(*topic).or_default().insert(number);
                }
            }
        }
    }
    assert!(by_address.len() > 1 && by_topic.len() > 1, "the fixture chain has logs");
    for (address, want) in &by_address {
        let want: Vec<u64> = want.iter().copied().collect();
        assert_eq!(tx.blocks_with_log_address(*address, 0, 54).unwrap(), want, "log index of {address}");
        // A sub-range keeps only the blocks inside it.
        let (from, to) = (want[0] + 1, 54);
        let inside: Vec<u64> = want.iter().copied().filter(|b| (from..=to).contains(b)).collect();
        assert_eq!(tx.blocks_with_log_address(*address, from, to).unwrap(), inside, "log index of {address} from {from}");
    }
    for (topic, want) in &by_topic {
        let want: Vec<u64> = want.iter().copied().collect();
        assert_eq!(tx.blocks_with_log_topic(*topic, 0, 54).unwrap(), want, "log index of topic {topic}");
    }
    assert!(tx.blocks_with_log_address(alloy_primitives::Address::repeat_byte(0xee), 0, 54).unwrap().is_empty());
}

/// A small deterministic generator, so a failing run can be replayed from its seed.
struct SplitMix(u64);
impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

#[test]
fn import_killed_at_random_moments_always_reopens_consistent_and_resumes() {
    let seed = std::env::var("STELE_CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
    });
    eprintln!("crash test seed: {seed} (replay with STELE_CRASH_SEED={seed})");
    let mut rng = SplitMix(seed);
    let genesis = fixtures().join("genesis.json");
    let chain = fixtures().join("chain.rlp");

    // How long a full import takes here bounds the kill moments.
    let probe = tempfile::tempdir().unwrap();
    let started = Instant::now();
    assert!(import(probe.path(), &genesis, &chain).status.success());
    let full_ms = started.elapsed().as_millis() as u64 + 1;

    let dir = tempfile::tempdir().unwrap();
    let mut heads = Vec::new();
    for round in 0..12 {
        let mut child = stele()
            .args(["import", "--datadir"])
            .arg(dir.path())
            .arg("--genesis")
            .arg(&genesis)
            .arg("--chain")
            .arg(&chain)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(rng.next() % full_ms));
        child.kill().ok(); // SIGKILL
        child.wait().unwrap();
        let db = open(dir.path());
        let tx = db.read().unwrap();
        match tx.head_number().unwrap() {
            None => heads.push(None), // killed before the genesis committed
            Some(_) => {
                let report = check_consistency(&tx)
                    .unwrap_or_else(|e| panic!("round {round} (seed {seed}): inconsistent after kill: {e}"));
                heads.push(Some(report.head));
            }
        }
    }
    eprintln!("heads after each kill: {heads:?}");
    let out = import(dir.path(), &genesis, &chain);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "resume failed (seed {seed}): {stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains(&format!("head 54 {}", expected_head())), "{stdout}");
    check_consistency(&open(dir.path()).read().unwrap()).unwrap();
}

#[test]
fn truncated_chain_file_stops_at_the_last_whole_block() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(fixtures().join("chain.rlp")).unwrap();
    let truncated = dir.path().join("truncated.rlp");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let (whole, _) = decode_chain_file(&bytes[..bytes.len() / 2]);
    let last_whole = whole.last().unwrap().header.number;

    let datadir = dir.path().join("data");
    let out = import(&datadir, &fixtures().join("genesis.json"), &truncated);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("cannot decode the block at byte") && stderr.contains(&format!("after block {last_whole}")), "{stderr}");
    let tx = open(&datadir).read().unwrap();
    assert_eq!(check_consistency(&tx).unwrap().head, last_whole);
}

#[test]
fn block_with_a_wrong_state_root_is_refused_and_nothing_of_it_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let (mut blocks, _) = decode_chain_file(&std::fs::read(fixtures().join("chain.rlp")).unwrap());
    let bad = 20usize;
    let expected = blocks[bad - 1].header.state_root;
    blocks[bad - 1].header.state_root = alloy_primitives::B256::repeat_byte(0xab);
    let mut file = Vec::new();
    for block in &blocks {
        block.encode(&mut file);
    }
    let chain = dir.path().join("bad.rlp");
    std::fs::write(&chain, file).unwrap();

    let datadir = dir.path().join("data");
    let out = import(&datadir, &fixtures().join("genesis.json"), &chain);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains(&format!("block {bad}: stateRoot mismatch: expected 0xabab")), "{stderr}");
    assert!(stderr.contains(&format!("computed {expected}")), "{stderr}");
    let tx = open(&datadir).read().unwrap();
    assert_eq!(check_consistency(&tx).unwrap().head, bad as u64 - 1);
}

#[test]
fn malformed_genesis_is_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let genesis = dir.path().join("genesis.json");
    std::fs::write(&genesis, "{\"config\": {\"chainId\": 1}, \"alloc\": [").unwrap();
    let datadir = dir.path().join("data");
    let out = import(&datadir, &genesis, &fixtures().join("chain.rlp"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("malformed genesis file") && stderr.contains("line 1"), "{stderr}");
    assert!(!datadir.exists(), "no datadir is created for a bad genesis");
}
