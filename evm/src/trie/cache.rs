//! A bounded in-memory cache of trie nodes, shared by every transaction of one database.
//!
//! Nodes are stored under their own hash and never rewritten, so a cached node can never be
//! stale: there is nothing to invalidate when blocks are committed. The cache saves the
//! B-tree lookup of the nodes a block's state root walks through; the upper levels of the
//! account trie and of busy storage tries are on every path and stay resident. With 1M
//! accounts a leaf sits 6–7 nodes deep, and without the cache each of them was one random
//! MDBX read per updated leaf (docs/BENCHMARKS.md, "Execution and state root").

use alloy_primitives::B256;
use std::sync::{
    atomic::{AtomicU64, Ordering},
    Arc,
};

/// Default budget: the upper five levels of a million-leaf trie (~70k branch nodes of
/// ~530 bytes) for both the account trie and one large storage trie, with room to spare.
pub const DEFAULT_NODE_CACHE_BYTES: u64 = 128 << 20;

/// Bookkeeping per entry on top of the node's bytes (key, Arc header, cache slot).
const ENTRY_OVERHEAD_BYTES: u64 = 64;

/// Weighs an entry by the memory it holds.
#[derive(Debug, Clone, Copy, Default)]
struct NodeWeight;

impl quick_cache::Weighter<B256, Arc<[u8]>> for NodeWeight {
    fn weight(&self, _hash: &B256, node: &Arc<[u8]>) -> u64 {
        node.len() as u64 + ENTRY_OVERHEAD_BYTES
    }
}

/// Trie node RLP by node hash, bounded by bytes.
pub struct NodeCache {
    /// `None` when the budget is 0.
    nodes: Option<quick_cache::sync::Cache<B256, Arc<[u8]>, NodeWeight>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

/// How often the cache answered, since it was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NodeCacheStats {
    /// Lookups answered from memory.
    pub hits: u64,
    /// Lookups that went to the database.
    pub misses: u64,
}

impl std::fmt::Debug for NodeCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeCache").field("entries", &self.len()).finish()
    }
}

impl NodeCache {
    /// A cache holding at most about `budget_bytes` of nodes; 0 disables it.
    pub fn new(budget_bytes: u64) -> Self {
        // quick_cache sizes its tables from an estimate of the entry count (~300 bytes a node).
        let nodes = (budget_bytes > 0).then(|| {
            let estimated_items = (budget_bytes / 300).max(16) as usize;
            quick_cache::sync::Cache::with_weighter(estimated_items, budget_bytes, NodeWeight)
        });
        Self { nodes, hits: AtomicU64::new(0), misses: AtomicU64::new(0) }
    }

    /// The node with this hash, if cached.
    pub fn get(&self, hash: &B256) -> Option<Arc<[u8]>> {
        let found = self.nodes.as_ref().and_then(|n| n.get(hash));
        let counter = if found.is_some() { &self.hits } else { &self.misses };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Hits and misses so far.
    pub fn stats(&self) -> NodeCacheStats {
        NodeCacheStats { hits: self.hits.load(Ordering::Relaxed), misses: self.misses.load(Ordering::Relaxed) }
    }

    /// Remembers a node written to the database.
    pub fn insert(&self, hash: B256, node: &[u8]) {
        if self.nodes.is_some() {
            self.insert_shared(hash, Arc::from(node));
        }
    }

    /// Remembers a node read from the database, sharing it with the reader.
    pub fn insert_shared(&self, hash: B256, node: Arc<[u8]>) {
        if let Some(nodes) = &self.nodes {
            nodes.insert(hash, node);
        }
    }

    /// Entries currently held (for logs and tests).
    pub fn len(&self) -> usize {
        self.nodes.as_ref().map_or(0, |n| n.len())
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Default for NodeCache {
    fn default() -> Self {
        Self::new(DEFAULT_NODE_CACHE_BYTES)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_what_fits_and_evicts_past_its_budget() {
        let cache = NodeCache::new(64 * 1024);
        let node = vec![0xab; 500];
        for i in 0..1_000u32 {
            cache.insert(B256::from(alloy_primitives::U256::from(i)), &node);
        }
        // 1,000 × 564 bytes is far over 64 KiB: most were evicted, the budget holds.
        assert!(cache.len() < 200, "{} entries", cache.len());
        assert!(cache.nodes.as_ref().map_or(0, |n| n.weight()) <= 64 * 1024);
        let last = B256::from(alloy_primitives::U256::from(999u32));
        assert_eq!(cache.get(&last).as_deref(), Some(node.as_slice()));
    }

    #[test]
    fn a_zero_budget_caches_nothing() {
        let cache = NodeCache::new(0);
        cache.insert(B256::ZERO, &[1, 2, 3]);
        assert!(cache.is_empty());
        assert_eq!(cache.get(&B256::ZERO), None);
    }
}
