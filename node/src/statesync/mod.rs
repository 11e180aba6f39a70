//! State transfer: how a replica that is behind the cluster's stable checkpoint (restarted
//! after a long stop, given a new disk, healed from a partition) catches up from its peers.
//!
//! The core hands the shell a stable checkpoint certificate (2f+c+1 signatures over the
//! block hash at a checkpoint). The replica then:
//! 1. fetches the headers from its head to the checkpoint and checks that they chain, by
//!    parent hash, from its own head to exactly the certified hash: every header is then as
//!    certain as the certificate;
//! 2. fetches the bodies and imports each block as `stele import` does: execute, and compare
//!    every root and the hash with the verified header before committing;
//! 3. tells the core the transfer is done and which transactions are now in the chain.
//!
//! A peer that sends a header chain that does not verify, a body that does not match, or
//! nothing in time is left for the next one. State is rebuilt by re-execution rather than
//! copied as a snapshot: slower for long chains, but nothing unverified reaches the disk.

pub(crate) mod fetch;
pub(crate) mod protocol;
pub(crate) mod serve;
