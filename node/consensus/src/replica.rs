//! `Replica`: the sans-IO SBFT state machine and its one entry point,
//! `handle(now, Input) -> Vec<Output>`.
//!
//! The protocol logic lives in sibling files, each an `impl Replica` block with one job:
//! `slot` (pre-prepare, votes, commits), `collector` (C- and E-collectors), `proposer`
//! (batching, time service, path controller), `view_change`, `checkpoint` (window, GC, state
//! transfer) and `catchup` (status and retransmission). This file owns construction,
//! dispatch, persistence barriers and the tick.

use crate::crypto::CryptoTr;
use crate::input::Input;
use crate::message::{CommitKind, CommitPath, Message, Tx};
use crate::output::{Event, Output, PersistId, TimerKind};
use crate::params::Params;
use crate::persist::{Durable, PersistRecord};
use crate::safety::NewViewPlan;
use crate::slot::Slot;
use crate::types::{Digest, ReplicaId, SeqNum, Tick, ViewNum};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

/// Timeouts and bounds of one replica. Defaults suit a LAN cluster; the simulator shrinks them.
#[derive(Clone, Debug)]
pub struct Config {
    /// Cluster parameters.
    pub params: Params,
    /// This replica.
    pub id: ReplicaId,
    /// K: checkpoint every K sequence numbers; the window is 2K.
    pub checkpoint_interval_seqs: u64,
    /// Period of the internal tick.
    pub tick_ms: u64,
    /// A collector with 2f+c+1 but not 3f+c+1 shares switches to the slow path after this.
    pub slow_path_timeout_ms: u64,
    /// No commit for `empty_block_interval_ms + commit_timeout_ms` → complain.
    pub commit_timeout_ms: u64,
    /// First view-change timeout; doubles with each consecutive view left without a commit.
    pub view_change_timeout_ms: u64,
    /// The no-progress and view-change timeouts double for every consecutive view that ended
    /// without a commit, at most this many times (PBFT §4.5.2).
    pub view_change_backoff_max_exp: u32,
    /// A held transaction not proposed within this, while the primary made
    /// `limits::CENSORSHIP_PROPOSALS_MIN` proposals without it → censorship complaint.
    pub censorship_timeout_ms: u64,
    /// Idle blocks: the primary proposes an empty block this often (sbft.md decision 8).
    pub empty_block_interval_ms: u64,
    /// Time service: reject proposals stamped further than this ahead of our clock (the
    /// clocks of two correct replicas differ by at most this).
    pub timestamp_skew_max_ms: u64,
    /// Time service: a proposal may reach us this much (plus the skew) after its stamp. It
    /// travels, waits for the primary's disk, and a lost one is re-sent; on a slow cluster
    /// (VMs under emulation) seconds pass, and refusing a correct primary's late proposal
    /// as a bad timestamp forces view change after view change.
    pub timestamp_delay_max_ms: u64,
    /// A stuck replica asks for help (status) at most this often.
    pub status_interval_ms: u64,
    /// Batch bound in bytes.
    pub batch_bytes_max: u32,
    /// Batch bound in gas.
    pub batch_gas_max: u64,
    /// Proposals in flight.
    pub pipeline_max: u64,
    /// The primary proposes at most this many sequence numbers past its own executed head.
    /// Under load execution is the slowest stage; a small lead makes the pool, not a queue of
    /// committed blocks, absorb the wait, so blocks grow instead of finality lagging.
    pub execution_lead_max: u64,
    /// While proposals are in flight, a batch is held back until its oldest transaction has
    /// waited this long, so a busy primary makes fewer, larger blocks (each block costs the
    /// same BLS work whatever its size). 0 = propose at once. An idle pipeline never waits.
    pub batch_wait_ms: u64,
}

impl Config {
    /// Defaults for replica `id` of a cluster with `params`.
    pub fn new(params: Params, id: ReplicaId) -> Self {
        Self {
            params,
            id,
            checkpoint_interval_seqs: crate::limits::CHECKPOINT_INTERVAL_SEQS,
            tick_ms: 10,
            slow_path_timeout_ms: 50,
            commit_timeout_ms: 2_000,
            view_change_timeout_ms: 2_000,
            view_change_backoff_max_exp: 6,
            censorship_timeout_ms: 5_000,
            empty_block_interval_ms: 1_000,
            timestamp_skew_max_ms: 2_000,
            timestamp_delay_max_ms: 30_000,
            status_interval_ms: 200,
            batch_bytes_max: crate::limits::BATCH_BYTES_MAX,
            batch_gas_max: crate::limits::BATCH_GAS_MAX,
            pipeline_max: crate::limits::PIPELINE_SEQS_MAX,
            execution_lead_max: crate::limits::EXECUTION_LEAD_SEQS,
            batch_wait_ms: 0,
        }
    }
    /// The window: backups accept sequence numbers up to stable + 2K.
    pub fn window_seqs(&self) -> u64 {
        2 * self.checkpoint_interval_seqs
    }
}

/// Whether the replica works in a view or waits for its new-view message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Ordering in `view`.
    Normal,
    /// Sent a view-change message for `view`; waiting for the new view.
    ViewChange,
}

/// A transaction waiting to be ordered.
#[derive(Clone, Debug)]
pub(crate) struct PendingTx {
    pub(crate) tx: Tx,
    pub(crate) seen_at: Tick,
    /// `Replica::fresh_proposals` when we first saw it.
    pub(crate) fresh_proposals_before: u64,
    /// The last sequence number whose accepted proposal carries it.
    pub(crate) proposed_in: Option<SeqNum>,
}

/// One SBFT replica. See the crate docs for how to drive it.
#[derive(Debug)]
pub struct Replica {
    pub(crate) cfg: Config,
    pub(crate) crypto: Arc<dyn CryptoTr>,
    pub(crate) now: Tick,
    pub(crate) out: Vec<Output>,
    // --- durable state and persistence barrier ---
    pub(crate) durable: Durable,
    pub(crate) next_persist: u64,
    pub(crate) acked: u64,
    pub(crate) held: VecDeque<(u64, Output)>,
    // --- view ---
    pub(crate) view: ViewNum,
    pub(crate) mode: Mode,
    pub(crate) plan: Option<NewViewPlan>,
    pub(crate) view_entered_at: Tick,
    /// How many times this replica's timeouts are doubled: one more for every view it
    /// leaves without a commit, one less for every `BACKOFF_DECAY_COMMITS` prompt commits
    /// (see `view_change::note_commit`). A cluster slower than its timeouts (VMs under emulation)
    /// would otherwise change views forever: each view would end before its commits came.
    pub(crate) timeout_doublings: u32,
    /// Whether a commit happened since this replica entered its current view.
    pub(crate) committed_in_view: bool,
    /// Prompt commits in this view since `timeout_doublings` last moved.
    pub(crate) prompt_commits: u32,
    /// Fresh (unrestricted) proposals accepted since start: the censorship check counts the
    /// proposals that left a pending transaction out.
    pub(crate) fresh_proposals: u64,
    pub(crate) complaints: BTreeMap<ReplicaId, ViewNum>,
    pub(crate) complained_in: Option<ViewNum>,
    pub(crate) view_changes: BTreeMap<ReplicaId, crate::message::ViewChange>,
    // --- ordering ---
    pub(crate) slots: BTreeMap<SeqNum, Slot>,
    pub(crate) committed_upto: SeqNum,
    pub(crate) last_commit_at: Tick,
    /// When this replica last executed a committed block: while it works through a queue of
    /// committed blocks the view is making progress, whatever the commit timer says.
    pub(crate) last_executed_at: Tick,
    pub(crate) seen_seq_max: SeqNum,
    // --- proposer ---
    pub(crate) next_seq: SeqNum,
    pub(crate) last_proposal_at: Tick,
    pub(crate) last_timestamp_ms: u64,
    pub(crate) path: CommitPath,
    pub(crate) path_slow_until: SeqNum,
    pub(crate) recent_kinds: VecDeque<CommitKind>,
    pub(crate) pending: BTreeMap<Digest, PendingTx>,
    pub(crate) pending_order: BTreeSet<(Tick, Digest)>,
    pub(crate) recent_committed_txs: BTreeMap<Digest, SeqNum>,
    // --- execution, finality, checkpoints ---
    pub(crate) exec_requested: SeqNum,
    pub(crate) executed: SeqNum,
    pub(crate) executed_hashes: BTreeMap<SeqNum, Digest>,
    pub(crate) exec_shares: BTreeMap<SeqNum, BTreeMap<ReplicaId, (Digest, crate::crypto::Signature)>>,
    pub(crate) finality_sent: BTreeSet<SeqNum>,
    pub(crate) pending_finality: BTreeMap<SeqNum, crate::message::StateCert>,
    pub(crate) finalized: BTreeSet<SeqNum>,
    pub(crate) checkpoints: BTreeMap<SeqNum, BTreeMap<ReplicaId, (Digest, crate::crypto::Signature)>>,
    pub(crate) pending_stable: BTreeMap<SeqNum, crate::message::StateCert>,
    pub(crate) transfer: Option<crate::message::StateCert>,
    pub(crate) executed_timestamp_ms: u64,
    pub(crate) last_status_at: Tick,
    pub(crate) gap_since: Option<Tick>,
    pub(crate) started: bool,
}

impl Replica {
    /// A fresh replica at genesis.
    pub fn new(cfg: Config, crypto: Arc<dyn CryptoTr>) -> Self {
        Self::restore(cfg, crypto, Durable::default(), SeqNum::new(0), Tick::from_ms(0))
    }

    /// A replica restarted from what it persisted (`durable`, the fold of its records) and
    /// from its chain, which holds every block up to `executed`.
    pub fn restore(cfg: Config, crypto: Arc<dyn CryptoTr>, durable: Durable, executed: SeqNum, now: Tick) -> Self {
        assert_eq!(crypto.id(), cfg.id, "crypto instance belongs to another replica");
        assert!(cfg.params.n() <= usize::from(crate::limits::REPLICAS_MAX));
        let stable = durable.stable_seq();
        assert!(executed >= stable, "chain ({executed}) is behind the stable checkpoint ({stable})");
        let view = durable.view;
        let mut r = Self {
            now,
            out: Vec::new(),
            next_persist: 0,
            acked: 0,
            held: VecDeque::new(),
            view,
            mode: if view == ViewNum::new(0) { Mode::Normal } else { Mode::ViewChange },
            plan: None,
            view_entered_at: now,
            timeout_doublings: 0,
            committed_in_view: false,
            prompt_commits: 0,
            fresh_proposals: 0,
            complaints: BTreeMap::new(),
            complained_in: None,
            view_changes: BTreeMap::new(),
            slots: BTreeMap::new(),
            committed_upto: executed,
            last_commit_at: now,
            last_executed_at: now,
            seen_seq_max: executed,
            next_seq: executed.next(),
            last_proposal_at: now,
            last_timestamp_ms: 0,
            path: CommitPath::Fast,
            path_slow_until: SeqNum::new(0),
            recent_kinds: VecDeque::new(),
            pending: BTreeMap::new(),
            pending_order: BTreeSet::new(),
            recent_committed_txs: BTreeMap::new(),
            exec_requested: executed,
            executed,
            executed_hashes: BTreeMap::new(),
            exec_shares: BTreeMap::new(),
            finality_sent: BTreeSet::new(),
            pending_finality: BTreeMap::new(),
            finalized: BTreeSet::new(),
            checkpoints: BTreeMap::new(),
            pending_stable: BTreeMap::new(),
            transfer: None,
            executed_timestamp_ms: 0,
            last_status_at: now,
            gap_since: None,
            started: false,
            cfg,
            crypto,
            durable,
        };
        if let Some(nv) = r.durable.new_view.clone()
            && nv.view == r.view
        {
            let plan = crate::safety::select(&r.cfg.params, &nv.view_changes);
            r.install_plan(plan);
            r.mode = Mode::Normal;
        }
        // Our own latest votes in this view bound where we may propose next.
        for (s, (v, p)) in &r.durable.votes {
            if *v == r.view {
                r.next_seq = r.next_seq.max(s.next());
                if let Some(ts) = p.timestamp_ms() {
                    r.last_timestamp_ms = r.last_timestamp_ms.max(ts);
                }
            }
        }
        for p in r.durable.committed.values() {
            if let Some(ts) = p.proposal.timestamp_ms() {
                r.last_timestamp_ms = r.last_timestamp_ms.max(ts);
            }
            for tx in p.proposal.txs() {
                r.recent_committed_txs.insert(tx.id(), p.cert.seq);
            }
        }
        r.advance_committed();
        r
    }

    /// Handles one input at logical time `now` and returns the effects to perform, in order.
    pub fn handle(&mut self, now: Tick, input: Input) -> Vec<Output> {
        let view_before = self.view;
        self.now = self.now.max(now);
        self.dispatch(input);
        assert!(self.view >= view_before, "view went back: {view_before} -> {}", self.view);
        assert!(self.executed <= self.exec_requested && self.exec_requested <= self.committed_upto.max(self.executed));
        assert!(self.durable.view == self.view, "view not persisted");
        std::mem::take(&mut self.out)
    }

    fn dispatch(&mut self, input: Input) {
        match input {
            Input::Start => {
                self.started = true;
                self.set_tick();
                self.flush_execute();
                self.try_propose();
                if self.mode == Mode::ViewChange {
                    self.send_view_change();
                }
            }
            Input::Message { from, msg } => self.on_message(from, msg),
            Input::ClientTx(tx) => {
                if self.add_pending(tx.clone()) {
                    self.broadcast_after(0, Message::Tx(tx));
                    self.try_propose();
                }
            }
            Input::Timer(TimerKind::Tick) => {
                self.set_tick();
                self.on_tick();
            }
            Input::Executed { seq, block_hash } => self.on_executed(seq, block_hash),
            Input::PersistAck(PersistId(id)) => self.on_persist_ack(id),
            Input::StateTransferDone { seq, block_hash } => self.on_transfer_done(seq, block_hash),
            Input::DropTxs(ids) => {
                for id in ids {
                    if let Some(p) = self.pending.remove(&id) {
                        self.pending_order.remove(&(p.seen_at, id));
                    }
                }
            }
        }
    }

    fn on_message(&mut self, from: ReplicaId, msg: Message) {
        if from.index() >= self.cfg.params.n() || from == self.cfg.id {
            return;
        }
        match msg {
            Message::Tx(tx) => {
                self.add_pending(tx);
                self.try_propose();
            }
            Message::PrePrepare(pp) => self.on_pre_prepare(from, pp),
            Message::VoteShare(s) => self.on_vote_share(from, s),
            Message::CommitShare(s) => self.on_commit_share(from, s),
            Message::FastCommit(c) => self.on_commit_cert(from, CommitKind::Fast, c, None),
            Message::SlowCommit(c) => self.on_commit_cert(from, CommitKind::Slow, c, None),
            Message::Committed(p) => {
                let p = *p;
                self.on_commit_cert(from, p.kind, p.cert, Some(p.proposal))
            }
            Message::Prepare(c) => self.on_prepare(from, c),
            Message::ExecShare(s) => self.on_exec_share(from, s),
            Message::Finality(c) => self.on_finality(from, c),
            Message::Checkpoint(s) => self.on_checkpoint(from, s),
            Message::StableCheckpoint(c) => self.on_stable_checkpoint(from, c),
            Message::Complaint(c) => self.on_complaint(from, c),
            Message::ViewChange(vc) => self.on_view_change(from, *vc),
            Message::NewView(nv) => self.on_new_view(from, *nv),
            Message::Status(s) => self.on_status(from, s),
        }
    }

    fn on_tick(&mut self) {
        self.collector_timeouts();
        self.try_propose();
        self.check_progress();
        self.maybe_status();
    }

    fn set_tick(&mut self) {
        let at = self.now.plus_ms(self.cfg.tick_ms);
        self.out.push(Output::SetTimer { kind: TimerKind::Tick, at });
    }

    // --- accessors for the shell and the simulator ---

    /// This replica's id.
    pub fn id(&self) -> ReplicaId {
        self.cfg.id
    }
    /// Current view.
    pub fn view(&self) -> ViewNum {
        self.view
    }
    /// Whether the replica works in its view or waits for a new view.
    pub fn mode(&self) -> Mode {
        self.mode
    }
    /// Every sequence number up to this one is committed here.
    pub fn committed_upto(&self) -> SeqNum {
        self.committed_upto
    }
    /// Last executed sequence number.
    pub fn executed(&self) -> SeqNum {
        self.executed
    }
    /// Last stable checkpoint.
    pub fn stable_seq(&self) -> SeqNum {
        self.durable.stable_seq()
    }
    /// The durable state as currently folded (equal to the shell's fold once acked).
    pub fn durable(&self) -> &Durable {
        &self.durable
    }
    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }
    /// How many times the no-progress and view-change timeouts are doubled now: grows by
    /// one per view left without a commit, decays with prompt commits (see `view_change.rs`).
    pub fn timeout_doublings(&self) -> u32 {
        self.timeout_doublings
    }
    /// Whether the replica is the primary of its view.
    pub fn is_primary(&self) -> bool {
        self.cfg.params.primary(self.view) == self.cfg.id
    }

    // --- output helpers ---

    /// Applies `record` now and asks the shell to write it; later sends wait for its ack.
    /// Returns the request's id.
    pub(crate) fn persist(&mut self, record: PersistRecord) -> u64 {
        self.durable.apply(&record);
        self.next_persist += 1;
        self.out.push(Output::Persist { id: PersistId(self.next_persist), record });
        self.next_persist
    }

    fn on_persist_ack(&mut self, id: u64) {
        if id > self.next_persist {
            return;
        }
        self.acked = self.acked.max(id);
        let acked = self.acked;
        let mut still_held = VecDeque::with_capacity(self.held.len());
        for (need, o) in std::mem::take(&mut self.held) {
            if need <= acked { self.out.push(o) } else { still_held.push_back((need, o)) }
        }
        self.held = still_held;
    }

    /// Emits `o` once every persist issued so far is acknowledged: a send that may carry a
    /// promise recorded by any of them (a vote, a prepare, a view change).
    fn emit_send(&mut self, o: Output) {
        self.emit_after(self.next_persist, o);
    }

    /// Emits `o` once persist `need` (and every one before it) is acknowledged.
    fn emit_after(&mut self, need: u64, o: Output) {
        if self.acked < need {
            self.held.push_back((need, o));
        } else {
            self.out.push(o);
        }
    }

    pub(crate) fn send(&mut self, to: ReplicaId, msg: Message) {
        if to == self.cfg.id {
            return;
        }
        self.emit_send(Output::Send { to, msg });
    }

    pub(crate) fn broadcast(&mut self, msg: Message) {
        self.emit_send(Output::Broadcast(msg));
    }

    /// Broadcasts a message whose only promise of ours is in persist `need` (0: none). A
    /// gossiped client transaction promises nothing; a certificate proves itself by its
    /// signatures, and of this replica's records only the share it signed into it (its vote
    /// or prepare of that slot) must be durable first. Waiting for every later persist
    /// instead would delay the peers' commits by unrelated disk flushes.
    pub(crate) fn broadcast_after(&mut self, need: u64, msg: Message) {
        self.emit_after(need, Output::Broadcast(msg));
    }

    pub(crate) fn event(&mut self, e: Event) {
        self.out.push(Output::Event(e));
    }

    pub(crate) fn misbehavior(&mut self, m: crate::misbehavior::Misbehavior) {
        self.event(Event::Misbehavior(m));
    }

    pub(crate) fn n(&self) -> usize {
        self.cfg.params.n()
    }

    pub(crate) fn primary(&self) -> ReplicaId {
        self.cfg.params.primary(self.view)
    }

    /// Highest sequence number a backup accepts now.
    pub(crate) fn window_top(&self) -> SeqNum {
        self.stable_seq().plus(self.cfg.window_seqs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::mock::MockCrypto;
    use crate::message::{Batch, PrePrepare, Proposal};

    fn backup() -> Replica {
        let p = Params::new(4, 1, 0).unwrap();
        let id = ReplicaId::new(2); // seq 1's collector in view 0 is r1
        let mut r = Replica::new(Config::new(p, id), Arc::new(MockCrypto::new(id)));
        let _ = r.handle(Tick::from_ms(1_000), Input::Start);
        r
    }

    fn pre_prepare(ts: u64) -> Input {
        let proposal = Proposal::Batch(Batch { timestamp_ms: ts, txs: vec![] });
        Input::Message {
            from: ReplicaId::new(0),
            msg: Message::PrePrepare(PrePrepare { view: ViewNum::new(0), seq: SeqNum::new(1), path: CommitPath::Fast, proposal }),
        }
    }

    fn shares(out: &[Output]) -> usize {
        out.iter().filter(|o| matches!(o.message(), Some(Message::VoteShare(_)))).count()
    }

    #[test]
    fn vote_is_sent_only_after_its_persist_is_acknowledged() {
        let mut r = backup();
        let out = r.handle(Tick::from_ms(1_000), pre_prepare(1_000));
        let id = out.iter().find_map(|o| match o {
            Output::Persist { id, record: PersistRecord::Vote { .. } } => Some(*id),
            _ => None,
        });
        assert!(id.is_some(), "vote must be persisted");
        assert_eq!(shares(&out), 0, "share sent before the vote was durable");
        let out = r.handle(Tick::from_ms(1_001), Input::PersistAck(id.unwrap()));
        assert_eq!(shares(&out), 1);
    }

    #[test]
    fn a_gossiped_transaction_does_not_wait_for_a_pending_vote() {
        let mut r = backup();
        let out = r.handle(Tick::from_ms(1_000), pre_prepare(1_000));
        assert!(out.iter().any(|o| matches!(o, Output::Persist { record: PersistRecord::Vote { .. }, .. })));
        let tx = crate::message::Tx { payload: vec![1, 2, 3], gas: 21_000 };
        let out = r.handle(Tick::from_ms(1_001), Input::ClientTx(tx));
        assert!(
            out.iter().any(|o| matches!(o.message(), Some(Message::Tx(_)))),
            "gossip promises nothing and must not wait for the vote's persist"
        );
        assert_eq!(shares(&out), 0, "the vote share still waits for its persist");
    }

    #[test]
    fn restored_replica_never_votes_twice() {
        let mut r = backup();
        let out = r.handle(Tick::from_ms(1_000), pre_prepare(1_000));
        let mut d = Durable::default();
        for o in &out {
            if let Output::Persist { record, .. } = o {
                d.apply(record);
            }
        }
        let p = Params::new(4, 1, 0).unwrap();
        let id = ReplicaId::new(2); // seq 1's collector in view 0 is r1
        let mut again = Replica::restore(Config::new(p, id), Arc::new(MockCrypto::new(id)), d, SeqNum::new(0), Tick::from_ms(1_010));
        let _ = again.handle(Tick::from_ms(1_010), Input::Start);
        // An equivocating primary sends a different proposal for the same (view, seq).
        let out = again.handle(Tick::from_ms(1_011), pre_prepare(1_005));
        let acks: Vec<Input> = out
            .iter()
            .filter_map(|o| match o {
                Output::Persist { id, .. } => Some(Input::PersistAck(*id)),
                _ => None,
            })
            .collect();
        let mut sent = shares(&out);
        for a in acks {
            sent += shares(&again.handle(Tick::from_ms(1_012), a));
        }
        assert_eq!(sent, 0, "voted twice at (v0, s1) after a restart");
    }

    #[test]
    fn time_service_rejects_far_timestamps() {
        let mut r = backup();
        let out = r.handle(Tick::from_ms(1_000), pre_prepare(1_000 + 60_000));
        assert!(out.iter().any(|o| matches!(o, Output::Event(Event::Misbehavior(crate::misbehavior::Misbehavior::BadTimestamp { .. })))));
        assert!(!out.iter().any(|o| matches!(o, Output::Persist { record: PersistRecord::Vote { .. }, .. })));
    }
}
