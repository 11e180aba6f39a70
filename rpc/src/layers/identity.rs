//! First layer: puts what the TLS handshake proved about the peer (its address, its
//! verified client certificate chain if it sent one, the negotiated protocol) into every
//! request's extensions as an `Arc<TlsPeer>`, for authentication and for method handlers,
//! together with the [`Transport`] the request uses (HTTP or a WebSocket upgrade).

use std::{
    net::SocketAddr,
    sync::Arc,
    task::{Context, Poll},
};

use rustls::pki_types::CertificateDer;
use tower::{Layer, Service};

use crate::tls::Fingerprint;

/// What the TLS layer knows about the connection a request came on.
#[derive(Clone, Debug)]
pub struct TlsPeer {
    /// The client's socket address.
    pub remote_addr: SocketAddr,
    /// The client certificate chain, leaf first, already verified against the configured
    /// client CA; `None` when the client sent none (or no client CA is configured).
    pub certificates: Option<Arc<[CertificateDer<'static>]>>,
    /// The negotiated TLS version.
    pub protocol_version: Option<rustls::ProtocolVersion>,
    /// The negotiated ALPN protocol (`h2` or `http/1.1`), if any.
    pub alpn: Option<Vec<u8>>,
}

impl TlsPeer {
    /// Reads the peer facts off an accepted rustls connection.
    pub fn from_connection(remote_addr: SocketAddr, conn: &rustls::ServerConnection) -> Self {
        Self {
            remote_addr,
            certificates: conn.peer_certificates().map(|c| c.to_vec().into()),
            protocol_version: conn.protocol_version(),
            alpn: conn.alpn_protocol().map(<[u8]>::to_vec),
        }
    }

    /// The verified client (leaf) certificate, if one was presented.
    pub fn client_certificate(&self) -> Option<&CertificateDer<'static>> {
        self.certificates.as_deref().and_then(<[_]>::first)
    }

    /// SHA-256 of the client certificate: a stable identity to map to scopes.
    pub fn client_fingerprint(&self) -> Option<Fingerprint> {
        self.client_certificate().map(Fingerprint::of)
    }
}

/// Which transport a JSON-RPC call arrived on; in the extensions of every request and
/// every call (jsonrpsee copies the HTTP request's extensions into each call, and a
/// WebSocket's upgrade request's into each of its messages).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// One HTTP request and its response: no notifications can be pushed.
    Http,
    /// A WebSocket session: subscriptions work.
    WebSocket,
}

impl Transport {
    fn of(headers: &http::HeaderMap) -> Self {
        let upgrade = headers
            .get(http::header::UPGRADE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
        if upgrade { Self::WebSocket } else { Self::Http }
    }
}

/// Layer that tags each request of one connection with that connection's [`TlsPeer`].
#[derive(Clone, Debug)]
pub struct TlsIdentityLayer {
    peer: Arc<TlsPeer>,
}

impl TlsIdentityLayer {
    /// A layer for one accepted connection.
    pub fn new(peer: TlsPeer) -> Self {
        Self { peer: Arc::new(peer) }
    }
}

impl<S> Layer<S> for TlsIdentityLayer {
    type Service = TlsIdentity<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TlsIdentity { inner, peer: self.peer.clone() }
    }
}

/// Service of [`TlsIdentityLayer`].
#[derive(Clone, Debug)]
pub struct TlsIdentity<S> {
    inner: S,
    peer: Arc<TlsPeer>,
}

impl<S, B> Service<http::Request<B>> for TlsIdentity<S>
where
    S: Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let transport = Transport::of(request.headers());
        request.extensions_mut().insert(self.peer.clone());
        request.extensions_mut().insert(transport);
        self.inner.call(request)
    }
}
