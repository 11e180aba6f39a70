//! How keys and values become bytes. Keys are big-endian so that MDBX's byte order is
//! numeric order (cursor ranges over block numbers work); values use RLP where Ethereum
//! already defines an encoding and fixed-width bytes elsewhere.

use alloy_primitives::{Address, B256, U256};

/// A value that went into the database and does not come back out: the database is
/// corrupt or was written by an incompatible version.
#[derive(Debug, thiserror::Error)]
#[error("cannot decode {what}: {reason}")]
pub struct CodecError {
    /// The type being decoded.
    pub what: &'static str,
    /// What was wrong.
    pub reason: String,
}

impl CodecError {
    pub(crate) fn new(what: &'static str, reason: impl ToString) -> Self {
        Self { what, reason: reason.to_string() }
    }
}

/// Turns a key or value into bytes and back.
pub trait Codec: Sized {
    /// Encodes `self`.
    fn encode(&self) -> Vec<u8>;
    /// Decodes bytes written by [`Codec::encode`].
    fn decode(bytes: &[u8]) -> Result<Self, CodecError>;
}

fn fixed<const N: usize>(bytes: &[u8], what: &'static str) -> Result<[u8; N], CodecError> {
    bytes.try_into().map_err(|_| CodecError::new(what, format!("expected {N} bytes, got {}", bytes.len())))
}

impl Codec for u64 {
    fn encode(&self) -> Vec<u8> {
        self.to_be_bytes().to_vec()
    }
    fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        Ok(u64::from_be_bytes(fixed(bytes, "u64")?))
    }
}

impl Codec for B256 {
    fn encode(&self) -> Vec<u8> {
        self.to_vec()
    }
    fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        Ok(B256::from(fixed::<32>(bytes, "B256")?))
    }
}

impl Codec for Address {
    fn encode(&self) -> Vec<u8> {
        self.to_vec()
    }
    fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        Ok(Address::from(fixed::<20>(bytes, "Address")?))
    }
}

/// Storage values drop their leading zero bytes; zero is never stored.
impl Codec for U256 {
    fn encode(&self) -> Vec<u8> {
        let bytes = self.to_be_bytes::<32>();
        let first = bytes.iter().position(|b| *b != 0).unwrap_or(32);
        bytes[first..].to_vec()
    }
    fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        if bytes.len() > 32 {
            return Err(CodecError::new("U256", format!("{} bytes", bytes.len())));
        }
        Ok(U256::from_be_slice(bytes))
    }
}

/// Raw bytes (trie nodes, bytecode, RLP blobs) are stored as they are.
impl Codec for Vec<u8> {
    fn encode(&self) -> Vec<u8> {
        self.clone()
    }
    fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        Ok(bytes.to_vec())
    }
}

/// The empty value, for index tables where the key says everything.
impl Codec for () {
    fn encode(&self) -> Vec<u8> {
        Vec::new()
    }
    fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        if bytes.is_empty() { Ok(()) } else { Err(CodecError::new("()", "non-empty")) }
    }
}

/// A value stored as its RLP encoding (headers, bodies, receipts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rlp<T>(pub T);

impl<T: alloy_rlp::Encodable + alloy_rlp::Decodable> Codec for Rlp<T> {
    fn encode(&self) -> Vec<u8> {
        alloy_rlp::encode(&self.0)
    }
    fn decode(mut bytes: &[u8]) -> Result<Self, CodecError> {
        let value = T::decode(&mut bytes).map_err(|e| CodecError::new(std::any::type_name::<T>(), e))?;
        if !bytes.is_empty() {
            return Err(CodecError::new(std::any::type_name::<T>(), "trailing bytes"));
        }
        Ok(Rlp(value))
    }
}

/// Implements [`Codec`] for a key made of fixed-width parts, concatenated in order.
macro_rules! composite_key {
    ($(#[$doc:meta])* $name:ident { $($field:ident : $ty:ty = $len:expr),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name { $(#[allow(missing_docs)] pub $field: $ty),+ }

        impl Codec for $name {
            fn encode(&self) -> Vec<u8> {
                let mut out = Vec::with_capacity(0 $(+ $len)+);
                $(out.extend_from_slice(&Codec::encode(&self.$field));)+
                out
            }
            fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
                let total = 0 $(+ $len)+;
                if bytes.len() != total {
                    return Err(CodecError::new(stringify!($name), format!("expected {total} bytes, got {}", bytes.len())));
                }
                let mut at = 0;
                $(
                    let $field = <$ty as Codec>::decode(&bytes[at..at + $len])?;
                    at += $len;
                )+
                let _ = at;
                Ok(Self { $($field),+ })
            }
        }
    };
}
pub(crate) use composite_key;
