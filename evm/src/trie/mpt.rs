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

/// How a parent refers to a node (its hash, or the node itself when under 32 bytes) and
/// the block that stored it.
type Reference = (RlpNode, u64);

/// A node in memory. `Stored` is a child not loaded yet (a reference by hash with the block
/// that stored it, or an inline node of under 32 bytes, whose block means nothing), so
/// untouched subtries are never read. A branch that has not changed since it was loaded or
/// sealed keeps its reference in `hashed`, so that sealing it again is free: a resident
/// trie's top ([`Trie::update_and_commit`]) is re-hashed only along the changed paths.
#[derive(Debug, Clone)]
enum Node {
    Empty,
    Leaf { key: Nibbles, value: Vec<u8> },
    Extension { key: Nibbles, child: Box<Node> },
    Branch { children: Box<[Node; 16]>, hashed: Option<Reference> },
    Stored(RlpNode, u64),
}

/// A changed branch: it has to be hashed again.
fn branch(children: Box<[Node; 16]>) -> Node {
    Node::Branch { children, hashed: None }
}

/// One subtrie under a root branch after [`Trie::update_and_commit`]'s worker is done with it.
enum Subtrie {
    /// Nothing is there, before or after the changes.
    Empty,
    /// How the branch refers to it now, its new nodes (none if no change reached it), and
    /// what stays of it in memory. The rest of its in-memory nodes were freed on the worker,
    /// not after it.
    Live { reference: Reference, writes: NodeWrites, resident: Node },
}

/// What [`Trie::update_and_commit`] produced.
#[derive(Debug)]
pub struct Committed {
    /// Where the new root is stored.
    pub root: NodeKey,
    /// The nodes to store under the block.
    pub writes: NodeWrites,
    /// The new trie with its branches above the kept depth still decoded: the next block's
    /// starting point if it builds on this one.
    pub resident: Trie,
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

    /// Applies `changes` (at most one per key) to `start`, the trie stored under `root` (or
    /// the resident trie of the block that stored it), and commits it for `block`, like
    /// [`Trie::apply`] then [`Trie::commit`], on up to `workers` threads. The branches less
    /// than `keep_depth` nibbles deep stay decoded in [`Committed::resident`].
    ///
    /// Below a root branch the sixteen subtries share no node, so the changes are grouped by
    /// their first nibble, and each group is applied to its subtrie, hashed and freed on
    /// whichever worker is free; only the root branch is hashed at the end. Keys are hashes,
    /// so the groups are of about equal size. A root that is not a branch (a small trie)
    /// takes the sequential path, and so does a root branch left with fewer than two
    /// children (it folds into another node): it is redone from the stored root.
    #[allow(clippy::too_many_arguments)]
    pub fn update_and_commit<S: NodeSource + Sync>(
        start: Self,
        root: NodeKey,
        src: &S,
        changes: &[KeyChange],
        workers: usize,
        block: u64,
        keep_depth: usize,
    ) -> Result<Committed, TrieError> {
        let sequential = |mut trie: Self| -> Result<_, TrieError> {
            trie.apply(src, changes)?;
            Ok(trie.commit_keeping(block, keep_depth))
        };
        if workers < 2 || changes.is_empty() {
            return sequential(start);
        }
        let children = match resolved(src, start.root)? {
            Node::Branch { children, .. } => children,
            small => return sequential(Self { root: small }),
        };
        let mut groups: Vec<Vec<&KeyChange>> = (0..16).map(|_| Vec::new()).collect();
        for change in changes {
            groups[usize::from(change.0[0] >> 4)].push(change);
        }
        let jobs: Vec<(Node, Vec<&KeyChange>)> = children.into_iter().zip(groups).collect();
        let subtries = parallel::map(jobs, workers, |(mut child, changes)| -> Result<_, TrieError> {
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
            let (resident, reference) = seal(child, 1, keep_depth, block, &mut writes);
            Ok(Subtrie::Live { reference, writes, resident })
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
        let mut kept = empty_children();
        for (index, subtrie) in subtries.into_iter().enumerate() {
            let Subtrie::Live { reference: (reference, at), writes: subtrie_writes, resident } = subtrie else { continue };
            writes.extend(subtrie_writes);
            push_child_block(&mut child_blocks, &reference, at);
            stack.push(reference);
            mask.set_bit(index as u8);
            kept[index] = resident;
        }
        let mut stored = Vec::new();
        BranchNodeRef::new(&stack, mask).rlp(&mut stored);
        let hash = keccak256(&stored);
        stored.extend_from_slice(&child_blocks);
        writes.push((hash, stored));
        let resident = if keep_depth > 0 {
            Node::Branch { children: kept, hashed: Some((RlpNode::word_rlp(&hash), block)) }
        } else {
            Node::Stored(RlpNode::word_rlp(&hash), block)
        };
        Ok(Committed { root: NodeKey { block, hash }, writes, resident: Self { root: resident } })
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
                Node::Branch { mut children, .. } => {
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
    /// bytes or more that changed, to store under `block`.
    pub fn commit(self, block: u64) -> (NodeKey, NodeWrites) {
        let Committed { root, writes, .. } = self.commit_keeping(block, 0);
        (root, writes)
    }

    /// [`Trie::commit`], keeping the branches less than `keep_depth` nibbles deep decoded.
    fn commit_keeping(self, block: u64, keep_depth: usize) -> Committed {
        let mut writes = Vec::new();
        let (resident, (reference, at)) = seal(self.root, 0, keep_depth, block, &mut writes);
        if let Some(hash) = reference.as_hash() {
            return Committed { root: NodeKey { block: at, hash }, writes, resident: Self { root: resident } };
        }
        if let Node::Empty = resident {
            return Committed { root: EMPTY_ROOT_KEY, writes, resident: Self { root: Node::Empty } };
        }
        // The root is always referenced by hash, even when shorter than 32 bytes. A node that
        // short embeds its children, so it has no child blocks to append.
        let hash = keccak256(reference.as_slice());
        writes.push((hash, reference.as_slice().to_vec()));
        Committed { root: NodeKey { block, hash }, writes, resident: Self { root: Node::Stored(RlpNode::word_rlp(&hash), block) } }
    }
}

/// Where the empty trie's root is (never stored, so its block means nothing).
const EMPTY_ROOT_KEY: NodeKey = NodeKey { block: 0, hash: EMPTY_ROOT_HASH };

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
            Node::Branch { children, hashed: Some((rlp.clone(), at)) }
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
            wrap(path.slice(..p), branch(children))
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
            wrap(path.slice(..p), branch(children))
        }
        Node::Branch { mut children, .. } => {
            if path.is_empty() {
                return Err(TrieError::CorruptNode { hash: B256::ZERO, reason: "branch at the end of a key".into() });
            }
            let index = path.get_unchecked(0) as usize;
            let child = std::mem::replace(&mut children[index], Node::Empty);
            children[index] = insert(src, child, path.slice(1..), value)?;
            branch(children)
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
        Node::Branch { mut children, .. } => {
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
        _ => branch(children),
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

/// Hashes `node`, `depth` nibbles below the root, for `block`: returns what stays of it in
/// memory and how a parent refers to it. Nodes of 32 bytes or more that changed are pushed
/// to `writes` (RLP, then child blocks), to be stored under `block`. Branches less than
/// `keep_depth` deep stay decoded, with their reference; everything else becomes `Stored`
/// and its decoded nodes are freed here. An unchanged node costs nothing: a `Stored` or
/// hashed node is not looked into.
fn seal(node: Node, depth: usize, keep_depth: usize, block: u64, writes: &mut NodeWrites) -> (Node, Reference) {
    let keep = |children: Box<[Node; 16]>, reference: &Reference| {
        if depth < keep_depth {
            Node::Branch { children, hashed: Some(reference.clone()) }
        } else {
            Node::Stored(reference.0.clone(), reference.1)
        }
    };
    let rlp = match node {
        Node::Empty => return (Node::Empty, (RlpNode::from_raw(&[EMPTY_STRING_CODE]).unwrap_or_default(), 0)),
        Node::Stored(rlp, at) => return (Node::Stored(rlp.clone(), at), (rlp, at)),
        Node::Branch { children, hashed: Some(reference) } => return (keep(children, &reference), reference),
        Node::Leaf { key, value } => {
            let mut stored = Vec::with_capacity(value.len() + 40);
            let rlp = LeafNodeRef::new(&key, &value).rlp(&mut stored);
            push_write(writes, &rlp, stored, &[]);
            rlp
        }
        Node::Extension { key, child } => {
            // An extension is not kept decoded, so nothing below it is either.
            let (_, (child_ref, at)) = seal(*child, depth + key.len(), 0, block, writes);
            let mut child_blocks = Vec::with_capacity(CHILD_BLOCK_BYTES);
            push_child_block(&mut child_blocks, &child_ref, at);
            let mut stored = Vec::with_capacity(key.len() / 2 + 40 + CHILD_BLOCK_BYTES);
            let rlp = ExtensionNodeRef::new(&key, &child_ref).rlp(&mut stored);
            push_write(writes, &rlp, stored, &child_blocks);
            rlp
        }
        Node::Branch { mut children, hashed: None } => {
            let mut stack = Vec::with_capacity(16);
            let mut mask = TrieMask::default();
            let mut child_blocks = Vec::with_capacity(16 * CHILD_BLOCK_BYTES);
            for (index, child) in children.iter_mut().enumerate() {
                // Unchanged children are referred to in place, not moved out and back.
                let (child_ref, at) = match child {
                    Node::Empty => continue,
                    Node::Stored(rlp, at) => (rlp.clone(), *at),
                    Node::Branch { hashed: Some((rlp, at)), .. } if depth + 1 < keep_depth => (rlp.clone(), *at),
                    changed => {
                        let (kept, reference) = seal(std::mem::replace(changed, Node::Empty), depth + 1, keep_depth, block, writes);
                        *changed = kept;
                        reference
                    }
                };
                push_child_block(&mut child_blocks, &child_ref, at);
                stack.push(child_ref);
                mask.set_bit(index as u8);
            }
            // 17 items of at most 33 bytes, and the list header.
            let mut stored = Vec::with_capacity(17 * 33 + 3 + child_blocks.len());
            let rlp = BranchNodeRef::new(&stack, mask).rlp(&mut stored);
            let reference = (rlp, block);
            let kept = keep(children, &reference);
            push_write(writes, &reference.0, stored, &child_blocks);
            return (kept, reference);
        }
    };
    (Node::Stored(rlp.clone(), block), (rlp, block))
}

/// Queues a new node for storing, unless it is small enough to live inside its parent.
fn push_write(writes: &mut NodeWrites, rlp: &RlpNode, mut stored: Vec<u8>, child_blocks: &[u8]) {
    if let Some(hash) = rlp.as_hash() {
        stored.extend_from_slice(child_blocks);
        writes.push((hash, stored));
    }
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
                let Committed { root: new_root, writes: mut nodes, .. } = Trie::update_and_commit(Trie::at(root), root, &store, &changes, workers, block, 0).unwrap();
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
        let Committed { root, writes: nodes, .. } = Trie::update_and_commit(Trie::at(empty), empty, &store, &inserts, 2, 1, 0).unwrap();
        store.extend(1, nodes);
        for keep in [1usize, 0] {
            let removals: Vec<KeyChange> = keys[keep..].iter().map(|k| (*k, None)).collect();
            let mut sequential = Trie::at(root);
            sequential.apply(&store, &removals).unwrap();
            let expected = sequential.commit(2);
            let Committed { root: new_root, writes: mut nodes, .. } = Trie::update_and_commit(Trie::at(root), root, &store, &removals, 2, 2, 0).unwrap();
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
