//! Validation of a transaction for the pool. Error texts are geth's, word for word, because
//! wallets and libraries match on them (jsonrpc.md pitfalls).
//!
//! Accepted: types 0 (EIP-155 only), 1, 2 and 4. Refused: type 3 (stele has no blob
//! network) and legacy transactions without replay protection.

use crate::{
    chainspec::ChainSpec,
    db::{DbError, DbTx},
    state::{StateAt, StateReader},
};
use alloy_consensus::{transaction::SignerRecoverable, Header, Transaction, TxEnvelope, TxType};
use alloy_eips::{eip7825::MAX_TX_GAS_LIMIT_OSAKA, Decodable2718, Encodable2718};
use alloy_evm::{spec_by_timestamp_and_block_number, FromRecoveredTx};
use alloy_hardforks::EthereumHardforks;
use alloy_primitives::{Address, B256, U256};
use revm::context::TxEnv;
use revm::context_interface::cfg::gas::calculate_initial_tx_gas_for_tx;
use signet_libmdbx::TransactionKind;

/// The largest transaction accepted, in bytes (geth's txMaxSize: 4 slots of 32 KiB).
pub const TX_BYTES_MAX: usize = 128 * 1024;
/// EIP-3860: the largest init code a creation may carry.
pub const INITCODE_BYTES_MAX: usize = 2 * 24_576;

/// Why a transaction is refused. `Display` is geth's wording.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxError {
    /// Not a transaction encoding.
    #[error("rlp: {0}")]
    Decode(String),
    /// Bigger than [`TX_BYTES_MAX`].
    #[error("oversized data: transaction size {size}, limit {limit}")]
    Oversized {
        /// Bytes.
        size: usize,
        /// Limit.
        limit: usize,
    },
    /// A typed envelope of at most one byte.
    #[error("typed transaction too short")]
    ShortTyped,
    /// Type 3, or an unknown type.
    #[error("transaction type not supported")]
    TypeNotSupported,
    /// Legacy without a chain id.
    #[error("only replay-protected (EIP-155) transactions allowed over RPC")]
    Unprotected,
    /// Signed for another chain.
    #[error("invalid sender: invalid chain id for signer: have {have} want {want}")]
    WrongChainId {
        /// The transaction's chain id.
        have: u64,
        /// This chain's.
        want: u64,
    },
    /// s in the upper half of the curve order (EIP-2).
    #[error("invalid transaction v, r, s values")]
    HighS,
    /// The signature does not recover.
    #[error("invalid sender: {0}")]
    InvalidSender(String),
    /// Nonce already used.
    #[error("nonce too low: next nonce {next}, tx nonce {nonce}")]
    NonceTooLow {
        /// The account's nonce.
        next: u64,
        /// The transaction's.
        nonce: u64,
    },
    /// Gas limit below the intrinsic cost.
    #[error("intrinsic gas too low: gas {gas}, minimum needed {needed}")]
    IntrinsicGas {
        /// The transaction's gas limit.
        gas: u64,
        /// What it needs before executing.
        needed: u64,
    },
    /// Gas limit above the block's.
    #[error("exceeds block gas limit")]
    GasLimit,
    /// Gas limit above EIP-7825's per-transaction cap (Osaka).
    #[error("transaction gas limit too high (cap: {cap}, tx: {gas})")]
    GasLimitCap {
        /// Cap.
        cap: u64,
        /// The transaction's.
        gas: u64,
    },
    /// Creation init code too large.
    #[error("max initcode size exceeded: code size {size}, limit {limit}")]
    InitCodeSize {
        /// Bytes.
        size: usize,
        /// Limit.
        limit: usize,
    },
    /// Tip above fee cap.
    #[error("max priority fee per gas higher than max fee per gas")]
    TipAboveFeeCap,
    /// Fee cap under the base fee.
    #[error("max fee per gas less than block base fee: address {sender}, maxFeePerGas: {fee_cap}, baseFee: {base_fee}")]
    FeeCapBelowBaseFee {
        /// Sender.
        sender: Address,
        /// The transaction's fee cap.
        fee_cap: u128,
        /// The head's base fee.
        base_fee: u64,
    },
    /// Balance below gas * price + value.
    #[error("insufficient funds for gas * price + value: balance {balance}, tx cost {cost}, overshot {overshot}")]
    InsufficientFunds {
        /// The sender's balance.
        balance: U256,
        /// The maximum cost.
        cost: U256,
        /// By how much.
        overshot: U256,
    },
    /// The database failed (not the sender's fault).
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<DbError> for TxError {
    fn from(e: DbError) -> Self {
        TxError::Internal(e.to_string())
    }
}

/// A transaction that passed validation.
#[derive(Debug, Clone)]
pub struct ValidTransaction {
    /// The transaction.
    pub transaction: TxEnvelope,
    /// Its hash.
    pub hash: B256,
    /// Its sender.
    pub sender: Address,
    /// gas limit * fee cap + value: what the sender must be able to pay.
    pub max_cost: U256,
    /// The sender's nonce at the head (the transaction's nonce is at least this).
    pub account_nonce: u64,
}

/// Decodes `eth_sendRawTransaction` bytes (EIP-2718 envelope or legacy RLP).
pub fn decode_raw_transaction(bytes: &[u8]) -> Result<TxEnvelope, TxError> {
    if bytes.len() > TX_BYTES_MAX {
        return Err(TxError::Oversized { size: bytes.len(), limit: TX_BYTES_MAX });
    }
    if bytes.first().is_some_and(|t| *t == TxType::Eip4844 as u8) {
        return Err(TxError::TypeNotSupported);
    }
    // As geth's UnmarshalBinary: a first byte above 0x7f is a legacy RLP list, anything
    // else a type byte followed by the payload.
    let legacy = bytes.first().is_some_and(|b| *b > 0x7f);
    if !legacy && bytes.len() <= 1 {
        return Err(TxError::ShortTyped);
    }
    let mut slice = bytes;
    let envelope = TxEnvelope::decode_2718(&mut slice).map_err(|e| match e {
        alloy_eips::eip2718::Eip2718Error::UnexpectedType(_) if !legacy => TxError::TypeNotSupported,
        other => TxError::Decode(other.to_string()),
    })?;
    if !slice.is_empty() {
        return Err(TxError::Decode("input contains more than one value".into()));
    }
    Ok(envelope)
}

/// Checks `envelope` against the head state read through `tx`, whose head header is `head`.
pub fn validate_transaction<K: TransactionKind>(
    tx: &DbTx<K>,
    spec: &ChainSpec,
    head: &Header,
    envelope: TxEnvelope,
) -> Result<ValidTransaction, TxError> {
    if envelope.is_eip4844() {
        return Err(TxError::TypeNotSupported);
    }
    match envelope.chain_id() {
        None => return Err(TxError::Unprotected),
        Some(have) if have != spec.chain_id => return Err(TxError::WrongChainId { have, want: spec.chain_id }),
        Some(_) => {}
    }
    if envelope.signature().normalize_s().is_some() {
        return Err(TxError::HighS);
    }
    let sender = envelope.recover_signer().map_err(|e| TxError::InvalidSender(e.to_string()))?;

    let next_number = head.number + 1;
    let gas = envelope.gas_limit();
    if gas > head.gas_limit {
        return Err(TxError::GasLimit);
    }
    if spec.is_osaka_active_at_timestamp(head.timestamp) && gas > MAX_TX_GAS_LIMIT_OSAKA {
        return Err(TxError::GasLimitCap { cap: MAX_TX_GAS_LIMIT_OSAKA, gas });
    }
    if envelope.is_create() && envelope.input().len() > INITCODE_BYTES_MAX {
        return Err(TxError::InitCodeSize { size: envelope.input().len(), limit: INITCODE_BYTES_MAX });
    }
    let spec_id = spec_by_timestamp_and_block_number(spec, head.timestamp, next_number);
    let tx_env = TxEnv::from_recovered_tx(&envelope, sender);
    let intrinsic = calculate_initial_tx_gas_for_tx(&tx_env, spec_id, None);
    let needed = (intrinsic.initial_regular_gas + intrinsic.initial_state_gas).max(intrinsic.floor_gas);
    if gas < needed {
        return Err(TxError::IntrinsicGas { gas, needed });
    }
    let fee_cap = envelope.max_fee_per_gas();
    if let Some(tip) = envelope.max_priority_fee_per_gas()
        && tip > fee_cap
    {
        return Err(TxError::TipAboveFeeCap);
    }
    if let Some(base_fee) = spec.next_base_fee(head)
        && fee_cap < u128::from(base_fee)
    {
        return Err(TxError::FeeCapBelowBaseFee { sender, fee_cap, base_fee });
    }
    let reader = StateReader::new(tx, StateAt::Head);
    let account = reader.account(sender)?;
    let (account_nonce, balance) = account.map_or((0, U256::ZERO), |a| (a.nonce, a.balance));
    if envelope.nonce() < account_nonce {
        return Err(TxError::NonceTooLow { next: account_nonce, nonce: envelope.nonce() });
    }
    let max_cost = U256::from(gas) * U256::from(fee_cap) + envelope.value();
    if balance < max_cost {
        return Err(TxError::InsufficientFunds { balance, cost: max_cost, overshot: max_cost - balance });
    }
    let hash = envelope.trie_hash();
    Ok(ValidTransaction { transaction: envelope, hash, sender, max_cost, account_nonce })
}
