//! The complete set of things that can happen to a replica.

use crate::message::{Message, Tx};
use crate::output::{PersistId, TimerKind};
use crate::types::{Digest, ReplicaId, SeqNum};

/// One input to [`crate::Replica::handle`].
#[derive(Clone, Debug)]
pub enum Input {
    /// First call after construction or restore: arms the timers.
    Start,
    /// A message from an authenticated peer (the transport proved `from`).
    Message {
        /// Sender.
        from: ReplicaId,
        /// Decoded message.
        msg: Message,
    },
    /// A transaction submitted by a client to this replica.
    ClientTx(Tx),
    /// A timer set by [`crate::Output::SetTimer`] fired.
    Timer(TimerKind),
    /// Executing `seq` (asked for by [`crate::Output::Execute`]) produced `block_hash`.
    Executed {
        /// Sequence number executed.
        seq: SeqNum,
        /// Resulting block hash.
        block_hash: Digest,
    },
    /// The write of [`crate::Output::Persist`] `id` (and every earlier one) is durable.
    PersistAck(PersistId),
    /// The shell's mempool found these transactions invalid or already in the chain (e.g.
    /// after a state transfer): stop holding them.
    DropTxs(Vec<Digest>),
    /// State transfer to a checkpoint finished: blocks up to `seq` are in the chain.
    StateTransferDone {
        /// Checkpoint reached.
        seq: SeqNum,
        /// Block hash at `seq`.
        block_hash: Digest,
    },
}
