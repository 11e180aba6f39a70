//! Everything replicas say to each other, and the exact bytes each signature covers.
//!
//! Peer identity comes from the transport (mTLS), so messages that are never forwarded carry
//! no signature of their own; everything that ends up inside a certificate or is relayed by a
//! third party (shares, checkpoints, view-change messages) is signed.

use crate::crypto::{Certificate, Signature};
use crate::types::{Digest, ReplicaId, SeqNum, ViewNum};
use crate::wire::Wire;

/// An opaque client transaction; the chain gives its bytes meaning.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tx {
    /// Encoded transaction.
    pub payload: Vec<u8>,
    /// Gas limit the transaction may consume (bounds the batch).
    pub gas: u64,
}

impl Tx {
    /// Identity used for deduplication and censorship tracking.
    pub fn id(&self) -> Digest {
        Digest::of(&[b"tx", &self.payload])
    }
}

/// A block proposal: timestamp stamped by the primary and ordered transactions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Batch {
    /// Milliseconds since the epoch on the primary's clock; non-decreasing along the chain.
    pub timestamp_ms: u64,
    /// Ordered transactions.
    pub txs: Vec<Tx>,
}

/// What a sequence number orders.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Proposal {
    /// A batch of transactions (possibly empty: an idle block).
    Batch(Batch),
    /// A no-op filled in by a new primary where nothing can have committed (SBFT §1.8 step 5).
    Null,
}

impl Proposal {
    /// Canonical digest of the proposal (independent of view and seq, so a value re-proposed
    /// in a later view keeps its identity in the safe-value rule).
    pub fn digest(&self) -> Digest {
        let mut b = Vec::new();
        self.put(&mut b);
        Digest::of(&[b"proposal", &b])
    }
    /// Timestamp, if any.
    pub fn timestamp_ms(&self) -> Option<u64> {
        match self {
            Proposal::Batch(b) => Some(b.timestamp_ms),
            Proposal::Null => None,
        }
    }
    /// Transactions (none for `Null`).
    pub fn txs(&self) -> &[Tx] {
        match self {
            Proposal::Batch(b) => &b.txs,
            Proposal::Null => &[],
        }
    }
}

/// The path the primary asks collectors to try first (sbft.md decision 4, §1.5 dual mode).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommitPath {
    /// Wait up to the slow-path timeout for 3f+c+1 shares.
    Fast,
    /// Start the linear slow path as soon as 2f+c+1 shares are in.
    Slow,
}

/// Which proof committed a sequence number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommitKind {
    /// σ: 3f+c+1 vote shares.
    Fast,
    /// τ(τ): 2f+c+1 commit shares over a prepare certificate.
    Slow,
}

/// Primary → all: order `proposal` at `seq` in `view`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrePrepare {
    /// View.
    pub view: ViewNum,
    /// Sequence number.
    pub seq: SeqNum,
    /// First path to try.
    pub path: CommitPath,
    /// The block.
    pub proposal: Proposal,
}

/// A replica's signed share over (kind, view, seq, digest), sent to the C-collectors.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Share {
    /// View.
    pub view: ViewNum,
    /// Sequence number.
    pub seq: SeqNum,
    /// Proposal digest.
    pub digest: Digest,
    /// Signature over [`vote_bytes`] or [`commit_bytes`].
    pub sig: Signature,
}

/// A certificate over (view, seq, digest): a fast commit proof (vote shares, ≥ 3f+c+1), a
/// prepare certificate (vote shares, ≥ 2f+c+1) or a slow commit proof (commit shares).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotCert {
    /// View.
    pub view: ViewNum,
    /// Sequence number.
    pub seq: SeqNum,
    /// Proposal digest.
    pub digest: Digest,
    /// Aggregate signature and signers.
    pub cert: Certificate,
}

/// A commit proof with the proposal it commits, sent to lagging replicas.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitProof {
    /// Fast or slow.
    pub kind: CommitKind,
    /// The certificate.
    pub cert: SlotCert,
    /// The committed proposal (its digest is `cert.digest`).
    pub proposal: Proposal,
}

/// A replica's share over the block hash after executing `seq` (to the E-collectors), or
/// its checkpoint signature (to everyone) when `seq` is a checkpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateShare {
    /// Sequence number executed.
    pub seq: SeqNum,
    /// Block hash after executing `seq`.
    pub block_hash: Digest,
    /// Signature over [`exec_bytes`] or [`checkpoint_bytes`].
    pub sig: Signature,
}

/// A certificate over (seq, block hash): the finality certificate (≥ f+1 exec shares) or a
/// stable-checkpoint certificate (≥ 2f+c+1 checkpoint shares).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateCert {
    /// Sequence number.
    pub seq: SeqNum,
    /// Block hash after executing `seq`.
    pub block_hash: Digest,
    /// Aggregate signature and signers.
    pub cert: Certificate,
}

/// Why a replica wants to leave a view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ComplaintReason {
    /// Pending work did not commit in time (or the primary went silent).
    Timeout,
    /// A transaction this replica holds was not proposed in time (sbft.md decision 9).
    Censorship,
    /// The primary's proposal broke the time-service rules.
    BadTimestamp,
    /// The view change to this view did not complete in time.
    ViewChangeTimeout,
}

/// Replica → all: "I want to leave `view`" (f+1 move the cluster to `view + 1`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Complaint {
    /// The view to leave.
    pub view: ViewNum,
    /// Why.
    pub reason: ComplaintReason,
}

/// One sequence number's evidence in a view-change message (SBFT §1.8).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VcEntry {
    /// Sequence number.
    pub seq: SeqNum,
    /// The last proposal this replica voted for at `seq` and the view of that vote.
    pub vote: Option<(ViewNum, Proposal)>,
    /// The highest prepare certificate this replica holds for `seq`, with its proposal.
    pub prepared: Option<(SlotCert, Proposal)>,
}

/// Replica → new primary (and all): state for moving to `new_view`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ViewChange {
    /// The view being entered.
    pub new_view: ViewNum,
    /// Sender (the message is relayed inside a `NewView`).
    pub sender: ReplicaId,
    /// Last stable checkpoint certificate, if any beyond genesis.
    pub stable: Option<StateCert>,
    /// Evidence for every seq above the stable checkpoint that the sender has.
    pub entries: Vec<VcEntry>,
    /// Sender's signature over [`ViewChange::signed_bytes`].
    pub sig: Signature,
}

impl ViewChange {
    /// Bytes the sender signs: the encoding with an empty signature.
    pub fn signed_bytes(&self) -> Vec<u8> {
        let unsigned = ViewChange { sig: Signature::default(), ..self.clone() };
        let mut b = b"stele/vc".to_vec();
        unsigned.put(&mut b);
        b
    }
}

/// New primary → all: the 2f+2c+1 view-change messages it built the view from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewView {
    /// The view.
    pub view: ViewNum,
    /// Signed view-change messages for `view` from distinct replicas.
    pub view_changes: Vec<ViewChange>,
}

/// "Here is where I am": sent by a replica that is stuck, answered with what it misses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    /// Sender's view.
    pub view: ViewNum,
    /// Whether the sender waits for a new view.
    pub in_view_change: bool,
    /// Highest seq such that every seq up to it is committed at the sender.
    pub committed: SeqNum,
    /// Sender's last stable checkpoint.
    pub stable: SeqNum,
}

/// All peer messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// A client transaction, gossiped (sbft.md decision 9).
    Tx(Tx),
    /// Primary's proposal.
    PrePrepare(PrePrepare),
    /// Vote share to the C-collectors.
    VoteShare(Share),
    /// Fast commit proof from a C-collector.
    FastCommit(SlotCert),
    /// Prepare certificate from a C-collector (slow path).
    Prepare(SlotCert),
    /// Commit share to the C-collectors (slow path).
    CommitShare(Share),
    /// Slow commit proof from a C-collector.
    SlowCommit(SlotCert),
    /// Commit proof with its proposal, for lagging replicas.
    Committed(Box<CommitProof>),
    /// Execution share to the E-collectors.
    ExecShare(StateShare),
    /// Finality certificate from an E-collector.
    Finality(StateCert),
    /// Checkpoint signature.
    Checkpoint(StateShare),
    /// Stable checkpoint certificate (for lagging replicas and state transfer).
    StableCheckpoint(StateCert),
    /// Complaint about the current view.
    Complaint(Complaint),
    /// View-change message.
    ViewChange(Box<ViewChange>),
    /// New-view message.
    NewView(Box<NewView>),
    /// Status of a stuck replica.
    Status(Status),
}

impl Message {
    /// Short name for metrics and tables.
    pub fn kind(&self) -> &'static str {
        match self {
            Message::Tx(_) => "tx",
            Message::PrePrepare(_) => "pre_prepare",
            Message::VoteShare(_) => "vote_share",
            Message::FastCommit(_) => "fast_commit",
            Message::Prepare(_) => "prepare",
            Message::CommitShare(_) => "commit_share",
            Message::SlowCommit(_) => "slow_commit",
            Message::Committed(_) => "committed",
            Message::ExecShare(_) => "exec_share",
            Message::Finality(_) => "finality",
            Message::Checkpoint(_) => "checkpoint",
            Message::StableCheckpoint(_) => "stable_checkpoint",
            Message::Complaint(_) => "complaint",
            Message::ViewChange(_) => "view_change",
            Message::NewView(_) => "new_view",
            Message::Status(_) => "status",
        }
    }
}

impl Message {
    /// The certificates this message carries, each with the bytes it must have signed: what
    /// the core will check when it handles the message. A shell may check them beforehand
    /// on another thread (with a crypto that remembers what it verified), so that the core's
    /// own check is a lookup. Shares, proposals and view changes are left to the core.
    pub fn certificate_claims(&self) -> Vec<(Vec<u8>, &Certificate)> {
        let slot = |kind: CommitKind, c: &SlotCert| match kind {
            CommitKind::Fast => vote_bytes(c.view, c.seq, &c.digest),
            CommitKind::Slow => commit_bytes(c.view, c.seq, &c.digest),
        };
        match self {
            Message::FastCommit(c) | Message::Prepare(c) => vec![(slot(CommitKind::Fast, c), &c.cert)],
            Message::SlowCommit(c) => vec![(slot(CommitKind::Slow, c), &c.cert)],
            Message::Committed(p) => vec![(slot(p.kind, &p.cert), &p.cert.cert)],
            Message::Finality(c) => vec![(exec_bytes(c.seq, &c.block_hash), &c.cert)],
            Message::StableCheckpoint(c) => vec![(checkpoint_bytes(c.seq, &c.block_hash), &c.cert)],
            _ => Vec::new(),
        }
    }
}

fn slot_bytes(tag: &[u8], view: ViewNum, seq: SeqNum, digest: &Digest) -> Vec<u8> {
    let mut b = Vec::with_capacity(tag.len() + 48);
    b.extend_from_slice(tag);
    b.extend_from_slice(&view.get().to_le_bytes());
    b.extend_from_slice(&seq.get().to_le_bytes());
    b.extend_from_slice(&digest.0);
    b
}

/// What a vote share signs: the fast-path σ and the prepare τ are the same bytes; the
/// certificate's signer count says which quorum it meets.
pub fn vote_bytes(view: ViewNum, seq: SeqNum, digest: &Digest) -> Vec<u8> {
    slot_bytes(b"stele/vote", view, seq, digest)
}
/// What a slow-path commit share signs.
pub fn commit_bytes(view: ViewNum, seq: SeqNum, digest: &Digest) -> Vec<u8> {
    slot_bytes(b"stele/commit", view, seq, digest)
}
/// What an execution share (finality certificate) signs.
pub fn exec_bytes(seq: SeqNum, block_hash: &Digest) -> Vec<u8> {
    slot_bytes(b"stele/exec", ViewNum::new(0), seq, block_hash)
}
/// What a checkpoint signature signs.
pub fn checkpoint_bytes(seq: SeqNum, block_hash: &Digest) -> Vec<u8> {
    slot_bytes(b"stele/checkpoint", ViewNum::new(0), seq, block_hash)
}
