//! The bench's accounts: senders with keys derived from `--seed`, so a rerun against the same
//! chain reuses them, and receivers that are plain addresses (nobody signs for them).

use alloy_primitives::{keccak256, Address};
use alloy_signer_local::PrivateKeySigner;

/// How many distinct receivers transfers go to: enough to spread storage writes, few enough
/// that the final balance check is quick.
pub(crate) const RECEIVER_COUNT: usize = 256;

/// Sender `index` of `seed`.
pub(crate) fn sender(seed: u64, index: usize) -> Result<PrivateKeySigner, alloy_signer::k256::ecdsa::Error> {
    PrivateKeySigner::from_bytes(&keccak256(format!("stele bench {seed} sender {index}")))
}

/// Receiver `index` of `seed`.
pub(crate) fn receiver(seed: u64, index: usize) -> Address {
    Address::from_slice(&keccak256(format!("stele bench {seed} receiver {index}"))[12..])
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys_are_deterministic_and_distinct() {
        let a = super::sender(1, 0).unwrap().address();
        assert_eq!(a, super::sender(1, 0).unwrap().address());
        assert_ne!(a, super::sender(1, 1).unwrap().address());
        assert_ne!(a, super::sender(2, 0).unwrap().address());
        assert_ne!(super::receiver(1, 0), super::receiver(1, 1));
    }
}
