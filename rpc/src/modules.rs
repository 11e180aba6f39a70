//! Assembles the RPC methods the server answers: the chain-free `web3_` and `net_`
//! namespaces always, and further namespaces (`eth_`, `txpool_`, …) merged in by the node.

use std::{collections::BTreeSet, sync::Arc};

use jsonrpsee::{MethodCallback, Methods, RpcModule};

use crate::{api::NodeInfo, error::ModuleError, net, web3};

/// The full method set of one server. Method names are unique: merging a namespace that
/// repeats a name fails instead of silently replacing a method.
#[derive(Debug)]
pub struct RpcModules {
    methods: Methods,
}

impl RpcModules {
    /// The `web3_` and `net_` namespaces, answering from `node`.
    pub fn new(node: Arc<dyn NodeInfo>) -> Result<Self, ModuleError> {
        let mut methods = Methods::new();
        methods.merge(web3::module()?)?;
        methods.merge(net::module(node)?)?;
        Ok(Self { methods })
    }

    /// Adds a namespace, e.g. `modules.merge(eth::module(chain, consensus)?)?`.
    ///
    /// # Errors
    /// [`ModuleError::Register`] if a method name is already registered.
    pub fn merge<Context: Send + Sync + 'static>(
        &mut self,
        module: RpcModule<Context>,
    ) -> Result<(), ModuleError> {
        self.methods.merge(module)?;
        Ok(())
    }

    /// Every registered method name, sorted (subscriptions include their unsubscribe name).
    pub fn method_names(&self) -> BTreeSet<&'static str> {
        self.methods.method_names().collect()
    }

    /// Names of subscribe and of unsubscribe methods, in that order.
    pub(crate) fn subscription_names(&self) -> (BTreeSet<&'static str>, BTreeSet<&'static str>) {
        let mut subscribe = BTreeSet::new();
        let mut unsubscribe = BTreeSet::new();
        for name in self.methods.method_names() {
            match self.methods.method(name) {
                Some(MethodCallback::Subscription(_)) => {
                    subscribe.insert(name);
                }
                Some(MethodCallback::Unsubscription(_)) => {
                    unsubscribe.insert(name);
                }
                _ => {}
            }
        }
        (subscribe, unsubscribe)
    }

    /// The methods, for the server.
    pub(crate) fn into_methods(self) -> Methods {
        self.methods
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::api::StaticNodeInfo;

    fn node() -> Arc<dyn NodeInfo> {
        Arc::new(StaticNodeInfo { chain_id: 7, peer_count: 0, listening: true })
    }

    #[test]
    fn base_namespaces_are_present() {
        let names = RpcModules::new(node()).unwrap().method_names();
        for m in ["web3_clientVersion", "web3_sha3", "net_version", "net_listening", "net_peerCount"]
        {
            assert!(names.contains(m), "{m} missing");
        }
    }

    #[test]
    fn duplicate_names_are_refused() {
        let mut modules = RpcModules::new(node()).unwrap();
        let mut extra = RpcModule::new(());
        extra.register_method("net_version", |_, _, _| "shadow").unwrap();
        assert!(modules.merge(extra).is_err());
        let mut fresh = RpcModule::new(());
        fresh.register_method("eth_chainId", |_, _, _| "0x7").unwrap();
        modules.merge(fresh).unwrap();
        assert!(modules.method_names().contains("eth_chainId"));
    }
}
