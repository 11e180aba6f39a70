//! `stele run --config FILE`: runs one replica of a cluster (what `stele init` configured,
//! what the appliance's `stele.service` starts). `STELE_*` variables override the data
//! directory, listen addresses and RPC certificate (docs/operator/appliance.md).

use crate::replica::{self, config::{EnvOverrides, ReplicaConfig}, RunOptions};
use std::path::PathBuf;

/// Arguments of `stele run`.
#[derive(Debug, clap::Args)]
pub(crate) struct RunArgs {
    /// The replica's config.toml.
    #[arg(long, env = "STELE_CONFIG")]
    config: PathBuf,
    /// Test builds only: misbehave as a Byzantine replica (equivocate, bad-shares,
    /// wrong-digest, mute).
    #[cfg(feature = "byzantine")]
    #[arg(long)]
    byzantine: Option<String>,
}

pub(crate) fn run(args: RunArgs) -> anyhow::Result<()> {
    let env = EnvOverrides::from_env().map_err(anyhow::Error::msg)?;
    let config = ReplicaConfig::load(&args.config, &env)?;
    #[allow(unused_mut)]
    let mut options = RunOptions::default();
    #[cfg(feature = "byzantine")]
    {
        use stele_consensus::sim::byzantine::Strategy;
        options.byzantine = match args.byzantine.as_deref() {
            None => None,
            Some("equivocate") => Some(Strategy::EquivocatingPrimary),
            Some("bad-shares") => Some(Strategy::BadShares),
            Some("wrong-digest") => Some(Strategy::WrongExecution),
            Some("mute") => Some(Strategy::Mute),
            Some(other) => anyhow::bail!("--byzantine {other}: one of equivocate, bad-shares, wrong-digest, mute"),
        };
        if let Some(s) = options.byzantine {
            tracing::warn!(strategy = ?s, "this replica runs BYZANTINE behaviour (test build)");
        }
    }
    replica::run(config, options)
}
