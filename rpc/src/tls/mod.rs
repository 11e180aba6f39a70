//! TLS for the RPC endpoint: read the certificate chain and key from PEM files, build the
//! rustls server configuration (TLS 1.3 by default, ALPN `h2` then `http/1.1`, optional
//! client certificates), and compute certificate fingerprints for the appliance banner.
//!
//! The crypto provider is rustls' `ring` provider, chosen over aws-lc-rs because it builds
//! without cmake or NASM and quickly on our 2-core machines.

pub mod dev_ca;

use std::{fmt, path::Path, sync::Arc};

use rustls::{
    ServerConfig,
    crypto::CryptoProvider,
    server::{WebPkiClientVerifier, danger::ClientCertVerifier},
    version::{TLS12, TLS13},
};
use rustls_pki_types::{
    CertificateDer, PrivateKeyDer,
    pem::{self, PemObject},
};
use sha2::{Digest, Sha256};

use crate::{
    config::{MinTlsVersion, TlsConfig},
    error::TlsError,
};

/// ALPN identifiers offered, preferred first. WebSocket clients offer only `http/1.1`
/// (jsonrpsee upgrades over HTTP/1.1), HTTP clients usually offer both and get `h2`.
pub const ALPN_PROTOCOLS: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// The crypto provider every TLS object of this crate uses.
pub fn crypto_provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Reads every `CERTIFICATE` block of a PEM file, leaf first.
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| pem_error(path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(path, e))?;
    if certs.is_empty() {
        return Err(TlsError::Pem {
            path: path.to_path_buf(),
            reason: "no CERTIFICATE block found".into(),
        });
    }
    Ok(certs)
}

/// Reads the first private key (PKCS#8, SEC1 or PKCS#1) of a PEM file.
pub fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| pem_error(path, e))
}

fn pem_error(path: &Path, err: pem::Error) -> TlsError {
    match err {
        pem::Error::Io(source) => TlsError::Io { path: path.to_path_buf(), source },
        pem::Error::NoItemsFound => TlsError::Pem {
            path: path.to_path_buf(),
            reason: "no matching PEM block found".into(),
        },
        other => TlsError::Pem { path: path.to_path_buf(), reason: other.to_string() },
    }
}

/// Builds the server's rustls configuration from the configured PEM files.
///
/// # Errors
/// A missing or malformed file, a key that does not match the leaf certificate, or a
/// client CA bundle with no usable certificate.
pub fn server_config(tls: &TlsConfig) -> Result<ServerConfig, TlsError> {
    let certs = load_certs(&tls.cert_file)?;
    let key = load_key(&tls.key_file)?;
    let provider = crypto_provider();
    let versions: &[&rustls::SupportedProtocolVersion] = match tls.dangerous.min_version {
        MinTlsVersion::Tls13 => &[&TLS13],
        MinTlsVersion::Tls12 => &[&TLS13, &TLS12],
    };
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)?;
    let builder = match &tls.client_ca_file {
        None => builder.with_no_client_auth(),
        Some(path) => builder.with_client_cert_verifier(client_verifier(path, provider)?),
    };
    // `with_single_cert` checks that the key matches the leaf's public key.
    let mut config = builder.with_single_cert(certs, key)?;
    config.alpn_protocols = ALPN_PROTOCOLS.iter().map(|p| p.to_vec()).collect();
    Ok(config)
}

/// Client certificates are optional: a client with one must chain to the bundle, a client
/// without one is let through to the auth layer, which decides (token, or anonymous).
fn client_verifier(
    path: &Path,
    provider: Arc<CryptoProvider>,
) -> Result<Arc<dyn ClientCertVerifier>, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in load_certs(path)? {
        roots.add(cert).map_err(|e| TlsError::ClientCa {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    }
    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
        .allow_unauthenticated()
        .build()
        .map_err(|e| TlsError::ClientCa { path: path.to_path_buf(), reason: e.to_string() })
}

/// SHA-256 fingerprint of a DER certificate, shown as `AB:CD:…` (openssl's format) on the
/// appliance console so a user can check the certificate their wallet sees.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// Fingerprint of one DER-encoded certificate.
    pub fn of(cert: &CertificateDer<'_>) -> Self {
        Self(Sha256::digest(cert.as_ref()).into())
    }

    /// Fingerprint of the first certificate in a PEM file (the leaf of a chain).
    pub fn of_pem_file(path: &Path) -> Result<Self, TlsError> {
        let certs = load_certs(path)?;
        // `load_certs` never returns an empty list.
        certs.first().map(Self::of).ok_or_else(|| TlsError::Pem {
            path: path.to_path_buf(),
            reason: "no CERTIFICATE block found".into(),
        })
    }

    /// The raw digest.
    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// A fingerprint from its 32 raw bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }
}

impl std::str::FromStr for Fingerprint {
    type Err = String;

    /// Accepts openssl's `AB:CD:…` form and plain hex (with or without `0x`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let cleaned: String = s.trim().trim_start_matches("0x").chars().filter(|c| *c != ':').collect();
        let bytes = hex::decode(&cleaned).map_err(|e| format!("fingerprint {s:?} is not hex: {e}"))?;
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| format!("fingerprint {s:?} has {} bytes; a SHA-256 has 32", b.len()))?;
        Ok(Self(bytes))
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, byte) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{byte:02X}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_matches_sha256_of_der() {
        let der = CertificateDer::from(vec![1u8, 2, 3]);
        let fp = Fingerprint::of(&der);
        // sha256(01 02 03)
        assert!(fp.to_string().starts_with("03:90:58:C6:F2:C0:CB:49"), "{fp}");
        assert_eq!(fp.to_string().len(), 32 * 3 - 1);
    }

    #[test]
    fn missing_and_empty_files_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.pem");
        assert!(matches!(load_certs(&missing), Err(TlsError::Io { .. })));
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not pem at all\n").unwrap();
        let err = load_certs(&empty).unwrap_err();
        assert!(err.to_string().contains("empty.pem"), "{err}");
        assert!(load_key(&empty).is_err());
    }
}
