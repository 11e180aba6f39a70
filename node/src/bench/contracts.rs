//! The contracts the workloads call: init code compiled from tests/bench/contracts/*.sol
//! (see build.mjs there) and their ABIs, declared with `sol!` so calldata is encoded by
//! alloy-sol-types.

use alloy_primitives::{hex, Bytes};

alloy_sol_types::sol! {
    /// tests/bench/contracts/LoadToken.sol
    interface LoadToken {
        function transfer(address to, uint256 value) external returns (bool);
        function mintBatch(address[] calldata holders, uint256 value) external;
        function balanceOf(address holder) external view returns (uint256);
        function totalSupply() external view returns (uint256);
    }

    /// tests/bench/contracts/OpenAccount.sol (Caliper "simple", `open`)
    interface OpenAccount {
        function open(bytes32 account, uint256 money) external;
    }
}

const LOAD_TOKEN_INIT_HEX: &str = include_str!("../../../tests/bench/contracts/LoadToken.bin");
const OPEN_ACCOUNT_INIT_HEX: &str = include_str!("../../../tests/bench/contracts/OpenAccount.bin");

/// Which contract to deploy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Contract {
    /// The ERC-20 of `--workload erc20`.
    LoadToken,
    /// The storage-growing contract of `--workload open-account`.
    OpenAccount,
}

impl Contract {
    /// The init code (constructor + runtime) to put in a create transaction.
    pub(crate) fn init_code(self) -> Result<Bytes, hex::FromHexError> {
        let text = match self {
            Self::LoadToken => LOAD_TOKEN_INIT_HEX,
            Self::OpenAccount => OPEN_ACCOUNT_INIT_HEX,
        };
        hex::decode(text.trim()).map(Bytes::from)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn init_code_decodes() {
        assert!(super::Contract::LoadToken.init_code().unwrap().len() > 100);
        assert!(super::Contract::OpenAccount.init_code().unwrap().len() > 100);
    }
}
