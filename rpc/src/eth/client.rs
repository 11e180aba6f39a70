//! Chain-wide facts: `eth_chainId`, `eth_blockNumber`, `eth_syncing` (a replica serves only
//! executed, final blocks, so it never reports a sync in progress to RPC callers),
//! `eth_accounts` (stele holds no user keys) and `eth_coinbase` (no etherbase: geth's error).

use jsonrpsee::RpcModule;
use serde_json::Value;

use super::{inline, format::quantity, head_number, EthCtx, EthError};
use crate::error::ModuleError;

pub(super) fn register(module: &mut RpcModule<EthCtx>) -> Result<(), ModuleError> {
    module.register_method("eth_chainId", |_, ctx, _| {
        Ok::<_, jsonrpsee::types::ErrorObjectOwned>(quantity(ctx.deps.spec.chain_id))
    })?;
    inline(module, "eth_blockNumber", |_, ctx| Ok(quantity(head_number(&ctx.read()?)?)))?;
    module.register_method("eth_syncing", |_, _, _| Ok::<_, jsonrpsee::types::ErrorObjectOwned>(false))?;
    module.register_method("eth_accounts", |_, _, _| {
        Ok::<_, jsonrpsee::types::ErrorObjectOwned>(Value::Array(vec![]))
    })?;
    module.register_method("eth_coinbase", |_, _, _| {
        Err::<Value, _>(jsonrpsee::types::ErrorObjectOwned::from(EthError::Execution(
            "etherbase must be explicitly specified".into(),
        )))
    })?;
    Ok(())
}
