//! Watches one target's chain: a `newHeads` subscription over WebSocket stamps when each
//! block was announced, and `eth_getBlockReceipts` for every block since the last one tells
//! which transactions it holds and whether they succeeded. A block's transactions count as
//! included at the announcement time: the node announces a block once its receipts are
//! readable, so that is when a client polling for its receipt could first have it.

use crate::bench::{error::BenchError, rpc::RpcClient, rpc::encode_request, tracker::Tracker};
use alloy_json_rpc::PubSubItem;
use alloy_primitives::U64;
use alloy_rpc_types_eth::TransactionReceipt;
use futures_util::{SinkExt, StreamExt};
use std::{sync::Arc, time::Duration};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

/// Receipt fetches in flight per target: enough to keep up with anvil's one block per
/// transaction, few enough not to compete with the measured sends.
const RECEIPT_FETCHES_IN_FLIGHT: usize = 4;
/// Tries per block before its receipts are given up on (and counted as an error).
const RECEIPT_FETCH_ATTEMPTS: u32 = 3;
/// Pause before reopening a dropped subscription.
const RESUBSCRIBE_DELAY: Duration = Duration::from_millis(100);

/// The fields of a `newHeads` notification the bench reads.
#[derive(Debug, serde::Deserialize)]
struct HeadNumber {
    number: U64,
}

/// Watches `client`'s target (index `target`) from block `after + 1` on, until aborted.
pub(crate) async fn watch(target: usize, client: Arc<RpcClient>, tracker: Arc<Tracker>, after: u64) {
    let (heads_tx, heads_rx) = mpsc::unbounded_channel();
    let fetcher = tokio::spawn(fetch_blocks(target, client.clone(), tracker.clone(), after, heads_rx));
    loop {
        if let Err(err) = subscribe(&client, &tracker, &heads_tx).await {
            tracker.note_error(format!("watcher: {}", err.kind()));
            tracing::warn!(target = %client.target().url, %err, "newHeads subscription dropped; reopening");
        }
        if fetcher.is_finished() {
            return;
        }
        tokio::time::sleep(RESUBSCRIBE_DELAY).await;
    }
}

/// Subscribes and forwards `(block number, announced at µs)` until the stream ends.
async fn subscribe(
    client: &RpcClient,
    tracker: &Tracker,
    heads: &mpsc::UnboundedSender<(u64, u64)>,
) -> Result<(), BenchError> {
    let target = client.target();
    let ws_err = |e| BenchError::WebSocket { target: target.url.clone(), source: Box::new(e) };
    let mut ws = target.websocket().await?;
    let request = encode_request("eth_subscribe", 1, ("newHeads",))?;
    let text = String::from_utf8_lossy(&request).into_owned();
    ws.send(Message::text(text)).await.map_err(ws_err)?;
    while let Some(message) = ws.next().await {
        let seen_us = tracker.now_us();
        let text = match message.map_err(ws_err)? {
            Message::Text(text) => text,
            Message::Close(_) => break,
            _ => continue,
        };
        let item: PubSubItem = serde_json::from_str(text.as_str())
            .map_err(|source| BenchError::Decode { target: target.url.clone(), method: "eth_subscribe", source })?;
        match item {
            PubSubItem::Notification(note) => {
                let head: HeadNumber = serde_json::from_str(note.result.get())
                    .map_err(|source| BenchError::Decode { target: target.url.clone(), method: "eth_subscribe", source })?;
                if heads.send((head.number.to(), seen_us)).is_err() {
                    return Ok(());
                }
            }
            PubSubItem::Response(response) => {
                if let alloy_json_rpc::ResponsePayload::Failure(e) = response.payload {
                    return Err(BenchError::Rpc { target: target.url.clone(), method: "eth_subscribe", code: e.code, message: e.message.into_owned() });
                }
            }
        }
    }
    Ok(())
}

/// Fetches the receipts of every block up to each announced head, in order, and reports the
/// transactions to the tracker with the time of the first announcement that covered them.
async fn fetch_blocks(
    target: usize,
    client: Arc<RpcClient>,
    tracker: Arc<Tracker>,
    after: u64,
    mut heads: mpsc::UnboundedReceiver<(u64, u64)>,
) {
    let mut next = after + 1;
    while let Some((head, seen_us)) = heads.recv().await {
        if head < next {
            continue;
        }
        let fetches = futures_util::stream::iter(next..=head)
            .map(|number| {
                let client = client.clone();
                async move {
                    // A node under load may drop a connection; a block whose receipts are
                    // never read would leave its transactions "not included".
                    let mut attempt = 1;
                    loop {
                        let result = client
                            .call::<_, Option<Vec<TransactionReceipt>>>("eth_getBlockReceipts", (U64::from(number),))
                            .await;
                        match result {
                            Err(_) if attempt < RECEIPT_FETCH_ATTEMPTS => attempt += 1,
                            other => break other,
                        }
                    }
                }
            })
            .buffered(RECEIPT_FETCHES_IN_FLIGHT);
        futures_util::pin_mut!(fetches);
        while let Some(result) = fetches.next().await {
            match result {
                Ok(receipts) => {
                    for receipt in receipts.unwrap_or_default() {
                        tracker.included(target, receipt.transaction_hash, receipt.status(), seen_us);
                    }
                }
                Err(err) => tracker.note_error(format!("receipts: {}", err.kind())),
            }
        }
        next = head + 1;
    }
}
