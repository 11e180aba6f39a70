//! The replica as the RPC sees it: accepting client transactions (validated, pooled, handed
//! to the core in nonce order and gossiped by it), the pending nonce, the streams of
//! finalized blocks and pending hashes, and live facts for `net_` and `stele_`.

use super::{feeder::Feeder, link::PeerLink};
use alloy_consensus::Transaction;
use alloy_primitives::{Address, Bytes, B256};
use std::sync::{mpsc, Arc, Mutex, RwLock};
use stele_consensus::{message::Tx, Input, Mode, ReplicaId, SeqNum, ViewNum};
use stele_evm::{db::ChainDb, pool::TxPool, ChainSpec};
use stele_rpc::api::{BoxFuture, ChainError, ConsensusHandle, FinalizedBlock, NodeInfo, SubmitError};
use tokio::sync::broadcast;

/// Finalized blocks a slow subscriber may fall behind by before it is dropped.
const FINALIZED_CHANNEL_BLOCKS: usize = 1_024;
/// Pending transaction hashes buffered for slow subscribers.
const PENDING_CHANNEL_TXS: usize = 16_384;

/// What the core reports after each step, for `stele status` and `stele_status`.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct CoreStatus {
    /// Current view.
    pub view: ViewNum,
    /// Its primary.
    pub primary: u16,
    /// Whether a view change is running.
    pub view_change: bool,
    /// Highest sequence number committed in order.
    pub committed: SeqNum,
    /// Highest executed.
    pub executed: SeqNum,
    /// Last stable checkpoint.
    pub stable: SeqNum,
    /// Highest sequence number with a finality certificate.
    pub finalized: SeqNum,
    /// Whether a state transfer is running.
    pub transferring: bool,
    /// How many times the consensus timeouts are doubled (0 on a healthy cluster).
    pub timeout_doublings: u32,
}

impl CoreStatus {
    pub(crate) fn mode_name(&self) -> &'static str {
        if self.transferring {
            "state-transfer"
        } else if self.view_change {
            "view-change"
        } else {
            "normal"
        }
    }
}

/// Shared state of one replica.
pub(crate) struct ReplicaNode {
    pub(crate) id: ReplicaId,
    pub(crate) db: ChainDb,
    pub(crate) spec: Arc<ChainSpec>,
    pub(crate) pool: Arc<TxPool>,
    pub(crate) finalized: broadcast::Sender<FinalizedBlock>,
    pub(crate) pending: broadcast::Sender<B256>,
    pub(crate) core: Mutex<mpsc::Sender<Input>>,
    pub(crate) feeder: Mutex<Feeder>,
    pub(crate) link: Arc<dyn PeerLink>,
    pub(crate) status: RwLock<CoreStatus>,
    /// State transfers finished since start (status and tests).
    pub(crate) transfers_done: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for ReplicaNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplicaNode").field("id", &self.id).finish_non_exhaustive()
    }
}

impl ReplicaNode {
    pub(crate) fn new(
        id: ReplicaId,
        db: ChainDb,
        spec: Arc<ChainSpec>,
        pool: Arc<TxPool>,
        core: mpsc::Sender<Input>,
        link: Arc<dyn PeerLink>,
    ) -> Self {
        Self {
            id,
            db,
            spec,
            pool,
            finalized: broadcast::channel(FINALIZED_CHANNEL_BLOCKS).0,
            pending: broadcast::channel(PENDING_CHANNEL_TXS).0,
            core: Mutex::new(core),
            feeder: Mutex::new(Feeder::default()),
            link,
            status: RwLock::new(CoreStatus::default()),
            transfers_done: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Hands transactions to the core (which gossips them and, as primary, proposes them).
    pub(crate) fn feed(&self, txs: Vec<Tx>) {
        if txs.is_empty() {
            return;
        }
        let core = self.core.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for tx in txs {
            // A closed channel means the replica is shutting down.
            let _ = core.send(Input::ClientTx(tx));
        }
    }

    /// Sends one input to the core.
    pub(crate) fn to_core(&self, input: Input) {
        let _ = self.core.lock().unwrap_or_else(std::sync::PoisonError::into_inner).send(input);
    }

    /// A block was executed: prune the pool, release waiting transactions, tell subscribers.
    pub(crate) fn after_block(&self, nonces: &[(Address, u64)], dropped: &[B256], retries: Vec<super::execute::Retry>, announced: FinalizedBlock) {
        self.pool.on_block(nonces, dropped);
        {
            // Fed under the feeder's lock: see `admit`.
            let mut feeder = self.feeder.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            for r in retries {
                feeder.retry(r.sender, r.nonce, Tx { payload: r.payload, gas: r.gas });
            }
            let ready = feeder.on_block(nonces);
            self.feed(ready);
        }
        let _ = self.finalized.send(announced);
    }

    /// The status snapshot.
    pub(crate) fn status(&self) -> CoreStatus {
        *self.status.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn set_status(&self, status: CoreStatus) {
        *self.status.write().unwrap_or_else(std::sync::PoisonError::into_inner) = status;
    }

    fn admit(&self, raw: &Bytes) -> Result<B256, SubmitError> {
        let valid = crate::admission::validate_raw(&self.db, &self.spec, raw)?;
        let (hash, gas) = (valid.hash, valid.transaction.gas_limit());
        self.pool.add(valid).map_err(|e| SubmitError::Rejected { message: e.to_string() })?;
        // At once, so the core gossips it before anything can happen to this replica; order
        // among a sender's transactions is repaired by retries (see `feeder`).
        self.feed(vec![Tx { payload: super::execute::payload(raw, 0), gas }]);
        Ok(hash)
    }
}

impl ConsensusHandle for ReplicaNode {
    fn submit_transaction(&self, raw: Bytes) -> BoxFuture<'_, Result<B256, SubmitError>> {
        Box::pin(async move {
            let hash = self.admit(&raw)?;
            let _ = self.pending.send(hash);
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

impl NodeInfo for ReplicaNode {
    fn chain_id(&self) -> u64 {
        self.spec.chain_id
    }

    fn peer_count(&self) -> u64 {
        self.link.peers().iter().filter(|(_, up)| *up).count() as u64
    }

    fn listening(&self) -> bool {
        true
    }
}

/// Summarises the core's mode for the status snapshot.
pub(crate) fn is_view_change(mode: Mode) -> bool {
    mode == Mode::ViewChange
}
