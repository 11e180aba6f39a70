//! The fetching side of state transfer (see the module docs of `statesync`).

use super::protocol::{SyncMessage, BODIES_PER_REPLY_MAX, HEADERS_PER_REPLY_MAX};
use crate::replica::{envelope::PeerMessage, link::PeerLink, node::ReplicaNode};
use alloy_consensus::{Block, Header};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::B256;
use std::{
    sync::Arc,
    time::{Duration, Instant},
};
use stele_consensus::{message::StateCert, Digest, Input, ReplicaId};
use tokio::sync::mpsc::UnboundedReceiver;

/// A peer that does not answer a request within this is skipped.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Why fetching from one peer failed (the transfer goes on with the next peer).
#[derive(Debug, thiserror::Error)]
enum PeerFailure {
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("answered with nothing from block {0}")]
    Empty(u64),
    #[error("header chain does not verify: {0}")]
    BadHeaders(String),
    #[error("block {number} does not match its verified header: {reason}")]
    BadBlock { number: u64, reason: String },
    #[error("local database: {0}")]
    Local(String),
}

/// Replies from peers, routed here by the inbound dispatcher.
pub(crate) type Replies = UnboundedReceiver<(ReplicaId, SyncMessage)>;

/// Runs transfers as the core asks for them, until the channel closes.
pub(crate) async fn run(
    node: Arc<ReplicaNode>,
    link: Arc<dyn PeerLink>,
    mut targets: UnboundedReceiver<StateCert>,
    mut replies: Replies,
) {
    let peers: Vec<ReplicaId> = link.peers().into_iter().map(|(id, _)| id).collect();
    let mut next_peer = usize::from(node.id.get()) % peers.len().max(1);
    while let Some(mut target) = targets.recv().await {
        while let Ok(newer) = targets.try_recv() {
            if newer.seq > target.seq {
                target = newer;
            }
        }
        let started = Instant::now();
        loop {
            let peer = peers[next_peer % peers.len()];
            match transfer_from(&node, link.as_ref(), &mut replies, peer, &target).await {
                Ok(imported) => {
                    tracing::info!(
                        checkpoint = target.seq.get(),
                        imported,
                        secs = started.elapsed().as_secs_f64(),
                        "state transfer done"
                    );
                    break;
                }
                Err(failure) => {
                    tracing::warn!(peer = peer.get(), "state transfer from this peer failed, trying the next: {failure}");
                    next_peer += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        node.transfers_done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut status = node.status();
        status.transferring = false;
        node.set_status(status);
        node.to_core(Input::StateTransferDone { seq: target.seq, block_hash: target.block_hash });
    }
}

async fn request(
    link: &dyn PeerLink,
    replies: &mut Replies,
    peer: ReplicaId,
    message: SyncMessage,
) -> Result<SyncMessage, PeerFailure> {
    let (want_from, want_headers) = match message {
        SyncMessage::GetHeaders { from, .. } => (from, true),
        SyncMessage::GetBodies { from, .. } => (from, false),
        _ => unreachable!("only requests are sent"),
    };
    link.send(peer, true, PeerMessage::Sync(message).encode());
    let deadline = tokio::time::Instant::now() + REQUEST_TIMEOUT;
    loop {
        let reply = tokio::time::timeout_at(deadline, replies.recv()).await.map_err(|_| PeerFailure::Timeout(REQUEST_TIMEOUT))?;
        let Some((from, reply)) = reply else { return Err(PeerFailure::Timeout(REQUEST_TIMEOUT)) };
        // Late answers to earlier requests (or from earlier peers) are ignored.
        let matches = from == peer
            && match &reply {
                SyncMessage::Headers { from, .. } => want_headers && *from == want_from,
                SyncMessage::Bodies { from, .. } => !want_headers && *from == want_from,
                _ => false,
            };
        if matches {
            return Ok(reply);
        }
    }
}

/// Fetches and imports everything up to `target` from `peer`; returns blocks imported.
async fn transfer_from(
    node: &Arc<ReplicaNode>,
    link: &dyn PeerLink,
    replies: &mut Replies,
    peer: ReplicaId,
    target: &StateCert,
) -> Result<u64, PeerFailure> {
    let local = |e: stele_evm::DbError| PeerFailure::Local(e.to_string());
    let (head, head_hash) = {
        let tx = node.db.read().map_err(local)?;
        let head = tx.head_header().map_err(local)?;
        (head.number, head.hash_slow())
    };
    let goal = target.seq.get();
    if head >= goal {
        return Ok(0);
    }
    // 1. Headers, verified back from the certified hash.
    let mut headers: Vec<Header> = Vec::with_capacity((goal - head) as usize);
    while (headers.len() as u64) < goal - head {
        let from = head + 1 + headers.len() as u64;
        let to = goal.min(from + HEADERS_PER_REPLY_MAX - 1);
        let SyncMessage::Headers { headers: got, .. } = request(link, replies, peer, SyncMessage::GetHeaders { from, to }).await? else {
            unreachable!("request returns the matching reply kind")
        };
        if got.is_empty() {
            return Err(PeerFailure::Empty(from));
        }
        headers.extend(got.into_iter().take((to - from + 1) as usize));
    }
    verify_header_chain(head, head_hash, &headers, B256::from(target.block_hash.0)).map_err(PeerFailure::BadHeaders)?;

    // 2. Bodies, imported one block at a time against the verified headers.
    let started = Instant::now();
    let mut last_report = Instant::now();
    let mut imported = 0u64;
    let mut tx_ids = Vec::new();
    while imported < goal - head {
        let from = head + 1 + imported;
        let to = goal.min(from + BODIES_PER_REPLY_MAX - 1);
        let SyncMessage::Bodies { bodies, .. } = request(link, replies, peer, SyncMessage::GetBodies { from, to }).await? else {
            unreachable!("request returns the matching reply kind")
        };
        if bodies.is_empty() {
            return Err(PeerFailure::Empty(from));
        }
        for body in bodies.into_iter().take((to - from + 1) as usize) {
            let number = head + 1 + imported;
            let header = headers[imported as usize].clone();
            for t in &body.transactions {
                // First attempts only: a retried payload left in the core is harmless.
                tx_ids.push(Digest::of(&[b"tx", &crate::replica::execute::payload(&t.encoded_2718(), 0)]));
            }
            let block = Block { header, body };
            let db = node.db.clone();
            let spec = node.spec.clone();
            tokio::task::spawn_blocking(move || {
                let mut summary = stele_evm::import::ImportSummary::default();
                stele_evm::import::import_block(&db, &spec, &block, &mut summary)
            })
            .await
            .map_err(|e| PeerFailure::Local(e.to_string()))?
            .map_err(|e| PeerFailure::BadBlock { number, reason: e.to_string() })?;
            imported += 1;
        }
        if last_report.elapsed() >= Duration::from_secs(1) {
            last_report = Instant::now();
            let rate = imported as f64 / started.elapsed().as_secs_f64().max(1e-3);
            tracing::info!(
                block = head + imported,
                checkpoint = goal,
                blocks_per_s = format!("{rate:.0}"),
                "state transfer: importing"
            );
        }
    }
    // Transactions now in the chain must leave the core's pending set.
    node.to_core(Input::DropTxs(tx_ids));
    Ok(imported)
}

/// `headers` are blocks `head+1..`: they must link by parent hash to `head_hash` and end at
/// `certified`.
fn verify_header_chain(head: u64, head_hash: B256, headers: &[Header], certified: B256) -> Result<(), String> {
    let mut parent = head_hash;
    for (i, h) in headers.iter().enumerate() {
        let number = head + 1 + i as u64;
        if h.number != number {
            return Err(format!("header {i} is block {} where {number} was expected", h.number));
        }
        if h.parent_hash != parent {
            return Err(format!("block {number}'s parent hash {} is not {parent}", h.parent_hash));
        }
        parent = h.hash_slow();
    }
    if parent != certified {
        return Err(format!("the last header hashes to {parent}, the checkpoint certifies {certified}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_chain_must_end_at_the_certified_hash() {
        let genesis = Header::default();
        let h1 = Header { number: 1, parent_hash: genesis.hash_slow(), ..Default::default() };
        let h2 = Header { number: 2, parent_hash: h1.hash_slow(), ..Default::default() };
        let chain = vec![h1.clone(), h2.clone()];
        assert!(verify_header_chain(0, genesis.hash_slow(), &chain, h2.hash_slow()).is_ok());
        assert!(verify_header_chain(0, genesis.hash_slow(), &chain, B256::ZERO).is_err());
        let forged = vec![h1, Header { number: 2, parent_hash: B256::repeat_byte(1), ..Default::default() }];
        assert!(verify_header_chain(0, genesis.hash_slow(), &forged, forged[1].hash_slow()).is_err());
    }
}
