//! The chain's fork identifier (EIP-2124, with EIP-6122's timestamp forks): the CRC32 of
//! the genesis hash and of every fork block and fork time passed, as peers and `eth_config`
//! (EIP-7910) report it.
//!
//! Which forks count follows geth's `forkid.gatherForks`, because the identifier is only
//! useful if every client derives the same one from the same genesis.json: every `*Block`
//! and `*Time` field of the config — including `eip155Block`, `daoForkBlock` and
//! `mergeNetsplitBlock`, which are not forks of their own in the schedule but are in the
//! hash — with duplicates, block 0 and times at or before genesis left out (alloy-eip2124's
//! [`ForkFilter`] does that part). The terminal total difficulty is not a fork block.

use alloy_genesis::ChainConfig;
use alloy_hardforks::{ForkFilter, ForkFilterKey, ForkHash, ForkId, Head};
use alloy_primitives::B256;

use crate::ChainSpec;

impl ChainSpec {
    /// The fork identifier of a node whose head is block `number` at `timestamp`, on the
    /// chain whose genesis block hash is `genesis_hash`.
    ///
    /// `number = u64::MAX` asks for the identifier once every block-numbered fork has
    /// passed, which is how a timestamp fork's identifier is stated ahead of time.
    pub fn fork_id(&self, genesis_hash: B256, number: u64, timestamp: u64) -> ForkId {
        let head = Head { number, timestamp, hash: genesis_hash, ..Default::default() };
        ForkFilter::new(head, genesis_hash, self.genesis.timestamp, fork_keys(&self.genesis.config)).current()
    }

    /// The `FORK_HASH` part of [`fork_id`](Self::fork_id) (what EIP-7910 reports).
    pub fn fork_hash(&self, genesis_hash: B256, number: u64, timestamp: u64) -> ForkHash {
        self.fork_id(genesis_hash, number, timestamp).hash
    }
}

/// Every fork block and fork time of the config that stele runs. `amsterdamTime` is
/// refused when the spec is built, so it cannot appear here.
fn fork_keys(config: &ChainConfig) -> Vec<ForkFilterKey> {
    let blocks = [
        config.homestead_block,
        config.dao_fork_block,
        config.eip150_block,
        config.eip155_block,
        config.eip158_block,
        config.byzantium_block,
        config.constantinople_block,
        config.petersburg_block,
        config.istanbul_block,
        config.muir_glacier_block,
        config.berlin_block,
        config.london_block,
        config.arrow_glacier_block,
        config.gray_glacier_block,
        config.merge_netsplit_block,
    ];
    let times = [
        config.shanghai_time,
        config.cancun_time,
        config.prague_time,
        config.osaka_time,
        config.bpo1_time,
        config.bpo2_time,
        config.bpo3_time,
        config.bpo4_time,
        config.bpo5_time,
    ];
    blocks
        .into_iter()
        .flatten()
        .map(ForkFilterKey::Block)
        .chain(times.into_iter().flatten().map(ForkFilterKey::Time))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::b256;

    /// The fixture chain's genesis hash (execution-apis `eth_getBlockByNumber/get-genesis.io`).
    const FIXTURE_GENESIS_HASH: B256 = b256!("44fd89d504659cd58f48f4796b77a7e7012cf296a2409afa2f6c3cb99b5b3d99");

    fn fixture_spec() -> ChainSpec {
        let shared = std::env::var("STELE_SHARED")
            .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared").to_string());
        let text = std::fs::read_to_string(format!("{shared}/conformance/execution-apis/genesis.json"))
            .expect("fixture genesis present");
        ChainSpec::from_genesis_json(&text).expect("fixture genesis is valid")
    }

    #[test]
    fn fixture_head_fork_id_matches_geth() {
        // execution-apis eth_config/get-config.io: head block 54 at time 540 (BPO2), no
        // fork after it.
        let id = fixture_spec().fork_id(FIXTURE_GENESIS_HASH, 54, 540);
        assert_eq!(id, ForkId { hash: ForkHash([0xe2, 0x72, 0xec, 0xbe]), next: 0 });
    }

    #[test]
    fn fork_id_moves_at_each_fork_and_names_the_next() {
        let spec = fixture_spec();
        let genesis = spec.fork_id(FIXTURE_GENESIS_HASH, 0, 0);
        assert_eq!(genesis.hash, ForkHash::from(FIXTURE_GENESIS_HASH));
        assert_eq!(genesis.next, 3, "eip150Block is the first fork after genesis");
        // eip155Block and eip158Block are both 6: one entry, not two.
        assert_eq!(spec.fork_id(FIXTURE_GENESIS_HASH, 6, 0).next, 9);
        // mergeNetsplitBlock counts as a fork block.
        assert_eq!(spec.fork_id(FIXTURE_GENESIS_HASH, 35, 350).next, 36);
        assert_eq!(spec.fork_id(FIXTURE_GENESIS_HASH, 36, 360).next, 390);
        let before_bpo2 = spec.fork_id(FIXTURE_GENESIS_HASH, u64::MAX, 539);
        assert_eq!(before_bpo2.next, 540);
        assert_ne!(before_bpo2.hash, spec.fork_hash(FIXTURE_GENESIS_HASH, u64::MAX, 540));
        // Stated ahead of time (all block forks passed) or at the real head: the same.
        assert_eq!(spec.fork_hash(FIXTURE_GENESIS_HASH, u64::MAX, 540), spec.fork_hash(FIXTURE_GENESIS_HASH, 54, 540));
    }

    #[test]
    fn forks_at_genesis_do_not_count() {
        // stele's dev chains run every fork from genesis: the identifier is the genesis
        // hash's CRC32 and nothing is scheduled.
        let spec = ChainSpec::from_genesis_json(
            r#"{"config":{"chainId":1337,"homesteadBlock":0,"eip150Block":0,"eip155Block":0,
                "eip158Block":0,"byzantiumBlock":0,"constantinopleBlock":0,"petersburgBlock":0,
                "istanbulBlock":0,"berlinBlock":0,"londonBlock":0,"terminalTotalDifficulty":0,
                "shanghaiTime":0,"cancunTime":0,"pragueTime":0,"osakaTime":0},
                "gasLimit":"0x1c9c380","difficulty":"0x0","alloc":{}}"#,
        )
        .expect("valid genesis");
        let hash = B256::repeat_byte(7);
        assert_eq!(spec.fork_id(hash, 10, 100), ForkId { hash: ForkHash::from(hash), next: 0 });
    }
}
