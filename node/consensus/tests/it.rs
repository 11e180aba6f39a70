//! Simulator integration tests: the named scenario catalogue for each configuration, the
//! random seed sweep, replay determinism and crash at every persistence point.

use stele_consensus::sim::{self, SimConfig, Stats, catalogue, params};
use stele_consensus::Params;

/// The four configurations of the issue: (4,1,0), (6,1,1), (7,2,0) and a large one.
fn configs() -> Vec<Params> {
    vec![params(4, 1, 0), params(6, 1, 1), params(7, 2, 0), params(16, 5, 0)]
}

fn run_or_panic(cfg: SimConfig) -> Stats {
    match sim::run(cfg) {
        Ok(s) => s,
        Err(v) => panic!("{}", v.0),
    }
}

fn scenario_family(prefix: &str, seeds: u64) {
    for s in catalogue().into_iter().filter(|s| s.name.starts_with(prefix)) {
        for p in configs() {
            let seeds = if p.n() > 7 { 1 } else { seeds };
            for seed in 0..seeds {
                run_or_panic((s.build)(p, seed));
            }
        }
    }
}

#[test]
fn scenarios_view_change() {
    scenario_family("view_change/", 3);
}
#[test]
fn scenarios_commit_path() {
    scenario_family("commit_path/", 3);
}
#[test]
fn scenarios_checkpoints() {
    scenario_family("checkpoints/", 3);
}
#[test]
fn scenarios_persistence() {
    scenario_family("persistence/", 3);
}
#[test]
fn scenarios_partitioning() {
    scenario_family("partitioning/", 3);
}
#[test]
fn scenarios_restart_recovery() {
    scenario_family("restart_recovery/", 3);
}
#[test]
fn scenarios_chaotic_startup() {
    scenario_family("chaotic_startup/", 3);
}
#[test]
fn scenarios_byzantine() {
    scenario_family("byzantine/", 3);
}
#[test]
fn scenarios_time_service() {
    scenario_family("time_service/", 3);
}
