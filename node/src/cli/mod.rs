//! Command-line parsing and dispatch; one file per subcommand.

mod bench;
mod bench_exec;
pub(crate) mod import;
pub(crate) mod init;
mod run;
mod status;
pub(crate) mod verify_block;
mod serve;
pub(crate) mod serve_modules;
mod up;
mod up_cluster;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// stele: a permissioned Ethereum-compatible node with SBFT consensus.
#[derive(Debug, Parser)]
#[command(name = "stele", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Execute and verify every block of a chain file (concatenated RLP blocks).
    Import(import::ImportArgs),
    /// Serve JSON-RPC over TLS for an existing datadir, without producing blocks.
    Serve(serve::ServeArgs),
    /// Benchmark execution: blocks of transfers through the block builder.
    BenchExec(bench_exec::BenchExecArgs),
    /// Load a running chain (replicas or anvil) with transactions; measure finality and throughput.
    Bench(bench::BenchArgs),
    /// Run a dev chain with embedded defaults: TLS, dev accounts, instant blocks.
    Up(up::UpArgs),
    /// Write keys, certificates and one config per replica for a new cluster.
    Init(init::InitArgs),
    /// Run one replica of a cluster.
    Run(run::RunArgs),
    /// Show view, primary, head, finality lag and peers of a cluster's replicas.
    Status(status::StatusArgs),
    /// Check a block's finality certificate against the cluster's public keys.
    VerifyBlock(verify_block::VerifyBlockArgs),
}

/// Parses the command line, runs the subcommand and maps its result to an exit code.
pub(crate) fn run() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,libmdbx=warn")),
        )
        .with_writer(std::io::stderr)
        // Colour only on a terminal: under systemd stderr goes to the journal, where escape
        // codes show up as `[2m…[0m` noise (seen in the appliance's `journalctl -u stele`).
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()) && std::env::var_os("NO_COLOR").is_none())
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Import(args) => import::run(args),
        Command::Up(args) => up::run(args),
        Command::BenchExec(args) => bench_exec::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Init(args) => init::run(args),
        Command::Run(args) => run::run(args),
        Command::Status(args) => status::run(args),
        Command::VerifyBlock(args) => verify_block::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
