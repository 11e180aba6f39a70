//! The embedded dev genesis: every fork through Osaka active from block 0, EIP-1559 fees,
//! a 30M gas limit like anvil, and 10,000 ETH for each dev account.

use super::accounts::DevAccount;
use alloy_genesis::{Genesis, GenesisAccount};
use alloy_primitives::U256;

/// The dev chain id (hardware wallets and MetaMask know 1337 as a local chain).
pub(crate) const DEV_CHAIN_ID: u64 = 1337;
/// Block gas limit.
pub(crate) const DEV_GAS_LIMIT: u64 = 30_000_000;

/// The dev genesis document as JSON (written into the datadir so `serve` can read it).
pub(crate) fn dev_genesis(chain_id: u64, accounts: &[DevAccount]) -> anyhow::Result<Genesis> {
    let mut genesis: Genesis = serde_json::from_value(serde_json::json!({
        "config": {
            "chainId": chain_id,
            "homesteadBlock": 0, "eip150Block": 0, "eip155Block": 0, "eip158Block": 0,
            "byzantiumBlock": 0, "constantinopleBlock": 0, "petersburgBlock": 0,
            "istanbulBlock": 0, "berlinBlock": 0, "londonBlock": 0,
            "mergeNetsplitBlock": 0, "terminalTotalDifficulty": 0,
            "shanghaiTime": 0, "cancunTime": 0, "pragueTime": 0, "osakaTime": 0,
            "depositContractAddress": "0x0000000000000000000000000000000000000000"
        },
        "nonce": "0x0",
        "timestamp": "0x0",
        "gasLimit": format!("{DEV_GAS_LIMIT:#x}"),
        "difficulty": "0x0",
        "alloc": {}
    }))?;
    let balance = U256::from(10_000u64) * U256::from(10u64).pow(U256::from(18u64));
    // The system contracts Cancun and Prague call every block (EIP-4788, EIP-2935,
    // EIP-7002, EIP-7251), with nonce 1 as geth's developer genesis has them.
    let system = [
        (alloy_eips::eip4788::BEACON_ROOTS_ADDRESS, &alloy_eips::eip4788::BEACON_ROOTS_CODE),
        (alloy_eips::eip2935::HISTORY_STORAGE_ADDRESS, &alloy_eips::eip2935::HISTORY_STORAGE_CODE),
        (alloy_eips::eip7002::WITHDRAWAL_REQUEST_PREDEPLOY_ADDRESS, &alloy_eips::eip7002::WITHDRAWAL_REQUEST_PREDEPLOY_CODE),
        (alloy_eips::eip7251::CONSOLIDATION_REQUEST_PREDEPLOY_ADDRESS, &alloy_eips::eip7251::CONSOLIDATION_REQUEST_PREDEPLOY_CODE),
    ];
    for (address, code) in system {
        genesis.alloc.insert(address, GenesisAccount { nonce: Some(1), code: Some(code.clone()), ..Default::default() });
    }
    for account in accounts {
        genesis.alloc.insert(account.address, GenesisAccount { balance, ..Default::default() });
    }
    Ok(genesis)
}
