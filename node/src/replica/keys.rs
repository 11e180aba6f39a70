//! BLS key files: the secret is 32 bytes of key material in hex (0600), from which blst
//! derives the key (IETF KeyGen); the public key and proof of possession go into every
//! replica's config.

use super::config::ReplicaConfig;
use std::{path::Path, sync::Arc};
use stele_consensus::crypto::bls::{BlsCrypto, BlsKeyPair, BlsKeySet};

/// Why keys could not be loaded.
#[derive(Debug, thiserror::Error)]
pub(crate) enum KeyError {
    /// The secret key file cannot be read.
    #[error("cannot read BLS key {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The file or a config entry is malformed.
    #[error("{0}")]
    Malformed(String),
    /// The secret key does not match this replica's public key in the config.
    #[error("the BLS key in {0} is not the one [[peers]] lists for this replica")]
    Mismatch(String),
}

/// Reads a secret key file.
pub(crate) fn read_secret(path: &Path) -> Result<BlsKeyPair, KeyError> {
    let text = std::fs::read_to_string(path).map_err(|source| KeyError::Read { path: path.display().to_string(), source })?;
    let ikm = hex::decode(text.trim().trim_start_matches("0x"))
        .map_err(|e| KeyError::Malformed(format!("{}: not hex: {e}", path.display())))?;
    if ikm.len() != 32 {
        return Err(KeyError::Malformed(format!("{}: {} bytes of key material; 32 expected", path.display(), ikm.len())));
    }
    BlsKeyPair::from_ikm(&ikm).map_err(|e| KeyError::Malformed(format!("{}: {e}", path.display())))
}

/// Writes fresh key material to `path` (mode 0600) and returns the pair.
pub(crate) fn generate_secret(path: &Path) -> anyhow::Result<BlsKeyPair> {
    let mut ikm = [0u8; 32];
    rand::fill(&mut ikm);
    crate::replica::files::write_private(path, hex::encode(ikm).as_bytes())?;
    Ok(BlsKeyPair::from_ikm(&ikm)?)
}

/// The cluster's public keys from the config (proofs of possession checked).
pub(crate) fn key_set(config: &ReplicaConfig) -> Result<BlsKeySet, KeyError> {
    let mut entries = Vec::with_capacity(config.peers.len());
    for p in &config.peers {
        let pk = hex::decode(p.bls_public_key.trim_start_matches("0x"))
            .map_err(|e| KeyError::Malformed(format!("peer {}: bls_public_key: {e}", p.id)))?;
        let pop = hex::decode(p.bls_pop.trim_start_matches("0x")).map_err(|e| KeyError::Malformed(format!("peer {}: bls_pop: {e}", p.id)))?;
        entries.push((pk, pop));
    }
    BlsKeySet::new(&entries).map_err(|e| KeyError::Malformed(e.to_string()))
}

/// This replica's signer and verifier.
pub(crate) fn crypto(config: &ReplicaConfig) -> Result<(BlsCrypto, Arc<BlsKeySet>), KeyError> {
    let pair = read_secret(&config.replica.bls_key)?;
    if hex::encode(&pair.public) != config.me().bls_public_key.trim_start_matches("0x") {
        return Err(KeyError::Mismatch(config.replica.bls_key.display().to_string()));
    }
    let keys = Arc::new(key_set(config)?);
    Ok((BlsCrypto::new(config.id(), Arc::new(pair), keys.clone()), keys))
}
