//! Signing behind traits: signature shares, aggregate certificates with a signer bitmap.
//!
//! `bls` is the real scheme (BLS12-381 via blst, sbft.md decision 2); `mock` is a fast,
//! insecure stand-in for the simulator. Both implement [`CryptoTr`]; one instance belongs to
//! one replica (it holds that replica's secret and every replica's public key).

pub mod bls;
pub mod mock;

use crate::types::ReplicaId;
use std::fmt;

/// One replica's signature (a share of a future certificate).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Signature(pub Vec<u8>);

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sig({}B)", self.0.len())
    }
}

/// Which replicas signed: bit i of byte i/8 is replica i.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct SignerBitmap(pub Vec<u8>);

impl SignerBitmap {
    /// An empty bitmap sized for `n` replicas.
    pub fn new(n: usize) -> Self {
        Self(vec![0; n.div_ceil(8)])
    }
    /// Marks `r` as a signer. Panics if `r` does not fit (callers size the map for n).
    pub fn insert(&mut self, r: ReplicaId) {
        let i = r.index();
        self.0[i / 8] |= 1 << (i % 8);
    }
    /// Whether `r` signed.
    pub fn contains(&self, r: ReplicaId) -> bool {
        let i = r.index();
        self.0.get(i / 8).is_some_and(|b| b & (1 << (i % 8)) != 0)
    }
    /// Number of signers.
    pub fn count(&self) -> usize {
        self.0.iter().map(|b| b.count_ones() as usize).sum()
    }
    /// Signers in increasing order.
    pub fn iter(&self) -> impl Iterator<Item = ReplicaId> + '_ {
        (0..self.0.len() * 8)
            .filter(|i| self.0[i / 8] & (1 << (i % 8)) != 0)
            .map(|i| ReplicaId::new(i as u16))
    }
    /// Canonical for a cluster of `n`: exact length and no bits at or above n.
    pub fn is_canonical_for(&self, n: usize) -> bool {
        self.0.len() == n.div_ceil(8) && self.iter().all(|r| r.index() < n)
    }
}

/// An aggregate signature plus its signer bitmap: constant-size proof that `signers` signed.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Certificate {
    /// Who signed.
    pub signers: SignerBitmap,
    /// The aggregate signature.
    pub signature: Signature,
}

/// Signing and verification for one replica of a cluster.
pub trait CryptoTr: fmt::Debug + Send + Sync {
    /// This instance's replica.
    fn id(&self) -> ReplicaId;
    /// Signs `msg` with this replica's key.
    fn sign(&self, msg: &[u8]) -> Signature;
    /// Verifies `signer`'s signature over `msg`.
    fn verify(&self, signer: ReplicaId, msg: &[u8], sig: &Signature) -> bool;
    /// Aggregates shares (all over the same message) into a certificate. `None` if a share
    /// cannot even be parsed. The result is not verified here: see [`verify_certificate`].
    ///
    /// [`verify_certificate`]: CryptoTr::verify_certificate
    fn aggregate(&self, n: usize, shares: &[(ReplicaId, &Signature)]) -> Option<Certificate>;
    /// Verifies an aggregate against the aggregated public keys of its signers. The caller
    /// checks the signer count against its quorum.
    fn verify_certificate(&self, n: usize, msg: &[u8], cert: &Certificate) -> bool;
}
