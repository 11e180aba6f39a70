//! A small JSON-RPC client over HTTPS for the operator commands (`stele status`,
//! `stele verify-block`, `stele up`'s readiness check): hyper HTTP/1.1 over tokio-rustls,
//! trusting only the CA file given (the cluster's or the dev CA), TLS 1.3.

use anyhow::{anyhow, bail, Context};
use http_body_util::{BodyExt, Full};
use hyper::Request;
use rustls_pki_types::ServerName;
use serde::de::DeserializeOwned;
use std::{path::Path, sync::Arc};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// One endpoint.
#[derive(Clone)]
pub(crate) struct RpcClient {
    host: String,
    port: u16,
    connector: TlsConnector,
}

impl RpcClient {
    /// `url` is `https://host:port`; `ca` the PEM file of the CA to trust.
    pub(crate) fn new(url: &str, ca: &Path) -> anyhow::Result<Self> {
        let rest = url.strip_prefix("https://").ok_or_else(|| anyhow!("{url}: only https:// endpoints exist (TLS only)"))?;
        let authority = rest.split('/').next().unwrap_or(rest);
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) => (h.trim_start_matches('[').trim_end_matches(']').to_string(), p.parse().with_context(|| format!("{url}: bad port"))?),
            None => (authority.to_string(), 443),
        };
        let mut roots = rustls::RootCertStore::empty();
        for cert in stele_rpc::tls::load_certs(ca)? {
            roots.add(cert).with_context(|| format!("{}: not a usable CA certificate", ca.display()))?;
        }
        let config = rustls::ClientConfig::builder_with_provider(stele_rpc::tls::crypto_provider())
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Self { host, port, connector: TlsConnector::from(Arc::new(config)) })
    }

    /// Calls `method` with `params` and decodes the result.
    pub(crate) async fn call<T: DeserializeOwned>(&self, method: &str, params: serde_json::Value) -> anyhow::Result<T> {
        let tcp = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .with_context(|| format!("cannot connect to {}:{}", self.host, self.port))?;
        let name = ServerName::try_from(self.host.clone()).map_err(|e| anyhow!("{}: {e}", self.host))?;
        let tls = self.connector.connect(name, tcp).await.with_context(|| format!("TLS handshake with {}:{}", self.host, self.port))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls)).await?;
        tokio::spawn(connection);
        let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string();
        let request = Request::post("/")
            .header("content-type", "application/json")
            .header("host", format!("{}:{}", self.host, self.port))
            .body(Full::new(bytes::Bytes::from(body)))?;
        let response = sender.send_request(request).await?;
        let status = response.status();
        let bytes = response.into_body().collect().await?.to_bytes();
        if !status.is_success() {
            bail!("{method}: HTTP {status}: {}", String::from_utf8_lossy(&bytes));
        }
        let reply: serde_json::Value = serde_json::from_slice(&bytes).with_context(|| format!("{method}: reply is not JSON"))?;
        if let Some(err) = reply.get("error") {
            bail!("{method}: {err}");
        }
        Ok(serde_json::from_value(reply.get("result").cloned().unwrap_or(serde_json::Value::Null))?)
    }
}
