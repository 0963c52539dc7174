// A partition: an append-only sequence of records split into segments, in the directory
// "<topic>-<partition>". It owns offsets: each record gets the next one from 0 up, contiguous
// at append time and never reused (compaction may leave gaps; it never renumbers).
//
// Invariants: segments are sorted by base offset and do not overlap; only the last (active)
// segment is ever appended to, and a segment is synced before the next one is created, so a
// crash can only tear the active segment's tail.

use crate::error::{Error, ErrorKind, Result};
use std::collections::HashMap;

use crate::record_batch::{
    encode_batch, encode_retained, RecordBatch, RecordInput, RecordRef, BATCH_HEADER_SIZE,
};
use crate::segment::{
    parse_segment_file_name, read_batch, read_header, segment_file_name, RecoveryReport, Segment,
    CLEANED_SUFFIX,
};
use crate::storage::Storage;

pub struct Partition {
    directory: String,
    segments: Vec<Segment>,
    /// Appended to since the last sync.
    dirty: bool,
    /// Set when a failed append could not be undone: the file may hold a partial batch, so
    /// nothing more is appended until the log is reopened (and recovery cuts it away).
    failed: Option<Error>,
    encode_buffer: Vec<u8>,
    read_buffer: Vec<u8>,
    /// Segments below this base offset were compacted since they were sealed.
    compacted_below: i64,
    /// Where recent reads stopped, so the next read from there starts at the right batch.
    read_cursors: Vec<ReadCursor>,
}

#[derive(Clone, Copy, Debug)]
struct ReadCursor {
    offset: i64,
    segment_base: i64,
    position: u64,
}

/// A partition keeps scratch buffers up to this size between calls; a larger one (after a big
/// send or read) is given back, so that memory does not grow with partitions x largest batch.
const SCRATCH_BYTES_KEPT_MAX: usize = 64 * 1024;

fn release_if_large(buffer: &mut Vec<u8>) {
    if buffer.capacity() > SCRATCH_BYTES_KEPT_MAX {
        *buffer = Vec::new();
    }
}

/// Consumers of several groups read one partition at different places: keep a few cursors.
const READ_CURSORS_MAX: usize = 8;

fn remember(cursors: &mut Vec<ReadCursor>, offset: i64, segment_base: i64, position: u64) {
    cursors.retain(|c| c.offset != offset);
    if cursors.len() >= READ_CURSORS_MAX {
        cursors.remove(0);
    }
    cursors.push(ReadCursor {
        offset,
        segment_base,
        position,
    });
}

/// What a compaction pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CompactionReport {
    pub segments_rewritten: u32,
    pub records_removed: u64,
}

/// Where a read stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadOutcome {
    /// Records handed to the visitor.
    pub records: u32,
    /// The offset to read from next.
    pub next_offset: i64,
}

impl Partition {
    /// A new partition with one empty segment at offset 0.
    pub fn create(storage: &mut dyn Storage, directory: String) -> Result<Partition> {
        let segment = Segment::create(storage, &directory, 0)?;
        Ok(Partition::with_segments(directory, vec![segment]))
    }

    /// Removes the partition's files and directory (a creation being undone).
    pub fn remove(self, storage: &mut dyn Storage) -> Result<()> {
        for segment in &self.segments {
            storage.remove(&segment.path)?;
        }
        storage.remove(&self.directory)
    }

    fn with_segments(directory: String, segments: Vec<Segment>) -> Partition {
        Partition {
            directory,
            segments,
            dirty: false,
            failed: None,
            encode_buffer: Vec::new(),
            read_buffer: Vec::new(),
            compacted_below: 0,
            read_cursors: Vec::new(),
        }
    }

    /// Opens the partition's segments, recovering the tail, or creates it when missing.
    pub fn open(
        storage: &mut dyn Storage,
        directory: String,
    ) -> Result<(Partition, RecoveryReport)> {
        let mut bases = Vec::new();
        for name in storage.list(&directory)? {
            if let Some(base) = parse_segment_file_name(&name) {
                bases.push(base);
            } else if name.ends_with(CLEANED_SUFFIX) {
                // An interrupted compaction: the original segment is still whole.
                storage.remove(&format!("{directory}/{name}"))?;
            }
        }
        bases.sort_unstable();
        if bases.is_empty() {
            return Ok((
                Partition::create(storage, directory)?,
                RecoveryReport::default(),
            ));
        }
        let mut segments: Vec<Segment> = Vec::with_capacity(bases.len());
        let mut total = RecoveryReport::default();
        for (index, &base) in bases.iter().enumerate() {
            let is_active = index + 1 == bases.len();
            let path = format!("{directory}/{}", crate::segment::segment_file_name(base));
            let limit = bases.get(index + 1).copied();
            let (segment, report) = Segment::recover(storage, path, base, is_active, limit)?;
            total.batches += report.batches;
            total.truncated_bytes += report.truncated_bytes;
            if report.reason.is_some() {
                total.reason = report.reason;
            }
            segments.push(segment);
        }
        Ok((Partition::with_segments(directory, segments), total))
    }

    fn active(&self) -> &Segment {
        // There is always at least one segment: created with one, and never emptied.
        &self.segments[self.segments.len() - 1]
    }

    /// The first offset still stored (Kafka's log start offset).
    pub fn low_watermark(&self) -> i64 {
        self.segments.first().map_or(0, |s| s.base_offset)
    }

    /// The offset the next record will get.
    pub fn high_watermark(&self) -> i64 {
        self.active().next_offset
    }

    pub fn size_bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.size).sum()
    }

    /// Appends `records` as one batch; returns the offset of the first. Rolls to a new
    /// segment first when the batch would push a non-empty active segment past `segment_bytes`.
    pub fn append<'r, I>(
        &mut self,
        storage: &mut dyn Storage,
        records: I,
        default_timestamp: i64,
        segment_bytes: u64,
    ) -> Result<i64>
    where
        I: Iterator<Item = &'r RecordInput<'r>> + Clone,
    {
        if let Some(error) = &self.failed {
            return Err(Error::new(
                ErrorKind::Io,
                format!(
                    "{} stopped taking writes after an earlier failure ({}); close and reopen the log",
                    self.directory,
                    error.message()
                ),
            ));
        }
        let base_offset = self.high_watermark();
        self.encode_buffer.clear();
        encode_batch(
            &mut self.encode_buffer,
            base_offset,
            default_timestamp,
            records,
        )?;
        // Check what we are about to make durable, as a reader will check it later.
        let batch = RecordBatch::parse(&self.encode_buffer)
            .map_err(|e| e.into_error("freshly encoded batch"))?;
        let header = *batch.header();
        let batch_size = self.encode_buffer.len() as u64;

        if !self.active().is_empty() && self.active().size + batch_size > segment_bytes {
            self.roll(storage, base_offset)?;
        }
        let last = self.segments.len() - 1;
        let path = self.segments[last].path.clone();
        let size_before = self.segments[last].size;
        if let Err(error) = storage.append(&path, &self.encode_buffer) {
            // Undo a partial write so the next append does not land after garbage.
            if storage.truncate(&path, size_before).is_err() {
                self.failed = Some(error.clone());
            }
            return Err(error);
        }
        self.segments[last].push_batch(&header, size_before);
        self.dirty = true;
        release_if_large(&mut self.encode_buffer);
        Ok(base_offset)
    }

    fn roll(&mut self, storage: &mut dyn Storage, base_offset: i64) -> Result<()> {
        // The sealed segment must be durable before anything lands in the next one, so that
        // recovery only ever has the active segment's tail to repair.
        self.sync(storage)?;
        let segment = Segment::create(storage, &self.directory, base_offset)?;
        self.segments.push(segment);
        Ok(())
    }

    /// Makes every append so far durable.
    pub fn sync(&mut self, storage: &mut dyn Storage) -> Result<()> {
        if let Some(error) = &self.failed {
            return Err(error.clone());
        }
        if self.dirty {
            if let Err(error) = storage.sync(&self.active().path) {
                // After a failed fsync the kernel may have dropped the dirty pages, so a retry
                // that succeeds proves nothing: refuse writes until a reopen re-reads the file.
                self.failed = Some(error.clone());
                return Err(error);
            }
            self.dirty = false;
        }
        Ok(())
    }

    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// Hands records from `offset` on to `visit`, in offset order, until `records_max` records
    /// or (after at least one record) `bytes_max` bytes of batches. `offset` must lie within
    /// [low, high] watermarks; at `high` nothing is read.
    pub fn read(
        &mut self,
        storage: &mut dyn Storage,
        offset: i64,
        records_max: u32,
        bytes_max: u64,
        visit: &mut dyn FnMut(&RecordRef<'_>),
    ) -> Result<ReadOutcome> {
        let outcome = self.read_batches(storage, offset, records_max, bytes_max, visit);
        release_if_large(&mut self.read_buffer);
        outcome
    }

    fn read_batches(
        &mut self,
        storage: &mut dyn Storage,
        offset: i64,
        records_max: u32,
        bytes_max: u64,
        visit: &mut dyn FnMut(&RecordRef<'_>),
    ) -> Result<ReadOutcome> {
        let (low, high) = (self.low_watermark(), self.high_watermark());
        if offset < low || offset > high {
            return Err(Error::new(
                ErrorKind::OffsetOutOfRange,
                format!(
                    "offset {offset} is outside {} (low {low}, high {high})",
                    self.directory
                ),
            ));
        }
        let mut outcome = ReadOutcome {
            records: 0,
            next_offset: offset,
        };
        let mut bytes_read: u64 = 0;
        let mut header_bytes = [0u8; BATCH_HEADER_SIZE];
        let (first, mut position) = self.start_of(offset);
        for (index, segment) in self.segments.iter().enumerate().skip(first) {
            if index != first {
                position = 0;
            }
            while position < segment.size {
                if outcome.records >= records_max
                    || (outcome.records > 0 && bytes_read >= bytes_max)
                {
                    remember(
                        &mut self.read_cursors,
                        outcome.next_offset,
                        segment.base_offset,
                        position,
                    );
                    return Ok(outcome);
                }
                // Batches wholly before the offset are skipped on their header alone.
                let header = read_header(storage, &segment.path, position, &mut header_bytes)?
                    .map_err(|reason| Error::corrupt(format!("{}: {reason}", segment.path)))?;
                if header.next_offset() <= outcome.next_offset {
                    position += header.size() as u64;
                    continue;
                }
                let batch = read_batch(storage, &segment.path, position, &mut self.read_buffer)?;
                let batch_start = position;
                let batch_size = batch.bytes().len() as u64;
                position += batch_size;
                bytes_read += batch_size;
                for record in batch.records() {
                    if record.offset < outcome.next_offset {
                        continue;
                    }
                    if outcome.records >= records_max {
                        remember(
                            &mut self.read_cursors,
                            outcome.next_offset,
                            segment.base_offset,
                            batch_start,
                        );
                        return Ok(outcome);
                    }
                    visit(&record);
                    outcome.records += 1;
                    outcome.next_offset = record.offset + 1;
                }
                // Skip the gap compaction may have left at the end of the batch.
                outcome.next_offset = outcome.next_offset.max(batch.next_offset());
            }
            outcome.next_offset = outcome.next_offset.max(segment.next_offset);
        }
        Ok(outcome)
    }

    /// The segment index and file position to start a read at `offset`: a remembered cursor
    /// when a previous read stopped exactly there (consumers read on from where they stopped),
    /// else the sparse index's entry at or before it.
    fn start_of(&self, offset: i64) -> (usize, u64) {
        let index = self
            .segments
            .partition_point(|s| s.base_offset <= offset)
            .saturating_sub(1);
        let segment = &self.segments[index];
        let remembered = self.read_cursors.iter().find(|c| {
            c.offset == offset
                && c.segment_base == segment.base_offset
                && c.position <= segment.size
        });
        let position = match remembered {
            Some(cursor) => cursor.position,
            None if segment.base_offset <= offset => segment.position_for(offset),
            None => 0,
        };
        (index, position)
    }

    /// Deletes whole old segments (never the data of the active one): those whose newest
    /// record is older than `retention_ms`, then the oldest while the rest still holds at
    /// least `retention_bytes` (Kafka's rule). An expired active segment is rolled first so
    /// that it can go too. Returns the number of segments deleted.
    pub fn apply_retention(
        &mut self,
        storage: &mut dyn Storage,
        now: i64,
        retention_ms: Option<i64>,
        retention_bytes: Option<u64>,
    ) -> Result<u32> {
        let expired = |segment: &Segment| match (retention_ms, segment.max_timestamp) {
            (Some(ms), Some(newest)) => newest < now.saturating_sub(ms),
            _ => false,
        };
        if expired(self.active()) {
            let next = self.high_watermark();
            self.roll(storage, next)?;
        }
        let mut deleted = 0;
        self.read_cursors.clear();
        // Bounded by the segment count; the active segment always stays.
        while self.segments.len() > 1 {
            let first = &self.segments[0];
            let over_size = retention_bytes
                .is_some_and(|limit| self.size_bytes() - first.size >= limit && first.size > 0);
            let empty_and_superseded = first.is_empty();
            if !(expired(first) || over_size || empty_and_superseded) {
                break;
            }
            storage.remove(&first.path)?;
            self.segments.remove(0);
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
    /// change. Each rewritten segment goes to "<name>.cleaned", is synced, then renamed over
    /// the original: a crash leaves either segment whole, and open removes a leftover.
    pub fn compact(
        &mut self,
        storage: &mut dyn Storage,
        now: i64,
        delete_retention_ms: i64,
    ) -> Result<CompactionReport> {
        let mut report = CompactionReport::default();
        if self.segments.len() < 2 {
            return Ok(report);
        }
        let latest = self.latest_offsets_by_key(storage)?;
        self.read_cursors.clear();
        let tombstone_horizon = now.saturating_sub(delete_retention_ms);
        let sealed = self.segments.len() - 1;
        for index in 0..sealed {
            let (rewritten, removed) =
                self.rewrite_segment(storage, index, &latest, tombstone_horizon)?;
            report.segments_rewritten += rewritten as u32;
            report.records_removed += removed;
        }
        // Emptied sealed segments go, except the first: it holds the low watermark in place,
        // which compaction must not move (only retention does, as in Kafka).
        let mut index = 1;
        while index + 1 < self.segments.len() {
            if self.segments[index].is_empty() {
                storage.remove(&self.segments[index].path)?;
                self.segments.remove(index);
            } else {
                index += 1;
            }
        }
        self.compacted_below = self.active().base_offset;
        Ok(report)
    }

    fn latest_offsets_by_key(
        &mut self,
        storage: &mut dyn Storage,
    ) -> Result<HashMap<Vec<u8>, i64>> {
        let mut latest: HashMap<Vec<u8>, i64> = HashMap::new();
        let low = self.low_watermark();
        let mut next = low;
        loop {
            let outcome = self.read(storage, next, 10_000, 4 * 1024 * 1024, &mut |record| {
                if let Some(key) = record.key {
                    match latest.get_mut(key) {
                        Some(offset) => *offset = record.offset,
                        None => {
                            latest.insert(key.to_vec(), record.offset);
                        }
                    }
                }
            })?;
            if outcome.records == 0 || outcome.next_offset >= self.high_watermark() {
                break;
            }
            next = outcome.next_offset;
        }
        Ok(latest)
    }

    /// Rewrites one sealed segment without its superseded records; returns whether it was
    /// rewritten and how many records went.
    fn rewrite_segment(
        &mut self,
        storage: &mut dyn Storage,
        index: usize,
        latest: &HashMap<Vec<u8>, i64>,
        tombstone_horizon: i64,
    ) -> Result<(bool, u64)> {
        let segment = self.segments[index].clone();
        let mut keep = |record: &RecordRef<'_>| match record.key {
            // Keyless records cannot be superseded (compacted topics refuse them anyway).
            None => true,
            Some(key) => {
                let is_latest = latest.get(key) == Some(&record.offset);
                let expired_tombstone =
                    record.value.is_none() && record.timestamp < tombstone_horizon;
                is_latest && !expired_tombstone
            }
        };
        let mut output = Vec::new();
        let mut removed: u64 = 0;
        let mut position = 0;
        while position < segment.size {
            let batch = read_batch(storage, &segment.path, position, &mut self.read_buffer)?;
            position += batch.bytes().len() as u64;
            let kept = encode_retained(&mut output, &batch, &mut keep);
            removed += (batch.header().record_count as u32 - kept) as u64;
        }
        if removed == 0 {
            return Ok((false, 0));
        }
        let cleaned = format!("{}{CLEANED_SUFFIX}", segment.path);
        storage.open(&cleaned)?;
        storage.truncate(&cleaned, 0)?;
        storage.append(&cleaned, &output)?;
        storage.sync(&cleaned)?;
        storage.rename(&cleaned, &segment.path)?;
        let limit = self.segments.get(index + 1).map(|s| s.base_offset);
        let (rebuilt, _) = Segment::recover(
            storage,
            format!(
                "{}/{}",
                self.directory,
                segment_file_name(segment.base_offset)
            ),
            segment.base_offset,
            false,
            limit,
        )?;
        self.segments[index] = rebuilt;
        Ok((true, removed))
    }
}
