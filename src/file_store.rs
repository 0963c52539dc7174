// The file store: each partition a directory "<topic>-<partition>" of segment files
// "<20-digit base offset>.log" (RecordBatch v2 batches end to end, as Kafka writes them), each
// with a sparse index file "<base>.index" that lets an open skip reading the segment, and a
// root file "checkpoint" with each partition's log start (what retention has deleted).
//
// Opening trusts what an index vouches for (it is written once a segment is sealed and
// synced, and for every segment at a clean close, and covers a prefix of the file) and reads
// only the rest: the tail written since. There, only a torn tail — bytes at the end of the
// active segment with no verifiable batch after them — is cut; a damaged batch followed by
// batches that verify is kept as a damaged range (reported, reads of it fail with
// CORRUPT_DATA) and the batches after it are served. Damage in a trusted prefix is found
// when it is read, the same way. A segment that overlaps the one before it (a stray file
// named like a segment) is ignored and reported, and a gap between segments or before the
// first one (a deleted or truncated file) is reported as a damaged range.

use std::collections::HashSet;

use crate::error::{Error, Result};
use crate::fast_hash::{FastMap, FastSet};
use crate::files::Files;
use crate::framed;
use crate::manifest;
use crate::record_batch::{
    BatchHeader, RecordBatch, BATCH_BYTES_MAX, BATCH_HEADER_SIZE, MAGIC, MAGIC_OFFSET,
};
use crate::sorted_map::{sort_unstable, SortedMap};
use crate::store::{
    BatchBytes, BatchSlot, DamagedRange, OpenedPartition, PartitionKey, PartitionRecovery,
    SegmentSummary, Step, Store,
};
use crate::topic::CONSUMER_OFFSETS_TOPIC;
use crate::varint::Reader;

/// One index entry per this many bytes of batches: about one header read per lookup.
pub const INDEX_INTERVAL_BYTES: u64 = 4096;
const SEGMENT_SUFFIX: &str = ".log";
const INDEX_SUFFIX: &str = ".index";
/// Suffix of a segment being rewritten by compaction; a leftover one is removed on open.
pub const CLEANED_SUFFIX: &str = ".cleaned";
const CHECKPOINT_PATH: &str = "checkpoint";
const CHECKPOINT_TEMPORARY_PATH: &str = "checkpoint.tmp";
const CHECKPOINT_MAGIC: &[u8; 4] = b"BRKC";
const INDEX_MAGIC: &[u8; 4] = b"BRKX";
const FORMAT_VERSION: u16 = 1;
/// Bounds the reads of brook's own small files (an index of a 1 GiB segment holds 262,144
/// entries of 16 bytes: 4 MiB).
const SMALL_FILE_BYTES_MAX: u64 = 32 * 1024 * 1024;
/// A resync reads the segment in windows of this size, looking for the next valid batch.
const RESYNC_WINDOW_BYTES: usize = 1024 * 1024;

pub fn segment_file_name(base_offset: i64) -> String {
    format!("{base_offset:020}{SEGMENT_SUFFIX}")
}

fn index_file_name(base_offset: i64) -> String {
    format!("{base_offset:020}{INDEX_SUFFIX}")
}

/// The base offset of a file named `<20 digits><suffix>`, or None for any other name.
fn parse_name(name: &str, suffix: &str) -> Option<i64> {
    let digits = name.strip_suffix(suffix)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

pub fn parse_segment_file_name(name: &str) -> Option<i64> {
    parse_name(name, SEGMENT_SUFFIX)
}

/// A segment's sparse index: (batch base offset, byte position), one per INDEX_INTERVAL_BYTES.
#[derive(Clone, Debug, Default)]
struct SparseIndex {
    entries: Vec<(i64, u64)>,
    bytes_since_entry: u64,
}

impl SparseIndex {
    fn push(&mut self, base_offset: i64, position: u64, size: u64) {
        if self.entries.is_empty() || self.bytes_since_entry >= INDEX_INTERVAL_BYTES {
            self.entries.push((base_offset, position));
            self.bytes_since_entry = 0;
        }
        self.bytes_since_entry += size;
    }

    /// The last indexed batch starting at or before `offset`: (its base offset, position),
    /// or None (start at the segment's first byte).
    fn entry_for(&self, offset: i64) -> Option<(i64, u64)> {
        match self.entries.partition_point(|&(base, _)| base <= offset) {
            0 => None,
            n => Some(self.entries[n - 1]),
        }
    }

    fn truncate(&mut self, position: u64) {
        self.entries.retain(|&(_, at)| at < position);
    }
}

/// What the store knows of one segment file.
#[derive(Clone, Debug)]
struct SegmentFile {
    path: String,
    summary: SegmentSummary,
    index: SparseIndex,
    /// Whether the index file on disk (if any) is out of date.
    index_stale: bool,
    /// Whether each batch starts where the one before it ends (no compaction gaps): a header
    /// whose base offset says otherwise is damage (the base offset is outside the CRC).
    contiguous: bool,
}

impl SegmentFile {
    fn new(directory: &str, base: i64) -> SegmentFile {
        SegmentFile {
            path: format!("{directory}/{}", segment_file_name(base)),
            summary: SegmentSummary::empty(base),
            index: SparseIndex::default(),
            index_stale: true,
            contiguous: true,
        }
    }

    fn push(&mut self, header: &BatchHeader, position: u64) {
        debug_assert_eq!(position, self.summary.size);
        let size = header.size() as u64;
        self.index.push(header.base_offset, position, size);
        self.summary.add(
            header.next_offset(),
            size,
            header.max_timestamp,
            header.record_count,
        );
        self.index_stale = true;
    }
}

/// The checkpoint: each partition's log start (the first offset retention kept).
fn encode_checkpoint(starts: &SortedMap<String, i64>) -> Vec<u8> {
    let mut payload = Vec::new();
    payload.extend_from_slice(&(starts.len() as u32).to_be_bytes());
    for (directory, start) in starts {
        payload.extend_from_slice(&(directory.len() as u16).to_be_bytes());
        payload.extend_from_slice(directory.as_bytes());
        payload.extend_from_slice(&start.to_be_bytes());
    }
    framed::encode(CHECKPOINT_MAGIC, FORMAT_VERSION, &payload)
}

fn decode_checkpoint(bytes: &[u8]) -> Result<SortedMap<String, i64>> {
    let corrupt = |reason: &str| Error::corrupt(format!("checkpoint: {reason}"));
    let payload =
        framed::decode(bytes, CHECKPOINT_MAGIC, FORMAT_VERSION).map_err(|r| corrupt(&r))?;
    let mut reader = Reader::new(payload);
    let truncated = |_| corrupt("cut short");
    let count = reader.u32().map_err(truncated)?;
    let mut starts = SortedMap::new();
    for _ in 0..count {
        let length = reader.i16().map_err(truncated)? as u16 as usize;
        let name = std::str::from_utf8(reader.take(length).map_err(truncated)?)
            .map_err(|_| corrupt("a name is not UTF-8"))?
            .to_owned();
        let start = reader.i64().map_err(truncated)?;
        starts.insert(name, start);
    }
    if reader.remaining() != 0 {
        return Err(corrupt("bytes after the last entry"));
    }
    Ok(starts)
}

/// A segment's index file: its summary and sparse entries, for the first `size` bytes.
fn encode_index(segment: &SegmentFile) -> Vec<u8> {
    let summary = &segment.summary;
    let mut payload = Vec::with_capacity(48 + segment.index.entries.len() * 16);
    payload.extend_from_slice(&summary.base_offset.to_be_bytes());
    payload.extend_from_slice(&summary.next_offset.to_be_bytes());
    payload.extend_from_slice(&summary.size.to_be_bytes());
    payload.extend_from_slice(&summary.max_timestamp.unwrap_or(i64::MIN).to_be_bytes());
    payload.extend_from_slice(&summary.batches.to_be_bytes());
    payload.extend_from_slice(&segment.index.bytes_since_entry.to_be_bytes());
    payload.push(segment.contiguous as u8);
    payload.extend_from_slice(&(segment.index.entries.len() as u32).to_be_bytes());
    for (offset, position) in &segment.index.entries {
        payload.extend_from_slice(&offset.to_be_bytes());
        payload.extend_from_slice(&position.to_be_bytes());
    }
    framed::encode(INDEX_MAGIC, FORMAT_VERSION, &payload)
}

fn decode_index(bytes: &[u8], base: i64) -> Option<(SegmentSummary, SparseIndex, bool)> {
    let payload = framed::decode(bytes, INDEX_MAGIC, FORMAT_VERSION).ok()?;
    let mut reader = Reader::new(payload);
    let summary = SegmentSummary {
        base_offset: reader.i64().ok()?,
        next_offset: reader.i64().ok()?,
        size: reader.u64().ok()?,
        max_timestamp: Some(reader.i64().ok()?).filter(|&t| t != i64::MIN),
        batches: reader.u64().ok()?,
    };
    let bytes_since_entry = reader.u64().ok()?;
    let contiguous = match reader.i8().ok()? {
        0 => false,
        1 => true,
        _ => return None,
    };
    let count = reader.u32().ok()? as usize;
    if summary.base_offset != base || summary.next_offset < base || count > reader.remaining() / 16
    {
        return None;
    }
    let mut entries = Vec::with_capacity(count);
    let mut previous = (i64::MIN, 0u64);
    for index in 0..count {
        let entry = (reader.i64().ok()?, reader.u64().ok()?);
        // Increasing, within the segment: an index that says otherwise is not trusted.
        if entry.0 < base
            || entry.1 >= summary.size
            || (index > 0 && (entry.0 <= previous.0 || entry.1 <= previous.1))
        {
            return None;
        }
        previous = entry;
        entries.push(entry);
    }
    if reader.remaining() != 0 || (summary.batches > 0) == entries.is_empty() {
        return None;
    }
    Some((
        summary,
        SparseIndex {
            entries,
            bytes_since_entry,
        },
        contiguous,
    ))
}

/// The error for a lookup of a segment the store does not have open.
fn missing_segment(partition: &PartitionKey, base: i64) -> Error {
    Error::io(
        "read",
        &partition.directory(),
        format!("no segment at {base}"),
    )
}

/// A store of segment files over `Files`.
pub struct FileStore {
    files: Box<dyn Files>,
    /// Open segments by partition, by base offset. Keyed by the partition rather than its
    /// directory's name: every append looks its segment up, and a name costs a format.
    partitions: FastMap<PartitionKey, SortedMap<i64, SegmentFile>>,
    /// Log starts of the checkpoint (what retention deleted is not missing).
    log_starts: SortedMap<String, i64>,
    /// Segment files written since their last sync.
    dirty: FastSet<String>,
    /// Whether the root held a checkpoint at open; without one (a new log, or one written by
    /// brook 0.1) each partition's first segment is its log start, and the checkpoint is
    /// written with the next flush (`checkpoint_dirty`), so that later opens can tell a
    /// missing first segment from one retention deleted.
    checkpoint_found: bool,
    checkpoint_dirty: bool,
    /// Segment files whose failed append could not be taken back: they may end in a partial
    /// batch, so nothing more is appended to them until a reopen reads them again.
    broken: FastSet<String>,
    header: [u8; BATCH_HEADER_SIZE],
}

impl FileStore {
    pub fn new(files: Box<dyn Files>) -> FileStore {
        FileStore {
            files,
            partitions: FastMap::default(),
            log_starts: SortedMap::new(),
            dirty: FastSet::default(),
            checkpoint_found: false,
            checkpoint_dirty: false,
            broken: FastSet::default(),
            header: [0; BATCH_HEADER_SIZE],
        }
    }

    fn load_checkpoint(&mut self) -> Result<()> {
        let names = self.files.list("")?;
        if names.iter().any(|n| n == CHECKPOINT_TEMPORARY_PATH) {
            self.files.remove(CHECKPOINT_TEMPORARY_PATH)?;
        }
        if !names.iter().any(|n| n == CHECKPOINT_PATH) {
            return Ok(());
        }
        let bytes = read_small(&mut *self.files, CHECKPOINT_PATH)?;
        self.log_starts = decode_checkpoint(&bytes)?;
        self.checkpoint_found = true;
        Ok(())
    }

    /// Writes the checkpoint if it changed, and, `strict`, syncs the files written since
    /// their last sync: the records' files first, then the commits' (a commit is not durable
    /// ahead of what it commits). In the `background` where the host can and several files
    /// would sync at once (Node: off the thread; Pending until the bindings report back),
    /// else here.
    fn flush_files(&mut self, strict: bool, background: bool) -> Result<Step<()>> {
        if self.checkpoint_dirty {
            self.store_checkpoint()?;
        }
        if !strict || self.dirty.is_empty() {
            return Ok(Step::Ready(()));
        }
        let commits_prefix = format!("{CONSUMER_OFFSETS_TOPIC}-");
        let (mut commits, mut records): (Vec<String>, Vec<String>) = self
            .dirty
            .iter()
            .cloned()
            .partition(|path| path.starts_with(&commits_prefix));
        sort_unstable(&mut records);
        sort_unstable(&mut commits);
        let groups: Vec<Vec<String>> = [records, commits]
            .into_iter()
            .filter(|group| !group.is_empty())
            .collect();
        // One file at a time gains nothing from the background, and the hand-off costs more
        // than it frees (a send of one record: 0.22 ms here, 0.31 ms there).
        let parallel = groups.iter().any(|group| group.len() > 1);
        if background && parallel && self.files.start_sync(&groups)? {
            self.dirty.clear();
            return Ok(Step::Pending);
        }
        for path in groups.iter().flatten() {
            self.files.sync(path)?;
            self.dirty.remove(path);
        }
        Ok(Step::Ready(()))
    }

    fn store_checkpoint(&mut self) -> Result<()> {
        self.checkpoint_dirty = false;
        let bytes = encode_checkpoint(&self.log_starts);
        replace_durably(
            &mut *self.files,
            CHECKPOINT_TEMPORARY_PATH,
            CHECKPOINT_PATH,
            &bytes,
        )
    }

    fn segment(&mut self, partition: &PartitionKey, base: i64) -> Result<&mut SegmentFile> {
        self.partitions
            .get_mut(partition)
            .and_then(|segments| segments.get_mut(&base))
            .ok_or_else(|| missing_segment(partition, base))
    }

    /// Starts a partition's first (empty) segment at `base`, keeping whatever else is in its
    /// directory, and records `base` as its log start for the checkpoint.
    fn create_partition_at(&mut self, partition: &PartitionKey, base: i64) -> Result<()> {
        let directory = partition.directory();
        let segment = SegmentFile::new(&directory, base);
        let length = self.files.open(&segment.path)?;
        if length != 0 {
            self.files.truncate(&segment.path, 0)?;
        }
        let mut segments = SortedMap::new();
        segments.insert(base, segment);
        self.partitions.insert(partition.clone(), segments);
        if self.log_starts.get(&directory) != Some(&base) {
            self.log_starts.insert(directory, base);
            self.checkpoint_dirty = true;
        }
        Ok(())
    }

    /// Reads and checks the header at `position` of `path`; Ok(None) when the bytes there
    /// are not a batch header (damage, or the end).
    fn header_at(&mut self, path: &str, position: u64) -> Result<Option<BatchHeader>> {
        let read = self.files.read_at(path, position, &mut self.header)?;
        Ok(BatchHeader::parse(&self.header[..read]).ok())
    }

    /// Writes the index of a segment, and syncs it: a torn or lost index fails its checksum
    /// and the next open reads the segment instead, but it can then tell a compaction gap from
    /// a damaged base offset only by what it finds.
    fn write_index(&mut self, partition: &PartitionKey, base: i64) -> Result<()> {
        let Some(segment) = self
            .partitions
            .get_mut(partition)
            .and_then(|s| s.get_mut(&base))
        else {
            return Ok(());
        };
        if !segment.index_stale {
            return Ok(());
        }
        let bytes = encode_index(segment);
        segment.index_stale = false;
        let path = format!("{}/{}", partition.directory(), index_file_name(base));
        self.files.open(&path)?;
        self.files.truncate(&path, 0)?;
        self.files.append(&path, &bytes)?;
        self.files.sync(&path)
    }

    /// Opens one segment file: trusts what its index vouches for, reads and verifies the rest.
    /// `active`: the last segment, whose unverifiable tail is a torn write and is cut.
    fn open_segment(
        &mut self,
        directory: &str,
        base: i64,
        active: bool,
        has_index: bool,
        recovery: &mut PartitionRecovery,
    ) -> Result<SegmentFile> {
        let mut segment = SegmentFile::new(directory, base);
        let length = self.files.open(&segment.path)?;
        let index_path = format!("{directory}/{}", index_file_name(base));
        let indexed = match has_index {
            true => read_small(&mut *self.files, &index_path)
                .ok()
                .and_then(|b| decode_index(&b, base)),
            false => None,
        };
        let mut position = 0;
        match indexed {
            Some((summary, index, contiguous)) if summary.size <= length => {
                position = summary.size;
                segment.summary = summary;
                segment.index = index;
                segment.contiguous = contiguous;
                segment.index_stale = false;
            }
            Some((summary, _, _)) => {
                // The file is shorter than its index says: read what is left, and report what
                // the index promised beyond it. The index goes: once the file grows again it
                // would vouch for bytes it never saw.
                self.files.remove(&index_path)?;
                self.scan(&mut segment, 0, length, false, recovery)?;
                if segment.summary.next_offset < summary.next_offset {
                    recovery.damaged.push(DamagedRange {
                        from: segment.summary.next_offset,
                        to: summary.next_offset,
                        reason: format!("{}: the file is {length} bytes, its index knew {} (cut short or overwritten)", segment.path, summary.size),
                    });
                }
                return Ok(segment);
            }
            None => {}
        }
        if position < length {
            self.scan(&mut segment, position, length, active, recovery)?;
        }
        Ok(segment)
    }

    /// Reads and verifies the batches of `segment` from `position` to `length`. At a batch
    /// that does not verify, looks for the next one that does: found, the bytes between are a
    /// damaged range; not found, they are a torn tail, cut when `cut_tail` (the active
    /// segment), else a damaged range left on disk.
    fn scan(
        &mut self,
        segment: &mut SegmentFile,
        mut position: u64,
        length: u64,
        cut_tail: bool,
        recovery: &mut PartitionRecovery,
    ) -> Result<()> {
        let mut bytes = Vec::new();
        // Each step moves past at least one batch header's bytes, which bounds the loop.
        while position < length {
            let expected = segment.summary.next_offset;
            // In the active segment batches follow each other exactly (only compaction, of
            // sealed segments, leaves gaps): a base offset that jumps is damage too (the base
            // offset is outside the CRC).
            let found =
                self.verified_batch_at(&segment.path, position, length, expected, &mut bytes)?;
            if let Some(header) = found.filter(|h| !cut_tail || h.base_offset == expected) {
                if header.base_offset != expected {
                    segment.contiguous = false;
                }
                segment.push(&header, position);
                position += header.size() as u64;
                recovery.batches_scanned += 1;
                continue;
            }
            match self.resync_file(&segment.path, position + 1, length, expected, &mut bytes)? {
                Some((found_at, header)) => {
                    recovery.damaged.push(DamagedRange {
                        from: expected,
                        to: header.base_offset,
                        reason: format!(
                            "{}: {} bytes at {position} do not verify",
                            segment.path,
                            found_at - position
                        ),
                    });
                    // The damaged bytes stay in the file: account for them as a gap.
                    segment.summary.size = found_at;
                    segment.summary.next_offset = header.base_offset;
                    segment.index.bytes_since_entry = INDEX_INTERVAL_BYTES; // index the next batch
                    position = found_at;
                }
                None if cut_tail => {
                    self.files.truncate(&segment.path, position)?;
                    recovery.truncated_bytes += length - position;
                    recovery.truncated_at = Some(expected);
                    break;
                }
                None => {
                    recovery.damaged.push(DamagedRange {
                        from: expected,
                        to: expected,
                        reason: format!(
                            "{}: the last {} bytes do not verify (kept on disk)",
                            segment.path,
                            length - position
                        ),
                    });
                    break;
                }
            }
        }
        Ok(())
    }

    /// The batch at `position` when it is whole, verifies (CRC and records) and starts at or
    /// after `expected`.
    fn verified_batch_at(
        &mut self,
        path: &str,
        position: u64,
        length: u64,
        expected: i64,
        bytes: &mut Vec<u8>,
    ) -> Result<Option<BatchHeader>> {
        let Some(header) = self.header_at(path, position)? else {
            return Ok(None);
        };
        let size = header.size() as u64;
        if position + size > length || header.base_offset < expected {
            return Ok(None);
        }
        bytes.resize(size as usize, 0);
        let read = self.files.read_at(path, position, bytes)?;
        Ok(RecordBatch::parse(&bytes[..read])
            .ok()
            .map(|batch| *batch.header()))
    }

    /// The first position after `from` where a whole batch that verifies starts, reading the
    /// file in windows (a candidate must have the magic byte, a plausible header and a CRC
    /// that matches, so garbage is not mistaken for a batch).
    fn resync_file(
        &mut self,
        path: &str,
        from: u64,
        length: u64,
        expected: i64,
        bytes: &mut Vec<u8>,
    ) -> Result<Option<(u64, BatchHeader)>> {
        let mut window = vec![0u8; RESYNC_WINDOW_BYTES];
        let mut start = from;
        while start < length {
            let read = self.files.read_at(path, start, &mut window)?;
            if read == 0 {
                break;
            }
            for at in 0..read {
                let magic_at = at + MAGIC_OFFSET;
                if magic_at < read && window[magic_at] as i8 != MAGIC {
                    continue;
                }
                let position = start + at as u64;
                if let Some(header) =
                    self.verified_batch_at(path, position, length, expected, bytes)?
                {
                    return Ok(Some((position, header)));
                }
            }
            start += read as u64;
        }
        Ok(None)
    }
}

fn read_small(files: &mut dyn Files, path: &str) -> Result<Vec<u8>> {
    let length = files.open(path)?;
    if length > SMALL_FILE_BYTES_MAX {
        return Err(Error::corrupt(format!(
            "{path}: larger than any file brook writes there"
        )));
    }
    let mut bytes = vec![0u8; length as usize];
    let read = files.read_at(path, 0, &mut bytes)?;
    bytes.truncate(read);
    Ok(bytes)
}

/// Replaces `path` atomically and durably: written to `temporary`, synced, renamed over it.
fn replace_durably(files: &mut dyn Files, temporary: &str, path: &str, bytes: &[u8]) -> Result<()> {
    files.open(temporary)?;
    files.truncate(temporary, 0)?;
    files.append(temporary, bytes)?;
    files.sync(temporary)?;
    files.rename(temporary, path)
}

impl Store for FileStore {
    fn lock(&mut self) -> Result<()> {
        self.files.lock()?;
        self.load_checkpoint().inspect_err(|_| self.files.unlock())
    }

    fn unlock(&mut self) {
        self.files.unlock();
    }

    fn load_manifest(&mut self) -> Result<Option<Vec<u8>>> {
        manifest::load_bytes(&mut *self.files)
    }

    fn store_manifest(&mut self, bytes: &[u8]) -> Result<()> {
        manifest::store_bytes(&mut *self.files, bytes)
    }

    fn open_partition(&mut self, partition: &PartitionKey) -> Result<OpenedPartition> {
        let directory = partition.directory();
        let mut bases = Vec::new();
        let mut indexes = HashSet::new();
        for name in self.files.list(&directory)? {
            if let Some(base) = parse_segment_file_name(&name) {
                bases.push(base);
            } else if let Some(base) = parse_name(&name, INDEX_SUFFIX) {
                indexes.insert(base);
            } else if name.ends_with(CLEANED_SUFFIX) {
                // An interrupted compaction: the original segment is still whole.
                self.files.remove(&format!("{directory}/{name}"))?;
            }
        }
        sort_unstable(&mut bases);
        let recorded_start = self.log_starts.get(&directory).copied();
        if bases.is_empty() {
            // Its end is unknown: the partition goes on from its log start, and what was after
            // it is reported, not silently renumbered from 0.
            let log_start = recorded_start.unwrap_or(0);
            self.create_partition_at(partition, log_start)?;
            let mut recovery = PartitionRecovery::default();
            if recorded_start.is_some() || self.checkpoint_found {
                recovery.damaged.push(DamagedRange {
                    from: log_start,
                    to: log_start,
                    reason: format!("{directory}: every segment file is missing (the records from offset {log_start} on are lost)"),
                });
            }
            return Ok(OpenedPartition {
                segments: vec![SegmentSummary::empty(log_start)],
                log_start,
                recovery,
            });
        }
        let mut recovery = PartitionRecovery::default();
        // Per opened segment: where its damage reports start, and whether it was read to its
        // end without a trusted index and found whole (then a gap after it is compaction's,
        // as brook 0.1 left them: 0.1 wrote no index to tell).
        // (And whether it was read as the active segment.)
        let mut segments: SortedMap<i64, (SegmentFile, usize, bool, bool)> = SortedMap::new();
        let last = *bases.last().unwrap_or(&0);
        for &base in &bases {
            let previous_end = segments
                .values()
                .next_back()
                .map(|s| s.0.summary.next_offset);
            if previous_end.is_some_and(|end| base < end) {
                recovery.ignored.push(format!(
                    "{directory}/{}: starts at {base}, inside the segment before it (which ends at {}); left alone",
                    segment_file_name(base),
                    previous_end.unwrap_or(0)
                ));
                continue;
            }
            let damage_before = recovery.damaged.len();
            let follows_on = previous_end.is_none_or(|end| base == end);
            // The last file is the active segment when it follows on from the one before it;
            // one that leaves a gap is read as sealed first, to see whether it is brook's.
            let as_active = base == last && follows_on;
            let segment = self.open_segment(
                &directory,
                base,
                as_active,
                indexes.contains(&base),
                &mut recovery,
            )?;
            let length = self.files.open(&segment.path)?;
            if segment.summary.batches == 0 && length > 0 && !as_active {
                // Not one batch in it verifies: not a segment brook wrote (a stray file, or
                // one overwritten whole). Left alone, and reported.
                recovery.damaged.truncate(damage_before);
                recovery.ignored.push(format!(
                    "{}: {length} bytes, not one batch verifies; left alone",
                    segment.path
                ));
                continue;
            }
            let whole = !indexes.contains(&base) && recovery.damaged.len() == damage_before;
            if let (Some(end), Some(previous)) = (previous_end, segments.values_mut().next_back()) {
                if base > end {
                    if previous.2 {
                        // A compaction gap of brook 0.1: the segment before ends where this begins.
                        previous.0.summary.next_offset = base;
                        previous.0.contiguous = false;
                        previous.0.index_stale = true;
                    } else if !recovery
                        .damaged
                        .iter()
                        .any(|r| r.from <= end && r.to >= base)
                    {
                        recovery.damaged.push(DamagedRange {
                            from: end,
                            to: base,
                            reason: format!("{directory}: no segment holds offsets {end} to {} (a file is missing or cut short)", base - 1),
                        });
                    }
                }
            }
            segments.insert(base, (segment, damage_before, whole, as_active));
        }
        // The last segment kept is the active one; if it was read as sealed (a file after it
        // was left alone, or it leaves a gap), read it again as active: only its tail is cut.
        if let Some((&base, entry)) = segments.iter_mut().next_back() {
            if !entry.3 {
                recovery.damaged.truncate(entry.1);
                entry.0 = self.open_segment(
                    &directory,
                    base,
                    true,
                    indexes.contains(&base),
                    &mut recovery,
                )?;
            }
        }
        if segments.is_empty() {
            // Every file was left alone: the partition starts over after the last of them.
            let log_start = recorded_start.unwrap_or(0);
            self.create_partition_at(partition, log_start)?;
            return Ok(OpenedPartition {
                segments: vec![SegmentSummary::empty(log_start)],
                log_start,
                recovery,
            });
        }
        let first = *segments.keys().next().unwrap_or(&0);
        let log_start = match recorded_start {
            Some(start) => start,
            // No checkpoint at all (brook 0.1, or a log that never flushed): what retention
            // deleted before cannot be told from a missing file; the first segment is the start.
            None if !self.checkpoint_found => {
                self.log_starts.insert(directory.clone(), first);
                self.checkpoint_dirty = true;
                first
            }
            None => 0,
        };
        if first > log_start {
            recovery.damaged.push(DamagedRange {
                from: log_start,
                to: first,
                reason: format!("{directory}: the segments before offset {first} are missing"),
            });
        }
        let active = *segments.keys().next_back().unwrap_or(&0);
        let segments: SortedMap<i64, SegmentFile> =
            segments.into_iter().map(|(base, s)| (base, s.0)).collect();
        // Sealed segments that had to be read get an index, so the next open need not.
        let sealed: Vec<i64> = segments.keys().copied().filter(|&b| b != active).collect();
        let summaries = segments.values().map(|s| s.summary).collect();
        self.partitions.insert(partition.clone(), segments);
        for base in sealed {
            self.write_index(partition, base)?;
        }
        Ok(OpenedPartition {
            segments: summaries,
            log_start: log_start.min(first),
            recovery,
        })
    }

    fn create_partition(&mut self, partition: &PartitionKey) -> Result<()> {
        let directory = partition.directory();
        for name in self.files.list(&directory)? {
            self.files.remove(&format!("{directory}/{name}"))?;
        }
        self.create_partition_at(partition, 0)
    }

    fn remove_partition(&mut self, partition: &PartitionKey) -> Result<()> {
        let directory = partition.directory();
        self.partitions.remove(partition);
        if self.log_starts.remove(&directory).is_some() {
            self.checkpoint_dirty = true;
        }
        for name in self.files.list(&directory)? {
            self.files.remove(&format!("{directory}/{name}"))?;
        }
        self.files.remove(&directory)
    }

    fn append(
        &mut self,
        partition: &PartitionKey,
        segment: &SegmentSummary,
        batch: std::rc::Rc<Vec<u8>>,
        header: &BatchHeader,
    ) -> Result<BatchSlot> {
        // The segment is looked up once and its path borrowed, not cloned: an append of one
        // small batch is a hot path (a send of one, relaxed).
        let file = self
            .partitions
            .get_mut(partition)
            .and_then(|segments| segments.get_mut(&segment.base_offset))
            .ok_or_else(|| missing_segment(partition, segment.base_offset))?;
        let position = file.summary.size;
        if self.broken.contains(&file.path) {
            return Err(Error::io(
                "append",
                &file.path,
                "an earlier failed write could not be taken back; close the log and open it again",
            ));
        }
        if !self.dirty.contains(&file.path) {
            self.dirty.insert(file.path.clone());
        }
        if let Err(error) = self.files.append(&file.path, &batch) {
            // Undo a partial write so the next append does not land after garbage; if even
            // that fails, the file takes no more appends until a reopen reads it again.
            if self.files.truncate(&file.path, position).is_err() {
                self.broken.insert(file.path.clone());
            }
            return Err(error);
        }
        file.push(header, position);
        Ok(BatchSlot {
            location: position,
            base_offset: header.base_offset,
            next_offset: header.next_offset(),
            size: batch.len() as u32,
        })
    }

    fn undo_appends(
        &mut self,
        partition: &PartitionKey,
        segment: &SegmentSummary,
        slot: &BatchSlot,
    ) -> Result<()> {
        let file = self.segment(partition, segment.base_offset)?;
        let path = file.path.clone();
        file.summary = *segment;
        file.index.truncate(slot.location);
        self.files.truncate(&path, slot.location)
    }

    fn roll(&mut self, partition: &PartitionKey, sealed: &SegmentSummary, base: i64) -> Result<()> {
        let directory = partition.directory();
        let path = self.segment(partition, sealed.base_offset)?.path.clone();
        // The sealed segment is durable before anything lands in the next one, so that only
        // the active segment's tail can ever be torn; its index lets every open skip it.
        self.files.sync(&path)?;
        self.dirty.remove(&path);
        self.write_index(partition, sealed.base_offset)?;
        let segment = SegmentFile::new(&directory, base);
        let length = self.files.open(&segment.path)?;
        if length != 0 {
            // A leftover file of the same name would mix old bytes into the new segment.
            self.files.truncate(&segment.path, 0)?;
        }
        self.partitions
            .entry(partition.clone())
            .or_default()
            .insert(base, segment);
        Ok(())
    }

    fn batch_at(
        &mut self,
        partition: &PartitionKey,
        segment: &SegmentSummary,
        offset: i64,
    ) -> Result<Step<Option<BatchSlot>>> {
        let file = self.segment(partition, segment.base_offset)?;
        let path = file.path.clone();
        let size = file.summary.size.min(segment.size);
        let contiguous = file.contiguous;
        // The index knows the base offset of the batch it points at; after it, offsets follow
        // on exactly (or, after compaction, at least grow).
        let (mut expected, mut position, mut exact) = match file.index.entry_for(offset) {
            Some((base, position)) => (base, position, true),
            None => (segment.base_offset, 0, contiguous),
        };
        let mut bytes = Vec::new();
        // Bounded: each step moves at least one header forward.
        while position < size {
            let fits = |header: &BatchHeader, exact: bool| {
                (header.base_offset == expected || (!exact && header.base_offset > expected))
                    && header.next_offset() <= segment.next_offset
            };
            let header = match self.header_at(&path, position)? {
                Some(header) if fits(&header, exact) => header,
                _ => {
                    // Damage: walk on from the next batch that verifies, unless the offset
                    // lies in the damaged stretch (the caller finds the damage when it reads).
                    let damaged = BatchSlot {
                        location: position,
                        base_offset: offset,
                        next_offset: offset,
                        size: 0,
                    };
                    match self.resync_file(
                        &path,
                        position + 1,
                        size,
                        expected.max(segment.base_offset),
                        &mut bytes,
                    )? {
                        Some((found_at, header)) if header.base_offset <= offset => {
                            position = found_at;
                            expected = header.base_offset;
                            exact = true;
                            continue;
                        }
                        _ => return Ok(Step::Ready(Some(damaged))),
                    }
                }
            };
            if header.next_offset() > offset {
                return Ok(Step::Ready(Some(slot_of(position, &header))));
            }
            expected = header.next_offset();
            exact = contiguous;
            position += header.size() as u64;
        }
        Ok(Step::Ready(None))
    }

    fn batch_after(
        &mut self,
        partition: &PartitionKey,
        segment: &SegmentSummary,
        slot: &BatchSlot,
    ) -> Result<Step<Option<BatchSlot>>> {
        let file = self.segment(partition, segment.base_offset)?;
        let (path, contiguous) = (file.path.clone(), file.contiguous);
        let position = slot.location + slot.size as u64;
        if slot.size == 0 || position >= segment.size {
            return Ok(Step::Ready(None));
        }
        Ok(Step::Ready(match self.header_at(&path, position)? {
            // Offsets follow on (or, after compaction, grow): a header that says otherwise is
            // damaged.
            Some(header)
                if (header.base_offset == slot.next_offset
                    || (!contiguous && header.base_offset > slot.next_offset))
                    && header.next_offset() <= segment.next_offset =>
            {
                Some(slot_of(position, &header))
            }
            _ => Some(BatchSlot {
                location: position,
                base_offset: slot.next_offset,
                next_offset: slot.next_offset,
                size: 0,
            }),
        }))
    }

    fn read(
        &mut self,
        partition: &PartitionKey,
        segment: &SegmentSummary,
        slot: &BatchSlot,
    ) -> Result<Step<BatchBytes>> {
        let path = self.segment(partition, segment.base_offset)?.path.clone();
        // A slot whose header did not parse (size 0): hand back the bytes that are there, so
        // that the caller's check fails and reports the damage.
        let size = if slot.size == 0 {
            BATCH_HEADER_SIZE
        } else {
            (slot.size as usize).min(BATCH_BYTES_MAX)
        };
        let mut bytes = crate::store::batch_buffer(size);
        let read = self.files.read_at(&path, slot.location, &mut bytes)?;
        bytes.truncate(read);
        Ok(Step::Ready(BatchBytes {
            bytes: std::rc::Rc::new(bytes),
            verified: false,
        }))
    }

    fn resync(
        &mut self,
        partition: &PartitionKey,
        segment: &SegmentSummary,
        slot: &BatchSlot,
    ) -> Result<Step<Option<BatchSlot>>> {
        let path = self.segment(partition, segment.base_offset)?.path.clone();
        let mut bytes = Vec::new();
        let found = self.resync_file(
            &path,
            slot.location + 1,
            segment.size,
            slot.base_offset,
            &mut bytes,
        )?;
        Ok(Step::Ready(
            found.map(|(position, header)| slot_of(position, &header)),
        ))
    }

    fn remove_segment(
        &mut self,
        partition: &PartitionKey,
        segment: &SegmentSummary,
        log_start: i64,
    ) -> Result<()> {
        let directory = partition.directory();
        // The log start first: a crash between the two never makes a deleted segment look
        // like a missing one.
        if self.log_starts.get(&directory) != Some(&log_start) {
            self.log_starts.insert(directory.clone(), log_start);
            self.store_checkpoint()?;
        }
        let base = segment.base_offset;
        if let Some(segments) = self.partitions.get_mut(partition) {
            segments.remove(&base);
        }
        self.dirty
            .remove(&format!("{directory}/{}", segment_file_name(base)));
        self.files
            .remove(&format!("{directory}/{}", index_file_name(base)))?;
        self.files
            .remove(&format!("{directory}/{}", segment_file_name(base)))
    }

    fn extend_segment(&mut self, partition: &PartitionKey, summary: &SegmentSummary) -> Result<()> {
        let file = self.segment(partition, summary.base_offset)?;
        file.summary.next_offset = summary.next_offset;
        file.index_stale = true;
        self.write_index(partition, summary.base_offset)
    }

    fn replace_segment(
        &mut self,
        partition: &PartitionKey,
        segment: &SegmentSummary,
        batches: &[Vec<u8>],
    ) -> Result<SegmentSummary> {
        let directory = partition.directory();
        let base = segment.base_offset;
        let path = format!("{directory}/{}", segment_file_name(base));
        let cleaned = format!("{path}{CLEANED_SUFFIX}");
        self.files.open(&cleaned)?;
        self.files.truncate(&cleaned, 0)?;
        let mut rebuilt = SegmentFile::new(&directory, base);
        for batch in batches {
            let header =
                BatchHeader::parse(batch).map_err(|e| e.into_error("a compacted batch"))?;
            self.files.append(&cleaned, batch)?;
            let position = rebuilt.summary.size;
            rebuilt.push(&header, position);
        }
        self.files.sync(&cleaned)?;
        // The original stays whole until the rename replaces it: a crash leaves one or the
        // other, and an index that vouches for fewer bytes than the file is not trusted.
        self.files
            .remove(&format!("{directory}/{}", index_file_name(base)))?;
        self.files.rename(&cleaned, &path)?;
        // Offsets never move: the rewritten segment still ends where the original did.
        rebuilt.summary.next_offset = segment.next_offset;
        rebuilt.index_stale = true;
        rebuilt.contiguous = false;
        let summary = rebuilt.summary;
        self.partitions
            .entry(partition.clone())
            .or_default()
            .insert(base, rebuilt);
        self.write_index(partition, base)?;
        Ok(summary)
    }

    fn flush(&mut self, strict: bool) -> Result<Step<()>> {
        self.flush_files(strict, true)
    }

    fn reads_are_free(&self) -> bool {
        false
    }

    fn failed_flush_is_final(&self) -> bool {
        true
    }

    fn close(&mut self, active: &[(PartitionKey, SegmentSummary, i64)]) -> Result<()> {
        self.flush_files(true, false)?;
        for (partition, segment, _) in active {
            self.write_index(partition, segment.base_offset)?;
        }
        Ok(())
    }
}

fn slot_of(position: u64, header: &BatchHeader) -> BatchSlot {
    BatchSlot {
        location: position,
        base_offset: header.base_offset,
        next_offset: header.next_offset(),
        size: header.size() as u32,
    }
}

impl std::fmt::Debug for FileStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileStore")
            .field("partitions", &self.partitions.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_twenty_digit_base_offsets() {
        assert_eq!(segment_file_name(0), "00000000000000000000.log");
        assert_eq!(segment_file_name(1234), "00000000000000001234.log");
        assert_eq!(
            parse_segment_file_name("00000000000000001234.log"),
            Some(1234)
        );
        for other in [
            "1234.log",
            "00000000000000001234.index",
            "0000000000000000123x.log",
            "x",
        ] {
            assert_eq!(parse_segment_file_name(other), None, "{other}");
        }
    }

    #[test]
    fn checkpoints_round_trip_and_refuse_damage() {
        let mut starts = SortedMap::new();
        starts.insert("orders-0".to_owned(), 42);
        starts.insert("__consumer_offsets-0".to_owned(), 0);
        let bytes = encode_checkpoint(&starts);
        assert_eq!(decode_checkpoint(&bytes).unwrap(), starts);
        let mut flipped = bytes.clone();
        flipped[20] ^= 1;
        assert_eq!(
            decode_checkpoint(&flipped).unwrap_err().code(),
            "CORRUPT_DATA"
        );
    }
}
