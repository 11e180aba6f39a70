//! # stele-consensus: the SBFT core and its deterministic simulator
//!
//! A pure, deterministic state machine for SBFT (Gueta et al., DSN 2019) as decided in
//! `shared/design/sbft.md`: n = 3f + 2c + 1 replicas, a fast path through c+1 rotating
//! C-collectors (3f+c+1 shares), a linear slow path (2f+c+1) with path switching and no view
//! change, E-collectors and f+1 finality certificates, checkpoints every K with a 2K window,
//! complaints and the view change with the f+c+1 fast-path evidence rule.
//!
//! ## Driving a replica (for the shell in `node/src`)
//!
//! ```no_run
//! use std::sync::Arc;
//! use stele_consensus::{Config, Input, Output, Params, Replica, ReplicaId, Tick};
//! use stele_consensus::crypto::mock::MockCrypto;
//!
//! let params = Params::new(4, 1, 0).unwrap();
//! let id = ReplicaId::new(0);
//! let mut r = Replica::new(Config::new(params, id), Arc::new(MockCrypto::new(id)));
//! for out in r.handle(Tick::from_ms(0), Input::Start) {
//!     match out {
//!         Output::Persist { id, record } => { /* write, fsync, then feed Input::PersistAck(id) */ }
//!         Output::Send { .. } | Output::Broadcast(_) => { /* encode with wire::encode, send */ }
//!         Output::SetTimer { .. } => { /* feed Input::Timer(kind) at the deadline */ }
//!         Output::Execute(proof) => { /* execute block proof.cert.seq, feed Input::Executed */ }
//!         _ => {}
//!     }
//! }
//! ```
//!
//! Contract: feed only valid transactions (`ClientTx` and gossiped `Message::Tx`): drop those
//! already included in the chain (their nonce is used), or the censorship timer will complain
//! about a transaction no primary can include again; feed inputs one at a time; perform outputs in order; acknowledge persists in
//! order (a `Send`/`Broadcast` that depends on a `Persist` is already held back by the core
//! until its ack); execute in sequence order; on restart fold the persisted records into a
//! [`Durable`] and call [`Replica::restore`] with the chain's last executed sequence number.
//!
//! The simulator (`sim`) drives many replicas in one process under a seeded schedule and
//! checks safety invariants after every step; see `docs/consensus/README.md`.

#![forbid(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used))]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::needless_range_loop))]

pub mod crypto;
pub mod input;
pub mod limits;
pub mod message;
pub mod misbehavior;
pub mod output;
pub mod params;
pub mod persist;
pub mod replica;
pub mod safety;
pub mod sim;
pub mod types;
pub mod verify;
pub mod wire;

mod catchup;
mod checkpoint;
mod collector;
mod proposer;
mod slot;
mod view_change;

pub use input::Input;
pub use output::{Event, Output, PersistId, TimerKind};
pub use params::Params;
pub use persist::{Durable, PersistRecord};
pub use replica::{Config, Mode, Replica};
pub use types::{Digest, ReplicaId, SeqNum, Tick, ViewNum};
