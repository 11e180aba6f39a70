//! Long soaks and replays of the simulator.
//!
//! ```sh
//! cargo run --release -p stele-consensus --example soak -- --seeds 100000
//! cargo run --release -p stele-consensus --example soak -- --scenario chaos --seed 42
//! cargo run --release -p stele-consensus --example soak -- --scenario all --seeds 20 --config 6,1,1
//! ```
//!
//! Options: `--seeds N` (default 1000), `--start S` (first seed), `--seed S` (one seed),
//! `--scenario NAME|all` (default chaos), `--config n,f,c` (default: rotate over (4,1,0),
//! (6,1,1), (7,2,0)), `--bls` (real BLS crypto). Exits non-zero on the first violation,
//! after printing it with the replay command.

use stele_consensus::sim::{self, CryptoKind, catalogue, params};
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let get = |k: &str| args.iter().position(|a| a == k).and_then(|i| args.get(i + 1)).cloned();
    let mut start: u64 = get("--start").and_then(|s| s.parse().ok()).unwrap_or(0);
    let mut seeds: u64 = get("--seeds").and_then(|s| s.parse().ok()).unwrap_or(1000);
    if let Some(s) = get("--seed").and_then(|s| s.parse().ok()) {
        start = s;
        seeds = 1;
    }
    let scenario = get("--scenario").unwrap_or_else(|| "chaos".into());
    let bls = args.iter().any(|a| a == "--bls");
    let configs = match get("--config") {
        Some(c) => {
            let v: Vec<u16> = c.split(',').filter_map(|x| x.parse().ok()).collect();
            assert!(v.len() == 3, "--config n,f,c");
            vec![params(v[0], v[1], v[2])]
        }
        None => vec![params(4, 1, 0), params(6, 1, 1), params(7, 2, 0)],
    };
    let chosen: Vec<_> = catalogue().into_iter().filter(|s| scenario == "all" || s.name == scenario).collect();
    assert!(!chosen.is_empty(), "unknown scenario {scenario}");
    let t0 = Instant::now();
    let (mut runs, mut commits, mut vcs) = (0u64, 0u64, 0u64);
    for seed in start..start + seeds {
        let p = configs[(seed % configs.len() as u64) as usize];
        for s in &chosen {
            let mut cfg = (s.build)(p, seed);
            if bls {
                cfg.crypto = CryptoKind::Bls;
            }
            match sim::run(cfg) {
                Ok(st) => {
                    runs += 1;
                    commits += st.committed;
                    vcs += st.view_changes;
                }
                Err(v) => {
                    eprintln!("VIOLATION (n={} f={} c={}):\n{}", p.n(), p.f(), p.c(), v.0);
                    std::process::exit(1);
                }
            }
        }
        if seeds >= 100 && (seed - start + 1).is_multiple_of((seeds / 10).max(1)) {
            eprintln!("{} seeds, {runs} runs, {:.1}s", seed - start + 1, t0.elapsed().as_secs_f64());
        }
    }
    println!(
        "ok: {runs} runs ({} seeds from {start}, scenario {scenario}), {commits} blocks, {vcs} view changes started, {:.1}s",
        seeds,
        t0.elapsed().as_secs_f64()
    );
}
