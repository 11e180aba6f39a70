//! Transaction admission: checks a raw transaction against the head state before it may
//! enter the pool. The pool itself (per-sender queues, replacement, eviction) lives with
//! the RPC server that feeds it.

pub mod validate;

pub use validate::{decode_raw_transaction, validate_transaction, TxError, ValidTransaction};
