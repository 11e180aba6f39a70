//! A bounded in-memory cache of trie nodes, shared by every transaction of one database.
//!
//! Nodes are stored under the block that wrote them and their own hash, and never
//! rewritten, so a cached node can never be stale: there is nothing to invalidate when
//! blocks are committed. Only committed nodes are cached (see [`crate::db::WriteTx::commit`]). The cache saves the
//! B-tree lookup of the nodes a block's state root walks through; the upper levels of the
//! account trie and of busy storage tries are on every path and stay resident. Leaves are
//! not cached (see [`worth_caching`]). With 1M
//! accounts a leaf sits 6–7 nodes deep, and without the cache each of them was one random
//! MDBX read per updated leaf (docs/BENCHMARKS.md, "Execution and state root").

use super::NodeKey;
use std::sync::{
    atomic::{AtomicU64, Ordering},
    Arc,
};

/// Default budget: the upper five levels of a million-leaf trie (~70k branch nodes of
/// ~530 bytes) for both the account trie and one large storage trie, with room to spare.
pub const DEFAULT_NODE_CACHE_BYTES: u64 = 128 << 20;

/// Bookkeeping per entry on top of the node's bytes (key, Arc header, cache slot).
const ENTRY_OVERHEAD_BYTES: u64 = 64;

/// Whether a stored node is worth a place in the cache: one that refers to children by hash
/// (a branch or an extension, on the path to many leaves). A node with no child blocks after
/// its RLP is a leaf (or a tiny subtrie kept inline). A block's root walk reads a leaf once,
/// to replace it, and nothing reads that version again; the new version is read only when
/// the same account or slot changes again. Caching leaves cost more in inserts and evicted
/// branches than those later hits saved: with 1M accounts, leaving them out gave +11 %
/// ERC-20 tx/s in alternating runs although ~1,000 more nodes a block came from MDBX
/// (docs/BENCHMARKS.md).
pub fn worth_caching(stored: &[u8]) -> bool {
    let mut rest = stored;
    match alloy_rlp::Header::decode(&mut rest) {
        Ok(header) => rest.len() > header.payload_length,
        Err(_) => true,
    }
}

/// Weighs an entry by the memory it holds.
#[derive(Debug, Clone, Copy, Default)]
struct NodeWeight;

impl quick_cache::Weighter<NodeKey, Arc<[u8]>> for NodeWeight {
    fn weight(&self, _key: &NodeKey, node: &Arc<[u8]>) -> u64 {
        node.len() as u64 + ENTRY_OVERHEAD_BYTES
    }
}

/// Stored trie nodes by [`NodeKey`], bounded by bytes.
pub struct NodeCache {
    /// `None` when the budget is 0.
    nodes: Option<quick_cache::sync::Cache<NodeKey, Arc<[u8]>, NodeWeight>>,
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

    /// The node stored under `key`, if cached.
    pub fn get(&self, key: &NodeKey) -> Option<Arc<[u8]>> {
        let found = self.nodes.as_ref().and_then(|n| n.get(key));
        let counter = if found.is_some() { &self.hits } else { &self.misses };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Hits and misses so far.
    pub fn stats(&self) -> NodeCacheStats {
        NodeCacheStats { hits: self.hits.load(Ordering::Relaxed), misses: self.misses.load(Ordering::Relaxed) }
    }

    /// Whether the cache holds anything at all (a zero budget turns it off).
    pub fn is_enabled(&self) -> bool {
        self.nodes.is_some()
    }

    /// Remembers a node of the database, sharing it with its reader or writer.
    pub fn insert_shared(&self, key: NodeKey, node: Arc<[u8]>) {
        if let Some(nodes) = &self.nodes {
            nodes.insert(key, node);
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
        let key = |i: u32| NodeKey { block: 1, hash: alloy_primitives::B256::from(alloy_primitives::U256::from(i)) };
        for i in 0..1_000u32 {
            cache.insert_shared(key(i), node.as_slice().into());
        }
        // 1,000 × 564 bytes is far over 64 KiB: most were evicted, the budget holds.
        assert!(cache.len() < 200, "{} entries", cache.len());
        assert!(cache.nodes.as_ref().map_or(0, |n| n.weight()) <= 64 * 1024);
        assert_eq!(cache.get(&key(999)).as_deref(), Some(node.as_slice()));
        assert_eq!(cache.get(&NodeKey { block: 2, ..key(999) }), None, "another block's node");
    }

    #[test]
    fn leaves_are_not_worth_caching_and_nodes_with_hashed_children_are() {
        use alloy_primitives::Bytes;
        // A two-item list (a leaf's shape) with nothing after it: no child referred to by hash.
        let leaf = alloy_rlp::encode(vec![Bytes::from(vec![0x20, 1, 2]), Bytes::from(vec![7u8; 70])]);
        assert!(!worth_caching(&leaf));
        // The same RLP followed by one child block, as stored for an extension or a branch.
        let mut with_child = leaf.clone();
        with_child.extend_from_slice(&5u64.to_be_bytes());
        assert!(worth_caching(&with_child));
        // Bytes that are not RLP are not judged here (the trie reports them as corrupt).
        assert!(worth_caching(&[0xff]));
    }

    #[test]
    fn a_zero_budget_caches_nothing() {
        let cache = NodeCache::new(0);
        let key = NodeKey { block: 0, hash: alloy_primitives::B256::ZERO };
        cache.insert_shared(key, Arc::from(&[1u8, 2, 3][..]));
        assert!(cache.is_empty());
        assert_eq!(cache.get(&key), None);
    }
}
