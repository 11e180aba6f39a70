//! CORS preflights: wallet-extension origins allowed by default, other origins only when
//! configured.

use bytes::Bytes;
use http_body_util::Full;

use crate::common::{Alpn, Reply, TestServer, post};

async fn preflight(server: &TestServer, origin: &str) -> Reply {
    let request = ::http::Request::options("/")
        .header(::http::header::HOST, "localhost")
        .header(::http::header::ORIGIN, origin)
        .header(::http::header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .header(::http::header::ACCESS_CONTROL_REQUEST_HEADERS, "content-type")
        .body(Full::new(Bytes::new()))
        .unwrap();
    server.send(Alpn::Http1, request).await
}

fn allowed_origin(reply: &Reply) -> Option<&str> {
    reply.headers.get(::http::header::ACCESS_CONTROL_ALLOW_ORIGIN).and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn wallet_extensions_allowed_random_origin_not() {
    let server = TestServer::start().await;
    for origin in ["chrome-extension://nkbihfbeogaeaoehlefnkodbefgpgknn", "moz-extension://6b5d0a3f-0000-4000-8000-000000000001"] {
        let reply = preflight(&server, origin).await;
        assert!(reply.status.is_success(), "{origin}: {}", reply.status);
        assert_eq!(allowed_origin(&reply), Some(origin));
        let methods = reply.headers.get(::http::header::ACCESS_CONTROL_ALLOW_METHODS).unwrap().to_str().unwrap();
        assert!(methods.contains("POST"), "{methods}");
        let headers = reply.headers.get(::http::header::ACCESS_CONTROL_ALLOW_HEADERS).unwrap().to_str().unwrap();
        assert!(headers.contains("content-type"), "{headers}");
    }
    let evil = preflight(&server, "https://evil.example").await;
    assert_eq!(allowed_origin(&evil), None);

    // A real POST from an extension carries the header too.
    let mut request = post(r#"{"jsonrpc":"2.0","id":1,"method":"net_version"}"#);
    request.headers_mut().insert(::http::header::ORIGIN, "chrome-extension://abc".parse().unwrap());
    let reply = server.send(Alpn::H2, request).await;
    assert_eq!(allowed_origin(&reply), Some("chrome-extension://abc"));
}

#[tokio::test]
async fn configured_origins_only() {
    let server = TestServer::start_with(
        |c| {
            c.cors.wallet_extensions = stele_rpc::config::WalletExtensions::Deny;
            c.cors.allowed_origins = vec!["https://app.example.com".into()];
        },
        |s| s,
    )
    .await;
    assert_eq!(allowed_origin(&preflight(&server, "https://app.example.com").await), Some("https://app.example.com"));
    assert_eq!(allowed_origin(&preflight(&server, "chrome-extension://abc").await), None);
    assert_eq!(allowed_origin(&preflight(&server, "https://other.example.com").await), None);
}

#[tokio::test]
async fn private_network_preflight_for_allowed_origins() {
    let server = TestServer::start_with(|c| c.cors.allowed_origins = vec!["https://app.example.com".into()], |s| s).await;
    let ask = |origin: &'static str| {
        ::http::Request::options("/")
            .header(::http::header::HOST, "localhost")
            .header(::http::header::ORIGIN, origin)
            .header(::http::header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .header("access-control-request-private-network", "true")
            .body(Full::new(Bytes::new()))
            .unwrap()
    };
    let ok = server.send(Alpn::Http1, ask("https://app.example.com")).await;
    assert_eq!(ok.headers.get("access-control-allow-private-network").map(|v| v.to_str().unwrap()), Some("true"));
    let no = server.send(Alpn::Http1, ask("https://evil.example")).await;
    assert_eq!(no.headers.get("access-control-allow-private-network"), None);
}
