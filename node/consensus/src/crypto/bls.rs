//! BLS12-381 multisignatures with blst (min-pk: 48-byte keys, 96-byte signatures).
//!
//! A certificate is one aggregate signature plus a signer bitmap; it verifies with a single
//! pairing check against the sum of the signers' public keys. Rogue-key attacks are stopped
//! by proofs of possession, checked once when the key set is built ([`BlsKeySet::new`]).

use super::{Certificate, CryptoTr, Signature, SignerBitmap};
use crate::types::ReplicaId;
use blst::BLST_ERROR;
use blst::min_pk::{AggregatePublicKey, AggregateSignature, PublicKey, SecretKey, Signature as BlsSig};
use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use thiserror::Error;

/// Domain separation tag for consensus messages.
const DST_SIG: &[u8] = b"STELE-SBFT-V1-BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_NUL_";
/// Domain separation tag for proofs of possession.
const DST_POP: &[u8] = b"STELE-SBFT-V1-BLS_POP_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_";

/// A key set was rejected.
#[derive(Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum BlsError {
    /// A public key did not parse or is not in the group.
    #[error("replica {0}: invalid public key")]
    BadPublicKey(u16),
    /// A proof of possession did not verify (possible rogue key).
    #[error("replica {0}: proof of possession does not verify")]
    BadProofOfPossession(u16),
    /// Key material too short.
    #[error("key material must be at least 32 bytes")]
    ShortIkm,
}

/// A replica's secret key with its public key and proof of possession.
pub struct BlsKeyPair {
    secret: SecretKey,
    /// Compressed public key (48 bytes).
    pub public: Vec<u8>,
    /// Proof of possession: a signature over the public key under `DST_POP`.
    pub pop: Vec<u8>,
}

impl std::fmt::Debug for BlsKeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlsKeyPair").field("public", &self.public.len()).finish_non_exhaustive()
    }
}

impl BlsKeyPair {
    /// Derives a key pair from at least 32 bytes of secret key material.
    pub fn from_ikm(ikm: &[u8]) -> Result<Self, BlsError> {
        let secret = SecretKey::key_gen(ikm, &[]).map_err(|_| BlsError::ShortIkm)?;
        let public = secret.sk_to_pk().compress().to_vec();
        let pop = secret.sign(&public, DST_POP, &[]).compress().to_vec();
        Ok(Self { secret, public, pop })
    }
}

/// Every replica's public key, checked against its proof of possession.
#[derive(Debug)]
pub struct BlsKeySet {
    keys: Vec<PublicKey>,
}

impl BlsKeySet {
    /// Parses and checks `(public key, proof of possession)` for replicas `0..n`.
    pub fn new(entries: &[(Vec<u8>, Vec<u8>)]) -> Result<Self, BlsError> {
        let mut keys = Vec::with_capacity(entries.len());
        for (i, (pk, pop)) in entries.iter().enumerate() {
            let id = i as u16;
            let key = PublicKey::key_validate(pk).map_err(|_| BlsError::BadPublicKey(id))?;
            let proof = BlsSig::from_bytes(pop).map_err(|_| BlsError::BadProofOfPossession(id))?;
            if proof.verify(true, pk, DST_POP, &[], &key, true) != BLST_ERROR::BLST_SUCCESS {
                return Err(BlsError::BadProofOfPossession(id));
            }
            keys.push(key);
        }
        Ok(Self { keys })
    }

    /// Number of replicas in the set.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Verifies an aggregate over `msg` against the summed public keys of its signers (the
    /// caller checks the signer count against its quorum). Needs no secret key, so a client
    /// holding only the cluster's public keys can check certificates.
    pub fn verify_certificate(&self, n: usize, msg: &[u8], cert: &Certificate) -> bool {
        if !cert.signers.is_canonical_for(n) || n > self.keys.len() {
            return false;
        }
        let pks: Vec<&PublicKey> = cert.signers.iter().filter_map(|r| self.keys.get(r.index())).collect();
        if pks.is_empty() {
            return false;
        }
        let Ok(agg_pk) = AggregatePublicKey::aggregate(&pks, false) else { return false };
        let Ok(sig) = BlsSig::from_bytes(&cert.signature.0) else { return false };
        sig.verify(true, msg, DST_SIG, &[], &agg_pk.to_public_key(), false) == BLST_ERROR::BLST_SUCCESS
    }
}

/// Real BLS crypto for one replica.
#[derive(Debug, Clone)]
pub struct BlsCrypto {
    id: ReplicaId,
    secret: Arc<BlsKeyPair>,
    keys: Arc<BlsKeySet>,
    verified: Arc<Mutex<VerifiedCertificates>>,
}

/// Certificates that verified lately, each remembered by everything its check depends on
/// (cluster size, message, signers, signature), compared in full: a lookup can only answer
/// "verified" for exactly what verified. Each costs a pairing check of a few milliseconds,
/// and one certificate is checked more than once: by the collector that made it and again
/// when it commits through it, or first by the shell's pre-check thread and then by the core.
#[derive(Debug, Default)]
struct VerifiedCertificates {
    known: HashSet<Vec<u8>>,
    order: VecDeque<Vec<u8>>,
}

/// Remembered verifications; the oldest are forgotten first (a few blocks' worth).
const VERIFIED_CERTIFICATES_MAX: usize = 1_024;

impl VerifiedCertificates {
    fn key(n: usize, msg: &[u8], cert: &Certificate) -> Vec<u8> {
        let mut key = Vec::with_capacity(8 + 4 + msg.len() + cert.signers.0.len() + 4 + cert.signature.0.len());
        key.extend_from_slice(&(n as u64).to_le_bytes());
        for part in [msg, &cert.signers.0, &cert.signature.0] {
            // Length-prefixed, so that no two different triples make the same key.
            key.extend_from_slice(&(part.len() as u32).to_le_bytes());
            key.extend_from_slice(part);
        }
        key
    }

    fn insert(&mut self, key: Vec<u8>) {
        if self.known.insert(key.clone()) {
            self.order.push_back(key);
            while self.order.len() > VERIFIED_CERTIFICATES_MAX {
                if let Some(old) = self.order.pop_front() {
                    self.known.remove(&old);
                }
            }
        }
    }
}

impl BlsCrypto {
    /// The instance of replica `id` holding `pair`, verifying against `keys`.
    pub fn new(id: ReplicaId, pair: Arc<BlsKeyPair>, keys: Arc<BlsKeySet>) -> Self {
        Self { id, secret: pair, keys, verified: Arc::default() }
    }

    /// A deterministic test cluster of `n` replicas (seeded key material; not for production).
    pub fn test_cluster(n: usize) -> Vec<Self> {
        let pairs: Vec<Arc<BlsKeyPair>> = (0..n)
            .map(|i| {
                let mut ikm = [7u8; 32];
                ikm[..8].copy_from_slice(&(i as u64).to_le_bytes());
                Arc::new(BlsKeyPair::from_ikm(&ikm).expect("INVARIANT: 32-byte ikm"))
            })
            .collect();
        let entries: Vec<_> = pairs.iter().map(|p| (p.public.clone(), p.pop.clone())).collect();
        let keys = Arc::new(BlsKeySet::new(&entries).expect("INVARIANT: freshly generated keys"));
        pairs
            .into_iter()
            .enumerate()
            .map(|(i, p)| Self::new(ReplicaId::new(i as u16), p, keys.clone()))
            .collect()
    }
}

impl CryptoTr for BlsCrypto {
    fn id(&self) -> ReplicaId {
        self.id
    }
    fn sign(&self, msg: &[u8]) -> Signature {
        Signature(self.secret.secret.sign(msg, DST_SIG, &[]).compress().to_vec())
    }
    fn verify(&self, signer: ReplicaId, msg: &[u8], sig: &Signature) -> bool {
        let Some(pk) = self.keys.keys.get(signer.index()) else { return false };
        let Ok(s) = BlsSig::from_bytes(&sig.0) else { return false };
        s.verify(true, msg, DST_SIG, &[], pk, false) == BLST_ERROR::BLST_SUCCESS
    }
    fn aggregate(&self, n: usize, shares: &[(ReplicaId, &Signature)]) -> Option<Certificate> {
        let mut signers = SignerBitmap::new(n);
        let mut parsed = Vec::with_capacity(shares.len());
        for (r, s) in shares {
            if r.index() >= n || signers.contains(*r) {
                return None;
            }
            signers.insert(*r);
            parsed.push(BlsSig::from_bytes(&s.0).ok()?);
        }
        let refs: Vec<&BlsSig> = parsed.iter().collect();
        let agg = AggregateSignature::aggregate(&refs, true).ok()?;
        Some(Certificate { signers, signature: Signature(agg.to_signature().compress().to_vec()) })
    }
    fn verify_certificate(&self, n: usize, msg: &[u8], cert: &Certificate) -> bool {
        let key = VerifiedCertificates::key(n, msg, cert);
        let lock = || self.verified.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if lock().known.contains(&key) {
            return true;
        }
        // Checked without the lock held: the shell's pre-check thread and the core verify
        // different certificates at the same time.
        let valid = self.keys.verify_certificate(n, msg, cert);
        if valid {
            lock().insert(key);
        }
        valid
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregate_of_shares_verifies() {
        let cs = BlsCrypto::test_cluster(4);
        let sigs: Vec<_> = cs.iter().map(|c| c.sign(b"block")).collect();
        assert!(cs[0].verify(ReplicaId::new(2), b"block", &sigs[2]));
        assert!(!cs[0].verify(ReplicaId::new(1), b"block", &sigs[2]));
        let shares: Vec<_> = [0usize, 2, 3].iter().map(|&i| (ReplicaId::new(i as u16), &sigs[i])).collect();
        let cert = cs[1].aggregate(4, &shares).unwrap();
        assert_eq!(cert.signers.count(), 3);
        assert!(cs[1].verify_certificate(4, b"block", &cert));
        assert!(!cs[1].verify_certificate(4, b"other", &cert));
        let mut lying = cert.clone();
        lying.signers.insert(ReplicaId::new(1));
        assert!(!cs[1].verify_certificate(4, b"block", &lying));
    }

    #[test]
    fn a_remembered_verification_answers_only_for_the_same_certificate() {
        let cs = BlsCrypto::test_cluster(4);
        let sigs: Vec<_> = cs.iter().map(|c| c.sign(b"block")).collect();
        let shares: Vec<_> = (0..4).map(|i| (ReplicaId::new(i as u16), &sigs[i])).collect();
        let cert = cs[0].aggregate(4, &shares).unwrap();
        assert!(cs[0].verify_certificate(4, b"block", &cert));
        assert!(cs[0].verify_certificate(4, b"block", &cert), "the second check must agree");
        let mut forged = cert.clone();
        forged.signature.0[5] ^= 1;
        assert!(!cs[0].verify_certificate(4, b"block", &forged));
        assert!(!cs[0].verify_certificate(4, b"blocK", &cert));
        let mut fewer = cert.clone();
        fewer.signers = SignerBitmap::new(4);
        fewer.signers.insert(ReplicaId::new(0));
        assert!(!cs[0].verify_certificate(4, b"block", &fewer));
        assert!(!cs[0].verify_certificate(5, b"block", &cert));
    }

    #[test]
    fn rogue_key_without_possession_is_rejected() {
        let a = BlsKeyPair::from_ikm(&[1u8; 32]).unwrap();
        let b = BlsKeyPair::from_ikm(&[2u8; 32]).unwrap();
        // b's key presented with a's proof of possession.
        let r = BlsKeySet::new(&[(a.public.clone(), a.pop.clone()), (b.public.clone(), a.pop.clone())]);
        assert_eq!(r.unwrap_err(), BlsError::BadProofOfPossession(1));
    }
}
