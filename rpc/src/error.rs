//! Every error the RPC crate reports: configuration, TLS material, server start-up and
//! module assembly (thiserror enums with the offending value), plus the JSON-RPC error
//! codes and geth's wording that clients match on (jsonrpc.md pitfalls 15 and 16).

use std::{io, net::SocketAddr, path::PathBuf};

use jsonrpsee::types::ErrorObjectOwned;

/// JSON-RPC 2.0: the request body is not valid JSON.
pub const PARSE_ERROR_CODE: i32 = -32700;
/// JSON-RPC 2.0: the JSON is not a valid request object; geth also uses it for a batch
/// over the limit and for an oversized request body.
pub const INVALID_REQUEST_CODE: i32 = -32600;
/// JSON-RPC 2.0: no such method. viem and forge fall back on exactly this code.
pub const METHOD_NOT_FOUND_CODE: i32 = -32601;
/// JSON-RPC 2.0: invalid method parameters.
pub const INVALID_PARAMS_CODE: i32 = -32602;
/// geth: the call ran past the server's time limit.
pub const TIMEOUT_CODE: i32 = -32002;
/// geth: the response exceeded the server's size limit.
pub const RESPONSE_TOO_LARGE_CODE: i32 = -32003;
/// Unauthenticated or unauthorized caller (the code Besu and Nethermind use for auth).
pub const UNAUTHORIZED_CODE: i32 = -32001;
/// Rate limit exceeded (the code Infura and the wallet ecosystem use, EIP-1474).
pub const LIMIT_EXCEEDED_CODE: i32 = -32005;

/// geth's message for an unknown method: `the method X does not exist/is not available`.
pub fn method_not_found(method: &str) -> ErrorObjectOwned {
    ErrorObjectOwned::owned::<()>(
        METHOD_NOT_FOUND_CODE,
        format!("the method {method} does not exist/is not available"),
        None,
    )
}

/// geth's message for a batch over the limit.
pub fn batch_too_large(limit: u32, len: usize) -> ErrorObjectOwned {
    ErrorObjectOwned::owned::<()>(
        INVALID_REQUEST_CODE,
        format!("batch too large: {len} calls, the limit is {limit}"),
        None,
    )
}

/// geth's message for a body over the limit (`content length too large (N>M)`).
pub fn request_too_large(len: Option<u64>, limit: u32) -> ErrorObjectOwned {
    let message = match len {
        Some(len) => format!("content length too large ({len}>{limit})"),
        None => format!("content length too large (>{limit})"),
    };
    ErrorObjectOwned::owned::<()>(INVALID_REQUEST_CODE, message, None)
}

/// geth's message for a response over the limit.
pub fn response_too_large() -> ErrorObjectOwned {
    ErrorObjectOwned::owned::<()>(RESPONSE_TOO_LARGE_CODE, "response too large", None)
}

/// geth's message for a call that ran out of time.
pub fn request_timed_out() -> ErrorObjectOwned {
    ErrorObjectOwned::owned::<()>(TIMEOUT_CODE, "request timed out", None)
}

/// geth's message for bad parameters: `invalid argument N: reason`.
pub fn invalid_argument(index: usize, reason: impl std::fmt::Display) -> ErrorObjectOwned {
    ErrorObjectOwned::owned::<()>(INVALID_PARAMS_CODE, format!("invalid argument {index}: {reason}"), None)
}

/// The configuration does not describe a server that can run.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// A limit was set to zero, which would refuse every request.
    #[error("rpc limit `{name}` must be greater than zero")]
    ZeroLimit {
        /// The config key.
        name: &'static str,
    },
    /// Two limits contradict each other.
    #[error("rpc limits are inconsistent: {reason}")]
    Inconsistent {
        /// What is wrong.
        reason: String,
    },
    /// A CORS origin is not `scheme://host[:port]` or `*`.
    #[error("cors origin {origin:?} is not of the form scheme://host[:port] or \"*\"")]
    BadOrigin {
        /// The origin as configured.
        origin: String,
    },
}

/// Certificates and keys could not be read, parsed, generated or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A PEM file could not be read or written.
    #[error("TLS file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A PEM file did not hold what it should.
    #[error("TLS file {path}: {reason}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What was wrong with it.
        reason: String,
    },
    /// rustls refused the certificate, key or settings.
    #[error("TLS configuration rejected: {0}")]
    Rustls(#[from] rustls::Error),
    /// The client CA bundle could not be turned into a verifier.
    #[error("client CA bundle {path}: {reason}")]
    ClientCa {
        /// The bundle.
        path: PathBuf,
        /// Why it was refused.
        reason: String,
    },
    /// rcgen could not create a key or certificate.
    #[error("dev certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
}

/// The server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The TLS material is unusable.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

/// RPC methods could not be assembled into one module.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModuleError {
    /// Two namespaces registered the same method name.
    #[error("rpc method registration failed: {0}")]
    Register(#[from] jsonrpsee::core::RegisterMethodError),
}
