//! The cluster's certificates: one CA per cluster and, per replica, a certificate whose
//! identity is `replica-<id>.stele` plus the replica's host names and addresses. The same
//! certificate authenticates the replica to its peers (client and server) and serves its
//! JSON-RPC; peers pin it by SHA-256 fingerprint in their configs.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use stele_consensus::ReplicaId;
use stele_rpc::tls::Fingerprint;
use time::{Duration, OffsetDateTime};

/// CA lifetime: a cluster outlives many renewals of its replicas.
const CA_VALIDITY_DAYS: i64 = 3_650;
/// Replica certificate lifetime.
const REPLICA_VALIDITY_DAYS: i64 = 825;
/// Tolerated clock skew at issue time.
const CLOCK_SKEW_SECS: i64 = 300;

/// Certificate generation failed.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// rcgen refused the parameters or the key.
    #[error("certificate generation: {0}")]
    Rcgen(#[from] rcgen::Error),
}

/// The identity name of a replica inside its certificate.
pub fn replica_dns_name(id: ReplicaId) -> String {
    format!("replica-{}.stele", id.get())
}

/// A cluster CA that can issue replica certificates.
pub struct ClusterCa {
    cert_pem: String,
    key_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl std::fmt::Debug for ClusterCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterCa").finish_non_exhaustive()
    }
}

/// A replica's certificate and key, and the pin peers put in their configs.
#[derive(Debug, Clone)]
pub struct ReplicaIdentity {
    /// PEM: the replica certificate followed by the CA certificate.
    pub cert_pem: String,
    /// PEM private key.
    pub key_pem: String,
    /// SHA-256 of the replica certificate (DER).
    pub fingerprint: Fingerprint,
}

impl ClusterCa {
    /// A new CA for the cluster `name`.
    pub fn generate(name: &str) -> Result<Self, PkiError> {
        let key = KeyPair::generate()?;
        let now = OffsetDateTime::now_utc();
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::OrganizationName, "stele");
        params.distinguished_name.push(DnType::CommonName, format!("{name} cluster CA"));
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.not_before = now - Duration::seconds(CLOCK_SKEW_SECS);
        params.not_after = now + Duration::days(CA_VALIDITY_DAYS);
        let cert = params.self_signed(&key)?;
        Ok(Self { cert_pem: cert.pem(), key_pem: key.serialize_pem(), issuer: Issuer::new(params, key) })
    }

    /// Loads a CA written earlier (to issue a replacement or an extra replica).
    pub fn load(cert_pem: &str, key_pem: &str) -> Result<Self, PkiError> {
        let issuer = Issuer::from_ca_cert_pem(cert_pem, KeyPair::from_pem(key_pem)?)?;
        Ok(Self { cert_pem: cert_pem.to_string(), key_pem: key_pem.to_string(), issuer })
    }

    /// The CA certificate (PEM): every replica and client trusts it.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA private key (PEM): keep it offline.
    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    /// Issues replica `id`'s certificate for `hosts` (IP addresses become IP SANs).
    pub fn issue_replica(&self, id: ReplicaId, hosts: &[String]) -> Result<ReplicaIdentity, PkiError> {
        let key = KeyPair::generate()?;
        let now = OffsetDateTime::now_utc();
        let mut names = vec![replica_dns_name(id)];
        names.extend(hosts.iter().filter(|h| **h != replica_dns_name(id)).cloned());
        let mut params = CertificateParams::new(names)?;
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::OrganizationName, "stele");
        params.distinguished_name.push(DnType::CommonName, replica_dns_name(id));
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
        params.use_authority_key_identifier_extension = true;
        params.not_before = now - Duration::seconds(CLOCK_SKEW_SECS);
        params.not_after = now + Duration::days(REPLICA_VALIDITY_DAYS);
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(ReplicaIdentity {
            cert_pem: format!("{}{}", cert.pem(), self.cert_pem),
            key_pem: key.serialize_pem(),
            fingerprint: Fingerprint::of(cert.der()),
        })
    }
}
