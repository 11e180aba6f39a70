//! stele-evm: Ethereum-exact execution and the chain database.
//!
//! Module map:
//! - [`chainspec`]: a geth-format genesis.json turned into a fork schedule and fee rules.
//! - [`forkid`]: the chain's EIP-2124 fork identifier, counted as geth counts it.
//! - [`db`]: the MDBX chain database, typed tables in the style of reth-db.
//! - [`state`]: revm's view of the database, at the head or at any past block.
//! - [`trie`]: the incremental Merkle-Patricia state root over trie nodes kept in the database.
//! - [`executor`]: block execution with revm through alloy-evm, receipts and roots.
//! - [`import`]: executing and verifying a chain file made by another client.
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod chainspec;
pub mod db;
pub mod executor;
pub mod forkid;
pub mod genesis;
pub mod import;
pub mod pool;
pub mod state;
pub mod trie;

pub use chainspec::{ChainSpec, ChainSpecError};
pub use db::{ChainDb, DbError};
