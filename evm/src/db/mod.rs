//! The chain database: one MDBX environment with typed tables (see [`tables`]).
//!
//! Reads go through [`DbTx`]; a block and everything derived from it (state, change sets,
//! indices, trie nodes, consensus metadata) is written in one write transaction, so a crash
//! leaves the database at the last fully committed block.

pub mod chain;
pub mod check;
pub mod codec;
pub mod log_index;
pub mod models;
pub mod tables;
mod writer;

use codec::{Codec, CodecError};
use signet_libmdbx::{
    DatabaseFlags, Environment, EnvironmentFlags, Geometry, MdbxError, Mode, ReadError, RoSync,
    RwSync, SyncMode, TransactionKind, WriteFlags, tx::Tx,
};
use crate::trie::{cache::NodeCache, NodeKey, ResidentTries};
use std::{path::Path, sync::Arc};
use tables::{Table, TABLE_NAMES};
use writer::{WriterSlot, WriterTurn};

pub use chain::head_state_root;

/// The largest size the database may grow to. MDBX reserves address space, not disk.
pub const DB_SIZE_MAX_BYTES: usize = 4 << 40;
/// Growth step of the data file.
const DB_GROWTH_STEP_BYTES: isize = 256 << 20;

/// Version of the table layout, kept in `Meta` from genesis on. 2: trie nodes keyed by
/// (block, hash) with their children's blocks, accounts with their storage root's block.
pub const LAYOUT_VERSION: u64 = 2;
/// Meta key of [`LAYOUT_VERSION`].
pub(crate) const LAYOUT_KEY: &[u8] = b"layout";

/// A database failure. Corruption and environment errors are fatal for a replica.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// MDBX itself failed (disk full, permissions, corrupt file).
    #[error("mdbx: {0}")]
    Mdbx(#[from] MdbxError),
    /// MDBX failed while reading.
    #[error("mdbx read: {0}")]
    Read(#[from] ReadError),
    /// A stored key or value does not decode.
    #[error("table {table}: {source}")]
    Codec {
        /// The table.
        table: &'static str,
        /// What went wrong.
        source: CodecError,
    },
    /// Something that must be there is not: the database is inconsistent.
    #[error("database inconsistent: {0}")]
    Inconsistent(String),
}

/// An open chain database. Cheap to clone; all clones share the environment.
#[derive(Debug, Clone)]
pub struct ChainDb {
    env: Environment,
    tables: Arc<[signet_libmdbx::Database]>,
    /// Write transactions of this process queue here (see [`writer`]).
    writer: Arc<WriterSlot>,
    /// Trie nodes recently read or written, shared by all transactions.
    nodes: Arc<NodeCache>,
    /// The decoded top of the tries of the latest block rooted here.
    resident: Arc<ResidentTries>,
}

impl ChainDb {
    /// Opens (creating if needed) the database in directory `path`, with the default trie
    /// node cache.
    pub fn open(path: &Path) -> Result<Self, DbError> {
        Self::open_with_node_cache(path, crate::trie::cache::DEFAULT_NODE_CACHE_BYTES)
    }

    /// Like [`ChainDb::open`], with a trie node cache of about `node_cache_bytes` (0: none).
    pub fn open_with_node_cache(path: &Path, node_cache_bytes: u64) -> Result<Self, DbError> {
        std::fs::create_dir_all(path)
            .map_err(|e| DbError::Inconsistent(format!("cannot create {}: {e}", path.display())))?;
        let mut builder = Environment::builder();
        builder
            // Dirty pages are written in place in the map and flushed by one msync per commit,
            // not copied out with a pwrite per page: a replica under load spent ~40 % of its
            // CPU in those writes (docs/BENCHMARKS.md). Durability is unchanged (SYNC_DURABLE).
            .write_map()
            .set_max_dbs(TABLE_NAMES.len() + 4)
            .set_max_readers(256u64)
            .set_flags(EnvironmentFlags {
                mode: Mode::ReadWrite { sync_mode: SyncMode::Durable },
                no_rdahead: true,
                coalesce: true,
                ..Default::default()
            })
            .set_geometry(Geometry {
                size: Some(0..DB_SIZE_MAX_BYTES),
                growth_step: Some(DB_GROWTH_STEP_BYTES),
                shrink_threshold: None,
                page_size: None,
            });
        let env = builder.open(path)?;
        let tx = env.begin_rw_sync()?;
        let tables = TABLE_NAMES
            .iter()
            .map(|name| tx.create_db(Some(name), DatabaseFlags::empty()))
            .collect::<Result<Vec<_>, _>>()?;
        tx.commit()?;
        let nodes = Arc::new(NodeCache::new(node_cache_bytes));
        let db = Self { env, tables: tables.into(), writer: Arc::default(), nodes, resident: Arc::default() };
        db.check_layout(path)?;
        Ok(db)
    }

    /// Refuses a database that holds a chain written with another table layout: its trie
    /// nodes could not be found, so it would fail on the first block or proof instead.
    fn check_layout(&self, path: &Path) -> Result<(), DbError> {
        let tx = self.read()?;
        if tx.head_number()?.is_none() {
            return Ok(());
        }
        let stored = tx.get::<tables::Meta>(&LAYOUT_KEY.to_vec())?.map(|v| u64::decode(&v)).transpose();
        match stored.map_err(|source| DbError::Codec { table: "Meta", source })? {
            Some(LAYOUT_VERSION) => Ok(()),
            other => Err(DbError::Inconsistent(format!(
                "{} holds a chain in table layout {} and this stele reads layout {LAYOUT_VERSION}; \
                 import or sync the chain into a new datadir",
                path.display(),
                other.map_or_else(|| "1".to_string(), |v| v.to_string()),
            ))),
        }
    }

    /// MDBX's running page counters, for benchmarks: the difference across a commit is
    /// what that block cost the disk.
    pub fn page_stats(&self) -> Result<PageStats, DbError> {
        let info = self.env.info()?;
        let ops = info.page_ops();
        let page_bytes = u64::from(self.env.stat()?.page_size());
        Ok(PageStats { new: ops.newly, copied: ops.cow, split: ops.split, page_bytes })
    }

    /// Hits and misses of the trie node cache since the database was opened.
    pub fn node_cache_stats(&self) -> crate::trie::cache::NodeCacheStats {
        self.nodes.stats()
    }

    /// Starts a read transaction: a consistent snapshot at the last commit.
    pub fn read(&self) -> Result<DbTx<RoSync>, DbError> {
        Ok(DbTx {
            tx: self.env.begin_ro_sync()?,
            tables: self.tables.clone(),
            nodes: self.nodes.clone(),
            resident: self.resident.clone(),
            committed_nodes: Default::default(),
            _turn: None,
        })
    }

    /// Starts the (single) write transaction, waiting for this process's previous one to end.
    pub fn write(&self) -> Result<DbTx<RwSync>, DbError> {
        let turn = self.writer.acquire();
        Ok(DbTx {
            tx: self.env.begin_rw_sync()?,
            tables: self.tables.clone(),
            nodes: self.nodes.clone(),
            resident: self.resident.clone(),
            committed_nodes: Default::default(),
            _turn: Some(turn),
        })
    }
}

/// Page operations of the environment since it was opened (MDBX `mi_pgop_stat`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PageStats {
    /// Pages newly allocated.
    pub new: u64,
    /// Pages copied for update (copy-on-write).
    pub copied: u64,
    /// Page splits.
    pub split: u64,
    /// Bytes per page.
    pub page_bytes: u64,
}

impl PageStats {
    /// Pages dirtied between `earlier` and `self`: each is written to disk at the commit.
    pub fn dirtied_since(&self, earlier: &PageStats) -> u64 {
        (self.new + self.copied).saturating_sub(earlier.new + earlier.copied)
    }
}

/// A transaction over the typed tables.
#[derive(Debug)]
pub struct DbTx<K: TransactionKind> {
    tx: Tx<K>,
    tables: Arc<[signet_libmdbx::Database]>,
    nodes: Arc<NodeCache>,
    resident: Arc<ResidentTries>,
    /// Trie nodes this write transaction stored, for the cache once it has committed: an
    /// aborted block's nodes must not be found under its block number later.
    committed_nodes: std::sync::Mutex<Vec<(NodeKey, Arc<[u8]>)>>,
    /// A write transaction's turn; declared after `tx` so that it is released only once the
    /// transaction has committed or aborted.
    _turn: Option<WriterTurn>,
}

/// A read-only transaction.
pub type ReadTx = DbTx<RoSync>;
/// The read-write transaction.
pub type WriteTx = DbTx<RwSync>;

fn decode<T: Codec>(table: &'static str, bytes: &[u8]) -> Result<T, DbError> {
    T::decode(bytes).map_err(|source| DbError::Codec { table, source })
}

impl<K: TransactionKind> DbTx<K> {
    /// The database's trie node cache (see [`crate::trie::cache`]).
    pub(crate) fn node_cache(&self) -> &NodeCache {
        &self.nodes
    }

    /// The database's kept trie tops (see [`crate::trie::resident`]).
    pub(crate) fn resident_tries(&self) -> &ResidentTries {
        &self.resident
    }

    fn handle<T: Table>(&self) -> Result<signet_libmdbx::Database, DbError> {
        self.tables
            .get(T::INDEX)
            .copied()
            .ok_or_else(|| DbError::Inconsistent(format!("table {} not opened", T::NAME)))
    }

    /// Reads the value under `key`.
    pub fn get<T: Table>(&self, key: &T::Key) -> Result<Option<T::Value>, DbError> {
        let db = self.handle::<T>()?;
        let raw: Option<std::borrow::Cow<'_, [u8]>> = self.tx.get(db.dbi(), &key.encode())?;
        raw.map(|bytes| decode(T::NAME, &bytes)).transpose()
    }

    /// Visits entries in key order starting at the first key >= `from`, until `visit`
    /// returns `false` or the table ends.
    pub fn walk<T: Table>(
        &self,
        from: &T::Key,
        mut visit: impl FnMut(T::Key, T::Value) -> Result<bool, DbError>,
    ) -> Result<(), DbError> {
        let db = self.handle::<T>()?;
        let mut cursor = self.tx.cursor(db)?;
        let mut entry: Option<(Vec<u8>, Vec<u8>)> = cursor.set_range(&from.encode())?;
        while let Some((k, v)) = entry {
            if !visit(decode(T::NAME, &k)?, decode(T::NAME, &v)?)? {
                break;
            }
            entry = cursor.next()?;
        }
        Ok(())
    }

    /// The entry with the largest key, if any.
    pub fn last<T: Table>(&self) -> Result<Option<(T::Key, T::Value)>, DbError> {
        let db = self.handle::<T>()?;
        let mut cursor = self.tx.cursor(db)?;
        let entry: Option<(Vec<u8>, Vec<u8>)> = cursor.last()?;
        entry.map(|(k, v)| Ok((decode(T::NAME, &k)?, decode(T::NAME, &v)?))).transpose()
    }
}

impl DbTx<RwSync> {
    /// Writes `value` under `key`, replacing what was there.
    pub fn put<T: Table>(&self, key: &T::Key, value: &T::Value) -> Result<(), DbError> {
        let db = self.handle::<T>()?;
        self.tx.put(db, key.encode(), value.encode(), WriteFlags::empty())?;
        Ok(())
    }

    /// Removes `key`; absent keys are fine.
    pub fn delete<T: Table>(&self, key: &T::Key) -> Result<(), DbError> {
        let db = self.handle::<T>()?;
        self.tx.del(db, key.encode(), None)?;
        Ok(())
    }

    /// Stores a trie node under `key`; the node cache learns it once the transaction has
    /// committed (the next block's paths run through it).
    pub fn put_trie_node(&self, key: NodeKey, node: &[u8]) -> Result<(), DbError> {
        let db = self.handle::<tables::TrieNodes>()?;
        self.tx.put(db, key.encode(), node, WriteFlags::empty())?;
        if self.nodes.is_enabled() && crate::trie::cache::worth_caching(node) {
            self.committed_nodes.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push((key, node.into()));
        }
        Ok(())
    }

    /// Commits everything written in this transaction atomically and durably.
    pub fn commit(self) -> Result<(), DbError> {
        self.tx.commit()?;
        let nodes = self.committed_nodes.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
        for (key, node) in nodes {
            self.nodes.insert_shared(key, node);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::B256;
    use tables::{CanonicalHashes, Meta};

    #[test]
    fn put_get_walk_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = ChainDb::open(dir.path()).unwrap();
            let tx = db.write().unwrap();
            for n in 0..10u64 {
                tx.put::<CanonicalHashes>(&n, &B256::with_last_byte(n as u8)).unwrap();
            }
            tx.put::<Meta>(&b"k".to_vec(), &b"v".to_vec()).unwrap();
            tx.commit().unwrap();
            // An uncommitted write is lost.
            let tx = db.write().unwrap();
            tx.put::<CanonicalHashes>(&99, &B256::ZERO).unwrap();
            drop(tx);
        }
        let db = ChainDb::open(dir.path()).unwrap();
        let tx = db.read().unwrap();
        assert_eq!(tx.get::<CanonicalHashes>(&3).unwrap(), Some(B256::with_last_byte(3)));
        assert_eq!(tx.get::<CanonicalHashes>(&99).unwrap(), None);
        let mut seen = vec![];
        tx.walk::<CanonicalHashes>(&5, |k, _| {
            seen.push(k);
            Ok(k < 7)
        })
        .unwrap();
        assert_eq!(seen, vec![5, 6, 7]);
        assert_eq!(tx.last::<CanonicalHashes>().unwrap().map(|e| e.0), Some(9));
    }

    /// A chain written without a layout version (layout 1) or with another one is refused
    /// on open with a message naming both layouts; the same chain with this layout opens.
    #[test]
    fn a_chain_in_another_table_layout_is_refused() {
        for (stored, opens) in [(None, false), (Some(LAYOUT_VERSION + 1), false), (Some(LAYOUT_VERSION), true)] {
            let dir = tempfile::tempdir().unwrap();
            {
                let db = ChainDb::open(dir.path()).unwrap();
                let tx = db.write().unwrap();
                tx.set_head(0).unwrap();
                if let Some(layout) = stored {
                    tx.put::<Meta>(&LAYOUT_KEY.to_vec(), &layout.encode()).unwrap();
                }
                tx.commit().unwrap();
            }
            match ChainDb::open(dir.path()) {
                Ok(_) => assert!(opens, "layout {stored:?} opened"),
                Err(err) => {
                    assert!(!opens, "layout {stored:?}: {err}");
                    let named = stored.map_or_else(|| "1".to_string(), |v| v.to_string());
                    let text = err.to_string();
                    assert!(text.contains(&format!("table layout {named} ")) && text.contains(&format!("layout {LAYOUT_VERSION};")), "{text}");
                }
            }
        }
    }
}
