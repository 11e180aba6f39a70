//! Geth-compatible answers, as the outermost jsonrpsee RPC middleware: unknown methods get
//! -32601 "the method X does not exist/is not available", an oversized batch gets
//! `[{"id":<first id>,"error":{"code":-32600,…}}]`, a call over the time limit gets -32002
//! "request timed out", a response over the size limit gets -32003 "response too large",
//! a subscription over HTTP gets -32601 "notifications not supported", and unsubscribing
//! an unknown id gets -32000 "subscription not found" (jsonrpsee answers `false`). Clients
//! and hive compare these (jsonrpc.md pitfalls 7 and 16).
//!
//! It also splits batches itself, calling its own `call` per entry, so every layer below
//! (authorization, later per-method rate limits) sees each batch entry.

use std::{collections::HashSet, future::Future, sync::Arc, time::Duration};

use jsonrpsee::{
    BatchResponseBuilder, MethodResponse,
    server::middleware::rpc::{Batch, BatchEntry, Notification, RpcServiceT},
    types::{
        ErrorObjectOwned, Id, Request,
        error::{OVERSIZED_RESPONSE_CODE, TOO_BIG_BATCH_RESPONSE_CODE},
    },
};
use tower::Layer;

use super::identity::Transport;
use crate::error::{
    INVALID_REQUEST_CODE, METHOD_NOT_FOUND_CODE, batch_too_large, method_not_found, request_timed_out,
    response_too_large,
};

#[derive(Debug)]
struct State {
    methods: HashSet<&'static str>,
    subscribe: HashSet<&'static str>,
    unsubscribe: HashSet<&'static str>,
    batch_requests_max: u32,
    response_bytes_max: usize,
    call_timeout: Duration,
}

/// Layer for [`GethCompat`].
#[derive(Clone, Debug)]
pub struct GethCompatLayer {
    state: Arc<State>,
}

impl GethCompatLayer {
    /// `methods` is the full set of registered method names (unknown ones are answered
    /// here, before authorization or any work); `subscriptions` names the subscribe and the
    /// unsubscribe methods among them.
    pub fn new(
        methods: impl IntoIterator<Item = &'static str>,
        subscriptions: (
            impl IntoIterator<Item = &'static str>,
            impl IntoIterator<Item = &'static str>,
        ),
        batch_requests_max: u32,
        response_bytes_max: u32,
        call_timeout: Duration,
    ) -> Self {
        Self {
            state: Arc::new(State {
                methods: methods.into_iter().collect(),
                subscribe: subscriptions.0.into_iter().collect(),
                unsubscribe: subscriptions.1.into_iter().collect(),
                batch_requests_max,
                response_bytes_max: usize::try_from(response_bytes_max).unwrap_or(usize::MAX),
                call_timeout,
            }),
        }
    }
}

impl<S> Layer<S> for GethCompatLayer {
    type Service = GethCompat<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GethCompat { inner, state: self.state.clone() }
    }
}

/// Service of [`GethCompatLayer`].
#[derive(Clone, Debug)]
pub struct GethCompat<S> {
    inner: S,
    state: Arc<State>,
}

/// jsonrpsee's answer to unsubscribing an id that is not active.
fn is_false(response: &MethodResponse) -> bool {
    response.is_success() && response.as_json().get().ends_with(r#""result":false}"#)
}

fn is_oversized(response: &MethodResponse) -> bool {
    matches!(response.as_error_code(), Some(OVERSIZED_RESPONSE_CODE | TOO_BIG_BATCH_RESPONSE_CODE))
}

impl<S> RpcServiceT for GethCompat<S>
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
        let inner = self.inner.clone();
        let state = self.state.clone();
        async move {
            let id = request.id().into_owned();
            let name = request.method_name();
            if !state.methods.contains(name) {
                return MethodResponse::error(id, method_not_found(name));
            }
            let subscription = state.subscribe.contains(name) || state.unsubscribe.contains(name);
            let over_http = request.extensions().get::<Transport>() != Some(&Transport::WebSocket);
            if subscription && over_http {
                return MethodResponse::error(
                    id,
                    ErrorObjectOwned::owned::<()>(METHOD_NOT_FOUND_CODE, "notifications not supported", None),
                );
            }
            let unsubscribe = state.unsubscribe.contains(name);
            match tokio::time::timeout(state.call_timeout, inner.call(request)).await {
                Err(_elapsed) => MethodResponse::error(id, request_timed_out()),
                Ok(response) if is_oversized(&response) => {
                    MethodResponse::error(id, response_too_large())
                }
                Ok(response) if unsubscribe && is_false(&response) => MethodResponse::error(
                    id,
                    ErrorObjectOwned::owned::<()>(-32000, "subscription not found", None),
                ),
                Ok(response) => response,
            }
        }
    }

    fn batch<'a>(&self, batch: Batch<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        let this = self.clone();
        async move {
            let limit = this.state.batch_requests_max;
            if batch.is_empty() {
                return MethodResponse::error(
                    Id::Null,
                    ErrorObjectOwned::owned::<()>(INVALID_REQUEST_CODE, "empty batch", None),
                );
            }
            if batch.len() > usize::try_from(limit).unwrap_or(usize::MAX) {
                // geth answers with a one-element array carrying the first call's id: the
                // protocol has no way to report an error for a whole batch.
                let first_id = batch
                    .iter()
                    .find_map(|entry| match entry {
                        Ok(BatchEntry::Call(call)) => Some(call.id().into_owned()),
                        _ => None,
                    })
                    .unwrap_or(Id::Null);
                let mut builder = BatchResponseBuilder::new_with_limit(usize::MAX);
                let error = MethodResponse::error(first_id, batch_too_large(limit, batch.len()));
                if let Err(fallback) = builder.append(error) {
                    return fallback;
                }
                return MethodResponse::from_batch(builder.finish());
            }
            let mut builder = BatchResponseBuilder::new_with_limit(this.state.response_bytes_max);
            let mut notifications_only = true;
            for entry in batch {
                let response = match entry {
                    Ok(BatchEntry::Call(call)) => this.call(call).await,
                    Ok(BatchEntry::Notification(n)) => {
                        this.notification(n).await;
                        continue;
                    }
                    Err(err) => {
                        let (error, id) = err.into_parts();
                        MethodResponse::error(id, error)
                    }
                };
                notifications_only = false;
                if builder.append(response).is_err() {
                    return MethodResponse::error(Id::Null, response_too_large());
                }
            }
            if notifications_only {
                // A batch of notifications is acknowledged with an empty body.
                return MethodResponse::notification();
            }
            MethodResponse::from_batch(builder.finish())
        }
    }

    fn notification<'a>(&self, n: Notification<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        let inner = self.inner.clone();
        let known = self.state.methods.contains(n.method_name());
        async move {
            if known { inner.notification(n).await } else { MethodResponse::notification() }
        }
    }
}
