//! Canonical, versioned binary encoding of peer messages and persisted records.
//!
//! Frame: `[VERSION][tag][body]`, integers little-endian, variable parts length-prefixed.
//! Decoding untrusted bytes never panics, never allocates more than the input justifies, is
//! bounded by `limits`, and rejects trailing bytes, unknown tags and non-canonical values, so
//! `encode(decode(b)) == b` for every accepted `b`.

use crate::crypto::{Certificate, Signature, SignerBitmap};
use crate::limits::{
    BATCH_BYTES_MAX, BATCH_TXS_MAX, MESSAGE_BYTES_MAX, REPLICAS_MAX, SIGNATURE_BYTES_MAX, TX_BYTES_MAX,
    VIEW_CHANGE_ENTRIES_MAX,
};
use crate::message::*;
use crate::types::{Digest, ReplicaId, SeqNum, ViewNum};
use thiserror::Error;

/// Wire format version; bump on any change (fixtures in the tests pin the bytes).
pub const WIRE_VERSION: u8 = 1;

/// Why bytes were rejected. Undecodable bytes from a replica are misbehavior.
#[derive(Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// Input ended early.
    #[error("truncated at byte {0}")]
    Truncated(usize),
    /// Frame larger than `MESSAGE_BYTES_MAX`.
    #[error("frame of {0} bytes exceeds the limit")]
    TooLarge(usize),
    /// Unknown wire version.
    #[error("unsupported wire version {0}")]
    Version(u8),
    /// Unknown enum tag.
    #[error("unknown tag {tag} for {what}")]
    Tag {
        /// Type being decoded.
        what: &'static str,
        /// Tag found.
        tag: u8,
    },
    /// A length or count above its limit.
    #[error("{what}: {len} exceeds limit {max}")]
    Limit {
        /// Field.
        what: &'static str,
        /// Claimed length.
        len: u64,
        /// Limit.
        max: u64,
    },
    /// Bytes left after the message.
    #[error("{0} trailing bytes")]
    Trailing(usize),
}

/// A cursor over untrusted bytes.
#[derive(Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Starts reading `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }
    fn take(&mut self, len: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(len).ok_or(DecodeError::Truncated(self.pos))?;
        let s = self.buf.get(self.pos..end).ok_or(DecodeError::Truncated(self.pos))?;
        self.pos = end;
        Ok(s)
    }
    /// Takes exactly `len` raw bytes.
    pub fn take_bytes(&mut self, len: usize) -> Result<&'a [u8], DecodeError> {
        self.take(len)
    }
    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }
    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, DecodeError> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, DecodeError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64, DecodeError> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(a))
    }
    fn bytes(&mut self, what: &'static str, max: u32) -> Result<Vec<u8>, DecodeError> {
        let len = self.u32()?;
        if len > max {
            return Err(DecodeError::Limit { what, len: len.into(), max: max.into() });
        }
        Ok(self.take(len as usize)?.to_vec())
    }
    /// A count, bounded by `max` and by the bytes left (each element takes ≥ 1 byte).
    fn count(&mut self, what: &'static str, max: u64) -> Result<usize, DecodeError> {
        let len = u64::from(self.u32()?);
        if len > max || len > self.remaining() as u64 {
            return Err(DecodeError::Limit { what, len, max });
        }
        Ok(len as usize)
    }
    /// Fails unless every byte was consumed.
    pub fn finish(&self) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            k => Err(DecodeError::Trailing(k)),
        }
    }
}

/// A type with a canonical encoding.
pub trait Wire: Sized {
    /// Appends the encoding.
    fn put(&self, w: &mut Vec<u8>);
    /// Decodes one value.
    fn take(r: &mut Reader<'_>) -> Result<Self, DecodeError>;
}

fn put_u32_len(w: &mut Vec<u8>, len: usize) {
    w.extend_from_slice(&(len as u32).to_le_bytes());
}
fn put_bytes(w: &mut Vec<u8>, b: &[u8]) {
    put_u32_len(w, b.len());
    w.extend_from_slice(b);
}
fn put_bool(w: &mut Vec<u8>, b: bool) {
    w.push(u8::from(b));
}
fn take_bool(r: &mut Reader<'_>) -> Result<bool, DecodeError> {
    match r.u8()? {
        0 => Ok(false),
        1 => Ok(true),
        tag => Err(DecodeError::Tag { what: "bool", tag }),
    }
}

impl Wire for u64 {
    fn put(&self, w: &mut Vec<u8>) {
        w.extend_from_slice(&self.to_le_bytes());
    }
    fn take(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.u64()
    }
}
impl Wire for ViewNum {
    fn put(&self, w: &mut Vec<u8>) {
        self.get().put(w)
    }
    fn take(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(ViewNum::new(r.u64()?))
    }
}
impl Wire for SeqNum {
    fn put(&self, w: &mut Vec<u8>) {
        self.get().put(w)
    }
    fn take(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(SeqNum::new(r.u64()?))
    }
}
impl Wire for ReplicaId {
    fn put(&self, w: &mut Vec<u8>) {
        w.extend_from_slice(&self.get().to_le_bytes())
    }
    fn take(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let v = r.u16()?;
        if v >= REPLICAS_MAX {
            return Err(DecodeError::Limit { what: "replica", len: v.into(), max: REPLICAS_MAX.into() });
        }
        Ok(ReplicaId::new(v))
    }
}
impl Wire for Digest {
    fn put(&self, w: &mut Vec<u8>) {
        w.extend_from_slice(&self.0)
    }
    fn take(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let mut d = [0u8; 32];
        d.copy_from_slice(r.take(32)?);
        Ok(Digest(d))
    }
}
impl Wire for Signature {
    fn put(&self, w: &mut Vec<u8>) {
        put_bytes(w, &self.0)
    }
    fn take(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Signature(r.bytes("signature", SIGNATURE_BYTES_MAX)?))
    }
}
impl Wire for Certificate {
    fn put(&self, w: &mut Vec<u8>) {
        put_bytes(w, &self.signers.0);
        self.signature.put(w);
    }
    fn take(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let signers = SignerBitmap(r.bytes("bitmap", u32::from(REPLICAS_MAX / 8))?);
        Ok(Certificate { signers, signature: Signature::take(r)? })
    }
}
impl<T: Wire> Wire for Option<T> {
    fn put(&self, w: &mut Vec<u8>) {
        match self {
            None => w.push(0),
            Some(v) => {
                w.push(1);
                v.put(w)
            }
        }
    }
    fn take(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(if take_bool(r)? { Some(T::take(r)?) } else { None })
    }
}
impl Wire for Tx {
    fn put(&self, w: &mut Vec<u8>) {
        put_bytes(w, &self.payload);
        self.gas.put(w);
    }
    fn take(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Tx { payload: r.bytes("tx", TX_BYTES_MAX)?, gas: r.u64()? })
    }
}
impl Wire for Proposal {
    fn put(&self, w: &mut Vec<u8>) {
        match self {
            Proposal::Null => w.push(0),
            Proposal::Batch(b) => {
                w.push(1);
                b.timestamp_ms.put(w);
                put_u32_len(w, b.txs.len());
                for t in &b.txs {
                    t.put(w);
                }
            }
        }
    }
    fn take(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        match r.u8()? {
            0 => Ok(Proposal::Null),
            1 => {
                let start = r.pos;
                let timestamp_ms = r.u64()?;
                let k = r.count("txs", BATCH_TXS_MAX.into())?;
                let mut txs = Vec::with_capacity(k.min(1024));
                for _ in 0..k {
                    txs.push(Tx::take(r)?);
                    if r.pos - start > BATCH_BYTES_MAX as usize {
                        let len = (r.pos - start) as u64;
                        return Err(DecodeError::Limit { what: "batch", len, max: BATCH_BYTES_MAX.into() });
                    }
                }
                Ok(Proposal::Batch(Batch { timestamp_ms, txs }))
            }
            tag => Err(DecodeError::Tag { what: "proposal", tag }),
        }
    }
}
impl Wire for CommitPath {
    fn put(&self, w: &mut Vec<u8>) {
        w.push(match self {
            CommitPath::Fast => 0,
            CommitPath::Slow => 1,
        })
    }
    fn take(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        match r.u8()? {
            0 => Ok(CommitPath::Fast),
            1 => Ok(CommitPath::Slow),
            tag => Err(DecodeError::Tag { what: "path", tag }),
        }
    }
}
impl Wire for CommitKind {
    fn put(&self, w: &mut Vec<u8>) {
        w.push(match self {
            CommitKind::Fast => 0,
            CommitKind::Slow => 1,
        })
    }
    fn take(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        match r.u8()? {
            0 => Ok(CommitKind::Fast),
            1 => Ok(CommitKind::Slow),
            tag => Err(DecodeError::Tag { what: "commit kind", tag }),
        }
    }
}
impl Wire for ComplaintReason {
    fn put(&self, w: &mut Vec<u8>) {
        w.push(match self {
            ComplaintReason::Timeout => 0,
            ComplaintReason::Censorship => 1,
            ComplaintReason::BadTimestamp => 2,
            ComplaintReason::ViewChangeTimeout => 3,
        })
    }
    fn take(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        match r.u8()? {
            0 => Ok(ComplaintReason::Timeout),
            1 => Ok(ComplaintReason::Censorship),
            2 => Ok(ComplaintReason::BadTimestamp),
            3 => Ok(ComplaintReason::ViewChangeTimeout),
            tag => Err(DecodeError::Tag { what: "complaint reason", tag }),
        }
    }
}
impl Wire for PrePrepare {
    fn put(&self, w: &mut Vec<u8>) {
        self.view.put(w);
        self.seq.put(w);
        self.path.put(w);
        self.proposal.put(w);
    }
    fn take(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(PrePrepare { view: Wire::take(r)?, seq: Wire::take(r)?, path: Wire::take(r)?, proposal: Wire::take(r)? })
    }
}
impl Wire for Share {
    fn put(&self, w: &mut Vec<u8>) {
        self.view.put(w);
        self.seq.put(w);
        self.digest.put(w);
        self.sig.put(w);
    }
    fn take(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Share { view: Wire::take(r)?, seq: Wire::take(r)?, digest: Wire::take(r)?, sig: Wire::take(r)? })
    }
}
impl Wire for SlotCert {
    fn put(&self, w: &mut Vec<u8>) {
        self.view.put(w);
        self.seq.put(w);
        self.digest.put(w);
        self.cert.put(w);
    }
    fn take(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(SlotCert { view: Wire::take(r)?, seq: Wire::take(r)?, digest: Wire::take(r)?, cert: Wire::take(r)? })
    }
}
impl Wire for CommitProof {
    fn put(&self, w: &mut Vec<u8>) {
        self.kind.put(w);
        self.cert.put(w);
        self.proposal.put(w);
    }
    fn take(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(CommitProof { kind: Wire::take(r)?, cert: Wire::take(r)?, proposal: Wire::take(r)? })
    }
}
impl Wire for StateShare {
    fn put(&self, w: &mut Vec<u8>) {
        self.seq.put(w);
        self.block_hash.put(w);
        self.sig.put(w);
    }
    fn take(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(StateShare { seq: Wire::take(r)?, block_hash: Wire::take(r)?, sig: Wire::take(r)? })
    }
}
impl Wire for StateCert {
    fn put(&self, w: &mut Vec<u8>) {
        self.seq.put(w);
        self.block_hash.put(w);
        self.cert.put(w);
    }
    fn take(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(StateCert { seq: Wire::take(r)?, block_hash: Wire::take(r)?, cert: Wire::take(r)? })
    }
}
impl Wire for Complaint {
    fn put(&self, w: &mut Vec<u8>) {
        self.view.put(w);
        self.reason.put(w);
    }
    fn take(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Complaint { view: Wire::take(r)?, reason: Wire::take(r)? })
    }
}
impl Wire for (ViewNum, Proposal) {
    fn put(&self, w: &mut Vec<u8>) {
        self.0.put(w);
        self.1.put(w);
    }
    fn take(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok((Wire::take(r)?, Wire::take(r)?))
    }
}
impl Wire for (SlotCert, Proposal) {
    fn put(&self, w: &mut Vec<u8>) {
        self.0.put(w);
        self.1.put(w);
    }
    fn take(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok((Wire::take(r)?, Wire::take(r)?))
    }
}
impl Wire for VcEntry {
    fn put(&self, w: &mut Vec<u8>) {
        self.seq.put(w);
        self.vote.put(w);
        self.prepared.put(w);
    }
    fn take(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(VcEntry { seq: Wire::take(r)?, vote: Wire::take(r)?, prepared: Wire::take(r)? })
    }
}
impl Wire for ViewChange {
    fn put(&self, w: &mut Vec<u8>) {
        self.new_view.put(w);
        self.sender.put(w);
        self.stable.put(w);
        put_u32_len(w, self.entries.len());
        for e in &self.entries {
            e.put(w);
        }
        self.sig.put(w);
    }
    fn take(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let new_view = Wire::take(r)?;
        let sender = Wire::take(r)?;
        let stable = Wire::take(r)?;
        let k = r.count("vc entries", VIEW_CHANGE_ENTRIES_MAX)?;
        let mut entries = Vec::with_capacity(k.min(64));
        for _ in 0..k {
            entries.push(VcEntry::take(r)?);
        }
        Ok(ViewChange { new_view, sender, stable, entries, sig: Wire::take(r)? })
    }
}
impl Wire for NewView {
    fn put(&self, w: &mut Vec<u8>) {
        self.view.put(w);
        put_u32_len(w, self.view_changes.len());
        for v in &self.view_changes {
            v.put(w);
        }
    }
    fn take(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let view = Wire::take(r)?;
        let k = r.count("view changes", REPLICAS_MAX.into())?;
        let mut view_changes = Vec::with_capacity(k.min(16));
        for _ in 0..k {
            view_changes.push(ViewChange::take(r)?);
        }
        Ok(NewView { view, view_changes })
    }
}
impl Wire for Status {
    fn put(&self, w: &mut Vec<u8>) {
        self.view.put(w);
        put_bool(w, self.in_view_change);
        self.committed.put(w);
        self.stable.put(w);
    }
    fn take(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Status {
            view: Wire::take(r)?,
            in_view_change: take_bool(r)?,
            committed: Wire::take(r)?,
            stable: Wire::take(r)?,
        })
    }
}

impl Wire for Message {
    fn put(&self, w: &mut Vec<u8>) {
        match self {
            Message::Tx(m) => {
                w.push(0);
                m.put(w)
            }
            Message::PrePrepare(m) => {
                w.push(1);
                m.put(w)
            }
            Message::VoteShare(m) => {
                w.push(2);
                m.put(w)
            }
            Message::FastCommit(m) => {
                w.push(3);
                m.put(w)
            }
            Message::Prepare(m) => {
                w.push(4);
                m.put(w)
            }
            Message::CommitShare(m) => {
                w.push(5);
                m.put(w)
            }
            Message::SlowCommit(m) => {
                w.push(6);
                m.put(w)
            }
            Message::Committed(m) => {
                w.push(7);
                m.put(w)
            }
            Message::ExecShare(m) => {
                w.push(8);
                m.put(w)
            }
            Message::Finality(m) => {
                w.push(9);
                m.put(w)
            }
            Message::Checkpoint(m) => {
                w.push(10);
                m.put(w)
            }
            Message::StableCheckpoint(m) => {
                w.push(11);
                m.put(w)
            }
            Message::Complaint(m) => {
                w.push(12);
                m.put(w)
            }
            Message::ViewChange(m) => {
                w.push(13);
                m.put(w)
            }
            Message::NewView(m) => {
                w.push(14);
                m.put(w)
            }
            Message::Status(m) => {
                w.push(15);
                m.put(w)
            }
        }
    }
    fn take(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(match r.u8()? {
            0 => Message::Tx(Wire::take(r)?),
            1 => Message::PrePrepare(Wire::take(r)?),
            2 => Message::VoteShare(Wire::take(r)?),
            3 => Message::FastCommit(Wire::take(r)?),
            4 => Message::Prepare(Wire::take(r)?),
            5 => Message::CommitShare(Wire::take(r)?),
            6 => Message::SlowCommit(Wire::take(r)?),
            7 => Message::Committed(Box::new(Wire::take(r)?)),
            8 => Message::ExecShare(Wire::take(r)?),
            9 => Message::Finality(Wire::take(r)?),
            10 => Message::Checkpoint(Wire::take(r)?),
            11 => Message::StableCheckpoint(Wire::take(r)?),
            12 => Message::Complaint(Wire::take(r)?),
            13 => Message::ViewChange(Box::new(Wire::take(r)?)),
            14 => Message::NewView(Box::new(Wire::take(r)?)),
            15 => Message::Status(Wire::take(r)?),
            tag => return Err(DecodeError::Tag { what: "message", tag }),
        })
    }
}

/// Encodes a framed value: `[WIRE_VERSION] ++ encoding`.
pub fn encode<T: Wire>(value: &T) -> Vec<u8> {
    let mut w = vec![WIRE_VERSION];
    value.put(&mut w);
    w
}

/// Decodes a framed value from untrusted bytes.
pub fn decode<T: Wire>(bytes: &[u8]) -> Result<T, DecodeError> {
    if bytes.len() > MESSAGE_BYTES_MAX as usize {
        return Err(DecodeError::TooLarge(bytes.len()));
    }
    let mut r = Reader::new(bytes);
    let v = r.u8()?;
    if v != WIRE_VERSION {
        return Err(DecodeError::Version(v));
    }
    let value = T::take(&mut r)?;
    r.finish()?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<Message> {
        let cert = Certificate { signers: SignerBitmap(vec![0b1011]), signature: Signature(vec![9; 16]) };
        let sc = SlotCert { view: ViewNum::new(2), seq: SeqNum::new(7), digest: Digest([3; 32]), cert: cert.clone() };
        let prop = Proposal::Batch(Batch { timestamp_ms: 5, txs: vec![Tx { payload: vec![1, 2], gas: 21000 }] });
        vec![
            Message::PrePrepare(PrePrepare { view: ViewNum::new(1), seq: SeqNum::new(2), path: CommitPath::Slow, proposal: prop.clone() }),
            Message::FastCommit(sc.clone()),
            Message::ViewChange(Box::new(ViewChange {
                new_view: ViewNum::new(3),
                sender: ReplicaId::new(1),
                stable: Some(StateCert { seq: SeqNum::new(4), block_hash: Digest([1; 32]), cert }),
                entries: vec![VcEntry { seq: SeqNum::new(7), vote: Some((ViewNum::new(2), prop.clone())), prepared: Some((sc, Proposal::Null)) }],
                sig: Signature(vec![1; 16]),
            })),
            Message::Status(Status { view: ViewNum::new(1), in_view_change: true, committed: SeqNum::new(3), stable: SeqNum::new(0) }),
        ]
    }

    #[test]
    fn roundtrip_is_canonical() {
        for m in sample() {
            let b = encode(&m);
            assert_eq!(decode::<Message>(&b).unwrap(), m);
            let mut t = b.clone();
            t.push(0);
            assert_eq!(decode::<Message>(&t), Err(DecodeError::Trailing(1)));
            for cut in 0..b.len() {
                assert!(decode::<Message>(&b[..cut]).is_err());
            }
        }
    }

    #[test]
    fn pinned_encoding_hash() {
        // Conformance fixture: changing the format must change WIRE_VERSION and this hash.
        let mut all = Vec::new();
        for m in sample() {
            all.extend(encode(&m));
        }
        let h: String = Digest::of(&[&all]).0.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(h, PINNED, "wire format changed; bump WIRE_VERSION and the fixture");
    }
    const PINNED: &str = "21ba6d14d785abc45c6d3fc7758ba56356dc1fa23f683aaf192d231b2adae811";

    #[test]
    fn huge_counts_do_not_allocate() {
        let mut b = vec![WIRE_VERSION, 13];
        b.extend_from_slice(&[0; 8]);
        b.extend_from_slice(&[0; 2]);
        b.push(0);
        b.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(decode::<Message>(&b), Err(DecodeError::Limit { .. })));
    }
}
