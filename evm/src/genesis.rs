//! Writes the genesis block and its state into an empty database, or checks that a
//! database already holds this genesis.

use crate::{
    chainspec::ChainSpec,
    db::{
        codec::Rlp,
        models::{StorageKey, StoredAccount, StoredCode},
        tables::{Accounts, Bodies, Bytecodes, CanonicalHashes, HeaderNumbers, Headers, Meta, StateRootBlocks, Storage},
        ChainDb, DbError,
    },
    trie::{compute_state_root, AccountUpdate, NodeKey, TrieError, EMPTY_ROOT},
};
use alloy_consensus::{BlockBody, Header};
use alloy_primitives::{keccak256, B256, U256};
use revm::primitives::KECCAK_EMPTY;

/// Meta key under which the genesis document is kept, so `serve` needs no genesis file.
pub const GENESIS_META_KEY: &[u8] = b"genesis.json";

/// Why the genesis could not be written or accepted.
#[derive(Debug, thiserror::Error)]
pub enum GenesisError {
    /// The database holds another chain.
    #[error("datadir holds a different chain: its genesis is {stored}, this genesis.json gives {expected}")]
    Mismatch {
        /// Hash in the database.
        stored: B256,
        /// Hash from the file.
        expected: B256,
    },
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The trie failed.
    #[error(transparent)]
    Trie(#[from] TrieError),
}

/// The genesis header and the state updates that produce it.
fn genesis_state(spec: &ChainSpec) -> Result<(Header, Vec<AccountUpdate>, crate::trie::StateRootOutput), TrieError> {
    let mut updates = Vec::new();
    for (address, account) in &spec.genesis.alloc {
        let code_hash = account.code.as_ref().filter(|c| !c.is_empty()).map_or(KECCAK_EMPTY, keccak256);
        let storage = account
            .storage
            .iter()
            .flatten()
            .map(|(slot, value)| (*slot, U256::from_be_bytes(value.0)))
            .collect();
        updates.push(AccountUpdate {
            address: *address,
            account: Some((account.nonce.unwrap_or(0), account.balance, code_hash)),
            prior_storage_root: EMPTY_ROOT,
            wipe_storage: false,
            storage,
        });
    }
    struct NoNodes;
    impl crate::trie::NodeSource for NoNodes {
        fn node(&self, key: &NodeKey) -> Result<Option<std::sync::Arc<[u8]>>, TrieError> {
            Err(TrieError::MissingNode(*key))
        }
    }
    let out = compute_state_root(&NoNodes, EMPTY_ROOT, &updates, 0)?;
    Ok((spec.genesis_header(out.root.hash), updates, out))
}

/// Writes the genesis into an empty database, or checks the stored one. Returns its hash.
pub fn init_genesis(db: &ChainDb, spec: &ChainSpec) -> Result<B256, GenesisError> {
    let (header, _updates, out) = genesis_state(spec)?;
    let hash = header.hash_slow();
    let tx = db.write()?;
    if let Some(stored) = tx.get::<CanonicalHashes>(&0)? {
        if stored != hash {
            return Err(GenesisError::Mismatch { stored, expected: hash });
        }
        return Ok(hash);
    }
    for (address, account) in &spec.genesis.alloc {
        let code_hash = match account.code.as_ref().filter(|c| !c.is_empty()) {
            Some(code) => {
                let code_hash = keccak256(code);
                tx.put::<Bytecodes>(&code_hash, &StoredCode(code.to_vec()))?;
                code_hash
            }
            None => KECCAK_EMPTY,
        };
        let storage_root = out.storage_roots.get(address).copied().unwrap_or(EMPTY_ROOT);
        tx.put::<Accounts>(
            address,
            &StoredAccount {
                nonce: account.nonce.unwrap_or(0),
                balance: account.balance,
                code_hash,
                storage_root: storage_root.hash,
                storage_root_block: storage_root.block,
            },
        )?;
        for (slot, value) in account.storage.iter().flatten() {
            let value = U256::from_be_bytes(value.0);
            if !value.is_zero() {
                tx.put::<Storage>(&StorageKey { address: *address, slot: *slot }, &value)?;
            }
        }
    }
    for (node_hash, node) in &out.nodes {
        tx.put_trie_node(NodeKey { block: 0, hash: *node_hash }, node)?;
    }
    tx.put::<StateRootBlocks>(&0, &out.root.block)?;
    tx.put::<CanonicalHashes>(&0, &hash)?;
    tx.put::<HeaderNumbers>(&hash, &0)?;
    tx.put::<Headers>(&0, &Rlp(header))?;
    tx.put::<Bodies>(&0, &Rlp(BlockBody::default()))?;
    // The alloc is in the state now; keeping it twice would cost as much again (a
    // million-account genesis is ~100 MB of JSON).
    let mut without_alloc = spec.genesis.clone();
    without_alloc.alloc.clear();
    let genesis_json = serde_json::to_vec(&without_alloc)
        .map_err(|e| DbError::Inconsistent(format!("cannot serialise genesis: {e}")))?;
    tx.put::<Meta>(&GENESIS_META_KEY.to_vec(), &genesis_json)?;
    tx.put::<Meta>(&crate::db::LAYOUT_KEY.to_vec(), &crate::db::codec::Codec::encode(&crate::db::LAYOUT_VERSION))?;
    tx.set_head(0)?;
    tx.commit()?;
    Ok(hash)
}

/// The chain spec stored with the database at genesis (its alloc is empty: the genesis
/// state is in the tables).
pub fn stored_chain_spec(db: &ChainDb) -> Result<Option<ChainSpec>, DbError> {
    let tx = db.read()?;
    let Some(bytes) = tx.get::<Meta>(&GENESIS_META_KEY.to_vec())? else { return Ok(None) };
    let text = String::from_utf8(bytes).map_err(|e| DbError::Inconsistent(format!("stored genesis: {e}")))?;
    ChainSpec::from_genesis_json(&text).map(Some).map_err(|e| DbError::Inconsistent(format!("stored genesis: {e}")))
}
