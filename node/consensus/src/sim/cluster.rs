//! The simulated cluster: N replicas (twins count as one identity with two instances) and
//! clients in one process, driven by a seeded event queue. Every output is performed here:
//! sends go through the network model, persists to the simulated disk (where a crash may hit),
//! executions append to the chain with a deterministic block hash. The oracles run after
//! every step.

use super::byzantine::Strategy;
use super::invariants::{Oracle, Violation};
use super::network::{Adversary, Network};
use super::seed::SimRng;
use super::storage::{CrashPoint, Storage};
use crate::crypto::CryptoTr;
use crate::crypto::bls::BlsCrypto;
use crate::crypto::mock::MockCrypto;
use crate::input::Input;
use crate::message::{CommitKind, Message, StateCert, Tx};
use crate::output::{Event, Output, TimerKind};
use crate::params::Params;
use crate::replica::{Config, Mode, Replica};
use crate::types::{Digest, ReplicaId, SeqNum, Tick, ViewNum};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// A scheduled fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Crash a replica (all its instances).
    Crash(ReplicaId),
    /// Restart a crashed replica from its disk.
    Restart(ReplicaId),
    /// Install a network adversary.
    Network(Adversary),
    /// Make a replica's outgoing links slow by this many ms.
    Slow(ReplicaId, u64),
    /// Drop probability (per mille) and duplicate probability (per mille).
    Lossy(u32, u32),
}

/// Which signatures the replicas use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CryptoKind {
    /// Fast insecure mock.
    Mock,
    /// BLS12-381 with blst.
    Bls,
}

/// Everything that defines one run; with the seed it determines the run bit for bit.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Scenario name (for replay).
    pub name: String,
    /// Cluster parameters.
    pub params: Params,
    /// The seed.
    pub seed: u64,
    /// Simulated duration.
    pub end_ms: u64,
    /// Global stabilisation: faults cleared, crashed replicas restarted.
    pub heal_ms: u64,
    /// Whether to check liveness after `heal_ms`.
    pub check_liveness: bool,
    /// Per-link base latency range and jitter.
    pub latency_ms: (u64, u64, u64),
    /// Byzantine replicas (at most f).
    pub byzantine: Vec<(ReplicaId, Strategy)>,
    /// Timed faults.
    pub faults: Vec<(u64, Fault)>,
    /// Crash replica at its k-th persistence point, at that point, down for ms.
    pub crash_at_persist: Vec<(ReplicaId, u64, CrashPoint, u64)>,
    /// Clock skew per replica (ms, may be negative).
    pub skew_ms: Vec<(ReplicaId, i64)>,
    /// Staggered startup: replica starts at this time.
    pub start_ms: Vec<(ReplicaId, u64)>,
    /// Mean interval between client transactions (0 = none).
    pub tx_interval_ms: u64,
    /// Clients stop submitting at this time.
    pub tx_until_ms: u64,
    /// Checkpoint interval K.
    pub checkpoint_interval: u64,
    /// Encode and decode every message and record through the wire codec.
    pub wire_roundtrip: bool,
    /// Crypto.
    pub crypto: CryptoKind,
    /// Replica tuning applied on top of the simulator defaults.
    pub tune: Option<fn(&mut Config)>,
    /// Fixed latency on every link (measurements); overrides `latency_ms`.
    pub uniform_latency_ms: Option<u64>,
    /// Upper bound of the simulated disk's write latency (acks arrive in `[0, max)` ms).
    pub disk_latency_ms: u64,
    /// Replicas that crash (by a `Fault::Crash`) and stay down: not restarted at heal and
    /// excused from liveness. Together with `byzantine` at most f.
    pub down_forever: Vec<ReplicaId>,
    /// Time each replica takes to execute one committed block (blocks execute one after
    /// another); 0 = at once.
    pub exec_latency_ms: u64,
}

impl SimConfig {
    /// A healthy run of `params` with simulator defaults.
    pub fn new(name: &str, params: Params, seed: u64) -> Self {
        Self {
            name: name.to_string(),
            params,
            seed,
            end_ms: 6_000,
            heal_ms: 2_500,
            check_liveness: true,
            latency_ms: (1, 8, 4),
            byzantine: vec![],
            faults: vec![],
            crash_at_persist: vec![],
            skew_ms: vec![],
            start_ms: vec![],
            tx_interval_ms: 25,
            tx_until_ms: u64::MAX,
            checkpoint_interval: 10,
            wire_roundtrip: false,
            crypto: CryptoKind::Mock,
            tune: None,
            uniform_latency_ms: None,
            down_forever: vec![],
            disk_latency_ms: 3,
            exec_latency_ms: 0,
        }
    }

    /// The replica configuration the simulator uses (short timeouts, small K).
    pub fn replica_config(&self, id: ReplicaId) -> Config {
        let mut c = Config::new(self.params, id);
        c.checkpoint_interval_seqs = self.checkpoint_interval;
        c.tick_ms = 20;
        c.slow_path_timeout_ms = 40;
        c.commit_timeout_ms = 300;
        c.view_change_timeout_ms = 500;
        c.view_change_backoff_max_exp = 2;
        c.censorship_timeout_ms = 1_200;
        c.empty_block_interval_ms = 200;
        c.timestamp_skew_max_ms = 500;
        c.timestamp_delay_max_ms = 3_000;
        c.status_interval_ms = 100;
        c.pipeline_max = 8;
        if let Some(t) = self.tune {
            t(&mut c);
        }
        c
    }
}

/// What a run measured.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    /// Messages sent, by kind (one per destination).
    pub messages: BTreeMap<&'static str, u64>,
    /// Encoded bytes sent, by kind (only when counting bytes).
    pub bytes: BTreeMap<&'static str, u64>,
    /// Commits by path (per replica).
    pub fast_commits: u64,
    /// Slow-path commits (per replica).
    pub slow_commits: u64,
    /// Highest sequence number committed.
    pub committed: u64,
    /// Highest view installed by any honest replica.
    pub max_view: u64,
    /// View changes started (per replica).
    pub view_changes: u64,
    /// Misbehavior events reported by honest replicas.
    pub misbehavior: u64,
    /// Crashes performed.
    pub crashes: u64,
    /// State transfers completed.
    pub state_transfers: u64,
    /// Finality certificates accepted by honest replicas.
    pub finalized: u64,
    /// Hash over every processed event (time, kind, target): equal for equal runs.
    pub audit: u64,
    /// Sum over (seq, honest replica) of commit time − first proposal time, and its count.
    pub commit_latency_ms_sum: u64,
    /// Count for `commit_latency_ms_sum`.
    pub commit_latency_count: u64,
    /// When an honest replica first started a view change.
    pub first_view_change_ms: Option<u64>,
    /// When an honest replica first installed a new view.
    pub first_new_view_ms: Option<u64>,
    /// First honest commit after that.
    pub first_commit_after_new_view_ms: Option<u64>,
}

#[derive(Debug)]
enum Ev {
    Start(usize),
    Deliver { to: usize, from: ReplicaId, msg: Message },
    Timer { node: usize, inst: usize, epoch: u64 },
    PersistAck { node: usize, inst: usize, epoch: u64, id: crate::output::PersistId },
    Executed { node: usize, inst: usize, epoch: u64, seq: SeqNum, hash: Digest },
    Transfer { node: usize, inst: usize, epoch: u64, cert: StateCert },
    ClientTx,
    Fault(Fault),
    Heal,
}

struct Instance {
    replica: Option<Replica>,
    store: Storage,
    epoch: u64,
    timer_at: Option<u64>,
    /// When this instance's executor finishes the blocks it already has.
    exec_busy_until: u64,
}

struct Node {
    id: ReplicaId,
    strategy: Option<Strategy>,
    instances: Vec<Instance>,
    skew_ms: i64,
    crypto: Arc<dyn CryptoTr>,
    started: bool,
}

/// One simulation.
pub struct Cluster {
    cfg: SimConfig,
    now: u64,
    queue: BTreeMap<(u64, u64), Ev>,
    next_event: u64,
    rng: SimRng,
    net: Network,
    nodes: Vec<Node>,
    oracle: Oracle,
    /// Measurements.
    pub stats: Stats,
    count_bytes: bool,
    tx_counter: u64,
    txs_after_heal: BTreeMap<Digest, u64>,
    committed_txs: BTreeSet<Digest>,
    committed_at_heal: u64,
    proposed_at: BTreeMap<SeqNum, u64>,
    steps: u64,
    trace: bool,
}

fn audit_mix(h: u64, at: u64, ev: &Ev) -> u64 {
    let (kind, node, extra) = match ev {
        Ev::Start(n) => (1, *n, 0),
        Ev::Deliver { to, from, msg } => (2, *to, from.get() as u64 ^ (msg.kind().len() as u64) << 8),
        Ev::Timer { node, inst, .. } => (3, *node, *inst as u64),
        Ev::PersistAck { node, id, .. } => (4, *node, id.0),
        Ev::Executed { node, seq, hash, .. } => (5, *node, seq.get() ^ u64::from(hash.0[0])),
        Ev::Transfer { node, cert, .. } => (6, *node, cert.seq.get()),
        Ev::ClientTx => (7, 0, 0),
        Ev::Fault(_) => (8, 0, 0),
        Ev::Heal => (9, 0, 0),
    };
    let mut x = h ^ at.rotate_left(17) ^ (kind << 56) ^ ((node as u64) << 40) ^ extra;
    x = x.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x ^ (x >> 29)
}

fn brief_msg(m: &Message) -> String {
    match m {
        Message::PrePrepare(p) => format!("pre_prepare v{} {} {:?} {}txs", p.view.get(), p.seq, p.proposal.digest(), p.proposal.txs().len()),
        Message::VoteShare(s) | Message::CommitShare(s) => format!("{} v{} {} {:?}", m.kind(), s.view.get(), s.seq, s.digest),
        Message::FastCommit(c) | Message::SlowCommit(c) | Message::Prepare(c) => format!("{} v{} {} {:?}", m.kind(), c.view.get(), c.seq, c.digest),
        Message::Committed(p) => format!("committed {}", p.cert.seq),
        Message::Complaint(c) => format!("complaint v{} {:?}", c.view.get(), c.reason),
        Message::ViewChange(v) => format!("view_change v{} stable={:?} entries={}", v.new_view.get(), v.stable.as_ref().map(|c| c.seq.get()), v.entries.len()),
        Message::NewView(v) => format!("new_view v{}", v.view.get()),
        Message::Status(s) => format!("status {:?}", s),
        other => other.kind().to_string(),
    }
}

fn brief_input(i: &Input) -> String {
    match i {
        Input::Message { from, msg } => format!("{from}: {}", brief_msg(msg)),
        Input::ClientTx(t) => format!("client tx {:?}", t.id()),
        other => format!("{other:?}"),
    }
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster").field("name", &self.cfg.name).field("seed", &self.cfg.seed).finish_non_exhaustive()
    }
}

impl Cluster {
    /// Builds the cluster of `cfg`.
    pub fn new(cfg: SimConfig) -> Self {
        let n = cfg.params.n();
        let mut rng = SimRng::new(cfg.seed, 1);
        let net = match cfg.uniform_latency_ms {
            Some(l) => Network::uniform(n, l),
            None => Network::new(n, &mut rng, cfg.latency_ms.0, cfg.latency_ms.1, cfg.latency_ms.2),
        };
        let cryptos: Vec<Arc<dyn CryptoTr>> = match cfg.crypto {
            CryptoKind::Mock => (0..n).map(|i| Arc::new(MockCrypto::new(ReplicaId::new(i as u16))) as Arc<dyn CryptoTr>).collect(),
            CryptoKind::Bls => BlsCrypto::test_cluster(n).into_iter().map(|c| Arc::new(c) as Arc<dyn CryptoTr>).collect(),
        };
        let verifier: Box<dyn CryptoTr> = match cfg.crypto {
            CryptoKind::Mock => Box::new(MockCrypto::new(ReplicaId::new(0))),
            CryptoKind::Bls => Box::new(BlsCrypto::test_cluster(n).swap_remove(0)),
        };
        assert!(cfg.byzantine.len() + cfg.down_forever.len() <= cfg.params.f(), "more faulty replicas than f");
        let nodes = (0..n)
            .map(|i| {
                let id = ReplicaId::new(i as u16);
                let strategy = cfg.byzantine.iter().find(|(r, _)| *r == id).map(|(_, s)| *s);
                let copies = if strategy == Some(Strategy::Twins) { 2 } else { 1 };
                let skew_ms = cfg.skew_ms.iter().find(|(r, _)| *r == id).map_or(0, |(_, s)| *s);
                Node {
                    id,
                    strategy,
                    instances: (0..copies).map(|_| Instance { replica: None, store: Storage::default(), epoch: 0, timer_at: None, exec_busy_until: 0 }).collect(),
                    skew_ms,
                    crypto: cryptos[i].clone(),
                    started: false,
                }
            })
            .collect();
        let oracle = Oracle::new(cfg.params, verifier);
        let mut c = Self {
            now: 0,
            queue: BTreeMap::new(),
            next_event: 0,
            rng,
            net,
            nodes,
            oracle,
            stats: Stats::default(),
            count_bytes: false,
            tx_counter: 0,
            txs_after_heal: BTreeMap::new(),
            committed_txs: BTreeSet::new(),
            committed_at_heal: 0,
            proposed_at: BTreeMap::new(),
            steps: 0,
            trace: std::env::var_os("STELE_SIM_TRACE").is_some(),
            cfg,
        };
        if c.trace {
            eprintln!("{:#?}", c.cfg);
        }
        for i in 0..n {
            let at = c.cfg.start_ms.iter().find(|(r, _)| r.index() == i).map_or(0, |(_, t)| *t);
            c.push(at, Ev::Start(i));
        }
        for (t, f) in c.cfg.faults.clone() {
            c.push(t, Ev::Fault(f));
        }
        c.push(c.cfg.heal_ms, Ev::Heal);
        if c.cfg.tx_interval_ms > 0 {
            let first = c.rng.range(0, c.cfg.tx_interval_ms);
            c.push(first, Ev::ClientTx);
        }
        c
    }

    /// Also count encoded bytes per message (slower).
    pub fn count_bytes(&mut self, yes: bool) {
        self.count_bytes = yes;
    }

    fn push(&mut self, at: u64, ev: Ev) {
        self.next_event += 1;
        self.queue.insert((at, self.next_event), ev);
    }

    fn honest(&self, node: usize) -> bool {
        self.nodes[node].strategy.is_none()
    }

    /// Runs to the end; `Err` names the first broken invariant (with seed and time).
    pub fn run(&mut self) -> Result<Stats, Violation> {
        self.run_until(self.cfg.end_ms)?;
            self.steps += 1;
        if self.cfg.check_liveness {
            self.check_liveness().map_err(|v| self.annotate(v))?;
        }
        self.finish_stats();
        Ok(self.stats.clone())
    }

    /// Processes events up to time `t` (inclusive), checking the safety oracles.
    pub fn run_until(&mut self, t: u64) -> Result<(), Violation> {
        while let Some(entry) = self.queue.first_entry() {
            let (at, _) = *entry.key();
            if at > t {
                break;
            }
            let ev = entry.remove();
            self.now = at;
            self.steps += 1;
            self.stats.audit = audit_mix(self.stats.audit, at, &ev);
            self.step(ev).map_err(|v| self.annotate(v))?;
        }
        self.now = self.now.max(t);
        self.finish_stats();
        Ok(())
    }

    fn annotate(&self, v: Violation) -> Violation {
        Violation(format!(
            "[{} n={} f={} c={} seed={} t={}ms step={}] {}\n{}",
            self.cfg.name,
            self.cfg.params.n(),
            self.cfg.params.f(),
            self.cfg.params.c(),
            self.cfg.seed,
            self.now,
            self.steps,
            v.0,
            super::seed::replay_hint(&self.cfg.name, &self.cfg.params, self.cfg.seed)
        ))
    }

    fn finish_stats(&mut self) {
        self.stats.committed = self.oracle.committed_max().get();
        self.stats.finalized = self.oracle.finality_seen;
        for n in &self.nodes {
            if n.strategy.is_none() {
                for i in &n.instances {
                    if let Some(r) = &i.replica {
                        self.stats.max_view = self.stats.max_view.max(r.view().get());
                    }
                }
            }
        }
    }

    fn step(&mut self, ev: Ev) -> Result<(), Violation> {
        match ev {
            Ev::Start(node) => {
                self.nodes[node].started = true;
                for inst in 0..self.nodes[node].instances.len() {
                    self.boot(node, inst)?;
                }
            }
            Ev::Deliver { to, from, msg } => {
                if self.nodes[to].strategy.is_some_and(Strategy::drops_transactions) && matches!(msg, Message::Tx(_)) {
                    return Ok(());
                }
                for inst in 0..self.nodes[to].instances.len() {
                    if let Message::Tx(tx) = &msg
                        && self.nodes[to].instances[inst].store.included.contains_key(&tx.id())
                    {
                        continue; // the shell's mempool: already in the chain
                    }
                    self.input(to, inst, Input::Message { from, msg: msg.clone() })?;
                }
            }
            Ev::Timer { node, inst, epoch } => {
                let i = &self.nodes[node].instances[inst];
                if i.epoch == epoch && i.timer_at == Some(self.now) {
                    self.nodes[node].instances[inst].timer_at = None;
                    self.input(node, inst, Input::Timer(TimerKind::Tick))?;
                }
            }
            Ev::PersistAck { node, inst, epoch, id } => {
                if self.nodes[node].instances[inst].epoch == epoch {
                    self.input(node, inst, Input::PersistAck(id))?;
                }
            }
            Ev::Executed { node, inst, epoch, seq, hash } => {
                if self.nodes[node].instances[inst].epoch == epoch {
                    self.input(node, inst, Input::Executed { seq, block_hash: hash })?;
                }
            }
            Ev::Transfer { node, inst, epoch, cert } => {
                if self.nodes[node].instances[inst].epoch == epoch {
                    self.state_transfer(node, inst, epoch, cert)?;
                }
            }
            Ev::ClientTx => self.client_tx()?,
            Ev::Fault(f) => self.fault(f)?,
            Ev::Heal => self.heal()?,
        }
        Ok(())
    }

    fn boot(&mut self, node: usize, inst: usize) -> Result<(), Violation> {
        let id = self.nodes[node].id;
        let cfg = self.cfg.replica_config(id);
        let crypto = self.nodes[node].crypto.clone();
        let local = self.local_now(node);
        let i = &mut self.nodes[node].instances[inst];
        let (head, _) = i.store.head();
        i.replica = Some(Replica::restore(cfg, crypto, i.store.durable.clone(), head, local));
        self.input(node, inst, Input::Start)
    }

    fn local_now(&self, node: usize) -> Tick {
        Tick::from_ms((self.now as i64 + self.nodes[node].skew_ms).max(0) as u64)
    }

    fn input(&mut self, node: usize, inst: usize, input: Input) -> Result<(), Violation> {
        let local = self.local_now(node);
        let trace = self.trace;
        let Some(r) = self.nodes[node].instances[inst].replica.as_mut() else { return Ok(()) };
        if trace && !matches!(input, Input::Timer(_) | Input::PersistAck(_)) {
            eprintln!("{:>6} r{node}.{inst} v{} {:?} c{} <- {}", self.now, r.view().get(), r.mode(), r.committed_upto().get(), brief_input(&input));
        }
        let outs = r.handle(local, input);
        if trace {
            for o in &outs {
                match o {
                    Output::SetTimer { .. } | Output::Persist { .. } => {}
                    Output::Send { to, msg } => eprintln!("         -> {to} {}", brief_msg(msg)),
                    Output::Broadcast(msg) => eprintln!("         -> * {}", brief_msg(msg)),
                    other => eprintln!("         => {other:?}"),
                }
            }
        }
        let epoch = self.nodes[node].instances[inst].epoch;
        for o in outs {
            if self.nodes[node].instances[inst].epoch != epoch {
                break; // crashed while performing these outputs
            }
            self.output(node, inst, o)?;
        }
        Ok(())
    }

    fn output(&mut self, node: usize, inst: usize, o: Output) -> Result<(), Violation> {
        let id = self.nodes[node].id;
        let honest = self.honest(node);
        let outs = match self.nodes[node].strategy {
            Some(s) => s.filter(id, self.cfg.params.n(), &*self.nodes[node].crypto, o),
            None => vec![o],
        };
        for o in outs {
            match o {
                Output::Send { to, msg } => {
                    if honest {
                        self.oracle.on_send(id, &msg)?;
                    }
                    self.transmit(node, to, msg);
                }
                Output::Broadcast(msg) => {
                    if honest {
                        self.oracle.on_send(id, &msg)?;
                    }
                    if let Message::PrePrepare(pp) = &msg {
                        self.proposed_at.entry(pp.seq).or_insert(self.now);
                    }
                    for to in 0..self.cfg.params.n() {
                        if to != node {
                            self.transmit(node, ReplicaId::new(to as u16), msg.clone());
                        }
                    }
                }
                Output::SetTimer { at, .. } => {
                    let global = (at.ms() as i64 - self.nodes[node].skew_ms).max(self.now as i64) as u64;
                    let i = &mut self.nodes[node].instances[inst];
                    i.timer_at = Some(global);
                    let epoch = i.epoch;
                    self.push(global, Ev::Timer { node, inst, epoch });
                }
                Output::CancelTimer(_) => self.nodes[node].instances[inst].timer_at = None,
                Output::Persist { id: pid, record } => {
                    let writes = self.nodes[node].instances[inst].store.writes + 1;
                    let crash = self.cfg.crash_at_persist.iter().find(|(r, k, _, _)| *r == id && *k == writes).copied();
                    let roundtrip = self.cfg.wire_roundtrip;
                    if let Some((_, _, point, down_ms)) = crash {
                        let st = &mut self.nodes[node].instances[inst].store;
                        match point {
                            CrashPoint::AfterWrite => st.write(&record, roundtrip),
                            CrashPoint::BeforeWrite => st.writes += 1,
                        }
                        self.crash(node);
                        self.push(self.now + down_ms, Ev::Fault(Fault::Restart(id)));
                        return Ok(());
                    }
                    let i = &mut self.nodes[node].instances[inst];
                    i.store.write(&record, roundtrip);
                    let epoch = i.epoch;
                    let delay = self.rng.range(0, self.cfg.disk_latency_ms);
                    self.push(self.now + delay, Ev::PersistAck { node, inst, epoch, id: pid });
                }
                Output::Execute(proof) => {
                    let i = &mut self.nodes[node].instances[inst];
                    let (head, parent) = i.store.head();
                    if honest {
                        self.oracle.on_execute(id, head.next(), &proof)?;
                        for tx in proof.proposal.txs() {
                            self.committed_txs.insert(tx.id());
                        }
                    }
                    let seq = proof.cert.seq;
                    let wrong = self.nodes[node].strategy == Some(Strategy::WrongExecution);
                    let salt: &[u8] = if wrong { b"wrong" } else { b"block" };
                    let hash = Digest::of(&[salt, &parent.0, &seq.get().to_le_bytes(), &proof.cert.digest.0]);
                    let i = &mut self.nodes[node].instances[inst];
                    i.store.chain.push((seq, hash));
                    for tx in proof.proposal.txs() {
                        i.store.included.insert(tx.id(), seq);
                    }
                    let epoch = i.epoch;
                    let done = i.exec_busy_until.max(self.now) + self.cfg.exec_latency_ms;
                    i.exec_busy_until = done;
                    if honest {
                        self.oracle.on_executed(id, seq, hash)?;
                    }
                    self.push(done, Ev::Executed { node, inst, epoch, seq, hash });
                }
                Output::Finalized(cert) => {
                    if honest {
                        self.oracle.on_finalized(id, &cert)?;
                    }
                }
                Output::StartStateTransfer(cert) => {
                    let epoch = self.nodes[node].instances[inst].epoch;
                    self.push(self.now + 30, Ev::Transfer { node, inst, epoch, cert });
                }
                Output::Event(e) => self.on_event(node, e),
            }
        }
        Ok(())
    }

    fn on_event(&mut self, node: usize, e: Event) {
        if !self.honest(node) {
            return;
        }
        match e {
            Event::Committed { seq, kind } => {
                if let (Some(nv), Some(t)) = (self.stats.first_new_view_ms, self.proposed_at.get(&seq))
                    && *t >= nv
                {
                    self.stats.first_commit_after_new_view_ms.get_or_insert(self.now);
                }
                match kind {
                    CommitKind::Fast => self.stats.fast_commits += 1,
                    CommitKind::Slow => self.stats.slow_commits += 1,
                }
                if let Some(t) = self.proposed_at.get(&seq) {
                    self.stats.commit_latency_ms_sum += self.now - t;
                    self.stats.commit_latency_count += 1;
                }
            }
            Event::ViewChangeStarted(_) => {
                self.stats.view_changes += 1;
                self.stats.first_view_change_ms.get_or_insert(self.now);
            }
            Event::NewViewInstalled(_) => {
                self.stats.first_new_view_ms.get_or_insert(self.now);
            }
            Event::Misbehavior(_) => self.stats.misbehavior += 1,
            _ => {}
        }
    }

    fn transmit(&mut self, from: usize, to: ReplicaId, msg: Message) {
        let from_id = self.nodes[from].id;
        *self.stats.messages.entry(msg.kind()).or_default() += 1;
        if self.count_bytes || self.cfg.wire_roundtrip {
            let bytes = crate::wire::encode(&msg);
            if self.count_bytes {
                *self.stats.bytes.entry(msg.kind()).or_default() += bytes.len() as u64;
            }
            if self.cfg.wire_roundtrip {
                let back: Message = crate::wire::decode(&bytes).expect("INVARIANT: own messages decode");
                assert_eq!(back, msg, "message did not round-trip");
            }
        }
        for d in self.net.delays(&mut self.rng, from_id, to) {
            self.push(self.now + d, Ev::Deliver { to: to.index(), from: from_id, msg: msg.clone() });
        }
    }

    fn crash(&mut self, node: usize) {
        self.stats.crashes += 1;
        for i in &mut self.nodes[node].instances {
            i.replica = None;
            i.epoch += 1;
            i.timer_at = None;
        }
    }

    fn fault(&mut self, f: Fault) -> Result<(), Violation> {
        match f {
            Fault::Crash(r) => self.crash(r.index()),
            Fault::Restart(r) => {
                let node = r.index();
                if !self.cfg.down_forever.contains(&r) && self.nodes[node].started && self.nodes[node].instances[0].replica.is_none() {
                    for inst in 0..self.nodes[node].instances.len() {
                        self.boot(node, inst)?;
                    }
                }
            }
            Fault::Network(a) => self.net.set_adversary(&a),
            Fault::Slow(r, ms) => self.net.slow_ms[r.index()] = ms,
            Fault::Lossy(drop, dup) => {
                self.net.drop_rate = f64::from(drop) / 1000.0;
                self.net.dup_rate = f64::from(dup) / 1000.0;
            }
        }
        Ok(())
    }

    fn heal(&mut self) -> Result<(), Violation> {
        self.net.set_adversary(&Adversary::Passive);
        self.net.drop_rate = 0.0;
        self.net.dup_rate = 0.0;
        self.net.slow_ms.iter_mut().for_each(|s| *s = 0);
        self.cfg.crash_at_persist.clear();
        for node in 0..self.nodes.len() {
            if !self.nodes[node].started {
                self.nodes[node].started = true;
                for inst in 0..self.nodes[node].instances.len() {
                    self.boot(node, inst)?;
                }
            } else if self.nodes[node].instances[0].replica.is_none() && !self.cfg.down_forever.contains(&self.nodes[node].id) {
                self.fault(Fault::Restart(self.nodes[node].id))?;
            }
        }
        self.committed_at_heal = self.honest_committed().into_iter().max().unwrap_or(0);
        Ok(())
    }

    fn honest_committed(&self) -> Vec<u64> {
        self.nodes
            .iter()
            .filter(|n| n.strategy.is_none())
            .filter_map(|n| n.instances[0].replica.as_ref().map(|r| r.committed_upto().get()))
            .collect()
    }

    fn client_tx(&mut self) -> Result<(), Violation> {
        if self.now < self.cfg.tx_until_ms {
            let next = self.now + 1 + self.rng.range(0, 2 * self.cfg.tx_interval_ms);
            self.push(next, Ev::ClientTx);
        }
        self.tx_counter += 1;
        let tx = Tx { payload: format!("tx-{}-{}", self.cfg.seed, self.tx_counter).into_bytes(), gas: 21_000 };
        let node = self.rng.range(0, self.nodes.len() as u64) as usize;
        let settle = 300;
        let up = self.nodes[node].instances[0].replica.is_some();
        if self.now > self.cfg.heal_ms + settle && self.honest(node) && up && self.now + 2_000 < self.cfg.end_ms {
            self.txs_after_heal.insert(tx.id(), self.now);
        }
        if self.nodes[node].strategy.is_some_and(Strategy::drops_transactions) {
            return Ok(());
        }
        self.input(node, 0, Input::ClientTx(tx))
    }

    fn state_transfer(&mut self, node: usize, inst: usize, epoch: u64, cert: StateCert) -> Result<(), Violation> {
        let seq = cert.seq;
        let donor = (0..self.nodes.len()).find(|&d| {
            self.honest(d)
                && d != node
                && self.nodes[d].instances[0].store.chain.get(seq.get() as usize - 1) == Some(&(seq, cert.block_hash))
        });
        let Some(d) = donor else {
            self.push(self.now + 50, Ev::Transfer { node, inst, epoch, cert });
            return Ok(());
        };
        let prefix: Vec<(SeqNum, Digest)> = self.nodes[d].instances[0].store.chain[..seq.get() as usize].to_vec();
        let included: Vec<(Digest, SeqNum)> =
            self.nodes[d].instances[0].store.included.iter().filter(|(_, s)| **s <= seq).map(|(k, v)| (*k, *v)).collect();
        self.nodes[node].instances[inst].store.included.extend(included);
        let i = &mut self.nodes[node].instances[inst];
        if i.store.head().0 >= seq {
            return Ok(());
        }
        i.store.chain = prefix.clone();
        if self.honest(node) {
            for (s, h) in &prefix {
                self.oracle.on_executed(self.nodes[node].id, *s, *h)?;
            }
        }
        self.stats.state_transfers += 1;
        let included: Vec<Digest> = self.nodes[node].instances[inst].store.included.keys().copied().collect();
        self.input(node, inst, Input::StateTransferDone { seq, block_hash: cert.block_hash })?;
        // The shell's mempool drops what the fetched blocks already include.
        self.input(node, inst, Input::DropTxs(included))
    }

    fn check_liveness(&self) -> Result<(), Violation> {
        let target = self.committed_at_heal + 2;
        for n in self.nodes.iter().filter(|n| n.strategy.is_none() && !self.cfg.down_forever.contains(&n.id)) {
            let Some(r) = n.instances[0].replica.as_ref() else {
                return Err(Violation(format!("liveness: honest {} is down at the end", n.id)));
            };
            if r.committed_upto().get() < target {
                return Err(Violation(format!(
                    "liveness: {} committed up to {} after heal, needs {target} (view {}, {:?})",
                    n.id,
                    r.committed_upto(),
                    r.view(),
                    r.mode()
                )));
            }
        }
        if let Some((tx, at)) = self.txs_after_heal.iter().find(|(id, _)| !self.committed_txs.contains(*id)) {
            return Err(Violation(format!("liveness: transaction {tx:?} submitted at {at}ms to an honest replica never committed")));
        }
        Ok(())
    }

    /// Views of the honest replicas (for scenario assertions).
    pub fn honest_views(&self) -> Vec<(ReplicaId, ViewNum, Mode)> {
        self.nodes
            .iter()
            .filter(|n| n.strategy.is_none())
            .filter_map(|n| n.instances[0].replica.as_ref().map(|r| (n.id, r.view(), r.mode())))
            .collect()
    }

    /// Stable checkpoints of the honest replicas.
    pub fn honest_stable(&self) -> Vec<u64> {
        self.nodes
            .iter()
            .filter(|n| n.strategy.is_none())
            .filter_map(|n| n.instances[0].replica.as_ref().map(|r| r.stable_seq().get()))
            .collect()
    }
}

/// Runs one configuration.
pub fn run(cfg: SimConfig) -> Result<Stats, Violation> {
    Cluster::new(cfg).run()
}

/// The (n, f, c) of a cluster, as `Params`.
pub fn params(n: u16, f: u16, c: u16) -> Params {
    Params::new(n, f, c).expect("INVARIANT: scenario sizes satisfy n = 3f+2c+1")
}
