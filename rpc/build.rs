//! Records the target triple the crate is compiled for, so `web3_clientVersion` can name
//! it (`stele/v0.1.0/x86_64-unknown-linux-gnu`) without guessing from `std::env::consts`.

fn main() {
    // Cargo always sets TARGET for build scripts; "unknown" keeps a strange toolchain building.
    let target = std::env::var("TARGET").unwrap_or_else(|_| "unknown".to_string());
    println!("cargo:rustc-env=STELE_RPC_TARGET={target}");
    println!("cargo:rerun-if-changed=build.rs");
}
