//! The deterministic simulator: N replicas and clients in one process under a seeded event
//! queue, with network adversaries, crashes at persistence points, clock skew, slow and
//! Byzantine replicas, and invariant oracles after every step. A failing run prints its
//! scenario and seed; `examples/soak.rs` replays it bit for bit.

pub mod byzantine;
pub mod cluster;
pub mod invariants;
pub mod network;
pub mod scenarios;
pub mod seed;
pub mod storage;

pub use cluster::{Cluster, CryptoKind, Fault, SimConfig, Stats, params, run};
pub use invariants::Violation;
pub use scenarios::{Scenario, by_name, catalogue};
