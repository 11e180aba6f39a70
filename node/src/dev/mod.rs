//! The single-replica dev chain behind `stele up`: embedded dev genesis and accounts, the
//! pool, and a block producer that seals a block as soon as transactions are pending
//! (batching what arrives within a few milliseconds). The cluster replaces the producer
//! with SBFT ordering; the RPC side is the same.

pub(crate) mod accounts;
pub(crate) mod genesis;
pub(crate) mod node;
pub(crate) mod producer;
