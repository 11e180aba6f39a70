//! What the RPC crate needs from the rest of the node, as small traits that `node`
//! implements (ARCHITECTURE.md: `node -> rpc -> evm`, and `rpc` reaches consensus only
//! through a trait it defines).
//!
//! - [`NodeInfo`]: chain id, peer count, listening — enough for `net_*`.
//! - The chain-facing traits for the `eth_` namespace are sketched at the bottom of this
//!   file; they are written down, not implemented, until `evm` has its chain API.

/// Live facts about the node that the chain-free namespaces answer from.
///
/// Implementations must be cheap: each call answers one RPC request.
pub trait NodeInfo: Send + Sync + 'static {
    /// The chain id (EIP-155); `net_version` answers it in decimal, `eth_chainId` in hex.
    fn chain_id(&self) -> u64;
    /// Replicas this node is currently connected to (`net_peerCount`).
    fn peer_count(&self) -> u64;
    /// Whether the node accepts peer connections (`net_listening`).
    fn listening(&self) -> bool;
}

/// Fixed answers, for tests, examples and a single-replica dev node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StaticNodeInfo {
    /// The chain id.
    pub chain_id: u64,
    /// Peers reported.
    pub peer_count: u64,
    /// Whether the node reports that it listens for peers.
    pub listening: bool,
}

impl NodeInfo for StaticNodeInfo {
    fn chain_id(&self) -> u64 {
        self.chain_id
    }

    fn peer_count(&self) -> u64 {
        self.peer_count
    }

    fn listening(&self) -> bool {
        self.listening
    }
}
