//! The replica shell: drives the pure consensus core with real time, the network, the disk
//! and the EVM. Four threads, each owning one job:
//!
//! - **core**: owns the [`Replica`]; feeds it one input at a time (messages, client
//!   transactions, its timer, acks, execution results) and performs its outputs in order.
//! - **persist**: group-commits the core's durable records (one MDBX write, fsync, then one
//!   cumulative ack) and stores finality certificates.
//! - **execute**: turns committed proposals into blocks, strictly in order, each block and
//!   its commit proof in one write transaction, then reports the block hash to the core.
//! - state transfer runs as a task when the core asks for it (`crate::statesync`).
//!
//! Sends that depend on a persist are held back by the core until the ack, so the order of
//! the persist thread's acks is all the shell must get right.

use super::{envelope::PeerMessage, execute, link::PeerLink, node::{CoreStatus, ReplicaNode}};
use std::{
    sync::{mpsc, Arc},
    time::{Duration, SystemTime, UNIX_EPOCH},
};
use stele_consensus::{
    message::{CommitProof, StateCert},
    persist::PersistRecord,
    wire, Digest, Event, Input, Output, PersistId, Replica, SeqNum, Tick,
};
use stele_evm::db::tables::FinalityCertificates;

/// Wall-clock milliseconds: the core stamps proposals with this (the time service checks
/// skew between replicas), so it must be real time, not time since start.
pub(crate) fn now_tick() -> Tick {
    Tick::from_ms(SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64))
}

/// Work for the persist thread.
enum PersistJob {
    Record(PersistId, PersistRecord),
    Finality(StateCert),
}

/// Where the core's outputs go.
pub(crate) struct CoreIo {
    pub(crate) node: Arc<ReplicaNode>,
    pub(crate) link: Arc<dyn PeerLink>,
    persist: mpsc::Sender<PersistJob>,
    execute: mpsc::Sender<Box<CommitProof>>,
    pub(crate) transfer: tokio::sync::mpsc::UnboundedSender<StateCert>,
    #[cfg(feature = "byzantine")]
    pub(crate) byzantine: Option<(stele_consensus::sim::byzantine::Strategy, Arc<dyn stele_consensus::crypto::CryptoTr>)>,
}

/// Starts the persist and execute threads and the core thread. Returns when the core's
/// input channel closes (every sender dropped).
pub(crate) fn spawn(
    replica: Replica,
    inputs: mpsc::Receiver<Input>,
    node: Arc<ReplicaNode>,
    link: Arc<dyn PeerLink>,
    store: super::store::ConsensusStore,
    transfer: tokio::sync::mpsc::UnboundedSender<StateCert>,
    #[cfg(feature = "byzantine")] byzantine: Option<(stele_consensus::sim::byzantine::Strategy, Arc<dyn stele_consensus::crypto::CryptoTr>)>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    let (persist_tx, persist_rx) = mpsc::channel();
    let (exec_tx, exec_rx) = mpsc::channel();
    {
        let node = node.clone();
        std::thread::Builder::new().name("persist".into()).spawn(move || persist_loop(store, persist_rx, &node))?;
    }
    {
        let node = node.clone();
        std::thread::Builder::new().name("execute".into()).spawn(move || execute_loop(exec_rx, &node))?;
    }
    let io = CoreIo {
        node,
        link,
        persist: persist_tx,
        execute: exec_tx,
        transfer,
        #[cfg(feature = "byzantine")]
        byzantine,
    };
    std::thread::Builder::new().name("core".into()).spawn(move || core_loop(replica, inputs, io))
}

fn core_loop(mut replica: Replica, inputs: mpsc::Receiver<Input>, io: CoreIo) {
    let mut timer: Option<Tick> = None;
    let mut finalized = SeqNum::new(0);
    let mut pending = vec![Input::Start];
    loop {
        for input in pending.drain(..) {
            #[cfg(feature = "byzantine")]
            let input = lie_about_execution(&io, input);
            let outputs = replica.handle(now_tick(), input);
            for out in outputs {
                perform(&io, out, &mut timer, &mut finalized);
            }
        }
        io.node.set_status(CoreStatus {
            view: replica.view(),
            primary: replica.config().params.primary(replica.view()).get(),
            view_change: super::node::is_view_change(replica.mode()),
            committed: replica.committed_upto(),
            executed: replica.executed(),
            stable: replica.stable_seq(),
            finalized,
            transferring: io.node.status().transferring,
            timeout_doublings: replica.timeout_doublings(),
        });
        let next = match timer {
            Some(at) => {
                let now = now_tick();
                if now >= at {
                    timer = None;
                    Input::Timer(stele_consensus::TimerKind::Tick)
                } else {
                    match inputs.recv_timeout(Duration::from_millis(at.ms() - now.ms())) {
                        Ok(input) => input,
                        Err(mpsc::RecvTimeoutError::Timeout) => continue,
                        Err(mpsc::RecvTimeoutError::Disconnected) => return,
                    }
                }
            }
            None => match inputs.recv() {
                Ok(input) => input,
                Err(_) => return,
            },
        };
        pending.push(next);
        // Take whatever else is queued: fewer status updates under load.
        while pending.len() < 256 {
            match inputs.try_recv() {
                Ok(input) => pending.push(input),
                Err(_) => break,
            }
        }
    }
}

/// Test builds: a "wrong-digest" replica tells its core (and so signs, in execution shares
/// and checkpoints) a block hash that is not the one it computed.
#[cfg(feature = "byzantine")]
fn lie_about_execution(io: &CoreIo, input: Input) -> Input {
    match (&io.byzantine, input) {
        (Some((stele_consensus::sim::byzantine::Strategy::WrongExecution, _)), Input::Executed { seq, mut block_hash }) => {
            block_hash.0[0] ^= 0xff;
            Input::Executed { seq, block_hash }
        }
        (_, input) => input,
    }
}

fn perform(io: &CoreIo, out: Output, timer: &mut Option<Tick>, finalized: &mut SeqNum) {
    #[cfg(feature = "byzantine")]
    if let Some((strategy, crypto)) = &io.byzantine {
        let n = io.link.peers().len() + 1;
        for out in strategy.filter(io.node.id, n, crypto.as_ref(), out) {
            perform_honest(io, out, timer, finalized);
        }
        return;
    }
    perform_honest(io, out, timer, finalized);
}

fn perform_honest(io: &CoreIo, out: Output, timer: &mut Option<Tick>, finalized: &mut SeqNum) {
    match out {
        Output::Send { to, msg } => io.link.send(to, false, PeerMessage::Consensus(msg).encode()),
        Output::Broadcast(msg) => {
            if let stele_consensus::message::Message::PrePrepare(pp) = &msg {
                tracing::debug!(seq = pp.seq.get(), txs = pp.proposal.txs().len(), "proposed");
            }
            io.link.broadcast(PeerMessage::Consensus(msg).encode())
        }
        Output::SetTimer { at, .. } => *timer = Some(at),
        Output::CancelTimer(_) => *timer = None,
        Output::Persist { id, record } => {
            let _ = io.persist.send(PersistJob::Record(id, record));
        }
        Output::Execute(proof) => {
            let _ = io.execute.send(proof);
        }
        Output::Finalized(cert) => {
            *finalized = (*finalized).max(cert.seq);
            let _ = io.persist.send(PersistJob::Finality(cert));
        }
        Output::StartStateTransfer(cert) => {
            tracing::info!(checkpoint = cert.seq.get(), "behind the cluster's stable checkpoint: starting state transfer");
            let mut status = io.node.status();
            status.transferring = true;
            io.node.set_status(status);
            let _ = io.transfer.send(cert);
        }
        Output::Event(event) => log_event(&event),
    }
}

fn log_event(event: &Event) {
    match event {
        Event::Committed { .. } | Event::StableCheckpoint(_) => tracing::debug!(?event),
        Event::Misbehavior(m) => tracing::warn!(misbehavior = ?m, "peer misbehaved"),
        Event::ExecutionDiverged(seq) => {
            tracing::error!(seq = seq.get(), "a finality certificate contradicts this replica's execution: its state is wrong")
        }
        other => tracing::info!(event = ?other),
    }
}

fn persist_loop(mut store: super::store::ConsensusStore, jobs: mpsc::Receiver<PersistJob>, node: &ReplicaNode) {
    while let Ok(first) = jobs.recv() {
        let mut records = Vec::new();
        let mut last_id = None;
        let mut certs = Vec::new();
        let mut take = |job: PersistJob| match job {
            PersistJob::Record(id, record) => {
                records.push(record);
                last_id = Some(id);
            }
            PersistJob::Finality(cert) => certs.push(cert),
        };
        take(first);
        while let Ok(job) = jobs.try_recv() {
            take(job);
        }
        if !records.is_empty() {
            let started = std::time::Instant::now();
            let appended = store.append(&records);
            tracing::debug!(records = records.len(), ms = started.elapsed().as_millis() as u64, "consensus records persisted");
            if let Err(err) = appended {
                // Acknowledging an unwritten record could make this replica break a promise
                // after a restart: stop ordering instead.
                tracing::error!("cannot persist consensus records, the replica stops voting: {err}");
                return;
            }
        }
        if let Some(id) = last_id {
            node.to_core(Input::PersistAck(id));
        }
        if !certs.is_empty() {
            let written = node.db.write().and_then(|tx| {
                for cert in &certs {
                    tx.put::<FinalityCertificates>(&cert.seq.get(), &wire::encode(cert))?;
                }
                tx.commit()
            });
            if let Err(err) = written {
                tracing::warn!("cannot store finality certificates: {err}");
            }
        }
    }
}

fn execute_loop(proofs: mpsc::Receiver<Box<CommitProof>>, node: &ReplicaNode) {
    while let Ok(proof) = proofs.recv() {
        let seq = proof.cert.seq;
        let started = std::time::Instant::now();
        let pooled_sender = |hash: &alloy_primitives::B256| node.pool.get(hash).map(|t| t.sender);
        match execute::execute_commit(&node.db, &node.spec, &proof, pooled_sender) {
            Ok(executed) => {
                node.to_core(Input::Executed { seq, block_hash: Digest(executed.hash().0) });
                if let execute::Executed::Built(built, dropped, retries) = executed {
                    // Under load most of these are nonce retries: one line each would flood the
                    // journal, so they are debug lines and the block line carries the count.
                    for (_, reason) in &built.skipped {
                        tracing::debug!("a transaction was left out of block {}: {reason}", built.header.number);
                    }
                    let (nonces, announced) = crate::admission::block_outcome(&built);
                    tracing::info!(
                        number = built.header.number,
                        txs = built.body.transactions.len(),
                        left_out = built.skipped.len(),
                        gas = built.header.gas_used,
                        hash = %built.hash,
                        ms = started.elapsed().as_millis() as u64,
                        execute_us = built.timings.execute.as_micros() as u64,
                        root_us = built.timings.state_root.as_micros() as u64,
                        write_us = built.timings.commit.saturating_sub(built.timings.flush).as_micros() as u64,
                        flush_us = built.timings.flush.as_micros() as u64,
                        "executed block"
                    );
                    node.after_block(&nonces, &dropped, retries, announced);
                }
            }
            Err(err) => {
                // Skipping a block would fork this replica: stop executing; peers' state
                // transfer brings it back after a restart.
                tracing::error!(seq = seq.get(), "execution failed, the replica stops executing: {err}");
                return;
            }
        }
    }
}
