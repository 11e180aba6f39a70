//! The dev accounts: the standard "test test ... junk" mnemonic, the same keys anvil,
//! Hardhat and Foundry use, so every tutorial's private key works.

use alloy_primitives::Address;
use alloy_signer_local::{MnemonicBuilder, PrivateKeySigner, coins_bip39::English};

/// The mnemonic every Ethereum dev tool ships with.
pub(crate) const DEV_MNEMONIC: &str = "test test test test test test test test test test test junk";
/// How many accounts are funded.
pub(crate) const DEV_ACCOUNT_COUNT: u32 = 10;

/// One funded dev account.
#[derive(Debug, Clone)]
pub(crate) struct DevAccount {
    pub(crate) address: Address,
    pub(crate) private_key_hex: String,
}

/// The dev accounts at m/44'/60'/0'/0/i.
pub(crate) fn dev_accounts() -> anyhow::Result<Vec<DevAccount>> {
    (0..DEV_ACCOUNT_COUNT)
        .map(|index| {
            let signer: PrivateKeySigner =
                MnemonicBuilder::<English>::default().phrase(DEV_MNEMONIC).index(index)?.build()?;
            Ok(DevAccount {
                address: signer.address(),
                private_key_hex: format!("0x{}", alloy_primitives::hex::encode(signer.to_bytes())),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn first_account_is_the_well_known_one() {
        let accounts = super::dev_accounts().unwrap();
        assert_eq!(accounts[0].address.to_string(), "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
        assert_eq!(accounts.len(), 10);
    }
}
