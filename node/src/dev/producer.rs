//! The dev block producer: waits for pending transactions, gives the next few
//! milliseconds' arrivals a chance to join, seals a block with the evm block builder,
//! commits it, prunes the pool and announces the block.

use super::node::DevNode;
use alloy_consensus::transaction::Recovered;
use alloy_primitives::{Address, B256};
use std::{sync::Arc, time::Duration};
use stele_evm::executor::{build_and_commit, BlockRequest};
use stele_rpc::api::FinalizedBlock;

/// How long a block waits for more transactions after the first one arrives.
pub(crate) const BATCH_WINDOW: Duration = Duration::from_millis(5);
/// At most this many transactions per block (the gas limit bounds it too).
pub(crate) const BLOCK_TXS_MAX: usize = 5_000;

fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Produces blocks until the process ends.
pub(crate) async fn run(node: Arc<DevNode>) {
    loop {
        if node.pool.status().0 == 0 {
            node.work.notified().await;
        }
        tokio::time::sleep(BATCH_WINDOW).await;
        let producer = node.clone();
        let result = tokio::task::spawn_blocking(move || produce_one(&producer)).await;
        match result {
            Ok(Ok(Some(block))) => {
                let _ = node.finalized.send(block);
            }
            Ok(Ok(None)) => {}
            Ok(Err(err)) => {
                // A block that cannot be built is a bug or a broken disk; retrying in a
                // loop would only flood the log.
                tracing::error!("block production failed: {err:#}");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(join) => tracing::error!("block producer panicked: {join}"),
        }
    }
}

/// Builds and commits one block from the pool; `None` when nothing is pending.
fn produce_one(node: &DevNode) -> anyhow::Result<Option<FinalizedBlock>> {
    let head = node.db.read()?.head_header()?;
    let batch = node.pool.next_batch(BLOCK_TXS_MAX, head.gas_limit);
    if batch.is_empty() {
        return Ok(None);
    }
    let request = BlockRequest {
        timestamp: now_secs().max(head.timestamp),
        beneficiary: Address::ZERO,
        transactions: batch.iter().map(|t| Recovered::new_unchecked(t.transaction.clone(), t.sender)).collect(),
        extra_data: Default::default(),
    };
    let built = build_and_commit(&node.db, &node.spec, &request)?;
    let (nonces, announced) = crate::admission::block_outcome(&built);
    let dropped: Vec<B256> = built.skipped.iter().map(|(index, _)| batch[*index].hash).collect();
    // One debug line per transaction; the block line carries the count (see replica/shell.rs).
    for (index, reason) in &built.skipped {
        tracing::debug!(tx = %batch[*index].hash, "left out of block {}: {reason}", built.header.number);
    }
    node.pool.on_block(&nonces, &dropped);
    tracing::info!(
        number = built.header.number,
        txs = built.body.transactions.len(),
        left_out = built.skipped.len(),
        gas = built.header.gas_used,
        hash = %built.hash,
        "sealed block"
    );
    Ok(Some(announced))
}
