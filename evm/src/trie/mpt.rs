//! One Merkle-Patricia trie, loaded lazily from a [`NodeSource`], changed in memory and
//! committed back as the hashed nodes that changed. Node encoding is alloy-trie's.
//!
//! Nodes are stored under a [`NodeKey`]: the block that wrote them, then their hash. A
//! node's RLP refers to its children by hash only, so the stored value is the RLP followed
//! by one 8-byte big-endian block number per child referenced by hash, in the order the
//! RLP lists them (none for a leaf). A walk from a root thus knows where every node on its
//! path is stored.

use super::parallel;
use alloy_primitives::{keccak256, B256};
use alloy_rlp::EMPTY_STRING_CODE;
use alloy_trie::{
    nodes::{BranchNodeRef, ExtensionNodeRef, LeafNodeRef, RlpNode, TrieNode},
    Nibbles, TrieMask, EMPTY_ROOT_HASH,
};
use std::sync::Arc;

pub use crate::db::models::NodeKey;

/// Why a trie operation failed.
#[derive(Debug, thiserror::Error)]
pub enum TrieError {
    /// A node referenced by hash is not in the store: the database is incomplete.
    #[error("missing trie node {} (stored by block {})", .0.hash, .0.block)]
    MissingNode(NodeKey),
    /// A stored node does not decode.
    #[error("corrupt trie node {hash}: {reason}")]
    CorruptNode {
        /// The node's hash (or zero for an inline node).
        hash: B256,
        /// The decoder's complaint.
        reason: String,
    },
    /// The node store failed.
    #[error("trie node store: {0}")]
    Store(String),
}

/// A change to one key (32 bytes, already hashed): `Some` sets the RLP of the leaf value,
/// `None` removes the key.
pub type KeyChange = (B256, Option<Vec<u8>>);

/// Where hashed nodes are read from.
pub trait NodeSource {
    /// The stored value (RLP, then the children's blocks) of the node under this key, if
    /// stored. Shared, so that a cached node is handed out without a copy.
    fn node(&self, key: &NodeKey) -> Result<Option<Arc<[u8]>>, TrieError>;
}

/// New hashed nodes of a commit, as (hash, stored value); the caller stores each under
/// `NodeKey { block, hash }` with the block it committed for.
pub type NodeWrites = Vec<(B256, Vec<u8>)>;

/// Bytes per child block number after a stored node's RLP.
const CHILD_BLOCK_BYTES: usize = 8;

/// A node in memory. `Stored` is a child not loaded yet (a reference by hash with the block
/// that stored it, or an inline node of under 32 bytes, whose block means nothing), so
/// untouched subtries are never read.
#[derive(Debug, Clone)]
enum Node {
    Empty,
    Leaf { key: Nibbles, value: Vec<u8> },
    Extension { key: Nibbles, child: Box<Node> },
    Branch { children: Box<[Node; 16]> },
    Stored(RlpNode, u64),
}

/// One subtrie under a root branch after [`Trie::update_and_commit`]'s worker is done with it.
enum Subtrie {
    /// Nothing is there, before or after the changes.
    Empty,
    /// No change reached it: the branch's reference to it stands.
    Untouched(RlpNode, u64),
    /// Changed: how the branch refers to it now, and its new nodes. Its in-memory nodes were
    /// freed on the worker, not after it.
    Hashed { reference: RlpNode, writes: NodeWrites },
}

fn empty_children() -> Box<[Node; 16]> {
    Box::new(std::array::from_fn(|_| Node::Empty))
}

/// A trie being read or changed.
#[derive(Debug)]
pub struct Trie {
    root: Node,
}

impl Trie {
    /// The trie whose root node is stored under `root` (the empty root needs no store).
    pub fn at(root: NodeKey) -> Self {
        let root =
            if root.hash == EMPTY_ROOT_HASH { Node::Empty } else { Node::Stored(RlpNode::word_rlp(&root.hash), root.block) };
        Self { root }
    }

    /// Sets `key` (32 bytes, already hashed) to `value` (RLP of the leaf value).
    pub fn insert(&mut self, src: &impl NodeSource, key: &B256, value: Vec<u8>) -> Result<(), TrieError> {
        let root = std::mem::replace(&mut self.root, Node::Empty);
        self.root = insert(src, root, Nibbles::unpack(key), value)?;
        Ok(())
    }

    /// Removes `key`; removing an absent key changes nothing.
    pub fn remove(&mut self, src: &impl NodeSource, key: &B256) -> Result<(), TrieError> {
        let root = std::mem::replace(&mut self.root, Node::Empty);
        self.root = remove(src, root, Nibbles::unpack(key))?;
        Ok(())
    }

    /// Applies `changes` in order.
    pub fn apply(&mut self, src: &impl NodeSource, changes: &[KeyChange]) -> Result<(), TrieError> {
        for (key, value) in changes {
            match value {
                Some(value) => self.insert(src, key, value.clone())?,
                None => self.remove(src, key)?,
            }
        }
        Ok(())
    }

    /// Applies `changes` (at most one per key) to the trie with root `root` and commits it
    /// for `block`, like [`Trie::apply`] then [`Trie::commit`], on up to `workers` threads.
    ///
    /// Below a root branch the sixteen subtries share no node, so the changes are grouped by
    /// their first nibble, and each group is applied to its subtrie, hashed and freed on
    /// whichever worker is free; only the root branch is hashed at the end. Keys are hashes,
    /// so the groups are of about equal size. A root that is not a branch (a small trie)
    /// takes the sequential path, and so does a root branch left with fewer than two
    /// children (it folds into another node): it is redone from the start.
    pub fn update_and_commit<S: NodeSource + Sync>(
        root: NodeKey,
        src: &S,
        changes: &[KeyChange],
        workers: usize,
        block: u64,
    ) -> Result<(NodeKey, NodeWrites), TrieError> {
        let sequential = |mut trie: Self| -> Result<_, TrieError> {
            trie.apply(src, changes)?;
            Ok(trie.commit(block))
        };
        if workers < 2 || changes.is_empty() {
            return sequential(Self::at(root));
        }
        let children = match resolved(src, Self::at(root).root)? {
            Node::Branch { children } => children,
            small => return sequential(Self { root: small }),
        };
        let mut groups: Vec<Vec<&KeyChange>> = (0..16).map(|_| Vec::new()).collect();
        for change in changes {
            groups[usize::from(change.0[0] >> 4)].push(change);
        }
        let jobs: Vec<(Node, Vec<&KeyChange>)> = children.into_iter().zip(groups).collect();
        let subtries = parallel::map(jobs, workers, |(mut child, changes)| -> Result<_, TrieError> {
            if changes.is_empty() {
                return Ok(match child {
                    Node::Stored(reference, at) => Subtrie::Untouched(reference, at),
                    _ => Subtrie::Empty,
                });
            }
            for (key, value) in changes {
                let path = Nibbles::unpack(key).slice(1..);
                child = match value {
                    Some(value) => insert(src, child, path, value.clone())?,
                    None => remove(src, child, path)?,
                };
            }
            if let Node::Empty = child {
                return Ok(Subtrie::Empty);
            }
            let mut writes = Vec::new();
            let (reference, _) = encode(&child, block, &mut writes, &mut Vec::new());
            Ok(Subtrie::Hashed { reference, writes })
        });
        let subtries = subtries.into_iter().collect::<Result<Vec<_>, _>>()?;
        let live = subtries.iter().filter(|s| !matches!(s, Subtrie::Empty)).count();
        if live < 2 {
            return sequential(Self::at(root));
        }
        let mut writes = Vec::new();
        let mut stack = Vec::with_capacity(live);
        let mut child_blocks = Vec::new();
        let mut mask = TrieMask::default();
        for (index, subtrie) in subtries.into_iter().enumerate() {
            let (reference, at) = match subtrie {
                Subtrie::Empty => continue,
                Subtrie::Untouched(reference, at) => (reference, at),
                Subtrie::Hashed { reference, writes: subtrie_writes } => {
                    writes.extend(subtrie_writes);
                    (reference, block)
                }
            };
            push_child_block(&mut child_blocks, &reference, at);
            stack.push(reference);
            mask.set_bit(index as u8);
        }
        let mut buf = Vec::new();
        BranchNodeRef::new(&stack, mask).rlp(&mut buf);
        let hash = keccak256(&buf);
        buf.extend_from_slice(&child_blocks);
        writes.push((hash, buf));
        Ok((NodeKey { block, hash }, writes))
    }

    /// Reads the value under `key` without changing the trie.
    pub fn get(&self, src: &impl NodeSource, key: &B256) -> Result<Option<Vec<u8>>, TrieError> {
        let mut path = Nibbles::unpack(key);
        let mut node = self.root.clone();
        loop {
            node = match node {
                Node::Empty => return Ok(None),
                Node::Stored(rlp, at) => load(src, &rlp, at)?,
                Node::Leaf { key, value } => return Ok((key == path).then_some(value)),
                Node::Extension { key, child } => {
                    if !path.starts_with(&key) {
                        return Ok(None);
                    }
                    path = path.slice(key.len()..);
                    *child
                }
                Node::Branch { mut children } => {
                    if path.is_empty() {
                        return Ok(None);
                    }
                    let index = path.get_unchecked(0) as usize;
                    path = path.slice(1..);
                    std::mem::replace(&mut children[index], Node::Empty)
                }
            };
        }
    }

    /// Hashes the trie for `block`. Returns where its root is stored and every node of 32
    /// bytes or more that changed, to store under `block`. The trie itself is left
    /// unchanged.
    pub fn commit(&self, block: u64) -> (NodeKey, NodeWrites) {
        let mut writes = Vec::new();
        if let Node::Empty = self.root {
            return (NodeKey { block: 0, hash: EMPTY_ROOT_HASH }, writes);
        }
        if let Node::Stored(rlp, at) = &self.root
            && let Some(hash) = rlp.as_hash()
        {
            return (NodeKey { block: *at, hash }, writes);
        }
        let mut buf = Vec::new();
        encode(&self.root, block, &mut writes, &mut buf);
        // The root is always referenced by hash, even when shorter than 32 bytes. A node that
        // short embeds its children, so it has no child blocks to append.
        let hash = keccak256(&buf);
        if buf.len() < 32 {
            writes.push((hash, buf));
        }
        (NodeKey { block, hash }, writes)
    }
}

/// A stored node split into its RLP and the blocks of its hash-referenced children.
pub(crate) struct StoredNode<'a> {
    /// The node's RLP, as hashed and as proofs list it.
    pub(crate) rlp: &'a [u8],
    child_blocks: &'a [u8],
    hash: B256,
}

impl<'a> StoredNode<'a> {
    /// Splits the stored value of the node `hash`; a value that does not start with one
    /// whole RLP item is corrupt.
    pub(crate) fn split(hash: B256, stored: &'a [u8]) -> Result<Self, TrieError> {
        let corrupt = |reason: String| TrieError::CorruptNode { hash, reason };
        let mut rest = stored;
        let header = alloy_rlp::Header::decode(&mut rest).map_err(|e| corrupt(e.to_string()))?;
        let rlp_len = (stored.len() - rest.len())
            .checked_add(header.payload_length)
            .filter(|len| *len <= stored.len())
            .ok_or_else(|| corrupt("RLP longer than the stored value".into()))?;
        let (rlp, child_blocks) = stored.split_at(rlp_len);
        if !child_blocks.len().is_multiple_of(CHILD_BLOCK_BYTES) {
            return Err(corrupt(format!("{} bytes of child blocks", child_blocks.len())));
        }
        Ok(Self { rlp, child_blocks, hash })
    }

    /// A node embedded in its parent: RLP only, and it cannot refer to anything by hash.
    fn inline(rlp: &'a [u8]) -> Self {
        Self { rlp, child_blocks: &[], hash: B256::ZERO }
    }

    /// The block of the next hash-referenced child, taking it off the list; 0 for an inline
    /// child.
    pub(crate) fn child_block(&mut self, child: &RlpNode) -> Result<u64, TrieError> {
        if child.as_hash().is_none() {
            return Ok(0);
        }
        let Some((block, rest)) = self.child_blocks.split_first_chunk::<CHILD_BLOCK_BYTES>() else {
            return Err(TrieError::CorruptNode { hash: self.hash, reason: "fewer child blocks than hashed children".into() });
        };
        self.child_blocks = rest;
        Ok(u64::from_be_bytes(*block))
    }

    /// Fails unless every child block was taken.
    fn finish(&self) -> Result<(), TrieError> {
        if self.child_blocks.is_empty() {
            Ok(())
        } else {
            Err(TrieError::CorruptNode { hash: self.hash, reason: "more child blocks than hashed children".into() })
        }
    }
}

/// Appends the block of a child to a parent's child blocks, if the parent refers to it by
/// hash.
fn push_child_block(child_blocks: &mut Vec<u8>, reference: &RlpNode, block: u64) {
    if reference.as_hash().is_some() {
        child_blocks.extend_from_slice(&block.to_be_bytes());
    }
}

/// Loads a referenced node into memory (one level; its children stay `Stored`).
fn load(src: &impl NodeSource, rlp: &RlpNode, at: u64) -> Result<Node, TrieError> {
    let stored;
    let mut node = match rlp.as_hash() {
        Some(hash) => {
            let key = NodeKey { block: at, hash };
            stored = src.node(&key)?.ok_or(TrieError::MissingNode(key))?;
            StoredNode::split(hash, &stored)?
        }
        None => StoredNode::inline(rlp.as_slice()),
    };
    let hash = node.hash;
    let decoded = <TrieNode as alloy_rlp::Decodable>::decode(&mut &node.rlp[..])
        .map_err(|e| TrieError::CorruptNode { hash, reason: e.to_string() })?;
    let loaded = match decoded {
        TrieNode::EmptyRoot => Node::Empty,
        TrieNode::Leaf(leaf) => Node::Leaf { key: leaf.key, value: leaf.value },
        TrieNode::Extension(ext) => {
            let at = node.child_block(&ext.child)?;
            Node::Extension { key: ext.key, child: Box::new(Node::Stored(ext.child, at)) }
        }
        TrieNode::Branch(branch) => {
            let mut children = empty_children();
            let mut stack = branch.stack.into_iter();
            for index in 0..16u8 {
                if branch.state_mask.is_bit_set(index) {
                    let child = stack.next().ok_or_else(|| TrieError::CorruptNode {
                        hash,
                        reason: "branch mask names more children than it holds".into(),
                    })?;
                    let at = node.child_block(&child)?;
                    children[index as usize] = Node::Stored(child, at);
                }
            }
            Node::Branch { children }
        }
    };
    node.finish()?;
    Ok(loaded)
}

fn resolved(src: &impl NodeSource, node: Node) -> Result<Node, TrieError> {
    match node {
        Node::Stored(rlp, at) => load(src, &rlp, at),
        other => Ok(other),
    }
}

fn common_prefix(a: &Nibbles, b: &Nibbles) -> usize {
    a.common_prefix_length(b)
}

fn insert(src: &impl NodeSource, node: Node, path: Nibbles, value: Vec<u8>) -> Result<Node, TrieError> {
    Ok(match resolved(src, node)? {
        Node::Empty => Node::Leaf { key: path, value },
        Node::Leaf { key, value: old } => {
            if key == path {
                return Ok(Node::Leaf { key, value });
            }
            let p = common_prefix(&key, &path);
            if p >= key.len() || p >= path.len() {
                // Keys of one trie all have the same length; anything else is a corrupt node.
                return Err(TrieError::CorruptNode { hash: B256::ZERO, reason: "leaf key length differs".into() });
            }
            let mut children = empty_children();
            children[key.get_unchecked(p) as usize] = Node::Leaf { key: key.slice(p + 1..), value: old };
            children[path.get_unchecked(p) as usize] = Node::Leaf { key: path.slice(p + 1..), value };
            wrap(path.slice(..p), Node::Branch { children })
        }
        Node::Extension { key, child } => {
            let p = common_prefix(&key, &path);
            if p == key.len() {
                let child = insert(src, *child, path.slice(p..), value)?;
                return Ok(Node::Extension { key, child: Box::new(child) });
            }
            if p >= path.len() {
                return Err(TrieError::CorruptNode { hash: B256::ZERO, reason: "extension longer than the key".into() });
            }
            let mut children = empty_children();
            let rest = key.slice(p + 1..);
            children[key.get_unchecked(p) as usize] =
                if rest.is_empty() { *child } else { Node::Extension { key: rest, child } };
            children[path.get_unchecked(p) as usize] = Node::Leaf { key: path.slice(p + 1..), value };
            wrap(path.slice(..p), Node::Branch { children })
        }
        Node::Branch { mut children } => {
            if path.is_empty() {
                return Err(TrieError::CorruptNode { hash: B256::ZERO, reason: "branch at the end of a key".into() });
            }
            let index = path.get_unchecked(0) as usize;
            let child = std::mem::replace(&mut children[index], Node::Empty);
            children[index] = insert(src, child, path.slice(1..), value)?;
            Node::Branch { children }
        }
        Node::Stored(..) => unreachable!("resolved above"),
    })
}

/// Puts an extension with `prefix` above `node`, unless the prefix is empty.
fn wrap(prefix: Nibbles, node: Node) -> Node {
    if prefix.is_empty() { node } else { Node::Extension { key: prefix, child: Box::new(node) } }
}

fn remove(src: &impl NodeSource, node: Node, path: Nibbles) -> Result<Node, TrieError> {
    Ok(match resolved(src, node)? {
        Node::Empty => Node::Empty,
        Node::Leaf { key, value } => {
            if key == path { Node::Empty } else { Node::Leaf { key, value } }
        }
        Node::Extension { key, child } => {
            if !path.starts_with(&key) {
                return Ok(Node::Extension { key, child });
            }
            let child = remove(src, *child, path.slice(key.len()..))?;
            join(key, child)
        }
        Node::Branch { mut children } => {
            if path.is_empty() {
                return Err(TrieError::CorruptNode { hash: B256::ZERO, reason: "branch at the end of a key".into() });
            }
            let index = path.get_unchecked(0) as usize;
            let child = std::mem::replace(&mut children[index], Node::Empty);
            children[index] = remove(src, child, path.slice(1..))?;
            canonical_branch(src, children)?
        }
        Node::Stored(..) => unreachable!("resolved above"),
    })
}

/// A branch whose children may have been removed, in canonical form: no children is the
/// empty node, and a branch with one child is not canonical, so the child is folded up
/// into its place.
fn canonical_branch(src: &impl NodeSource, mut children: Box<[Node; 16]>) -> Result<Node, TrieError> {
    let mut live = children.iter().enumerate().filter(|(_, c)| !matches!(c, Node::Empty));
    let first = live.next().map(|(i, _)| i);
    Ok(match (first, live.next()) {
        (None, _) => Node::Empty,
        (Some(only), None) => {
            let child = resolved(src, std::mem::replace(&mut children[only], Node::Empty))?;
            let prefix = Nibbles::from_nibbles_unchecked([only as u8]);
            join(prefix, child)
        }
        _ => Node::Branch { children },
    })
}

/// `prefix` followed by `node`, in canonical form (extensions never point at leaves or
/// extensions).
fn join(prefix: Nibbles, node: Node) -> Node {
    match node {
        Node::Empty => Node::Empty,
        Node::Leaf { key, value } => Node::Leaf { key: prefix.join(&key), value },
        Node::Extension { key, child } => Node::Extension { key: prefix.join(&key), child },
        other => wrap(prefix, other),
    }
}

/// RLP-encodes `node` into `buf` and returns how a parent refers to it and the block that
/// stores it; nodes of 32 bytes or more are pushed to `writes` (RLP, then child blocks),
/// to be stored under `block`.
fn encode(node: &Node, block: u64, writes: &mut NodeWrites, buf: &mut Vec<u8>) -> (RlpNode, u64) {
    buf.clear();
    let mut child_blocks = Vec::new();
    let rlp = match node {
        Node::Empty => return (RlpNode::from_raw(&[EMPTY_STRING_CODE]).unwrap_or_default(), 0),
        Node::Stored(rlp, at) => return (rlp.clone(), *at),
        Node::Leaf { key, value } => LeafNodeRef::new(key, value).rlp(buf),
        Node::Extension { key, child } => {
            let (child_ref, at) = encode(child, block, writes, &mut Vec::new());
            push_child_block(&mut child_blocks, &child_ref, at);
            buf.clear();
            ExtensionNodeRef::new(key, &child_ref).rlp(buf)
        }
        Node::Branch { children } => {
            let mut stack = Vec::new();
            let mut mask = TrieMask::default();
            let mut child_buf = Vec::new();
            for (index, child) in children.iter().enumerate() {
                if !matches!(child, Node::Empty) {
                    let (child_ref, at) = encode(child, block, writes, &mut child_buf);
                    push_child_block(&mut child_blocks, &child_ref, at);
                    stack.push(child_ref);
                    mask.set_bit(index as u8);
                }
            }
            buf.clear();
            BranchNodeRef::new(&stack, mask).rlp(buf)
        }
    };
    if let Some(hash) = rlp.as_hash() {
        let mut stored = Vec::with_capacity(buf.len() + child_blocks.len());
        stored.extend_from_slice(buf);
        stored.extend_from_slice(&child_blocks);
        writes.push((hash, stored));
    }
    (rlp, block)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::U256;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    use crate::trie::mem_store::MemStore;

    fn reference_root(map: &BTreeMap<B256, Vec<u8>>) -> B256 {
        let mut hb = alloy_trie::HashBuilder::default();
        for (k, v) in map {
            hb.add_leaf(Nibbles::unpack(k), v);
        }
        hb.root()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Against a full rebuild: after random batches of inserts and removals, committed and
        /// reloaded between batches, the incremental root equals alloy-trie's HashBuilder root.
        #[test]
        fn incremental_root_matches_full_rebuild(
            batches in prop::collection::vec(
                prop::collection::vec((0u16..300, prop::option::of(1u64..1_000_000)), 1..40), 1..6)
        ) {
            let store = MemStore::default();
            let mut model = BTreeMap::new();
            let mut root = NodeKey { block: 0, hash: EMPTY_ROOT_HASH };
            // Each batch is a block: nodes left unchanged are read back from older blocks.
            for (block, batch) in (1u64..).zip(batches) {
                let mut trie = Trie::at(root);
                for (k, v) in batch {
                    let key = keccak256(U256::from(k).to_be_bytes::<32>());
                    match v {
                        Some(v) => {
                            let value = alloy_rlp::encode(U256::from(v));
                            trie.insert(&store, &key, value.clone()).unwrap();
                            model.insert(key, value);
                        }
                        None => {
                            trie.remove(&store, &key).unwrap();
                            model.remove(&key);
                        }
                    }
                }
                let (new_root, writes) = trie.commit(block);
                store.extend(block, writes);
                prop_assert_eq!(new_root.hash, reference_root(&model));
                root = new_root;
                // Every key reads back through the stored nodes.
                let reread = Trie::at(root);
                for (k, v) in &model {
                    let got = reread.get(&store, k).unwrap();
                    prop_assert_eq!(got.as_ref(), Some(v));
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// The parallel update gives the root and the stored nodes of the sequential one,
        /// removals included (the test after this one collapses the root branch).
        #[test]
        fn parallel_update_matches_the_sequential_one(
            batches in prop::collection::vec(
                prop::collection::vec((0u16..120, prop::option::of(1u64..1_000)), 1..150), 1..6),
            workers in 2usize..4,
        ) {
            let store = MemStore::default();
            let mut root = NodeKey { block: 0, hash: EMPTY_ROOT_HASH };
            for (block, batch) in (1u64..).zip(batches) {
                // At most one change per key, as a block's state diff has.
                let changes: BTreeMap<B256, Option<Vec<u8>>> = batch
                    .into_iter()
                    .map(|(k, v)| (keccak256(U256::from(k).to_be_bytes::<32>()), v.map(|v| alloy_rlp::encode(U256::from(v)))))
                    .collect();
                let changes: Vec<KeyChange> = changes.into_iter().collect();
                let mut sequential = Trie::at(root);
                sequential.apply(&store, &changes).unwrap();
                let (expected_root, mut expected_nodes) = sequential.commit(block);
                let (new_root, mut nodes) = Trie::update_and_commit(root, &store, &changes, workers, block).unwrap();
                prop_assert_eq!(new_root, expected_root);
                expected_nodes.sort();
                nodes.sort();
                prop_assert_eq!(&nodes, &expected_nodes);
                store.extend(block, nodes);
                root = new_root;
            }
        }
    }

    /// Removing all keys but one, or all of them, collapses the root branch: the parallel
    /// path must hand over to the sequential one and still agree with it.
    #[test]
    fn parallel_update_that_collapses_the_root_branch() {
        let store = MemStore::default();
        let keys: Vec<B256> = (0u64..200).map(|k| keccak256(k.to_be_bytes())).collect();
        let inserts: Vec<KeyChange> = keys.iter().map(|k| (*k, Some(alloy_rlp::encode(U256::from(7u64))))).collect();
        let empty = NodeKey { block: 0, hash: EMPTY_ROOT_HASH };
        let (root, nodes) = Trie::update_and_commit(empty, &store, &inserts, 2, 1).unwrap();
        store.extend(1, nodes);
        for keep in [1usize, 0] {
            let removals: Vec<KeyChange> = keys[keep..].iter().map(|k| (*k, None)).collect();
            let mut sequential = Trie::at(root);
            sequential.apply(&store, &removals).unwrap();
            let expected = sequential.commit(2);
            let (new_root, mut nodes) = Trie::update_and_commit(root, &store, &removals, 2, 2).unwrap();
            let (expected_root, mut expected_nodes) = expected;
            nodes.sort();
            expected_nodes.sort();
            assert_eq!((new_root, nodes), (expected_root, expected_nodes), "keeping {keep} key(s)");
        }
    }

    #[test]
    fn missing_node_is_an_error_not_a_panic() {
        let store = MemStore::default();
        let mut trie = Trie::at(NodeKey { block: 3, hash: B256::repeat_byte(7) });
        let err = trie.insert(&store, &B256::ZERO, vec![1]).unwrap_err();
        assert!(matches!(err, TrieError::MissingNode(NodeKey { block: 3, .. })));
    }

    /// A node looked for under the wrong block is missing: locations are part of the key.
    #[test]
    fn a_node_is_found_only_under_the_block_that_stored_it() {
        let store = MemStore::default();
        let mut trie = Trie::at(NodeKey { block: 0, hash: EMPTY_ROOT_HASH });
        for k in 0u64..50 {
            trie.insert(&store, &keccak256(k.to_be_bytes()), alloy_rlp::encode(U256::from(k + 1))).unwrap();
        }
        let (root, writes) = trie.commit(5);
        assert_eq!(root.block, 5);
        store.extend(5, writes);
        let key = keccak256(7u64.to_be_bytes());
        assert_eq!(Trie::at(root).get(&store, &key).unwrap(), Some(alloy_rlp::encode(U256::from(8u64))));
        let elsewhere = NodeKey { block: 4, ..root };
        assert!(matches!(Trie::at(elsewhere).get(&store, &key), Err(TrieError::MissingNode(_))));
    }

    /// Stored values whose child blocks do not match their RLP are reported as corrupt.
    #[test]
    fn torn_child_blocks_are_corrupt_not_a_panic() {
        let store = MemStore::default();
        let mut trie = Trie::at(NodeKey { block: 0, hash: EMPTY_ROOT_HASH });
        for k in 0u64..50 {
            trie.insert(&store, &keccak256(k.to_be_bytes()), alloy_rlp::encode(U256::from(k + 1))).unwrap();
        }
        let (root, writes) = trie.commit(1);
        let (_, root_value) = writes.iter().find(|(hash, _)| *hash == root.hash).unwrap().clone();
        let key = keccak256(7u64.to_be_bytes());
        for torn in [root_value[..root_value.len() - 3].to_vec(), root_value[..root_value.len() - 8].to_vec(), [&root_value[..], &[0u8; 8]].concat(), root_value[..10].to_vec()] {
            let store = MemStore::default();
            store.extend(1, writes.iter().filter(|(hash, _)| *hash != root.hash).cloned());
            store.extend(1, [(root.hash, torn)]);
            let err = Trie::at(root).get(&store, &key).unwrap_err();
            assert!(matches!(err, TrieError::CorruptNode { .. }), "{err}");
        }
        drop(store);
    }
}
