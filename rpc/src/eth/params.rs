//! Parameter types of the `eth_` namespace that serde's defaults get wrong for geth
//! compatibility: block parameters (tags, numbers, EIP-1898 hashes), storage keys, and
//! strict hex quantities. Each parse error names the argument the way geth does
//! (`invalid argument N: …`, code -32602).

use alloy_primitives::{B256, U256};
use serde::{de::Error as _, Deserialize, Deserializer};

/// A block as a request names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockParam {
    /// `latest`, `safe`, `finalized`: the head (BFT finality makes them the same block).
    Latest,
    /// `pending`: the head for reads; the pool for nonces.
    Pending,
    /// `earliest`: block 0.
    Earliest,
    /// A number.
    Number(u64),
    /// A hash (EIP-1898); `require_canonical` is always satisfied on a chain without forks.
    Hash(B256),
}

impl BlockParam {
    /// Whether this is the `pending` tag.
    pub fn is_pending(&self) -> bool {
        matches!(self, BlockParam::Pending)
    }
}

/// Parses a hex quantity the way geth's `hexutil.Uint64` does: a `0x` prefix, at least one
/// digit, no leading zeros, at most 64 bits.
pub fn parse_quantity(s: &str) -> Result<u64, String> {
    let digits = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")).ok_or("hex string without 0x prefix")?;
    if digits.is_empty() {
        return Err("hex string \"0x\"".into());
    }
    if digits.len() > 1 && digits.starts_with('0') {
        return Err("hex number with leading zero digits".into());
    }
    if digits.len() > 16 {
        return Err("hex number > 64 bits".into());
    }
    u64::from_str_radix(digits, 16).map_err(|_| "invalid hex string".to_string())
}

fn parse_block_str(s: &str) -> Result<BlockParam, String> {
    match s {
        "latest" | "safe" | "finalized" => Ok(BlockParam::Latest),
        "pending" => Ok(BlockParam::Pending),
        "earliest" => Ok(BlockParam::Earliest),
        _ if s.len() == 66 && s.starts_with("0x") => {
            s.parse::<B256>().map(BlockParam::Hash).map_err(|e| format!("invalid block hash: {e}"))
        }
        _ => parse_quantity(s).map(BlockParam::Number),
    }
}

impl<'de> Deserialize<'de> for BlockParam {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Str(String),
            Object {
                #[serde(rename = "blockHash")]
                block_hash: Option<B256>,
                #[serde(rename = "blockNumber")]
                block_number: Option<String>,
                #[serde(rename = "requireCanonical", default)]
                #[allow(dead_code)]
                require_canonical: Option<bool>,
            },
        }
        match Raw::deserialize(deserializer)? {
            Raw::Str(s) => parse_block_str(&s).map_err(D::Error::custom),
            Raw::Object { block_hash: Some(hash), block_number: None, .. } => Ok(BlockParam::Hash(hash)),
            Raw::Object { block_hash: None, block_number: Some(n), .. } => {
                parse_block_str(&n).map_err(D::Error::custom)
            }
            Raw::Object { .. } => Err(D::Error::custom("types BlockHash and BlockNumber cannot be combined or both empty")),
        }
    }
}

/// A block number or tag, without hashes (`eth_getBlockByNumber`, `eth_feeHistory`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockNumberParam(pub BlockParam);

impl<'de> Deserialize<'de> for BlockNumberParam {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        match s.as_str() {
            "latest" | "safe" | "finalized" => Ok(Self(BlockParam::Latest)),
            "pending" => Ok(Self(BlockParam::Pending)),
            "earliest" => Ok(Self(BlockParam::Earliest)),
            _ => parse_quantity(&s).map(|n| Self(BlockParam::Number(n))).map_err(D::Error::custom),
        }
    }
}

/// A strict hex quantity (`eth_getTransactionByBlockNumberAndIndex`'s index, `eth_feeHistory`'s
/// block count): decimal JSON numbers are accepted too, as geth does for block counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quantity(pub u64);

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Num(u64),
            Str(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Num(n) => Ok(Self(n)),
            Raw::Str(s) => parse_quantity(&s).map(Self).map_err(D::Error::custom),
        }
    }
}

/// A storage key as `eth_getStorageAt` and `eth_getProof` take it: up to 32 bytes of hex,
/// left-padded. `input_len` is the number of bytes given, which eth_getProof echoes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StorageKeyParam {
    /// The slot, left-padded to 32 bytes.
    pub slot: B256,
    /// How many bytes the caller wrote (geth echoes 32-byte keys verbatim, others compact).
    pub input_len: usize,
}

/// geth's storage key decoding (`decodeHash`): optional 0x, odd length padded, at most 32
/// bytes. The messages are geth's.
pub fn parse_storage_key(s: &str) -> Result<StorageKeyParam, String> {
    let raw = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")).unwrap_or(s);
    let padded = if raw.len() % 2 == 1 { format!("0{raw}") } else { raw.to_string() };
    let bytes = alloy_primitives::hex::decode(&padded).map_err(|_| format!("invalid hex in storage key: {s:?}"))?;
    if bytes.len() > 32 {
        return Err(format!("storage key too long (want at most 32 bytes): {s:?}"));
    }
    let mut slot = [0u8; 32];
    slot[32 - bytes.len()..].copy_from_slice(&bytes);
    Ok(StorageKeyParam { slot: B256::from(slot), input_len: bytes.len() })
}

impl StorageKeyParam {
    /// The key as geth writes it in a proof: verbatim for 32-byte input, else compact.
    pub fn echo(&self) -> String {
        if self.input_len == 32 {
            format!("{}", self.slot)
        } else {
            format!("{:#x}", U256::from_be_bytes(self.slot.0))
        }
    }
}

/// A storage key left as a string, so its errors come out in geth's words (not serde's).
#[derive(Debug, Clone, Deserialize)]
#[serde(transparent)]
pub struct RawStorageKey(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_follow_geth() {
        assert_eq!(parse_quantity("0x0"), Ok(0));
        assert_eq!(parse_quantity("0x1b"), Ok(27));
        assert!(parse_quantity("2").unwrap_err().contains("without 0x prefix"));
        assert!(parse_quantity("0x01").is_err());
        assert!(parse_quantity("0x").is_err());
        assert!(parse_quantity("0x10000000000000000").is_err());
    }

    #[test]
    fn block_params() {
        let p: BlockParam = serde_json::from_str("\"safe\"").unwrap();
        assert_eq!(p, BlockParam::Latest);
        let p: BlockParam = serde_json::from_str("\"0x2a\"").unwrap();
        assert_eq!(p, BlockParam::Number(42));
        let hash = format!("\"0x{}\"", "ab".repeat(32));
        assert!(matches!(serde_json::from_str::<BlockParam>(&hash).unwrap(), BlockParam::Hash(_)));
        let obj = format!("{{\"blockHash\":\"0x{}\",\"requireCanonical\":true}}", "cd".repeat(32));
        assert!(matches!(serde_json::from_str::<BlockParam>(&obj).unwrap(), BlockParam::Hash(_)));
        assert!(serde_json::from_str::<BlockParam>("\"3\"").is_err());
    }

    #[test]
    fn storage_keys() {
        let k = parse_storage_key("0x00").unwrap();
        assert_eq!(k.slot, B256::ZERO);
        assert_eq!(k.echo(), "0x0");
        let full = format!("0x{}", "00".repeat(31) + "38");
        assert_eq!(parse_storage_key(&full).unwrap().echo(), full);
        assert!(parse_storage_key("0xasdf").unwrap_err().starts_with("invalid hex in storage key"));
        let long = format!("0x{}", "0".repeat(65));
        assert!(parse_storage_key(&long).unwrap_err().starts_with("storage key too long"));
    }
}
