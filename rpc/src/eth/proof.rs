//! `eth_getProof` (EIP-1186): account and storage proofs from the block's state root,
//! walked over the stored trie nodes (every past root stays provable, evm/src/trie).

use alloy_primitives::Address;
use jsonrpsee::RpcModule;
use serde_json::{json, Value};
use stele_evm::{state::StateReader, trie::proof::prove_account};

use super::{
    blocking,
    format::{quantity, quantity256},
    params::{parse_storage_key, BlockParam, RawStorageKey},
    state_header, Args, EthCtx, EthError,
};
use crate::error::ModuleError;

/// Most storage keys one eth_getProof may ask for.
pub(crate) const PROOF_KEYS_MAX: usize = 1_024;

pub(super) fn register(module: &mut RpcModule<EthCtx>) -> Result<(), ModuleError> {
    blocking(module, "eth_getProof", |params, ctx| {
        let mut args = Args::new(params);
        let address: Address = args.next()?;
        let raw_keys: Vec<RawStorageKey> = args.next()?;
        let block = args.optional::<BlockParam>()?.unwrap_or(BlockParam::Latest);
        if raw_keys.len() > PROOF_KEYS_MAX {
            return Err(EthError::InvalidParams(format!(
                "invalid argument 1: too many storage keys, the limit is {PROOF_KEYS_MAX}"
            )));
        }
        let keys = raw_keys
            .iter()
            .map(|RawStorageKey(raw)| parse_storage_key(raw).map_err(EthError::InvalidParams))
            .collect::<Result<Vec<_>, _>>()?;
        let tx = ctx.read()?;
        let (at, header) = state_header(&tx, block)?;
        let slots: Vec<_> = keys.iter().map(|k| k.slot).collect();
        let state_root = tx.state_root_key(header.number, header.state_root)?;
        // The trie's leaf names the storage root by hash; the account's record at that state
        // says which block stored it.
        let storage_root_block = StateReader::new(&tx, at.at()).account(address)?.map_or(0, |a| a.storage_root_block);
        let proof = prove_account(&tx, state_root, address, storage_root_block, &slots)
            .map_err(|e| EthError::Db(stele_evm::DbError::Inconsistent(e.to_string())))?;
        let storage: Vec<Value> = keys
            .iter()
            .zip(&proof.storage)
            .map(|(key, (_, value, nodes))| json!({ "key": key.echo(), "value": quantity256(*value), "proof": nodes }))
            .collect();
        Ok(json!({
            "address": address,
            "accountProof": proof.proof,
            "balance": quantity256(proof.account.balance),
            "codeHash": proof.account.code_hash,
            "nonce": quantity(proof.account.nonce),
            "storageHash": proof.account.storage_root,
            "storageProof": storage,
        }))
    })?;
    Ok(())
}
