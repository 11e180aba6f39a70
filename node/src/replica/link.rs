//! What the replica needs from the transport, as a small trait: the shell and state
//! transfer are written against it, `stele-net`'s mutual-TLS network implements it.

use bytes::Bytes;
use stele_consensus::ReplicaId;

/// Sending frames to peers. Sends never block: a full queue drops the frame (the core
/// retransmits what matters; state transfer retries on timeout).
pub(crate) trait PeerLink: Send + Sync + 'static {
    /// To one peer; `bulk` frames (state transfer) yield to consensus frames.
    fn send(&self, to: ReplicaId, bulk: bool, payload: Bytes);
    /// To every peer, on the consensus lane.
    fn broadcast(&self, payload: Bytes);
    /// Peers and whether a connection to each is up.
    fn peers(&self) -> Vec<(ReplicaId, bool)>;
}
