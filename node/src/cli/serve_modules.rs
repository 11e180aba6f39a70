//! The chain namespaces (`eth_`, `debug_`, `txpool_`) merged into a server's modules, shared
//! by `stele up` and `stele serve`.

use crate::dev::node::DevNode;
use std::sync::Arc;
use stele_rpc::RpcModules;

/// Adds the namespaces that read the chain and submit to the pool.
pub(crate) fn with_chain_namespaces(modules: RpcModules, _node: &Arc<DevNode>) -> anyhow::Result<RpcModules> {
    // The eth_ namespace is merged here once the rpc crate provides it.
    Ok(modules)
}
