//! stele's JSON-RPC server: jsonrpsee served by hyper over tokio-rustls, HTTPS and WSS on
//! one port, HTTP/1.1 and HTTP/2, no plaintext listener.
//!
//! Module map:
//! - [`config`]: the serde config and its checked form (every limit, with defaults).
//! - [`server`]: listener, TLS handshake, hyper, the layer stack, graceful stop.
//! - [`layers`]: TLS identity -> CORS -> auth -> rate limit -> body/time limits -> jsonrpsee
//!   (geth-compatible errors and per-method authorization run inside jsonrpsee).
//! - [`tls`]: PEM loading, rustls config, fingerprints; [`tls::dev_ca`] for `stele up`.
//! - [`modules`]: the method set; [`web3`] and [`net`] are the chain-free namespaces.
//! - [`api`]: the traits the node implements for this crate.
//! - [`error`]: error enums and geth's JSON-RPC error wording.
//!
//! Starting a server:
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use stele_rpc::{RpcConfig, RpcModules, api::StaticNodeInfo, tls::dev_ca};
//!
//! let tls = dev_ca::ensure_dev_tls(std::path::Path::new("/var/lib/stele/tls"))?;
//! let mut config = RpcConfig::new("127.0.0.1:8545".parse()?, tls.server_cert.clone(), tls.server_key.clone());
//! config.limits.batch_requests_max = 500;
//! let node = Arc::new(StaticNodeInfo { chain_id: 1337, peer_count: 0, listening: true });
//! let modules = RpcModules::new(node)?; // then modules.merge(eth_module)?
//! let handle = stele_rpc::start(&config, modules).await?;
//! handle.stop().await;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod api;
pub mod config;
pub mod debug;
pub mod error;
pub mod eth;
pub mod layers;
pub mod modules;
pub mod net;
pub mod server;
pub mod subscription_id;
pub mod tls;
pub mod txpool;
pub mod web3;

pub use config::{LimitsConfig, RpcConfig, ServerSettings};
pub use error::{ConfigError, ModuleError, ServerError, TlsError};
pub use modules::RpcModules;
pub use server::{RpcServer, RpcServerHandle, start};
