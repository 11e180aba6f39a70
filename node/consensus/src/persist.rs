//! What a replica must remember across a crash, as append-only records folded into
//! [`Durable`]. The core emits a record, applies it to its own copy, and holds every message
//! that depends on it until the shell acknowledges the write (sbft.md decision 5).

use crate::message::{CommitProof, NewView, Proposal, SlotCert, StateCert};
use crate::types::{SeqNum, ViewNum};
use crate::wire::{DecodeError, Reader, Wire};
use std::collections::BTreeMap;

/// One durable fact. Records are idempotent: applying one twice changes nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PersistRecord {
    /// Entered `view` (a view change started or a new view was installed).
    View(ViewNum),
    /// Installed a new view from this new-view message.
    NewView(Box<NewView>),
    /// Voted for `proposal` at (view, seq): never vote differently there.
    Vote {
        /// Sequence number.
        seq: SeqNum,
        /// View of the vote.
        view: ViewNum,
        /// The proposal voted for.
        proposal: Proposal,
    },
    /// Holds a prepare certificate and sent a commit share for it.
    Prepared {
        /// The certificate.
        cert: SlotCert,
        /// Its proposal.
        proposal: Proposal,
    },
    /// A sequence number committed.
    Committed(Box<CommitProof>),
    /// A checkpoint became stable: everything at or below it may be forgotten.
    Stable(StateCert),
}

/// The fold of all records: what a restarted replica starts from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Durable {
    /// Highest view entered.
    pub view: ViewNum,
    /// The new-view message of `view`, once installed.
    pub new_view: Option<NewView>,
    /// Last vote per seq above the stable checkpoint.
    pub votes: BTreeMap<SeqNum, (ViewNum, Proposal)>,
    /// Highest prepare certificate per seq above the stable checkpoint.
    pub prepared: BTreeMap<SeqNum, (SlotCert, Proposal)>,
    /// Commit proofs above the stable checkpoint.
    pub committed: BTreeMap<SeqNum, CommitProof>,
    /// Last stable checkpoint certificate.
    pub stable: Option<StateCert>,
}

impl Durable {
    /// Sequence number of the last stable checkpoint (0 = genesis).
    pub fn stable_seq(&self) -> SeqNum {
        self.stable.as_ref().map_or(SeqNum::new(0), |c| c.seq)
    }

    /// Folds one record in.
    pub fn apply(&mut self, record: &PersistRecord) {
        match record {
            PersistRecord::View(v) => {
                if *v > self.view {
                    self.view = *v;
                    self.new_view = None;
                }
            }
            PersistRecord::NewView(nv) => {
                if nv.view >= self.view {
                    self.view = nv.view;
                    self.new_view = Some((**nv).clone());
                }
            }
            PersistRecord::Vote { seq, view, proposal } => {
                if *seq > self.stable_seq() && self.votes.get(seq).is_none_or(|(v, _)| v <= view) {
                    self.votes.insert(*seq, (*view, proposal.clone()));
                }
            }
            PersistRecord::Prepared { cert, proposal } => {
                if cert.seq > self.stable_seq()
                    && self.prepared.get(&cert.seq).is_none_or(|(c, _)| c.view <= cert.view)
                {
                    self.prepared.insert(cert.seq, (cert.clone(), proposal.clone()));
                }
            }
            PersistRecord::Committed(p) => {
                if p.cert.seq > self.stable_seq() {
                    self.committed.entry(p.cert.seq).or_insert_with(|| (**p).clone());
                }
            }
            PersistRecord::Stable(cert) => {
                if cert.seq > self.stable_seq() {
                    self.stable = Some(cert.clone());
                    let keep = cert.seq.next();
                    self.votes = self.votes.split_off(&keep);
                    self.prepared = self.prepared.split_off(&keep);
                    self.committed = self.committed.split_off(&keep);
                }
            }
        }
    }
}

impl Wire for PersistRecord {
    fn put(&self, w: &mut Vec<u8>) {
        match self {
            PersistRecord::View(v) => {
                w.push(0);
                v.put(w)
            }
            PersistRecord::NewView(nv) => {
                w.push(1);
                nv.put(w)
            }
            PersistRecord::Vote { seq, view, proposal } => {
                w.push(2);
                seq.put(w);
                view.put(w);
                proposal.put(w)
            }
            PersistRecord::Prepared { cert, proposal } => {
                w.push(3);
                cert.put(w);
                proposal.put(w)
            }
            PersistRecord::Committed(p) => {
                w.push(4);
                p.put(w)
            }
            PersistRecord::Stable(c) => {
                w.push(5);
                c.put(w)
            }
        }
    }
    fn take(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let tag = u8::take_tag(r)?;
        Ok(match tag {
            0 => PersistRecord::View(Wire::take(r)?),
            1 => PersistRecord::NewView(Box::new(Wire::take(r)?)),
            2 => PersistRecord::Vote { seq: Wire::take(r)?, view: Wire::take(r)?, proposal: Wire::take(r)? },
            3 => PersistRecord::Prepared { cert: Wire::take(r)?, proposal: Wire::take(r)? },
            4 => PersistRecord::Committed(Box::new(Wire::take(r)?)),
            5 => PersistRecord::Stable(Wire::take(r)?),
            tag => return Err(DecodeError::Tag { what: "persist record", tag }),
        })
    }
}

/// Reads a one-byte tag (helper so records share the message codec's reader).
trait TakeTag {
    fn take_tag(r: &mut Reader<'_>) -> Result<u8, DecodeError>;
}
impl TakeTag for u8 {
    fn take_tag(r: &mut Reader<'_>) -> Result<u8, DecodeError> {
        let mut b = [0u8; 1];
        b.copy_from_slice(r.take_bytes(1)?);
        Ok(b[0])
    }
}
