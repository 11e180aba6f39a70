//! `eth_subscribe` / `eth_unsubscribe` over WebSocket: `newHeads` (each finalized block's
//! header), `logs` (matching logs of each finalized block) and `newPendingTransactions`
//! (hashes entering the pool). Fed by [`crate::api::ConsensusHandle`]'s broadcasts; a
//! subscriber that falls behind is closed with an error rather than silently skipping
//! blocks (jsonrpc.md pitfall 13: clients resubscribe). Pings are the server's job.

use jsonrpsee::{
    core::SubscriptionResult, PendingSubscriptionSink, RpcModule, SubscriptionMessage, SubscriptionSink,
};
use serde_json::Value;
use tokio::sync::broadcast;

use super::{
    format::{self, TxContext},
    logs::{FilterParams, LogMatcher},
    Args, EthCtx, EthError,
};
use crate::{api::FinalizedBlock, error::ModuleError};

/// What a subscription delivers.
enum Topic {
    Heads,
    Logs(LogMatcher),
    Pending,
}

fn parse(params: &jsonrpsee::types::Params<'_>) -> Result<Topic, EthError> {
    let mut args = Args::new(params);
    let kind: String = args.next()?;
    match kind.as_str() {
        "newHeads" => Ok(Topic::Heads),
        "newPendingTransactions" => Ok(Topic::Pending),
        "logs" => {
            let filter: FilterParams = args.optional()?.unwrap_or_default();
            if filter.block_hash.is_some() || filter.from_block.is_some() || filter.to_block.is_some() {
                return Err(EthError::InvalidParams("invalid argument 1: logs subscriptions take no block range".into()));
            }
            Ok(Topic::Logs(LogMatcher::new(&filter)?))
        }
        other => Err(EthError::MethodNotFound(format!("no \"{other}\" subscription in eth namespace"))),
    }
}

async fn send(sink: &SubscriptionSink, value: &Value) -> Result<(), ()> {
    let message = SubscriptionMessage::from(serde_json::value::to_raw_value(value).map_err(|_| ())?);
    sink.send(message).await.map_err(|_| ())
}

fn block_logs(block: &FinalizedBlock, matcher: &LogMatcher) -> Vec<Value> {
    let header = block.header.inner();
    let mut out = Vec::new();
    let mut log_index = 0u64;
    for (i, receipt) in block.receipts.iter().enumerate() {
        let at = TxContext {
            block_hash: block.header.hash(),
            block_number: header.number,
            block_timestamp: header.timestamp,
            index: i as u64,
            base_fee: header.base_fee_per_gas,
        };
        let tx_hash = block.transactions.get(i).copied().unwrap_or_default();
        for log in receipt.logs() {
            if matcher.matches(log) {
                out.push(format::log(log, &at, tx_hash, log_index));
            }
            log_index += 1;
        }
    }
    out
}

async fn forward_blocks(sink: SubscriptionSink, mut rx: broadcast::Receiver<FinalizedBlock>, topic: Topic) -> SubscriptionResult {
    loop {
        tokio::select! {
            _ = sink.closed() => return Ok(()),
            message = rx.recv() => match message {
                Ok(block) => {
                    let values = match &topic {
                        Topic::Heads => vec![format::header_fields(block.header.inner(), block.header.hash())],
                        Topic::Logs(matcher) => block_logs(&block, matcher),
                        Topic::Pending => vec![],
                    };
                    for value in values {
                        if send(&sink, &value).await.is_err() {
                            return Ok(());
                        }
                    }
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    return Err(format!("subscription fell behind by {n} blocks; resubscribe").into());
                }
                Err(broadcast::error::RecvError::Closed) => return Ok(()),
            }
        }
    }
}

async fn forward_pending(sink: SubscriptionSink, mut rx: broadcast::Receiver<alloy_primitives::B256>) -> SubscriptionResult {
    loop {
        tokio::select! {
            _ = sink.closed() => return Ok(()),
            message = rx.recv() => match message {
                Ok(hash) => {
                    if send(&sink, &Value::String(hash.to_string())).await.is_err() {
                        return Ok(());
                    }
                }
                // Pending hashes are hints; a lagging reader just misses some.
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return Ok(()),
            }
        }
    }
}

pub(super) fn register(module: &mut RpcModule<EthCtx>) -> Result<(), ModuleError> {
    module.register_subscription(
        "eth_subscribe",
        "eth_subscription",
        "eth_unsubscribe",
        |params, pending: PendingSubscriptionSink, ctx, _| async move {
            let topic = match parse(&params) {
                Ok(topic) => topic,
                Err(err) => {
                    pending.reject(jsonrpsee::types::ErrorObjectOwned::from(err)).await;
                    return Ok(());
                }
            };
            match topic {
                Topic::Pending => {
                    let rx = ctx.deps.consensus.subscribe_pending();
                    let sink = pending.accept().await?;
                    forward_pending(sink, rx).await
                }
                topic => {
                    let rx = ctx.deps.consensus.subscribe_finalized();
                    let sink = pending.accept().await?;
                    forward_blocks(sink, rx, topic).await
                }
            }
        },
    )?;
    Ok(())
}
