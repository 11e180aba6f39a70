//! Errors of the load generator, in the style of the rest of stele: one variant per failure,
//! each carrying the target or method it happened on. A failed *measured* transaction is not
//! an error of this type: it is counted by kind in the report (see `tracker.rs`).

use std::path::PathBuf;

/// Why a connection, a request or a setup step failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum BenchError {
    /// The `--target` URL cannot be used.
    #[error("target {url}: {reason}")]
    BadTarget { url: String, reason: String },
    /// The `--ca` file could not be read or holds no certificate.
    #[error("CA file {path}: {reason}")]
    BadCa { path: PathBuf, reason: String },
    /// TCP connect or TLS handshake failed.
    #[error("connect to {target}: {source}")]
    Connect { target: String, source: std::io::Error },
    /// The HTTP/1.1 handshake or an exchange on an open connection failed.
    #[error("HTTP to {target}: {source}")]
    Http { target: String, source: hyper::Error },
    /// The server answered with a non-2xx status and no JSON-RPC body.
    #[error("HTTP {status} from {target}")]
    HttpStatus { target: String, status: http::StatusCode },
    /// The WebSocket handshake or stream failed.
    #[error("WebSocket to {target}: {source}")]
    WebSocket { target: String, source: Box<tokio_tungstenite::tungstenite::Error> },
    /// A JSON-RPC error response.
    #[error("{method} on {target}: JSON-RPC error {code}: {message}")]
    Rpc { target: String, method: &'static str, code: i64, message: String },
    /// A body that is not the JSON we expect.
    #[error("{method} on {target}: cannot decode the answer: {source}")]
    Decode { target: String, method: &'static str, source: serde_json::Error },
    /// A setup transaction was mined but reverted, or never mined.
    #[error("setup: {what}")]
    Setup { what: String },
    /// Writing the JSON report or the SVG plot failed.
    #[error("write {path}: {reason}")]
    Output { path: PathBuf, reason: String },
}

impl BenchError {
    /// A short, stable label for the report's `errors` map: the kind, not the details, so
    /// that thousands of failures of one kind stay one line.
    pub(crate) fn kind(&self) -> String {
        match self {
            Self::BadTarget { .. } | Self::BadCa { .. } => "config".into(),
            Self::Connect { .. } => "connect".into(),
            Self::Http { .. } => "http".into(),
            Self::HttpStatus { status, .. } => format!("http {}", status.as_u16()),
            Self::WebSocket { .. } => "websocket".into(),
            Self::Rpc { code, message, .. } => {
                // Messages often embed a nonce or a hash; the first words name the reason.
                let short: String = message.chars().take(48).collect();
                format!("rpc {code}: {short}")
            }
            Self::Decode { .. } => "decode".into(),
            Self::Setup { .. } => "setup".into(),
            Self::Output { .. } => "output".into(),
        }
    }
}
