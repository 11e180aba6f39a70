//! The `stele` command: one binary for every role (see `stele --help`).
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

mod bench;
mod cli;
mod dev;

fn main() -> std::process::ExitCode {
    cli::run()
}
