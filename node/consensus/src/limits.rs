//! Every bound of the core as a named constant, with the reason and compile-time relations.

/// Checkpoint every K sequence numbers (sbft.md decision 6).
pub const CHECKPOINT_INTERVAL_SEQS: u64 = 150;
/// Backups accept pre-prepares at most 2K above the last stable checkpoint.
pub const WINDOW_SEQS_MAX: u64 = 2 * CHECKPOINT_INTERVAL_SEQS;
/// Proposals the primary keeps in flight (concord: 16 concurrent agreements).
pub const PIPELINE_SEQS_MAX: u64 = 16;
/// Default lead of the primary's proposals over its execution (see `Config::execution_lead_max`).
pub const EXECUTION_LEAD_SEQS: u64 = 2;
/// A replica executing committed blocks does not complain about the view unless its executor
/// has finished nothing for this long (a stuck executor must not silence its complaints).
pub const EXECUTION_STALL_MS: u64 = 10_000;
/// Prompt commits (their round took at most half the base commit timeout) that halve a
/// replica's backed-off timeouts once: about 16 s of idle blocks on a healthy cluster.
pub const BACKOFF_DECAY_COMMITS: u32 = 16;
/// Fresh proposals that must leave a pending transaction out (after the censorship timeout)
/// before a replica complains that the primary censors it.
pub const CENSORSHIP_PROPOSALS_MIN: u64 = 3;
/// A batch (block) body; bigger proposals are misbehavior.
pub const BATCH_BYTES_MAX: u32 = 1024 * 1024;
/// Gas per block when the config does not say otherwise.
pub const BATCH_GAS_MAX: u64 = 30_000_000;
/// One transaction's payload.
pub const TX_BYTES_MAX: u32 = 128 * 1024;
/// Transactions in one batch.
pub const BATCH_TXS_MAX: u32 = 10_000;
/// Replicas in one cluster (the bitmap and the n = 209 configuration fit).
pub const REPLICAS_MAX: u16 = 256;
/// Signature bytes (BLS12-381 min-pk: 96; the mock uses fewer).
pub const SIGNATURE_BYTES_MAX: u32 = 96;
/// Pending client transactions a replica keeps; older ones beyond this are dropped.
pub const PENDING_TXS_MAX: usize = 100_000;
/// Commit proofs sent to one lagging peer per status message.
pub const CATCHUP_SEQS_MAX: u64 = 64;
/// Bodies carried in one view-change message (one vote per seq in the window, plus its
/// prepared value when that differs).
pub const VIEW_CHANGE_ENTRIES_MAX: u64 = 2 * WINDOW_SEQS_MAX;
/// Largest frame the decoder accepts. A view-change message carries bodies, which is the
/// known limitation recorded in docs/consensus/README.md; frames are still bounded.
pub const MESSAGE_BYTES_MAX: u32 = 64 * 1024 * 1024;

const _: () = assert!(WINDOW_SEQS_MAX.is_multiple_of(CHECKPOINT_INTERVAL_SEQS));
const _: () = assert!(PIPELINE_SEQS_MAX < WINDOW_SEQS_MAX);
const _: () = assert!(TX_BYTES_MAX <= BATCH_BYTES_MAX);
const _: () = assert!(BATCH_BYTES_MAX < MESSAGE_BYTES_MAX);
