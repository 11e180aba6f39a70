//! concord-bft's Apollo scenario catalogue (sbft.md "the scenario catalogue to port") as
//! named simulator scenarios, plus the randomized `chaos` mix used for seed sweeps. Each
//! builder takes the cluster size and a seed; the seed picks victims, times and strategies.
//! In view 0 the primary is replica 0 and view v's primary is v mod n.

use super::byzantine::Strategy;
use super::cluster::{Fault, SimConfig};
use super::network::Adversary;
use super::seed::SimRng;
use super::storage::CrashPoint;
use crate::params::Params;
use crate::types::ReplicaId;

/// A named scenario.
#[derive(Clone, Copy, Debug)]
pub struct Scenario {
    /// Family/name, e.g. `view_change/primary_down`.
    pub name: &'static str,
    /// Builds the run for a cluster and seed.
    pub build: fn(Params, u64) -> SimConfig,
}

fn r(i: usize) -> ReplicaId {
    ReplicaId::new(i as u16)
}

/// Non-primary replicas of view 0, excluding replica 1 (the next primary).
fn backups(p: &Params) -> Vec<ReplicaId> {
    (2..p.n()).map(r).collect()
}

fn base(name: &str, p: Params, seed: u64) -> (SimConfig, SimRng) {
    (SimConfig::new(name, p, seed), SimRng::new(seed, 7))
}

macro_rules! scenario {
    ($name:literal, |$p:ident, $seed:ident, $c:ident, $rng:ident| $body:block) => {
        Scenario {
            name: $name,
            build: |$p: Params, $seed: u64| {
                #[allow(unused_mut)]
                let (mut $c, mut $rng) = base($name, $p, $seed);
                let _ = (&mut $rng, &$p, $seed);
                $body;
                $c
            },
        }
    };
}

/// The catalogue.
pub fn catalogue() -> Vec<Scenario> {
    vec![
        // --- test_skvbc_view_change ---
        scenario!("view_change/primary_down", |p, seed, c, rng| {
            c.faults.push((rng.range(300, 900), Fault::Crash(r(0))));
            c.down_forever.push(r(0));
        }),
        scenario!("view_change/f_down", |p, seed, c, rng| {
            c.faults.push((rng.range(300, 900), Fault::Crash(r(0))));
            c.down_forever.push(r(0));
            for b in backups(&p).into_iter().take(p.f() - 1) {
                c.faults.push((rng.range(200, 1200), Fault::Crash(b)));
                c.down_forever.push(b);
            }
        }),
        scenario!("view_change/primary_and_next_down", |p, seed, c, rng| {
            let t = rng.range(300, 900);
            c.faults.push((t, Fault::Crash(r(0))));
            c.faults.push((t + rng.range(0, 200), Fault::Crash(r(1))));
            if p.f() >= 2 {
                c.down_forever.extend([r(0), r(1)]);
            }
        }),
        scenario!("view_change/crashed_replica_catches_up", |p, seed, c, rng| {
            let victim = r(p.n() - 1);
            c.faults.push((200, Fault::Crash(victim)));
            c.faults.push((rng.range(600, 900), Fault::Crash(r(0))));
            c.faults.push((rng.range(1500, 2200), Fault::Restart(victim)));
            c.down_forever.push(r(0));
        }),
        scenario!("view_change/restart_during_view_change", |p, seed, c, rng| {
            let t = rng.range(400, 800);
            c.faults.push((t, Fault::Crash(r(0))));
            let victim = r(2 + rng.range(0, (p.n() - 2) as u64) as usize);
            c.faults.push((t + rng.range(250, 600), Fault::Crash(victim)));
            c.faults.push((t + rng.range(700, 1200), Fault::Restart(victim)));
            c.faults.push((t + 1500, Fault::Restart(r(0))));
        }),
        scenario!("view_change/replica_two_views_behind", |p, seed, c, rng| {
            let lag = r(p.n() - 1);
            c.faults.push((200, Fault::Network(Adversary::SubsetIsolating(vec![lag]))));
            c.faults.push((rng.range(300, 500), Fault::Crash(r(0))));
            c.faults.push((1400, Fault::Restart(r(0))));
            c.faults.push((1500, Fault::Crash(r(1))));
            c.heal_ms = 3_000;
            c.end_ms = 7_000;
        }),
        scenario!("view_change/multiple_on_slow_path", |p, seed, c, rng| {
            for b in backups(&p).into_iter().take(p.c() + 1) {
                c.faults.push((200, Fault::Crash(b)));
            }
            c.faults.push((rng.range(700, 1000), Fault::Crash(r(0))));
            c.faults.push((1800, Fault::Restart(r(0))));
            c.faults.push((1900, Fault::Crash(r(1))));
            c.heal_ms = 3_000;
            c.end_ms = 7_000;
        }),
        scenario!("view_change/asks_to_leave_view", |p, seed, c, rng| {
            c.byzantine.push((r(0), Strategy::Censor));
        }),
        scenario!("view_change/at_startup", |p, seed, c, rng| {
            c.start_ms.push((r(0), 2_000));
        }),
        // --- test_skvbc_commit_path ---
        scenario!("commit_path/fast_default", |p, seed, c, rng| {}),
        scenario!("commit_path/fast_to_slow_with_c_plus_1_down", |p, seed, c, rng| {
            for b in backups(&p).into_iter().take(p.c() + 1) {
                c.faults.push((rng.range(200, 500), Fault::Crash(b)));
            }
        }),
        scenario!("commit_path/fast_with_threshold_c_down", |p, seed, c, rng| {
            for b in backups(&p).into_iter().take(p.c()) {
                c.faults.push((rng.range(200, 500), Fault::Crash(b)));
            }
        }),
        scenario!("commit_path/fast_slow_fast", |p, seed, c, rng| {
            for b in backups(&p).into_iter().take(p.c() + 1) {
                c.faults.push((300, Fault::Crash(b)));
                c.faults.push((1200 + rng.range(0, 400), Fault::Restart(b)));
            }
        }),
        scenario!("commit_path/fast_restored_after_view_change", |p, seed, c, rng| {
            c.faults.push((rng.range(300, 700), Fault::Crash(r(0))));
            c.faults.push((1_500, Fault::Restart(r(0))));
        }),
        // --- test_skvbc_checkpoints ---
        scenario!("checkpoints/creation_and_gc", |p, seed, c, rng| {
            c.tx_interval_ms = 10;
        }),
        scenario!("checkpoints/propagation_after_crash", |p, seed, c, rng| {
            let v = r(2 + rng.range(0, (p.n() - 2) as u64) as usize);
            c.faults.push((300, Fault::Crash(v)));
            c.faults.push((2_000, Fault::Restart(v)));
        }),
        scenario!("checkpoints/after_view_change", |p, seed, c, rng| {
            c.faults.push((rng.range(500, 1000), Fault::Crash(r(0))));
            c.down_forever.push(r(0));
        }),
        scenario!("checkpoints/isolate_f_non_primaries", |p, seed, c, rng| {
            let set: Vec<_> = backups(&p).into_iter().take(p.f()).collect();
            c.faults.push((300, Fault::Network(Adversary::SubsetIsolating(set))));
        }),
        scenario!("checkpoints/isolate_primary", |p, seed, c, rng| {
            c.faults.push((300, Fault::Network(Adversary::PrimaryIsolating(r(0)))));
        }),
        scenario!("checkpoints/isolate_f_including_primary", |p, seed, c, rng| {
            let mut set = vec![r(0)];
            set.extend(backups(&p).into_iter().take(p.f() - 1));
            c.faults.push((300, Fault::Network(Adversary::SubsetIsolating(set))));
        }),
        scenario!("checkpoints/corrupted_checkpoint_messages", |p, seed, c, rng| {
            c.byzantine.push((r(p.n() - 1), Strategy::CorruptCheckpoint));
        }),
        // --- test_skvbc_persistence ---
        scenario!("persistence/crash_at_persistence_point", |p, seed, c, rng| {
            let v = r(rng.range(0, p.n() as u64) as usize);
            let point = if rng.chance(0.5) { CrashPoint::BeforeWrite } else { CrashPoint::AfterWrite };
            c.crash_at_persist.push((v, rng.range(1, 400), point, rng.range(1, 800)));
            c.wire_roundtrip = true;
        }),
        scenario!("persistence/view_change_without_quorum", |p, seed, c, rng| {
            // Primary dies and f+1 more are cut off: no view-change quorum until heal.
            c.faults.push((400, Fault::Crash(r(0))));
            let set: Vec<_> = (1..=p.f() + 1).map(r).collect();
            c.faults.push((450, Fault::Network(Adversary::SubsetIsolating(set))));
        }),
        scenario!("persistence/full_cluster_restart", |p, seed, c, rng| {
            let t = rng.range(500, 1500);
            for i in 0..p.n() {
                c.faults.push((t, Fault::Crash(r(i))));
                c.faults.push((t + rng.range(100, 400), Fault::Restart(r(i))));
            }
        }),
        scenario!("persistence/state_transfer_fetcher_crash", |p, seed, c, rng| {
            let v = r(p.n() - 1);
            c.faults.push((100, Fault::Network(Adversary::SubsetIsolating(vec![v]))));
            c.faults.push((1_500, Fault::Network(Adversary::Passive)));
            c.faults.push((1_500 + rng.range(0, 100), Fault::Crash(v)));
            c.faults.push((1_800, Fault::Restart(v)));
        }),
        scenario!("persistence/state_transfer_while_primary_crashes", |p, seed, c, rng| {
            let v = r(p.n() - 1);
            c.faults.push((100, Fault::Network(Adversary::SubsetIsolating(vec![v]))));
            c.faults.push((1_500, Fault::Network(Adversary::Passive)));
            c.faults.push((1_500 + rng.range(0, 100), Fault::Crash(r(0))));
            c.down_forever.push(r(0));
        }),
        // --- test_skvbc_network_partitioning ---
        scenario!("partitioning/packet_drops", |p, seed, c, rng| {
            c.faults.push((0, Fault::Lossy(rng.range(50, 300) as u32, rng.range(0, 200) as u32)));
        }),
        scenario!("partitioning/primary_isolated", |p, seed, c, rng| {
            c.faults.push((rng.range(200, 600), Fault::Network(Adversary::PrimaryIsolating(r(0)))));
        }),
        scenario!("partitioning/f_non_primaries_isolated", |p, seed, c, rng| {
            let set: Vec<_> = backups(&p).into_iter().take(p.f()).collect();
            c.faults.push((200, Fault::Network(Adversary::SubsetIsolating(set))));
        }),
        scenario!("partitioning/isolated_replica_state_transfer", |p, seed, c, rng| {
            c.tx_interval_ms = 8;
            c.faults.push((100, Fault::Network(Adversary::SubsetIsolating(vec![r(p.n() - 1)]))));
        }),
        scenario!("partitioning/one_way_subset", |p, seed, c, rng| {
            let set: Vec<_> = rng.subset(p.n(), p.f()).into_iter().map(r).collect();
            c.faults.push((200, Fault::Network(Adversary::SubsetOneWayIsolating(set))));
        }),
        scenario!("partitioning/one_way_two_subsets", |p, seed, c, rng| {
            let k = rng.range(1, p.n() as u64) as usize;
            let a: Vec<_> = (0..k).map(r).collect();
            let b: Vec<_> = (k..p.n()).map(r).collect();
            c.faults.push((200, Fault::Network(Adversary::OneWayTwoSubsets(a, b))));
        }),
        scenario!("partitioning/two_way_two_subsets", |p, seed, c, rng| {
            let k = rng.range(1, p.n() as u64) as usize;
            let a: Vec<_> = (0..k).map(r).collect();
            let b: Vec<_> = (k..p.n()).map(r).collect();
            c.faults.push((200, Fault::Network(Adversary::TwoWayTwoSubsets(a, b))));
        }),
        scenario!("partitioning/f_minus_1_isolated_and_primary_crash", |p, seed, c, rng| {
            let set: Vec<_> = backups(&p).into_iter().take(p.f().saturating_sub(1)).collect();
            c.faults.push((200, Fault::Network(Adversary::SubsetIsolating(set))));
            c.faults.push((rng.range(400, 900), Fault::Crash(r(0))));
            c.down_forever.push(r(0));
        }),
        // --- test_skvbc_restart_recovery ---
        scenario!("restart_recovery/restarts_under_load", |p, seed, c, rng| {
            let mut t = 100;
            while t < 2_200 {
                let v = r(rng.range(0, p.n() as u64) as usize);
                c.faults.push((t, Fault::Crash(v)));
                t += rng.range(100, 400);
                c.faults.push((t, Fault::Restart(v)));
                t += rng.range(50, 300);
            }
        }),
        scenario!("restart_recovery/next_primary_down", |p, seed, c, rng| {
            c.faults.push((100, Fault::Crash(r(1))));
            c.faults.push((rng.range(400, 800), Fault::Crash(r(0))));
            c.faults.push((1_600, Fault::Restart(r(1))));
        }),
        scenario!("restart_recovery/f_restarts_for_view_change", |p, seed, c, rng| {
            let t = rng.range(300, 800);
            for i in 0..p.f() {
                c.faults.push((t, Fault::Crash(r(i))));
                c.faults.push((t + rng.range(400, 900), Fault::Restart(r(i))));
            }
        }),
        scenario!("restart_recovery/primary_restart_with_initiated_view_change", |p, seed, c, rng| {
            c.faults.push((300, Fault::Network(Adversary::PrimaryIsolating(r(0)))));
            c.faults.push((1_000, Fault::Crash(r(0))));
            c.faults.push((1_100, Fault::Network(Adversary::Passive)));
            c.faults.push((1_300, Fault::Restart(r(0))));
        }),
        // --- test_skvbc_chaotic_startup ---
        scenario!("chaotic_startup/staggered", |p, seed, c, rng| {
            for i in 0..p.n() {
                c.start_ms.push((r(i), rng.range(0, 1_500)));
            }
        }),
        scenario!("chaotic_startup/f_delayed", |p, seed, c, rng| {
            for i in rng.subset(p.n(), p.f()) {
                c.start_ms.push((r(i), c.heal_ms));
            }
        }),
        scenario!("chaotic_startup/catch_up_from_inactive_window", |p, seed, c, rng| {
            c.tx_interval_ms = 8;
            c.start_ms.push((r(p.n() - 1), 2_000));
        }),
        // --- Byzantine (TesterReplica strategies, commonware mocks, twins) ---
        scenario!("byzantine/twins", |p, seed, c, rng| {
            for i in rng.subset(p.n(), p.f()) {
                c.byzantine.push((r(i), Strategy::Twins));
            }
        }),
        scenario!("byzantine/twin_primary", |p, seed, c, rng| {
            c.byzantine.push((r(0), Strategy::Twins));
        }),
        scenario!("byzantine/equivocating_primary", |p, seed, c, rng| {
            c.byzantine.push((r(0), Strategy::EquivocatingPrimary));
        }),
        scenario!("byzantine/bad_shares", |p, seed, c, rng| {
            for i in rng.subset(p.n(), p.f()) {
                c.byzantine.push((r(i), Strategy::BadShares));
            }
        }),
        scenario!("byzantine/missing_shares", |p, seed, c, rng| {
            for i in rng.subset(p.n(), p.f()) {
                c.byzantine.push((r(i), Strategy::MissingShares));
            }
        }),
        scenario!("byzantine/wrong_execution_digest", |p, seed, c, rng| {
            for i in rng.subset(p.n(), p.f()) {
                c.byzantine.push((r(i), Strategy::WrongExecution));
            }
        }),
        scenario!("byzantine/corrupt_checkpoints", |p, seed, c, rng| {
            for i in rng.subset(p.n(), p.f()) {
                c.byzantine.push((r(i), Strategy::CorruptCheckpoint));
            }
        }),
        scenario!("byzantine/censoring_primary", |p, seed, c, rng| {
            c.byzantine.push((r(0), Strategy::Censor));
        }),
        // --- test_skvbc_time_service ---
        scenario!("time_service/primary_clock_wrong", |p, seed, c, rng| {
            c.skew_ms.push((r(0), 2_000));
        }),
        scenario!("time_service/f_backup_clocks_wrong", |p, seed, c, rng| {
            for b in backups(&p).into_iter().take(p.f()) {
                c.skew_ms.push((b, if rng.chance(0.5) { 3_000 } else { -3_000 }));
            }
        }),
        scenario!("chaos", |p, seed, c, rng| { chaos(&mut c, &mut rng) }),
    ]
}

/// Finds a scenario by name.
pub fn by_name(name: &str) -> Option<Scenario> {
    catalogue().into_iter().find(|s| s.name == name)
}

/// The random mix: up to f Byzantine replicas with random strategies, random network
/// adversaries, drops and duplicates, crashes (also at persistence points), slow replicas,
/// clock skew within the bound and staggered starts; all healed at `heal_ms`.
pub fn chaos(c: &mut SimConfig, rng: &mut SimRng) {
    let p = c.params;
    let n = p.n();
    let byz = rng.range(0, p.f() as u64 + 1) as usize;
    for i in rng.subset(n, byz) {
        let s = *rng.pick(&Strategy::ALL).unwrap_or(&Strategy::Mute);
        c.byzantine.push((r(i), s));
    }
    if rng.chance(0.3) {
        c.faults.push((0, Fault::Lossy(rng.range(0, 200) as u32, rng.range(0, 100) as u32)));
    }
    let events = rng.range(0, 6);
    for _ in 0..events {
        let t = rng.range(0, c.heal_ms);
        let v = r(rng.range(0, n as u64) as usize);
        match rng.range(0, 9) {
            0 | 1 => {
                c.faults.push((t, Fault::Crash(v)));
                c.faults.push((t + rng.range(50, 1_000), Fault::Restart(v)));
            }
            2 => c.faults.push((t, Fault::Network(Adversary::PrimaryIsolating(r(rng.range(0, 3) as usize % n))))),
            3 => {
                let k = rng.range(1, n as u64) as usize;
                let set: Vec<_> = rng.subset(n, k).into_iter().map(r).collect();
                c.faults.push((t, Fault::Network(Adversary::SubsetIsolating(set))));
            }
            4 => {
                let k = rng.range(1, n as u64) as usize;
                let set: Vec<_> = rng.subset(n, k).into_iter().map(r).collect();
                c.faults.push((t, Fault::Network(Adversary::SubsetOneWayIsolating(set))));
            }
            5 => {
                let k = rng.range(1, n as u64) as usize;
                let a: Vec<_> = rng.subset(n, k).into_iter().map(r).collect();
                let b: Vec<_> = (0..n).map(r).filter(|x| !a.contains(x)).collect();
                let adv = if rng.chance(0.5) { Adversary::OneWayTwoSubsets(a, b) } else { Adversary::TwoWayTwoSubsets(a, b) };
                c.faults.push((t, Fault::Network(adv)));
            }
            6 => c.faults.push((t, Fault::Network(Adversary::Passive))),
            7 => c.faults.push((t, Fault::Slow(v, rng.range(20, 200)))),
            _ => {
                let point = if rng.chance(0.5) { CrashPoint::BeforeWrite } else { CrashPoint::AfterWrite };
                c.crash_at_persist.push((v, rng.range(1, 300), point, rng.range(1, 600)));
            }
        }
    }
    if rng.chance(0.3) {
        let k = rng.range(1, n as u64) as usize;
        for i in rng.subset(n, k) {
            c.skew_ms.push((r(i), rng.range(0, 300) as i64 - 150));
        }
    }
    if rng.chance(0.2) {
        for i in 0..n {
            c.start_ms.push((r(i), rng.range(0, 800)));
        }
    }
    c.wire_roundtrip = rng.chance(0.1);
    c.checkpoint_interval = *rng.pick(&[5, 10, 20]).unwrap_or(&10);
}
