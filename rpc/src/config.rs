//! The RPC server's configuration: the serde form an operator writes (`RpcConfig`) and the
//! checked form the server runs with (`ServerSettings`), converted with `TryFrom`.
//!
//! Every limit has a named default constant with its unit last and a reason; a zero limit
//! is rejected at parse time rather than discovered under load (STYLE §2 items 7 and 16).

use std::{
    net::SocketAddr,
    num::{NonZeroU32, NonZeroU64},
    path::PathBuf,
    time::Duration,
};

use serde::{Deserialize, Serialize};

use crate::error::ConfigError;

/// Address the server listens on when none is configured: loopback only, the port geth
/// and anvil use, so dApp tooling finds it without configuration.
pub const LISTEN_ADDR_DEFAULT: &str = "127.0.0.1:8545";

/// Calls allowed in one JSON-RPC batch; geth's default (go-ethereum#26681). ethers v6
/// batches up to 100, so 1,000 leaves room without letting one request monopolise a worker.
pub const BATCH_REQUESTS_MAX: u32 = 1_000;
/// Bytes allowed in one HTTP request body or one WebSocket message: geth's 5 MiB, enough
/// for a 128 KiB transaction times a full batch of small calls.
pub const REQUEST_BYTES_MAX: u32 = 5 * 1024 * 1024;
/// Request bytes held in memory at once across all HTTP requests being served: bounds
/// memory when many large bodies arrive together (51 maximum-size bodies, or ~260,000
/// typical 1 KiB calls). A body without `Content-Length` counts as `REQUEST_BYTES_MAX`.
pub const REQUEST_BYTES_IN_FLIGHT_MAX: u64 = 256 * 1024 * 1024;
/// Bytes allowed in one response (a whole batch counts as one): geth's 25 MB batch cap,
/// large enough for `eth_getLogs` over a wide range, small enough to bound memory.
pub const RESPONSE_BYTES_MAX: u32 = 25 * 1000 * 1000;
/// Concurrent TCP connections (HTTPS and WSS together); one more is closed at accept.
pub const CONNECTIONS_MAX: u32 = 1_000;
/// JSON-RPC requests being served at once across all connections (HTTP/2 multiplexes
/// many per connection); over it the caller gets HTTP 429 rather than a queue that grows.
pub const CONCURRENT_REQUESTS_MAX: u32 = 10_000;
/// Live subscriptions on one WebSocket connection (jsonrpsee's default).
pub const WS_SUBSCRIPTIONS_PER_CONNECTION_MAX: u32 = 1_024;
/// WebSocket ping interval: idle connections through NATs and proxies get dropped silently
/// (jsonrpc.md pitfall 13), a ping every 30 s keeps them alive and detects dead peers.
pub const WS_PING_INTERVAL_MS: u64 = 30_000;
/// Wall time one JSON-RPC call may take before it is answered with geth's timeout error.
pub const REQUEST_TIMEOUT_MS: u64 = 30_000;
/// Wall time a client gets to finish the TLS handshake: bounds slow-handshake attacks.
pub const TLS_HANDSHAKE_TIMEOUT_MS: u64 = 10_000;
/// Concurrent HTTP/2 streams on one connection.
pub const HTTP2_STREAMS_PER_CONNECTION_MAX: u32 = 128;

const _: () = assert!(REQUEST_BYTES_MAX <= RESPONSE_BYTES_MAX);
const _: () = assert!(REQUEST_BYTES_MAX as u64 <= REQUEST_BYTES_IN_FLIGHT_MAX);
const _: () = assert!(CONNECTIONS_MAX <= CONCURRENT_REQUESTS_MAX);

/// The RPC server's configuration as written by an operator (TOML/JSON section `rpc`).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RpcConfig {
    /// Socket address to listen on; HTTPS and WSS share it.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Certificate, key and client-certificate trust.
    pub tls: TlsConfig,
    /// Browser origins allowed to call the endpoint.
    #[serde(default)]
    pub cors: CorsConfig,
    /// Every size, count and time bound of the server.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// Per-caller request rate limit; none when absent.
    #[serde(default)]
    pub rate_limit: Option<RateLimitConfig>,
}

/// A token bucket per caller: `burst` requests at once, refilled at `requests_per_second`.
/// A caller is its certificate or token identity, or its IP address when anonymous. One
/// HTTP request (a whole batch) or one WebSocket upgrade costs one token.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Sustained requests per second per caller.
    pub requests_per_second: u32,
    /// Requests a caller may make at once after being idle.
    pub burst: u32,
}

/// Checked rate limit: both numbers non-zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallerRateLimit {
    /// Sustained requests per second per caller.
    pub requests_per_second: NonZeroU32,
    /// Bucket size.
    pub burst: NonZeroU32,
}

impl TryFrom<&RateLimitConfig> for CallerRateLimit {
    type Error = ConfigError;

    fn try_from(raw: &RateLimitConfig) -> Result<Self, Self::Error> {
        Ok(Self {
            requests_per_second: NonZeroU32::new(raw.requests_per_second)
                .ok_or(ConfigError::ZeroLimit { name: "rate_limit.requests_per_second" })?,
            burst: NonZeroU32::new(raw.burst).ok_or(ConfigError::ZeroLimit { name: "rate_limit.burst" })?,
        })
    }
}

fn default_listen() -> SocketAddr {
    // INVARIANT: a literal that always parses; covered by `defaults_parse` below.
    #[allow(clippy::expect_used)]
    LISTEN_ADDR_DEFAULT.parse().expect("LISTEN_ADDR_DEFAULT is a valid socket address")
}

/// Where the server's TLS material lives; PEM files, read at start.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// Certificate chain, leaf first (PEM, one or more `CERTIFICATE` blocks).
    pub cert_file: PathBuf,
    /// Private key of the leaf (PEM: PKCS#8, SEC1 or PKCS#1).
    pub key_file: PathBuf,
    /// CA bundle (PEM) that client certificates must chain to. When set, clients may
    /// present a certificate (mTLS) and the verified chain reaches the auth layer; clients
    /// without one are still served and authenticate another way (token) or not at all.
    #[serde(default)]
    pub client_ca_file: Option<PathBuf>,
    /// Settings that weaken security; each must be chosen on purpose.
    #[serde(default)]
    pub dangerous: TlsDangerous,
}

/// TLS settings that weaken security (STYLE §2 item 10: risky settings under `dangerous`).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TlsDangerous {
    /// Lowest protocol version accepted. TLS 1.3 unless an old client forces 1.2.
    #[serde(default)]
    pub min_version: MinTlsVersion,
}

/// Lowest TLS protocol version the server negotiates.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
pub enum MinTlsVersion {
    /// TLS 1.3 only (the default).
    #[default]
    #[serde(rename = "1.3")]
    Tls13,
    /// TLS 1.2 and 1.3, for clients that cannot do 1.3 (rustls allows only AEAD,
    /// forward-secret 1.2 suites).
    #[serde(rename = "1.2")]
    Tls12,
}

/// Which browser origins may call the endpoint (answers to CORS preflights).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CorsConfig {
    /// Wallet extensions (MetaMask & co.) call from `chrome-extension://…` and
    /// `moz-extension://…` origins (jsonrpc.md, MetaMask section).
    #[serde(default)]
    pub wallet_extensions: WalletExtensions,
    /// Further allowed origins, exact (`https://app.example.com`), or `"*"` for any origin.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
}

impl Default for CorsConfig {
    fn default() -> Self {
        Self { wallet_extensions: WalletExtensions::Allow, allowed_origins: Vec::new() }
    }
}

/// Whether browser-extension origins are allowed by CORS.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum WalletExtensions {
    /// Allow any `chrome-extension://` or `moz-extension://` origin (the default).
    #[default]
    Allow,
    /// Treat extension origins like any other origin.
    Deny,
}

/// Every bound of the server, each with a documented default.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Calls in one batch ([`BATCH_REQUESTS_MAX`]).
    pub batch_requests_max: u32,
    /// Bytes in one request body or WebSocket message ([`REQUEST_BYTES_MAX`]).
    pub request_bytes_max: u32,
    /// Request bytes in memory at once ([`REQUEST_BYTES_IN_FLIGHT_MAX`]).
    pub request_bytes_in_flight_max: u64,
    /// Bytes in one response ([`RESPONSE_BYTES_MAX`]).
    pub response_bytes_max: u32,
    /// Concurrent TCP connections ([`CONNECTIONS_MAX`]).
    pub connections_max: u32,
    /// Requests served at once ([`CONCURRENT_REQUESTS_MAX`]).
    pub concurrent_requests_max: u32,
    /// Subscriptions per WebSocket connection ([`WS_SUBSCRIPTIONS_PER_CONNECTION_MAX`]).
    pub ws_subscriptions_per_connection_max: u32,
    /// WebSocket ping interval in milliseconds ([`WS_PING_INTERVAL_MS`]).
    pub ws_ping_interval_ms: u64,
    /// Time one call may take, in milliseconds ([`REQUEST_TIMEOUT_MS`]).
    pub request_timeout_ms: u64,
    /// Time a TLS handshake may take, in milliseconds ([`TLS_HANDSHAKE_TIMEOUT_MS`]).
    pub tls_handshake_timeout_ms: u64,
    /// Concurrent HTTP/2 streams per connection ([`HTTP2_STREAMS_PER_CONNECTION_MAX`]).
    pub http2_streams_per_connection_max: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            batch_requests_max: BATCH_REQUESTS_MAX,
            request_bytes_max: REQUEST_BYTES_MAX,
            request_bytes_in_flight_max: REQUEST_BYTES_IN_FLIGHT_MAX,
            response_bytes_max: RESPONSE_BYTES_MAX,
            connections_max: CONNECTIONS_MAX,
            concurrent_requests_max: CONCURRENT_REQUESTS_MAX,
            ws_subscriptions_per_connection_max: WS_SUBSCRIPTIONS_PER_CONNECTION_MAX,
            ws_ping_interval_ms: WS_PING_INTERVAL_MS,
            request_timeout_ms: REQUEST_TIMEOUT_MS,
            tls_handshake_timeout_ms: TLS_HANDSHAKE_TIMEOUT_MS,
            http2_streams_per_connection_max: HTTP2_STREAMS_PER_CONNECTION_MAX,
        }
    }
}

impl RpcConfig {
    /// A configuration with default limits and CORS for the given listen address and PEM files.
    pub fn new(listen: SocketAddr, cert_file: PathBuf, key_file: PathBuf) -> Self {
        Self {
            listen,
            tls: TlsConfig {
                cert_file,
                key_file,
                client_ca_file: None,
                dangerous: TlsDangerous::default(),
            },
            cors: CorsConfig::default(),
            limits: LimitsConfig::default(),
            rate_limit: None,
        }
    }
}

/// Checked limits: every count is non-zero, every time is a `Duration`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Calls in one batch.
    pub batch_requests_max: NonZeroU32,
    /// Bytes in one request body or WebSocket message.
    pub request_bytes_max: NonZeroU32,
    /// Request bytes in memory at once.
    pub request_bytes_in_flight_max: NonZeroU64,
    /// Bytes in one response.
    pub response_bytes_max: NonZeroU32,
    /// Concurrent TCP connections.
    pub connections_max: NonZeroU32,
    /// Requests served at once.
    pub concurrent_requests_max: NonZeroU32,
    /// Subscriptions per WebSocket connection.
    pub ws_subscriptions_per_connection_max: NonZeroU32,
    /// WebSocket ping interval.
    pub ws_ping_interval: Duration,
    /// Time one call may take.
    pub request_timeout: Duration,
    /// Time a TLS handshake may take.
    pub tls_handshake_timeout: Duration,
    /// Concurrent HTTP/2 streams per connection.
    pub http2_streams_per_connection_max: NonZeroU32,
}

impl TryFrom<&LimitsConfig> for Limits {
    type Error = ConfigError;

    fn try_from(raw: &LimitsConfig) -> Result<Self, Self::Error> {
        fn count(name: &'static str, value: u32) -> Result<NonZeroU32, ConfigError> {
            NonZeroU32::new(value).ok_or(ConfigError::ZeroLimit { name })
        }
        fn millis(name: &'static str, value: u64) -> Result<Duration, ConfigError> {
            if value == 0 {
                return Err(ConfigError::ZeroLimit { name });
            }
            Ok(Duration::from_millis(value))
        }
        let limits = Self {
            batch_requests_max: count("batch_requests_max", raw.batch_requests_max)?,
            request_bytes_max: count("request_bytes_max", raw.request_bytes_max)?,
            request_bytes_in_flight_max: NonZeroU64::new(raw.request_bytes_in_flight_max)
                .ok_or(ConfigError::ZeroLimit { name: "request_bytes_in_flight_max" })?,
            response_bytes_max: count("response_bytes_max", raw.response_bytes_max)?,
            connections_max: count("connections_max", raw.connections_max)?,
            concurrent_requests_max: count("concurrent_requests_max", raw.concurrent_requests_max)?,
            ws_subscriptions_per_connection_max: count(
                "ws_subscriptions_per_connection_max",
                raw.ws_subscriptions_per_connection_max,
            )?,
            ws_ping_interval: millis("ws_ping_interval_ms", raw.ws_ping_interval_ms)?,
            request_timeout: millis("request_timeout_ms", raw.request_timeout_ms)?,
            tls_handshake_timeout: millis("tls_handshake_timeout_ms", raw.tls_handshake_timeout_ms)?,
            http2_streams_per_connection_max: count(
                "http2_streams_per_connection_max",
                raw.http2_streams_per_connection_max,
            )?,
        };
        if limits.request_bytes_in_flight_max.get() < u64::from(limits.request_bytes_max.get()) {
            // Otherwise one maximum-size request could never be served.
            return Err(ConfigError::Inconsistent {
                reason: format!(
                    "request_bytes_in_flight_max ({}) must be at least request_bytes_max ({})",
                    limits.request_bytes_in_flight_max, limits.request_bytes_max
                ),
            });
        }
        if limits.concurrent_requests_max < limits.connections_max {
            // Every WebSocket connection holds one request slot for its lifetime (that is
            // how jsonrpsee counts), so fewer slots than connections starves HTTP callers.
            return Err(ConfigError::Inconsistent {
                reason: format!(
                    "concurrent_requests_max ({}) must be at least connections_max ({})",
                    limits.concurrent_requests_max, limits.connections_max
                ),
            });
        }
        Ok(limits)
    }
}

/// A checked CORS origin rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OriginRule {
    /// Any origin (`"*"` in the config).
    Any,
    /// One exact origin, lower-cased scheme and host as browsers send them.
    Exact(http::HeaderValue),
}

/// Checked CORS policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CorsPolicy {
    /// Whether extension origins are allowed.
    pub wallet_extensions: WalletExtensions,
    /// Further allowed origins.
    pub origins: Vec<OriginRule>,
}

impl TryFrom<&CorsConfig> for CorsPolicy {
    type Error = ConfigError;

    fn try_from(raw: &CorsConfig) -> Result<Self, Self::Error> {
        let origins = raw
            .allowed_origins
            .iter()
            .map(|origin| {
                if origin == "*" {
                    return Ok(OriginRule::Any);
                }
                // An origin is scheme://host[:port], nothing more (RFC 6454); a trailing
                // slash or path would never match what a browser sends.
                let well_formed = origin.split_once("://").is_some_and(|(scheme, rest)| {
                    !scheme.is_empty() && !rest.is_empty() && !rest.contains('/')
                });
                if !well_formed {
                    return Err(ConfigError::BadOrigin { origin: origin.clone() });
                }
                http::HeaderValue::from_str(origin)
                    .map(OriginRule::Exact)
                    .map_err(|_| ConfigError::BadOrigin { origin: origin.clone() })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { wallet_extensions: raw.wallet_extensions, origins })
    }
}

/// The checked configuration the server runs with.
#[derive(Clone, Debug)]
pub struct ServerSettings {
    /// Socket address to listen on.
    pub listen: SocketAddr,
    /// TLS files and options, as configured (files are read by `tls::server_config`).
    pub tls: TlsConfig,
    /// Checked CORS policy.
    pub cors: CorsPolicy,
    /// Checked limits.
    pub limits: Limits,
    /// Per-caller rate limit, if configured.
    pub rate_limit: Option<CallerRateLimit>,
}

impl TryFrom<&RpcConfig> for ServerSettings {
    type Error = ConfigError;

    fn try_from(raw: &RpcConfig) -> Result<Self, Self::Error> {
        Ok(Self {
            listen: raw.listen,
            tls: raw.tls.clone(),
            cors: CorsPolicy::try_from(&raw.cors)?,
            limits: Limits::try_from(&raw.limits)?,
            rate_limit: raw.rate_limit.as_ref().map(CallerRateLimit::try_from).transpose()?,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse() {
        let raw: RpcConfig =
            serde_json::from_str(r#"{"tls":{"cert_file":"c.pem","key_file":"k.pem"}}"#).unwrap();
        assert_eq!(raw.listen, default_listen());
        assert_eq!(raw.limits, LimitsConfig::default());
        assert_eq!(raw.tls.dangerous.min_version, MinTlsVersion::Tls13);
        let settings = ServerSettings::try_from(&raw).unwrap();
        assert_eq!(settings.limits.batch_requests_max.get(), 1_000);
        assert_eq!(settings.cors.wallet_extensions, WalletExtensions::Allow);
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let err = serde_json::from_str::<RpcConfig>(
            r#"{"tls":{"cert_file":"c","key_file":"k"},"limits":{"batch_max":5}}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
    }

    #[test]
    fn tls12_needs_the_dangerous_key() {
        let raw: RpcConfig = serde_json::from_str(
            r#"{"tls":{"cert_file":"c","key_file":"k","dangerous":{"min_version":"1.2"}}}"#,
        )
        .unwrap();
        assert_eq!(raw.tls.dangerous.min_version, MinTlsVersion::Tls12);
        assert!(
            serde_json::from_str::<RpcConfig>(
                r#"{"tls":{"cert_file":"c","key_file":"k","min_version":"1.2"}}"#
            )
            .is_err()
        );
    }

    #[test]
    fn zero_limits_are_rejected() {
        let mut raw = RpcConfig::new(default_listen(), "c".into(), "k".into());
        raw.limits.batch_requests_max = 0;
        assert_eq!(
            ServerSettings::try_from(&raw).unwrap_err(),
            ConfigError::ZeroLimit { name: "batch_requests_max" }
        );
        raw.limits.batch_requests_max = 1;
        raw.limits.request_timeout_ms = 0;
        assert!(ServerSettings::try_from(&raw).is_err());
        raw.limits.request_timeout_ms = 1;
        raw.limits.request_bytes_in_flight_max = u64::from(raw.limits.request_bytes_max) - 1;
        assert!(matches!(ServerSettings::try_from(&raw), Err(ConfigError::Inconsistent { .. })));
    }

    #[test]
    fn rate_limit_is_optional_and_checked() {
        let raw: RpcConfig = serde_json::from_str(
            r#"{"tls":{"cert_file":"c","key_file":"k"},"rate_limit":{"requests_per_second":50,"burst":100}}"#,
        )
        .unwrap();
        let settings = ServerSettings::try_from(&raw).unwrap();
        assert_eq!(settings.rate_limit.unwrap().burst.get(), 100);
        let mut zero = raw.clone();
        zero.rate_limit = Some(RateLimitConfig { requests_per_second: 0, burst: 1 });
        assert!(ServerSettings::try_from(&zero).is_err());
    }

    #[test]
    fn origins_are_checked() {
        let ok = CorsConfig {
            wallet_extensions: WalletExtensions::Deny,
            allowed_origins: vec!["https://app.example.com".into(), "*".into()],
        };
        let policy = CorsPolicy::try_from(&ok).unwrap();
        assert_eq!(policy.origins.len(), 2);
        assert_eq!(policy.origins[1], OriginRule::Any);
        for bad in ["app.example.com", "https://app.example.com/", "https://", "x\ny://z"] {
            let cfg = CorsConfig {
                wallet_extensions: WalletExtensions::Allow,
                allowed_origins: vec![bad.into()],
            };
            assert!(CorsPolicy::try_from(&cfg).is_err(), "{bad:?} accepted");
        }
    }
}
