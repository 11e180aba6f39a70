//! Fast insecure signatures for the simulator: a share is a keyed SHA-256 prefix and an
//! aggregate is the XOR of its shares. Anyone who knows the scheme can forge; the simulator's
//! Byzantine replicas only ever call their own instance, which is the property that matters.

use super::{Certificate, CryptoTr, Signature, SignerBitmap};
use crate::types::{Digest, ReplicaId};

const MOCK_SIG_BYTES: usize = 16;

/// Mock crypto for replica `id`.
#[derive(Clone, Debug)]
pub struct MockCrypto {
    id: ReplicaId,
}

impl MockCrypto {
    /// The instance of replica `id`.
    pub fn new(id: ReplicaId) -> Self {
        Self { id }
    }

    fn share(signer: ReplicaId, msg: &[u8]) -> [u8; MOCK_SIG_BYTES] {
        let d = Digest::of(&[b"stele-mock-sig", &signer.get().to_le_bytes(), msg]);
        let mut out = [0u8; MOCK_SIG_BYTES];
        out.copy_from_slice(&d.0[..MOCK_SIG_BYTES]);
        out
    }
}

impl CryptoTr for MockCrypto {
    fn id(&self) -> ReplicaId {
        self.id
    }
    fn sign(&self, msg: &[u8]) -> Signature {
        Signature(Self::share(self.id, msg).to_vec())
    }
    fn verify(&self, signer: ReplicaId, msg: &[u8], sig: &Signature) -> bool {
        sig.0 == Self::share(signer, msg)
    }
    fn aggregate(&self, n: usize, shares: &[(ReplicaId, &Signature)]) -> Option<Certificate> {
        let mut signers = SignerBitmap::new(n);
        let mut acc = [0u8; MOCK_SIG_BYTES];
        for (r, s) in shares {
            if r.index() >= n || s.0.len() != MOCK_SIG_BYTES || signers.contains(*r) {
                return None;
            }
            signers.insert(*r);
            for (a, b) in acc.iter_mut().zip(&s.0) {
                *a ^= b;
            }
        }
        Some(Certificate { signers, signature: Signature(acc.to_vec()) })
    }
    fn verify_certificate(&self, n: usize, msg: &[u8], cert: &Certificate) -> bool {
        if !cert.signers.is_canonical_for(n) || cert.signature.0.len() != MOCK_SIG_BYTES {
            return false;
        }
        let mut acc = [0u8; MOCK_SIG_BYTES];
        for r in cert.signers.iter() {
            for (a, b) in acc.iter_mut().zip(Self::share(r, msg)) {
                *a ^= b;
            }
        }
        acc[..] == cert.signature.0[..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregate_verifies_and_detects_tampering() {
        let n = 4;
        let cs: Vec<_> = (0..4).map(|i| MockCrypto::new(ReplicaId::new(i))).collect();
        let sigs: Vec<_> = cs.iter().map(|c| c.sign(b"m")).collect();
        let shares: Vec<_> = sigs.iter().enumerate().map(|(i, s)| (ReplicaId::new(i as u16), s)).collect();
        let cert = cs[0].aggregate(n, &shares[..3]).unwrap();
        assert!(cs[1].verify_certificate(n, b"m", &cert));
        assert!(!cs[1].verify_certificate(n, b"x", &cert));
        let mut bad = cert.clone();
        bad.signers.insert(ReplicaId::new(3));
        assert!(!cs[1].verify_certificate(n, b"m", &bad));
    }
}
