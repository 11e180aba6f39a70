//! Integration tests of the RPC server over real TLS on loopback, one binary (STYLE §2
//! item 13): HTTP/1.1 and HTTP/2 calls, WSS, TLS policy, CORS, limits and error shapes.

#![allow(clippy::unwrap_used)]

mod common;
mod cors;
mod http;
mod tls;
mod ws;
