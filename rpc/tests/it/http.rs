//! HTTPS calls over HTTP/1.1 and HTTP/2: real methods, geth-shaped errors for malformed
//! JSON, unknown methods, oversized batches, bodies and responses, and timeouts — and the
//! server keeps serving after each.

use serde_json::{Value, json};

use crate::common::{Alpn, CHAIN_ID, TestServer, post};

/// The server still answers a normal call.
async fn assert_alive(server: &TestServer) {
    let reply = server.call("web3_clientVersion", json!([])).await;
    assert!(reply["result"].as_str().unwrap().starts_with("stele/v"), "{reply}");
}

fn error_code(reply: &Value) -> i64 {
    reply["error"]["code"].as_i64().unwrap_or_else(|| panic!("no error code in {reply}"))
}

#[tokio::test]
async fn http1_and_http2_calls() {
    let server = TestServer::start().await;
    let body = json!({"jsonrpc":"2.0","id":7,"method":"net_version"}).to_string();

    let h1 = server.post_h1(body.clone()).await;
    assert_eq!(h1.version, ::http::Version::HTTP_11);
    assert_eq!(h1.json()["result"], json!(CHAIN_ID.to_string()));
    assert_eq!(h1.json()["id"], json!(7));

    let h2 = server.post_h2(body).await;
    assert_eq!(h2.version, ::http::Version::HTTP_2);
    assert_eq!(h2.json()["result"], json!(CHAIN_ID.to_string()));
}

#[tokio::test]
async fn chain_free_methods() {
    let server = TestServer::start().await;
    assert_eq!(server.call("net_peerCount", json!([])).await["result"], json!("0x2"));
    assert_eq!(server.call("net_listening", json!([])).await["result"], json!(true));
    let version = server.call("web3_clientVersion", json!([])).await;
    assert!(version["result"].as_str().unwrap().starts_with(concat!("stele/v", env!("CARGO_PKG_VERSION"))));
    let sha = server.call("web3_sha3", json!(["0x68656c6c6f20776f726c64"])).await;
    assert_eq!(
        sha["result"],
        json!("0x47173285a8d7341e5e972fc677286384f802f8ef42a5ec5f03bbfa254cb01fad")
    );
    let bad = server.call("web3_sha3", json!(["68656c6c6f"])).await;
    assert_eq!(error_code(&bad), -32602);
}

#[tokio::test]
async fn request_ids_are_echoed_unchanged() {
    // MetaMask sends large integers, UUID strings and decimal strings (jsonrpc.md).
    let server = TestServer::start().await;
    for id in [json!(1_700_000_000_123_456_u64), json!("0b7f6c1e-6d0e-4b8a-9a57-3f1f3e0d2c11"), json!("42")] {
        let body = json!({"jsonrpc":"2.0","id":id,"method":"net_listening"}).to_string();
        assert_eq!(server.post_h1(body).await.json()["id"], id);
    }
}

#[tokio::test]
async fn malformed_json_is_a_parse_error() {
    let server = TestServer::start().await;
    for body in [r#"{"jsonrpc":"2.0","id":1,"method":"#, "not json at all", r#"[{"jsonrpc":"2.0","#] {
        let reply = server.post_h1(body).await;
        assert_eq!(error_code(&reply.json()), -32700, "{body}: {}", reply.body);
        assert_eq!(reply.json()["error"]["message"], json!("parse error"), "{body}");
        assert_alive(&server).await;
    }
    // geth's wording for objects that are not requests, alone and inside a batch.
    for body in [r#"{"jsonrpc":"2.0","id":1}"#, r#"{"jsonrpc":"1.0","id":1,"method":"net_version"}"#] {
        let reply = server.post_h1(body).await.json();
        assert_eq!(error_code(&reply), -32600, "{body}: {reply}");
        assert_eq!(reply["error"]["message"], json!("invalid request"), "{body}");
    }
    let batch = server.post_h2("[1]").await.json();
    assert_eq!(batch[0]["error"], json!({"code": -32600, "message": "invalid request"}));
    assert_alive(&server).await;
}

#[tokio::test]
async fn unknown_method_uses_geth_wording() {
    let server = TestServer::start().await;
    for alpn in [Alpn::Http1, Alpn::H2] {
        let body = json!({"jsonrpc":"2.0","id":"a","method":"anvil_nodeInfo","params":[]});
        let reply = server.send(alpn, post(body.to_string())).await.json();
        assert_eq!(error_code(&reply), -32601);
        assert_eq!(reply["error"]["message"], json!("the method anvil_nodeInfo does not exist/is not available"));
        assert_eq!(reply["id"], json!("a"));
    }
    assert_alive(&server).await;
}

#[tokio::test]
async fn batches_within_and_over_the_limit() {
    let server = TestServer::start_with(|c| c.limits.batch_requests_max = 3, |s| s).await;
    let call = |id: u64| json!({"jsonrpc":"2.0","id":id,"method":"net_version"});

    let ok = server.post_h1(json!([call(1), call(2), json!({"jsonrpc":"2.0","id":3,"method":"nope"})]).to_string()).await.json();
    let answers = ok.as_array().unwrap();
    assert_eq!(answers.len(), 3);
    assert!(answers.iter().any(|a| a["id"] == json!(3) && a["error"]["code"] == json!(-32601)), "{ok}");
    assert!(answers.iter().filter(|a| a["result"] == json!(CHAIN_ID.to_string())).count() == 2, "{ok}");

    // Over the limit: one error in an array, carrying the first call's id (geth).
    let over = server.post_h1(json!([call(10), call(11), call(12), call(13)]).to_string()).await;
    assert_eq!(over.status, ::http::StatusCode::OK);
    let over = over.json();
    let errors = over.as_array().unwrap_or_else(|| panic!("not an array: {over}"));
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["id"], json!(10));
    assert_eq!(errors[0]["error"]["code"], json!(-32600));
    assert!(errors[0]["error"]["message"].as_str().unwrap().contains("batch too large"));
    assert_alive(&server).await;

    let empty = server.post_h1("[]").await.json();
    assert_eq!(error_code(&empty), -32600);
    assert_alive(&server).await;
}

#[tokio::test]
async fn thousand_call_batch_is_served_by_default() {
    let server = TestServer::start().await;
    let batch: Vec<Value> = (0..1_000).map(|i| json!({"jsonrpc":"2.0","id":i,"method":"net_listening"})).collect();
    let reply = server.post_h2(Value::Array(batch).to_string()).await.json();
    assert_eq!(reply.as_array().unwrap().len(), 1_000);
    let batch: Vec<Value> = (0..1_001).map(|i| json!({"jsonrpc":"2.0","id":i,"method":"net_listening"})).collect();
    let reply = server.post_h2(Value::Array(batch).to_string()).await.json();
    assert_eq!(reply[0]["error"]["code"], json!(-32600), "{reply}");
}

#[tokio::test]
async fn oversized_body_is_a_json_rpc_error() {
    let server = TestServer::start_with(|c| c.limits.request_bytes_max = 1_024, |s| s).await;
    let padding = "x".repeat(2_000);
    let body = json!({"jsonrpc":"2.0","id":1,"method":"web3_sha3","params":[padding]}).to_string();
    for alpn in [Alpn::Http1, Alpn::H2] {
        let reply = server.send(alpn, post(body.clone())).await;
        assert_eq!(reply.status, ::http::StatusCode::PAYLOAD_TOO_LARGE);
        let json = reply.json();
        assert_eq!(error_code(&json), -32600);
        assert!(json["error"]["message"].as_str().unwrap().starts_with("content length too large"), "{json}");
        assert_alive(&server).await;
    }
}

#[tokio::test]
async fn oversized_response_and_slow_call_get_geth_errors() {
    let server = TestServer::start_with(
        |c| {
            c.limits.response_bytes_max = 4_096;
            c.limits.request_timeout_ms = 600; // margin for a loaded CI machine
        },
        |s| s,
    )
    .await;
    let big = server.call("test_echoBytes", json!([10_000])).await;
    assert_eq!(error_code(&big), -32003, "{big}");
    assert_eq!(big["error"]["message"], json!("response too large"));
    let small = server.call("test_echoBytes", json!([10])).await;
    assert_eq!(small["result"], json!("xxxxxxxxxx"));

    let slow = server.call("test_sleep", json!([2_000])).await;
    assert_eq!(error_code(&slow), -32002, "{slow}");
    assert_eq!(slow["error"]["message"], json!("request timed out"));
    assert_alive(&server).await;
}

#[tokio::test]
async fn stop_closes_the_listener() {
    let mut server = TestServer::start().await;
    assert_alive(&server).await;
    server.stop().await;
    assert!(tokio::net::TcpStream::connect(server.addr).await.is_err(), "still accepting after stop");
}

#[tokio::test]
async fn chunked_oversized_body_is_refused_while_reading() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let server = TestServer::start_with(|c| c.limits.request_bytes_max = 1_024, |s| s).await;
    let config = crate::common::client_config(&server.ca, Alpn::Http1, None);
    let mut tls = crate::common::connect(server.addr, config).await.unwrap();
    // No Content-Length: the limit can only be enforced while the body streams in.
    let head = "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
    tls.write_all(head.as_bytes()).await.unwrap();
    let chunk = "x".repeat(512);
    for _ in 0..4 {
        let framed = format!("{:x}\r\n{chunk}\r\n", chunk.len());
        if tls.write_all(framed.as_bytes()).await.is_err() {
            break; // the server may already have answered and closed
        }
    }
    let _ = tls.write_all(b"0\r\n\r\n").await;
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(std::time::Duration::from_secs(5), tls.read(&mut answer)).await.unwrap().unwrap();
    let text = String::from_utf8_lossy(&answer[..n]);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(text.contains("content length too large"), "{text}");
    assert_alive(&server).await;
}

#[tokio::test]
async fn connection_limit_closes_extra_connections() {
    let server = TestServer::start_with(|c| c.limits.connections_max = 2, |s| s).await;
    let config = crate::common::client_config(&server.ca, Alpn::Http1, None);
    let first = crate::common::connect(server.addr, config.clone()).await.unwrap();
    let second = crate::common::connect(server.addr, config.clone()).await.unwrap();
    let third = crate::common::connect(server.addr, config.clone()).await;
    assert!(third.is_err(), "a third connection was served with connections_max = 2");
    drop(first);
    // The slot is released when the server notices the close.
    let mut reconnected = None;
    for _ in 0..50 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        if let Ok(stream) = crate::common::connect(server.addr, config.clone()).await {
            reconnected = Some(stream);
            break;
        }
    }
    let stream = reconnected.expect("slot never released");
    let reply = crate::common::send_on(stream, Alpn::Http1, post(r#"{"jsonrpc":"2.0","id":1,"method":"net_listening"}"#)).await;
    assert_eq!(reply.json()["result"], json!(true));
    drop(second);
}

#[tokio::test]
async fn notifications_get_an_empty_body() {
    let server = TestServer::start().await;
    let single = server.post_h1(r#"{"jsonrpc":"2.0","method":"net_version"}"#).await;
    assert_eq!(single.status, ::http::StatusCode::OK);
    assert_eq!(single.body, "");
    let batch = server.post_h2(r#"[{"jsonrpc":"2.0","method":"net_version"},{"jsonrpc":"2.0","method":"nope"}]"#).await;
    assert_eq!(batch.status, ::http::StatusCode::OK);
    assert_eq!(batch.body, "");
    // A mixed batch answers only the calls.
    let mixed = server.post_h1(r#"[{"jsonrpc":"2.0","method":"net_version"},{"jsonrpc":"2.0","id":5,"method":"net_listening"}]"#).await.json();
    assert_eq!(mixed, json!([{"jsonrpc":"2.0","id":5,"result":true}]));
}

#[tokio::test]
async fn dropping_the_handle_stops_the_server() {
    let mut server = TestServer::start().await;
    drop(server.handle.take());
    let mut closed = false;
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(server.addr).await.is_err() {
            closed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(closed, "still accepting after the handle was dropped");
}

#[tokio::test]
async fn subscriptions_over_http_are_refused_like_geth() {
    let server = TestServer::start().await;
    for method in ["test_subscribeTicks", "test_unsubscribeTicks"] {
        let reply = server.call(method, json!(["0x1"])).await;
        assert_eq!(error_code(&reply), -32601, "{reply}");
        assert_eq!(reply["error"]["message"], json!("notifications not supported"));
    }
    assert_alive(&server).await;
}
