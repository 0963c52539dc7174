// The store under a log: where a partition's record batches live and how they are found
// again. A log holds only what it needs to find its bytes — per segment a summary (offsets,
// size, newest timestamp) — and reads batches from the store on demand, through a bounded
// cache (cache.rs). Two stores implement it:
//
//   file_store.rs   segment files on a file system (std::fs, node:fs, memory files in tests),
//                   with a sparse index per segment and a recovery checkpoint
//   keyed_store.rs  batches as values keyed [topic, partition, base offset]: IndexedDB, or
//                   memory for logs that persist nothing
//
// Reads may be asynchronous underneath (IndexedDB): a read answers `Step::Pending` after
// queueing the load, and the bindings call again once the store has it. Writes go to the
// store at once and become durable at `flush`; a flush that fails leaves the store as it was
// at the previous successful flush.

use crate::error::Result;
use crate::record_batch::BatchHeader;

/// A partition as the store names it: "<topic>-<partition>", its directory (files) or key
/// prefix (keyed), with its topic and number.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartitionKey {
    pub topic: String,
    pub partition: u32,
}

impl PartitionKey {
    pub fn new(topic: &str, partition: u32) -> PartitionKey {
        PartitionKey {
            topic: topic.to_owned(),
            partition,
        }
    }

    /// The directory of a file log: "<topic>-<partition>".
    pub fn directory(&self) -> String {
        format!("{}-{}", self.topic, self.partition)
    }
}

/// What the log keeps in memory of a segment: enough for watermarks, retention and lookups.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentSummary {
    pub base_offset: i64,
    /// The offset after the segment's last batch; `base_offset` when empty.
    pub next_offset: i64,
    /// Bytes of the segment's batches.
    pub size: u64,
    /// The newest record timestamp, for time-based retention; None when empty.
    pub max_timestamp: Option<i64>,
    pub batches: u64,
}

impl SegmentSummary {
    pub fn empty(base_offset: i64) -> SegmentSummary {
        SegmentSummary {
            base_offset,
            next_offset: base_offset,
            size: 0,
            max_timestamp: None,
            batches: 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.batches == 0
    }

    /// Accounts for a batch appended (or found by recovery) at the end of the segment.
    pub fn add(&mut self, next_offset: i64, size: u64, max_timestamp: i64, records: i32) {
        self.next_offset = next_offset;
        self.size += size;
        self.batches += 1;
        if records > 0 {
            self.max_timestamp = Some(
                self.max_timestamp
                    .map_or(max_timestamp, |t| t.max(max_timestamp)),
            );
        }
    }
}

/// Where a batch is in its segment, as the store located it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchSlot {
    /// Store-specific: a byte position in the segment file, or the batch's key (base offset).
    pub location: u64,
    pub base_offset: i64,
    /// The offset after the batch (its last offset + 1).
    pub next_offset: i64,
    pub size: u32,
}

/// A batch's bytes as the store hands them out: shared, not copied.
#[derive(Clone, Debug)]
pub struct BatchBytes {
    pub bytes: std::rc::Rc<Vec<u8>>,
    /// Checked when it was written (a store in memory): no need to check it again.
    pub verified: bool,
}

/// A zeroed buffer of `len` bytes for a batch read from storage, its capacity rounded up to
/// one of eight sizes per power of two. Batches read one after another differ by a few bytes;
/// the allocator (wasm memory never shrinks) cannot reuse a freed batch's space for the next
/// one when it is a byte too small, and reading a 2 GB log grew brook's memory by a batch each
/// time. With these sizes a freed buffer fits the next batch of its size, at most 1/8 unused.
pub fn batch_buffer(len: usize) -> Vec<u8> {
    // An eighth of the greatest power of two not above `len`.
    let step = match len.checked_ilog2() {
        Some(log) => (1usize << log) / 8,
        None => 1,
    }
    .max(1);
    let mut buffer = Vec::with_capacity(len.div_ceil(step).saturating_mul(step));
    buffer.resize(len, 0);
    buffer
}

/// An answer now, or later: the store queued what it needs (an IndexedDB read); ask again once
/// the bindings have loaded it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step<T> {
    Ready(T),
    Pending,
}

/// A range of offsets whose records are damaged or missing: reads of it fail with
/// CORRUPT_DATA naming it, and what follows it is served.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DamagedRange {
    pub from: i64,
    /// Exclusive.
    pub to: i64,
    pub reason: String,
}

/// What opening a partition found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PartitionRecovery {
    /// Bytes of a torn tail cut away (written after the last durable point, never acknowledged
    /// under "strict").
    pub truncated_bytes: u64,
    /// The offset the torn tail started at, when one was cut.
    pub truncated_at: Option<i64>,
    pub damaged: Vec<DamagedRange>,
    /// Files or values that are not brook's and were left alone (a stray file named like a
    /// segment, a segment overlapping another).
    pub ignored: Vec<String>,
    /// Batches verified by reading them (a scan); 0 after a clean close.
    pub batches_scanned: u64,
}

/// A partition as the store opened it.
#[derive(Clone, Debug)]
pub struct OpenedPartition {
    /// In base-offset order; never empty (a partition always has an active segment).
    pub segments: Vec<SegmentSummary>,
    /// The first offset kept (retention moved it): below it nothing is missing.
    pub log_start: i64,
    pub recovery: PartitionRecovery,
}

/// The changes the core makes to its store, and the reads it needs. Every method but `flush`
/// may leave its change undurable until the next successful `flush`.
pub trait Store {
    /// Takes the exclusive right to write this store (LOG_LOCKED while another holds it).
    fn lock(&mut self) -> Result<()>;
    fn unlock(&mut self);

    fn load_manifest(&mut self) -> Result<Option<Vec<u8>>>;
    /// Replaces the manifest. Files: atomic and durable when it returns (the commit point of a
    /// topic's creation). Keyed: with the next flush, in one transaction with everything else.
    fn store_manifest(&mut self, bytes: &[u8]) -> Result<()>;

    /// Opens a partition the manifest lists, recovering it; creates it empty when missing.
    fn open_partition(&mut self, partition: &PartitionKey) -> Result<OpenedPartition>;
    /// Creates a partition, empty (an active segment at 0), replacing any leftover of a
    /// creation that never committed.
    fn create_partition(&mut self, partition: &PartitionKey) -> Result<()>;
    fn remove_partition(&mut self, partition: &PartitionKey) -> Result<()>;

    /// Appends a verified batch at the end of the active segment `segment`; returns its slot.
    /// `header` is the batch's, as the caller parsed it.
    fn append(
        &mut self,
        partition: &PartitionKey,
        segment: &SegmentSummary,
        batch: std::rc::Rc<Vec<u8>>,
        header: &BatchHeader,
    ) -> Result<BatchSlot>;
    /// Takes back the appends to `segment` from `slot` on (a flush that failed).
    fn undo_appends(
        &mut self,
        partition: &PartitionKey,
        segment: &SegmentSummary,
        slot: &BatchSlot,
    ) -> Result<()>;
    /// Seals `sealed` (made durable, its index kept) and starts an empty segment at `base`.
    fn roll(&mut self, partition: &PartitionKey, sealed: &SegmentSummary, base: i64) -> Result<()>;
    /// The first batch of `segment` whose records reach `offset` (None: none of them does).
    fn batch_at(
        &mut self,
        partition: &PartitionKey,
        segment: &SegmentSummary,
        offset: i64,
    ) -> Result<Step<Option<BatchSlot>>>;
    /// The batch after `slot` in `segment` (None at the segment's end).
    fn batch_after(
        &mut self,
        partition: &PartitionKey,
        segment: &SegmentSummary,
        slot: &BatchSlot,
    ) -> Result<Step<Option<BatchSlot>>>;
    /// The bytes of the batch in `slot`; unless `verified`, the caller checks them.
    fn read(
        &mut self,
        partition: &PartitionKey,
        segment: &SegmentSummary,
        slot: &BatchSlot,
    ) -> Result<Step<BatchBytes>>;
    /// The first batch after a damaged `slot` that verifies (None: none in this segment).
    fn resync(
        &mut self,
        partition: &PartitionKey,
        segment: &SegmentSummary,
        slot: &BatchSlot,
    ) -> Result<Step<Option<BatchSlot>>>;
    /// Deletes a whole segment (retention), after moving the log start past it.
    fn remove_segment(
        &mut self,
        partition: &PartitionKey,
        segment: &SegmentSummary,
        log_start: i64,
    ) -> Result<()>;
    /// Records that `segment` ends at `summary.next_offset` (compaction removed the emptied
    /// segment after it, whose offsets this one now covers).
    fn extend_segment(&mut self, partition: &PartitionKey, summary: &SegmentSummary) -> Result<()>;
    /// Replaces a sealed segment's batches with `batches` (compaction; offsets unchanged).
    fn replace_segment(
        &mut self,
        partition: &PartitionKey,
        segment: &SegmentSummary,
        batches: &[Vec<u8>],
    ) -> Result<SegmentSummary>;

    /// Merges the batches of the active segment `segment` from the one at `first` to its end
    /// into one batch of the same records (a memory log's small sends; see partition.rs), and
    /// returns the segment's summary after it. None, changing nothing, when the store keeps
    /// batches as written or these cannot be merged.
    fn coalesce_tail(
        &mut self,
        partition: &PartitionKey,
        segment: &SegmentSummary,
        first: i64,
    ) -> Result<Option<SegmentSummary>> {
        let _ = (partition, segment, first);
        Ok(None)
    }

    /// Makes everything written so far durable: `strict` as fsync or a strict transaction,
    /// relaxed as written to the OS or a relaxed transaction. `Ready` when done; `Pending` when
    /// the bindings complete it (IndexedDB) and report back through the store.
    fn flush(&mut self, strict: bool) -> Result<Step<()>>;
    /// Whether reads cost nothing (the batches are in memory): the log then keeps no cache.
    fn reads_are_free(&self) -> bool;
    /// Whether an asynchronous flush that failed leaves the partitions it wrote unusable
    /// until a reopen (a failed fsync), rather than to be reloaded by the bindings.
    fn failed_flush_is_final(&self) -> bool {
        false
    }
    /// A clean close: what the next open needs to skip its scan (the active segments' ends).
    fn close(&mut self, active: &[(PartitionKey, SegmentSummary, i64)]) -> Result<()>;
}

#[cfg(test)]
mod batch_buffer_tests {
    use super::batch_buffer;

    #[test]
    fn batch_buffers_of_nearby_sizes_share_a_capacity_at_most_an_eighth_unused() {
        for len in [0usize, 1, 7, 61, 4096, 700_001, 3_400_000, (1 << 22) + 1] {
            let buffer = batch_buffer(len);
            assert_eq!(buffer.len(), len);
            assert!(buffer.iter().all(|&b| b == 0));
            assert!(
                buffer.capacity() as u128 * 8 <= len.max(1) as u128 * 9 + 8,
                "{len}: {}",
                buffer.capacity()
            );
        }
        // A freed buffer fits a batch a little larger than the one it held.
        assert_eq!(
            batch_buffer(3_400_000).capacity(),
            batch_buffer(3_400_100).capacity()
        );
        assert_eq!(
            batch_buffer(700_000).capacity(),
            batch_buffer(700_300).capacity()
        );
    }
}
