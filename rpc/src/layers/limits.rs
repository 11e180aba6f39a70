//! Body and time limits, the last HTTP layer before jsonrpsee. The request body is read
//! here, under a per-request byte limit, a server-wide budget of request bytes held in
//! memory, and a time limit. An oversized, endlessly slow or overloading upload gets a
//! JSON-RPC error (geth's wording, HTTP 413/408/503) and never reaches jsonrpsee, whose
//! own refusal of a broken body stream is a bare 500.
//!
//! Responses are fixed up here too: jsonrpsee's plain-text 429 (too many requests in
//! flight) becomes a JSON-RPC error, its `null` body for notifications becomes an empty
//! body, and its capitalised envelope errors get geth's lower-case wording.

use std::{
    future::Future,
    pin::Pin,
    sync::{Arc, LazyLock},
    task::{Context, Poll},
    time::Duration,
};

use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use jsonrpsee::{server::HttpBody, types::ErrorObjectOwned};
use tokio::sync::Semaphore;
use tower::{Layer, Service};

use super::{BoxError, json_rpc_error};
use crate::error::{
    INVALID_REQUEST_CODE, LIMIT_EXCEEDED_CODE, request_timed_out, request_too_large,
};

/// The in-flight budget is counted in KiB, so that tokio's `u32` permit counts cover any
/// budget up to 4 TiB.
const BUDGET_UNIT_BYTES: u64 = 1024;

/// Layer enforcing the body size, in-flight bytes and upload time limits.
#[derive(Clone, Debug)]
pub struct LimitsLayer {
    request_bytes_max: u32,
    read_timeout: Duration,
    budget: Arc<Semaphore>,
}

impl LimitsLayer {
    /// A request is refused when its body is over `request_bytes_max`, when it arrives
    /// slower than `read_timeout`, or when bodies being served would then hold more than
    /// `in_flight_bytes_max`. A body with no `Content-Length` is charged
    /// `request_bytes_max`.
    pub fn new(request_bytes_max: u32, in_flight_bytes_max: u64, read_timeout: Duration) -> Self {
        let units = usize::try_from(in_flight_bytes_max.div_ceil(BUDGET_UNIT_BYTES))
            .unwrap_or(usize::MAX)
            .min(Semaphore::MAX_PERMITS);
        Self { request_bytes_max, read_timeout, budget: Arc::new(Semaphore::new(units)) }
    }
}

impl<S> Layer<S> for LimitsLayer {
    type Service = Limits<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Limits { inner, limits: self.clone() }
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
        let inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(serve(self.limits.clone(), inner, request))
    }
}

async fn serve<S, B>(
    limits: LimitsLayer,
    mut inner: S,
    request: http::Request<B>,
) -> Result<http::Response<HttpBody>, BoxError>
where
    S: Service<http::Request<HttpBody>, Response = http::Response<HttpBody>, Error = BoxError>,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let LimitsLayer { request_bytes_max, read_timeout, budget } = limits;
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
    let charge = u32::try_from(declared.unwrap_or(limit).div_ceil(BUDGET_UNIT_BYTES)).unwrap_or(u32::MAX);
    // Held until the response is built: the body bytes live that long.
    let Ok(_budget) = budget.try_acquire_many_owned(charge) else {
        let error = ErrorObjectOwned::owned::<()>(
            LIMIT_EXCEEDED_CODE,
            "server busy: too many request bytes in flight, retry later",
            None,
        );
        let mut response = json_rpc_error(StatusCode::SERVICE_UNAVAILABLE, &error);
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return Ok(response);
    };
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
            let error =
                ErrorObjectOwned::owned::<()>(INVALID_REQUEST_CODE, "failed to read request body", None);
            return Ok(json_rpc_error(StatusCode::BAD_REQUEST, &error));
        }
        Ok(Ok(collected)) => collected.to_bytes(),
    };
    let request = http::Request::from_parts(parts, HttpBody::new(Full::new(bytes)));
    let response = inner.call(request).await?;
    if response.status() == StatusCode::TOO_MANY_REQUESTS {
        // jsonrpsee's own refusal when `concurrent_requests_max` is reached is plain text;
        // clients expect a JSON-RPC error object.
        let error = ErrorObjectOwned::owned::<()>(
            LIMIT_EXCEEDED_CODE,
            "too many concurrent requests, retry later",
            None,
        );
        return Ok(json_rpc_error(StatusCode::TOO_MANY_REQUESTS, &error));
    }
    Ok(geth_envelope(response).await)
}

/// Responses up to this size are checked for jsonrpsee's envelope errors; larger ones are
/// method results and pass untouched.
const ENVELOPE_CHECK_BYTES_MAX: u64 = 256 * 1024;

/// jsonrpsee's fixed error objects for an unparsable body and a non-request object, and
/// geth's wording for them (what clients and the bad-input suite compare).
const ENVELOPE_REWRITES: [(&str, &str); 2] = [
    (r#"{"code":-32700,"message":"Parse error"}"#, r#"{"code":-32700,"message":"parse error"}"#),
    (r#"{"code":-32600,"message":"Invalid request"}"#, r#"{"code":-32600,"message":"invalid request"}"#),
];

/// Puts jsonrpsee's HTTP answers in geth's shape:
/// - a notification (or a batch of only notifications) is answered with the body `null`;
///   JSON-RPC 2.0 says "nothing at all" and geth sends an empty body. A real response is
///   an object or an array, so a 4-byte `null` body is unambiguous;
/// - "Parse error" / "Invalid request" become geth's lower-case "parse error" / "invalid
///   request". The replaced text is a whole JSON object with those exact fields, which a
///   method's result cannot contain by accident: inside a JSON string its quotes would be
///   escaped.
async fn geth_envelope(response: http::Response<HttpBody>) -> http::Response<HttpBody> {
    use http_body::Body as _;
    let small = response.body().size_hint().exact().is_some_and(|n| n <= ENVELOPE_CHECK_BYTES_MAX);
    let status = response.status();
    if !small || !(status == StatusCode::OK || status == StatusCode::BAD_REQUEST) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(err) => {
            tracing::debug!(target: "stele::rpc::limits", %err, "response body failed");
            let error = ErrorObjectOwned::owned::<()>(-32603, "internal error", None);
            return json_rpc_error(StatusCode::INTERNAL_SERVER_ERROR, &error);
        }
    };
    if bytes.as_ref() == b"null" {
        parts.headers.remove(header::CONTENT_TYPE);
        parts.headers.remove(header::CONTENT_LENGTH);
        return http::Response::from_parts(parts, HttpBody::empty());
    }
    // Nearly every response is a plain result: find the texts with searchers built once
    // rather than a new one per response and per text.
    static FINDERS: LazyLock<[memchr::memmem::Finder<'static>; 2]> = LazyLock::new(|| {
        ENVELOPE_REWRITES.map(|(from, _)| memchr::memmem::Finder::new(from.as_bytes()))
    });
    let envelope_error = FINDERS.iter().any(|finder| finder.find(&bytes).is_some());
    let text = if envelope_error { std::str::from_utf8(&bytes).ok() } else { None };
    let rewritten =
        text.map(|t| ENVELOPE_REWRITES.iter().fold(t.to_owned(), |acc, (from, to)| acc.replace(from, to)));
    match rewritten {
        Some(text) => {
            parts.headers.remove(header::CONTENT_LENGTH);
            http::Response::from_parts(parts, HttpBody::from(text))
        }
        None => http::Response::from_parts(parts, HttpBody::new(Full::new(bytes))),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;

    use tokio::sync::Notify;
    use tower::ServiceExt;

    use super::*;

    /// An inner service that holds every request until `release` is notified.
    fn held(release: Arc<Notify>) -> impl Service<
        http::Request<HttpBody>,
        Response = http::Response<HttpBody>,
        Error = BoxError,
        Future = impl Send,
    > + Clone
    + Send
    + 'static {
        tower::service_fn(move |_req: http::Request<HttpBody>| {
            let release = release.clone();
            async move {
                release.notified().await;
                Ok::<_, BoxError>(http::Response::new(HttpBody::from(r#"{"ok":1}"#)))
            }
        })
    }

    fn request(len: usize) -> http::Request<Full<Bytes>> {
        http::Request::post("/")
            .header(header::CONTENT_LENGTH, len)
            .body(Full::new(Bytes::from(vec![b' '; len])))
            .unwrap()
    }

    #[tokio::test]
    async fn in_flight_budget_refuses_then_recovers() {
        let release = Arc::new(Notify::new());
        // Two 1 KiB bodies fit in a 2 KiB budget; a third must wait for them to finish.
        let layer = LimitsLayer::new(1_024, 2_048, Duration::from_secs(5));
        let service = layer.layer(held(release.clone()));
        let first = tokio::spawn(service.clone().oneshot(request(1_024)));
        let second = tokio::spawn(service.clone().oneshot(request(1_000)));
        tokio::task::yield_now().await;
        while layer.budget.available_permits() > 0 {
            tokio::task::yield_now().await;
        }
        let refused = service.clone().oneshot(request(10)).await.unwrap();
        assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(refused.headers().get(header::RETRY_AFTER).unwrap(), "1");
        release.notify_waiters();
        assert_eq!(first.await.unwrap().unwrap().status(), StatusCode::OK);
        assert_eq!(second.await.unwrap().unwrap().status(), StatusCode::OK);
        assert_eq!(layer.budget.available_permits(), 2, "budget not returned");
        let again = tokio::spawn(service.oneshot(request(10)));
        while !again.is_finished() {
            release.notify_waiters();
            tokio::task::yield_now().await;
        }
        assert_eq!(again.await.unwrap().unwrap().status(), StatusCode::OK);
    }
}
