//! The development certificate authority `stele up` uses: a CA and a server certificate
//! for `localhost`, `127.0.0.1` and `::1`, kept in `<datadir>/tls/` and reused across runs
//! while still valid, so a developer imports `ca.pem` into a browser or wallet once.
//!
//! Files: `ca.pem`, `ca.key`, `server.pem` (leaf then CA), `server.key`; keys are mode 0600.
//! Several processes may call [`ensure_dev_tls`] on one directory at once (replicas of one
//! `stele up` cluster): a lock file serialises them and they all get the same CA.
//! The CA is name-constrained to loopback names, so a trusted dev CA that leaks cannot be
//! used to impersonate any other site.

use std::{
    fs,
    io::Write,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    path::{Path, PathBuf},
    time::{Duration as StdDuration, SystemTime},
};

use rcgen::{
    BasicConstraints, CertificateParams, CidrSubnet, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, GeneralSubtree, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    NameConstraints, PublicKeyData,
};
use rustls::{
    client::{WebPkiServerVerifier, danger::ServerCertVerifier},
    pki_types::{CertificateDer, ServerName, UnixTime},
};
use time::{Duration, OffsetDateTime};

use super::{Fingerprint, crypto_provider, load_certs};
use crate::{
    config::{TlsConfig, TlsDangerous},
    error::TlsError,
};

/// How long the dev CA is valid: long, because re-importing a CA into browsers is a chore.
pub const CA_VALIDITY_DAYS: i64 = 3_650;
/// How long a server certificate is valid: 397 days, the longest Apple and Chrome accept.
pub const SERVER_VALIDITY_DAYS: i64 = 397;
/// Certificates closer than this to expiry are replaced instead of reused.
pub const RENEW_BEFORE_DAYS: i64 = 30;
/// not_before is set this far in the past so a client clock slightly behind still accepts.
const CLOCK_SKEW_SECS: i64 = 3_600;

/// File names inside the TLS directory.
pub const CA_CERT_FILE: &str = "ca.pem";
/// The CA's private key.
pub const CA_KEY_FILE: &str = "ca.key";
/// The server chain (leaf, then CA).
pub const SERVER_CERT_FILE: &str = "server.pem";
/// The server's private key.
pub const SERVER_KEY_FILE: &str = "server.key";
/// Held (flock) while the directory is checked and written.
const LOCK_FILE: &str = ".lock";

/// Names the server certificate covers.
const SERVER_DNS_NAME: &str = "localhost";
const SERVER_IPS: [IpAddr; 2] = [IpAddr::V4(Ipv4Addr::LOCALHOST), IpAddr::V6(Ipv6Addr::LOCALHOST)];

/// What `ensure_dev_tls` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DevTlsOutcome {
    /// A new CA and server certificate were created.
    Created,
    /// The CA was kept; the server certificate was missing, invalid or near expiry and was
    /// issued again.
    ServerReissued,
    /// Both were valid and kept.
    Reused,
}

/// The dev TLS material on disk.
#[derive(Clone, Debug)]
pub struct DevTls {
    /// `ca.pem`: import this into the browser / wallet / client trust store.
    pub ca_cert: PathBuf,
    /// `server.pem`: the chain the RPC server presents.
    pub server_cert: PathBuf,
    /// `server.key`: the server's key (0600).
    pub server_key: PathBuf,
    /// SHA-256 of the CA certificate.
    pub ca_fingerprint: Fingerprint,
    /// SHA-256 of the server (leaf) certificate.
    pub server_fingerprint: Fingerprint,
    /// Whether anything was written.
    pub outcome: DevTlsOutcome,
}

impl DevTls {
    /// The RPC server's TLS settings for this material (TLS 1.3, no client certificates).
    pub fn server_tls_config(&self) -> TlsConfig {
        TlsConfig {
            cert_file: self.server_cert.clone(),
            key_file: self.server_key.clone(),
            client_ca_file: None,
            dangerous: TlsDangerous::default(),
        }
    }
}

/// Makes sure `tls_dir` holds a valid dev CA and server certificate, creating or renewing
/// what is missing, unreadable, mismatched or within [`RENEW_BEFORE_DAYS`] of expiry.
///
/// # Errors
/// The directory or files cannot be written, or key generation fails. An existing file
/// that cannot be parsed is not an error: it is replaced.
pub fn ensure_dev_tls(tls_dir: &Path) -> Result<DevTls, TlsError> {
    fs::create_dir_all(tls_dir).map_err(|source| io_err(tls_dir, source))?;
    // Replicas of one `stele up` cluster may share the directory and start together: an
    // exclusive lock makes the check-then-create atomic, so they all end up with one CA.
    let lock_path = tls_dir.join(LOCK_FILE);
    let lock = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|source| io_err(&lock_path, source))?;
    lock.lock().map_err(|source| io_err(&lock_path, source))?;
    let result = ensure_locked(tls_dir);
    // Closing the file releases the lock too; unlocking first just makes the order explicit.
    if let Err(err) = lock.unlock() {
        tracing::debug!(path = %lock_path.display(), %err, "unlocking the dev TLS lock failed");
    }
    result
}

fn ensure_locked(tls_dir: &Path) -> Result<DevTls, TlsError> {
    let paths = Paths::new(tls_dir);
    let renew_horizon = SystemTime::now() + StdDuration::from_secs(days_secs(RENEW_BEFORE_DAYS));

    let (ca, created_ca) = match load_ca(&paths, renew_horizon) {
        Some(ca) => (ca, false),
        None => (create_ca(&paths)?, true),
    };
    let outcome = if !created_ca && server_is_valid(&paths, &ca.cert_der, renew_horizon) {
        restrict_key_mode(&paths.server_key)?;
        DevTlsOutcome::Reused
    } else {
        issue_server(&paths, &ca)?;
        if created_ca { DevTlsOutcome::Created } else { DevTlsOutcome::ServerReissued }
    };
    if !created_ca {
        restrict_key_mode(&paths.ca_key)?;
    }
    let server_fingerprint = Fingerprint::of_pem_file(&paths.server_cert)?;
    Ok(DevTls {
        ca_fingerprint: Fingerprint::of(&ca.cert_der),
        server_fingerprint,
        ca_cert: paths.ca_cert,
        server_cert: paths.server_cert,
        server_key: paths.server_key,
        outcome,
    })
}

struct Paths {
    ca_cert: PathBuf,
    ca_key: PathBuf,
    server_cert: PathBuf,
    server_key: PathBuf,
}

impl Paths {
    fn new(dir: &Path) -> Self {
        Self {
            ca_cert: dir.join(CA_CERT_FILE),
            ca_key: dir.join(CA_KEY_FILE),
            server_cert: dir.join(SERVER_CERT_FILE),
            server_key: dir.join(SERVER_KEY_FILE),
        }
    }
}

/// A CA ready to sign.
struct Ca {
    cert_der: CertificateDer<'static>,
    cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

fn days_secs(days: i64) -> u64 {
    u64::try_from(days).unwrap_or(0).saturating_mul(86_400)
}

fn io_err(path: &Path, source: std::io::Error) -> TlsError {
    TlsError::Io { path: path.to_path_buf(), source }
}

/// Loads the existing CA if it parses, is a CA, matches its key and outlives the horizon.
fn load_ca(paths: &Paths, horizon: SystemTime) -> Option<Ca> {
    let cert_pem = fs::read_to_string(&paths.ca_cert).ok()?;
    let key = KeyPair::from_pem(&fs::read_to_string(&paths.ca_key).ok()?).ok()?;
    let cert_der = load_certs(&paths.ca_cert).ok()?.into_iter().next()?;
    let (_, parsed) = x509_parser::parse_x509_certificate(&cert_der).ok()?;
    let usable = parsed.is_ca()
        && parsed.tbs_certificate.subject_pki.raw == key.subject_public_key_info().as_slice()
        && not_after(&parsed) > horizon;
    if !usable {
        tracing::info!(path = %paths.ca_cert.display(), "dev CA unusable or near expiry; creating a new one");
        return None;
    }
    let issuer = Issuer::from_ca_cert_der(&cert_der, key).ok()?;
    Some(Ca { cert_der, cert_pem, issuer })
}

fn not_after(cert: &x509_parser::certificate::X509Certificate<'_>) -> SystemTime {
    let secs = cert.validity().not_after.timestamp();
    SystemTime::UNIX_EPOCH + StdDuration::from_secs(u64::try_from(secs).unwrap_or(0))
}

/// The server chain must verify against the CA for every name at the horizon (which also
/// proves it is not near expiry), and `server.key` must be the leaf's key.
fn server_is_valid(paths: &Paths, ca_der: &CertificateDer<'static>, horizon: SystemTime) -> bool {
    let Ok(chain) = load_certs(&paths.server_cert) else { return false };
    let Some((leaf, intermediates)) = chain.split_first() else { return false };
    let Ok(key_pem) = fs::read_to_string(&paths.server_key) else { return false };
    let Ok(key) = KeyPair::from_pem(&key_pem) else { return false };
    let Ok((_, parsed)) = x509_parser::parse_x509_certificate(leaf) else { return false };
    if parsed.tbs_certificate.subject_pki.raw != key.subject_public_key_info().as_slice() {
        return false;
    }
    let mut roots = rustls::RootCertStore::empty();
    if roots.add(ca_der.clone()).is_err() {
        return false;
    }
    let Ok(verifier) =
        WebPkiServerVerifier::builder_with_provider(roots.into(), crypto_provider()).build()
    else {
        return false;
    };
    let Ok(at) = horizon.duration_since(SystemTime::UNIX_EPOCH) else { return false };
    let at = UnixTime::since_unix_epoch(at);
    let names = std::iter::once(ServerName::try_from(SERVER_DNS_NAME).ok())
        .chain(SERVER_IPS.iter().map(|ip| Some(ServerName::from(*ip))));
    for name in names {
        let Some(name) = name else { return false };
        if verifier.verify_server_cert(leaf, intermediates, &name, &[], at).is_err() {
            return false;
        }
    }
    true
}

fn create_ca(paths: &Paths) -> Result<Ca, TlsError> {
    let key = KeyPair::generate()?;
    let now = OffsetDateTime::now_utc();
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::OrganizationName, "stele");
    params.distinguished_name.push(DnType::CommonName, "stele development CA");
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.not_before = now - Duration::seconds(CLOCK_SKEW_SECS);
    params.not_after = now + Duration::days(CA_VALIDITY_DAYS);
    params.name_constraints = Some(NameConstraints {
        permitted_subtrees: vec![
            GeneralSubtree::DnsName(SERVER_DNS_NAME.into()),
            GeneralSubtree::IpAddress(CidrSubnet::from_v4_prefix([127, 0, 0, 0], 8)),
            GeneralSubtree::IpAddress(CidrSubnet::from_v6_prefix(Ipv6Addr::LOCALHOST.octets(), 128)),
        ],
        excluded_subtrees: Vec::new(),
    });
    let cert = params.self_signed(&key)?;
    let cert_pem = cert.pem();
    // Key first: a crash between the two writes leaves a key without a cert, which
    // `load_ca` rejects, rather than a cert whose key is lost.
    write_private(&paths.ca_key, &key.serialize_pem())?;
    write_public(&paths.ca_cert, &cert_pem)?;
    let cert_der = cert.der().clone();
    Ok(Ca { cert_der, cert_pem, issuer: Issuer::new(params, key) })
}

fn issue_server(paths: &Paths, ca: &Ca) -> Result<(), TlsError> {
    let key = KeyPair::generate()?;
    let now = OffsetDateTime::now_utc();
    let mut names = vec![SERVER_DNS_NAME.to_string()];
    names.extend(SERVER_IPS.iter().map(IpAddr::to_string));
    let mut params = CertificateParams::new(names)?;
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::OrganizationName, "stele");
    params.distinguished_name.push(DnType::CommonName, SERVER_DNS_NAME);
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    params.not_before = now - Duration::seconds(CLOCK_SKEW_SECS);
    params.not_after = now + Duration::days(SERVER_VALIDITY_DAYS);
    let cert = params.signed_by(&key, &ca.issuer)?;
    // The chain carries the CA so clients that trust it need no intermediate lookup.
    let chain_pem = format!("{}{}", cert.pem(), ca.cert_pem);
    write_private(&paths.server_key, &key.serialize_pem())?;
    write_public(&paths.server_cert, &chain_pem)?;
    Ok(())
}

/// Writes via a temporary file and rename, so a reader never sees half a PEM file.
fn write_atomic(path: &Path, contents: &str, mode: u32) -> Result<(), TlsError> {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)
        .map_err(|source| io_err(&tmp, source))?;
    file.write_all(contents.as_bytes()).map_err(|source| io_err(&tmp, source))?;
    file.sync_all().map_err(|source| io_err(&tmp, source))?;
    drop(file);
    // `mode` only applies when the file is created; a stale tmp file keeps its old mode.
    set_mode(&tmp, mode)?;
    fs::rename(&tmp, path).map_err(|source| io_err(path, source))
}

fn write_private(path: &Path, contents: &str) -> Result<(), TlsError> {
    write_atomic(path, contents, 0o600)
}

fn write_public(path: &Path, contents: &str) -> Result<(), TlsError> {
    write_atomic(path, contents, 0o644)
}

fn set_mode(path: &Path, mode: u32) -> Result<(), TlsError> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(|source| io_err(path, source))
}

/// A reused key whose mode was loosened by hand is tightened again.
fn restrict_key_mode(path: &Path) -> Result<(), TlsError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(path).map_err(|source| io_err(path, source))?.permissions().mode();
    if mode & 0o077 != 0 {
        tracing::warn!(path = %path.display(), mode = format!("{mode:o}"), "key readable by others; setting 0600");
        set_mode(path, 0o600)?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn creates_then_reuses() {
        let dir = tempfile::tempdir().unwrap();
        let tls = dir.path().join("tls");
        let first = ensure_dev_tls(&tls).unwrap();
        assert_eq!(first.outcome, DevTlsOutcome::Created);
        assert_eq!(mode(&tls.join(CA_KEY_FILE)), 0o600);
        assert_eq!(mode(&tls.join(SERVER_KEY_FILE)), 0o600);
        assert_eq!(load_certs(&first.server_cert).unwrap().len(), 2, "leaf + CA");
        // The generated material is accepted by the server config builder.
        crate::tls::server_config(&first.server_tls_config()).unwrap();

        let second = ensure_dev_tls(&tls).unwrap();
        assert_eq!(second.outcome, DevTlsOutcome::Reused);
        assert_eq!(second.ca_fingerprint, first.ca_fingerprint);
        assert_eq!(second.server_fingerprint, first.server_fingerprint);
    }

    #[test]
    fn broken_server_cert_is_reissued_under_the_same_ca() {
        let dir = tempfile::tempdir().unwrap();
        let first = ensure_dev_tls(dir.path()).unwrap();
        fs::write(&first.server_cert, "garbage").unwrap();
        let second = ensure_dev_tls(dir.path()).unwrap();
        assert_eq!(second.outcome, DevTlsOutcome::ServerReissued);
        assert_eq!(second.ca_fingerprint, first.ca_fingerprint);
        assert_ne!(second.server_fingerprint, first.server_fingerprint);
    }

    #[test]
    fn mismatched_server_key_is_reissued() {
        let dir = tempfile::tempdir().unwrap();
        let first = ensure_dev_tls(dir.path()).unwrap();
        fs::write(&first.server_key, KeyPair::generate().unwrap().serialize_pem()).unwrap();
        assert_eq!(ensure_dev_tls(dir.path()).unwrap().outcome, DevTlsOutcome::ServerReissued);
    }

    #[test]
    fn broken_ca_key_recreates_everything() {
        let dir = tempfile::tempdir().unwrap();
        let first = ensure_dev_tls(dir.path()).unwrap();
        fs::write(dir.path().join(CA_KEY_FILE), "nope").unwrap();
        let second = ensure_dev_tls(dir.path()).unwrap();
        assert_eq!(second.outcome, DevTlsOutcome::Created);
        assert_ne!(second.ca_fingerprint, first.ca_fingerprint);
    }

    #[test]
    fn loosened_key_mode_is_tightened() {
        let dir = tempfile::tempdir().unwrap();
        let first = ensure_dev_tls(dir.path()).unwrap();
        fs::set_permissions(&first.server_key, fs::Permissions::from_mode(0o644)).unwrap();
        ensure_dev_tls(dir.path()).unwrap();
        assert_eq!(mode(&first.server_key), 0o600);
    }

    #[test]
    fn concurrent_callers_share_one_ca() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tls");
        let results: Vec<DevTls> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..4).map(|_| scope.spawn(|| ensure_dev_tls(&path).unwrap())).collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(results.iter().filter(|r| r.outcome == DevTlsOutcome::Created).count(), 1);
        assert!(results.iter().all(|r| r.ca_fingerprint == results[0].ca_fingerprint));
        assert!(results.iter().all(|r| r.server_fingerprint == results[0].server_fingerprint));
        assert_eq!(ensure_dev_tls(&path).unwrap().outcome, DevTlsOutcome::Reused);
    }

    #[test]
    fn name_constraints_hold() {
        // A certificate for another name, signed by the dev CA, must not verify.
        let dir = tempfile::tempdir().unwrap();
        ensure_dev_tls(dir.path()).unwrap();
        let paths = Paths::new(dir.path());
        let ca = load_ca(&paths, SystemTime::now()).unwrap();
        let key = KeyPair::generate().unwrap();
        let params = CertificateParams::new(vec!["example.com".to_string()]).unwrap();
        let evil = params.signed_by(&key, &ca.issuer).unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca.cert_der.clone()).unwrap();
        let verifier = WebPkiServerVerifier::builder_with_provider(roots.into(), crypto_provider())
            .build()
            .unwrap();
        let name = ServerName::try_from("example.com").unwrap();
        assert!(verifier.verify_server_cert(evil.der(), &[], &name, &[], UnixTime::now()).is_err());
    }
}
