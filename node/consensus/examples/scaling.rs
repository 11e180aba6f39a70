//! Scaling measurement: messages and bytes per committed block and commit latency in message
//! delays, for n = 4, 16, 64, 128, 209, on the fast path, the slow path and across a view
//! change, beside an all-to-all PBFT baseline counted with the same message sizes. Writes
//! `docs/consensus/scaling.md` (table) and `docs/consensus/scaling.svg` (plot).
//!
//! ```sh
//! cargo run --release -p stele-consensus --example scaling            # all sizes
//! cargo run --release -p stele-consensus --example scaling -- --quick # n = 4, 16 only
//! ```
//!
//! Every link has a fixed 10 ms latency (one message delay), the disk acks instantly, clients
//! submit a transaction every 5 ms, K = 150 as in production. Counts start after a 300 ms
//! warm-up. Client-transaction gossip (n−1 per transaction) is excluded from "per block".

use std::collections::BTreeMap;
use std::fmt::Write as _;
use stele_consensus::sim::{Cluster, Fault, SimConfig, Stats, params};
use stele_consensus::{Params, ReplicaId};

const DELAY_MS: u64 = 10;
const WARMUP_MS: u64 = 300;

const ORDERING: &[&str] = &["pre_prepare", "vote_share", "fast_commit", "prepare", "commit_share", "slow_commit"];
const FINALITY: &[&str] = &["exec_share", "finality"];
const CHECKPOINT: &[&str] = &["checkpoint", "stable_checkpoint"];
const VIEW_CHANGE: &[&str] = &["complaint", "view_change", "new_view"];

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Fast,
    Slow,
    ViewChange,
}

struct Row {
    n: usize,
    mode: &'static str,
    blocks: u64,
    ordering_msgs: f64,
    total_msgs: f64,
    total_bytes: f64,
    latency_delays: f64,
    vc_msgs: u64,
    vc_bytes: u64,
    vc_delays: Option<f64>,
}

fn sum(m: &BTreeMap<&'static str, u64>, kinds: &[&str]) -> u64 {
    kinds.iter().map(|k| m.get(k).copied().unwrap_or(0)).sum()
}

fn diff(a: &BTreeMap<&'static str, u64>, b: &BTreeMap<&'static str, u64>) -> BTreeMap<&'static str, u64> {
    b.iter().map(|(k, v)| (*k, v - a.get(k).copied().unwrap_or(0))).collect()
}

fn measure(p: Params, mode: Mode, end_ms: u64) -> Row {
    let mut cfg = SimConfig::new("scaling", p, 1);
    cfg.uniform_latency_ms = Some(DELAY_MS);
    cfg.disk_latency_ms = 0;
    cfg.tx_interval_ms = 5;
    cfg.checkpoint_interval = 150;
    cfg.end_ms = end_ms;
    cfg.heal_ms = end_ms;
    cfg.check_liveness = false;
    match mode {
        Mode::Fast => {}
        Mode::Slow => {
            // c+1 backups never start: 3f+c+1 shares are impossible, 2f+c+1 remain.
            for i in 0..=p.c() {
                cfg.start_ms.push((ReplicaId::new(2 + i as u16), u64::MAX));
            }
        }
        Mode::ViewChange => {
            cfg.faults.push((end_ms / 3, Fault::Crash(ReplicaId::new(0))));
            cfg.down_forever.push(ReplicaId::new(0));
        }
    }
    let mut c = Cluster::new(cfg);
    c.count_bytes(true);
    if let Err(v) = c.run_until(WARMUP_MS) {
        panic!("{}", v.0);
    }
    let before: Stats = c.stats.clone();
    if let Err(v) = c.run_until(end_ms) {
        panic!("{}", v.0);
    }
    let after = c.stats.clone();
    let msgs = diff(&before.messages, &after.messages);
    if std::env::var_os("SCALING_DEBUG").is_some() {
        eprintln!("{msgs:?} blocks={}", after.committed - before.committed);
        eprintln!("vc={:?} nv={:?} commit={:?}", after.first_view_change_ms, after.first_new_view_ms, after.first_commit_after_new_view_ms);
    }
    let bytes = diff(&before.bytes, &after.bytes);
    let blocks = (after.committed - before.committed).max(1);
    let b = blocks as f64;
    let all_bytes: u64 = bytes.iter().filter(|(k, _)| **k != "tx").map(|(_, v)| *v).sum();
    let lat_count = after.commit_latency_count - before.commit_latency_count;
    let lat = (after.commit_latency_ms_sum - before.commit_latency_ms_sum) as f64 / lat_count.max(1) as f64;
    let vc_delays = match (after.first_view_change_ms, after.first_commit_after_new_view_ms) {
        (Some(a), Some(b)) if mode == Mode::ViewChange => Some((b - a) as f64 / DELAY_MS as f64),
        _ => None,
    };
    Row {
        n: p.n(),
        mode: match mode {
            Mode::Fast => "fast",
            Mode::Slow => "slow",
            Mode::ViewChange => "view change",
        },
        blocks,
        ordering_msgs: sum(&msgs, ORDERING) as f64 / b,
        total_msgs: (sum(&msgs, ORDERING) + sum(&msgs, FINALITY) + sum(&msgs, CHECKPOINT)) as f64 / b,
        total_bytes: all_bytes as f64 / b,
        latency_delays: lat / DELAY_MS as f64,
        vc_msgs: sum(&msgs, VIEW_CHANGE),
        vc_bytes: sum(&bytes, VIEW_CHANGE),
        vc_delays,
    }
}

/// All-to-all PBFT counted analytically: pre-prepare to n−1, prepare and commit from every
/// replica to every other, checkpoints every K, 3 message delays; sizes from our codec
/// (a prepare/commit is a vote-share-sized message).
fn pbft(n: usize, preprepare_bytes: f64, share_bytes: f64) -> (f64, f64) {
    let n = n as f64;
    let msgs = (n - 1.0) + 2.0 * n * (n - 1.0) + n * (n - 1.0) / 150.0;
    let bytes = (n - 1.0) * preprepare_bytes + (2.0 * n * (n - 1.0) + n * (n - 1.0) / 150.0) * share_bytes;
    (msgs, bytes)
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let only: Option<usize> = std::env::args().skip_while(|a| a != "--n").nth(1).and_then(|v| v.parse().ok());
    let sizes: Vec<Params> = if let Some(n) = only {
        [params(4, 1, 0), params(16, 5, 0), params(64, 21, 0), params(128, 41, 2), params(209, 64, 8)]
            .into_iter()
            .filter(|p| p.n() == n)
            .collect()
    } else if quick {
        vec![params(4, 1, 0), params(16, 5, 0)]
    } else {
        vec![params(4, 1, 0), params(16, 5, 0), params(64, 21, 0), params(128, 41, 2), params(209, 64, 8)]
    };
    let share_bytes = {
        use stele_consensus::message::{Message, Share};
        use stele_consensus::crypto::Signature;
        let m = Message::VoteShare(Share {
            view: stele_consensus::ViewNum::new(0),
            seq: stele_consensus::SeqNum::new(1),
            digest: stele_consensus::Digest::default(),
            sig: Signature(vec![0; 96]),
        });
        stele_consensus::wire::encode(&m).len() as f64
    };
    let mut rows = vec![];
    for p in &sizes {
        let end = if p.n() > 100 { 1_500 } else { 2_500 };
        for mode in [Mode::Fast, Mode::Slow, Mode::ViewChange] {
            let want_vc = std::env::args().any(|a| a == "--vc");
            if only.is_some() && (mode == Mode::ViewChange) != want_vc || only.is_some() && mode == Mode::Slow {
                continue;
            }
            let t = std::time::Instant::now();
            let r = measure(*p, mode, end);
            eprintln!("n={} {}: {} blocks, {:.1} ordering msgs/block, {:.2}s", r.n, r.mode, r.blocks, r.ordering_msgs, t.elapsed().as_secs_f64());
            rows.push(r);
        }
    }
    let mut md = String::new();
    let _ = writeln!(md, "# Consensus scaling (simulator)\n");
    let _ = writeln!(md, "Generated by `cargo run --release -p stele-consensus --example scaling` (see its doc comment for the setup).");
    let _ = writeln!(md, "Per committed block; one message delay = {DELAY_MS} ms fixed latency; K = 150; mock signatures are counted at their");
    let _ = writeln!(md, "mock size (16 B), so SBFT bytes would grow by 80 B per signature with BLS (96 B). \"ordering\" = pre-prepare,");
    let _ = writeln!(md, "shares and commit proofs; \"total\" adds execution shares, finality certificates and checkpoints.");
    let _ = writeln!(md, "PBFT is all-to-all prepare and commit, counted analytically with a 96-byte-signature vote size ({share_bytes} B) and the");
    let _ = writeln!(md, "same pre-prepare sizes, no finality certificate (clients wait for f+1 replies), 3 delays.\n");
    let _ = writeln!(md, "| n (f, c) | path | blocks | ordering msgs/block | ≤ 4n? | total msgs/block | bytes/block | commit latency (delays) | PBFT msgs/block | PBFT bytes/block | view change msgs (bytes) | view change → first commit (delays) |");
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (r, p) in rows.iter().zip(sizes.iter().flat_map(|p| [p, p, p])) {
        let pp_bytes = 60.0;
        let (pm, pb) = pbft(r.n, pp_bytes, share_bytes);
        let _ = writeln!(
            md,
            "| {} ({}, {}) | {} | {} | {:.1} | {} | {:.1} | {:.0} | {:.2} | {:.0} | {:.0} | {} | {} |",
            r.n,
            p.f(),
            p.c(),
            r.mode,
            r.blocks,
            r.ordering_msgs,
            match (r.mode, r.ordering_msgs <= 4.0 * r.n as f64) {
                ("fast", true) => "yes",
                ("fast", false) => "**no**",
                _ => "–",
            },
            r.total_msgs,
            r.total_bytes,
            r.latency_delays,
            pm,
            pb,
            if r.mode == "view change" { format!("{} ({})", r.vc_msgs, r.vc_bytes) } else { "–".into() },
            r.vc_delays.map_or("–".into(), |d| format!("{d:.1}")),
        );
    }
    let _ = writeln!(md, "\n![messages per block](scaling.svg)\n");
    let _ = writeln!(md, "The view-change latency runs from the first honest replica entering the view change (after f+1");
    let _ = writeln!(md, "complaints, i.e. after the commit timeout noticed the crashed primary) to the first commit, at any honest");
    let _ = writeln!(md, "replica (usually the lead collector), of a block proposed in the new view. At n ≥ 128 every replica's");
    let _ = writeln!(md, "commit timer fires within one delay, so the whole cluster enters the view change together (3 delays: view");
    let _ = writeln!(md, "change → new primary, pre-prepare, shares → collector); at small n the complaints trickle in (9–12).");
    let _ = writeln!(md, "View-change bytes are dominated by the new-view message, which carries 2f+2c+1 view-change messages with");
    let _ = writeln!(md, "bodies (see the known limitations in README.md).");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/consensus");
    let _ = std::fs::create_dir_all(&root);
    std::fs::write(root.join("scaling.md"), md).expect("write scaling.md");
    std::fs::write(root.join("scaling.svg"), svg(&rows, share_bytes)).expect("write scaling.svg");
    eprintln!("wrote {}", root.display());
}

/// A log-log plot of messages per block against n.
fn svg(rows: &[Row], share_bytes: f64) -> String {
    let (w, h, m) = (720.0, 440.0, 70.0);
    let ns: Vec<usize> = {
        let mut v: Vec<usize> = rows.iter().map(|r| r.n).collect();
        v.dedup();
        v
    };
    let xmin = (ns[0] as f64).ln();
    let xmax = (*ns.last().unwrap_or(&4) as f64).ln().max(xmin + 1.0);
    let ymin = 1.0f64.ln();
    let ymax = (pbft(*ns.last().unwrap_or(&4), 60.0, share_bytes).0 * 2.0).ln();
    let x = |n: f64| m + (n.ln() - xmin) / (xmax - xmin) * (w - 2.0 * m);
    let y = |v: f64| h - m - (v.max(1.0).ln() - ymin) / (ymax - ymin) * (h - 2.0 * m);
    let mut s = format!("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"12\">\n");
    s += &format!("<rect width=\"{w}\" height=\"{h}\" fill=\"white\"/>\n");
    s += &format!("<text x=\"{}\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">Messages per committed block (log-log)</text>\n", w / 2.0);
    s += &format!("<line x1=\"{m}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"black\"/>\n", h - m, w - m, h - m);
    s += &format!("<line x1=\"{m}\" y1=\"{m}\" x2=\"{m}\" y2=\"{}\" stroke=\"black\"/>\n", h - m);
    for n in &ns {
        let xx = x(*n as f64);
        s += &format!("<text x=\"{xx}\" y=\"{}\" text-anchor=\"middle\">{n}</text>\n", h - m + 18.0);
    }
    s += &format!("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">n (replicas)</text>\n", w / 2.0, h - 20.0);
    let mut v = 1.0;
    while v < ymax.exp() {
        s += &format!("<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{v}</text>\n", m - 6.0, y(v) + 4.0);
        s += &format!("<line x1=\"{m}\" y1=\"{0}\" x2=\"{1}\" y2=\"{0}\" stroke=\"#eee\"/>\n", y(v), w - m);
        v *= 10.0;
    }
    type Series<'a> = Vec<(&'a str, &'a str, Vec<(f64, f64)>)>;
    let series: Series<'_> = vec![
        ("SBFT fast, ordering", "#1f77b4", rows.iter().filter(|r| r.mode == "fast").map(|r| (r.n as f64, r.ordering_msgs)).collect()),
        ("SBFT fast, total", "#17becf", rows.iter().filter(|r| r.mode == "fast").map(|r| (r.n as f64, r.total_msgs)).collect()),
        ("SBFT slow, total", "#ff7f0e", rows.iter().filter(|r| r.mode == "slow").map(|r| (r.n as f64, r.total_msgs)).collect()),
        ("SBFT with view change, total", "#2ca02c", rows.iter().filter(|r| r.mode == "view change").map(|r| (r.n as f64, r.total_msgs)).collect()),
        ("4n target", "#999999", ns.iter().map(|n| (*n as f64, 4.0 * *n as f64)).collect()),
        ("PBFT all-to-all", "#d62728", ns.iter().map(|n| (*n as f64, pbft(*n, 60.0, share_bytes).0)).collect()),
    ];
    for (i, (name, color, pts)) in series.iter().enumerate() {
        let path: Vec<String> = pts.iter().map(|(n, v)| format!("{:.1},{:.1}", x(*n), y(*v))).collect();
        let dash = if name.starts_with("4n") { " stroke-dasharray=\"5,4\"" } else { "" };
        s += &format!("<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\"{dash} points=\"{}\"/>\n", path.join(" "));
        for (n, v) in pts {
            s += &format!("<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{color}\"/>\n", x(*n), y(*v));
        }
        let ly = m + 16.0 * i as f64;
        s += &format!("<line x1=\"{}\" y1=\"{ly}\" x2=\"{}\" y2=\"{ly}\" stroke=\"{color}\" stroke-width=\"2\"{dash}/>\n", m + 12.0, m + 36.0);
        s += &format!("<text x=\"{}\" y=\"{}\">{name}</text>\n", m + 42.0, ly + 4.0);
    }
    s += "</svg>\n";
    s
}
