//! `stele verify-block`: checks a block's finality certificate against the cluster's BLS
//! public keys taken from a local config (not from the endpoint being checked), so a client
//! can prove that f+1 replicas executed the block to exactly this hash.

use crate::{replica::{config::{EnvOverrides, ReplicaConfig}, keys, rpc::FinalityCertificate}, rpc_client::RpcClient};
use alloy_primitives::B256;
use std::path::PathBuf;
use stele_consensus::{crypto::bls::BlsKeySet, message::StateCert, verify, wire, Params};

/// Arguments of `stele verify-block`.
#[derive(Debug, clap::Args)]
pub(crate) struct VerifyBlockArgs {
    /// Block number.
    #[arg(long)]
    block: u64,
    /// A replica config.toml of the cluster: the public keys and f, c come from here.
    #[arg(long)]
    config: PathBuf,
    /// Endpoint to fetch the block and certificate from (default: replica 0's).
    #[arg(long)]
    rpc: Option<String>,
    /// CA to trust (default: the config's cluster CA).
    #[arg(long)]
    ca: Option<PathBuf>,
}

/// Why a block's certificate does not hold.
#[derive(Debug, thiserror::Error)]
pub(crate) enum VerifyBlockError {
    /// No certificate for the block (not finalized yet, or the replica has none).
    #[error("block {0} has no finality certificate on this replica")]
    Missing(u64),
    /// The certificate is about another block.
    #[error("the certificate is for block {cert_number} {cert_hash}, the chain's block {number} is {hash}")]
    WrongBlock {
        /// Block asked for.
        number: u64,
        /// Its hash on the endpoint.
        hash: B256,
        /// Number in the certificate.
        cert_number: u64,
        /// Hash in the certificate.
        cert_hash: B256,
    },
    /// The signature does not hold.
    #[error(transparent)]
    Cert(#[from] verify::CertError),
    /// The encoded certificate does not parse.
    #[error("the certificate does not decode: {0}")]
    Decode(String),
}

/// Library form: checks `cert` (wire bytes) for block `number` with hash `hash`.
pub(crate) fn verify_block_certificate(keys: &BlsKeySet, params: &Params, number: u64, hash: B256, encoded: &[u8]) -> Result<StateCert, VerifyBlockError> {
    let cert: StateCert = wire::decode(encoded).map_err(|e| VerifyBlockError::Decode(e.to_string()))?;
    if cert.seq.get() != number || cert.block_hash.0 != hash.0 {
        return Err(VerifyBlockError::WrongBlock { number, hash, cert_number: cert.seq.get(), cert_hash: B256::from(cert.block_hash.0) });
    }
    verify::verify_finality(keys, params, &cert)?;
    Ok(cert)
}

pub(crate) fn run(args: VerifyBlockArgs) -> anyhow::Result<()> {
    let config = ReplicaConfig::load(&args.config, &EnvOverrides::default())?;
    let params = config.params().map_err(anyhow::Error::msg)?;
    let keys = keys::key_set(&config)?;
    let url = args.rpc.clone().unwrap_or_else(|| config.peers[0].rpc_url.clone());
    let ca = args.ca.clone().unwrap_or(config.cluster.ca_cert.clone());
    let client = RpcClient::new(&url, &ca)?;
    let runtime = tokio::runtime::Runtime::new()?;
    let (block, cert): (serde_json::Value, Option<FinalityCertificate>) = runtime.block_on(async {
        let tag = format!("{:#x}", args.block);
        let block = client.call("eth_getBlockByNumber", serde_json::json!([tag, false])).await?;
        let cert = client.call("stele_getFinalityCertificate", serde_json::json!([tag])).await?;
        anyhow::Ok((block, cert))
    })?;
    let hash: B256 = serde_json::from_value(block.get("hash").cloned().ok_or_else(|| anyhow::anyhow!("block {} not found at {url}", args.block))?)?;
    let cert = cert.ok_or(VerifyBlockError::Missing(args.block))?;
    let checked = verify_block_certificate(&keys, &params, args.block, hash, &cert.encoded)?;
    let signers: Vec<String> = checked.cert.signers.iter().map(|r| format!("r{}", r.get())).collect();
    println!(
        "block {} {hash}: finality certificate valid — signed by {} of {} replicas ({}), quorum f+1 = {}",
        args.block,
        signers.len(),
        params.n(),
        signers.join(", "),
        params.finality_quorum()
    );
    Ok(())
}
