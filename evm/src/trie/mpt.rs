//! One Merkle-Patricia trie, loaded lazily from a [`NodeSource`], changed in memory and
//! committed back as the hashed nodes that changed. Node encoding is alloy-trie's.

use alloy_primitives::{keccak256, B256};
use alloy_rlp::EMPTY_STRING_CODE;
use alloy_trie::{
    nodes::{BranchNodeRef, ExtensionNodeRef, LeafNodeRef, RlpNode, TrieNode},
    Nibbles, TrieMask, EMPTY_ROOT_HASH,
};

/// Why a trie operation failed.
#[derive(Debug, thiserror::Error)]
pub enum TrieError {
    /// A node referenced by hash is not in the store: the database is incomplete.
    #[error("missing trie node {0}")]
    MissingNode(B256),
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

/// Where hashed nodes are read from.
pub trait NodeSource {
    /// The RLP of the node with this hash, if stored.
    fn node(&self, hash: &B256) -> Result<Option<Vec<u8>>, TrieError>;
}

/// A node in memory. `Stored` is a child not loaded yet (a reference by hash, or an inline
/// node of under 32 bytes), so untouched subtries are never read.
#[derive(Debug, Clone)]
enum Node {
    Empty,
    Leaf { key: Nibbles, value: Vec<u8> },
    Extension { key: Nibbles, child: Box<Node> },
    Branch { children: Box<[Node; 16]> },
    Stored(RlpNode),
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
    /// The trie with this root hash (the empty root needs no store).
    pub fn at(root: B256) -> Self {
        let root = if root == EMPTY_ROOT_HASH { Node::Empty } else { Node::Stored(RlpNode::word_rlp(&root)) };
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

    /// Reads the value under `key` without changing the trie.
    pub fn get(&self, src: &impl NodeSource, key: &B256) -> Result<Option<Vec<u8>>, TrieError> {
        let mut path = Nibbles::unpack(key);
        let mut node = self.root.clone();
        loop {
            node = match node {
                Node::Empty => return Ok(None),
                Node::Stored(rlp) => load(src, &rlp)?,
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

    /// Hashes the trie. Returns the root hash and every node of 32 bytes or more that
    /// changed, as (hash, RLP) pairs to store. The trie itself is left unchanged.
    pub fn commit(&self) -> (B256, Vec<(B256, Vec<u8>)>) {
        let mut writes = Vec::new();
        if let Node::Empty = self.root {
            return (EMPTY_ROOT_HASH, writes);
        }
        if let Node::Stored(rlp) = &self.root
            && let Some(hash) = rlp.as_hash()
        {
            return (hash, writes);
        }
        let mut buf = Vec::new();
        encode(&self.root, &mut writes, &mut buf);
        // The root is always referenced by hash, even when shorter than 32 bytes.
        let hash = keccak256(&buf);
        if buf.len() < 32 {
            writes.push((hash, buf));
        }
        (hash, writes)
    }
}

/// Loads a referenced node into memory (one level; its children stay `Stored`).
fn load(src: &impl NodeSource, rlp: &RlpNode) -> Result<Node, TrieError> {
    let (hash, bytes) = match rlp.as_hash() {
        Some(hash) => (hash, src.node(&hash)?.ok_or(TrieError::MissingNode(hash))?),
        None => (B256::ZERO, rlp.to_vec()),
    };
    let decoded = <TrieNode as alloy_rlp::Decodable>::decode(&mut bytes.as_slice())
        .map_err(|e| TrieError::CorruptNode { hash, reason: e.to_string() })?;
    Ok(match decoded {
        TrieNode::EmptyRoot => Node::Empty,
        TrieNode::Leaf(leaf) => Node::Leaf { key: leaf.key, value: leaf.value },
        TrieNode::Extension(ext) => Node::Extension { key: ext.key, child: Box::new(Node::Stored(ext.child)) },
        TrieNode::Branch(branch) => {
            let mut children = empty_children();
            let mut stack = branch.stack.into_iter();
            for index in 0..16u8 {
                if branch.state_mask.is_bit_set(index) {
                    let child = stack.next().ok_or_else(|| TrieError::CorruptNode {
                        hash,
                        reason: "branch mask names more children than it holds".into(),
                    })?;
                    children[index as usize] = Node::Stored(child);
                }
            }
            Node::Branch { children }
        }
    })
}

fn resolved(src: &impl NodeSource, node: Node) -> Result<Node, TrieError> {
    match node {
        Node::Stored(rlp) => load(src, &rlp),
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
        Node::Stored(_) => unreachable!("resolved above"),
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
            let mut live = children.iter().enumerate().filter(|(_, c)| !matches!(c, Node::Empty));
            let first = live.next().map(|(i, _)| i);
            match (first, live.next()) {
                (None, _) => Node::Empty,
                (Some(only), None) => {
                    // A branch with one child is not canonical: fold the child up.
                    let child = resolved(src, std::mem::replace(&mut children[only], Node::Empty))?;
                    let prefix = Nibbles::from_nibbles_unchecked([only as u8]);
                    join(prefix, child)
                }
                _ => Node::Branch { children },
            }
        }
        Node::Stored(_) => unreachable!("resolved above"),
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

/// RLP-encodes `node` into `buf` and returns how a parent refers to it; nodes of 32 bytes
/// or more are pushed to `writes` under their hash.
fn encode(node: &Node, writes: &mut Vec<(B256, Vec<u8>)>, buf: &mut Vec<u8>) -> RlpNode {
    buf.clear();
    let rlp = match node {
        Node::Empty => return RlpNode::from_raw(&[EMPTY_STRING_CODE]).unwrap_or_default(),
        Node::Stored(rlp) => return rlp.clone(),
        Node::Leaf { key, value } => LeafNodeRef::new(key, value).rlp(buf),
        Node::Extension { key, child } => {
            let child_ref = encode(child, writes, &mut Vec::new());
            buf.clear();
            ExtensionNodeRef::new(key, &child_ref).rlp(buf)
        }
        Node::Branch { children } => {
            let mut stack = Vec::new();
            let mut mask = TrieMask::default();
            let mut child_buf = Vec::new();
            for (index, child) in children.iter().enumerate() {
                if !matches!(child, Node::Empty) {
                    stack.push(encode(child, writes, &mut child_buf));
                    mask.set_bit(index as u8);
                }
            }
            buf.clear();
            BranchNodeRef::new(&stack, mask).rlp(buf)
        }
    };
    if let Some(hash) = rlp.as_hash() {
        writes.push((hash, buf.clone()));
    }
    rlp
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
            let mut root = EMPTY_ROOT_HASH;
            for batch in batches {
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
                let (new_root, writes) = trie.commit();
                store.0.borrow_mut().extend(writes);
                prop_assert_eq!(new_root, reference_root(&model));
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

    #[test]
    fn missing_node_is_an_error_not_a_panic() {
        let store = MemStore::default();
        let mut trie = Trie::at(B256::repeat_byte(7));
        let err = trie.insert(&store, &B256::ZERO, vec![1]).unwrap_err();
        assert!(matches!(err, TrieError::MissingNode(_)));
    }
}
