//! JSON-RPC over the bench's HTTP connections: request envelopes and response parsing with
//! `alloy-json-rpc`, payloads with alloy's RPC types. `RpcClient` keeps a small pool of
//! keep-alive connections for the setup phase, the block fetchers and the final checks; the
//! measured sends use `Connection` directly with bodies encoded before the run.

use crate::bench::{
    error::BenchError,
    transport::{Connection, Target},
};
use alloy_json_rpc::{Id, Request, Response, ResponsePayload, RpcSend};
use bytes::Bytes;
use serde::de::DeserializeOwned;
use std::sync::{
    atomic::{AtomicU64, Ordering},
    Arc, Mutex,
};

/// Encodes one request body.
pub(crate) fn encode_request<P: RpcSend>(method: &'static str, id: u64, params: P) -> Result<Bytes, BenchError> {
    let request = Request::new(method, Id::Number(id), params);
    let serialized = request
        .serialize()
        .map_err(|source| BenchError::Decode { target: String::new(), method, source })?;
    serde_json::to_vec(&serialized)
        .map(Bytes::from)
        .map_err(|source| BenchError::Decode { target: String::new(), method, source })
}

/// Decodes one response body into `R`, or the JSON-RPC error it carries.
pub(crate) fn decode_response<R: DeserializeOwned>(
    target: &Target,
    method: &'static str,
    status: http::StatusCode,
    body: &[u8],
) -> Result<R, BenchError> {
    let response: Response = match serde_json::from_slice(body) {
        Ok(response) => response,
        // A proxy or an overloaded server may answer with a bare status page.
        Err(_) if !status.is_success() => return Err(BenchError::HttpStatus { target: target.url.clone(), status }),
        Err(source) => return Err(BenchError::Decode { target: target.url.clone(), method, source }),
    };
    match response.payload {
        ResponsePayload::Success(raw) => serde_json::from_str(raw.get())
            .map_err(|source| BenchError::Decode { target: target.url.clone(), method, source }),
        ResponsePayload::Failure(error) => Err(BenchError::Rpc {
            target: target.url.clone(),
            method,
            code: error.code,
            message: error.message.into_owned(),
        }),
    }
}

/// A JSON-RPC client for one target with a pool of keep-alive connections.
pub(crate) struct RpcClient {
    target: Arc<Target>,
    idle: Mutex<Vec<Connection>>,
    next_id: AtomicU64,
}

impl RpcClient {
    /// A client; connections open on first use.
    pub(crate) fn new(target: Arc<Target>) -> Self {
        Self { target, idle: Mutex::new(Vec::new()), next_id: AtomicU64::new(1) }
    }

    /// The target this client talks to.
    pub(crate) fn target(&self) -> &Arc<Target> {
        &self.target
    }

    /// Calls `method` and decodes the result.
    pub(crate) async fn call<P, R>(&self, method: &'static str, params: P) -> Result<R, BenchError>
    where
        P: RpcSend,
        R: DeserializeOwned,
    {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let body = encode_request(method, id, params)?;
        let (status, answer) = self.post(body).await?;
        decode_response(&self.target, method, status, &answer)
    }

    /// POSTs on an idle connection (or a new one); a connection that failed is dropped.
    async fn post(&self, body: Bytes) -> Result<(http::StatusCode, Bytes), BenchError> {
        let idle = self.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).pop();
        let answer = match idle {
            Some(mut connection) => match connection.post(body.clone()).await {
                Ok(answer) => Ok((connection, answer)),
                // The server may have closed an idle keep-alive connection (a node under load
                // does): the request was not answered, so one retry on a fresh connection is
                // safe, and a send that did arrive twice is refused as already known.
                Err(_) => self.fresh_post(body).await,
            },
            None => self.fresh_post(body).await,
        };
        let (connection, answer) = answer?;
        self.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(connection);
        Ok(answer)
    }

    async fn fresh_post(&self, body: Bytes) -> Result<(Connection, (http::StatusCode, Bytes)), BenchError> {
        let mut connection = self.target.connect().await?;
        let answer = connection.post(body).await?;
        Ok((connection, answer))
    }
}
