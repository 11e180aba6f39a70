//! Per-caller rate limiting, after authentication so limits follow identities rather than
//! IP addresses. The limiter is a trait object; [`Unlimited`] (the default) lets everything
//! through. A refusal is HTTP 429 with `Retry-After` and JSON-RPC code -32005.

use std::{
    fmt,
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use http::{HeaderValue, StatusCode, header};
use jsonrpsee::{server::HttpBody, types::ErrorObjectOwned};
use tower::{Layer, Service};

use super::{BoxError, auth::Caller, identity::TlsPeer, json_rpc_error};
use crate::error::LIMIT_EXCEEDED_CODE;

/// A request refused by the rate limiter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("rate limit exceeded, retry in {}s", retry_after.as_secs().max(1))]
pub struct RateLimited {
    /// When the caller may try again.
    pub retry_after: Duration,
}

/// Decides whether a caller may make one more request now.
pub trait RateLimiter: Send + Sync + 'static {
    /// `caller` is `None` only if the authentication layer was left out of the stack.
    fn check(&self, caller: Option<&Caller>, peer: Option<&TlsPeer>) -> Result<(), RateLimited>;
}

/// No limit.
#[derive(Clone, Copy, Debug, Default)]
pub struct Unlimited;

impl RateLimiter for Unlimited {
    fn check(&self, _: Option<&Caller>, _: Option<&TlsPeer>) -> Result<(), RateLimited> {
        Ok(())
    }
}

/// Layer applying a [`RateLimiter`] to each HTTP request (and WebSocket upgrade).
#[derive(Clone)]
pub struct RateLimitLayer {
    limiter: Arc<dyn RateLimiter>,
}

impl RateLimitLayer {
    /// A layer using `limiter`.
    pub fn new(limiter: Arc<dyn RateLimiter>) -> Self {
        Self { limiter }
    }
}

impl fmt::Debug for RateLimitLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimitLayer").finish_non_exhaustive()
    }
}

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimit<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RateLimit { inner, limiter: self.limiter.clone() }
    }
}

/// Service of [`RateLimitLayer`].
#[derive(Clone)]
pub struct RateLimit<S> {
    inner: S,
    limiter: Arc<dyn RateLimiter>,
}

impl<S, B> Service<http::Request<B>> for RateLimit<S>
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

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let caller = request.extensions().get::<Arc<Caller>>();
        let peer = request.extensions().get::<Arc<TlsPeer>>();
        match self.limiter.check(caller.map(AsRef::as_ref), peer.map(AsRef::as_ref)) {
            Ok(()) => Box::pin(self.inner.call(request)),
            Err(limited) => {
                let error = ErrorObjectOwned::owned::<()>(LIMIT_EXCEEDED_CODE, limited.to_string(), None);
                let mut response = json_rpc_error(StatusCode::TOO_MANY_REQUESTS, &error);
                let secs = limited.retry_after.as_secs().max(1);
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
                Box::pin(std::future::ready(Ok(response)))
            }
        }
    }
}
