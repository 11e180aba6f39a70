//! The RPC server: one TCP listener, every connection through TLS (there is no plaintext
//! listener), HTTP/1.1 or HTTP/2 by hyper-util's auto builder, and jsonrpsee as a tower
//! service behind the layers of [`crate::layers`], so HTTPS POST and WSS upgrades share
//! one port. Stopped through [`RpcServerHandle`].
//!
//! A plaintext HTTP request fails the TLS handshake and gets no HTTP response at all.

use std::{fmt, net::SocketAddr, sync::Arc, time::Duration};

use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::conn::auto,
    service::TowerToHyperService,
};
use jsonrpsee::{
    Methods,
    server::{
        BatchRequestConfig, PingConfig, ServerConfig, StopHandle, TowerServiceBuilder,
        middleware::rpc::RpcServiceBuilder, stop_channel,
    },
};
use tokio::{
    net::{TcpListener, TcpStream},
    sync::{Semaphore, mpsc, watch},
    task::JoinHandle,
};
use tokio_rustls::TlsAcceptor;
use tower::{ServiceBuilder, layer::util::{Identity, Stack}};
use tower_http::cors::CorsLayer;

use crate::{
    config::{Limits, RpcConfig, ServerSettings},
    error::ServerError,
    layers::{
        auth::{AllowAll, AuthLayer, Authenticator, AuthorizeLayer, Authorizer, OpenAccess},
        cors,
        geth::GethCompatLayer,
        identity::{TlsIdentityLayer, TlsPeer},
        limits::LimitsLayer,
        rate::{RateLimitLayer, RateLimiter, TokenBuckets, Unlimited},
    },
    modules::RpcModules,
    tls,
};

/// How long open connections get to finish in-flight requests after `stop`.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// A client must send a complete HTTP/1.1 request head within this time; it also closes
/// idle keep-alive connections.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// HTTP/2 keep-alive ping interval: detects dead peers on long-lived connections.
const HTTP2_KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(30);
/// Pause after an accept error (e.g. out of file descriptors) so the loop does not spin.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(50);

type RpcMiddleware = Stack<AuthorizeLayer, Stack<GethCompatLayer, Identity>>;

/// Builds and starts the server. Defaults: [`OpenAccess`], [`AllowAll`], and
/// [`TokenBuckets`] when the settings have a rate limit, else [`Unlimited`].
pub struct RpcServer {
    settings: ServerSettings,
    modules: RpcModules,
    authenticator: Arc<dyn Authenticator>,
    authorizer: Arc<dyn Authorizer>,
    rate_limiter: Arc<dyn RateLimiter>,
}

impl fmt::Debug for RpcServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RpcServer").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl RpcServer {
    /// A server for checked settings and a method set.
    pub fn new(settings: ServerSettings, modules: RpcModules) -> Self {
        let rate_limiter: Arc<dyn RateLimiter> = match settings.rate_limit {
            Some(limit) => Arc::new(TokenBuckets::new(limit)),
            None => Arc::new(Unlimited),
        };
        Self {
            settings,
            modules,
            authenticator: Arc::new(OpenAccess),
            authorizer: Arc::new(AllowAll),
            rate_limiter,
        }
    }

    /// Replaces the authenticator (who is calling).
    pub fn with_authenticator(mut self, authenticator: Arc<dyn Authenticator>) -> Self {
        self.authenticator = authenticator;
        self
    }

    /// Replaces the per-method authorizer.
    pub fn with_authorizer(mut self, authorizer: Arc<dyn Authorizer>) -> Self {
        self.authorizer = authorizer;
        self
    }

    /// Replaces the rate limiter.
    pub fn with_rate_limiter(mut self, rate_limiter: Arc<dyn RateLimiter>) -> Self {
        self.rate_limiter = rate_limiter;
        self
    }

    /// Reads the TLS files, binds the listener and starts serving in the background.
    ///
    /// # Errors
    /// Unusable TLS material or an address that cannot be bound.
    pub async fn start(self) -> Result<RpcServerHandle, ServerError> {
        let tls_config = tls::server_config(&self.settings.tls)?;
        let addr = self.settings.listen;
        let listener =
            TcpListener::bind(addr).await.map_err(|source| ServerError::Bind { addr, source })?;
        let local_addr = listener.local_addr().map_err(|source| ServerError::Bind { addr, source })?;

        let limits = self.settings.limits;
        let (stop_handle, jsonrpsee_handle) = stop_channel();
        let method_names = self.modules.method_names();
        let subscriptions = self.modules.subscription_names();
        let rpc_middleware = RpcServiceBuilder::new()
            .layer(GethCompatLayer::new(
                method_names,
                subscriptions,
                limits.batch_requests_max.get(),
                limits.response_bytes_max.get(),
                limits.request_timeout,
            ))
            .layer(AuthorizeLayer::new(self.authorizer));
        let shared = Arc::new(Shared {
            acceptor: TlsAcceptor::from(Arc::new(tls_config)),
            http: http_builder(&limits),
            rpc: jsonrpsee::server::Server::builder()
                .set_config(jsonrpsee_config(&limits))
                .set_rpc_middleware(rpc_middleware)
                .to_service_builder(),
            methods: self.modules.into_methods(),
            stop_handle,
            cors: cors::layer(&self.settings.cors),
            // One layer for the whole server: its in-flight byte budget is shared.
            limits_layer: LimitsLayer::new(
                limits.request_bytes_max.get(),
                limits.request_bytes_in_flight_max.get(),
                limits.request_timeout,
            ),
            authenticator: self.authenticator,
            rate_limiter: self.rate_limiter,
            limits,
        });
        let (stop_tx, stop_rx) = watch::channel(false);
        tracing::info!(target: "stele::rpc", %local_addr, "serving JSON-RPC over HTTPS and WSS");
        let task = tokio::spawn(accept_loop(listener, shared, stop_rx, jsonrpsee_handle));
        Ok(RpcServerHandle { local_addr, stop_tx, task })
    }
}

/// Checks `config`, then starts a server with the default auth and rate-limit policies.
pub async fn start(config: &RpcConfig, modules: RpcModules) -> Result<RpcServerHandle, ServerError> {
    RpcServer::new(ServerSettings::try_from(config)?, modules).start().await
}

/// Controls a running server. Dropping the handle stops the server as `stop` would, but
/// without waiting for it: keep the handle for as long as the server should run.
#[derive(Debug)]
#[must_use = "dropping the handle stops the server"]
pub struct RpcServerHandle {
    local_addr: SocketAddr,
    stop_tx: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl RpcServerHandle {
    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting, lets open connections finish in-flight requests for up to
    /// [`SHUTDOWN_GRACE`], closes WebSocket sessions, and returns when all is done.
    pub async fn stop(self) {
        // A send error means the loop already ended; there is nothing left to stop.
        let _ = self.stop_tx.send(true);
        if let Err(err) = self.task.await {
            tracing::warn!(target: "stele::rpc", %err, "rpc accept loop ended abnormally");
        }
    }
}

/// What every connection task needs.
struct Shared {
    acceptor: TlsAcceptor,
    http: auto::Builder<TokioExecutor>,
    rpc: TowerServiceBuilder<RpcMiddleware, Identity>,
    methods: Methods,
    stop_handle: StopHandle,
    cors: CorsLayer,
    limits_layer: LimitsLayer,
    authenticator: Arc<dyn Authenticator>,
    rate_limiter: Arc<dyn RateLimiter>,
    limits: Limits,
}

fn jsonrpsee_config(limits: &Limits) -> ServerConfig {
    let ping = limits.ws_ping_interval;
    ServerConfig::builder()
        .max_request_body_size(limits.request_bytes_max.get())
        .max_response_body_size(limits.response_bytes_max.get())
        // jsonrpsee counts in-flight HTTP requests plus open WebSocket sessions here.
        .max_connections(limits.concurrent_requests_max.get())
        .max_subscriptions_per_connection(limits.ws_subscriptions_per_connection_max.get())
        // The batch limit is enforced by GethCompat, which answers the way geth does.
        .set_batch_request_config(BatchRequestConfig::Unlimited)
        .set_id_provider(crate::subscription_id::HexIdProvider::new())
        .enable_ws_ping(
            PingConfig::new()
                .ping_interval(ping)
                .inactive_limit(ping.saturating_mul(2))
                .max_failures(2),
        )
        .build()
}

fn http_builder(limits: &Limits) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(HEADER_READ_TIMEOUT);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits.http2_streams_per_connection_max.get())
        .keep_alive_interval(HTTP2_KEEP_ALIVE_INTERVAL);
    builder
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut stop_rx: watch::Receiver<bool>,
    jsonrpsee_handle: jsonrpsee::server::ServerHandle,
) {
    let slots = Arc::new(Semaphore::new(
        usize::try_from(shared.limits.connections_max.get()).unwrap_or(usize::MAX),
    ));
    // Each connection task holds a clone of `alive`; `recv` returns `None` once all ended.
    let (alive, mut all_done) = mpsc::channel::<()>(1);
    loop {
        let (tcp, remote) = tokio::select! {
            _ = stop_rx.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(err) => {
                    tracing::debug!(target: "stele::rpc", %err, "accept failed");
                    tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
                    continue;
                }
            },
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::debug!(target: "stele::rpc", %remote, "connection limit reached; closing");
            drop(tcp);
            continue;
        };
        let shared = shared.clone();
        let stop_rx = stop_rx.clone();
        let alive = alive.clone();
        tokio::spawn(async move {
            serve_connection(tcp, remote, &shared, stop_rx).await;
            drop((slot, alive));
        });
    }
    drop(listener);
    drop(alive);
    // Closes WebSocket sessions; their tasks are jsonrpsee's and end on this signal.
    let _ = jsonrpsee_handle.stop();
    if tokio::time::timeout(SHUTDOWN_GRACE, all_done.recv()).await.is_err() {
        tracing::warn!(target: "stele::rpc", "connections still open after the shutdown grace period");
    }
    tracing::info!(target: "stele::rpc", "rpc server stopped");
}

async fn serve_connection(
    tcp: TcpStream,
    remote: SocketAddr,
    shared: &Shared,
    mut stop_rx: watch::Receiver<bool>,
) {
    if let Err(err) = tcp.set_nodelay(true) {
        tracing::debug!(target: "stele::rpc", %remote, %err, "set_nodelay failed");
    }
    let handshake = tokio::time::timeout(shared.limits.tls_handshake_timeout, shared.acceptor.accept(tcp));
    let tls = tokio::select! {
        _ = stop_rx.changed() => return,
        result = handshake => match result {
            Ok(Ok(tls)) => tls,
            Ok(Err(err)) => {
                // Includes plaintext HTTP sent to this port: no HTTP answer is given.
                tracing::debug!(target: "stele::rpc", %remote, %err, "TLS handshake failed");
                return;
            }
            Err(_elapsed) => {
                tracing::debug!(target: "stele::rpc", %remote, "TLS handshake timed out");
                return;
            }
        },
    };
    let peer = TlsPeer::from_connection(remote, tls.get_ref().1);
    let service = ServiceBuilder::new()
        .layer(TlsIdentityLayer::new(peer))
        .layer(shared.cors.clone())
        .layer(AuthLayer::new(shared.authenticator.clone()))
        .layer(RateLimitLayer::new(shared.rate_limiter.clone()))
        .layer(shared.limits_layer.clone())
        .service(shared.rpc.clone().build(shared.methods.clone(), shared.stop_handle.clone()));
    let conn = shared
        .http
        .serve_connection_with_upgrades(TokioIo::new(tls), TowerToHyperService::new(service));
    tokio::pin!(conn);
    let result = tokio::select! {
        result = conn.as_mut() => result,
        _ = stop_rx.changed() => {
            conn.as_mut().graceful_shutdown();
            match tokio::time::timeout(SHUTDOWN_GRACE, conn.as_mut()).await {
                Ok(result) => result,
                Err(_elapsed) => return,
            }
        }
    };
    if let Err(err) = result {
        tracing::debug!(target: "stele::rpc", %remote, %err, "connection ended with an error");
    }
}
