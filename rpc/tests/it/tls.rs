//! TLS policy on the wire: plaintext refused without an HTTP answer, TLS 1.2 only when
//! configured, the fingerprint matches what clients see, and client certificates reach
//! the authentication layer and method handlers; auth and rate-limit refusals are JSON-RPC.

use std::{sync::Arc, time::Duration};

use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::json;
use stele_rpc::{
    layers::{
        auth::{AuthError, Authenticator, Authorizer, Caller, Denied, Principal, Scope},
        identity::TlsPeer,
        rate::{RateLimited, RateLimiter},
    },
    tls::{Fingerprint, dev_ca},
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::{Alpn, TestServer, client_config, client_config_versions, connect, post, send_on};

#[tokio::test]
async fn plaintext_http_gets_no_http_response() {
    let server = TestServer::start().await;
    let mut tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"net_version"}"#;
    let request = format!(
        "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    // The server closes after the failed handshake (at most a TLS alert is sent).
    let read = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "connection left open");
    assert!(!answer.starts_with(b"HTTP/"), "got an HTTP answer: {:?}", String::from_utf8_lossy(&answer));
    assert!(answer.len() < 16, "more than a TLS alert came back: {answer:?}");
    // And it still serves TLS clients.
    assert_eq!(server.call("net_listening", json!([])).await["result"], json!(true));
}

#[tokio::test]
async fn tls12_only_with_the_dangerous_option() {
    let tls12 = [&rustls::version::TLS12];
    let strict = TestServer::start().await;
    let config = client_config_versions(&strict.ca, Alpn::Http1, None, &tls12);
    assert!(connect(strict.addr, config).await.is_err(), "TLS 1.2 accepted by default");

    let lax = TestServer::start_with(
        |c| c.tls.dangerous.min_version = stele_rpc::config::MinTlsVersion::Tls12,
        |s| s,
    )
    .await;
    let config = client_config_versions(&lax.ca, Alpn::Http1, None, &tls12);
    let stream = connect(lax.addr, config).await.unwrap();
    assert_eq!(stream.get_ref().1.protocol_version(), Some(rustls::ProtocolVersion::TLSv1_2));
    let reply = send_on(stream, Alpn::Http1, post(r#"{"jsonrpc":"2.0","id":1,"method":"net_listening"}"#)).await;
    assert_eq!(reply.json()["result"], json!(true));
}

#[tokio::test]
async fn default_is_tls13_and_fingerprint_matches() {
    let server = TestServer::start().await;
    let stream = connect(server.addr, client_config(&server.ca, Alpn::H2, None)).await.unwrap();
    let conn = stream.get_ref().1;
    assert_eq!(conn.protocol_version(), Some(rustls::ProtocolVersion::TLSv1_3));
    assert_eq!(conn.alpn_protocol(), Some(&b"h2"[..]));
    let seen = Fingerprint::of(&conn.peer_certificates().unwrap()[0]);
    let on_disk = Fingerprint::of_pem_file(&server.tls_dir().join(dev_ca::SERVER_CERT_FILE)).unwrap();
    assert_eq!(seen, on_disk);
}

/// A client CA and one client certificate signed by it.
fn client_pki() -> (String, (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["client-1.consortium".to_string()]).unwrap();
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let cert = params.signed_by(&key, &issuer).unwrap();
    let key_der = PrivateKeyDer::Pkcs8(key.serialize_der().into());
    (ca_cert.pem(), (vec![cert.der().clone()], key_der))
}

/// Certificate holders get `eth:read`; everyone else is refused.
struct RequireCertificate;

impl Authenticator for RequireCertificate {
    fn authenticate(&self, peer: Option<&TlsPeer>, _: &::http::HeaderMap) -> Result<Caller, AuthError> {
        let fingerprint = peer.and_then(TlsPeer::client_fingerprint).ok_or(AuthError::MissingCredentials)?;
        Ok(Caller { principal: Principal::Certificate(fingerprint), scopes: [Scope::EthRead].into() })
    }
}

/// `web3_sha3` needs `admin` (an arbitrary rule to exercise the hook).
struct Sha3NeedsAdmin;

impl Authorizer for Sha3NeedsAdmin {
    fn authorize(&self, caller: Option<&Caller>, method: &str) -> Result<(), Denied> {
        let admin = caller.is_some_and(|c| c.scopes.contains(&Scope::Admin));
        if method == "web3_sha3" && !admin {
            return Err(Denied { method: method.into(), required: Scope::Admin });
        }
        Ok(())
    }
}

#[tokio::test]
async fn client_certificates_reach_auth_and_handlers() {
    let (ca_pem, client) = client_pki();
    let dir = tempfile::tempdir().unwrap();
    let ca_path = dir.path().join("clients.pem");
    std::fs::write(&ca_path, ca_pem).unwrap();
    let server = TestServer::start_with(
        |c| c.tls.client_ca_file = Some(ca_path.clone()),
        |s| s.with_authenticator(Arc::new(RequireCertificate)).with_authorizer(Arc::new(Sha3NeedsAdmin)),
    )
    .await;

    // Without a certificate: the TLS handshake succeeds, authentication refuses.
    let anonymous = server.post_h1(r#"{"jsonrpc":"2.0","id":1,"method":"test_whoami"}"#).await;
    assert_eq!(anonymous.status, ::http::StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.json()["error"]["code"], json!(-32001));

    // With one: the handler sees the principal, the authorizer applies per method.
    let expected = Fingerprint::of(&client.0[0]);
    let whoami = |body: &'static str| {
        let config = client_config(&server.ca, Alpn::H2, Some((client.0.clone(), client.1.clone_key())));
        async move {
            let stream = connect(server.addr, config).await.unwrap();
            send_on(stream, Alpn::H2, post(body)).await.json()
        }
    };
    let reply = whoami(r#"{"jsonrpc":"2.0","id":1,"method":"test_whoami"}"#).await;
    assert_eq!(reply["result"], json!(format!("Certificate(Fingerprint({expected}))")));
    let denied = whoami(r#"[{"jsonrpc":"2.0","id":1,"method":"web3_sha3","params":["0x"]},{"jsonrpc":"2.0","id":2,"method":"net_listening"}]"#).await;
    let denied = denied.as_array().unwrap();
    assert!(denied.iter().any(|r| r["id"] == json!(1) && r["error"]["code"] == json!(-32001)), "{denied:?}");
    assert!(denied.iter().any(|r| r["id"] == json!(2) && r["result"] == json!(true)), "{denied:?}");

    // A certificate from another CA fails the handshake itself.
    let (_, stranger) = client_pki();
    let config = client_config(&server.ca, Alpn::Http1, Some(stranger));
    let refused = match connect(server.addr, config).await {
        Err(_) => true,
        // TLS 1.3 client auth fails after the client's handshake completes: the first read fails.
        Ok(mut stream) => {
            let _ = stream.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n").await;
            let mut buf = Vec::new();
            stream.read_to_end(&mut buf).await.is_err() || buf.is_empty()
        }
    };
    assert!(refused, "a certificate from an unknown CA was accepted");
}

/// Refuses everything, to show where the rate limiter sits and what it answers.
struct Closed;

impl RateLimiter for Closed {
    fn check(&self, caller: Option<&Caller>, _: Option<&TlsPeer>) -> Result<(), RateLimited> {
        assert!(caller.is_some(), "rate limiter ran before authentication");
        Err(RateLimited { retry_after: Duration::from_secs(3) })
    }
}

#[tokio::test]
async fn rate_limit_refusal_is_json_rpc_429() {
    let server = TestServer::start_with(|_| {}, |s| s.with_rate_limiter(Arc::new(Closed))).await;
    let reply = server.post_h1(r#"{"jsonrpc":"2.0","id":1,"method":"net_version"}"#).await;
    assert_eq!(reply.status, ::http::StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(reply.headers.get(::http::header::RETRY_AFTER).unwrap(), "3");
    assert_eq!(reply.json()["error"]["code"], json!(-32005));
}

#[tokio::test]
async fn configured_rate_limit_refuses_past_the_burst() {
    let server = TestServer::start_with(
        |c| c.rate_limit = Some(stele_rpc::config::RateLimitConfig { requests_per_second: 1, burst: 2 }),
        |s| s,
    )
    .await;
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"net_version"}"#;
    assert_eq!(server.post_h1(body).await.status, ::http::StatusCode::OK);
    assert_eq!(server.post_h2(body).await.status, ::http::StatusCode::OK);
    let third = server.post_h1(body).await;
    assert_eq!(third.status, ::http::StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(third.json()["error"]["code"], json!(-32005));
}
