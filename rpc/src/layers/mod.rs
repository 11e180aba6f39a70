//! The request path as tower layers, in the fixed order of STYLE §2 item 17:
//!
//! ```text
//! TLS identity -> CORS -> authentication -> rate limit -> body and time limits -> jsonrpsee
//!                                                                     [geth compat -> authorization -> methods]
//! ```
//!
//! The HTTP layers see every request (HTTPS POST and the WebSocket upgrade); the two RPC
//! layers inside jsonrpsee see every JSON-RPC call, batch entry and WebSocket message.
//! CORS sits before authentication because browsers send preflights without credentials.
//! Every refusal is a JSON-RPC error response, never a dropped connection.

pub mod auth;
pub mod cors;
pub mod gate;
pub mod geth;
pub mod identity;
pub mod limits;
pub mod rate;

use http::{HeaderValue, StatusCode, header};
use jsonrpsee::{server::HttpBody, types::ErrorObjectOwned};

/// The error type of every service in the stack (jsonrpsee's).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// An HTTP response carrying one JSON-RPC error object with `id: null`, for refusals
/// made before the request was parsed (size, authentication, rate).
pub(crate) fn json_rpc_error(status: StatusCode, error: &ErrorObjectOwned) -> http::Response<HttpBody> {
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": { "code": error.code(), "message": error.message() },
    })
    .to_string();
    let mut response = http::Response::new(HttpBody::from(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
    response
}
