//! Turns what the tracker and the sampler saw into the run's figures: the measured window,
//! sustained throughput, latency percentiles, errors by kind, per-second series and process
//! costs, serialized as the `--out` JSON.

use crate::bench::{
    config::{BenchConfig, Load, Workload},
    driver::Window,
    sampler::ProcessSeries,
    tracker::{Included, Outcome},
    verify::Verification,
};
use std::collections::BTreeMap;

/// Latency percentiles over the measured transactions, in milliseconds.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Latency {
    pub(crate) samples: usize,
    pub(crate) p50_ms: f64,
    pub(crate) p95_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) mean_ms: f64,
    pub(crate) max_ms: f64,
}

/// One second of the run.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Second {
    /// Seconds since the first send (the warmup is included).
    pub(crate) t_s: u64,
    pub(crate) included: u64,
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
}

/// CPU and memory of one node process over the measured window.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct ProcessSummary {
    pub(crate) pid: u32,
    pub(crate) role: crate::bench::sampler::Role,
    pub(crate) cpu_percent_mean: f64,
    pub(crate) rss_mib_max: f64,
    pub(crate) series: ProcessSeries,
}

/// The `--out` document.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Report {
    pub(crate) label: String,
    pub(crate) workload: Workload,
    /// `open` or `closed`.
    pub(crate) mode: &'static str,
    /// Open loop: the offered rate.
    pub(crate) rate_per_s: Option<u32>,
    /// Closed loop: transactions kept in flight.
    pub(crate) concurrency: Option<usize>,
    pub(crate) targets: Vec<String>,
    pub(crate) accounts: usize,
    pub(crate) connections_per_target: usize,
    pub(crate) presigned: usize,
    pub(crate) warmup_s: f64,
    pub(crate) duration_s: f64,
    /// Length of the measured window: the duration, or less when the pre-signed
    /// transactions ran out (`exhausted`).
    pub(crate) window_s: f64,
    pub(crate) exhausted: bool,
    /// Every send, warmup and drain included.
    pub(crate) sent: u64,
    pub(crate) included: usize,
    pub(crate) succeeded: usize,
    /// Sends inside the measured window per second.
    pub(crate) offered_tx_per_s: f64,
    /// Successful inclusions inside the measured window per second.
    pub(crate) tx_per_s: f64,
    /// From send to the block announcement on the target it was sent to, for transactions
    /// sent inside the measured window.
    pub(crate) latency: Latency,
    pub(crate) errors: BTreeMap<String, u64>,
    pub(crate) processes: Vec<ProcessSummary>,
    pub(crate) series: Vec<Second>,
    /// The ERC-20 balance check (erc20 workload only).
    pub(crate) verify: Option<Verification>,
    pub(crate) started_unix_s: u64,
}

/// The `q`-quantile of sorted microseconds, in milliseconds (nearest rank).
pub(crate) fn percentile_ms(sorted_us: &[u64], q: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let rank = ((q * sorted_us.len() as f64).ceil() as usize).clamp(1, sorted_us.len());
    sorted_us[rank - 1] as f64 / 1000.0
}

fn latency(mut us: Vec<u64>) -> Latency {
    us.sort_unstable();
    let mean_ms = if us.is_empty() { 0.0 } else { us.iter().sum::<u64>() as f64 / us.len() as f64 / 1000.0 };
    Latency {
        samples: us.len(),
        p50_ms: percentile_ms(&us, 0.50),
        p95_ms: percentile_ms(&us, 0.95),
        p99_ms: percentile_ms(&us, 0.99),
        mean_ms,
        max_ms: us.last().map_or(0.0, |m| *m as f64 / 1000.0),
    }
}

fn per_second(included: &[Included], start_us: u64) -> Vec<Second> {
    let mut buckets: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    for i in included {
        buckets.entry(i.included_us.saturating_sub(start_us) / 1_000_000).or_default().push(i.included_us - i.sent_us);
    }
    let last = buckets.keys().next_back().copied().unwrap_or(0);
    (0..=last)
        .map(|t_s| {
            let mut us = buckets.remove(&t_s).unwrap_or_default();
            us.sort_unstable();
            Second { t_s, included: us.len() as u64, p50_ms: percentile_ms(&us, 0.5), p99_ms: percentile_ms(&us, 0.99) }
        })
        .collect()
}

/// Builds the report.
pub(crate) fn build(
    config: &BenchConfig,
    window: Window,
    outcome: Outcome,
    processes: Vec<ProcessSeries>,
    verify: Option<Verification>,
    started_unix_s: u64,
) -> Report {
    let from = window.measured_from_us;
    // When the transactions ran out early, the window closes at the last inclusion: the
    // node was busy until then.
    let to = if window.exhausted {
        outcome.included.iter().map(|i| i.included_us).max().unwrap_or(window.sends_end_us).max(from)
    } else {
        window.sends_end_us
    };
    let window_s = (to.saturating_sub(from)) as f64 / 1e6;
    let in_window = |t: u64| t >= from && t <= to;
    let succeeded_in_window = outcome.included.iter().filter(|i| i.succeeded && in_window(i.included_us)).count();
    let sent_in_window = outcome.included.iter().filter(|i| i.sent_us >= from && i.sent_us <= window.sends_end_us);
    let latencies: Vec<u64> = sent_in_window.map(|i| i.included_us - i.sent_us).collect();
    let offered = match config.load {
        Load::Open { rate_per_s } => f64::from(rate_per_s),
        Load::Closed { .. } => {
            let sends_s = window.sends_end_us.saturating_sub(from) as f64 / 1e6;
            if sends_s > 0.0 { latencies.len() as f64 / sends_s } else { 0.0 }
        }
    };
    let processes = processes
        .into_iter()
        .map(|series| {
            // A sample covers (t - interval, t]: keep those that overlap the window.
            let overlaps = |s: &&crate::bench::sampler::Sample| {
                let end_us = (s.t_s * 1e6) as u64;
                end_us >= from && end_us.saturating_sub((s.interval_s * 1e6) as u64) <= to
            };
            let measured: Vec<_> = series.samples.iter().filter(overlaps).collect();
            let cpu_percent_mean = if measured.is_empty() { 0.0 } else { measured.iter().map(|s| s.cpu_percent).sum::<f64>() / measured.len() as f64 };
            let rss_mib_max = series.samples.iter().map(|s| s.rss_mib).fold(0.0, f64::max);
            ProcessSummary { pid: series.pid, role: series.role, cpu_percent_mean, rss_mib_max, series }
        })
        .collect();
    Report {
        label: config.label.clone(),
        workload: config.workload,
        mode: match config.load {
            Load::Open { .. } => "open",
            Load::Closed { .. } => "closed",
        },
        rate_per_s: match config.load {
            Load::Open { rate_per_s } => Some(rate_per_s),
            Load::Closed { .. } => None,
        },
        concurrency: match config.load {
            Load::Open { .. } => None,
            Load::Closed { concurrency } => Some(concurrency),
        },
        targets: config.targets.iter().map(|t| t.url.clone()).collect(),
        accounts: config.accounts,
        connections_per_target: config.connections_per_target,
        presigned: config.txs,
        warmup_s: config.warmup.as_secs_f64(),
        duration_s: config.duration.as_secs_f64(),
        window_s,
        exhausted: window.exhausted,
        sent: outcome.sent,
        included: outcome.included.len(),
        succeeded: outcome.included.iter().filter(|i| i.succeeded).count(),
        offered_tx_per_s: offered,
        tx_per_s: if window_s > 0.0 { succeeded_in_window as f64 / window_s } else { 0.0 },
        latency: latency(latencies),
        errors: outcome.errors,
        processes,
        series: per_second(&outcome.included, window.start_us),
        verify,
        started_unix_s,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn nearest_rank_percentiles() {
        let us: Vec<u64> = (1..=100).map(|i| i * 1000).collect();
        assert_eq!(super::percentile_ms(&us, 0.5), 50.0);
        assert_eq!(super::percentile_ms(&us, 0.99), 99.0);
        assert_eq!(super::percentile_ms(&us, 1.0), 100.0);
        assert_eq!(super::percentile_ms(&[], 0.5), 0.0);
    }
}
