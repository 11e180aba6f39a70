//! Subscription ids shaped like geth's: `0x` and 32 hex digits. jsonrpsee's default ids
//! are JSON numbers, which web3.py (`len()` on the id) and viem (string keys) reject.

use alloy_primitives::keccak256;
use jsonrpsee::core::traits::IdProvider;
use jsonrpsee::types::SubscriptionId;
use std::sync::atomic::{AtomicU64, Ordering};

/// Unpredictable, unique ids: keccak of a per-server seed and a counter, cut to 16 bytes.
#[derive(Debug)]
pub struct HexIdProvider {
    seed: [u8; 32],
    counter: AtomicU64,
}

impl HexIdProvider {
    /// A provider seeded from the clock and the process id.
    pub fn new() -> Self {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let mut material = nanos.to_be_bytes().to_vec();
        material.extend_from_slice(&std::process::id().to_be_bytes());
        Self { seed: keccak256(material).0, counter: AtomicU64::new(0) }
    }
}

impl Default for HexIdProvider {
    fn default() -> Self {
        Self::new()
    }
}

impl IdProvider for HexIdProvider {
    fn next_id(&self) -> SubscriptionId<'static> {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let mut material = self.seed.to_vec();
        material.extend_from_slice(&n.to_be_bytes());
        let digest = keccak256(material);
        SubscriptionId::Str(format!("0x{}", alloy_primitives::hex::encode(&digest[..16])).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_geth_shaped_and_distinct() {
        let ids = HexIdProvider::new();
        let (SubscriptionId::Str(a), SubscriptionId::Str(b)) = (ids.next_id(), ids.next_id()) else {
            panic!("numeric id");
        };
        assert!(a.starts_with("0x") && a.len() == 34);
        assert_ne!(a, b);
    }
}
