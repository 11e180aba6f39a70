//! Body and time limits, the last HTTP layer before jsonrpsee: the request body is read
//! here, under a byte limit and a time limit, so an oversized or endlessly slow upload is
//! answered with a JSON-RPC error (geth's wording, HTTP 413/408) instead of reaching
//! jsonrpsee, whose own refusal of a broken body stream is a bare 500. jsonrpsee's plain
//! text 429 (too many requests in flight) is turned into a JSON-RPC error here too.

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use bytes::Bytes;
use http::{StatusCode, header};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use jsonrpsee::{server::HttpBody, types::ErrorObjectOwned};
use tower::{Layer, Service};

use super::{BoxError, json_rpc_error};

/// jsonrpsee answers a notification (or a batch of only notifications) over HTTP with the
/// body `null`; JSON-RPC 2.0 says "nothing at all", and geth sends an empty body. A real
/// response is always an object or an array, so a 4-byte `null` body is unambiguous.
async fn empty_if_notification(response: http::Response<HttpBody>) -> http::Response<HttpBody> {
    use http_body::Body as _;
    if response.status() != StatusCode::OK || response.body().size_hint().exact() != Some(4) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    match body.collect().await {
        Ok(collected) => {
            let bytes = collected.to_bytes();
            if bytes.as_ref() == b"null" {
                parts.headers.remove(header::CONTENT_TYPE);
                http::Response::from_parts(parts, HttpBody::empty())
            } else {
                http::Response::from_parts(parts, HttpBody::new(Full::new(bytes)))
            }
        }
        Err(err) => {
            tracing::debug!(target: "stele::rpc::limits", %err, "response body failed");
            let error = ErrorObjectOwned::owned::<()>(-32603, "internal error", None);
            json_rpc_error(StatusCode::INTERNAL_SERVER_ERROR, &error)
        }
    }
}
use crate::error::{INVALID_REQUEST_CODE, LIMIT_EXCEEDED_CODE, request_timed_out, request_too_large};

/// Layer enforcing the body size and upload time limits.
#[derive(Clone, Copy, Debug)]
pub struct LimitsLayer {
    request_bytes_max: u32,
    read_timeout: Duration,
}

impl LimitsLayer {
    /// Bodies over `request_bytes_max`, or slower to arrive than `read_timeout`, are refused.
    pub fn new(request_bytes_max: u32, read_timeout: Duration) -> Self {
        Self { request_bytes_max, read_timeout }
    }
}

impl<S> Layer<S> for LimitsLayer {
    type Service = Limits<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Limits { inner, limits: *self }
    }
}

/// Service of [`LimitsLayer`].
#[derive(Clone, Debug)]
pub struct Limits<S> {
    inner: S,
    limits: LimitsLayer,
}

impl<S, B> Service<http::Request<B>> for Limits<S>
where
    S: Service<http::Request<HttpBody>, Response = http::Response<HttpBody>, Error = BoxError>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = http::Response<HttpBody>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        // The clone that was driven ready is the one that serves this request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let LimitsLayer { request_bytes_max, read_timeout } = self.limits;
        Box::pin(async move {
            let limit = u64::from(request_bytes_max);
            let declared = request
                .headers()
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            if let Some(len) = declared.filter(|len| *len > limit) {
                // Refused before reading: no memory spent on a body we will not use.
                return Ok(json_rpc_error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    &request_too_large(Some(len), request_bytes_max),
                ));
            }
            let (parts, body) = request.into_parts();
            let limited = Limited::new(body, usize::try_from(limit).unwrap_or(usize::MAX));
            let bytes = match tokio::time::timeout(read_timeout, limited.collect()).await {
                Err(_elapsed) => {
                    return Ok(json_rpc_error(StatusCode::REQUEST_TIMEOUT, &request_timed_out()));
                }
                Ok(Err(err)) if err.is::<LengthLimitError>() => {
                    return Ok(json_rpc_error(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        &request_too_large(None, request_bytes_max),
                    ));
                }
                Ok(Err(err)) => {
                    tracing::debug!(target: "stele::rpc::limits", %err, "request body read failed");
                    let error = ErrorObjectOwned::owned::<()>(
                        INVALID_REQUEST_CODE,
                        "failed to read request body",
                        None,
                    );
                    return Ok(json_rpc_error(StatusCode::BAD_REQUEST, &error));
                }
                Ok(Ok(collected)) => collected.to_bytes(),
            };
            let request = http::Request::from_parts(parts, HttpBody::new(Full::new(bytes)));
            let response = inner.call(request).await?;
            if response.status() == StatusCode::TOO_MANY_REQUESTS {
                // jsonrpsee's own refusal when `concurrent_requests_max` is reached is plain
                // text; clients expect a JSON-RPC error object.
                let error = ErrorObjectOwned::owned::<()>(
                    LIMIT_EXCEEDED_CODE,
                    "too many concurrent requests, retry later",
                    None,
                );
                return Ok(json_rpc_error(StatusCode::TOO_MANY_REQUESTS, &error));
            }
            Ok(empty_if_notification(response).await)
        })
    }
}
