//! `stele import`: executes and verifies a chain file into a datadir, resuming from the
//! head when run again.

use anyhow::Context;
use std::{path::PathBuf, sync::Arc};
use stele_evm::{import::import_chain, ChainDb, ChainSpec};

/// Arguments of `stele import`.
#[derive(Debug, clap::Args)]
pub(crate) struct ImportArgs {
    /// The node's data directory (created if missing).
    #[arg(long)]
    datadir: PathBuf,
    /// The geth-format genesis.json of the chain.
    #[arg(long)]
    genesis: PathBuf,
    /// The chain file: blocks as concatenated RLP, as `geth export` writes them.
    #[arg(long)]
    chain: PathBuf,
}

/// Where the chain database lives inside a datadir.
pub(crate) fn chain_db_path(datadir: &std::path::Path) -> PathBuf {
    datadir.join("chain")
}

pub(crate) fn run(args: ImportArgs) -> anyhow::Result<()> {
    let spec = Arc::new(ChainSpec::from_genesis_file(&args.genesis)?);
    let bytes = std::fs::read(&args.chain).with_context(|| format!("cannot read chain file {}", args.chain.display()))?;
    let db = ChainDb::open(&chain_db_path(&args.datadir))
        .with_context(|| format!("cannot open the database in {}", args.datadir.display()))?;
    let summary = import_chain(&db, &spec, &bytes, |p| {
        eprintln!(
            "import: block {}/{} ({} new, {:.1}s)",
            p.block,
            p.last,
            p.imported,
            p.elapsed.as_secs_f64()
        );
    })?;
    println!(
        "imported {} blocks ({} already present), {} transactions, {} gas; head {} {}",
        summary.imported,
        summary.already_present,
        summary.transactions,
        summary.gas,
        summary.head_number,
        summary.head_hash
    );
    Ok(())
}
