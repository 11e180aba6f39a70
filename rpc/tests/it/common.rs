//! Test harness: a real server on 127.0.0.1:0 with a fresh dev CA, and real clients —
//! hyper's HTTP/1.1 and HTTP/2 client connections over tokio-rustls trusting that CA, and
//! tokio-tungstenite for WSS — so every test crosses TLS over loopback.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use jsonrpsee::{PendingSubscriptionSink, RpcModule};
use rustls::{
    ClientConfig, RootCertStore,
    pki_types::{CertificateDer, PrivateKeyDer, ServerName},
};
use serde_json::Value;
use stele_rpc::{
    RpcConfig, RpcModules, RpcServer, RpcServerHandle, ServerSettings,
    api::StaticNodeInfo,
    layers::auth::Caller,
    tls::{self, dev_ca},
};
use tokio::net::TcpStream;
use tokio_rustls::{TlsConnector, client::TlsStream};

/// Chain id every test server reports.
pub(crate) const CHAIN_ID: u64 = 31_337;

/// A running server and what a client needs to reach it.
pub(crate) struct TestServer {
    pub(crate) handle: Option<RpcServerHandle>,
    pub(crate) addr: SocketAddr,
    pub(crate) ca: Vec<CertificateDer<'static>>,
    pub(crate) dir: tempfile::TempDir,
}

impl TestServer {
    /// Starts a server with default settings.
    pub(crate) async fn start() -> Self {
        Self::start_with(|_| {}, |server| server).await
    }

    /// Starts a server after `tweak` edits the config and `build` the server builder.
    pub(crate) async fn start_with(
        tweak: impl FnOnce(&mut RpcConfig),
        build: impl FnOnce(RpcServer) -> RpcServer,
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let dev = dev_ca::ensure_dev_tls(&dir.path().join("tls")).unwrap();
        let mut config =
            RpcConfig::new("127.0.0.1:0".parse().unwrap(), dev.server_cert.clone(), dev.server_key.clone());
        tweak(&mut config);
        let settings = ServerSettings::try_from(&config).unwrap();
        let server = build(RpcServer::new(settings, test_modules()));
        let handle = server.start().await.unwrap();
        let addr = handle.local_addr();
        let ca = tls::load_certs(&dev.ca_cert).unwrap();
        Self { handle: Some(handle), addr, ca, dir }
    }

    /// Path of the server's TLS directory.
    pub(crate) fn tls_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("tls")
    }

    /// POSTs `body` over HTTP/1.1 and returns status, headers and body.
    pub(crate) async fn post_h1(&self, body: impl Into<Bytes>) -> Reply {
        self.send(Alpn::Http1, post(body)).await
    }

    /// POSTs `body` over HTTP/2.
    pub(crate) async fn post_h2(&self, body: impl Into<Bytes>) -> Reply {
        self.send(Alpn::H2, post(body)).await
    }

    /// Sends any request with the given ALPN and no client certificate.
    pub(crate) async fn send(&self, alpn: Alpn, request: http::Request<Full<Bytes>>) -> Reply {
        let stream = connect(self.addr, client_config(&self.ca, alpn, None)).await.unwrap();
        send_on(stream, alpn, request).await
    }

    /// Calls `method` with `params` over HTTP/1.1 and returns the parsed JSON reply.
    pub(crate) async fn call(&self, method: &str, params: Value) -> Value {
        let body = serde_json::json!({"jsonrpc":"2.0","id":1,"method":method,"params":params});
        let reply = self.post_h1(body.to_string()).await;
        assert_eq!(reply.status, http::StatusCode::OK, "{}", reply.body);
        reply.json()
    }

    /// Stops the server and waits for it.
    pub(crate) async fn stop(&mut self) {
        if let Some(handle) = self.handle.take() {
            handle.stop().await;
        }
    }
}

/// Which protocol the client offers in ALPN.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Alpn {
    Http1,
    H2,
}

/// An HTTP reply, body as text.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: http::StatusCode,
    pub(crate) headers: http::HeaderMap,
    pub(crate) version: http::Version,
    pub(crate) body: String,
}

impl Reply {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }
}

/// A JSON POST to `/`.
pub(crate) fn post(body: impl Into<Bytes>) -> http::Request<Full<Bytes>> {
    http::Request::post("/")
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::HOST, "localhost")
        .body(Full::new(body.into()))
        .unwrap()
}

/// The methods every test server serves: web3_/net_ plus a test subscription merged in
/// the way the eth_ namespace will be.
pub(crate) fn test_modules() -> RpcModules {
    let node = Arc::new(StaticNodeInfo { chain_id: CHAIN_ID, peer_count: 2, listening: true });
    let mut modules = RpcModules::new(node).unwrap();
    let mut extra = RpcModule::new(());
    extra
        .register_subscription(
            "test_subscribeTicks",
            "test_tick",
            "test_unsubscribeTicks",
            |_, pending: PendingSubscriptionSink, _, _| async move {
                let sink = pending.accept().await?;
                for i in 0u64.. {
                    let msg = serde_json::value::to_raw_value(&i)?;
                    if sink.send(msg).await.is_err() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Ok(())
            },
        )
        .unwrap();
    extra
        .register_async_method("test_sleep", |params, _, _| async move {
            let ms: u64 = params.one().unwrap_or(0);
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Ok::<_, jsonrpsee::types::ErrorObjectOwned>(ms)
        })
        .unwrap();
    extra
        .register_method("test_echoBytes", |params, _, _| {
            let n: usize = params.one().unwrap_or(0);
            Ok::<_, jsonrpsee::types::ErrorObjectOwned>("x".repeat(n))
        })
        .unwrap();
    extra
        .register_method("test_whoami", |_, _, extensions| {
            let caller = extensions.get::<Arc<Caller>>().map(|c| format!("{:?}", c.principal));
            Ok::<_, jsonrpsee::types::ErrorObjectOwned>(caller.unwrap_or_else(|| "none".into()))
        })
        .unwrap();
    modules.merge(extra).unwrap();
    modules
}

/// A client config trusting `ca`, offering `alpn`, optionally with a client certificate.
pub(crate) fn client_config(
    ca: &[CertificateDer<'static>],
    alpn: Alpn,
    client_cert: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
) -> Arc<ClientConfig> {
    client_config_versions(ca, alpn, client_cert, &[&rustls::version::TLS13, &rustls::version::TLS12])
}

/// Like [`client_config`], restricted to the given TLS versions.
pub(crate) fn client_config_versions(
    ca: &[CertificateDer<'static>],
    alpn: Alpn,
    client_cert: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for cert in ca {
        roots.add(cert.clone()).unwrap();
    }
    let builder = ClientConfig::builder_with_provider(tls::crypto_provider())
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots);
    let mut config = match client_cert {
        Some((chain, key)) => builder.with_client_auth_cert(chain, key).unwrap(),
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = match alpn {
        Alpn::Http1 => vec![b"http/1.1".to_vec()],
        Alpn::H2 => vec![b"h2".to_vec()],
    };
    Arc::new(config)
}

/// Opens a TLS connection to `addr` for the name `localhost`.
pub(crate) async fn connect(addr: SocketAddr, config: Arc<ClientConfig>) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from("localhost").unwrap();
    TlsConnector::from(config).connect(name, tcp).await
}

/// Sends one request on an established TLS stream with hyper's client.
pub(crate) async fn send_on(
    stream: TlsStream<TcpStream>,
    alpn: Alpn,
    request: http::Request<Full<Bytes>>,
) -> Reply {
    let io = TokioIo::new(stream);
    let response = match alpn {
        Alpn::Http1 => {
            let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await.unwrap();
            tokio::spawn(conn);
            sender.send_request(request).await.unwrap()
        }
        Alpn::H2 => {
            let (mut sender, conn) =
                hyper::client::conn::http2::handshake(TokioExecutor::new(), io).await.unwrap();
            tokio::spawn(conn);
            sender.send_request(request).await.unwrap()
        }
    };
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    Reply {
        status: parts.status,
        headers: parts.headers,
        version: parts.version,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}
