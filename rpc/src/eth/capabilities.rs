//! `eth_capabilities`: which history this node can serve, so an RPC router can send each
//! historical query to a node that has the data (execution-apis `EthCapabilities`).
//!
//! stele keeps everything, so every resource is enabled from genesis: blocks, transactions
//! and receipts are never deleted; logs are answered from the receipts and the log index
//! written with each block; past state is read through the change sets and history index
//! (evm/src/state.rs) and past state proofs through trie nodes, which are content-addressed
//! and never deleted (evm/src/trie). A replica that catches up does so by re-executing
//! every block from its own head (node/src/statesync), never from a snapshot, so no replica
//! starts above block 0 either.
//!
//! `deleteStrategy` is left out on purpose: the schema makes it optional and its only kind
//! is `window` (a sliding deletion window), which would say stele deletes old data. The
//! recorded geth reply carries one for logs because geth prunes; stele has nothing to report.

use alloy_primitives::{B256, U64};
use jsonrpsee::RpcModule;
use serde::Serialize;

use super::{block_hash, head_number, inline, EthCtx, EthError};
use crate::error::ModuleError;

/// The `eth_capabilities` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Capabilities {
    /// The head block.
    pub(crate) head: HeadBlock,
    /// Account and contract state (eth_getBalance, eth_call, ...).
    pub(crate) state: Retention,
    /// Transactions and their lookups by hash.
    pub(crate) tx: Retention,
    /// Logs (eth_getLogs and the log filters).
    pub(crate) logs: Retention,
    /// Receipts.
    pub(crate) receipts: Retention,
    /// Headers and bodies.
    pub(crate) blocks: Retention,
    /// Merkle proofs (eth_getProof).
    pub(crate) stateproofs: Retention,
}

/// The head block's number and hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) struct HeadBlock {
    /// Number, as a compact hex quantity.
    pub(crate) number: U64,
    /// Hash.
    pub(crate) hash: B256,
}

/// What one resource keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Retention {
    /// The resource is not served at all.
    pub(crate) disabled: bool,
    /// The oldest block whose data is kept.
    pub(crate) oldest_block: U64,
}

impl Retention {
    /// Served, and kept from genesis on.
    pub(crate) const ARCHIVE: Self = Self { disabled: false, oldest_block: U64::ZERO };
}

/// The capabilities of a stele node whose head is block `number` with hash `hash`.
pub(crate) fn capabilities(number: u64, hash: B256) -> Capabilities {
    let all = Retention::ARCHIVE;
    Capabilities {
        head: HeadBlock { number: U64::from(number), hash },
        state: all,
        tx: all,
        logs: all,
        receipts: all,
        blocks: all,
        stateproofs: all,
    }
}

pub(super) fn register(module: &mut RpcModule<EthCtx>) -> Result<(), ModuleError> {
    // Two point reads (head number, its hash): inline, like eth_blockNumber.
    inline(module, "eth_capabilities", |_, ctx| {
        let tx = ctx.read()?;
        let number = head_number(&tx)?;
        let header = tx.header(number)?.ok_or_else(|| EthError::NotFound("header not found".into()))?;
        Ok(capabilities(number, block_hash(&tx, number, &header)?))
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn archive_node_reports_everything_from_genesis() {
        let hash = B256::repeat_byte(0xd2);
        let got = serde_json::to_value(capabilities(0x36, hash)).expect("plain data serialises");
        let all = json!({ "disabled": false, "oldestBlock": "0x0" });
        assert_eq!(
            got,
            json!({
                "head": { "number": "0x36", "hash": hash },
                "state": all, "tx": all, "logs": all, "receipts": all, "blocks": all, "stateproofs": all,
            })
        );
    }

    #[test]
    fn fits_the_recorded_reply_except_the_deletion_window() {
        // execution-apis eth_capabilities/get-capabilities.io (speconly): the same keys as
        // geth's reply, less the optional deleteStrategy geth reports for logs.
        let shared = std::env::var("STELE_SHARED")
            .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared").to_string());
        let io = std::fs::read_to_string(format!("{shared}/conformance/execution-apis/eth_capabilities/get-capabilities.io"))
            .expect("fixture present");
        let recorded = io.lines().find_map(|line| line.strip_prefix("<< ")).expect("a reply line");
        let mut recorded: serde_json::Value = serde_json::from_str(recorded).expect("reply is JSON");
        let recorded = &mut recorded["result"];
        recorded["logs"].as_object_mut().expect("logs is an object").remove("deleteStrategy");
        let head = &recorded["head"];
        let number = u64::from_str_radix(head["number"].as_str().expect("hex").trim_start_matches("0x"), 16).expect("hex");
        let hash: B256 = serde_json::from_value(head["hash"].clone()).expect("a hash");
        assert_eq!(&serde_json::to_value(capabilities(number, hash)).expect("serialises"), recorded);
    }
}
