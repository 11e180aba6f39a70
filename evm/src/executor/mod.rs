//! Block execution with revm through alloy-evm's Ethereum block executor, and what follows
//! from it: receipts, the post-state and the roots that seal a header.
//!
//! - [`block`]: execute a list of transactions on top of the database's head.
//! - [`post_state`]: turn revm's bundle into trie updates and a new state root.
//! - [`persist`]: write an executed block and everything derived from it in one transaction.
//! - [`pipeline`]: build blocks one after another, committing each while the next executes,
//!   reading through the [`pending`] block.

pub mod block;
pub mod builder;
pub mod call;
pub mod pending;
pub mod persist;
pub mod pipeline;
pub mod post_state;
pub mod trace;

pub use block::{execute_block, BlockEnvInput, Executed, ExecuteError, InvalidTxPolicy};
pub use builder::{build_and_commit, build_and_commit_with, build_block, build_block_on, BlockRequest, BuildError, BuildTimings, BuiltBlock};
pub use pipeline::{BlockPipeline, CommittedBlock};
