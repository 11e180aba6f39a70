//! The consensus core's durable records, kept in the chain's MDBX environment
//! (`ConsensusMeta`: record index → wire-encoded [`PersistRecord`]), so one environment holds
//! the chain and what the replica promised while ordering it.
//!
//! Appends are group-committed: every record queued when the writer wakes goes into one
//! durable write transaction, then the highest id is acknowledged (acks are cumulative in the
//! core). When the log grows past [`COMPACT_RECORDS`] it is replaced, in the same transaction,
//! by the fold of all records written out again: restart cost stays bounded.

use stele_consensus::{persist::PersistRecord, wire, Durable};
use stele_evm::db::{tables::ConsensusMeta, ChainDb, DbError, WriteTx};

/// Rewrite the log as its fold once it holds this many records.
const COMPACT_RECORDS: u64 = 4_096;

/// Why the consensus log could not be read or written.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StoreError {
    /// The database failed.
    #[error("consensus log: {0}")]
    Db(#[from] DbError),
    /// A stored record does not decode: the datadir is corrupt or from another version.
    #[error("consensus log record {index} is corrupt: {reason}")]
    Corrupt {
        /// Record index.
        index: u64,
        /// Decoder message.
        reason: String,
    },
}

/// The record log and its fold.
#[derive(Debug)]
pub(crate) struct ConsensusStore {
    db: ChainDb,
    durable: Durable,
    next_index: u64,
    records: u64,
    /// Records the last compaction wrote: compacting again before the log doubles past them
    /// would make a long view change (many live records) quadratic.
    live_after_compaction: u64,
}

impl ConsensusStore {
    /// Reads every record and folds them (what [`stele_consensus::Replica::restore`] needs).
    pub(crate) fn open(db: ChainDb) -> Result<Self, StoreError> {
        let mut durable = Durable::default();
        let mut next_index = 0;
        let mut records = 0;
        let rows = all_rows(&db.read()?)?;
        {
            for (index, bytes) in rows {
                let record: PersistRecord =
                    wire::decode(&bytes).map_err(|e| StoreError::Corrupt { index, reason: e.to_string() })?;
                durable.apply(&record);
                next_index = index + 1;
                records += 1;
            }
        }
        Ok(Self { db, durable, next_index, records, live_after_compaction: 0 })
    }

    /// The fold of everything written.
    pub(crate) fn durable(&self) -> &Durable {
        &self.durable
    }

    /// Writes `batch` durably in one transaction (compacting when due).
    pub(crate) fn append(&mut self, batch: &[PersistRecord]) -> Result<(), StoreError> {
        let tx = self.db.write()?;
        for record in batch {
            self.durable.apply(record);
            tx.put::<ConsensusMeta>(&self.next_index, &wire::encode(record))?;
            self.next_index += 1;
            self.records += 1;
        }
        if self.records > COMPACT_RECORDS.max(2 * self.live_after_compaction) {
            self.compact(&tx)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Replaces the log by the records that rebuild the current fold.
    fn compact(&mut self, tx: &WriteTx) -> Result<(), StoreError> {
        for (key, _) in all_rows(tx)? {
            tx.delete::<ConsensusMeta>(&key)?;
        }
        let folded = fold_records(&self.durable);
        self.records = 0;
        for record in &folded {
            tx.put::<ConsensusMeta>(&self.next_index, &wire::encode(record))?;
            self.next_index += 1;
            self.records += 1;
        }
        self.live_after_compaction = self.records;
        Ok(())
    }
}

fn all_rows<K: signet_libmdbx::TransactionKind>(tx: &stele_evm::db::DbTx<K>) -> Result<Vec<(u64, Vec<u8>)>, DbError> {
    let mut rows = Vec::new();
    tx.walk::<ConsensusMeta>(&0, |k, v| {
        rows.push((k, v));
        Ok(true)
    })?;
    Ok(rows)
}

/// Records that, applied in order to an empty fold, give `durable` back. The stable
/// checkpoint goes first (it prunes what lies below it), the view before its new-view.
fn fold_records(durable: &Durable) -> Vec<PersistRecord> {
    let mut out = Vec::new();
    if let Some(stable) = &durable.stable {
        out.push(PersistRecord::Stable(stable.clone()));
    }
    out.push(PersistRecord::View(durable.view));
    if let Some(nv) = &durable.new_view {
        out.push(PersistRecord::NewView(Box::new(nv.clone())));
    }
    for (seq, (view, proposal)) in &durable.votes {
        out.push(PersistRecord::Vote { seq: *seq, view: *view, proposal: proposal.clone() });
    }
    for (cert, proposal) in durable.prepared.values() {
        out.push(PersistRecord::Prepared { cert: cert.clone(), proposal: proposal.clone() });
    }
    for proof in durable.committed.values() {
        out.push(PersistRecord::Committed(Box::new(proof.clone())));
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use stele_consensus::{
        crypto::{Certificate, Signature, SignerBitmap},
        message::{Batch, Proposal, StateCert, Tx},
        Digest, SeqNum, ViewNum,
    };

    fn vote(seq: u64, view: u64) -> PersistRecord {
        let proposal = Proposal::Batch(Batch { timestamp_ms: seq, txs: vec![Tx { payload: vec![seq as u8], gas: 21_000 }] });
        PersistRecord::Vote { seq: SeqNum::new(seq), view: ViewNum::new(view), proposal }
    }

    #[test]
    fn records_survive_reopen_and_compaction() {
        let dir = tempfile::tempdir().unwrap();
        let db = ChainDb::open(dir.path()).unwrap();
        let mut store = ConsensusStore::open(db.clone()).unwrap();
        // Enough batches to compact several times, with checkpoints becoming stable on the
        // way as they do in a running cluster; the fold must survive compaction and reopen.
        for round in 0..3 * COMPACT_RECORDS / 100 {
            let batch: Vec<_> = (0..100).map(|i| vote(round * 100 + i + 1, round % 3)).collect();
            store.append(&batch).unwrap();
            if round % 5 == 4 {
                let cert = Certificate { signers: SignerBitmap::new(4), signature: Signature(vec![1, 2, 3]) };
                let stable = StateCert { seq: SeqNum::new(round * 100 + 50), block_hash: Digest([7; 32]), cert };
                store.append(&[PersistRecord::Stable(stable)]).unwrap();
            }
        }
        store.append(&[PersistRecord::View(ViewNum::new(7))]).unwrap();
        let expected = store.durable().clone();
        drop(store);
        let reopened = ConsensusStore::open(db).unwrap();
        assert_eq!(reopened.durable(), &expected);
        assert!(reopened.records <= COMPACT_RECORDS, "log was compacted: {} records", reopened.records);
    }
}
