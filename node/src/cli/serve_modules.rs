//! The chain namespaces (`eth_`, `debug_`, `txpool_`) merged into a server's modules, shared
//! by `stele up` and `stele serve`.

use crate::dev::node::DevNode;
use std::sync::Arc;
use stele_rpc::{
    eth::{EthDeps, EthLimits},
    RpcModules,
};

/// Adds `eth_`, `debug_` and `txpool_` (when there is a pool) to `modules`.
pub(crate) fn merge_chain_namespaces(mut modules: RpcModules, deps: EthDeps) -> anyhow::Result<RpcModules> {
    if let Some(pool) = deps.pool.clone() {
        modules.merge(stele_rpc::txpool::module(pool)?)?;
    }
    modules.merge(stele_rpc::debug::module(deps.clone())?)?;
    modules.merge(stele_rpc::eth::module(deps)?)?;
    Ok(modules)
}

/// The chain namespaces of a dev node, with default limits.
pub(crate) fn with_chain_namespaces(modules: RpcModules, node: &Arc<DevNode>) -> anyhow::Result<RpcModules> {
    let deps = EthDeps {
        db: node.db.clone(),
        spec: node.spec.clone(),
        consensus: node.clone(),
        pool: Some(node.pool.clone()),
        limits: EthLimits::default(),
    };
    merge_chain_namespaces(modules, deps)
}
