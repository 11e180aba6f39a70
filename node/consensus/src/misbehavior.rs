//! Evidence that a peer broke the protocol. Reported as events; the shell may alert,
//! log or disconnect. Bad input is always rejected before it changes any state.

use crate::types::{Digest, ReplicaId, SeqNum, ViewNum};

/// One offence, with the ids needed to investigate it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Misbehavior {
    /// The primary sent two different proposals for one (view, seq).
    EquivocatingPrimary {
        /// Offender.
        replica: ReplicaId,
        /// View.
        view: ViewNum,
        /// Sequence number.
        seq: SeqNum,
    },
    /// A share whose signature does not verify (found when an aggregate failed).
    BadShare {
        /// Offender.
        replica: ReplicaId,
        /// Sequence number.
        seq: SeqNum,
    },
    /// A certificate that does not verify or does not reach its quorum.
    BadCertificate {
        /// Sender.
        replica: ReplicaId,
        /// Sequence number.
        seq: SeqNum,
    },
    /// A proposal that breaks the time-service rules (skew or going backwards).
    BadTimestamp {
        /// Primary.
        replica: ReplicaId,
        /// Sequence number.
        seq: SeqNum,
        /// Timestamp proposed.
        timestamp_ms: u64,
    },
    /// A proposal over the byte or gas bound, or conflicting with the new-view restriction.
    BadProposal {
        /// Primary.
        replica: ReplicaId,
        /// Sequence number.
        seq: SeqNum,
    },
    /// An invalid view-change or new-view message.
    BadViewChange {
        /// Sender.
        replica: ReplicaId,
        /// View.
        view: ViewNum,
    },
    /// An execution or checkpoint share over a state that a certificate contradicts.
    WrongState {
        /// Sender.
        replica: ReplicaId,
        /// Sequence number.
        seq: SeqNum,
        /// The hash it signed.
        block_hash: Digest,
    },
    /// Bytes that do not decode (reported by the shell's codec).
    Undecodable {
        /// Sender.
        replica: ReplicaId,
    },
}

impl Misbehavior {
    /// The replica the evidence is against.
    pub fn offender(&self) -> ReplicaId {
        match self {
            Misbehavior::EquivocatingPrimary { replica, .. }
            | Misbehavior::BadShare { replica, .. }
            | Misbehavior::BadCertificate { replica, .. }
            | Misbehavior::BadTimestamp { replica, .. }
            | Misbehavior::BadProposal { replica, .. }
            | Misbehavior::BadViewChange { replica, .. }
            | Misbehavior::WrongState { replica, .. }
            | Misbehavior::Undecodable { replica } => *replica,
        }
    }
}
