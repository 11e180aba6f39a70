//! Byzantine replicas as small output/input filters around an honest core (plus twins, which
//! the cluster builds as two honest instances under one identity). Every strategy signs only
//! with its own key: the simulator keeps Byzantine power within the model.

use crate::crypto::CryptoTr;
use crate::message::{Batch, Message, PrePrepare, Proposal, StateShare, checkpoint_bytes};
use crate::output::Output;
use crate::types::{Digest, ReplicaId};

/// How a faulty replica misbehaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// Two honest instances share the identity (equivocation, double votes, amnesia).
    Twins,
    /// As primary, sends one proposal to half the replicas and another to the rest.
    EquivocatingPrimary,
    /// Flips bits in every share it signs.
    BadShares,
    /// Never sends shares (vote, commit, execution, checkpoint).
    MissingShares,
    /// Reports a wrong block hash after executing (its chain diverges).
    WrongExecution,
    /// Signs checkpoints over a wrong state.
    CorruptCheckpoint,
    /// As primary, never proposes client transactions (only empty blocks).
    Censor,
    /// Sends nothing at all.
    Mute,
}

impl Strategy {
    /// All strategies, for random selection.
    pub const ALL: [Strategy; 8] = [
        Strategy::Twins,
        Strategy::EquivocatingPrimary,
        Strategy::BadShares,
        Strategy::MissingShares,
        Strategy::WrongExecution,
        Strategy::CorruptCheckpoint,
        Strategy::Censor,
        Strategy::Mute,
    ];

    /// Whether the replica drops client transactions on input.
    pub fn drops_transactions(self) -> bool {
        self == Strategy::Censor
    }

    /// Rewrites one output into what the Byzantine replica actually sends, as
    /// (destination or None for all, message) pairs; non-send outputs pass through.
    pub fn filter(self, me: ReplicaId, n: usize, crypto: &dyn CryptoTr, out: Output) -> Vec<Output> {
        let Some(msg) = out.message().cloned() else { return vec![out] };
        let to = match &out {
            Output::Send { to, .. } => Some(*to),
            _ => None,
        };
        let wrap = |m: Message| match to {
            Some(t) => Output::Send { to: t, msg: m },
            None => Output::Broadcast(m),
        };
        let is_share = matches!(
            msg,
            Message::VoteShare(_) | Message::CommitShare(_) | Message::ExecShare(_) | Message::Checkpoint(_)
        );
        match self {
            Strategy::Twins | Strategy::WrongExecution => vec![out],
            Strategy::Mute => vec![],
            Strategy::MissingShares if is_share => vec![],
            Strategy::MissingShares => vec![out],
            Strategy::BadShares => {
                let m = match msg {
                    Message::VoteShare(mut s) => {
                        flip(&mut s.sig.0);
                        Message::VoteShare(s)
                    }
                    Message::CommitShare(mut s) => {
                        flip(&mut s.sig.0);
                        Message::CommitShare(s)
                    }
                    Message::ExecShare(mut s) => {
                        flip(&mut s.sig.0);
                        Message::ExecShare(s)
                    }
                    Message::Checkpoint(mut s) => {
                        flip(&mut s.sig.0);
                        Message::Checkpoint(s)
                    }
                    other => other,
                };
                vec![wrap(m)]
            }
            Strategy::CorruptCheckpoint => match msg {
                Message::Checkpoint(s) => {
                    let block_hash = Digest::of(&[b"corrupt", &s.block_hash.0]);
                    let sig = crypto.sign(&checkpoint_bytes(s.seq, &block_hash));
                    vec![wrap(Message::Checkpoint(StateShare { seq: s.seq, block_hash, sig }))]
                }
                other => vec![wrap(other)],
            },
            Strategy::EquivocatingPrimary => match (&msg, to) {
                (Message::PrePrepare(pp), None) => {
                    let twin = equivocate(pp);
                    (0..n)
                        .map(|i| ReplicaId::new(i as u16))
                        .filter(|r| *r != me)
                        .map(|r| {
                            let m = if r.index() % 2 == 0 { msg.clone() } else { Message::PrePrepare(twin.clone()) };
                            Output::Send { to: r, msg: m }
                        })
                        .collect()
                }
                (Message::PrePrepare(pp), Some(t)) if t.index() % 2 == 1 => {
                    vec![Output::Send { to: t, msg: Message::PrePrepare(equivocate(pp)) }]
                }
                _ => vec![out],
            },
            Strategy::Censor => vec![out],
        }
    }
}

fn flip(sig: &mut [u8]) {
    if let Some(b) = sig.first_mut() {
        *b ^= 0x55;
    }
}

fn equivocate(pp: &PrePrepare) -> PrePrepare {
    let proposal = match &pp.proposal {
        Proposal::Batch(b) => Proposal::Batch(Batch { timestamp_ms: b.timestamp_ms + 1, txs: b.txs.clone() }),
        Proposal::Null => Proposal::Batch(Batch { timestamp_ms: 0, txs: vec![] }),
    };
    PrePrepare { proposal, ..pp.clone() }
}
