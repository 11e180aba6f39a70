//! What replicas say to each other during state transfer, and its bytes: a tag, the first
//! block number (big-endian u64), then either the last block number or an RLP list of
//! headers or bodies (alloy's RLP codecs).

use alloy_consensus::{BlockBody, Header, TxEnvelope};
use alloy_rlp::{Decodable, Encodable};

/// Headers per reply at most.
pub(crate) const HEADERS_PER_REPLY_MAX: u64 = 1_024;
/// Bodies per reply at most.
pub(crate) const BODIES_PER_REPLY_MAX: u64 = 128;
/// A bodies reply stops growing past this many bytes (the transport's frame limit is larger).
pub(crate) const REPLY_BYTES_SOFT_MAX: usize = 8 * 1024 * 1024;

/// One state-transfer message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SyncMessage {
    /// Send headers `from..=to`.
    GetHeaders {
        /// First block.
        from: u64,
        /// Last block.
        to: u64,
    },
    /// Headers from `from` on, contiguous (possibly fewer than asked).
    Headers {
        /// Number of the first header.
        from: u64,
        /// The headers.
        headers: Vec<Header>,
    },
    /// Send bodies `from..=to`.
    GetBodies {
        /// First block.
        from: u64,
        /// Last block.
        to: u64,
    },
    /// Bodies from `from` on, contiguous (possibly fewer than asked).
    Bodies {
        /// Number of the first body.
        from: u64,
        /// The bodies.
        bodies: Vec<BlockBody<TxEnvelope>>,
    },
}

/// Bytes that are not a state-transfer message.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum SyncDecodeError {
    /// Shorter than the fixed part.
    #[error("state-transfer message truncated")]
    Truncated,
    /// Unknown tag.
    #[error("unknown state-transfer message tag {0}")]
    Tag(u8),
    /// The RLP list does not decode.
    #[error("state-transfer payload: {0}")]
    Rlp(String),
    /// Bytes after the message.
    #[error("{0} trailing bytes after a state-transfer message")]
    Trailing(usize),
}

const TAG_GET_HEADERS: u8 = 1;
const TAG_HEADERS: u8 = 2;
const TAG_GET_BODIES: u8 = 3;
const TAG_BODIES: u8 = 4;

impl SyncMessage {
    /// Appends the message's bytes to `out`.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        match self {
            SyncMessage::GetHeaders { from, to } | SyncMessage::GetBodies { from, to } => {
                out.push(if matches!(self, SyncMessage::GetHeaders { .. }) { TAG_GET_HEADERS } else { TAG_GET_BODIES });
                out.extend_from_slice(&from.to_be_bytes());
                out.extend_from_slice(&to.to_be_bytes());
            }
            SyncMessage::Headers { from, headers } => {
                out.push(TAG_HEADERS);
                out.extend_from_slice(&from.to_be_bytes());
                headers.encode(out);
            }
            SyncMessage::Bodies { from, bodies } => {
                out.push(TAG_BODIES);
                out.extend_from_slice(&from.to_be_bytes());
                bodies.encode(out);
            }
        }
    }

    /// Parses untrusted bytes.
    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, SyncDecodeError> {
        let (&tag, rest) = bytes.split_first().ok_or(SyncDecodeError::Truncated)?;
        let from = u64::from_be_bytes(rest.get(..8).ok_or(SyncDecodeError::Truncated)?.try_into().map_err(|_| SyncDecodeError::Truncated)?);
        let mut rest = &rest[8..];
        let message = match tag {
            TAG_GET_HEADERS | TAG_GET_BODIES => {
                let to = u64::from_be_bytes(rest.get(..8).ok_or(SyncDecodeError::Truncated)?.try_into().map_err(|_| SyncDecodeError::Truncated)?);
                rest = &rest[8..];
                if tag == TAG_GET_HEADERS { SyncMessage::GetHeaders { from, to } } else { SyncMessage::GetBodies { from, to } }
            }
            TAG_HEADERS => SyncMessage::Headers { from, headers: Vec::<Header>::decode(&mut rest).map_err(|e| SyncDecodeError::Rlp(e.to_string()))? },
            TAG_BODIES => SyncMessage::Bodies {
                from,
                bodies: Vec::<BlockBody<TxEnvelope>>::decode(&mut rest).map_err(|e| SyncDecodeError::Rlp(e.to_string()))?,
            },
            other => return Err(SyncDecodeError::Tag(other)),
        };
        if !rest.is_empty() {
            return Err(SyncDecodeError::Trailing(rest.len()));
        }
        Ok(message)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_garbage() {
        let header = Header { number: 7, gas_limit: 30_000_000, ..Default::default() };
        for m in [
            SyncMessage::GetHeaders { from: 1, to: 9 },
            SyncMessage::GetBodies { from: 3, to: 4 },
            SyncMessage::Headers { from: 7, headers: vec![header.clone(), header] },
            SyncMessage::Bodies { from: 7, bodies: vec![BlockBody::default()] },
        ] {
            let mut b = Vec::new();
            m.encode(&mut b);
            assert_eq!(SyncMessage::decode(&b).unwrap(), m);
            for cut in 0..b.len() {
                assert!(SyncMessage::decode(&b[..cut]).is_err(), "truncated at {cut} must fail");
            }
            b.push(0);
            assert!(SyncMessage::decode(&b).is_err());
        }
        assert_eq!(SyncMessage::decode(&[9; 20]), Err(SyncDecodeError::Tag(9)));
    }
}
