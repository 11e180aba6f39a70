//! The `stele` command: one binary for every role (see `stele --help`).
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

mod admission;
mod bench;
mod cli;
mod dev;
mod replica;
mod rpc_client;
mod statesync;

/// mimalloc instead of glibc malloc: the RPC path allocates per request (jsonrpsee, hyper,
/// MDBX read transactions) and consensus per message; glibc's arena locking and
/// `malloc_consolidate` showed up at ~10 % in perf (docs/BENCHMARKS.md, RPC reads).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cli::run()
}
