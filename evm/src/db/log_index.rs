//! Reads of the log index ([`LogAddressIndex`], [`LogTopicIndex`]): the blocks of a range
//! that hold a log from an address or carrying a topic. eth_getLogs and the log filters
//! visit only those blocks instead of reading every header of the range for its bloom.

use super::{
    models::WordBlock,
    tables::{LogAddressIndex, LogTopicIndex, Table},
    DbError, DbTx,
};
use alloy_primitives::{Address, B256};
use signet_libmdbx::TransactionKind;

impl<K: TransactionKind> DbTx<K> {
    /// The blocks in `from..=to` with a log emitted by `address`, ascending.
    pub fn blocks_with_log_address(&self, address: Address, from: u64, to: u64) -> Result<Vec<u64>, DbError> {
        self.indexed_blocks::<LogAddressIndex>(address.into_word(), from, to)
    }

    /// The blocks in `from..=to` with a log carrying `topic` (at any position), ascending.
    pub fn blocks_with_log_topic(&self, topic: B256, from: u64, to: u64) -> Result<Vec<u64>, DbError> {
        self.indexed_blocks::<LogTopicIndex>(topic, from, to)
    }

    fn indexed_blocks<T: Table<Key = WordBlock, Value = ()>>(&self, word: B256, from: u64, to: u64) -> Result<Vec<u64>, DbError> {
        let mut blocks = Vec::new();
        if from > to {
            return Ok(blocks);
        }
        self.walk::<T>(&WordBlock { word, block: from }, |key, ()| {
            if key.word != word || key.block > to {
                return Ok(false);
            }
            blocks.push(key.block);
            Ok(true)
        })?;
        Ok(blocks)
    }
}
