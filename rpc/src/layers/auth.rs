//! Authentication (who is calling: mTLS certificate, bearer token, or nobody) as an HTTP
//! layer, and per-method authorization (may this caller call this method) as a jsonrpsee
//! RPC middleware, so it also covers each batch entry and each WebSocket message.
//!
//! Both are trait objects. The defaults, [`OpenAccess`] and [`AllowAll`], let every caller
//! call every method: that is the dev-node behaviour today. Consortium deployments plug in
//! an authenticator that maps certificate fingerprints and tokens to [`Scope`]s and an
//! authorizer that maps methods to required scopes (ARCHITECTURE.md, Keys and identities).

use std::{
    collections::BTreeSet,
    fmt,
    future::Future,
    sync::Arc,
};

use http::{HeaderMap, StatusCode};
use jsonrpsee::{
    MethodResponse,
    server::{
        HttpBody,
        middleware::rpc::{Batch, Notification, RpcServiceT},
    },
    types::{ErrorObjectOwned, Request},
};
use tower::Layer;

use super::{
    gate::{Gate, GateLayer},
    identity::TlsPeer,
    json_rpc_error,
};
use crate::{error::UNAUTHORIZED_CODE, tls::Fingerprint};

/// A permission an identity may hold (ARCHITECTURE.md: `eth:read`, `eth:send`, …).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Scope {
    /// Read chain state (`eth_call`, `eth_getBalance`, …).
    EthRead,
    /// Submit transactions (`eth_sendRawTransaction`).
    EthSend,
    /// `debug_*` methods.
    Debug,
    /// Node administration.
    Admin,
}

impl Scope {
    /// Every scope.
    pub const ALL: [Scope; 4] = [Scope::EthRead, Scope::EthSend, Scope::Debug, Scope::Admin];
}

/// Who the caller is, as proven to the authentication layer.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Principal {
    /// No credentials were presented.
    Anonymous,
    /// A verified client certificate, by fingerprint.
    Certificate(Fingerprint),
    /// A bearer token (JWT or API key), by its identifier — never the secret itself.
    Token {
        /// The token's id or subject.
        id: String,
    },
}

/// An authenticated caller and what it may do; put in request extensions as `Arc<Caller>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// Who.
    pub principal: Principal,
    /// What it may do.
    pub scopes: BTreeSet<Scope>,
}

/// Why authentication failed; answered with HTTP 401 and JSON-RPC code -32001.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The endpoint requires credentials and none were sent.
    #[error("missing credentials")]
    MissingCredentials,
    /// The bearer token is malformed, expired or unknown.
    #[error("invalid token: {reason}")]
    InvalidToken {
        /// Why (safe to show the caller: no secrets).
        reason: String,
    },
    /// The client certificate is valid but not registered.
    #[error("unknown client certificate {fingerprint}")]
    UnknownCertificate {
        /// Its fingerprint.
        fingerprint: Fingerprint,
    },
}

/// Decides who a request comes from. Called once per HTTP request and once per WebSocket
/// upgrade (a WebSocket session keeps the caller it was opened with).
pub trait Authenticator: Send + Sync + 'static {
    /// Authenticates from the TLS facts and the HTTP headers (`Authorization: Bearer …`).
    fn authenticate(&self, peer: Option<&TlsPeer>, headers: &HeaderMap) -> Result<Caller, AuthError>;
}

/// Everyone may do everything; a verified client certificate is still recorded as the
/// principal, so logs and rate limits can tell callers apart.
#[derive(Clone, Copy, Debug, Default)]
pub struct OpenAccess;

impl Authenticator for OpenAccess {
    fn authenticate(&self, peer: Option<&TlsPeer>, _: &HeaderMap) -> Result<Caller, AuthError> {
        let principal = match peer.and_then(TlsPeer::client_fingerprint) {
            Some(fingerprint) => Principal::Certificate(fingerprint),
            None => Principal::Anonymous,
        };
        Ok(Caller { principal, scopes: Scope::ALL.into_iter().collect() })
    }
}

/// The authentication gate: stores the [`Caller`] in each request's extensions, or answers
/// HTTP 401 with JSON-RPC code -32001.
#[derive(Clone)]
pub struct Authenticate(Arc<dyn Authenticator>);

impl fmt::Debug for Authenticate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticate").finish_non_exhaustive()
    }
}

impl Gate for Authenticate {
    fn admit<B>(&self, request: &mut http::Request<B>) -> Result<(), http::Response<HttpBody>> {
        let peer = request.extensions().get::<Arc<TlsPeer>>().cloned();
        match self.0.authenticate(peer.as_deref(), request.headers()) {
            Ok(caller) => {
                request.extensions_mut().insert(Arc::new(caller));
                Ok(())
            }
            Err(err) => {
                tracing::debug!(target: "stele::rpc::auth", remote = ?peer.map(|p| p.remote_addr), %err, "authentication failed");
                let error = ErrorObjectOwned::owned::<()>(UNAUTHORIZED_CODE, err.to_string(), None);
                Err(json_rpc_error(StatusCode::UNAUTHORIZED, &error))
            }
        }
    }
}

/// Layer that authenticates each request and stores the [`Caller`] in its extensions.
pub type AuthLayer = GateLayer<Authenticate>;

impl AuthLayer {
    /// A layer using `authenticator`.
    pub fn new(authenticator: Arc<dyn Authenticator>) -> Self {
        GateLayer::with_gate(Authenticate(authenticator))
    }
}

/// A method refused to a caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("method {method} requires scope {required:?}")]
pub struct Denied {
    /// The method.
    pub method: String,
    /// The scope it needs.
    pub required: Scope,
}

/// Decides whether a caller may call a method; consulted for every call, batch entry and
/// WebSocket message, after the method is known to exist.
pub trait Authorizer: Send + Sync + 'static {
    /// `caller` is `None` only if the authentication layer was left out of the stack.
    fn authorize(&self, caller: Option<&Caller>, method: &str) -> Result<(), Denied>;
}

/// Every caller may call every method.
#[derive(Clone, Copy, Debug, Default)]
pub struct AllowAll;

impl Authorizer for AllowAll {
    fn authorize(&self, _: Option<&Caller>, _: &str) -> Result<(), Denied> {
        Ok(())
    }
}

/// jsonrpsee RPC middleware layer applying an [`Authorizer`] to each call.
#[derive(Clone)]
pub struct AuthorizeLayer {
    authorizer: Arc<dyn Authorizer>,
}

impl AuthorizeLayer {
    /// A layer using `authorizer`.
    pub fn new(authorizer: Arc<dyn Authorizer>) -> Self {
        Self { authorizer }
    }
}

impl fmt::Debug for AuthorizeLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizeLayer").finish_non_exhaustive()
    }
}

impl<S> Layer<S> for AuthorizeLayer {
    type Service = Authorize<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Authorize { inner, authorizer: self.authorizer.clone() }
    }
}

/// Service of [`AuthorizeLayer`].
#[derive(Clone)]
pub struct Authorize<S> {
    inner: S,
    authorizer: Arc<dyn Authorizer>,
}

impl<S> RpcServiceT for Authorize<S>
where
    S: RpcServiceT<
            MethodResponse = MethodResponse,
            BatchResponse = MethodResponse,
            NotificationResponse = MethodResponse,
        > + Send
        + Sync
        + Clone
        + 'static,
{
    type MethodResponse = MethodResponse;
    type NotificationResponse = MethodResponse;
    type BatchResponse = MethodResponse;

    fn call<'a>(&self, request: Request<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        let caller = request.extensions().get::<Arc<Caller>>().cloned();
        let verdict = self.authorizer.authorize(caller.as_deref(), request.method_name());
        let inner = self.inner.clone();
        async move {
            match verdict {
                Ok(()) => inner.call(request).await,
                Err(denied) => MethodResponse::error(
                    request.id().into_owned(),
                    ErrorObjectOwned::owned::<()>(UNAUTHORIZED_CODE, denied.to_string(), None),
                ),
            }
        }
    }

    fn batch<'a>(&self, batch: Batch<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        // Batches are split by the geth-compat layer above, which calls `call` per entry.
        self.inner.batch(batch)
    }

    fn notification<'a>(&self, n: Notification<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        let caller = n.extensions().get::<Arc<Caller>>().cloned();
        let allowed = self.authorizer.authorize(caller.as_deref(), n.method_name()).is_ok();
        let inner = self.inner.clone();
        async move {
            if allowed {
                inner.notification(n).await
            } else {
                // Notifications get no answer, allowed or not.
                MethodResponse::notification()
            }
        }
    }
}
