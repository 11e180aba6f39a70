//! The `web3_` namespace: `web3_clientVersion` (web3.py's `is_connected` calls it) and
//! `web3_sha3`. Neither needs the chain.

use alloy_primitives::{hex, keccak256};
use jsonrpsee::{RpcModule, types::ErrorObjectOwned};

use crate::error::{ModuleError, invalid_argument};

/// `stele/v<version>/<target triple>`, in geth's `Geth/v1.x/linux-amd64/…` shape so tools
/// that parse the client name find the product first and the version second.
pub fn client_version() -> String {
    format!("stele/v{}/{}", env!("CARGO_PKG_VERSION"), env!("STELE_RPC_TARGET"))
}

/// keccak256 of a `0x`-prefixed hex string, as geth's `web3_sha3`: the prefix is required
/// and an odd number of digits is an error (geth's hexutil rules).
pub fn sha3_hex(input: &str) -> Result<String, ErrorObjectOwned> {
    let digits = input
        .strip_prefix("0x")
        .or_else(|| input.strip_prefix("0X"))
        .ok_or_else(|| invalid_argument(0, "hex string without 0x prefix"))?;
    if digits.len() % 2 == 1 {
        return Err(invalid_argument(0, "hex string of odd length"));
    }
    let bytes = hex::decode(digits).map_err(|e| invalid_argument(0, e))?;
    Ok(keccak256(bytes).to_string())
}

/// The `web3_` methods as a module.
pub fn module() -> Result<RpcModule<()>, ModuleError> {
    let mut module = RpcModule::new(());
    let version = client_version();
    module.register_method("web3_clientVersion", move |_, _, _| {
        Ok::<_, ErrorObjectOwned>(version.clone())
    })?;
    module.register_method("web3_sha3", |params, _, _| {
        let (input,): (String,) =
            params.parse().map_err(|e: ErrorObjectOwned| invalid_argument(0, e.message()))?;
        sha3_hex(&input)
    })?;
    Ok(module)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn sha3_matches_known_vectors() {
        // keccak256("") and keccak256(0x68656c6c6f20776f726c64 = "hello world").
        assert_eq!(
            sha3_hex("0x").unwrap(),
            "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
        );
        assert_eq!(
            sha3_hex("0x68656c6c6f20776f726c64").unwrap(),
            "0x47173285a8d7341e5e972fc677286384f802f8ef42a5ec5f03bbfa254cb01fad"
        );
    }

    #[test]
    fn sha3_rejects_bad_hex() {
        for bad in ["68656c", "0x6", "0xzz"] {
            let err = sha3_hex(bad).unwrap_err();
            assert_eq!(err.code(), crate::error::INVALID_PARAMS_CODE, "{bad}");
            assert!(err.message().starts_with("invalid argument 0"), "{}", err.message());
        }
    }

    #[test]
    fn version_names_the_product_first() {
        let v = client_version();
        assert!(v.starts_with(concat!("stele/v", env!("CARGO_PKG_VERSION"), "/")), "{v}");
        assert!(v.ends_with(std::env::consts::OS) || v.contains(std::env::consts::OS), "{v}");
        assert!(v.contains(std::env::consts::ARCH), "{v}");
    }
}
