//! The dev node's side of the RPC: accepts transactions into the pool and hands out the
//! streams of finalized blocks and pending transaction hashes (`ConsensusHandle`).

use alloy_primitives::{Address, B256, Bytes};
use std::sync::Arc;
use stele_evm::{
    db::ChainDb,
    pool::TxPool,
    ChainSpec,
};
use stele_rpc::api::{BoxFuture, ChainError, ConsensusHandle, FinalizedBlock, SubmitError};
use tokio::sync::{broadcast, Notify};

/// Finalized blocks a slow subscriber may fall behind by before it is dropped.
const FINALIZED_CHANNEL_BLOCKS: usize = 1_024;
/// Pending transaction hashes buffered for slow subscribers.
const PENDING_CHANNEL_TXS: usize = 16_384;

/// Shared state of a single-replica node.
#[derive(Debug)]
pub(crate) struct DevNode {
    pub(crate) db: ChainDb,
    pub(crate) spec: Arc<ChainSpec>,
    pub(crate) pool: Arc<TxPool>,
    pub(crate) finalized: broadcast::Sender<FinalizedBlock>,
    pub(crate) pending: broadcast::Sender<B256>,
    /// Wakes the block producer when a transaction arrives.
    pub(crate) work: Arc<Notify>,
}

impl DevNode {
    pub(crate) fn new(db: ChainDb, spec: Arc<ChainSpec>, pool: Arc<TxPool>) -> Self {
        Self {
            db,
            spec,
            pool,
            finalized: broadcast::channel(FINALIZED_CHANNEL_BLOCKS).0,
            pending: broadcast::channel(PENDING_CHANNEL_TXS).0,
            work: Arc::new(Notify::new()),
        }
    }

    fn admit(&self, raw: &Bytes) -> Result<B256, SubmitError> {
        let valid = crate::admission::validate_raw(&self.db, &self.spec, raw)?;
        let hash = valid.hash;
        self.pool.add(valid).map_err(|e| SubmitError::Rejected { message: e.to_string() })?;
        Ok(hash)
    }
}

impl ConsensusHandle for DevNode {
    fn submit_transaction(&self, raw: Bytes) -> BoxFuture<'_, Result<B256, SubmitError>> {
        Box::pin(async move {
            let hash = self.admit(&raw)?;
            // Nobody listening is fine.
            let _ = self.pending.send(hash);
            self.work.notify_one();
            Ok(hash)
        })
    }

    fn pending_nonce(&self, sender: Address) -> Result<u64, ChainError> {
        crate::admission::pending_nonce(&self.db, &self.pool, sender)
    }

    fn subscribe_finalized(&self) -> broadcast::Receiver<FinalizedBlock> {
        self.finalized.subscribe()
    }

    fn subscribe_pending(&self) -> broadcast::Receiver<B256> {
        self.pending.subscribe()
    }
}
