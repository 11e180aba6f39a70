//! The replica bundle: one base64 value carrying a replica's config and key files.
//!
//! Format (version 1): standard base64 (whitespace ignored, because wizards and mail wrap long
//! lines) of a JSON object
//! `{"format":"stele-appliance-bundle/1","replica_id":N,"files":{"name":"text",…}}`.
//! `files` must hold `config.toml` (the replica's node config), `rpc.crt` (PEM certificate
//! chain served on the JSON-RPC port) and `rpc.key` (its PEM private key); other files (replica
//! keys, peer certificates) are carried as they are. File contents are text (PEM, TOML).

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The `format` string of the only bundle version this appliance understands.
pub const BUNDLE_FORMAT: &str = "stele-appliance-bundle/1";
/// Largest decoded bundle; the base64 text must also fit vCenter's 65535-character limit.
pub const BUNDLE_BYTES_MAX: usize = 48 * 1024;
/// Most files in one bundle.
pub const BUNDLE_FILES_MAX: usize = 32;
/// Longest file name in a bundle.
pub const BUNDLE_NAME_LEN_MAX: usize = 64;
/// The node config file inside the bundle.
pub const FILE_CONFIG: &str = "config.toml";
/// The RPC TLS certificate chain inside the bundle.
pub const FILE_RPC_CERT: &str = "rpc.crt";
/// The RPC TLS private key inside the bundle.
pub const FILE_RPC_KEY: &str = "rpc.key";
/// Names of files that every bundle must carry.
pub const FILES_REQUIRED: [&str; 3] = [FILE_CONFIG, FILE_RPC_CERT, FILE_RPC_KEY];

/// Why a bundle was refused. Messages never include file contents (they hold secrets).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum BundleError {
    /// Not base64.
    #[error("not base64 ({0}); paste the whole line printed by `stele init --appliance`")]
    Base64(String),
    /// Bigger than [`BUNDLE_BYTES_MAX`].
    #[error("decodes to {len} bytes, more than the {max} a bundle may have")]
    TooLarge {
        /// Decoded length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Not the JSON we expect.
    #[error("not a stele replica bundle: {0}")]
    Json(String),
    /// Another format version.
    #[error("bundle format {found:?} is not supported (this appliance reads {BUNDLE_FORMAT:?})")]
    Format {
        /// What the bundle said.
        found: String,
    },
    /// Too many files.
    #[error("bundle has {count} files, at most {BUNDLE_FILES_MAX} are allowed")]
    TooManyFiles {
        /// Number of files.
        count: usize,
    },
    /// A file name that could escape the config directory or is otherwise odd.
    #[error(
        "bundle file name {name:?} is not allowed (use a-z, 0-9, '.', '_', '-'; at most {BUNDLE_NAME_LEN_MAX} characters)"
    )]
    FileName {
        /// The offending name.
        name: String,
    },
    /// A required file is missing.
    #[error("bundle has no {name} file")]
    MissingFile {
        /// The missing name.
        name: &'static str,
    },
    /// A file that must be PEM is not.
    #[error("bundle file {name}: {reason}")]
    Pem {
        /// The file.
        name: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A file with a NUL byte (text files only).
    #[error("bundle file {name:?} contains a NUL byte; bundle files are text")]
    Binary {
        /// The file.
        name: String,
    },
}

/// The JSON shape of a bundle; unknown fields are refused.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawBundle {
    format: String,
    replica_id: u32,
    files: BTreeMap<String, String>,
}

/// A checked replica bundle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bundle {
    replica_id: u32,
    files: BTreeMap<String, String>,
    rpc_cert_der: Vec<u8>,
}

impl Bundle {
    /// Decodes and checks a bundle property value.
    pub fn parse(value: &str) -> Result<Bundle, BundleError> {
        let compact: String = value.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        // Reject before decoding, so a huge value costs no allocation beyond the copy above.
        let decoded_len_max = compact.len() / 4 * 3;
        if decoded_len_max > BUNDLE_BYTES_MAX + 3 {
            return Err(BundleError::TooLarge {
                len: decoded_len_max,
                max: BUNDLE_BYTES_MAX,
            });
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(compact.as_bytes())
            .map_err(|e| BundleError::Base64(e.to_string()))?;
        if bytes.len() > BUNDLE_BYTES_MAX {
            return Err(BundleError::TooLarge {
                len: bytes.len(),
                max: BUNDLE_BYTES_MAX,
            });
        }
        let raw: RawBundle =
            serde_json::from_slice(&bytes).map_err(|e| BundleError::Json(e.to_string()))?;
        Bundle::from_raw(raw)
    }

    /// Builds a bundle from files (what `stele init --appliance` does), checking it the same
    /// way the guest will.
    pub fn new(replica_id: u32, files: BTreeMap<String, String>) -> Result<Bundle, BundleError> {
        Bundle::from_raw(RawBundle {
            format: BUNDLE_FORMAT.to_owned(),
            replica_id,
            files,
        })
    }

    fn from_raw(raw: RawBundle) -> Result<Bundle, BundleError> {
        if raw.format != BUNDLE_FORMAT {
            return Err(BundleError::Format {
                found: truncate(&raw.format, 64),
            });
        }
        if raw.files.len() > BUNDLE_FILES_MAX {
            return Err(BundleError::TooManyFiles {
                count: raw.files.len(),
            });
        }
        for (name, content) in &raw.files {
            if !file_name_ok(name) {
                return Err(BundleError::FileName {
                    name: truncate(name, 80),
                });
            }
            if content.contains('\0') {
                return Err(BundleError::Binary { name: name.clone() });
            }
        }
        for name in FILES_REQUIRED {
            if !raw.files.contains_key(name) {
                return Err(BundleError::MissingFile { name });
            }
        }
        let cert_pem = raw
            .files
            .get(FILE_RPC_CERT)
            .map(String::as_str)
            .unwrap_or_default();
        let certs = pem_blocks(cert_pem).map_err(|reason| BundleError::Pem {
            name: FILE_RPC_CERT,
            reason,
        })?;
        let rpc_cert_der = match certs.into_iter().find(|(label, _)| label == "CERTIFICATE") {
            Some((_, der)) => der,
            None => {
                return Err(BundleError::Pem {
                    name: FILE_RPC_CERT,
                    reason: "no CERTIFICATE block".to_owned(),
                });
            }
        };
        let key_pem = raw
            .files
            .get(FILE_RPC_KEY)
            .map(String::as_str)
            .unwrap_or_default();
        let keys = pem_blocks(key_pem).map_err(|reason| BundleError::Pem {
            name: FILE_RPC_KEY,
            reason,
        })?;
        if !keys
            .iter()
            .any(|(label, _)| label.ends_with("PRIVATE KEY") && !label.contains("ENCRYPTED"))
        {
            return Err(BundleError::Pem {
                name: FILE_RPC_KEY,
                reason: "no unencrypted PRIVATE KEY block".to_owned(),
            });
        }
        Ok(Bundle {
            replica_id: raw.replica_id,
            files: raw.files,
            rpc_cert_der,
        })
    }

    /// The bundle as the property value (base64 of the JSON, one line).
    pub fn encode(&self) -> String {
        let raw = RawBundle {
            format: BUNDLE_FORMAT.to_owned(),
            replica_id: self.replica_id,
            files: self.files.clone(),
        };
        // Serialising a map of strings cannot fail; fall back to an empty object regardless.
        let json = serde_json::to_vec(&raw).unwrap_or_default();
        base64::engine::general_purpose::STANDARD.encode(json)
    }

    /// The replica's index in the cluster.
    pub fn replica_id(&self) -> u32 {
        self.replica_id
    }

    /// File names and contents, sorted by name.
    pub fn files(&self) -> &BTreeMap<String, String> {
        &self.files
    }

    /// SHA-256 of the RPC certificate (DER), as colon-separated upper-case hex: what
    /// `openssl x509 -fingerprint -sha256` prints and what a dApp developer pins.
    pub fn rpc_cert_fingerprint(&self) -> String {
        let digest = Sha256::digest(&self.rpc_cert_der);
        let hex: Vec<String> = digest.iter().map(|b| format!("{b:02X}")).collect();
        hex.join(":")
    }
}

fn file_name_ok(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= BUNDLE_NAME_LEN_MAX
        && !name.starts_with('.')
        && name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        })
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// Splits PEM text into (label, DER) blocks; text outside blocks must be blank.
pub fn pem_blocks(text: &str) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut blocks = Vec::new();
    let mut lines = text.lines().map(str::trim_end);
    while let Some(line) = lines.next() {
        if line.trim().is_empty() {
            continue;
        }
        let label = line
            .strip_prefix("-----BEGIN ")
            .and_then(|l| l.strip_suffix("-----"))
            .ok_or_else(|| "text outside a PEM block".to_owned())?
            .to_owned();
        let end = format!("-----END {label}-----");
        let mut body = String::new();
        loop {
            match lines.next() {
                Some(l) if l == end => break,
                Some(l) if l.starts_with("-----") => {
                    return Err(format!("PEM block {label} has a bad END line"));
                }
                Some(l) if l.contains(':') => {
                    return Err(format!(
                        "PEM block {label} has headers (encrypted?); not supported"
                    ));
                }
                Some(l) => body.push_str(l.trim()),
                None => return Err(format!("PEM block {label} has no END line")),
            }
        }
        let der = base64::engine::general_purpose::STANDARD
            .decode(body.as_bytes())
            .map_err(|e| format!("PEM block {label} is not base64: {e}"))?;
        if der.is_empty() {
            return Err(format!("PEM block {label} is empty"));
        }
        blocks.push((label, der));
    }
    if blocks.is_empty() {
        return Err("no PEM block".to_owned());
    }
    Ok(blocks)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) const CERT: &str = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ0VSVElGSUNBVEUtRk9SLVRFU1RTMAoGCCqGSM49BAMC\n-----END CERTIFICATE-----\n";
    pub(crate) const KEY: &str = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----\n";

    pub(crate) fn sample() -> Bundle {
        let mut files = BTreeMap::new();
        files.insert(FILE_CONFIG.to_owned(), "replica_id = 2\n".to_owned());
        files.insert(FILE_RPC_CERT.to_owned(), CERT.to_owned());
        files.insert(FILE_RPC_KEY.to_owned(), KEY.to_owned());
        files.insert("replica-bls.key".to_owned(), "deadbeef\n".to_owned());
        match Bundle::new(2, files) {
            Ok(b) => b,
            Err(e) => panic!("sample bundle: {e}"),
        }
    }

    fn encode_raw(json: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(json)
    }

    #[test]
    fn round_trips_and_tolerates_wrapping() {
        let b = sample();
        let enc = b.encode();
        let wrapped: String = enc
            .as_bytes()
            .chunks(60)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join("\r\n ");
        assert_eq!(Bundle::parse(&wrapped), Ok(b.clone()));
        assert_eq!(b.replica_id(), 2);
        assert_eq!(b.rpc_cert_fingerprint().len(), 32 * 3 - 1);
    }

    #[test]
    fn rejects_garbage() {
        assert!(matches!(Bundle::parse("%%%"), Err(BundleError::Base64(_))));
        assert!(matches!(
            Bundle::parse(&encode_raw("[1,2]")),
            Err(BundleError::Json(_))
        ));
        let huge = "A".repeat(BUNDLE_BYTES_MAX * 2);
        assert!(matches!(
            Bundle::parse(&huge),
            Err(BundleError::TooLarge { .. })
        ));
    }

    #[test]
    fn rejects_wrong_format_and_unknown_fields() {
        let other = encode_raw(r#"{"format":"x/9","replica_id":0,"files":{}}"#);
        assert!(matches!(
            Bundle::parse(&other),
            Err(BundleError::Format { .. })
        ));
        let extra = encode_raw(&format!(
            r#"{{"format":"{BUNDLE_FORMAT}","replica_id":0,"files":{{}},"evil":1}}"#
        ));
        assert!(matches!(Bundle::parse(&extra), Err(BundleError::Json(_))));
    }

    #[test]
    fn rejects_path_traversal_and_missing_files() {
        for bad in ["../etc/passwd", "a/b", ".hidden", "UPPER", ""] {
            let mut files = sample().files().clone();
            files.insert(bad.to_owned(), "x".to_owned());
            assert!(
                matches!(Bundle::new(0, files), Err(BundleError::FileName { .. })),
                "{bad}"
            );
        }
        for name in FILES_REQUIRED {
            let mut files = sample().files().clone();
            files.remove(name);
            assert_eq!(
                Bundle::new(0, files),
                Err(BundleError::MissingFile { name })
            );
        }
        let mut files = sample().files().clone();
        files.insert("x".to_owned(), "a\0b".to_owned());
        assert!(matches!(
            Bundle::new(0, files),
            Err(BundleError::Binary { .. })
        ));
        let many: BTreeMap<String, String> = (0..=BUNDLE_FILES_MAX)
            .map(|i| (format!("f{i}"), String::new()))
            .collect();
        assert!(matches!(
            Bundle::new(0, many),
            Err(BundleError::TooManyFiles { .. })
        ));
    }

    #[test]
    fn rejects_bad_pem() {
        let mut files = sample().files().clone();
        files.insert(FILE_RPC_CERT.to_owned(), KEY.to_owned());
        assert!(matches!(
            Bundle::new(0, files),
            Err(BundleError::Pem {
                name: FILE_RPC_CERT,
                ..
            })
        ));
        let mut files = sample().files().clone();
        files.insert(FILE_RPC_KEY.to_owned(), CERT.to_owned());
        assert!(matches!(
            Bundle::new(0, files),
            Err(BundleError::Pem {
                name: FILE_RPC_KEY,
                ..
            })
        ));
        assert!(pem_blocks("hello").is_err());
        assert!(pem_blocks("-----BEGIN X-----\nAAAA\n").is_err());
        assert!(pem_blocks("-----BEGIN X-----\n!!!!\n-----END X-----\n").is_err());
        assert!(
            pem_blocks("-----BEGIN X-----\nProc-Type: 4,ENCRYPTED\n-----END X-----\n").is_err()
        );
        assert!(pem_blocks("").is_err());
    }
}
