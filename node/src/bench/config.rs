//! The checked configuration of one `stele bench` run: what the CLI parsed, turned into the
//! types the run uses (parse, don't validate). `cli/bench.rs` builds it.

use crate::bench::transport::Target;
use std::{path::PathBuf, sync::Arc, time::Duration};

/// What each measured transaction does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Workload {
    /// Native ETH transfers of 1 wei (21,000 gas).
    Transfer,
    /// ERC-20 `transfer` of 1 token unit (LoadToken, one Transfer event).
    Erc20,
    /// Caliper "simple open": each call writes a new storage slot.
    OpenAccount,
}

impl Workload {
    /// Gas limit of one measured transaction: the workload's cost with headroom, because a
    /// first write to a fresh slot costs 20,000 more than a rewrite.
    pub(crate) fn gas_limit(self) -> u64 {
        match self {
            Self::Transfer => 21_000,
            // What a dApp's gas estimate gives, with headroom: an ERC-20 transfer costs ~34,200
            // gas, or ~51,400 to a holder with no balance yet (a slot written from zero), and
            // an `open` ~44,000. A proposer reserves each transaction's gas limit in the 30M
            // block, so the 100,000 used before kept blocks at 300 transfers, a third full.
            Self::Erc20 | Self::OpenAccount => 60_000,
        }
    }
}

/// How the offered load is shaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Load {
    /// Send at a fixed rate whatever the node does (open loop): shows latency under load.
    Open { rate_per_s: u32 },
    /// Keep this many transactions sent but not yet included (closed loop): finds the
    /// maximum throughput.
    Closed { concurrency: usize },
}

/// Everything one run needs.
#[derive(Debug)]
pub(crate) struct BenchConfig {
    /// Where to send; senders are spread over them round-robin.
    pub(crate) targets: Vec<Arc<Target>>,
    pub(crate) workload: Workload,
    pub(crate) load: Load,
    /// Number of sending accounts.
    pub(crate) accounts: usize,
    /// Transactions signed before the run; the run ends early when they are all sent.
    pub(crate) txs: usize,
    /// Sent but not measured, to let connections, caches and the pool settle.
    pub(crate) warmup: Duration,
    /// The measured window after the warmup.
    pub(crate) duration: Duration,
    /// How long to wait for in-flight transactions after the last send.
    pub(crate) drain: Duration,
    /// Keep-alive connections per target for the measured sends.
    pub(crate) connections_per_target: usize,
    /// Derives the sender keys and receiver addresses.
    pub(crate) seed: u64,
    /// Node processes to sample CPU and RSS of.
    pub(crate) pids: Vec<u32>,
    /// `stele`, `anvil`, …: names the run in the report.
    pub(crate) label: String,
    pub(crate) out: Option<PathBuf>,
    pub(crate) plot: Option<PathBuf>,
}
