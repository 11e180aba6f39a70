//! Simulated disk: the persisted records folded into a `Durable`, and the chain of executed
//! blocks. Both survive a crash; nothing else does.

use crate::persist::{Durable, PersistRecord};
use crate::types::{Digest, SeqNum};

/// Where to crash relative to a persistence point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrashPoint {
    /// The record never reached the disk.
    BeforeWrite,
    /// The record is on disk but the ack (and every held message) is lost.
    AfterWrite,
}

/// One replica's disk.
#[derive(Clone, Debug, Default)]
pub struct Storage {
    /// The consensus records, folded.
    pub durable: Durable,
    /// Executed blocks: (seq, block hash), contiguous from seq 1.
    pub chain: Vec<(SeqNum, Digest)>,
    /// Persist calls so far (persistence points).
    pub writes: u64,
    /// Transactions included in the chain (the shell's mempool drops these, as a real one
    /// drops transactions whose nonce is used).
    pub included: std::collections::BTreeMap<Digest, SeqNum>,
}

impl Storage {
    /// Writes one record (through the wire codec when `roundtrip`, as a real disk would).
    pub fn write(&mut self, record: &PersistRecord, roundtrip: bool) {
        self.writes += 1;
        if roundtrip {
            let bytes = crate::wire::encode(record);
            let back: PersistRecord = crate::wire::decode(&bytes).expect("INVARIANT: own records decode");
            assert_eq!(&back, record, "persist record did not round-trip");
            self.durable.apply(&back);
        } else {
            self.durable.apply(record);
        }
    }
    /// Last executed block.
    pub fn head(&self) -> (SeqNum, Digest) {
        self.chain.last().copied().unwrap_or((SeqNum::new(0), Digest::default()))
    }
}
