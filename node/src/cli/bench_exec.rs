//! `stele bench-exec`: the execution benchmark. Builds a chain whose genesis funds N
//! accounts (native balance and an ERC-20 balance each), then executes, state-roots and
//! commits blocks of pre-signed transfers through the same block builder the node uses,
//! and reports tx/s, Mgas/s and where each block's time went. Single-threaded execution;
//! by default each block commits while the next one executes (`BlockPipeline`), and
//! `--serial` does one block at a time.

use alloy_consensus::{transaction::Recovered, SignableTransaction, TxEip1559, TxEnvelope};
use alloy_genesis::{Genesis, GenesisAccount};
use alloy_primitives::{keccak256, Address, Bytes, TxKind, B256, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use anyhow::Context;
use std::{collections::BTreeMap, path::PathBuf, sync::Arc, time::Instant};
use stele_evm::{
    db::PageStats,
    executor::{build_and_commit, BlockPipeline, BlockRequest, BuildTimings, BuiltBlock},
    genesis::init_genesis,
    trie::cache::NodeCacheStats,
    ChainDb, ChainSpec,
};

/// The benchmark's ERC-20 (source in evm/benches/contracts/BenchToken.sol).
const TOKEN_RUNTIME_HEX: &str = include_str!("../../../evm/benches/contracts/BenchToken.bin-runtime");
/// Where the token lives in the benchmark genesis.
const TOKEN: Address = Address::new([0x70; 20]);

/// What each transaction does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Workload {
    /// Native ETH transfers.
    Transfer,
    /// ERC-20 `transfer` calls.
    Erc20,
}

/// Arguments of `stele bench-exec`.
#[derive(Debug, clap::Args)]
pub(crate) struct BenchExecArgs {
    /// Funded accounts in the genesis (each has ETH and tokens).
    #[arg(long, default_value_t = 10_000)]
    accounts: usize,
    /// Blocks to execute.
    #[arg(long, default_value_t = 10)]
    blocks: usize,
    /// Transactions per block.
    #[arg(long, default_value_t = 1_000)]
    block_txs: usize,
    /// What the transactions do.
    #[arg(long, value_enum, default_value_t = Workload::Erc20)]
    workload: Workload,
    /// Data directory (default: a fresh temporary one).
    #[arg(long)]
    datadir: Option<PathBuf>,
    /// Budget of the in-memory trie node cache, MiB (0 turns it off, for comparison).
    #[arg(long, default_value_t = stele_evm::trie::cache::DEFAULT_NODE_CACHE_BYTES >> 20)]
    node_cache_mib: u64,
    /// Blocks built and committed first, and not counted: the node's caches and the decoded
    /// top of the tries fill up as on a chain that has been running for a while.
    #[arg(long, default_value_t = 0)]
    warmup_blocks: usize,
    /// Build, root and commit each block before starting the next, instead of committing
    /// each block while the next executes (the block pipeline).
    #[arg(long)]
    serial: bool,
}

/// A funded account that only receives: an address from a counter, no key needed.
fn receiver(i: usize) -> Address {
    Address::from_slice(&keccak256((i as u64).to_be_bytes())[12..])
}

/// The storage slot of `holder`'s balance in `mapping(address => uint256)` at slot 0.
fn balance_slot(holder: Address) -> B256 {
    let mut preimage = [0u8; 64];
    preimage[12..32].copy_from_slice(holder.as_slice());
    keccak256(preimage)
}

pub(crate) fn run(args: BenchExecArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.accounts >= 1 && args.block_txs >= 1 && args.blocks >= 1, "counts must be positive");
    let temp;
    let datadir = match &args.datadir {
        Some(dir) => dir.clone(),
        None => {
            temp = tempfile_dir()?;
            temp.clone()
        }
    };
    eprintln!("bench-exec: {} accounts, {} blocks of {} {:?} transactions, datadir {}", args.accounts, args.blocks, args.block_txs, args.workload, datadir.display());

    // Senders: one per transaction slot of a block, each sending once per block.
    let senders: Vec<PrivateKeySigner> = (0..args.block_txs)
        .map(|i| PrivateKeySigner::from_bytes(&keccak256(format!("stele bench sender {i}"))))
        .collect::<Result<_, _>>()?;
    let eth = U256::from(10u64).pow(U256::from(18u64));
    let mut genesis: Genesis = serde_json::from_value(serde_json::json!({
        "config": {
            "chainId": 7357, "homesteadBlock": 0, "eip150Block": 0, "eip155Block": 0, "eip158Block": 0,
            "byzantiumBlock": 0, "constantinopleBlock": 0, "petersburgBlock": 0, "istanbulBlock": 0,
            "berlinBlock": 0, "londonBlock": 0, "mergeNetsplitBlock": 0, "terminalTotalDifficulty": 0,
            "shanghaiTime": 0, "cancunTime": 0, "pragueTime": 0, "osakaTime": 0,
            "depositContractAddress": "0x0000000000000000000000000000000000000000"
        },
        "gasLimit": "0x2faf0800", "difficulty": "0x0", "alloc": {}
    }))?;
    let mut token_storage = BTreeMap::new();
    let funded = (0..args.accounts).map(receiver).chain(senders.iter().map(|s| s.address()));
    for address in funded {
        genesis.alloc.insert(address, GenesisAccount { balance: eth * U256::from(1_000u64), ..Default::default() });
        token_storage.insert(balance_slot(address), B256::from(eth * U256::from(1_000u64)));
    }
    let code = Bytes::from(alloy_primitives::hex::decode(TOKEN_RUNTIME_HEX.trim()).context("token bytecode")?);
    genesis.alloc.insert(TOKEN, GenesisAccount { code: Some(code), storage: Some(token_storage), nonce: Some(1), ..Default::default() });
    let spec = Arc::new(ChainSpec::from_genesis(genesis)?);

    let started = Instant::now();
    let db = ChainDb::open_with_node_cache(&datadir.join("chain"), args.node_cache_mib << 20)?;
    init_genesis(&db, &spec)?;
    eprintln!("bench-exec: genesis with {} accounts written in {:.1}s", args.accounts + args.block_txs, started.elapsed().as_secs_f64());

    // Pre-sign everything so signing is not measured.
    let started = Instant::now();
    let total_blocks = args.warmup_blocks + args.blocks;
    let mut blocks = Vec::with_capacity(total_blocks);
    let head = db.read()?.head_header()?;
    let mut base_fee = head.base_fee_per_gas.unwrap_or(0);
    let tx_gas: u64 = match args.workload {
        Workload::Transfer => 21_000,
        Workload::Erc20 => 60_000,
    };
    for block in 0..total_blocks {
        let mut txs = Vec::with_capacity(args.block_txs);
        for (i, signer) in senders.iter().enumerate() {
            let to = receiver((block * args.block_txs + i) * 7919 % args.accounts);
            let (kind, value, input, gas_limit) = match args.workload {
                Workload::Transfer => (TxKind::Call(to), U256::from(1u64), Bytes::new(), tx_gas),
                Workload::Erc20 => {
                    let mut data = Vec::with_capacity(68);
                    data.extend_from_slice(&keccak256("transfer(address,uint256)")[..4]);
                    data.extend_from_slice(B256::left_padding_from(to.as_slice()).as_slice());
                    data.extend_from_slice(&U256::from(1u64).to_be_bytes::<32>());
                    (TxKind::Call(TOKEN), U256::ZERO, Bytes::from(data), tx_gas)
                }
            };
            let tx = TxEip1559 {
                chain_id: spec.chain_id,
                nonce: block as u64,
                gas_limit,
                // Generous: base fees rise while blocks are over half full.
                max_fee_per_gas: u128::from(base_fee) * 4 + 1_000_000_000,
                max_priority_fee_per_gas: 1,
                to: kind,
                value,
                input,
                ..Default::default()
            };
            let signature = signer.sign_hash_sync(&tx.signature_hash())?;
            txs.push(Recovered::new_unchecked(TxEnvelope::Eip1559(tx.into_signed(signature)), signer.address()));
        }
        blocks.push(txs);
        base_fee = next_base_fee_at_most(base_fee, args.block_txs, tx_gas, head.gas_limit);
    }
    eprintln!("bench-exec: {} transactions signed in {:.1}s (not measured)", total_blocks * args.block_txs, started.elapsed().as_secs_f64());

    let mut tally = Tally::new(&db, args.warmup_blocks)?;
    let requests = (head.timestamp + 1..)
        .zip(blocks)
        .map(|(timestamp, transactions)| BlockRequest { timestamp, beneficiary: Address::ZERO, transactions, extra_data: Bytes::new() });
    if args.serial {
        for request in requests {
            let built = build_and_commit(&db, &spec, &request)?;
            let timings = built.timings;
            tally.record(&db, &built, timings)?;
        }
    } else {
        let mut pipeline = BlockPipeline::new(db.clone(), spec.clone());
        for request in requests {
            if let Some(landed) = pipeline.push(&request)? {
                tally.record(&db, &landed.block, landed.timings)?;
            }
        }
        if let Some(landed) = pipeline.finish()? {
            tally.record(&db, &landed.block, landed.timings)?;
        }
    }
    tally.report(&args);
    if args.datadir.is_none() {
        let _ = std::fs::remove_dir_all(&datadir);
    }
    Ok(())
}

/// Per-block figures, summed over the run. A block's "wall" time is the time since the
/// previous block landed: with the pipeline, execution of one block and the commit of the
/// one before it share that interval.
struct Tally {
    /// Warm-up blocks still to land before counting starts.
    warmup_left: usize,
    since: Instant,
    pages_before: PageStats,
    cache_before: NodeCacheStats,
    page_bytes: u64,
    blocks: usize,
    wall: f64,
    execute: f64,
    state_root: f64,
    commit: f64,
    flush: f64,
    root_ms: Vec<f64>,
    gas: u64,
    txs: usize,
    pages: u64,
    node_reads: u64,
    node_misses: u64,
}

impl Tally {
    fn new(db: &ChainDb, warmup_blocks: usize) -> anyhow::Result<Self> {
        let pages_before = db.page_stats()?;
        Ok(Self {
            warmup_left: warmup_blocks,
            since: Instant::now(),
            pages_before,
            cache_before: db.node_cache_stats(),
            page_bytes: pages_before.page_bytes,
            blocks: 0,
            wall: 0.0,
            execute: 0.0,
            state_root: 0.0,
            commit: 0.0,
            flush: 0.0,
            root_ms: Vec::new(),
            gas: 0,
            txs: 0,
            pages: 0,
            node_reads: 0,
            node_misses: 0,
        })
    }

    /// Counts a block that has just landed, and prints its line.
    fn record(&mut self, db: &ChainDb, built: &BuiltBlock, t: BuildTimings) -> anyhow::Result<()> {
        let wall = self.since.elapsed().as_secs_f64();
        self.since = Instant::now();
        let (pages_after, cache_after) = (db.page_stats()?, db.node_cache_stats());
        let pages = pages_after.dirtied_since(&self.pages_before);
        let (hits, misses) = (cache_after.hits - self.cache_before.hits, cache_after.misses - self.cache_before.misses);
        (self.pages_before, self.cache_before) = (pages_after, cache_after);
        anyhow::ensure!(built.skipped.is_empty(), "block {} left out transactions: {:?}", built.header.number, &built.skipped[..built.skipped.len().min(3)]);
        if self.warmup_left > 0 {
            self.warmup_left -= 1;
            if self.warmup_left % 10 == 0 {
                eprintln!("bench-exec: warm-up at block {}, {} to go (not measured)", built.header.number, self.warmup_left);
            }
            return Ok(());
        }
        self.blocks += 1;
        self.wall += wall;
        self.execute += t.execute.as_secs_f64();
        self.state_root += t.state_root.as_secs_f64();
        self.commit += t.commit.as_secs_f64();
        self.flush += t.flush.as_secs_f64();
        self.root_ms.push(t.state_root.as_secs_f64() * 1e3);
        self.gas += built.header.gas_used;
        self.txs += built.body.transactions.len();
        self.pages += pages;
        self.node_reads += hits + misses;
        self.node_misses += misses;
        eprintln!(
            "block {:>4}: {} txs, {:.1} Mgas, {:.1} ms (execute {:.1}, state root {:.1}, commit {:.1} of which flush {:.1}); {} pages written ({:.1} MiB), trie nodes read {} ({} not cached)",
            built.header.number,
            built.body.transactions.len(),
            built.header.gas_used as f64 / 1e6,
            wall * 1e3,
            t.execute.as_secs_f64() * 1e3,
            t.state_root.as_secs_f64() * 1e3,
            t.commit.as_secs_f64() * 1e3,
            t.flush.as_secs_f64() * 1e3,
            pages,
            (pages * self.page_bytes) as f64 / f64::from(1u32 << 20),
            hits + misses,
            misses
        );
        Ok(())
    }

    fn report(mut self, args: &BenchExecArgs) {
        self.root_ms.sort_by(f64::total_cmp);
        let p50 = self.root_ms[self.root_ms.len() / 2];
        let max = self.root_ms[self.root_ms.len() - 1];
        let per_block = |total: f64| total * 1e3 / self.blocks as f64;
        println!(
            "workload={:?} accounts={} blocks={} block_txs={} {}: {:.0} tx/s, {:.1} Mgas/s; per block: execute {:.1} ms, state root {:.1} ms (p50 {:.1}, max {:.1}), commit {:.1} ms (flush {:.1} ms); {:.0} pages written ({:.1} MiB), {:.0} trie nodes read ({:.0} not cached)",
            args.workload,
            args.accounts,
            self.blocks,
            args.block_txs,
            if args.serial { "serial" } else { "pipelined" },
            self.txs as f64 / self.wall,
            self.gas as f64 / 1e6 / self.wall,
            per_block(self.execute),
            per_block(self.state_root),
            p50,
            max,
            per_block(self.commit),
            per_block(self.flush),
            self.pages as f64 / self.blocks as f64,
            (self.pages * self.page_bytes) as f64 / f64::from(1u32 << 20) / self.blocks as f64,
            self.node_reads as f64 / self.blocks as f64,
            self.node_misses as f64 / self.blocks as f64
        );
    }
}

fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("stele-bench-exec-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// The base fee the next block carries at most: EIP-1559's rule for a block that uses all its
/// transactions' gas limits. (Assuming a full block every time made the fee caps of small
/// blocks outgrow the senders' balances after ~130 blocks.)
fn next_base_fee_at_most(base_fee: u64, block_txs: usize, tx_gas: u64, block_gas_limit: u64) -> u64 {
    let gas_bound = (block_txs as u64).saturating_mul(tx_gas).min(block_gas_limit);
    alloy_eips::calc_next_block_base_fee(gas_bound, block_gas_limit, base_fee, alloy_eips::eip1559::BaseFeeParams::ethereum())
}

#[cfg(test)]
mod tests {
    use super::next_base_fee_at_most;

    #[test]
    fn the_predicted_base_fee_rises_only_for_blocks_over_half_full() {
        let gwei = 1_000_000_000;
        // 1,000 ERC-20 transfers fill a 30M-gas block: +12.5 % a block, as EIP-1559 says.
        assert_eq!(next_base_fee_at_most(8 * gwei, 1_000, 60_000, 30_000_000), 9 * gwei);
        // 40 of them leave it far under its target: the fee falls, so 200 such blocks stay
        // payable.
        let mut fee = gwei;
        for _ in 0..200 {
            fee = next_base_fee_at_most(fee, 40, 60_000, 30_000_000);
        }
        assert!(fee < gwei / 100, "{fee}");
    }
}
