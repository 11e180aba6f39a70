//! `eth_config` (EIP-7910): the rules this node runs now (`current`), the rules it will
//! run from the next scheduled fork (`next`) and from the last one it knows of (`last`),
//! so an operator can compare nodes before a fork boundary instead of finding a
//! misconfiguration when the chain splits.
//!
//! Every value is taken from what execution itself uses, not restated: the fork schedule
//! and blob schedule from the [`ChainSpec`], the EVM revision from alloy-evm's
//! `spec_by_timestamp_and_block_number` (what `EvmEnv::for_eth_block` picks for a block),
//! the precompiles from revm's table for that revision (the table `EthEvmFactory`
//! installs, with the EIP-7910 names revm gives them), the system contracts from
//! alloy-eips' EIP-7910 list, with the deposit contract the executor parses requests from,
//! and the fork id from [`ChainSpec::fork_hash`] (EIP-2124/6122, counted as geth counts it).
//!
//! A configuration is one moment of the timestamp fork schedule; forks sharing a time
//! make one configuration, and BPO forks are configurations of their own (EIP-7910 "Blob
//! Parameter Only Forks"). `next` and `last` are `null` when nothing is scheduled after the
//! head, and equal when one fork is. Before Cancun EIP-7910 leaves the answer
//! non-standard; stele then answers as geth does: `blobSchedule` null, no system
//! contracts, and activation time 0 before the first timestamp fork.

use std::collections::BTreeMap;

use alloy_eips::{eip7840::BlobParams, eip7910::SystemContract};
use alloy_evm::{eth::spec::EthExecutorSpec, spec_by_timestamp_and_block_number};
use alloy_primitives::{Address, FixedBytes, B256, U64};
use jsonrpsee::RpcModule;
use revm::{
    precompile::{PrecompileSpecId, Precompiles},
    primitives::hardfork::SpecId,
};
use serde::Serialize;
use stele_evm::ChainSpec;

use super::{block_hash, inline, EthCtx, EthError};
use crate::error::ModuleError;

/// The `eth_config` answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct EthConfig {
    /// The rules of the head block.
    pub(crate) current: ForkConfig,
    /// The rules from the first fork scheduled after the head.
    pub(crate) next: Option<ForkConfig>,
    /// The rules from the last scheduled fork; `None` when `next` is.
    pub(crate) last: Option<ForkConfig>,
}

/// One configuration, with EIP-7910's members in its (alphabetical) order.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ForkConfig {
    /// When the configuration starts (Unix seconds); 0 if it is in force from genesis.
    pub(crate) activation_time: u64,
    /// Target, max and update fraction; `None` (JSON null) before Cancun.
    pub(crate) blob_schedule: Option<BlobParams>,
    /// EIP-155 chain id, as a compact hex quantity.
    pub(crate) chain_id: U64,
    /// The EIP-6122 `FORK_HASH` of the configuration.
    pub(crate) fork_id: FixedBytes<4>,
    /// Precompile name (EIP-7910's) to address.
    pub(crate) precompiles: BTreeMap<String, Address>,
    /// System contract name to address; empty before Cancun.
    pub(crate) system_contracts: BTreeMap<SystemContract, Address>,
}

/// The configurations of a node whose head block is `head_number` at `head_timestamp`, on
/// the chain of `spec` whose genesis block hash is `genesis_hash`.
pub(crate) fn eth_config(spec: &ChainSpec, genesis_hash: B256, head_number: u64, head_timestamp: u64) -> EthConfig {
    let times = spec.fork_times();
    let activated = times.iter().rev().find(|time| **time <= head_timestamp).copied();
    let scheduled = times.iter().find(|time| **time > head_timestamp).copied();
    let current = fork_config(
        spec,
        genesis_hash,
        Moment { number: head_number, timestamp: head_timestamp, activation: activated.unwrap_or(0) },
    );
    // A fork announced ahead of time is stated as if every block-numbered fork had passed
    // by then (geth does the same): after the merge none is left, and before it the block
    // at which a timestamp will be reached is unknown.
    let at_fork = |time: u64| fork_config(spec, genesis_hash, Moment { number: u64::MAX, timestamp: time, activation: time });
    let next = scheduled.map(at_fork);
    let last = scheduled.and(times.last().copied()).map(at_fork);
    EthConfig { current, next, last }
}

/// The block, time and reported activation time a configuration is built for.
#[derive(Debug, Clone, Copy)]
struct Moment {
    number: u64,
    timestamp: u64,
    activation: u64,
}

fn fork_config(spec: &ChainSpec, genesis_hash: B256, at: Moment) -> ForkConfig {
    let revision = spec_by_timestamp_and_block_number(spec, at.timestamp, at.number);
    let precompiles = Precompiles::new(PrecompileSpecId::from_spec_id(revision))
        .inner()
        .values()
        .map(|precompile| (precompile.id().name().to_string(), *precompile.address()))
        .collect();
    let mut system_contracts = BTreeMap::new();
    if revision.is_enabled_in(SpecId::CANCUN) {
        system_contracts.extend(SystemContract::cancun());
    }
    if revision.is_enabled_in(SpecId::PRAGUE) {
        // The same fallback (mainnet's deposit contract when genesis names none) that
        // alloy-evm applies when it parses deposit requests, so the answer is what runs.
        system_contracts.extend(SystemContract::prague(spec.deposit_contract_address()));
    }
    ForkConfig {
        // EIP-7910: a fork active at genesis reports 0, whatever the genesis time.
        activation_time: if at.activation <= spec.genesis.timestamp { 0 } else { at.activation },
        blob_schedule: spec.blob_params_at(at.timestamp),
        chain_id: U64::from(spec.chain_id),
        fork_id: FixedBytes(spec.fork_hash(genesis_hash, at.number, at.timestamp).0),
        precompiles,
        system_contracts,
    }
}

pub(super) fn register(module: &mut RpcModule<EthCtx>) -> Result<(), ModuleError> {
    // Two point reads (the head header, the genesis hash): inline, like eth_blockNumber.
    inline(module, "eth_config", |_, ctx| {
        let tx = ctx.read()?;
        let head = tx.head_header()?;
        let genesis = tx.header(0)?.ok_or_else(|| EthError::NotFound("genesis header not found".into()))?;
        let genesis_hash = block_hash(&tx, 0, &genesis)?;
        Ok(eth_config(&ctx.deps.spec, genesis_hash, head.number, head.timestamp))
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::b256;
    use serde_json::Value;

    /// The fixture chain's genesis hash (execution-apis `eth_getBlockByNumber/get-genesis.io`).
    const FIXTURE_GENESIS_HASH: B256 = b256!("44fd89d504659cd58f48f4796b77a7e7012cf296a2409afa2f6c3cb99b5b3d99");

    fn fixtures() -> String {
        let shared = std::env::var("STELE_SHARED")
            .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared").to_string());
        format!("{shared}/conformance/execution-apis")
    }

    fn fixture_spec() -> ChainSpec {
        ChainSpec::from_genesis_file(std::path::Path::new(&format!("{}/genesis.json", fixtures())))
            .expect("fixture genesis present and valid")
    }

    fn json(config: &impl Serialize) -> Value {
        serde_json::to_value(config).expect("plain data serialises")
    }

    #[test]
    fn fixture_head_answers_exactly_the_recorded_reply() {
        let io = std::fs::read_to_string(format!("{}/eth_config/get-config.io", fixtures())).expect("fixture present");
        let recorded = io.lines().find_map(|line| line.strip_prefix("<< ")).expect("a reply line");
        let recorded: Value = serde_json::from_str(recorded).expect("reply is JSON");
        // Head of the fixture chain: block 54 at time 540 (get-latest.io).
        let got = json(&eth_config(&fixture_spec(), FIXTURE_GENESIS_HASH, 54, 540));
        assert_eq!(got, recorded["result"]);
    }

    #[test]
    fn a_scheduled_fork_fills_next_and_last() {
        // Head at 500: Osaka (480) is current, BPO1 (510) next, BPO2 (540) last.
        let config = eth_config(&fixture_spec(), FIXTURE_GENESIS_HASH, 50, 500);
        let next = config.next.expect("BPO1 is scheduled");
        let last = config.last.expect("BPO2 is scheduled");
        assert_eq!(config.current.activation_time, 480);
        assert_eq!((next.activation_time, last.activation_time), (510, 540));
        let blobs = |c: &ForkConfig| c.blob_schedule.map(|b| (b.target_blob_count, b.max_blob_count));
        assert_eq!(blobs(&config.current), Some((6, 9)));
        assert_eq!(blobs(&next), Some((10, 15)));
        // A BPO fork changes the blob schedule only: same precompiles and system contracts.
        assert_eq!(next.precompiles, config.current.precompiles);
        assert_eq!(next.system_contracts, config.current.system_contracts);
        assert_ne!(next.fork_id, config.current.fork_id);
        assert_eq!(json(&config.current)["precompiles"]["P256VERIFY"], "0x0000000000000000000000000000000000000100");

        // One fork left: next and last are the same configuration.
        let config = eth_config(&fixture_spec(), FIXTURE_GENESIS_HASH, 53, 520);
        assert_eq!(config.next, config.last);
        assert_eq!(config.next.map(|c| c.activation_time), Some(540));
    }

    #[test]
    fn before_cancun_there_is_no_blob_schedule_or_system_contract() {
        // Head at 400: Shanghai (390); Cancun comes at 420.
        let config = eth_config(&fixture_spec(), FIXTURE_GENESIS_HASH, 40, 400);
        let current = json(&config.current);
        assert_eq!(current["activationTime"], 390);
        assert_eq!(current["blobSchedule"], Value::Null);
        assert_eq!(current["systemContracts"], serde_json::json!({}));
        assert!(current["precompiles"].get("KZG_POINT_EVALUATION").is_none());
        assert_eq!(current["precompiles"].as_object().map(|p| p.len()), Some(9));
        let next = json(config.next.as_ref().expect("Cancun is scheduled"));
        assert_eq!(next["precompiles"]["KZG_POINT_EVALUATION"], "0x000000000000000000000000000000000000000a");
        assert_eq!(next["systemContracts"]["BEACON_ROOTS_ADDRESS"], "0x000f3df6d732807ef1319fb7b8bb8522d0beac02");
    }

    #[test]
    fn all_forks_at_genesis_report_activation_zero() {
        let spec = ChainSpec::from_genesis_json(
            r#"{"config":{"chainId":1337,"homesteadBlock":0,"eip150Block":0,"eip155Block":0,
                "eip158Block":0,"byzantiumBlock":0,"constantinopleBlock":0,"petersburgBlock":0,
                "istanbulBlock":0,"berlinBlock":0,"londonBlock":0,"terminalTotalDifficulty":0,
                "shanghaiTime":0,"cancunTime":0,"pragueTime":0,"osakaTime":0},
                "timestamp":"0x10","gasLimit":"0x1c9c380","difficulty":"0x0","alloc":{}}"#,
        )
        .expect("valid genesis");
        let config = eth_config(&spec, B256::repeat_byte(1), 7, 1_000);
        assert_eq!(config.current.activation_time, 0);
        assert_eq!((&config.next, &config.last), (&None, &None));
        // No deposit contract in genesis: the one the executor falls back to is reported.
        assert_eq!(
            config.current.system_contracts.get(&SystemContract::DepositContract),
            Some(&alloy_eips::eip6110::MAINNET_DEPOSIT_CONTRACT_ADDRESS)
        );
        assert_eq!(json(&config)["current"]["chainId"], "0x539");
    }
}
