//! The chain specification: a geth-format `genesis.json` turned into the fork schedule,
//! chain id, blob schedule and fee rules that execution needs.
//!
//! Forks are activated by block number up to the merge and by timestamp after it, exactly
//! as geth reads the same file, so a chain made by geth replays here block for block.

use alloy_consensus::{constants::EMPTY_OMMER_ROOT_HASH, Header, EMPTY_ROOT_HASH};
use alloy_eips::{
    eip1559::{BaseFeeParams, INITIAL_BASE_FEE},
    eip7685::EMPTY_REQUESTS_HASH,
    eip7840::BlobParams,
    eip7892::BlobScheduleBlobParams,
};
use alloy_evm::eth::spec::EthExecutorSpec;
use alloy_genesis::Genesis;
use alloy_hardforks::{EthereumHardfork, EthereumHardforks, ForkCondition};
use alloy_primitives::{Address, B256, U256};
use std::path::Path;

/// The key in genesis.json's `config` that turns on stele's free-gas chain.
pub const FREE_GAS_CONFIG_KEY: &str = "steleFreeGas";

/// How the base fee of a block is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeeRules {
    /// EIP-1559 as on mainnet once London is active.
    Ethereum,
    /// stele's permissioned option: the base fee stays at 0 for ever, so gas is free.
    Free,
}

/// Everything wrong with a genesis file that stops a chain from being defined.
#[derive(Debug, thiserror::Error)]
pub enum ChainSpecError {
    /// The file could not be read.
    #[error("cannot read genesis file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a geth genesis document.
    #[error("malformed genesis file {path}: {source}")]
    Parse {
        /// The file.
        path: String,
        /// What serde said, with line and column.
        source: serde_json::Error,
    },
    /// A field has a value stele cannot run with.
    #[error("invalid genesis: {0}")]
    Invalid(String),
}

/// A chain's rules: chain id, fork schedule, blob schedule, fee rules and its genesis.
#[derive(Debug, Clone)]
pub struct ChainSpec {
    /// EIP-155 chain id.
    pub chain_id: u64,
    /// The genesis document, alloc included.
    pub genesis: Genesis,
    /// The fee rules.
    pub fee_rules: FeeRules,
    forks: Vec<(EthereumHardfork, ForkCondition)>,
    blob_schedule: BlobScheduleBlobParams,
    deposit_contract: Option<Address>,
}

impl ChainSpec {
    /// Reads and checks a genesis file.
    pub fn from_genesis_file(path: &Path) -> Result<Self, ChainSpecError> {
        let display = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|source| ChainSpecError::Read { path: display.clone(), source })?;
        Self::from_genesis_json(&text).map_err(|err| match err {
            ChainSpecError::Parse { source, .. } => ChainSpecError::Parse { path: display, source },
            other => other,
        })
    }

    /// Parses and checks a genesis document.
    pub fn from_genesis_json(text: &str) -> Result<Self, ChainSpecError> {
        let genesis: Genesis = serde_json::from_str(text)
            .map_err(|source| ChainSpecError::Parse { path: "<json>".into(), source })?;
        Self::from_genesis(genesis)
    }

    /// Builds the spec from a parsed genesis.
    pub fn from_genesis(genesis: Genesis) -> Result<Self, ChainSpecError> {
        let config = &genesis.config;
        if config.chain_id == 0 {
            return Err(ChainSpecError::Invalid("config.chainId must be set and non-zero".into()));
        }
        if genesis.gas_limit == 0 {
            return Err(ChainSpecError::Invalid("gasLimit must be non-zero".into()));
        }
        let block = |b: Option<u64>| b.map_or(ForkCondition::Never, ForkCondition::Block);
        let time = |t: Option<u64>| t.map_or(ForkCondition::Never, ForkCondition::Timestamp);
        let paris = match config.terminal_total_difficulty {
            None => ForkCondition::Never,
            Some(ttd) => {
                let activation_block_number = match config.merge_netsplit_block {
                    Some(n) => n,
                    None if ttd.is_zero() => 0,
                    None => {
                        return Err(ChainSpecError::Invalid(
                            "terminalTotalDifficulty > 0 needs mergeNetsplitBlock: stele does \
                             not track total difficulty"
                                .into(),
                        ));
                    }
                };
                ForkCondition::TTD { activation_block_number, fork_block: None, total_difficulty: ttd }
            }
        };
        let dao = if config.dao_fork_support { block(config.dao_fork_block) } else { ForkCondition::Never };
        let forks = vec![
            (EthereumHardfork::Frontier, ForkCondition::Block(0)),
            (EthereumHardfork::Homestead, block(config.homestead_block)),
            (EthereumHardfork::Dao, dao),
            (EthereumHardfork::Tangerine, block(config.eip150_block)),
            (EthereumHardfork::SpuriousDragon, block(config.eip158_block)),
            (EthereumHardfork::Byzantium, block(config.byzantium_block)),
            (EthereumHardfork::Constantinople, block(config.constantinople_block)),
            (EthereumHardfork::Petersburg, block(config.petersburg_block)),
            (EthereumHardfork::Istanbul, block(config.istanbul_block)),
            (EthereumHardfork::MuirGlacier, block(config.muir_glacier_block)),
            (EthereumHardfork::Berlin, block(config.berlin_block)),
            (EthereumHardfork::London, block(config.london_block)),
            (EthereumHardfork::ArrowGlacier, block(config.arrow_glacier_block)),
            (EthereumHardfork::GrayGlacier, block(config.gray_glacier_block)),
            (EthereumHardfork::Paris, paris),
            (EthereumHardfork::Shanghai, time(config.shanghai_time)),
            (EthereumHardfork::Cancun, time(config.cancun_time)),
            (EthereumHardfork::Prague, time(config.prague_time)),
            (EthereumHardfork::Osaka, time(config.osaka_time)),
            (EthereumHardfork::Bpo1, time(config.bpo1_time)),
            (EthereumHardfork::Bpo2, time(config.bpo2_time)),
            (EthereumHardfork::Bpo3, time(config.bpo3_time)),
            (EthereumHardfork::Bpo4, time(config.bpo4_time)),
            (EthereumHardfork::Bpo5, time(config.bpo5_time)),
        ];
        if config.amsterdam_time.is_some() {
            return Err(ChainSpecError::Invalid("amsterdamTime is not supported yet".into()));
        }
        let mut blob_schedule = config.blob_schedule_blob_params();
        // geth falls back to the EIP defaults when a fork is active but has no entry.
        if !config.blob_schedule.contains_key("cancun") {
            blob_schedule.cancun = BlobParams::cancun();
        }
        if !config.blob_schedule.contains_key("prague") {
            blob_schedule.prague = BlobParams::prague();
        }
        if !config.blob_schedule.contains_key("osaka") {
            blob_schedule.osaka = BlobParams::osaka();
        }
        let free_gas = config
            .extra_fields
            .get(FREE_GAS_CONFIG_KEY)
            .map(|v| v.as_bool().ok_or_else(|| {
                ChainSpecError::Invalid(format!("config.{FREE_GAS_CONFIG_KEY} must be true or false"))
            }))
            .transpose()?
            .unwrap_or(false);
        Ok(Self {
            chain_id: config.chain_id,
            fee_rules: if free_gas { FeeRules::Free } else { FeeRules::Ethereum },
            forks,
            blob_schedule,
            deposit_contract: config.deposit_contract_address,
            genesis,
        })
    }

    /// The blob parameters in force at `timestamp`, or `None` before Cancun.
    pub fn blob_params_at(&self, timestamp: u64) -> Option<BlobParams> {
        if let Some(params) = self.blob_schedule.active_scheduled_params_at_timestamp(timestamp) {
            return Some(*params);
        }
        if self.is_osaka_active_at_timestamp(timestamp) {
            Some(self.blob_schedule.osaka)
        } else if self.is_prague_active_at_timestamp(timestamp) {
            Some(self.blob_schedule.prague)
        } else if self.is_cancun_active_at_timestamp(timestamp) {
            Some(self.blob_schedule.cancun)
        } else {
            None
        }
    }

    /// The activation times of the forks scheduled by timestamp (Shanghai onwards, the
    /// blob-parameter-only forks included), ascending, each once: the moments at which the
    /// rules change after the merge (EIP-7910 reports one configuration per such moment).
    pub fn fork_times(&self) -> Vec<u64> {
        let mut times: Vec<u64> = self
            .forks
            .iter()
            .filter_map(|(_, condition)| match condition {
                ForkCondition::Timestamp(time) => Some(*time),
                _ => None,
            })
            .collect();
        times.sort_unstable();
        times.dedup();
        times
    }

    /// The base fee a child of `parent` must carry, or `None` before London.
    pub fn next_base_fee(&self, parent: &Header) -> Option<u64> {
        let number = parent.number + 1;
        if !self.is_london_active_at_block(number) {
            return None;
        }
        if self.fee_rules == FeeRules::Free {
            return Some(0);
        }
        match parent.base_fee_per_gas {
            // The first London block (EIP-1559: INITIAL_BASE_FEE).
            None => Some(INITIAL_BASE_FEE),
            Some(_) => parent.next_block_base_fee(BaseFeeParams::ethereum()),
        }
    }

    /// The genesis block header. Its state root comes from the caller, who built the
    /// genesis state in the database.
    pub fn genesis_header(&self, state_root: B256) -> Header {
        let g = &self.genesis;
        let london = self.is_london_active_at_block(0);
        let shanghai = self.is_shanghai_active_at_timestamp(g.timestamp);
        let cancun = self.is_cancun_active_at_timestamp(g.timestamp);
        let prague = self.is_prague_active_at_timestamp(g.timestamp);
        let base_fee = match (london, self.fee_rules) {
            (false, _) => None,
            (true, FeeRules::Free) => Some(0),
            (true, FeeRules::Ethereum) => Some(
                g.base_fee_per_gas.map_or(INITIAL_BASE_FEE, |fee| u64::try_from(fee).unwrap_or(u64::MAX)),
            ),
        };
        Header {
            parent_hash: B256::ZERO,
            ommers_hash: EMPTY_OMMER_ROOT_HASH,
            beneficiary: g.coinbase,
            state_root,
            transactions_root: EMPTY_ROOT_HASH,
            receipts_root: EMPTY_ROOT_HASH,
            logs_bloom: Default::default(),
            difficulty: g.difficulty,
            number: 0,
            gas_limit: g.gas_limit,
            gas_used: 0,
            timestamp: g.timestamp,
            extra_data: g.extra_data.clone(),
            mix_hash: g.mix_hash,
            nonce: g.nonce.into(),
            base_fee_per_gas: base_fee,
            withdrawals_root: shanghai.then_some(EMPTY_ROOT_HASH),
            blob_gas_used: cancun.then(|| g.blob_gas_used.unwrap_or(0)),
            excess_blob_gas: cancun.then(|| g.excess_blob_gas.unwrap_or(0)),
            parent_beacon_block_root: cancun.then_some(B256::ZERO),
            requests_hash: prague.then_some(EMPTY_REQUESTS_HASH),
            ..Default::default()
        }
    }

    /// The total difficulty is not tracked; this only says whether proof-of-work rules
    /// (block rewards, difficulty) still apply at `number`.
    pub fn is_pre_merge(&self, number: u64) -> bool {
        !self.is_paris_active_at_block(number)
    }

    /// The balance stele gives an account in the genesis alloc, for tests and tools.
    pub fn genesis_balance(&self, address: &Address) -> U256 {
        self.genesis.alloc.get(address).map_or(U256::ZERO, |a| a.balance)
    }
}

impl EthereumHardforks for ChainSpec {
    fn ethereum_fork_activation(&self, fork: EthereumHardfork) -> ForkCondition {
        self.forks.iter().find(|(f, _)| *f == fork).map_or(ForkCondition::Never, |(_, c)| *c)
    }
}

impl EthExecutorSpec for ChainSpec {
    fn deposit_contract_address(&self) -> Option<Address> {
        self.deposit_contract
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> String {
        let shared = std::env::var("STELE_SHARED")
            .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared").to_string());
        std::fs::read_to_string(format!("{shared}/conformance/execution-apis/genesis.json")).expect("fixture genesis present")
    }

    #[test]
    fn fixture_schedule_matches_forkenv() {
        let spec = ChainSpec::from_genesis_json(&fixture()).unwrap();
        assert_eq!(spec.chain_id, 3503995874084926);
        assert!(!spec.is_byzantium_active_at_block(8));
        assert!(spec.is_byzantium_active_at_block(9));
        assert!(spec.is_pre_merge(35));
        assert!(!spec.is_pre_merge(36));
        assert!(spec.is_osaka_active_at_timestamp(480));
        assert_eq!(spec.blob_params_at(420).unwrap().max_blob_count, 6);
        assert_eq!(spec.blob_params_at(515).unwrap().max_blob_count, 15);
        assert_eq!(spec.blob_params_at(545).unwrap().target_blob_count, 14);
        assert!(spec.blob_params_at(419).is_none());
        assert_eq!(spec.fork_times(), vec![390, 420, 450, 480, 510, 540]);
    }

    #[test]
    fn malformed_genesis_is_a_clear_error() {
        let err = ChainSpec::from_genesis_json("{ not json").unwrap_err();
        assert!(matches!(err, ChainSpecError::Parse { .. }), "{err}");
        let err = ChainSpec::from_genesis_json(r#"{"config":{"chainId":0},"gasLimit":"0x1"}"#)
            .unwrap_err();
        assert!(err.to_string().contains("chainId"), "{err}");
    }
}
