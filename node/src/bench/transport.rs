//! HTTP/1.1 keep-alive connections to one target, over plain TCP (anvil) or rustls (stele),
//! and the WebSocket stream for subscriptions. One `Connection` carries one request at a time:
//! the load generator opens many of them, so a sender's transactions stay in nonce order on
//! its own connection while the connections run in parallel.

use crate::bench::error::BenchError;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use std::{path::Path, sync::Arc};
use tokio::{
    io::{AsyncRead, AsyncWrite},
    net::TcpStream,
};
use tokio_rustls::TlsConnector;

/// A byte stream to a target, plain or TLS.
pub(crate) trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// One `--target`: where to connect and how.
pub(crate) struct Target {
    /// The URL as given, for messages and the report.
    pub(crate) url: String,
    host: String,
    port: u16,
    authority: String,
    path: String,
    tls: Option<TlsConnector>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The TLS connector has no Debug; whether it is there is what matters.
        f.debug_struct("Target").field("url", &self.url).field("tls", &self.tls.is_some()).finish()
    }
}

impl Target {
    /// Parses `http://host:port[/path]` or `https://…`; https trusts only `ca`'s certificates.
    pub(crate) fn parse(url: &str, ca: Option<&Path>) -> Result<Self, BenchError> {
        let bad = |reason: &str| BenchError::BadTarget { url: url.to_string(), reason: reason.to_string() };
        let uri: http::Uri = url.parse().map_err(|e: http::uri::InvalidUri| bad(&e.to_string()))?;
        let secure = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(bad("scheme must be http or https")),
        };
        let host = uri.host().ok_or_else(|| bad("no host"))?.trim_matches(['[', ']']).to_string();
        let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
        let authority = uri.authority().map(|a| a.to_string()).ok_or_else(|| bad("no host"))?;
        let path = uri.path_and_query().map_or("/".to_string(), |p| p.to_string());
        let tls = if secure {
            let ca = ca.ok_or_else(|| bad("an https target needs --ca"))?;
            Some(tls_connector(ca)?)
        } else {
            None
        };
        Ok(Self { url: url.to_string(), host, port, authority, path, tls })
    }

    /// Opens a TCP (and TLS) stream. TLS offers only HTTP/1.1 (see `tls_connector`): one
    /// ordered request stream per connection is the point, and WebSocket needs it too.
    async fn stream(&self) -> Result<Box<dyn Stream>, BenchError> {
        let connect_err = |source| BenchError::Connect { target: self.url.clone(), source };
        let tcp = TcpStream::connect((self.host.as_str(), self.port)).await.map_err(connect_err)?;
        // Requests are small and latency is what we measure: never wait for Nagle.
        tcp.set_nodelay(true).map_err(connect_err)?;
        let Some(tls) = &self.tls else { return Ok(Box::new(tcp)) };
        let name = ServerName::try_from(self.host.clone())
            .map_err(|e| BenchError::BadTarget { url: self.url.clone(), reason: e.to_string() })?;
        Ok(Box::new(tls.connect(name, tcp).await.map_err(connect_err)?))
    }

    /// Opens a keep-alive HTTP/1.1 connection.
    pub(crate) async fn connect(self: &Arc<Self>) -> Result<Connection, BenchError> {
        let stream = self.stream().await?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|source| BenchError::Http { target: self.url.clone(), source })?;
        // The connection future drives the socket; it ends when `sender` is dropped or the
        // peer closes, and the next `call` then reports the error.
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Connection { sender, target: self.clone() })
    }

    /// Opens a WebSocket on the same host and port (`ws://` or `wss://`, path `/`).
    pub(crate) async fn websocket(
        &self,
    ) -> Result<tokio_tungstenite::WebSocketStream<Box<dyn Stream>>, BenchError> {
        let scheme = if self.tls.is_some() { "wss" } else { "ws" };
        let url = format!("{scheme}://{}/", self.authority);
        let stream = self.stream().await?;
        let (ws, _) = tokio_tungstenite::client_async(url, stream)
            .await
            .map_err(|e| BenchError::WebSocket { target: self.url.clone(), source: Box::new(e) })?;
        Ok(ws)
    }
}

/// A rustls client that trusts only the certificates in `ca` (the dev or consortium CA), and
/// offers only HTTP/1.1.
fn tls_connector(ca: &Path) -> Result<TlsConnector, BenchError> {
    let bad = |reason: String| BenchError::BadCa { path: ca.to_path_buf(), reason };
    let certs = stele_rpc::tls::load_certs(ca).map_err(|e| bad(e.to_string()))?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in certs {
        roots.add(cert).map_err(|e| bad(e.to_string()))?;
    }
    let mut config = rustls::ClientConfig::builder_with_provider(stele_rpc::tls::crypto_provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsConnector::from(Arc::new(config)))
}

/// One open HTTP/1.1 connection; one request at a time.
pub(crate) struct Connection {
    sender: SendRequest<Full<Bytes>>,
    target: Arc<Target>,
}

impl Connection {
    /// POSTs a JSON body and returns the status and the whole response body.
    pub(crate) async fn post(&mut self, body: Bytes) -> Result<(http::StatusCode, Bytes), BenchError> {
        let http_err = |source| BenchError::Http { target: self.target.url.clone(), source };
        self.sender.ready().await.map_err(http_err)?;
        let request = http::Request::post(self.target.path.as_str())
            .header(http::header::HOST, self.target.authority.as_str())
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(body))
            .map_err(|e| BenchError::BadTarget { url: self.target.url.clone(), reason: e.to_string() })?;
        let response = self.sender.send_request(request).await.map_err(http_err)?;
        let status = response.status();
        let body = response.into_body().collect().await.map_err(http_err)?.to_bytes();
        Ok((status, body))
    }
}
