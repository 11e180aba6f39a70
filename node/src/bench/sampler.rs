//! Samples CPU and resident memory of the node processes (`--pid`) once a second, and once
//! more when the run ends, from /proc, so a figure says what it cost. CPU is user + system time
//! over wall time, in percent of one core (200% = both cores of a 2-core machine).

use crate::bench::tracker::Tracker;
use std::{sync::Arc, time::Duration};
use tokio::sync::Mutex;

/// Time between samples.
pub(crate) const SAMPLE_INTERVAL: Duration = Duration::from_secs(1);

/// One sample of one process.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub(crate) struct Sample {
    /// End of the sampled interval, seconds since the run started (tracker clock).
    pub(crate) t_s: f64,
    /// Length of the sampled interval.
    pub(crate) interval_s: f64,
    /// CPU over the last interval, percent of one core.
    pub(crate) cpu_percent: f64,
    pub(crate) rss_mib: f64,
}

/// Whose process it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Role {
    /// A `--pid`: a replica or anvil.
    Node,
    /// `stele bench` itself: it shares the cores with the node, so its cost matters too.
    Generator,
}

/// The samples of one process.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct ProcessSeries {
    pub(crate) pid: u32,
    pub(crate) role: Role,
    pub(crate) samples: Vec<Sample>,
}

/// Clock ticks per second of /proc/<pid>/stat times, from `getconf` (no libc call: the
/// workspace forbids unsafe code); 100 on every Linux we run on.
fn clock_ticks_per_s() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|t| *t > 0.0)
        .unwrap_or(100.0)
}

/// utime + stime of `pid`, in ticks. The command name (field 2) may hold spaces, so fields
/// are counted after its closing parenthesis.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state is field 3, utime field 14 and stime field 15 (proc(5)).
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// Resident set size of `pid` in MiB (VmRSS).
fn rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// The sampling state of every process: the last reading, and the series so far.
#[derive(Debug)]
pub(crate) struct Sampler {
    ticks_per_s: f64,
    last: Vec<(Option<u64>, u64)>,
    series: Vec<ProcessSeries>,
}

impl Sampler {
    /// Takes the first reading of each of `pids` (nodes) and of this process now.
    pub(crate) fn new(pids: &[u32], now_us: u64) -> Self {
        let processes: Vec<(u32, Role)> = pids
            .iter()
            .map(|&pid| (pid, Role::Node))
            .chain(std::iter::once((std::process::id(), Role::Generator)))
            .collect();
        Self {
            ticks_per_s: clock_ticks_per_s(),
            last: processes.iter().map(|&(pid, _)| (cpu_ticks(pid), now_us)).collect(),
            series: processes.iter().map(|&(pid, role)| ProcessSeries { pid, role, samples: Vec::new() }).collect(),
        }
    }

    /// Records one sample per process covering the time since the previous one; a process
    /// that is gone (or not readable) is skipped.
    pub(crate) fn sample(&mut self, now_us: u64) {
        for (last, series) in self.last.iter_mut().zip(&mut self.series) {
            let ticks = cpu_ticks(series.pid);
            let (Some(before), Some(after), Some(rss)) = (last.0, ticks, rss_mib(series.pid)) else { continue };
            let interval_s = now_us.saturating_sub(last.1) as f64 / 1e6;
            if interval_s <= 0.0 {
                continue;
            }
            let cpu_percent = after.saturating_sub(before) as f64 / self.ticks_per_s / interval_s * 100.0;
            *last = (ticks, now_us);
            series.samples.push(Sample { t_s: now_us as f64 / 1e6, interval_s, cpu_percent, rss_mib: rss });
        }
    }

    /// The series so far.
    pub(crate) fn series(&self) -> Vec<ProcessSeries> {
        self.series.clone()
    }
}

/// Samples every `SAMPLE_INTERVAL` until aborted.
pub(crate) async fn run(sampler: Arc<Mutex<Sampler>>, tracker: Arc<Tracker>) {
    let mut interval = tokio::time::interval(SAMPLE_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    interval.tick().await;
    loop {
        interval.tick().await;
        sampler.lock().await.sample(tracker.now_us());
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_our_own_process() {
        let pid = std::process::id();
        assert!(super::cpu_ticks(pid).is_some());
        assert!(super::rss_mib(pid).unwrap() > 0.0);
    }
}
