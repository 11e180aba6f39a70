//! The `net_` namespace: `net_version` (the decimal chain id: wallets that signed with it
//! broke when it differed, jsonrpc.md pitfall 8), `net_listening` and `net_peerCount`,
//! answered from the node through [`NodeInfo`].

use std::sync::Arc;

use alloy_primitives::U64;
use jsonrpsee::{RpcModule, types::ErrorObjectOwned};

use crate::{api::NodeInfo, error::ModuleError};

/// The `net_` methods as a module, reading live values from `node` on every call.
pub fn module(node: Arc<dyn NodeInfo>) -> Result<RpcModule<Arc<dyn NodeInfo>>, ModuleError> {
    let mut module = RpcModule::new(node);
    module.register_method("net_version", |_, node, _| {
        Ok::<_, ErrorObjectOwned>(node.chain_id().to_string())
    })?;
    module.register_method("net_listening", |_, node, _| Ok::<_, ErrorObjectOwned>(node.listening()))?;
    // A hex quantity, as geth answers (`"0x3"`), not a JSON number.
    module.register_method("net_peerCount", |_, node, _| {
        Ok::<_, ErrorObjectOwned>(U64::from(node.peer_count()))
    })?;
    Ok(module)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::api::StaticNodeInfo;

    #[tokio::test]
    async fn answers_from_node_info() {
        let node: Arc<dyn NodeInfo> =
            Arc::new(StaticNodeInfo { chain_id: 1337, peer_count: 3, listening: true });
        let module = module(node).unwrap();
        for (method, expected) in [
            ("net_version", r#""result":"1337""#),
            ("net_peerCount", r#""result":"0x3""#),
            ("net_listening", r#""result":true"#),
        ] {
            let request = format!(r#"{{"jsonrpc":"2.0","id":1,"method":"{method}"}}"#);
            let (raw, _) = module.raw_json_request(&request, 1).await.unwrap();
            assert!(raw.get().contains(expected), "{method}: {}", raw.get());
        }
    }
}
