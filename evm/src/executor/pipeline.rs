//! Blocks built one after another, each committed on a second thread while the next one
//! executes.
//!
//! A large block's commit (its rows put into MDBX's B-trees, then the durable flush) takes
//! longer than executing it and computing its state root (docs/BENCHMARKS.md). One after the
//! other, a block costs all of it. Here block N+1 executes and roots over N's
//! [`PendingBlock`] while N's commit runs. At most one block is in flight, and N+1's commit
//! starts only once N's has landed, so the database still moves from a committed block to
//! its child, one write transaction per block, and a crash leaves it at the last committed
//! block, as before. What changes is that a block is executed before its parent is durable.
//!
//! The pipeline must be the only writer of blocks to its database (`stele import`, the
//! execution benchmark); readers are free to run alongside.

use super::{
    builder::{build_block_on, commit_built, BlockRequest, BuildError, BuildTimings, BuiltBlock},
    pending::PendingBlock,
};
use crate::{chainspec::ChainSpec, db::ChainDb, state::StateReader};
use signet_libmdbx::RoSync;
use std::{sync::Arc, thread::JoinHandle, time::Duration};

/// A block whose commit has landed.
#[derive(Debug)]
pub struct CommittedBlock {
    /// The block.
    pub block: Arc<BuiltBlock>,
    /// Where its time went, commit and flush included.
    pub timings: BuildTimings,
}

/// The block being committed, and its commit.
#[derive(Debug)]
struct InFlight {
    pending: PendingBlock,
    commit: JoinHandle<Result<(Duration, Duration), BuildError>>,
}

/// Builds blocks on the database's head, committing each while the next one is built.
#[derive(Debug)]
pub struct BlockPipeline {
    db: ChainDb,
    spec: Arc<ChainSpec>,
    in_flight: Option<InFlight>,
}

impl BlockPipeline {
    /// A pipeline that builds on `db`'s head.
    pub fn new(db: ChainDb, spec: Arc<ChainSpec>) -> Self {
        Self { db, spec, in_flight: None }
    }

    /// Builds the child of the last block built (committed or not) and starts its commit.
    /// Returns the block before it once that one's commit has landed (`None` the first
    /// time). After an error nothing more is in flight: the database holds every block
    /// returned so far, and possibly the one whose commit was running.
    pub fn push(&mut self, request: &BlockRequest) -> Result<Option<CommittedBlock>, BuildError> {
        let spec = self.spec.clone();
        self.push_with(|state| build_block_on(state, &spec, request))
    }

    /// Like [`BlockPipeline::push`], with the block made by `make` from the state after the
    /// last block built (the importer verifies a block someone else sealed this way).
    pub fn push_with<E: From<BuildError>>(
        &mut self,
        make: impl FnOnce(StateReader<'_, RoSync>) -> Result<BuiltBlock, E>,
    ) -> Result<Option<CommittedBlock>, E> {
        let built = {
            // At least the parent of the block in flight, and perhaps that block too: the
            // overlay holds that block's final values either way.
            let snapshot = self.db.read().map_err(BuildError::from)?;
            let pending = self.in_flight.as_ref().map(|f| &f.pending);
            make(StateReader::head_over(&snapshot, pending))
        };
        let landed = self.finish()?;
        let block = Arc::new(built?);
        let (db, to_commit) = (self.db.clone(), block.clone());
        let commit = std::thread::Builder::new()
            .name("block-commit".into())
            .spawn(move || {
                yield_to_the_builder();
                commit_built(&db, &to_commit, |_, _| Ok(()))
            })
            .map_err(|e| BuildError::CommitThread(format!("cannot start it: {e}")))?;
        self.in_flight = Some(InFlight { pending: PendingBlock::new(block), commit });
        Ok(landed)
    }

    /// Waits for the block in flight, if any, to land, and returns it.
    pub fn finish(&mut self) -> Result<Option<CommittedBlock>, BuildError> {
        let Some(InFlight { pending, commit }) = self.in_flight.take() else { return Ok(None) };
        let (commit, flush) = commit.join().map_err(|_| BuildError::CommitThread("it panicked".into()))??;
        let block = pending.into_block();
        let timings = BuildTimings { commit, flush, ..block.timings };
        Ok(Some(CommittedBlock { block, timings }))
    }
}

impl Drop for BlockPipeline {
    /// Lets the last block's commit land rather than leave it to the process's exit.
    fn drop(&mut self) {
        if let Err(err) = self.finish() {
            tracing::error!(%err, "the last block's commit failed");
        }
    }
}

/// How much lower than the builder the commit thread runs (nice levels).
const COMMIT_NICE_INCREMENT: i32 = 10;

/// Lowers the calling thread's priority (Linux keeps a nice value per thread), so that on a
/// machine with few cores the next block's execution and state root, which the chain waits
/// for, run first, and the commit's puts take the cycles they leave. Best effort: a failure
/// only costs that ordering.
fn yield_to_the_builder() {
    let lowered = rustix::process::getpriority_process(None)
        .and_then(|nice| rustix::process::setpriority_process(None, (nice + COMMIT_NICE_INCREMENT).min(19)));
    if let Err(err) = lowered {
        tracing::debug!(%err, "cannot lower the block commit thread's priority");
    }
}
