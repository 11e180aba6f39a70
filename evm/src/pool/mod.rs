//! Transaction admission ([`validate`]: checks against the head state) and the pool of
//! valid transactions waiting for a block ([`pool`]: per-sender queues, replacement,
//! limits).

pub mod pool;
pub mod validate;

pub use pool::{Added, PoolConfig, PoolContent, PoolError, TxPool};
pub use validate::{decode_raw_transaction, validate_transaction, TxError, ValidTransaction};
