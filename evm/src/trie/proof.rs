//! Merkle proofs for eth_getProof (EIP-1186): the nodes on the path from a state root (or
//! an account's storage root) to a key, read from the stored, content-addressed nodes.
//!
//! A proof lists every node referenced by hash along the path, root first; nodes shorter
//! than 32 bytes are embedded in their parent and so are not listed on their own, exactly
//! as geth builds proofs. A proof of absence ends at the node where the path diverges.

use super::mpt::{NodeKey, NodeSource, StoredNode, TrieError};
use alloy_primitives::{keccak256, Address, Bytes, B256, U256};
use alloy_trie::{
    nodes::{RlpNode, TrieNode},
    Nibbles, TrieAccount, EMPTY_ROOT_HASH,
};

/// A proof and the value it proves (RLP of the leaf value, `None` for absence).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeyProof {
    /// Hash-referenced nodes from the root to the key, each as stored (RLP).
    pub nodes: Vec<Bytes>,
    /// The leaf's value when the key is present.
    pub value: Option<Vec<u8>>,
}

/// An account proof with the account's fields and its storage proofs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountProof {
    /// The account.
    pub address: Address,
    /// Nodes of the state trie from the root to the account.
    pub proof: Vec<Bytes>,
    /// The account as the trie holds it (all zero/empty for an absent account).
    pub account: TrieAccount,
    /// One proof per requested slot: (slot, value, nodes of the storage trie).
    pub storage: Vec<(B256, U256, Vec<Bytes>)>,
}

/// Walks from `root` towards `key` (already hashed), collecting the proof.
pub fn prove_key(src: &impl NodeSource, root: NodeKey, key: &B256) -> Result<KeyProof, TrieError> {
    let mut out = KeyProof::default();
    if root.hash == EMPTY_ROOT_HASH {
        return Ok(out);
    }
    let mut path = Nibbles::unpack(key);
    let mut next = RlpNode::word_rlp(&root.hash);
    let mut next_block = root.block;
    // A path is at most 64 nibbles, so at most 65 nodes; the bound guards a corrupt store.
    for _ in 0..=64 {
        let (stored, inline);
        let mut node = match next.as_hash() {
            Some(hash) => {
                let key = NodeKey { block: next_block, hash };
                stored = src.node(&key)?.ok_or(TrieError::MissingNode(key))?;
                let node = StoredNode::split(hash, &stored)?;
                out.nodes.push(Bytes::copy_from_slice(node.rlp));
                node
            }
            None => {
                inline = next.clone();
                StoredNode::split(B256::ZERO, &inline)?
            }
        };
        let hash = next.as_hash().unwrap_or_default();
        let decoded = <TrieNode as alloy_rlp::Decodable>::decode(&mut &node.rlp[..])
            .map_err(|e| TrieError::CorruptNode { hash, reason: e.to_string() })?;
        match decoded {
            TrieNode::EmptyRoot => return Ok(out),
            TrieNode::Leaf(leaf) => {
                if leaf.key == path {
                    out.value = Some(leaf.value);
                }
                return Ok(out);
            }
            TrieNode::Extension(ext) => {
                if !path.starts_with(&ext.key) {
                    return Ok(out);
                }
                path = path.slice(ext.key.len()..);
                next_block = node.child_block(&ext.child)?;
                next = ext.child;
            }
            TrieNode::Branch(branch) => {
                if path.is_empty() {
                    return Ok(out);
                }
                let index = path.get_unchecked(0);
                if !branch.state_mask.is_bit_set(index) {
                    return Ok(out);
                }
                // Children are stored in mask order: the position is the count of set bits
                // below `index`. The child blocks follow the same order, for hashed children.
                let position = (0..index).filter(|i| branch.state_mask.is_bit_set(*i)).count();
                if position >= branch.stack.len() {
                    return Err(TrieError::CorruptNode { hash, reason: "branch mask names more children than it holds".into() });
                }
                for child in &branch.stack[..position] {
                    node.child_block(child)?;
                }
                next = branch.stack[position].clone();
                next_block = node.child_block(&next)?;
                path = path.slice(1..);
            }
        }
    }
    Err(TrieError::CorruptNode { hash: root.hash, reason: "path longer than 64 nibbles".into() })
}

/// The EIP-1186 proof of `address` and `slots` in the state with root `state_root`.
/// `storage_root_block` is the block that stored the account's storage root node, as the
/// account's record at that state says (the trie's leaf holds the root's hash only).
pub fn prove_account(
    src: &impl NodeSource,
    state_root: NodeKey,
    address: Address,
    storage_root_block: u64,
    slots: &[B256],
) -> Result<AccountProof, TrieError> {
    let account_proof = prove_key(src, state_root, &keccak256(address))?;
    let account = match &account_proof.value {
        Some(rlp) => <TrieAccount as alloy_rlp::Decodable>::decode(&mut rlp.as_slice())
            .map_err(|e| TrieError::CorruptNode { hash: state_root.hash, reason: format!("account leaf: {e}") })?,
        None => TrieAccount {
            nonce: 0,
            balance: U256::ZERO,
            storage_root: EMPTY_ROOT_HASH,
            code_hash: B256::ZERO,
        },
    };
    let storage_root = NodeKey { block: storage_root_block, hash: account.storage_root };
    let mut storage = Vec::with_capacity(slots.len());
    for slot in slots {
        let proof = prove_key(src, storage_root, &keccak256(slot))?;
        let value = match &proof.value {
            Some(rlp) => <U256 as alloy_rlp::Decodable>::decode(&mut rlp.as_slice()).map_err(|e| {
                TrieError::CorruptNode { hash: account.storage_root, reason: format!("storage leaf: {e}") }
            })?,
            None => U256::ZERO,
        };
        storage.push((*slot, value, proof.nodes));
    }
    Ok(AccountProof { address, proof: account_proof.nodes, account, storage })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trie::Trie;

    use crate::trie::mem_store::MemStore;

    /// Proofs verify with alloy-trie's verifier, for present and absent keys.
    #[test]
    fn proofs_verify_against_the_root() {
        let store = MemStore::default();
        let mut trie = Trie::at(crate::trie::EMPTY_ROOT);
        let keys: Vec<B256> = (0u64..200).map(|i| keccak256(U256::from(i).to_be_bytes::<32>())).collect();
        for (i, key) in keys.iter().enumerate() {
            trie.insert(&store, key, alloy_rlp::encode(U256::from(i + 1))).unwrap();
        }
        let (root, writes) = trie.commit(1);
        store.extend(1, writes);
        for (i, key) in keys.iter().enumerate().step_by(17) {
            let proof = prove_key(&store, root, key).unwrap();
            let expected = alloy_rlp::encode(U256::from(i + 1));
            assert_eq!(proof.value.as_ref(), Some(&expected));
            alloy_trie::proof::verify_proof(root.hash, Nibbles::unpack(key), Some(expected), &proof.nodes).unwrap();
        }
        let absent = keccak256(b"absent");
        let proof = prove_key(&store, root, &absent).unwrap();
        assert_eq!(proof.value, None);
        alloy_trie::proof::verify_proof(root.hash, Nibbles::unpack(absent), None, &proof.nodes).unwrap();
    }

    #[test]
    fn missing_root_is_an_error() {
        let store = MemStore::default();
        let root = NodeKey { block: 1, hash: B256::repeat_byte(1) };
        assert!(matches!(prove_key(&store, root, &B256::ZERO), Err(TrieError::MissingNode(_))));
    }
}
