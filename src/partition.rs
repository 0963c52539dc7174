// A partition: an append-only sequence of records, split into segments in its store. It owns
// offsets — each record gets the next one from 0 up, never reused (compaction leaves gaps; it
// never renumbers) — and three watermarks:
//
//   low       the first offset kept (retention moves it)
//   durable   the end of what is durable (Kafka's high watermark, for one machine): readers
//             are served up to here, never beyond
//   high      the next offset to hand out; records in [durable, high) are pending, encoded in
//             batches the next flush writes
//
// Sends between two flushes share one batch per partition (coalescing: Kafka's batching with
// no added delay). A flush writes the pending batches, and they become durable when the
// store's flush succeeds; one that fails takes them back, and the log rolls back to what is
// durable. Memory holds only segment summaries, the pending batches, and a few read cursors;
// record bytes come from the store through the log's cache.
//
// A log in memory also merges what flushes of a few records leave behind: once the end of
// the active segment holds COALESCE_BATCHES small batches, they become one batch of the same
// records (same offsets, timestamps, keys, values and headers). Sent one at a time, each
// record would otherwise keep its own 61-byte header and allocation, twice the payload's
// memory. Stores that persist keep the batches as written: rewriting durable bytes would cost
// a write per merge, and their memory holds no batches anyway.

use std::collections::HashMap;
use std::rc::Rc;

use crate::cache::BatchCache;
use crate::error::{Error, ErrorKind, Quoted, Result};
use crate::record_batch::{
    encode_retained, BatchBuilder, RecordBatch, RecordInput, RecordRun, ResumePoint,
};
use crate::store::{
    BatchSlot, DamagedRange, OpenedPartition, PartitionKey, SegmentSummary, Step, Store,
};

/// Where a read stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadOutcome {
    /// Records handed to the visitor.
    pub records: u32,
    /// The offset to read from next.
    pub next_offset: i64,
}

/// What a compaction pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CompactionReport {
    pub segments_rewritten: u32,
    pub records_removed: u64,
}

/// Where a read stopped, so the next read from there starts at the right batch.
#[derive(Clone, Copy, Debug)]
struct ReadCursor {
    offset: i64,
    segment_base: i64,
    slot: BatchSlot,
    /// Where in that batch's records `offset` is, when the read stopped inside the batch.
    resume: Option<ResumePoint>,
}

/// Consumers of several groups read one partition at different places: keep a few cursors.
const READ_CURSORS_MAX: usize = 8;

/// A batch this small (a send of a few records) is merged with the ones around it in memory.
const COALESCE_BATCH_BYTES_MAX: u64 = 512;
/// How many small batches at the end of the active segment a memory log merges at once: each
/// record is re-encoded once, and its share of the header is then 4 bytes.
const COALESCE_BATCHES: u32 = 16;

/// The small batches that end the active segment (memory logs): from `first` to its end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct SmallTail {
    first: i64,
    batches: u32,
}

/// A batch written by the flush in flight, for undoing it.
#[derive(Clone, Copy, Debug)]
struct Written {
    segment_before: SegmentSummary,
    slot: BatchSlot,
}

pub struct Partition {
    key: PartitionKey,
    /// This partition's number in its log (the cache's key).
    id: u32,
    /// In base-offset order; the last is the active segment.
    segments: Vec<SegmentSummary>,
    log_start: i64,
    durable: i64,
    high: i64,
    /// The batch being filled by sends, and full ones waiting for the next flush.
    pending: Option<BatchBuilder>,
    /// Bytes of records a send is about to append, for the pending batch it starts (see
    /// `reserve`).
    pending_room: usize,
    ready: Vec<Vec<u8>>,
    /// Written by the flush that has not completed (an asynchronous store); their end.
    written: Vec<Written>,
    in_flight_end: Option<i64>,
    /// Set when a failed write could not be undone, or an fsync failed: the file may hold a
    /// partial batch, or the kernel may have dropped dirty pages, so nothing more is written
    /// until the log is reopened.
    failed: Option<Error>,
    damaged: Vec<DamagedRange>,
    cursors: Vec<ReadCursor>,
    /// Segments below this base offset were compacted since they were sealed.
    compacted_below: i64,
    /// A compaction pass that waits for its store to load batches.
    compaction: Option<Compaction>,
    /// Memory logs: the run of small batches at the end, to merge once it is long enough.
    small_tail: Option<SmallTail>,
    /// On its topic's list of partitions the next flush visits (`Topic::touched`).
    touched: bool,
}

/// How far a compaction pass got: the keys' latest offsets, then segment by segment.
#[derive(Default)]
struct Compaction {
    latest: HashMap<Vec<u8>, i64>,
    /// The active segment's base offset when the pass began: only segments below it change.
    sealed_end: i64,
    scan_next: i64,
    scan_end: i64,
    /// The index of the sealed segment being rewritten, the next offset in it, and what it
    /// keeps so far.
    segment: usize,
    offset: i64,
    batches: Vec<Vec<u8>>,
    removed: u64,
    report: CompactionReport,
}

fn remember(cursors: &mut Vec<ReadCursor>, cursor: ReadCursor) {
    cursors.retain(|c| c.offset != cursor.offset);
    if cursors.len() >= READ_CURSORS_MAX {
        cursors.remove(0);
    }
    cursors.push(cursor);
}

impl Partition {
    pub fn new(key: PartitionKey, id: u32, opened: OpenedPartition) -> Partition {
        let segments = opened.segments;
        let end = segments.last().map_or(0, |s| s.next_offset);
        let first = segments.first().map_or(0, |s| s.base_offset);
        Partition {
            key,
            id,
            log_start: opened.log_start.min(first).max(0),
            durable: end,
            high: end,
            segments,
            pending: None,
            pending_room: 0,
            ready: Vec::new(),
            written: Vec::new(),
            in_flight_end: None,
            failed: None,
            damaged: opened.recovery.damaged,
            cursors: Vec::new(),
            compacted_below: 0,
            compaction: None,
            small_tail: None,
            touched: false,
        }
    }

    /// Its number in the log (the cache's key), never reused.
    pub fn id(&self) -> u32 {
        self.id
    }

    pub fn key(&self) -> &PartitionKey {
        &self.key
    }

    fn active(&self) -> &SegmentSummary {
        // There is always at least one segment: created with one, and never emptied.
        &self.segments[self.segments.len() - 1]
    }

    /// The first offset still stored (Kafka's log start offset).
    pub fn low_watermark(&self) -> i64 {
        self.segments
            .first()
            .map_or(0, |s| s.base_offset)
            .max(self.log_start)
    }

    /// The end of what is durable: readers are served up to here.
    pub fn durable_end(&self) -> i64 {
        self.durable
    }

    /// The offset the next record will get.
    pub fn high_watermark(&self) -> i64 {
        self.high
    }

    pub fn size_bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.size).sum()
    }

    pub fn damaged(&self) -> &[DamagedRange] {
        &self.damaged
    }

    pub fn has_pending(&self) -> bool {
        self.pending.is_some() || !self.ready.is_empty()
    }

    /// Marks this partition for the next flush; true when it was not marked yet (the caller
    /// lists it).
    pub fn touch(&mut self) -> bool {
        !std::mem::replace(&mut self.touched, true)
    }

    /// Unmarks this partition once a flush has nothing left to do for it: nothing pending,
    /// nothing written that waits for a flush to complete. False when it stays marked.
    pub fn settle(&mut self) -> bool {
        let settled =
            !self.has_pending() && self.written.is_empty() && self.in_flight_end.is_none();
        if settled {
            self.touched = false;
        }
        settled
    }

    pub fn is_failed(&self) -> bool {
        self.failed.is_some()
    }

    fn check_writable(&self) -> Result<()> {
        match &self.failed {
            Some(error) => Err(Error::new(
                ErrorKind::Io,
                format!(
                    "{} stopped taking writes after an earlier failure ({}); close and reopen the log",
                    self.key.directory(),
                    error.message()
                ),
            )),
            None => Ok(()),
        }
    }

    /// Makes room in the pending batch (or the one the next append starts) for `bytes` of
    /// encoded records: a send says how much it brings before it appends record by record.
    pub fn reserve(&mut self, bytes: usize) {
        match &mut self.pending {
            Some(builder) => builder.reserve(bytes),
            None => self.pending_room = bytes,
        }
    }

    /// Adds `records` to the pending batch (a new one when full); returns the first offset.
    /// Nothing is written: the next flush writes the batch.
    pub fn append<'r, I>(&mut self, records: I, default_timestamp: i64) -> Result<i64>
    where
        I: Iterator<Item = &'r RecordInput<'r>>,
    {
        self.check_writable()?;
        let first = self.high;
        for record in records {
            let timestamp = record.timestamp.unwrap_or(default_timestamp);
            let full = self
                .pending
                .as_ref()
                .is_some_and(|b| !b.fits(record, timestamp));
            if full {
                if let Some(batch) = self.pending.take() {
                    self.ready.push(batch.finish());
                }
            }
            let room = std::mem::take(&mut self.pending_room);
            let builder = self.pending.get_or_insert_with(|| {
                BatchBuilder::with_room(self.high, timestamp, room.max(256))
            });
            builder.push(record, timestamp);
            self.high += 1;
        }
        Ok(first)
    }

    /// Writes the pending batches to the store (rolling segments past `segment_bytes`), and
    /// keeps them in `cache` (verified: they were just built). Not durable until the store's
    /// flush. On a failure, the batches written are taken back and the error returned.
    pub fn write_pending(
        &mut self,
        store: &mut dyn Store,
        cache: Option<&mut BatchCache>,
        segment_bytes: u64,
    ) -> Result<()> {
        if let Some(batch) = self.pending.take() {
            self.ready.push(batch.finish());
        }
        if self.ready.is_empty() {
            return Ok(());
        }
        self.check_writable()?;
        let batches = std::mem::take(&mut self.ready);
        let mut cache = cache;
        for batch in batches {
            // Built by this partition: its header is read back, not its CRC and records (the
            // builder computed the CRC over these bytes; a failure here would be a bug).
            let verified =
                RecordBatch::trusted(&batch).map_err(|e| e.into_error("a batch just built"))?;
            let header = *verified.header();
            let size = batch.len() as u64;
            if !self.active().is_empty() && self.active().size + size > segment_bytes {
                self.small_tail = None;
                let sealed = *self.active();
                if let Err(error) = store.roll(&self.key, &sealed, header.base_offset) {
                    self.undo_written(store);
                    return Err(error);
                }
                self.segments
                    .push(SegmentSummary::empty(header.base_offset));
            }
            let segment_before = *self.active();
            let batch = Rc::new(batch);
            match store.append(&self.key, &segment_before, batch.clone(), &header) {
                Ok(slot) => {
                    let last = self.segments.len() - 1;
                    self.segments[last].add(
                        header.next_offset(),
                        size,
                        header.max_timestamp,
                        header.record_count,
                    );
                    self.written.push(Written {
                        segment_before,
                        slot,
                    });
                    if store.reads_are_free() {
                        self.small_tail = match self.small_tail {
                            _ if size > COALESCE_BATCH_BYTES_MAX => None,
                            Some(tail) => Some(SmallTail {
                                batches: tail.batches + 1,
                                ..tail
                            }),
                            None => Some(SmallTail {
                                first: header.base_offset,
                                batches: 1,
                            }),
                        };
                    }
                    if let Some(cache) = cache.as_deref_mut() {
                        cache.insert(self.id, header.base_offset, batch);
                    }
                }
                Err(error) => {
                    self.undo_written(store);
                    return Err(error);
                }
            }
        }
        Ok(())
    }

    /// Takes back what this flush wrote (the store could not write or flush it): the offsets
    /// after the durable end are handed out again.
    pub fn undo_written(&mut self, store: &mut dyn Store) {
        if let Some(first) = self.written.first().copied() {
            // Back to the segment as it was before the first batch of this flush.
            let before = first.segment_before;
            let at = self
                .segments
                .iter()
                .position(|s| s.base_offset == before.base_offset);
            if let Some(at) = at {
                if store.undo_appends(&self.key, &before, &first.slot).is_err() {
                    self.failed.get_or_insert_with(|| {
                        Error::new(ErrorKind::Io, "a failed write could not be taken back")
                    });
                }
                // Segments this flush rolled to go too: an empty file left behind would later
                // sit inside the segment before it.
                for rolled in self.segments.drain(at + 1..).rev() {
                    let _ = store.remove_segment(&self.key, &rolled, self.log_start);
                }
                self.segments[at] = before;
            }
        }
        self.written.clear();
        self.small_tail = None;
        self.pending = None;
        self.ready.clear();
        self.in_flight_end = None;
        self.high = self.durable;
        // A cursor at the durable end may name the batch written after it, now taken back.
        self.cursors.retain(|c| c.offset < self.durable);
    }

    /// The store flushed synchronously, or an asynchronous flush committed: what this flush
    /// wrote is durable.
    pub fn flushed(&mut self) {
        let end = self.in_flight_end.take().unwrap_or_else(|| {
            self.written
                .last()
                .map_or(self.durable, |w| w.slot.next_offset)
        });
        self.durable = self.durable.max(end);
        self.written.clear();
    }

    /// Memory logs: merges the small batches that end the active segment into one, once there
    /// are COALESCE_BATCHES of them and all of it is durable. A merge the store declines or
    /// fails changes nothing (it is only memory to save).
    pub fn coalesce_tail(&mut self, store: &mut dyn Store) {
        let Some(tail) = self.small_tail else {
            return;
        };
        if tail.batches < COALESCE_BATCHES {
            return;
        }
        self.small_tail = None;
        let segment = *self.active();
        let settled = self.written.is_empty()
            && !self.has_pending()
            && self.failed.is_none()
            && self.compaction.is_none()
            && self.durable == self.high
            && segment.next_offset == self.high;
        if !settled || tail.first < segment.base_offset || tail.first >= segment.next_offset {
            return;
        }
        if let Ok(Some(summary)) = store.coalesce_tail(&self.key, &segment, tail.first) {
            let last = self.segments.len() - 1;
            self.segments[last] = summary;
            // A cursor to a merged batch names one that is gone, and its resume point counts
            // the records left in the old batch.
            self.cursors.retain(|c| c.slot.base_offset < tail.first);
        }
    }

    /// An asynchronous flush of what was written started: it becomes durable when it commits.
    pub fn flush_started(&mut self) {
        if let Some(last) = self.written.last() {
            self.in_flight_end = Some(last.slot.next_offset);
        }
    }

    /// Whether an asynchronous flush of this partition's writes is under way.
    pub fn has_flush_in_flight(&self) -> bool {
        self.in_flight_end.is_some()
    }

    /// A failed fsync: the kernel may have dropped the dirty pages, so a retry that succeeds
    /// proves nothing; refuse writes until a reopen reads the file again.
    pub fn poison(&mut self, error: &Error) {
        self.failed.get_or_insert_with(|| error.clone());
    }

    fn damaged_at(&self, offset: i64) -> Option<&DamagedRange> {
        self.damaged
            .iter()
            .find(|range| range.from <= offset && offset < range.to)
    }

    fn corrupt_range(&self, range: &DamagedRange) -> Error {
        Error::corrupt(format!(
            "partition {} of {}: offsets {} to {} are damaged ({}); the records after them are intact: seek to {} to go on",
            self.key.partition,
            Quoted(&self.key.topic),
            range.from,
            range.to.saturating_sub(1).max(range.from),
            range.reason,
            range.to
        ))
    }

    fn segment_index_for(&self, offset: i64) -> usize {
        self.segments
            .partition_point(|s| s.base_offset <= offset)
            .saturating_sub(1)
    }

    /// Hands records from `offset` on to `visit`, in offset order, a run per batch (a whole
    /// batch as stored where the read takes all of it), up to the durable end,
    /// until `records_max` records or (after at least one record) `bytes_max` bytes of
    /// batches. `Pending` when the store must load something first (ask again once it has).
    /// A damaged range fails with CORRUPT_DATA naming it, unless records came before it.
    #[allow(clippy::too_many_arguments)]
    pub fn read(
        &mut self,
        store: &mut dyn Store,
        mut cache: Option<&mut BatchCache>,
        offset: i64,
        records_max: u32,
        bytes_max: u64,
        visit: &mut dyn FnMut(&RecordRun<'_>),
    ) -> Result<Step<ReadOutcome>> {
        let (low, end) = (self.low_watermark(), self.durable);
        if offset < low || offset > end {
            return Err(Error::new(
                ErrorKind::OffsetOutOfRange,
                format!(
                    "offset {offset} is outside {} (low {low}, durable end {end})",
                    self.key.directory()
                ),
            ));
        }
        let mut outcome = ReadOutcome {
            records: 0,
            next_offset: offset,
        };
        let mut bytes_read: u64 = 0;
        let mut segment_index = self.segment_index_for(offset);
        let cursor = self.cursors.iter().find(|c| {
            c.offset == offset && c.segment_base == self.segments[segment_index].base_offset
        });
        let mut slot = cursor.map(|c| c.slot);
        let mut resume = cursor.and_then(|c| c.resume);
        // Bounded by the batches below the durable end.
        while outcome.next_offset < end {
            if outcome.records >= records_max || (outcome.records > 0 && bytes_read >= bytes_max) {
                break;
            }
            if let Some(range) = self.damaged_at(outcome.next_offset).cloned() {
                if outcome.records > 0 {
                    break;
                }
                return Err(self.corrupt_range(&range));
            }
            let segment = self.segments[segment_index];
            let found = match slot {
                Some(found) => Some(found),
                None => match store.batch_at(&self.key, &segment, outcome.next_offset)? {
                    Step::Ready(found) => found,
                    Step::Pending => return Ok(self.partial(outcome)),
                },
            };
            let Some(current) = found.filter(|s| s.base_offset < end) else {
                // Past this segment's batches: on to the next segment.
                if segment_index + 1 < self.segments.len() {
                    segment_index += 1;
                    outcome.next_offset = outcome
                        .next_offset
                        .max(self.segments[segment_index].base_offset);
                    slot = None;
                    resume = None;
                    continue;
                }
                outcome.next_offset = outcome.next_offset.max(segment.next_offset.min(end));
                break;
            };
            let bytes = match self.batch_bytes(store, cache.as_deref_mut(), &segment, &current)? {
                Step::Ready(Ok(bytes)) => bytes,
                Step::Ready(Err(reason)) => {
                    // Damage found by reading: remember the range (up to the next batch that
                    // verifies), so that reads after it go on.
                    let to = match store.resync(&self.key, &segment, &current)? {
                        Step::Ready(Some(next)) => next.base_offset,
                        Step::Ready(None) => segment.next_offset,
                        Step::Pending => return Ok(self.partial(outcome)),
                    };
                    let range = DamagedRange {
                        from: outcome.next_offset.min(current.base_offset),
                        to: to.max(outcome.next_offset + 1),
                        reason,
                    };
                    self.damaged.push(range.clone());
                    if outcome.records > 0 {
                        break;
                    }
                    return Err(self.corrupt_range(&range));
                }
                Step::Pending => {
                    // Located again after the load: it may show the batch gone (compaction
                    // rewrote the segment since it was located), and a cursor kept to it would
                    // ask for the same load forever.
                    self.cursors
                        .retain(|c| c.slot.base_offset != current.base_offset);
                    return Ok(self.partial(outcome));
                }
            };
            // `batch_bytes` verified these bytes when it loaded them.
            let batch = match RecordBatch::trusted(&bytes) {
                Ok(batch) => batch,
                Err(error) => return Err(error.into_error(&self.key.directory())),
            };
            let no_longer_decodes = || {
                // Bytes verified on load no longer decode: a fault, never skipped over.
                Error::corrupt(format!(
                    "{}: the batch at offset {} no longer decodes",
                    self.key.directory(),
                    current.base_offset
                ))
            };
            let whole = resume.is_none()
                && outcome.next_offset <= batch.base_offset()
                && records_max - outcome.records >= batch.header().record_count as u32;
            if whole {
                // The common case: the whole batch, handed on as stored, decoded by no one here.
                let run = RecordRun {
                    owner: Some(&bytes),
                    ..batch.run()
                };
                if run.count > 0 {
                    visit(&run);
                }
                outcome.records += run.count;
            } else {
                let mut records = match resume.take() {
                    Some(point) => batch.records_from(point),
                    None => batch.records(),
                };
                // Part of the batch (a read from inside it, or up to `records_max`): skimmed
                // here to find where the records taken start and end, handed on as one run.
                let mut taken: Option<(usize, u32)> = None;
                while outcome.records < records_max {
                    let at = records.position();
                    let Some(offset) = records.skim() else {
                        break;
                    };
                    if offset < outcome.next_offset {
                        continue;
                    }
                    let (_, count) = taken.get_or_insert((at, 0));
                    *count += 1;
                    outcome.records += 1;
                    outcome.next_offset = offset + 1;
                }
                if records.failed() {
                    return Err(no_longer_decodes());
                }
                if let Some((from, count)) = taken {
                    let run = batch
                        .run_between(from, records.position(), count)
                        .ok_or_else(no_longer_decodes)?;
                    visit(&RecordRun {
                        owner: Some(&bytes),
                        ..run
                    });
                }
                if records.has_more() {
                    // Stopped inside the batch: the next read goes on from here.
                    remember(
                        &mut self.cursors,
                        ReadCursor {
                            offset: outcome.next_offset,
                            segment_base: segment.base_offset,
                            slot: current,
                            resume: Some(records.resume_point()),
                        },
                    );
                    return Ok(Step::Ready(outcome));
                }
            }
            bytes_read += bytes.len() as u64;
            // Skip the gap compaction may have left at the end of the batch.
            outcome.next_offset = outcome.next_offset.max(batch.next_offset());
            slot = self.next_slot(store, &segment, &current, outcome.next_offset)?;
            if slot.is_none()
                && segment_index + 1 < self.segments.len()
                && outcome.next_offset >= segment.next_offset
            {
                segment_index += 1;
            }
        }
        Ok(Step::Ready(outcome))
    }

    /// The batch after `current` in `segment`, remembered as where a read from `next_offset`
    /// starts; None at the segment's end or when the store must load it first.
    fn next_slot(
        &mut self,
        store: &mut dyn Store,
        segment: &SegmentSummary,
        current: &BatchSlot,
        next_offset: i64,
    ) -> Result<Option<BatchSlot>> {
        let slot = match store.batch_after(&self.key, segment, current)? {
            Step::Ready(next) => next,
            Step::Pending => None,
        };
        if let Some(next) = slot {
            remember(
                &mut self.cursors,
                ReadCursor {
                    offset: next_offset,
                    segment_base: segment.base_offset,
                    slot: next,
                    resume: None,
                },
            );
        }
        Ok(slot)
    }

    /// A read that must wait for the store: what it read so far, or Pending when nothing.
    fn partial(&self, outcome: ReadOutcome) -> Step<ReadOutcome> {
        if outcome.records > 0 {
            Step::Ready(outcome)
        } else {
            Step::Pending
        }
    }

    /// A batch's verified bytes: from the cache, or read from the store and checked once.
    /// `Ready(Err(reason))` when the bytes there do not verify.
    fn batch_bytes(
        &mut self,
        store: &mut dyn Store,
        cache: Option<&mut BatchCache>,
        segment: &SegmentSummary,
        slot: &BatchSlot,
    ) -> Result<Step<std::result::Result<Rc<Vec<u8>>, String>>> {
        let mut cache = cache;
        if let Some(hit) = cache
            .as_deref_mut()
            .and_then(|c| c.get(self.id, slot.base_offset))
        {
            return Ok(Step::Ready(Ok(hit)));
        }
        let fetched = match store.read(&self.key, segment, slot)? {
            Step::Ready(fetched) => fetched,
            Step::Pending => return Ok(Step::Pending),
        };
        if !fetched.verified {
            match RecordBatch::parse(&fetched.bytes) {
                Ok(batch)
                    if batch.bytes().len() == fetched.bytes.len()
                        && batch.base_offset() == slot.base_offset => {}
                Ok(batch) => {
                    return Ok(Step::Ready(Err(format!(
                        "the batch stored for offset {} holds offsets {} to {}",
                        slot.base_offset,
                        batch.base_offset(),
                        batch.next_offset() - 1
                    ))))
                }
                Err(error) => {
                    return Ok(Step::Ready(Err(error
                        .into_error("batch")
                        .message()
                        .to_owned())))
                }
            }
        }
        if let Some(cache) = cache {
            cache.insert(self.id, slot.base_offset, fetched.bytes.clone());
        }
        Ok(Step::Ready(Ok(fetched.bytes)))
    }

    /// Deletes whole old segments (never the active one's data): those whose newest record is
    /// older than `retention_ms`, then the oldest while the rest still holds at least
    /// `retention_bytes` (Kafka's rule). An expired active segment is rolled first so that it
    /// can go too. Returns the number of segments deleted.
    pub fn apply_retention(
        &mut self,
        store: &mut dyn Store,
        cache: Option<&mut BatchCache>,
        now: i64,
        retention_ms: Option<i64>,
        retention_bytes: Option<u64>,
    ) -> Result<u32> {
        if self.has_pending() || !self.written.is_empty() {
            return Ok(0); // after the next flush
        }
        let expired = |segment: &SegmentSummary| match (retention_ms, segment.max_timestamp) {
            (Some(ms), Some(newest)) => newest < now.saturating_sub(ms),
            _ => false,
        };
        if expired(self.active()) && !self.active().is_empty() {
            let sealed = *self.active();
            store.roll(&self.key, &sealed, self.high)?;
            self.segments.push(SegmentSummary::empty(self.high));
        }
        let mut deleted = 0;
        self.cursors.clear();
        self.small_tail = None;
        let mut cache = cache;
        // Bounded by the segment count; the active segment always stays.
        while self.segments.len() > 1 {
            let first = self.segments[0];
            let over_size = retention_bytes
                .is_some_and(|limit| self.size_bytes() - first.size >= limit && first.size > 0);
            if !(expired(&first) || over_size || first.is_empty()) {
                break;
            }
            let log_start = self.segments[1].base_offset;
            store.remove_segment(&self.key, &first, log_start)?;
            if let Some(cache) = cache.as_deref_mut() {
                cache.remove_range(
                    self.id,
                    first.base_offset,
                    first.next_offset.max(first.base_offset + 1),
                );
            }
            self.segments.remove(0);
            self.log_start = log_start;
            self.damaged.retain(|range| range.to > log_start);
            deleted += 1;
        }
        Ok(deleted)
    }

    /// Whether segments were sealed since the last compaction (so it has work to do).
    pub fn needs_compaction(&self) -> bool {
        self.segments.len() > 1 && self.active().base_offset > self.compacted_below
    }

    /// Keeps the latest record per key in the sealed segments (the active one is never
    /// touched, as in Kafka); drops tombstones older than `delete_retention_ms`. Offsets never
    /// change. `Pending` when the store must load batches first: the pass keeps its progress
    /// and the next call resumes it, so a partition larger than memory compacts too.
    pub fn compact(
        &mut self,
        store: &mut dyn Store,
        cache: Option<&mut BatchCache>,
        now: i64,
        delete_retention_ms: i64,
    ) -> Result<Step<CompactionReport>> {
        if !self.damaged.is_empty() || !self.written.is_empty() {
            // Damage is left as found; a flush in flight finishes first.
            self.compaction = None;
            return Ok(Step::Ready(CompactionReport::default()));
        }
        let mut progress = match self.compaction.take() {
            Some(progress) => progress,
            None if self.segments.len() < 2 || self.has_pending() => {
                return Ok(Step::Ready(CompactionReport::default()))
            }
            None => Compaction {
                sealed_end: self.active().base_offset,
                scan_next: self.low_watermark(),
                scan_end: self.durable,
                ..Compaction::default()
            },
        };
        match self.compact_from(store, cache, now, delete_retention_ms, &mut progress) {
            Ok(Step::Pending) => {
                self.compaction = Some(progress);
                Ok(Step::Pending)
            }
            Ok(Step::Ready(())) => Ok(Step::Ready(progress.report)),
            Err(error) => {
                // Damage found while reading (a clean open trusts its index): these segments
                // are left as they are until more are sealed, instead of read again each pass.
                if error.kind() == ErrorKind::CorruptData {
                    self.compacted_below = progress.sealed_end;
                }
                Err(error)
            }
        }
    }

    fn compact_from(
        &mut self,
        store: &mut dyn Store,
        cache: Option<&mut BatchCache>,
        now: i64,
        delete_retention_ms: i64,
        progress: &mut Compaction,
    ) -> Result<Step<()>> {
        let mut cache = cache;
        // The latest offset of each key, over every record up to the durable end at the start
        // (the active segment's too; a key written again since then just keeps more).
        while progress.scan_next < progress.scan_end {
            let latest = &mut progress.latest;
            let mut decoded = Ok(());
            let step = self.read(
                store,
                cache.as_deref_mut(),
                progress.scan_next,
                100_000,
                16 * 1024 * 1024,
                &mut |run| {
                    if decoded.is_err() {
                        return;
                    }
                    decoded = run.for_each(|record| {
                        if let Some(key) = record.key {
                            match latest.get_mut(key) {
                                Some(offset) => *offset = record.offset,
                                None => {
                                    latest.insert(key.to_vec(), record.offset);
                                }
                            }
                        }
                    });
                },
            )?;
            // A key missed would have its latest record compacted away.
            decoded?;
            match step {
                Step::Pending => return Ok(Step::Pending),
                Step::Ready(outcome) if outcome.next_offset > progress.scan_next => {
                    progress.scan_next = outcome.next_offset
                }
                Step::Ready(_) => break,
            }
        }
        progress.scan_next = progress.scan_end;
        let tombstone_horizon = now.saturating_sub(delete_retention_ms);
        // Sealed segments one at a time, each replaced as soon as it is rewritten.
        while progress.segment < self.segments.len()
            && self.segments[progress.segment].base_offset < progress.sealed_end
        {
            let index = progress.segment;
            let segment = self.segments[index];
            let mut offset = progress.offset.max(segment.base_offset);
            // Read the segment's batches whole, as stored.
            while offset < segment.next_offset.min(progress.sealed_end) {
                let Some(slot) = (match store.batch_at(&self.key, &segment, offset)? {
                    Step::Ready(found) => found,
                    Step::Pending => {
                        progress.offset = offset;
                        return Ok(Step::Pending);
                    }
                }) else {
                    break;
                };
                let bytes = match self.batch_bytes(store, cache.as_deref_mut(), &segment, &slot)? {
                    Step::Ready(Ok(bytes)) => bytes,
                    Step::Ready(Err(_)) => return Ok(Step::Ready(())), // damaged: leave it
                    Step::Pending => {
                        progress.offset = offset;
                        return Ok(Step::Pending);
                    }
                };
                let batch =
                    RecordBatch::parse(&bytes).map_err(|e| e.into_error("a batch to compact"))?;
                let mut kept_bytes = Vec::new();
                let latest = &progress.latest;
                let kept =
                    encode_retained(&mut kept_bytes, &batch, &mut |record| match record.key {
                        // Keyless records cannot be superseded (compacted topics refuse them anyway).
                        None => true,
                        Some(key) => {
                            let is_latest = latest.get(key) == Some(&record.offset);
                            let expired_tombstone =
                                record.value.is_none() && record.timestamp < tombstone_horizon;
                            is_latest && !expired_tombstone
                        }
                    });
                progress.removed += (batch.header().record_count as u32 - kept) as u64;
                if kept > 0 {
                    progress.batches.push(kept_bytes);
                }
                offset = batch.next_offset().max(offset + 1);
            }
            let batches = std::mem::take(&mut progress.batches);
            let removed = std::mem::take(&mut progress.removed);
            progress.segment += 1;
            progress.offset = 0;
            if removed == 0 {
                continue;
            }
            let rebuilt = store.replace_segment(&self.key, &segment, &batches)?;
            if let Some(cache) = cache.as_deref_mut() {
                cache.remove_range(
                    self.id,
                    segment.base_offset,
                    segment.next_offset.max(segment.base_offset + 1),
                );
            }
            self.segments[index] = rebuilt;
            self.cursors.clear();
            progress.report.segments_rewritten += 1;
            progress.report.records_removed += removed;
        }
        // Emptied sealed segments go, except the first: it holds the low watermark in place,
        // which compaction must not move (only retention does, as in Kafka).
        // The segment before an emptied one takes its offsets over: no gap is left that a later
        // open could take for missing data.
        let mut index = 1;
        while index + 1 < self.segments.len() {
            if self.segments[index].is_empty() {
                let segment = self.segments[index];
                let mut before = self.segments[index - 1];
                before.next_offset = segment.next_offset;
                store.extend_segment(&self.key, &before)?;
                self.segments[index - 1] = before;
                store.remove_segment(&self.key, &segment, self.log_start)?;
                self.segments.remove(index);
            } else {
                index += 1;
            }
        }
        self.compacted_below = progress.sealed_end;
        Ok(Step::Ready(()))
    }

    /// The active segment and log start, for a clean close.
    pub fn close_state(&self) -> (PartitionKey, SegmentSummary, i64) {
        (self.key.clone(), *self.active(), self.log_start)
    }
}
