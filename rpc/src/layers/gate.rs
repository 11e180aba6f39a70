//! The shape the authentication and rate-limit layers share: an HTTP layer that asks a
//! [`Gate`] about each request before the inner service sees it, and answers a refused
//! request itself (a JSON-RPC error response, never a dropped connection).

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

use jsonrpsee::server::HttpBody;
use tower::{Layer, Service};

use super::BoxError;

/// A decision about each HTTP request (and WebSocket upgrade).
pub trait Gate: Clone + Send + Sync + 'static {
    /// Lets `request` through, possibly after adding to its extensions, or answers it.
    fn admit<B>(&self, request: &mut http::Request<B>) -> Result<(), http::Response<HttpBody>>;
}

/// Layer that puts a [`Gate`] in front of the inner service.
#[derive(Clone, Debug)]
pub struct GateLayer<G> {
    gate: G,
}

impl<G> GateLayer<G> {
    /// A layer asking `gate`. Each gate's module names its layer and builds it from its
    /// policy (`AuthLayer::new`, `RateLimitLayer::new`).
    pub(super) fn with_gate(gate: G) -> Self {
        Self { gate }
    }
}

impl<S, G: Clone> Layer<S> for GateLayer<G> {
    type Service = Gated<S, G>;

    fn layer(&self, inner: S) -> Self::Service {
        Gated { inner, gate: self.gate.clone() }
    }
}

/// Service of [`GateLayer`].
#[derive(Clone, Debug)]
pub struct Gated<S, G> {
    inner: S,
    gate: G,
}

impl<S, B, G: Gate> Service<http::Request<B>> for Gated<S, G>
where
    S: Service<http::Request<B>, Response = http::Response<HttpBody>, Error = BoxError>,
    S::Future: Send + 'static,
{
    type Response = http::Response<HttpBody>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        match self.gate.admit(&mut request) {
            Ok(()) => Box::pin(self.inner.call(request)),
            Err(refusal) => Box::pin(std::future::ready(Ok(refusal))),
        }
    }
}
