//! Merkle proofs for eth_getProof (filled in with the RPC).
