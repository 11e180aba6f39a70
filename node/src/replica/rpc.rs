//! The `stele_` namespace: what a cluster replica adds to `eth_`:
//! - `stele_clusterInfo`: replica ids, addresses, certificate pins, BLS public keys, f, c;
//! - `stele_getFinalityCertificate(block)`: the f+1 aggregate BLS signature over a block's
//!   hash, which `stele verify-block` (or any client with the cluster's keys) checks;
//! - `stele_status`: view, primary, head, finality lag and peers, for `stele status`.

use super::{config::ReplicaConfig, node::ReplicaNode};
use alloy_eips::BlockNumberOrTag;
use alloy_primitives::{Bytes, B256, U64};
use jsonrpsee::{types::ErrorObjectOwned, RpcModule};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use stele_consensus::{message::StateCert, wire};
use stele_evm::db::tables::FinalityCertificates;

/// One replica as `stele_clusterInfo` lists it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ReplicaInfo {
    pub id: u16,
    pub address: String,
    pub rpc_url: String,
    pub cert_sha256: String,
    pub bls_public_key: String,
    pub bls_pop: String,
}

/// `stele_clusterInfo`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ClusterInfo {
    pub name: String,
    pub chain_id: U64,
    pub replica_id: u16,
    pub n: u16,
    pub f: u16,
    pub c: u16,
    pub finality_quorum: u16,
    pub replicas: Vec<ReplicaInfo>,
}

/// `stele_getFinalityCertificate`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FinalityCertificate {
    pub block_number: U64,
    pub block_hash: B256,
    pub signers: Vec<u16>,
    pub signature: Bytes,
    /// The whole certificate in the consensus wire format.
    pub encoded: Bytes,
}

impl FinalityCertificate {
    pub(crate) fn from_cert(cert: &StateCert) -> Self {
        Self {
            block_number: U64::from(cert.seq.get()),
            block_hash: B256::from(cert.block_hash.0),
            signers: cert.cert.signers.iter().map(|r| r.get()).collect(),
            signature: Bytes::from(cert.cert.signature.0.clone()),
            encoded: Bytes::from(wire::encode(cert)),
        }
    }
}

/// A peer in `stele_status`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PeerState {
    pub id: u16,
    pub connected: bool,
}

/// `stele_status`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Status {
    pub replica_id: u16,
    pub view: u64,
    pub primary: u16,
    pub mode: String,
    pub head: u64,
    pub committed: u64,
    pub executed: u64,
    pub stable_checkpoint: u64,
    pub finalized: u64,
    pub finality_lag: u64,
    /// The consensus timeouts are multiplied by 2^this: views that ended without a commit
    /// raise it, prompt commits lower it. Above 0 for long means the cluster is slower than
    /// its configured timeouts.
    #[serde(default)]
    pub timeout_doublings: u32,
    pub peers: Vec<PeerState>,
}

fn internal(e: impl std::fmt::Display) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(-32603, e.to_string(), None::<()>)
}

/// The cluster facts from the configuration.
pub(crate) fn cluster_info(config: &ReplicaConfig, chain_id: u64) -> anyhow::Result<ClusterInfo> {
    let params = config.params().map_err(anyhow::Error::msg)?;
    Ok(ClusterInfo {
        name: config.cluster.name.clone(),
        chain_id: U64::from(chain_id),
        replica_id: config.replica.id,
        n: params.n() as u16,
        f: config.cluster.f,
        c: config.cluster.c,
        finality_quorum: params.finality_quorum() as u16,
        replicas: config
            .peers
            .iter()
            .map(|p| ReplicaInfo {
                id: p.id,
                address: p.address.clone(),
                rpc_url: p.rpc_url.clone(),
                cert_sha256: p.cert_sha256.clone(),
                bls_public_key: p.bls_public_key.clone(),
                bls_pop: p.bls_pop.clone(),
            })
            .collect(),
    })
}

/// The `stele_` methods.
pub(crate) fn module(node: Arc<ReplicaNode>, info: ClusterInfo) -> anyhow::Result<RpcModule<(Arc<ReplicaNode>, ClusterInfo)>> {
    let mut module = RpcModule::new((node, info));
    module.register_method("stele_clusterInfo", |_, (_, info), _| Ok::<_, ErrorObjectOwned>(info.clone()))?;
    module.register_method("stele_getFinalityCertificate", |params, (node, _), _| {
        let block: BlockNumberOrTag = params.one()?;
        let tx = node.db.read().map_err(internal)?;
        let number = match block {
            BlockNumberOrTag::Number(n) => n,
            BlockNumberOrTag::Earliest => 0,
            _ => tx.head_number().map_err(internal)?.unwrap_or(0),
        };
        let Some(bytes) = tx.get::<FinalityCertificates>(&number).map_err(internal)? else {
            return Ok::<_, ErrorObjectOwned>(None);
        };
        let cert: StateCert = wire::decode(&bytes).map_err(internal)?;
        Ok(Some(FinalityCertificate::from_cert(&cert)))
    })?;
    module.register_method("stele_status", |_, (node, _), _| {
        let s = node.status();
        let head = node.db.read().and_then(|tx| tx.head_number()).map_err(internal)?.unwrap_or(0);
        let peers = node.link.peers().into_iter().map(|(id, connected)| PeerState { id: id.get(), connected }).collect();
        Ok::<_, ErrorObjectOwned>(Status {
            replica_id: node.id.get(),
            view: s.view.get(),
            primary: s.primary,
            mode: s.mode_name().to_string(),
            head,
            committed: s.committed.get(),
            executed: s.executed.get(),
            stable_checkpoint: s.stable.get(),
            finalized: s.finalized.get(),
            finality_lag: head.saturating_sub(s.finalized.get()),
            timeout_doublings: s.timeout_doublings,
            peers,
        })
    })?;
    Ok(module)
}
