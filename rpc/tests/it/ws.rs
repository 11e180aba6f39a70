//! WSS on the same port: calls, a live subscription, the per-connection subscription limit.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::{WebSocketStream, client_async, tungstenite::Message};

use crate::common::{Alpn, CHAIN_ID, TestServer, client_config, connect};

type Ws = WebSocketStream<TlsStream<TcpStream>>;

async fn open(server: &TestServer) -> Ws {
    let tls = connect(server.addr, client_config(&server.ca, Alpn::Http1, None)).await.unwrap();
    let url = format!("wss://localhost:{}/", server.addr.port());
    let (ws, response) = client_async(url, tls).await.unwrap();
    assert_eq!(response.status(), ::http::StatusCode::SWITCHING_PROTOCOLS);
    ws
}

async fn next_json(ws: &mut Ws) -> Value {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("no message within 5 s")
            .expect("stream ended")
            .unwrap();
        match msg {
            Message::Text(text) => return serde_json::from_str(text.as_str()).unwrap(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

async fn request(ws: &mut Ws, body: Value) -> Value {
    ws.send(Message::text(body.to_string())).await.unwrap();
    next_json(ws).await
}

#[tokio::test]
async fn wss_call_and_subscription() {
    let server = TestServer::start().await;
    let mut ws = open(&server).await;

    let reply = request(&mut ws, json!({"jsonrpc":"2.0","id":1,"method":"net_version"})).await;
    assert_eq!(reply["result"], json!(CHAIN_ID.to_string()));
    let unknown = request(&mut ws, json!({"jsonrpc":"2.0","id":2,"method":"eth_nope"})).await;
    assert_eq!(unknown["error"]["code"], json!(-32601));

    let sub = request(&mut ws, json!({"jsonrpc":"2.0","id":3,"method":"test_subscribeTicks"})).await;
    let sub_id = sub["result"].clone();
    assert!(!sub_id.is_null(), "{sub}");
    for expected in 0..2u64 {
        let note = next_json(&mut ws).await;
        assert_eq!(note["method"], json!("test_tick"), "{note}");
        assert_eq!(note["params"]["subscription"], sub_id);
        assert_eq!(note["params"]["result"], json!(expected));
    }
    ws.send(Message::text(json!({"jsonrpc":"2.0","id":4,"method":"test_unsubscribeTicks","params":[sub_id]}).to_string()))
        .await
        .unwrap();
    // Ticks already in flight may arrive before the unsubscribe answer.
    loop {
        let msg = next_json(&mut ws).await;
        if msg["id"] == json!(4) {
            assert_eq!(msg["result"], json!(true));
            break;
        }
    }
    ws.close(None).await.unwrap();

    // HTTPS keeps working beside WSS on the same port.
    assert_eq!(server.call("net_listening", json!([])).await["result"], json!(true));
}

#[tokio::test]
async fn subscription_limit_per_connection() {
    let server = TestServer::start_with(|c| c.limits.ws_subscriptions_per_connection_max = 1, |s| s).await;
    let mut ws = open(&server).await;
    let first = request(&mut ws, json!({"jsonrpc":"2.0","id":1,"method":"test_subscribeTicks"})).await;
    assert!(first["result"].is_string() || first["result"].is_number(), "{first}");
    ws.send(Message::text(json!({"jsonrpc":"2.0","id":2,"method":"test_subscribeTicks"}).to_string())).await.unwrap();
    loop {
        let msg = next_json(&mut ws).await;
        if msg["id"] == json!(2) {
            assert!(msg["error"]["code"].is_i64(), "second subscription accepted: {msg}");
            break;
        }
    }
    // The connection survives the refusal.
    ws.send(Message::text(json!({"jsonrpc":"2.0","id":3,"method":"net_listening"}).to_string())).await.unwrap();
    loop {
        let msg = next_json(&mut ws).await;
        if msg["id"] == json!(3) {
            assert_eq!(msg["result"], json!(true));
            break;
        }
    }
}

#[tokio::test]
async fn oversized_ws_message_is_an_error_not_a_disconnect() {
    let server = TestServer::start_with(|c| c.limits.request_bytes_max = 1_024, |s| s).await;
    let mut ws = open(&server).await;
    let padding = "x".repeat(4_000);
    let big = json!({"jsonrpc":"2.0","id":1,"method":"web3_sha3","params":[padding]});
    let reply = request(&mut ws, big).await;
    assert_eq!(reply["error"]["code"], json!(-32007), "{reply}");
    let after = request(&mut ws, json!({"jsonrpc":"2.0","id":2,"method":"net_listening"})).await;
    assert_eq!(after["result"], json!(true));
}

#[tokio::test]
async fn unsubscribing_an_unknown_id_is_geths_error() {
    let server = TestServer::start().await;
    let mut ws = open(&server).await;
    let reply = request(&mut ws, json!({"jsonrpc":"2.0","id":1,"method":"test_unsubscribeTicks","params":["0x1234"]})).await;
    assert_eq!(reply["error"], json!({"code": -32000, "message": "subscription not found"}), "{reply}");
    let after = request(&mut ws, json!({"jsonrpc":"2.0","id":2,"method":"net_listening"})).await;
    assert_eq!(after["result"], json!(true));
}
