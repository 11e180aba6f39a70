//! Checking certificates outside a running replica: a block's finality certificate, a
//! stable checkpoint and a commit proof, against the cluster's public keys alone. Used by
//! `stele verify-block`, by state transfer, and by anyone auditing a chain.

use crate::crypto::bls::BlsKeySet;
use crate::message::{checkpoint_bytes, commit_bytes, exec_bytes, vote_bytes, CommitKind, CommitProof, StateCert};
use crate::params::Params;
use thiserror::Error;

/// Why a certificate does not prove what it claims.
#[derive(Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum CertError {
    /// Fewer signers than the quorum the claim needs.
    #[error("{what} has {signers} signers; {quorum} are needed")]
    TooFewSigners {
        /// Which certificate.
        what: &'static str,
        /// Signers present.
        signers: usize,
        /// Quorum required.
        quorum: usize,
    },
    /// The aggregate signature does not verify against the signers' keys.
    #[error("{what}: the aggregate signature does not verify against the cluster's keys")]
    BadSignature {
        /// Which certificate.
        what: &'static str,
    },
    /// The commit proof's proposal is not the one its certificate signs.
    #[error("commit proof: the proposal's digest is not the certified digest")]
    DigestMismatch,
}

fn check(what: &'static str, keys: &BlsKeySet, params: &Params, quorum: usize, msg: &[u8], cert: &crate::crypto::Certificate) -> Result<(), CertError> {
    let signers = cert.signers.count();
    if signers < quorum {
        return Err(CertError::TooFewSigners { what, signers, quorum });
    }
    if !keys.verify_certificate(params.n(), msg, cert) {
        return Err(CertError::BadSignature { what });
    }
    Ok(())
}

/// A finality certificate: f+1 replicas executed `cert.seq` and got `cert.block_hash`, so at
/// least one correct replica did.
pub fn verify_finality(keys: &BlsKeySet, params: &Params, cert: &StateCert) -> Result<(), CertError> {
    check("finality certificate", keys, params, params.finality_quorum(), &exec_bytes(cert.seq, &cert.block_hash), &cert.cert)
}

/// A stable checkpoint certificate (2f+c+1 checkpoint signatures).
pub fn verify_checkpoint(keys: &BlsKeySet, params: &Params, cert: &StateCert) -> Result<(), CertError> {
    check("checkpoint certificate", keys, params, params.checkpoint_quorum(), &checkpoint_bytes(cert.seq, &cert.block_hash), &cert.cert)
}

/// A commit proof: the certificate has its path's quorum and signs the proposal it carries.
pub fn verify_commit(keys: &BlsKeySet, params: &Params, proof: &CommitProof) -> Result<(), CertError> {
    let c = &proof.cert;
    if proof.proposal.digest() != c.digest {
        return Err(CertError::DigestMismatch);
    }
    match proof.kind {
        CommitKind::Fast => check("fast commit proof", keys, params, params.fast_quorum(), &vote_bytes(c.view, c.seq, &c.digest), &c.cert),
        CommitKind::Slow => check("slow commit proof", keys, params, params.slow_quorum(), &commit_bytes(c.view, c.seq, &c.digest), &c.cert),
    }
}
