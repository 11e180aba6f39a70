//! The bytes of one replica-to-replica frame: a tag, then a consensus message (the core's
//! versioned wire codec) or a state-transfer message.

use crate::statesync::protocol::{SyncDecodeError, SyncMessage};
use stele_consensus::{message::Message, wire};

const TAG_CONSENSUS: u8 = 0;
const TAG_SYNC: u8 = 1;

/// One frame's content.
#[derive(Clone, Debug)]
pub(crate) enum PeerMessage {
    /// For the consensus core.
    Consensus(Message),
    /// For state transfer.
    Sync(SyncMessage),
}

/// A frame that does not parse. The sender is faulty or speaks another version: the frame
/// is dropped and counted, the connection stays.
#[derive(Debug, thiserror::Error)]
pub(crate) enum EnvelopeError {
    /// No bytes.
    #[error("empty frame")]
    Empty,
    /// Unknown tag.
    #[error("unknown frame tag {0}")]
    Tag(u8),
    /// The consensus message does not decode.
    #[error("consensus message: {0}")]
    Consensus(String),
    /// The state-transfer message does not decode.
    #[error(transparent)]
    Sync(#[from] SyncDecodeError),
}

impl PeerMessage {
    /// The frame's bytes.
    pub(crate) fn encode(&self) -> bytes::Bytes {
        let mut out = Vec::new();
        match self {
            PeerMessage::Consensus(m) => {
                out.push(TAG_CONSENSUS);
                out.extend_from_slice(&wire::encode(m));
            }
            PeerMessage::Sync(m) => {
                out.push(TAG_SYNC);
                m.encode(&mut out);
            }
        }
        out.into()
    }

    /// Parses untrusted bytes.
    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, EnvelopeError> {
        let (&tag, rest) = bytes.split_first().ok_or(EnvelopeError::Empty)?;
        match tag {
            TAG_CONSENSUS => wire::decode(rest).map(PeerMessage::Consensus).map_err(|e| EnvelopeError::Consensus(e.to_string())),
            TAG_SYNC => Ok(PeerMessage::Sync(SyncMessage::decode(rest)?)),
            other => Err(EnvelopeError::Tag(other)),
        }
    }
}
