//! What the RPC crate needs from the rest of the node, as small traits that `node`
//! implements (ARCHITECTURE.md: `node -> rpc -> evm`, and `rpc` reaches consensus only
//! through a trait it defines).
//!
//! - [`NodeInfo`]: chain id, peer count, listening — enough for `net_*`.
//! - [`ChainReader`]: headers, bodies, receipts and state by block, for `eth_` reads.
//! - [`ConsensusHandle`]: submit a transaction, subscribe to finalized blocks.
//!
//! The chain traits are defined and documented here; nothing in this crate implements them
//! yet (no fake chain): `node` will, over `evm`. Still to define when `eth_call` lands: an
//! executor trait (`call`, `estimate_gas` at a block, with state overrides), whose request
//! type will be alloy-rpc-types-eth's `TransactionRequest`.

use std::{future::Future, pin::Pin, sync::Arc};

use alloy_consensus::{BlockBody, Header, ReceiptEnvelope, Sealed, TxEnvelope};
use alloy_eips::BlockHashOrNumber;
use alloy_primitives::{Address, B256, Bytes, U256};
use jsonrpsee::types::ErrorObjectOwned;

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

// ---------------------------------------------------------------------------------------
// The chain, as the `eth_` namespace will see it.
//
// Shape, not implementation: `node` implements these over `evm` (MDBX reads, the pool,
// SBFT). They are object-safe so the server holds `Arc<dyn …>` and the tests of the eth_
// namespace can use small in-memory implementations of exactly these methods.
//
// Conventions:
// - Block tags are resolved by the rpc crate before calling: latest = safe = finalized =
//   `head()` (BFT finality, sbft.md); `earliest` = 0; `pending` = head for reads, plus the
//   pool for `eth_getTransactionCount` (jsonrpc.md, pitfall 9). So every read takes a
//   concrete block number or hash.
// - Reads are synchronous: MDBX reads are short, and the rpc crate moves long ones
//   (`eth_getLogs` ranges, `eth_call`) to `spawn_blocking` itself.
// - A block above the head answers `Ok(None)`; the rpc crate decides whether to wait
//   briefly for it (MetaMask asks replicas for the number it learned elsewhere).
// ---------------------------------------------------------------------------------------

/// Where a mined transaction is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxLocation {
    /// Its block.
    pub block_number: u64,
    /// Its block's hash.
    pub block_hash: B256,
    /// Its index in the block.
    pub index: u64,
}

/// An account's state at one block.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AccountState {
    /// Nonce.
    pub nonce: u64,
    /// Balance in wei.
    pub balance: U256,
    /// keccak of the code (the empty-code hash for an EOA).
    pub code_hash: B256,
}

/// Why the chain could not answer. Not-found is `Ok(None)`, never an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChainError {
    /// The state of that block is no longer kept (history pruned).
    #[error("historical state not available for block {number}")]
    StateUnavailable {
        /// The block asked for.
        number: u64,
    },
    /// The database failed; the replica is unhealthy (answered as -32603, logged once).
    #[error("chain database error: {0}")]
    Database(String),
}

/// Read access to the executed, finalized chain.
pub trait ChainReader: Send + Sync + 'static {
    /// The last executed (and therefore final) block: its number and hash.
    fn head(&self) -> Result<(u64, B256), ChainError>;
    /// A header with its hash, by number or hash.
    fn header(&self, block: BlockHashOrNumber) -> Result<Option<Sealed<Header>>, ChainError>;
    /// The transactions (and withdrawals) of a block.
    fn body(&self, number: u64) -> Result<Option<BlockBody<TxEnvelope>>, ChainError>;
    /// The recovered senders of a block's transactions, in order.
    fn senders(&self, number: u64) -> Result<Option<Vec<Address>>, ChainError>;
    /// A block's receipts, in transaction order.
    fn receipts(&self, number: u64) -> Result<Option<Vec<ReceiptEnvelope>>, ChainError>;
    /// Where a transaction was mined.
    fn transaction_location(&self, hash: B256) -> Result<Option<TxLocation>, ChainError>;
    /// An account after block `number` was executed; `None` if it does not exist.
    fn account(&self, address: Address, number: u64) -> Result<Option<AccountState>, ChainError>;
    /// A storage slot after block `number` (zero when unset).
    fn storage(&self, address: Address, slot: B256, number: u64) -> Result<U256, ChainError>;
    /// Contract code after block `number` (empty for an EOA; the 7702 designator if delegated).
    fn code(&self, address: Address, number: u64) -> Result<Bytes, ChainError>;
    /// The finality certificate of a block (aggregate BLS signature over its hash), for the
    /// `stele_` namespace; `None` for a block not yet certified.
    fn finality_certificate(&self, number: u64) -> Result<Option<Bytes>, ChainError>;
}

/// A block that consensus finalized and the replica executed: what `newHeads` and `logs`
/// subscriptions and filters are fed from, in block order, one message per block.
#[derive(Clone, Debug)]
pub struct FinalizedBlock {
    /// The header and its hash.
    pub header: Sealed<Header>,
    /// Hashes of its transactions, in order.
    pub transactions: Arc<[B256]>,
    /// Its receipts (logs with their bloom), in order.
    pub receipts: Arc<[ReceiptEnvelope]>,
}

/// Why a transaction was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SubmitError {
    /// Validation refused it; `message` is geth's wording ("nonce too low: …",
    /// "insufficient funds for gas * price + value: …"), which ethers maps to error codes.
    #[error("{message}")]
    Rejected {
        /// The pool's message.
        message: String,
    },
    /// The node cannot take transactions now (starting, or the pool is full).
    #[error("transaction pool unavailable: {reason}")]
    Unavailable {
        /// Why.
        reason: String,
    },
}

impl From<SubmitError> for ErrorObjectOwned {
    /// geth answers every pool refusal with -32000 and the reason as the message.
    fn from(err: SubmitError) -> Self {
        ErrorObjectOwned::owned::<()>(-32000, err.to_string(), None)
    }
}

/// A boxed future, so the traits below stay object-safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The node's consensus side as the rpc crate needs it (ARCHITECTURE.md: `rpc` reaches
/// consensus only through a trait it defines, which `node` implements).
pub trait ConsensusHandle: Send + Sync + 'static {
    /// Decodes and validates a signed transaction (evm/pool), adds it to the local pool and
    /// gossips it to the other replicas; resolves to its hash once accepted locally.
    fn submit_transaction(&self, raw: Bytes) -> BoxFuture<'_, Result<B256, SubmitError>>;
    /// The next nonce of `sender` counting contiguous pool transactions (`pending`).
    fn pending_nonce(&self, sender: Address) -> Result<u64, ChainError>;
    /// Finalized, executed blocks from now on. A receiver that falls behind the channel's
    /// capacity gets `Lagged`, and the rpc crate closes that subscription with an error
    /// (clients resubscribe, jsonrpc.md pitfall 13) rather than skipping blocks silently.
    fn subscribe_finalized(&self) -> tokio::sync::broadcast::Receiver<FinalizedBlock>;
    /// Hashes of transactions entering the pool (`newPendingTransactions`).
    fn subscribe_pending(&self) -> tokio::sync::broadcast::Receiver<B256>;
}
