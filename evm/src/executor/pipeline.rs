//! Blocks built one after another, each committed on a second thread while the next one
//! executes.
//!
//! A large block's commit (its rows put into MDBX's B-trees, then the durable flush) takes
//! longer than executing it and computing its state root (docs/BENCHMARKS.md). One after the
//! other, a block costs all of it. Here block N+1 executes and roots over the blocks not yet
//! landed ([`PendingChain`]) while their commit runs.
//!
//! **Group commit.** When the builder gets ahead, the blocks built while one commit ran are
//! committed together by the next, in one write transaction. A 1M-account database copies
//! the upper pages of each randomly written B-tree, and flushes, once per transaction however
//! many blocks it holds, so two blocks together write ~20 % fewer pages than one after the
//! other. The database still moves only from a committed block to a later one, whole blocks
//! at a time, and a crash leaves it at the last committed block. What changes is that a
//! block is executed before its parents are durable, and at most [`MAX_PENDING_BLOCKS`]
//! blocks are ahead of the disk.
//!
//! The pipeline must be the only writer of blocks to its database (`stele import`, the
//! execution benchmark); readers are free to run alongside.

use super::{
    builder::{build_block_on, commit_built_group, BlockRequest, BuildError, BuildTimings, BuiltBlock},
    pending::{PendingBlock, PendingChain},
};
use crate::{chainspec::ChainSpec, db::ChainDb, state::StateReader};
use signet_libmdbx::RoSync;
use std::{sync::Arc, thread::JoinHandle, time::Duration};

/// Most blocks built and not yet landed. A builder that gets this far ahead of the disk
/// waits for the running commit: it bounds the overlay's memory and how far the chain runs
/// ahead of what a crash would keep.
const MAX_PENDING_BLOCKS: usize = 4;

/// A block whose commit has landed.
#[derive(Debug)]
pub struct CommittedBlock {
    /// The block.
    pub block: Arc<BuiltBlock>,
    /// Where its time went; commit and flush are its share of its group's.
    pub timings: BuildTimings,
    /// How many blocks landed in the write transaction that held it, itself included.
    pub group: usize,
}

/// The running commit: the first `blocks` pending blocks, in one write transaction.
#[derive(Debug)]
struct RunningCommit {
    blocks: usize,
    handle: JoinHandle<Result<(Duration, Duration), BuildError>>,
}

/// Builds blocks on the database's head, committing them while the next ones are built.
#[derive(Debug)]
pub struct BlockPipeline {
    db: ChainDb,
    spec: Arc<ChainSpec>,
    /// Built blocks that have not landed, oldest first; the running commit holds a prefix.
    pending: Vec<PendingBlock>,
    commit: Option<RunningCommit>,
}

impl BlockPipeline {
    /// A pipeline that builds on `db`'s head.
    pub fn new(db: ChainDb, spec: Arc<ChainSpec>) -> Self {
        Self { db, spec, pending: Vec::new(), commit: None }
    }

    /// Builds the child of the last block built (committed or not) and has it committed.
    /// Returns the blocks whose commits have landed since the last call, oldest first.
    /// After an error nothing more is in flight: the database holds every block returned
    /// so far, and those built before the error whose commit could still land.
    pub fn push(&mut self, request: &BlockRequest) -> Result<Vec<CommittedBlock>, BuildError> {
        let spec = self.spec.clone();
        self.push_with(|state| build_block_on(state, &spec, request))
    }

    /// Like [`BlockPipeline::push`], with the block made by `make` from the state after the
    /// last block built (the importer verifies a block someone else sealed this way).
    pub fn push_with<E: From<BuildError>>(
        &mut self,
        make: impl FnOnce(StateReader<'_, RoSync>) -> Result<BuiltBlock, E>,
    ) -> Result<Vec<CommittedBlock>, E> {
        let mut landed = self.land(false)?;
        if self.pending.len() >= MAX_PENDING_BLOCKS {
            landed.extend(self.land(true)?);
        }
        self.start_commit()?;
        let built = {
            // At least the parent of the oldest pending block, perhaps more of them: the
            // overlay holds their final values either way.
            let snapshot = self.db.read().map_err(BuildError::from)?;
            make(StateReader::head_over(&snapshot, PendingChain(&self.pending)))
        };
        match built {
            Ok(block) => self.pending.push(PendingBlock::new(Arc::new(block))),
            Err(err) => {
                self.finish()?;
                return Err(err);
            }
        }
        self.start_commit()?;
        Ok(landed)
    }

    /// Commits every block built and waits for them to land; returns those not returned yet.
    pub fn finish(&mut self) -> Result<Vec<CommittedBlock>, BuildError> {
        let mut landed = Vec::new();
        loop {
            landed.extend(self.land(true)?);
            if self.pending.is_empty() {
                return Ok(landed);
            }
            self.start_commit()?;
        }
    }

    /// The blocks of the running commit once it has landed (waiting for it if `wait`).
    fn land(&mut self, wait: bool) -> Result<Vec<CommittedBlock>, BuildError> {
        match &self.commit {
            Some(running) if wait || running.handle.is_finished() => {}
            _ => return Ok(Vec::new()),
        }
        let Some(RunningCommit { blocks, handle }) = self.commit.take() else { return Ok(Vec::new()) };
        let result = handle.join().map_err(|_| BuildError::CommitThread("it panicked".into())).and_then(|r| r);
        let (commit, flush) = match result {
            Ok(times) => times,
            Err(err) => {
                // The blocks after the group are children of blocks that did not land.
                self.pending.clear();
                return Err(err);
            }
        };
        let share = u32::try_from(blocks).unwrap_or(u32::MAX).max(1);
        Ok(self
            .pending
            .drain(..blocks)
            .map(|pending| {
                let block = pending.into_block();
                let timings = BuildTimings { commit: commit / share, flush: flush / share, ..block.timings };
                CommittedBlock { block, timings, group: blocks }
            })
            .collect())
    }

    /// Starts committing every pending block, when no commit is running.
    fn start_commit(&mut self) -> Result<(), BuildError> {
        if self.commit.is_some() || self.pending.is_empty() {
            return Ok(());
        }
        let blocks: Vec<Arc<BuiltBlock>> = self.pending.iter().map(PendingBlock::shared).collect();
        let db = self.db.clone();
        let count = blocks.len();
        let handle = std::thread::Builder::new()
            .name("block-commit".into())
            .spawn(move || {
                yield_to_the_builder();
                commit_built_group(&db, &blocks)
            })
            .map_err(|e| BuildError::CommitThread(format!("cannot start it: {e}")))?;
        self.commit = Some(RunningCommit { blocks: count, handle });
        Ok(())
    }
}

impl Drop for BlockPipeline {
    /// Lets the last blocks' commits land rather than leave them to the process's exit.
    fn drop(&mut self) {
        if let Err(err) = self.finish() {
            tracing::error!(%err, "the last blocks' commit failed");
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
