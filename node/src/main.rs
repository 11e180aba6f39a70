//! The `stele` command: one binary for every role (see `stele --help`).
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

mod admission;
mod bench;
mod cli;
mod dev;
mod replica;
mod rpc_client;
mod statesync;

fn main() -> std::process::ExitCode {
    cli::run()
}
