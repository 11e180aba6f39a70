//! Answering peers' state-transfer requests from the chain database.

use super::protocol::{SyncMessage, BODIES_PER_REPLY_MAX, HEADERS_PER_REPLY_MAX, REPLY_BYTES_SOFT_MAX};
use alloy_rlp::Encodable;
use stele_evm::{ChainDb, DbError};

/// The reply to a request (`None` for messages that are not requests).
pub(crate) fn answer(db: &ChainDb, request: &SyncMessage) -> Result<Option<SyncMessage>, DbError> {
    let tx = db.read()?;
    let head = tx.head_number()?.unwrap_or(0);
    match *request {
        SyncMessage::GetHeaders { from, to } => {
            let to = to.min(head).min(from.saturating_add(HEADERS_PER_REPLY_MAX - 1));
            let mut headers = Vec::new();
            for number in from..=to {
                match tx.header(number)? {
                    Some(h) => headers.push(h),
                    None => break,
                }
            }
            Ok(Some(SyncMessage::Headers { from, headers }))
        }
        SyncMessage::GetBodies { from, to } => {
            let to = to.min(head).min(from.saturating_add(BODIES_PER_REPLY_MAX - 1));
            let mut bodies = Vec::new();
            let mut bytes = 0;
            for number in from..=to {
                let Some(body) = tx.body(number)? else { break };
                bytes += body.length();
                bodies.push(body);
                if bytes > REPLY_BYTES_SOFT_MAX {
                    break;
                }
            }
            Ok(Some(SyncMessage::Bodies { from, bodies }))
        }
        SyncMessage::Headers { .. } | SyncMessage::Bodies { .. } => Ok(None),
    }
}
