//! Throughput of the consensus core alone: n replicas driven in one thread through an
//! in-memory FIFO (no network model, no oracles, no timers), persists acknowledged and blocks
//! "executed" (hashed) at once. One client transaction per block keeps every sequence number
//! on the full fast path: pre-prepare, shares, proof, execution shares, finality.
//!
//! ```sh
//! cargo run --release -p stele-consensus --example bench -- --n 4 --crypto mock --seqs 20000
//! cargo run --release -p stele-consensus --example bench -- --n 64 --crypto bls --seqs 100
//! ```
//!
//! Prints committed sequence numbers per second for the whole cluster on one core, and the
//! same figure times n, an estimate for one replica on one core (every replica does a
//! symmetric share of the work, the rotating collectors included).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;
use stele_consensus::crypto::CryptoTr;
use stele_consensus::crypto::bls::BlsCrypto;
use stele_consensus::crypto::mock::MockCrypto;
use stele_consensus::message::{Message, Tx};
use stele_consensus::sim::params;
use stele_consensus::{Config, Digest, Input, Output, Params, Replica, ReplicaId, Tick};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let get = |k: &str| args.iter().position(|a| a == k).and_then(|i| args.get(i + 1)).cloned();
    let n: u16 = get("--n").and_then(|v| v.parse().ok()).unwrap_or(4);
    let seqs: u64 = get("--seqs").and_then(|v| v.parse().ok()).unwrap_or(5_000);
    let crypto = get("--crypto").unwrap_or_else(|| "mock".into());
    let p: Params = match n {
        4 => params(4, 1, 0),
        7 => params(7, 2, 0),
        16 => params(16, 5, 0),
        64 => params(64, 21, 0),
        other => Params::for_n(other, 0).expect("n = 3f + 1"),
    };
    let cryptos: Vec<Arc<dyn CryptoTr>> = match crypto.as_str() {
        "bls" => BlsCrypto::test_cluster(p.n()).into_iter().map(|c| Arc::new(c) as Arc<dyn CryptoTr>).collect(),
        _ => (0..p.n()).map(|i| Arc::new(MockCrypto::new(ReplicaId::new(i as u16))) as Arc<dyn CryptoTr>).collect(),
    };
    let mut replicas: Vec<Replica> = (0..p.n())
        .map(|i| {
            let mut c = Config::new(p, ReplicaId::new(i as u16));
            c.empty_block_interval_ms = u64::MAX / 4;
            c.commit_timeout_ms = u64::MAX / 4;
            c.censorship_timeout_ms = u64::MAX / 4;
            Replica::new(c, cryptos[i].clone())
        })
        .collect();
    let mut heads: Vec<Digest> = vec![Digest::default(); p.n()];
    let mut queue: VecDeque<(usize, Input)> = VecDeque::new();
    let now = Tick::from_ms(1);
    for i in 0..p.n() {
        queue.push_back((i, Input::Start));
    }
    let mut messages = 0u64;
    let mut drain = |queue: &mut VecDeque<(usize, Input)>, replicas: &mut Vec<Replica>, heads: &mut Vec<Digest>| {
        while let Some((to, input)) = queue.pop_front() {
            for o in replicas[to].handle(now, input) {
                match o {
                    Output::Send { to: dst, msg } => {
                        messages += 1;
                        queue.push_back((dst.index(), Input::Message { from: ReplicaId::new(to as u16), msg }));
                    }
                    Output::Broadcast(msg) => {
                        for dst in (0..heads.len()).filter(|d| *d != to) {
                            messages += 1;
                            queue.push_back((dst, Input::Message { from: ReplicaId::new(to as u16), msg: msg.clone() }));
                        }
                    }
                    Output::Persist { id, .. } => queue.push_back((to, Input::PersistAck(id))),
                    Output::Execute(proof) => {
                        let seq = proof.cert.seq;
                        heads[to] = Digest::of(&[&heads[to].0, &seq.get().to_le_bytes(), &proof.cert.digest.0]);
                        queue.push_back((to, Input::Executed { seq, block_hash: heads[to] }));
                    }
                    _ => {}
                }
            }
        }
    };
    drain(&mut queue, &mut replicas, &mut heads);
    let t0 = Instant::now();
    for k in 0..seqs {
        let tx = Tx { payload: format!("bench-{k}").into_bytes(), gas: 21_000 };
        queue.push_back((0, Input::ClientTx(tx)));
        drain(&mut queue, &mut replicas, &mut heads);
    }
    let secs = t0.elapsed().as_secs_f64();
    let committed = replicas.iter().map(|r| r.committed_upto().get()).min().unwrap_or(0);
    let rate = committed as f64 / secs;
    let _ = Message::Tx(Tx { payload: vec![], gas: 0 });
    println!(
        "n={} f={} c={} crypto={crypto}: {committed} seqs in {secs:.2}s = {rate:.0} seq/s for the whole cluster on one core; \
         ≈ {:.0} seq/s per replica core; {:.0} msgs/seq",
        p.n(),
        p.f(),
        p.c(),
        rate * p.n() as f64,
        messages as f64 / committed.max(1) as f64
    );
}
