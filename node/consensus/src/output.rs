//! The complete set of effects a replica asks its shell to perform.

use crate::message::{CommitProof, Message, StateCert};
use crate::misbehavior::Misbehavior;
use crate::persist::PersistRecord;
use crate::types::{ReplicaId, SeqNum, Tick, ViewNum};

/// Identifies a persist request; acknowledgements are cumulative.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PersistId(pub u64);

/// Timers the core uses. Setting a timer replaces the previous deadline of that kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TimerKind {
    /// The periodic tick that drives timeouts (slow path, complaints, proposals, status).
    Tick,
}

/// One effect. Sends that depend on a persist are only emitted after its ack.
#[derive(Clone, Debug)]
#[must_use]
pub enum Output {
    /// Send to one peer.
    Send {
        /// Destination.
        to: ReplicaId,
        /// Message.
        msg: Message,
    },
    /// Send to every other replica.
    Broadcast(Message),
    /// Fire [`crate::Input::Timer`] at `at`.
    SetTimer {
        /// Which timer.
        kind: TimerKind,
        /// Deadline.
        at: Tick,
    },
    /// Forget a timer.
    CancelTimer(TimerKind),
    /// Write `record` durably, then feed [`crate::Input::PersistAck`].
    Persist {
        /// Request id.
        id: PersistId,
        /// What to write (fold with [`crate::Durable::apply`]).
        record: PersistRecord,
    },
    /// Execute the committed block at `proof.cert.seq` (strictly in order), then feed
    /// [`crate::Input::Executed`].
    Execute(Box<CommitProof>),
    /// A finality certificate for an executed block (store it with the block).
    Finalized(StateCert),
    /// Fetch state up to the certified checkpoint, then feed [`crate::Input::StateTransferDone`].
    StartStateTransfer(StateCert),
    /// Observability.
    Event(Event),
}

/// Metrics and notable happenings.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A sequence number committed on the given path.
    Committed {
        /// Sequence number.
        seq: SeqNum,
        /// Fast or slow.
        kind: crate::message::CommitKind,
    },
    /// Started moving to `view`.
    ViewChangeStarted(ViewNum),
    /// Installed `view`.
    NewViewInstalled(ViewNum),
    /// A checkpoint became stable.
    StableCheckpoint(SeqNum),
    /// The primary changed its first commit path.
    PathSwitched(crate::message::CommitPath),
    /// Evidence against a peer.
    Misbehavior(Misbehavior),
    /// A finality certificate contradicts this replica's own execution: its state is wrong.
    ExecutionDiverged(SeqNum),
    /// A complaint about the current view was sent.
    Complained(crate::message::ComplaintReason),
}

impl Output {
    /// The message, for sends and broadcasts.
    pub fn message(&self) -> Option<&Message> {
        match self {
            Output::Send { msg, .. } | Output::Broadcast(msg) => Some(msg),
            _ => None,
        }
    }
}
