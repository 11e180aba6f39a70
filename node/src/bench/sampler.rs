//! Samples CPU and resident memory of the node processes (`--pid`) once a second from
//! /proc, so a figure says what it cost. CPU is user + system time over wall time, in percent
//! of one core (200% = both cores of a 2-core machine).

use crate::bench::tracker::Tracker;
use std::{sync::Arc, time::Duration};
use tokio::sync::Mutex;

/// Time between samples.
pub(crate) const SAMPLE_INTERVAL: Duration = Duration::from_secs(1);

/// One sample of one process.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub(crate) struct Sample {
    /// Seconds since the run started (tracker clock).
    pub(crate) t_s: f64,
    /// CPU over the last interval, percent of one core.
    pub(crate) cpu_percent: f64,
    pub(crate) rss_mib: f64,
}

/// The samples of one process.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct ProcessSeries {
    pub(crate) pid: u32,
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

/// Samples `pids` into `out` every `SAMPLE_INTERVAL` until aborted.
pub(crate) async fn run(pids: Vec<u32>, tracker: Arc<Tracker>, out: Arc<Mutex<Vec<ProcessSeries>>>) {
    if pids.is_empty() {
        return;
    }
    let ticks_per_s = clock_ticks_per_s();
    out.lock().await.extend(pids.iter().map(|&pid| ProcessSeries { pid, samples: Vec::new() }));
    let mut last: Vec<(Option<u64>, u64)> = pids.iter().map(|&pid| (cpu_ticks(pid), tracker.now_us())).collect();
    let mut interval = tokio::time::interval(SAMPLE_INTERVAL);
    interval.tick().await;
    loop {
        interval.tick().await;
        let mut series = out.lock().await;
        for (i, &pid) in pids.iter().enumerate() {
            let now_us = tracker.now_us();
            let ticks = cpu_ticks(pid);
            let (Some(before), Some(after), Some(rss)) = (last[i].0, ticks, rss_mib(pid)) else { continue };
            let wall_s = (now_us - last[i].1) as f64 / 1e6;
            let cpu_percent = (after.saturating_sub(before)) as f64 / ticks_per_s / wall_s * 100.0;
            last[i] = (ticks, now_us);
            series[i].samples.push(Sample { t_s: now_us as f64 / 1e6, cpu_percent, rss_mib: rss });
        }
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
