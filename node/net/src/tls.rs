//! TLS 1.3 with mutual authentication between replicas. Chains are checked by webpki against
//! the cluster CA; on top of that the leaf's SHA-256 must be the pin the config holds for
//! that replica, so a certificate from the right CA with the wrong identity is refused.

use crate::{NetConfig, NetError};
use rustls::{server::WebPkiClientVerifier, ClientConfig, RootCertStore, ServerConfig};
use rustls_pki_types::CertificateDer;
use std::sync::Arc;
use stele_rpc::tls::{crypto_provider, load_certs, load_key, Fingerprint};

/// The connection's peer certificate fingerprint (the leaf), if any.
pub(crate) fn peer_fingerprint(certs: Option<&[CertificateDer<'_>]>) -> Option<Fingerprint> {
    certs.and_then(|c| c.first()).map(Fingerprint::of)
}

fn roots(cfg: &NetConfig) -> Result<RootCertStore, NetError> {
    let mut roots = RootCertStore::empty();
    for cert in load_certs(&cfg.ca_pem).map_err(|e| NetError::Tls(e.to_string()))? {
        roots.add(cert).map_err(|e| NetError::Tls(format!("{}: {e}", cfg.ca_pem.display())))?;
    }
    Ok(roots)
}

/// Both sides' rustls configurations.
pub(crate) fn configs(cfg: &NetConfig) -> Result<(Arc<ServerConfig>, Arc<ClientConfig>), NetError> {
    let provider = crypto_provider();
    let tls = |e: rustls::Error| NetError::Tls(e.to_string());
    let chain = load_certs(&cfg.cert_pem).map_err(|e| NetError::Tls(e.to_string()))?;
    let key = load_key(&cfg.key_pem).map_err(|e| NetError::Tls(e.to_string()))?;
    let roots = Arc::new(roots(cfg)?);
    let verifier = WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone())
        .build()
        .map_err(|e| NetError::Tls(e.to_string()))?;
    let server = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(tls)?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain.clone(), key.clone_key())
        .map_err(tls)?;
    let client = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(tls)?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(tls)?;
    Ok((Arc::new(server), Arc::new(client)))
}
