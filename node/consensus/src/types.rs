//! Identifier and counter newtypes: `ReplicaId`, `ViewNum`, `SeqNum`, `Tick`, `Digest`.
//!
//! Built with `new`, advanced with `next()`; there is deliberately no `From<u64>` so a view
//! can never be passed where a sequence number is expected (STYLE.md §2.1).

use sha2::{Digest as _, Sha256};
use std::fmt;

/// Index of a replica in the cluster, `0..n`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReplicaId(u16);

impl ReplicaId {
    /// Wraps a replica index.
    pub const fn new(index: u16) -> Self {
        Self(index)
    }
    /// The index as a `u16`.
    pub const fn get(self) -> u16 {
        self.0
    }
    /// The index as a `usize`, for bitmaps and tables.
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for ReplicaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "r{}", self.0)
    }
}

/// A view: one primary's term (`primary = view mod n`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ViewNum(u64);

impl ViewNum {
    /// Wraps a view number.
    pub const fn new(view: u64) -> Self {
        Self(view)
    }
    /// The raw number.
    pub const fn get(self) -> u64 {
        self.0
    }
    /// The following view. Panics only at `u64::MAX`, which no cluster reaches.
    pub fn next(self) -> Self {
        Self(self.0.checked_add(1).expect("INVARIANT: views never reach u64::MAX"))
    }
}

impl fmt::Display for ViewNum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}", self.0)
    }
}

/// Position in the total order; one sequence number is one block (sbft.md decision 3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SeqNum(u64);

impl SeqNum {
    /// Wraps a sequence number.
    pub const fn new(seq: u64) -> Self {
        Self(seq)
    }
    /// The raw number.
    pub const fn get(self) -> u64 {
        self.0
    }
    /// The following sequence number.
    pub fn next(self) -> Self {
        Self(self.0.checked_add(1).expect("INVARIANT: sequence numbers never reach u64::MAX"))
    }
    /// `self + k`, saturating.
    pub const fn plus(self, k: u64) -> Self {
        Self(self.0.saturating_add(k))
    }
    /// The previous sequence number, `None` at zero.
    pub fn prev(self) -> Option<Self> {
        self.0.checked_sub(1).map(Self)
    }
}

impl fmt::Display for SeqNum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s{}", self.0)
    }
}

/// Logical time in milliseconds, supplied by the caller of `handle` (the core has no clock).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tick(u64);

impl Tick {
    /// Wraps milliseconds.
    pub const fn from_ms(ms: u64) -> Self {
        Self(ms)
    }
    /// Milliseconds.
    pub const fn ms(self) -> u64 {
        self.0
    }
    /// `self + ms`, saturating.
    pub const fn plus_ms(self, ms: u64) -> Self {
        Self(self.0.saturating_add(ms))
    }
    /// Milliseconds elapsed since `earlier` (zero if `earlier` is later).
    pub const fn since(self, earlier: Tick) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

/// A SHA-256 digest.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Digest(pub [u8; 32]);

impl Digest {
    /// SHA-256 over the concatenation of `parts`.
    pub fn of(parts: &[&[u8]]) -> Self {
        let mut h = Sha256::new();
        for p in parts {
            h.update(p);
        }
        Self(h.finalize().into())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in &self.0[..4] {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}
