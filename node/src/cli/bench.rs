//! `stele bench`: parses the load generator's command line into a checked `BenchConfig`,
//! runs it (node/src/bench) and prints the summary. See docs/BENCHMARKS.md, "Cluster load".

use crate::bench::{
    config::{BenchConfig, Load, Workload},
    transport::Target,
};
use anyhow::Context;
use std::{path::PathBuf, sync::Arc, time::Duration};

/// Pre-signed transactions per second of run in a closed loop when `--txs` is not given:
/// above what one node sustains here, and the report says `exhausted` if it was not enough.
const CLOSED_LOOP_TXS_PER_S: u64 = 5_000;
/// Keep-alive connections per target in an open loop when `--connections` is not given.
const OPEN_LOOP_CONNECTIONS: usize = 64;
/// At most this many connections per target: beyond it, the node spends more on sockets than
/// the generator gains.
const CONNECTIONS_MAX: usize = 512;

/// Arguments of `stele bench`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("load").required(true).args(["rate", "concurrency"])))]
pub(crate) struct BenchArgs {
    /// JSON-RPC endpoint (https://… or, for anvil, http://…); repeat for a cluster.
    #[arg(long = "target", required_unless_present = "generator_check")]
    targets: Vec<String>,
    /// CA certificate (PEM) that https targets must chain to; nothing else is trusted.
    #[arg(long)]
    ca: Option<PathBuf>,
    /// What each transaction does.
    #[arg(long, value_enum, default_value_t = Workload::Erc20)]
    workload: Workload,
    /// Open loop: offered transactions per second.
    #[arg(long)]
    rate: Option<u32>,
    /// Closed loop: transactions kept in flight (sent, not yet included).
    #[arg(long)]
    concurrency: Option<usize>,
    /// Measured time after the warmup (e.g. 30s, 2m, 500ms).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    duration: Duration,
    /// Unmeasured time before the measured window.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    warmup: Duration,
    /// How long to wait for in-flight transactions after the last send.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    drain: Duration,
    /// Sending accounts (funded from the dev accounts during setup).
    #[arg(long, default_value_t = 1_000)]
    accounts: usize,
    /// Transactions to pre-sign [default: rate x (warmup + duration), or 5,000/s in a closed loop].
    #[arg(long)]
    txs: Option<usize>,
    /// Keep-alive connections per target [default: concurrency / targets, or 64 in an open loop].
    #[arg(long)]
    connections: Option<usize>,
    /// Seed of the sender keys and receiver addresses.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Node process to sample CPU and RSS of (repeatable).
    #[arg(long = "pid")]
    pids: Vec<u32>,
    /// File with node process ids, one per line (e.g. written by a cluster launcher).
    #[arg(long)]
    pids_from_file: Option<PathBuf>,
    /// Names the run in the report (stele, anvil, …).
    #[arg(long, default_value = "stele")]
    label: String,
    /// Write the report as JSON here.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Write an SVG of throughput and latency over time here.
    #[arg(long)]
    plot: Option<PathBuf>,
    /// Measure the generator itself against a trivial in-process endpoint (no node, no
    /// setup; a transaction is done when answered) and print the request rate it reaches.
    #[arg(long)]
    generator_check: bool,
}

/// Parses `500ms`, `30s`, `2m` or a bare number of seconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number.parse().map_err(|_| format!("{text:?}: expected a number and ms, s or m"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "" | "s" => value,
        "m" => value * 60.0,
        _ => return Err(format!("{text:?}: unit must be ms, s or m")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("{text:?}: {e}"))
}

impl BenchArgs {
    fn into_config(self) -> anyhow::Result<BenchConfig> {
        anyhow::ensure!(self.accounts >= 1, "--accounts must be at least 1");
        let load = match (self.rate, self.concurrency) {
            (Some(rate_per_s), None) if rate_per_s > 0 => Load::Open { rate_per_s },
            (None, Some(concurrency)) if concurrency > 0 => Load::Closed { concurrency },
            _ => anyhow::bail!("give exactly one of --rate or --concurrency, above zero"),
        };
        let targets = self
            .targets
            .iter()
            .map(|url| Target::parse(url, self.ca.as_deref()).map(Arc::new))
            .collect::<Result<Vec<_>, _>>()?;
        let run_s = (self.warmup + self.duration).as_secs_f64();
        let txs = self.txs.unwrap_or(match load {
            Load::Open { rate_per_s } => (f64::from(rate_per_s) * run_s).ceil() as usize,
            Load::Closed { .. } => (CLOSED_LOOP_TXS_PER_S as f64 * run_s).ceil() as usize,
        });
        anyhow::ensure!(txs >= 1, "nothing to send: --txs or the duration is zero");
        let connections = self
            .connections
            .unwrap_or(match load {
                Load::Open { .. } => OPEN_LOOP_CONNECTIONS,
                Load::Closed { concurrency } => concurrency.div_ceil(targets.len().max(1)),
            })
            .clamp(1, CONNECTIONS_MAX);
        let mut pids = self.pids;
        if let Some(path) = &self.pids_from_file {
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
            for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
                pids.push(line.parse().with_context(|| format!("{}: {line:?} is not a pid", path.display()))?);
            }
        }
        Ok(BenchConfig {
            targets,
            workload: self.workload,
            load,
            accounts: self.accounts,
            txs,
            warmup: self.warmup,
            duration: self.duration,
            drain: self.drain,
            connections_per_target: connections,
            seed: self.seed,
            pids,
            label: self.label,
            out: self.out,
            plot: self.plot,
        })
    }
}

pub(crate) fn run(args: BenchArgs) -> anyhow::Result<()> {
    let generator_check = args.generator_check;
    let config = args.into_config()?;
    let runtime = tokio::runtime::Runtime::new()?;
    if generator_check {
        let report = runtime.block_on(crate::bench::check_generator(config))?;
        println!(
            "generator check: {:.0} eth_sendRawTransaction answered per second over {:.1}s ({} sent, errors {:?})",
            report.tx_per_s, report.window_s, report.sent, report.errors
        );
        return Ok(());
    }
    let report = runtime.block_on(crate::bench::run(config))?;
    println!(
        "{} {}: {:.0} tx/s sustained (offered {:.0}/s) over {:.1}s; finality p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms ({} samples)",
        report.label,
        report.mode,
        report.tx_per_s,
        report.offered_tx_per_s,
        report.window_s,
        report.latency.p50_ms,
        report.latency.p95_ms,
        report.latency.p99_ms,
        report.latency.samples
    );
    println!("sent {}, included {}, succeeded {}", report.sent, report.included, report.succeeded);
    for (kind, count) in &report.errors {
        println!("error {kind}: {count}");
    }
    for p in &report.processes {
        let role = serde_json::to_value(p.role).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        println!("{role} pid {}: CPU {:.0}% of one core (mean), RSS {:.0} MiB (max)", p.pid, p.cpu_percent_mean, p.rss_mib_max);
    }
    if let Some(v) = &report.verify {
        println!(
            "erc20 check at block {}: supply {} = holders {}; receivers {} (expected {}, {} of them landed after the drain): {}",
            v.block,
            v.total_supply,
            v.holders_sum,
            v.receivers_sum,
            v.expected_receivers_sum,
            v.landed_after_drain,
            if v.ok { "ok" } else { "MISMATCH" }
        );
        anyhow::ensure!(v.ok, "the token balances do not add up");
    }
    if report.exhausted {
        println!("note: all {} pre-signed transactions were sent before the duration ended; raise --txs for a longer window", report.presigned);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("7").unwrap(), Duration::from_secs(7));
        assert!(parse_duration("5h").is_err());
        assert!(parse_duration("s").is_err());
    }
}
