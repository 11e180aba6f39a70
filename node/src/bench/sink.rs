//! `stele bench --generator-check`: the generator's own ceiling. A trivial in-process
//! JSON-RPC endpoint accepts every `eth_sendRawTransaction` without looking at it, and the
//! normal send path (pre-signed bodies, keep-alive connections, tracker) runs against it with
//! each transaction complete on its answer. Whatever rate this reaches is the most the
//! generator can offer a node on this machine; it must sit well above the node's figures.
//! The endpoint is a measuring device only: nothing here is a node or a result.

use crate::bench::error::BenchError;
use alloy_json_rpc::{Request, Response, ResponsePayload};
use alloy_primitives::B256;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::{convert::Infallible, net::SocketAddr};
use tokio::net::TcpListener;

/// Starts the endpoint on a free loopback port and returns its address.
pub(crate) async fn start() -> Result<SocketAddr, BenchError> {
    let listener = TcpListener::bind(("127.0.0.1", 0))
        .await
        .map_err(|source| BenchError::Connect { target: "sink".into(), source })?;
    let address = listener.local_addr().map_err(|source| BenchError::Connect { target: "sink".into(), source })?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service_fn(answer))
                    .await;
            });
        }
    });
    Ok(address)
}

/// Answers any JSON-RPC request with a zero hash under the request's id.
async fn answer(request: hyper::Request<hyper::body::Incoming>) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let body = request.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let id = serde_json::from_slice::<Request<serde_json::Value>>(&body)
        .map(|r| r.meta.id)
        .unwrap_or(alloy_json_rpc::Id::None);
    let response: Response<B256> = Response { id, payload: ResponsePayload::Success(B256::ZERO) };
    let json = serde_json::to_vec(&response).unwrap_or_default();
    Ok(hyper::Response::new(Full::new(Bytes::from(json))))
}
