// The keyed store: batches as values keyed [topic, partition, base offset] — never one value
// per message — beside a value per segment holding its summary, and the manifest. It is the
// layout of an IndexedDB log, and of a log in memory:
//
//   Memory     everything stays here; flush has nothing to do; nothing is ever pending.
//   Persisted  the durable copy is elsewhere (IndexedDB, or a `KeyedImage` in tests). Open
//              loads the manifest and the segment summaries only; batches are loaded when
//              read: a read that is not here answers Pending after queueing a `Load`, which
//              the bindings fulfil (`supply`) and the reader repeats. Changes go to a journal
//              that a flush hands over whole (`take_flush`), to be applied in ONE transaction;
//              the bindings report how it went (`flush_done`). After a failed one the log
//              reloads what is durable.
//
// Invariant: applying the journals, in order, to the image the store was loaded from gives
// exactly the store's batches and summaries; one transaction per flush, so a crash shows all
// of a flush or none of it.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use crate::error::{Error, ErrorKind, Result};
use crate::record_batch::{merge_batches, BatchHeader, RecordBatch};
use crate::sorted_map::SortedMap;
use crate::store::{
    BatchBytes, BatchSlot, DamagedRange, OpenedPartition, PartitionKey, PartitionRecovery,
    SegmentSummary, Step, Store,
};
use crate::varint::Reader;

/// A batch's key.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BatchKey {
    pub partition: PartitionKey,
    pub base_offset: i64,
}

/// One change to the durable copy, in journal order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    PutBatch {
        key: BatchKey,
        bytes: Rc<Vec<u8>>,
    },
    /// Deletes the batches of `partition` with base offsets in `from..to`.
    DeleteBatches {
        partition: PartitionKey,
        from: i64,
        to: i64,
    },
    PutSegment {
        key: BatchKey,
        summary: SegmentSummary,
    },
    DeleteSegment {
        key: BatchKey,
    },
    PutManifest {
        bytes: Vec<u8>,
    },
}

/// Batches of one partition in key order, as a load returns them: (base offset, bytes).
pub type BatchRun = Vec<(i64, Rc<Vec<u8>>)>;

/// A read the bindings should do: the batches of a partition from the one holding `offset`
/// (the greatest key at or below it, within the segment) onward, up to about `bytes_max`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Load {
    pub partition: PartitionKey,
    pub segment_base: i64,
    /// Exclusive: the segment's end.
    pub segment_next: i64,
    pub offset: i64,
    /// Bytes to bring at most (beyond the first batch, which always comes).
    pub bytes_max: u64,
    /// Batches to ask the database for: about `bytes_max` of the segment's average batch,
    /// so that a read does not fetch far more than it keeps.
    pub batches_max: u32,
    /// Set when the bindings take it (`take_loads`): the flushes committed by then. An answer
    /// read before a deletion became durable is stale and dropped (`supply`).
    pub taken_at: u64,
}

/// How much of the durable copy a load brings, batch by batch in key order from the floor:
/// the first batch that can hold the offset (or follows it) always; a floor batch that ends
/// before the offset beside it, uncounted (it is there for what follows it — counted, a batch
/// larger than the budget after a compacted gap would leave the load unable ever to reach
/// past the gap); then more within `bytes_max` and `batches_max`.
pub struct LoadBudget {
    offset: i64,
    bytes_max: u64,
    batches_max: u32,
    bytes: u64,
    batches: u32,
}

impl LoadBudget {
    pub fn new(load: &Load) -> LoadBudget {
        LoadBudget {
            offset: load.offset,
            bytes_max: load.bytes_max,
            batches_max: load.batches_max.clamp(1, LOAD_BATCHES_MAX),
            bytes: 0,
            batches: 0,
        }
    }

    /// Keys to ask the database for: the budget's batches, and a floor below the offset.
    pub fn keys_max(&self, floor: Option<i64>) -> u32 {
        self.batches_max + u32::from(floor.is_some_and(|f| f < self.offset))
    }

    /// Whether the batch at `base` of `len` bytes, ending at `next_offset` (None: unknown),
    /// comes with the load; false: the load is full, and stops before it.
    pub fn admit(&mut self, base: i64, len: u64, next_offset: Option<i64>) -> bool {
        if base < self.offset && next_offset.is_some_and(|next| next <= self.offset) {
            return true;
        }
        if self.batches > 0
            && (self.batches >= self.batches_max || self.bytes + len > self.bytes_max)
        {
            return false;
        }
        self.batches += 1;
        self.bytes += len;
        true
    }
}

/// The next offset a stored batch's header gives (None: the value does not parse).
pub fn stored_next_offset(bytes: &[u8]) -> Option<i64> {
    BatchHeader::parse(bytes).ok().map(|h| h.next_offset())
}

/// How much one load brings at most (several batches, read ahead for a consumer).
pub const LOAD_BYTES_MAX: u64 = 1024 * 1024;
/// Batches one load asks for at most.
pub const LOAD_BATCHES_MAX: u32 = 32;

/// What a load saw after a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NextKey {
    /// The next batch's key (compaction may leave a gap before it).
    Key(i64),
    /// No batch follows in the segment.
    SegmentEnd,
    /// The load stopped here: unknown until the next load.
    Unknown,
}

/// Batches loaded and not yet read, and what loads saw of the order of keys.
#[derive(Default)]
struct Loaded {
    /// Base offset -> bytes, until read.
    bytes: SortedMap<i64, Rc<Vec<u8>>>,
    /// Base offset -> (its next offset, what follows it). Bounded: cleared past LINKS_MAX.
    links: BTreeMap<i64, (i64, NextKey)>,
}

const LINKS_MAX: usize = 100_000;

#[derive(Default)]
struct KeyedPartition {
    segments: SortedMap<i64, SegmentSummary>,
    /// Memory mode: every batch. Persisted: the batches not yet flushed (journal, in flight).
    batches: SortedMap<i64, Rc<Vec<u8>>>,
    loaded: Loaded,
    /// The ranges of base offsets a deletion in the journal or in flight removes: there the
    /// durable copy is stale (it holds batches that are gone, and lacks their rewrites), and
    /// this store's own batches are all there is. A removed partition's outlive it, into the
    /// partition made again.
    deleting: Vec<(i64, i64)>,
    /// The flush after which its last deletion became durable.
    deleted_at: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Memory,
    Persisted,
}

struct KeyedState {
    mode: Mode,
    locked: bool,
    manifest: Option<Vec<u8>>,
    partitions: HashMap<PartitionKey, KeyedPartition>,
    journal: Vec<Change>,
    in_flight: Option<Vec<Change>>,
    loads: Vec<Load>,
    /// Loads the bindings took and have not answered yet: a read that needs one of them
    /// waits for it rather than asking for it again.
    loading: Vec<Load>,
    /// Flushes committed so far (`Load::taken_at`).
    flushes: u64,
    /// Summaries of segments as loaded that need writing back (an older layout's store).
    recovery: HashMap<PartitionKey, PartitionRecovery>,
}

/// A handle to a keyed store; clones share it (the log owns one, the bindings another).
#[derive(Clone)]
pub struct KeyedStore {
    state: Rc<RefCell<KeyedState>>,
}

/// What a durable copy holds, as the bindings read it at open (or a test's crash image).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyedImage {
    pub manifest: Option<Vec<u8>>,
    pub segments: SortedMap<BatchKey, SegmentSummary>,
    pub batches: SortedMap<BatchKey, Rc<Vec<u8>>>,
}

/// A segment summary as stored (big-endian): next offset, size, max timestamp (i64::MIN: none),
/// batch count.
pub fn encode_summary(summary: &SegmentSummary) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(32);
    bytes.extend_from_slice(&summary.next_offset.to_be_bytes());
    bytes.extend_from_slice(&summary.size.to_be_bytes());
    bytes.extend_from_slice(&summary.max_timestamp.unwrap_or(i64::MIN).to_be_bytes());
    bytes.extend_from_slice(&summary.batches.to_be_bytes());
    bytes
}

pub fn decode_summary(base_offset: i64, bytes: &[u8]) -> Option<SegmentSummary> {
    let mut reader = Reader::new(bytes);
    let summary = SegmentSummary {
        base_offset,
        next_offset: reader.i64().ok()?,
        size: reader.u64().ok()?,
        max_timestamp: Some(reader.i64().ok()?).filter(|&t| t != i64::MIN),
        batches: reader.u64().ok()?,
    };
    (reader.remaining() == 0 && summary.next_offset >= base_offset).then_some(summary)
}

impl KeyedImage {
    /// Applies a flush's journal, as one transaction would.
    pub fn apply(&mut self, changes: &[Change]) {
        for change in changes {
            match change {
                Change::PutBatch { key, bytes } => {
                    self.batches.insert(key.clone(), bytes.clone());
                }
                Change::DeleteBatches {
                    partition,
                    from,
                    to,
                } => {
                    self.batches.retain(|key, _| {
                        key.partition != *partition
                            || key.base_offset < *from
                            || key.base_offset >= *to
                    });
                }
                Change::PutSegment { key, summary } => {
                    self.segments.insert(key.clone(), *summary);
                }
                Change::DeleteSegment { key } => {
                    self.segments.remove(key);
                }
                Change::PutManifest { bytes } => self.manifest = Some(bytes.clone()),
            }
        }
    }

    /// The bindings' answer to a `Load`, from this image: the batch holding the offset (or the
    /// first after it) and those after it within the segment, up to about `bytes_max`; and
    /// whether the run reached the segment's end.
    pub fn load(&self, load: &Load) -> (BatchRun, bool) {
        let low = BatchKey {
            partition: load.partition.clone(),
            base_offset: load.segment_base,
        };
        let at = BatchKey {
            partition: load.partition.clone(),
            base_offset: load.offset,
        };
        let high = BatchKey {
            partition: load.partition.clone(),
            base_offset: load.segment_next,
        };
        let start = self
            .batches
            .range(low..=at.clone())
            .next_back()
            .map(|(k, _)| k.clone())
            .unwrap_or(at);
        let mut budget = LoadBudget::new(load);
        let mut run = Vec::new();
        let mut reached_end = true;
        for (key, value) in self.batches.range(start..high) {
            if !budget.admit(
                key.base_offset,
                value.len() as u64,
                stored_next_offset(value),
            ) {
                reached_end = false;
                break;
            }
            run.push((key.base_offset, value.clone()));
        }
        (run, reached_end)
    }
}

/// A stored batch as the 0.1 migration sees it: its key, its header when the value verifies
/// (CRC, records, the key matching its base offset), and its size. Checked one chunk at a
/// time, so that a segment is never held in memory whole.
pub fn check_stored_batch(key: i64, bytes: &[u8]) -> (i64, Option<BatchHeader>, u64) {
    let header = RecordBatch::parse(bytes)
        .ok()
        .filter(|batch| batch.base_offset() == key && batch.bytes().len() == bytes.len())
        .map(|batch| *batch.header());
    (key, header, bytes.len() as u64)
}

/// The summary of a segment stored without one (brook 0.1 stored `1`), from its batches in
/// key order (`check_stored_batch`): one that does not verify becomes a damaged range, and
/// the rest are counted. `end` is the next segment's base: a segment read whole that ends
/// before it lost its last batches to 0.1's compaction, and ends there.
pub fn summarize_segment(
    partition: &PartitionKey,
    base_offset: i64,
    batches: &[(i64, Option<BatchHeader>, u64)],
    end: Option<i64>,
    recovery: &mut PartitionRecovery,
) -> SegmentSummary {
    let mut summary = SegmentSummary::empty(base_offset);
    let mut whole = true;
    for (index, (key, header, size)) in batches.iter().enumerate() {
        match header {
            Some(header) if *key >= summary.next_offset => {
                summary.add(
                    header.next_offset(),
                    *size,
                    header.max_timestamp,
                    header.record_count,
                );
            }
            _ => {
                whole = false;
                let to = batches
                    .get(index + 1)
                    .map_or(key + 1, |next| next.0.max(key + 1));
                recovery.damaged.push(DamagedRange {
                    from: (*key).max(summary.next_offset),
                    to,
                    reason: format!(
                        "{}: the value stored for offset {key} does not verify",
                        partition.directory()
                    ),
                });
                summary.next_offset = summary.next_offset.max(to);
            }
        }
    }
    if let Some(end) = end.filter(|&end| whole && end > summary.next_offset) {
        summary.next_offset = end;
    }
    summary
}

fn key(partition: &PartitionKey, base_offset: i64) -> BatchKey {
    BatchKey {
        partition: partition.clone(),
        base_offset,
    }
}

fn header_of(bytes: &[u8]) -> Result<BatchHeader> {
    BatchHeader::parse(bytes).map_err(|e| e.into_error("a stored batch"))
}

fn slot_for(bytes: &[u8], base_offset: i64) -> BatchSlot {
    match BatchHeader::parse(bytes) {
        Ok(header) => BatchSlot {
            location: base_offset as u64,
            base_offset,
            next_offset: header.next_offset(),
            size: bytes.len() as u32,
        },
        // A damaged value: the reader finds out when it checks it.
        Err(_) => BatchSlot {
            location: base_offset as u64,
            base_offset,
            next_offset: base_offset,
            size: bytes.len() as u32,
        },
    }
}

impl KeyedStore {
    /// A store in memory: a log that persists nothing.
    pub fn in_memory() -> KeyedStore {
        KeyedStore::new(Mode::Memory, KeyedImage::default())
    }

    /// A store over a durable copy, from what was read of it at open: the manifest and the
    /// segment summaries (batches are loaded when read). `image.batches` may hold batches
    /// already (a test's image, or a migration that had to read them).
    pub fn persisted(image: KeyedImage) -> KeyedStore {
        KeyedStore::new(Mode::Persisted, image)
    }

    fn new(mode: Mode, image: KeyedImage) -> KeyedStore {
        let mut partitions: HashMap<PartitionKey, KeyedPartition> = HashMap::new();
        for (key, summary) in image.segments {
            partitions
                .entry(key.partition)
                .or_default()
                .segments
                .insert(key.base_offset, summary);
        }
        for (key, bytes) in image.batches {
            let partition = partitions.entry(key.partition).or_default();
            match mode {
                Mode::Memory => {
                    partition.batches.insert(key.base_offset, bytes);
                }
                Mode::Persisted => {
                    partition.loaded.bytes.insert(key.base_offset, bytes);
                }
            }
        }
        KeyedStore {
            state: Rc::new(RefCell::new(KeyedState {
                mode,
                locked: false,
                manifest: image.manifest,
                partitions,
                journal: Vec::new(),
                in_flight: None,
                loads: Vec::new(),
                loading: Vec::new(),
                flushes: 0,
                recovery: HashMap::new(),
            })),
        }
    }

    /// The loads queued by reads since the last call; each is in flight until `supply` or
    /// `loads_failed` answers it.
    pub fn take_loads(&self) -> Vec<Load> {
        let mut state = self.state.borrow_mut();
        let flushes = state.flushes;
        let mut loads = std::mem::take(&mut state.loads);
        for load in &mut loads {
            load.taken_at = flushes;
        }
        state.loading.extend(loads.iter().cloned());
        loads
    }

    /// Whether a load is queued or in flight: a read that found nothing may find its batches
    /// once the loads are answered.
    pub fn has_loads(&self) -> bool {
        let state = self.state.borrow();
        !state.loads.is_empty() || !state.loading.is_empty()
    }

    /// Loads that could not be read (the database refused): no longer in flight, so that the
    /// reads that wait for them ask again.
    pub fn loads_failed(&self, loads: &[Load]) {
        let mut state = self.state.borrow_mut();
        state.loading.retain(|taken| !loads.contains(taken));
    }

    /// The bindings' answer to a load: the run of batches it asked for, in key order, and
    /// whether the run reached the segment's end.
    pub fn supply(&self, load: &Load, run: BatchRun, to_segment_end: bool) {
        let mut state = self.state.borrow_mut();
        let state = &mut *state;
        if let Some(index) = state.loading.iter().position(|taken| taken == load) {
            state.loading.swap_remove(index);
        }
        // Read before a deletion in this partition became durable: it may hold batches that
        // are gone (or a deleted topic's). Dropped; the read asks again.
        let Some(partition) = state.partitions.get_mut(&load.partition) else {
            return;
        };
        if partition.deleted_at > load.taken_at {
            return;
        }
        let deleting = &partition.deleting;
        let stale = |base: i64| deleting.iter().any(|&(from, to)| from <= base && base < to);
        let loaded = &mut partition.loaded;
        if loaded.links.len() > LINKS_MAX {
            loaded.links.clear();
        }
        for (index, (base, bytes)) in run.iter().enumerate() {
            let follows = match run.get(index + 1) {
                Some((next, _)) => NextKey::Key(*next),
                None if to_segment_end => NextKey::SegmentEnd,
                None => NextKey::Unknown,
            };
            if stale(*base) {
                continue;
            }
            // A damaged value's end is unknown: it ends where it starts (the reader resyncs).
            let end = stored_next_offset(bytes);
            let next = end.unwrap_or(*base);
            loaded.links.insert(*base, (next, follows));
            // A floor that ends before the offset came for what follows it: the reader is past
            // it, and its bytes, kept, would stay unread.
            if *base < load.offset && end.is_some_and(|end| end <= load.offset) {
                continue;
            }
            loaded.bytes.insert(*base, bytes.clone());
        }
        // No durable batch holds the offset (compaction emptied the stretch, or nothing is
        // there): note the empty stretch up to what follows, else a read from the offset
        // would ask for the same load forever.
        let holds = |(base, bytes): &(i64, Rc<Vec<u8>>)| {
            *base == load.offset
                || (*base < load.offset
                    && stored_next_offset(bytes).is_some_and(|next| next > load.offset))
        };
        if !stale(load.offset) && !run.iter().any(holds) {
            let follows = match run.iter().find(|(base, _)| *base > load.offset) {
                Some((base, _)) => NextKey::Key(*base),
                None if to_segment_end => NextKey::SegmentEnd,
                None => NextKey::Unknown,
            };
            loaded.links.insert(load.offset, (load.offset, follows));
        }
    }

    /// The journal of the flush to write now (None: nothing to write, or one in flight).
    pub fn take_flush(&self) -> Option<Vec<Change>> {
        let mut state = self.state.borrow_mut();
        if state.in_flight.is_some() || state.journal.is_empty() {
            return None;
        }
        let journal = std::mem::take(&mut state.journal);
        state.in_flight = Some(journal.clone());
        Some(journal)
    }

    /// The flush handed out by `take_flush` committed: its batches are durable, and reads
    /// find them in the durable copy from now on.
    pub fn flush_done(&self) {
        let mut state = self.state.borrow_mut();
        let state = &mut *state;
        let Some(changes) = state.in_flight.take() else {
            return;
        };
        if state.mode != Mode::Persisted {
            return;
        }
        state.flushes += 1;
        for change in &changes {
            if let Change::DeleteBatches {
                partition,
                from,
                to,
            } = change
            {
                if let Some(partition) = state.partitions.get_mut(partition) {
                    let ranges = &mut partition.deleting;
                    if let Some(index) = ranges.iter().position(|&r| r == (*from, *to)) {
                        ranges.remove(index);
                    }
                    partition.deleted_at = state.flushes;
                }
            }
        }
        for change in &changes {
            let Change::PutBatch { key, bytes } = change else {
                continue;
            };
            let Some(partition) = state.partitions.get_mut(&key.partition) else {
                continue;
            };
            // Still this store's batch at that key (compaction may have rewritten it since,
            // in a flush to come): durable now, and read from the durable copy from here on.
            if partition
                .batches
                .get(&key.base_offset)
                .is_some_and(|held| Rc::ptr_eq(held, bytes))
            {
                partition.batches.remove(&key.base_offset);
                // Freshly written, likely read soon: kept as loaded (bounded by reads).
                partition
                    .loaded
                    .bytes
                    .insert(key.base_offset, bytes.clone());
            }
        }
    }

    pub fn flush_in_flight(&self) -> bool {
        self.state.borrow().in_flight.is_some()
    }

    /// Journals a new summary of `segment` (an older layout stored none).
    pub fn note_summary(&self, partition: &PartitionKey, summary: SegmentSummary) {
        let mut state = self.state.borrow_mut();
        state.journal.push(Change::PutSegment {
            key: key(partition, summary.base_offset),
            summary,
        });
        state
            .partitions
            .entry(partition.clone())
            .or_default()
            .segments
            .insert(summary.base_offset, summary);
    }

    /// What opening found wrong in a partition, reported with it.
    pub fn note_recovery(&self, partition: &PartitionKey, recovery: PartitionRecovery) {
        self.state
            .borrow_mut()
            .recovery
            .insert(partition.clone(), recovery);
    }

    /// Bytes of batches held in memory (memory mode: the whole log).
    pub fn bytes_held(&self) -> u64 {
        let state = self.state.borrow();
        state
            .partitions
            .values()
            .map(|p| {
                p.batches.values().map(|b| b.capacity() as u64).sum::<u64>()
                    + p.loaded.bytes.values().map(|b| b.len() as u64).sum::<u64>()
            })
            .sum()
    }

    /// The durable image this store would have if every flush so far committed (tests).
    pub fn memory_image(&self) -> KeyedImage {
        let state = self.state.borrow();
        let mut image = KeyedImage {
            manifest: state.manifest.clone(),
            ..KeyedImage::default()
        };
        for (partition_key, partition) in &state.partitions {
            for (base, summary) in &partition.segments {
                image.segments.insert(key(partition_key, *base), *summary);
            }
            for (base, bytes) in &partition.batches {
                image
                    .batches
                    .insert(key(partition_key, *base), bytes.clone());
            }
        }
        image
    }
}

impl KeyedState {
    /// Queues a load once: several consumers waiting at the same offset need one read, and a
    /// load in flight is not asked for again.
    fn queue_load(&mut self, partition: &PartitionKey, segment: &SegmentSummary, offset: i64) {
        let same = |load: &Load| load.partition == *partition && load.offset == offset;
        if self.loads.iter().chain(&self.loading).any(same) {
            return;
        }
        let load = Load {
            partition: partition.clone(),
            segment_base: segment.base_offset,
            segment_next: segment.next_offset,
            offset,
            bytes_max: LOAD_BYTES_MAX,
            batches_max: (LOAD_BYTES_MAX / (segment.size / segment.batches.max(1)).max(1))
                .clamp(1, LOAD_BATCHES_MAX as u64) as u32,
            taken_at: 0,
        };
        self.loads.push(load);
    }

    /// Reading ahead: once a partition's loaded batches beyond `read` hold less than half a
    /// load, the next load is queued, so that a consumer going on through the partition finds
    /// it loaded (the bindings start it when the reader lets them: a run loop's prefetch, a
    /// poll that returns) instead of waiting for it.
    fn read_ahead(&mut self, partition: &PartitionKey, segment: &SegmentSummary, read: i64) {
        let Some(target) = self.partitions.get(partition) else {
            return;
        };
        let ahead = target.loaded.bytes.range(read + 1..segment.next_offset);
        let mut last = read;
        let mut bytes = 0u64;
        for (&base, batch) in ahead {
            last = base;
            bytes += batch.len() as u64;
        }
        if bytes >= LOAD_BYTES_MAX / 2 {
            return;
        }
        // Where the last load stopped, if it stopped within the segment. (A load there that
        // finds an empty stretch brings this batch as its floor, and with it what follows:
        // it is not asked for again.)
        let Some(&(next, NextKey::Unknown)) = target.loaded.links.get(&last) else {
            return;
        };
        if next <= last || next >= segment.next_offset {
            return;
        }
        self.queue_load(partition, segment, next);
    }

    fn partition(&mut self, partition: &PartitionKey) -> Result<&mut KeyedPartition> {
        self.partitions
            .get_mut(partition)
            .ok_or_else(|| Error::io("read", &partition.directory(), "not opened"))
    }

    /// Journals the deletion of `partition`'s batches with base offsets in `from..to`.
    fn journal_delete(&mut self, partition: &PartitionKey, from: i64, to: i64) {
        self.journal.push(Change::DeleteBatches {
            partition: partition.clone(),
            from,
            to,
        });
        if let Some(target) = self.partitions.get_mut(partition) {
            target.deleting.push((from, to));
        }
    }

    /// The batch holding `offset` or the first after it, within `segment`, if known here;
    /// else the offset to load from.
    fn locate(
        &self,
        partition: &PartitionKey,
        segment: &SegmentSummary,
        offset: i64,
    ) -> Result<Located> {
        let state = self
            .partitions
            .get(partition)
            .ok_or_else(|| Error::io("read", &partition.directory(), "not opened"))?;
        let end = segment.next_offset;
        // This store's own batch (unflushed; in memory, every one) holding `at`, or the first
        // in `at..until`.
        let own = |at: i64, until: i64| {
            let holding = state
                .batches
                .range(segment.base_offset..=at)
                .next_back()
                .map(|(&base, bytes)| slot_for(bytes, base))
                .filter(|slot| slot.next_offset > at);
            holding.or_else(|| {
                state
                    .batches
                    .range(at..until.max(at))
                    .next()
                    .map(|(&base, bytes)| slot_for(bytes, base))
            })
        };
        if self.mode == Mode::Memory {
            return Ok(Located::Found(own(offset, end)));
        }
        let deleting = &state.deleting;
        let links = &state.loaded.links;
        let slot = |base: i64, next_offset: i64| BatchSlot {
            location: base as u64,
            base_offset: base,
            next_offset,
            size: 0,
        };
        let mut cursor = offset;
        loop {
            if cursor >= end {
                return Ok(Located::Found(None));
            }
            // Where a deletion is not durable yet, this store's own batches are all there is.
            if let Some(&(_, to)) = deleting
                .iter()
                .find(|&&(from, to)| from <= cursor && cursor < to)
            {
                let until = to.min(end);
                if let Some(found) = own(cursor, until) {
                    return Ok(Located::Found(Some(found)));
                }
                cursor = until;
                continue;
            }
            // Unflushed batches are the newest: one holding the cursor answers.
            let own_next = own(cursor, end);
            if let Some(found) = own_next.filter(|found| found.base_offset <= cursor) {
                return Ok(Located::Found(Some(found)));
            }
            // Where the durable copy turns stale, further on.
            let stale_from = deleting
                .iter()
                .map(|&(from, _)| from)
                .filter(|&from| from > cursor && from < end)
                .min();
            // A durable batch, loaded or known from a load.
            let Some((&base, &(next, follows))) =
                links.range(segment.base_offset..=cursor).next_back()
            else {
                return Ok(Located::Load(cursor));
            };
            if next > cursor {
                return Ok(Located::Found(Some(slot(base, next))));
            }
            match follows {
                NextKey::Key(key) if key > cursor && key < end => {
                    if let Some(from) = stale_from.filter(|&from| from <= key) {
                        cursor = from;
                        continue;
                    }
                    match links.get(&key) {
                        // An empty stretch (compaction emptied it): on to what follows it.
                        Some(&(next_of, _)) if next_of <= key => cursor = key,
                        Some(&(next_of, _)) => return Ok(Located::Found(Some(slot(key, next_of)))),
                        // Its end is not known here: loaded first.
                        None => return Ok(Located::Load(key)),
                    }
                }
                // What followed is not known here any more.
                NextKey::Key(key) if key <= cursor => return Ok(Located::Load(cursor)),
                // Nothing durable follows in the segment: the unflushed batches, if any.
                NextKey::Key(_) | NextKey::SegmentEnd => return Ok(Located::Found(own_next)),
                NextKey::Unknown => return Ok(Located::Load(cursor)),
            }
        }
    }
}

/// Where a read finds a batch: here (a batch, or none in the segment), or after a load.
enum Located {
    Found(Option<BatchSlot>),
    Load(i64),
}

impl Store for KeyedStore {
    fn lock(&mut self) -> Result<()> {
        let mut state = self.state.borrow_mut();
        if state.locked {
            return Err(Error::new(
                ErrorKind::LogLocked,
                "this store is already open; close the other log first",
            ));
        }
        state.locked = true;
        Ok(())
    }

    fn unlock(&mut self) {
        self.state.borrow_mut().locked = false;
    }

    fn load_manifest(&mut self) -> Result<Option<Vec<u8>>> {
        Ok(self.state.borrow().manifest.clone())
    }

    fn store_manifest(&mut self, bytes: &[u8]) -> Result<()> {
        let mut state = self.state.borrow_mut();
        state.manifest = Some(bytes.to_vec());
        if state.mode == Mode::Persisted {
            state.journal.push(Change::PutManifest {
                bytes: bytes.to_vec(),
            });
        }
        Ok(())
    }

    fn open_partition(&mut self, partition: &PartitionKey) -> Result<OpenedPartition> {
        let mut state = self.state.borrow_mut();
        let mut recovery = state.recovery.remove(partition).unwrap_or_default();
        let Some(found) = state
            .partitions
            .get(partition)
            .filter(|p| !p.segments.is_empty())
        else {
            drop(state);
            self.create_partition(partition)?;
            return Ok(OpenedPartition {
                segments: vec![SegmentSummary::empty(0)],
                log_start: 0,
                recovery,
            });
        };
        // Summaries are written in the same transaction as the batches they describe, so they
        // are trusted; only their order is checked.
        let mut segments: Vec<SegmentSummary> = Vec::new();
        for summary in found.segments.values() {
            if let Some(previous) = segments.last() {
                if summary.base_offset < previous.next_offset {
                    recovery.ignored.push(format!(
                        "{}: a segment at {} overlaps the one before it (ending at {}); left alone",
                        partition.directory(),
                        summary.base_offset,
                        previous.next_offset
                    ));
                    continue;
                }
                if summary.base_offset > previous.next_offset {
                    recovery.damaged.push(DamagedRange {
                        from: previous.next_offset,
                        to: summary.base_offset,
                        reason: format!(
                            "{}: no segment holds these offsets",
                            partition.directory()
                        ),
                    });
                }
            }
            segments.push(*summary);
        }
        let log_start = segments.first().map_or(0, |s| s.base_offset);
        Ok(OpenedPartition {
            segments,
            log_start,
            recovery,
        })
    }

    fn create_partition(&mut self, partition: &PartitionKey) -> Result<()> {
        self.remove_partition(partition)?;
        let mut state = self.state.borrow_mut();
        let summary = SegmentSummary::empty(0);
        // Into what the removal left (its deletion, not durable yet).
        state
            .partitions
            .entry(partition.clone())
            .or_default()
            .segments
            .insert(0, summary);
        if state.mode == Mode::Persisted {
            state.journal.push(Change::PutSegment {
                key: key(partition, 0),
                summary,
            });
        }
        Ok(())
    }

    fn remove_partition(&mut self, partition: &PartitionKey) -> Result<()> {
        let mut state = self.state.borrow_mut();
        let Some(mut removed) = state.partitions.remove(partition) else {
            if state.mode == Mode::Persisted {
                state.journal_delete(partition, 0, i64::MAX);
            }
            return Ok(());
        };
        if state.mode == Mode::Persisted {
            for base in removed.segments.keys() {
                state.journal.push(Change::DeleteSegment {
                    key: key(partition, *base),
                });
            }
            // Kept, emptied, for its deletions: loads answered from before they are durable
            // would bring the removed partition's batches into one made again.
            removed.segments.clear();
            removed.batches.clear();
            removed.loaded = Loaded::default();
            state.partitions.insert(partition.clone(), removed);
            state.journal_delete(partition, 0, i64::MAX);
        }
        Ok(())
    }

    fn append(
        &mut self,
        partition: &PartitionKey,
        segment: &SegmentSummary,
        batch: Rc<Vec<u8>>,
        header: &BatchHeader,
    ) -> Result<BatchSlot> {
        let mut state = self.state.borrow_mut();
        let mode = state.mode;
        let size = batch.len() as u32;
        let (base_offset, next_offset) = (header.base_offset, header.next_offset());
        let bytes = batch;
        let target = state.partition(partition)?;
        target.batches.insert(base_offset, bytes.clone());
        if mode == Mode::Persisted {
            // What loads saw as the end of the segment is followed by this batch now.
            let links = &mut target.loaded.links;
            for (_, follows) in links
                .range_mut(segment.base_offset..base_offset)
                .map(|(_, l)| l)
            {
                if *follows == NextKey::SegmentEnd {
                    *follows = NextKey::Key(base_offset);
                }
            }
            links.insert(base_offset, (next_offset, NextKey::SegmentEnd));
        }
        let summary = target
            .segments
            .get_or_insert_with(segment.base_offset, || *segment);
        summary.add(
            next_offset,
            size as u64,
            header.max_timestamp,
            header.record_count,
        );
        let summary = *summary;
        if mode == Mode::Persisted {
            state.journal.push(Change::PutBatch {
                key: key(partition, base_offset),
                bytes,
            });
            // The summary travels with its batches, in the same transaction.
            state.journal.push(Change::PutSegment {
                key: key(partition, segment.base_offset),
                summary,
            });
        }
        Ok(BatchSlot {
            location: base_offset as u64,
            base_offset,
            next_offset,
            size,
        })
    }

    fn undo_appends(
        &mut self,
        partition: &PartitionKey,
        segment: &SegmentSummary,
        slot: &BatchSlot,
    ) -> Result<()> {
        let mut state = self.state.borrow_mut();
        let target = state.partition(partition)?;
        target.batches.retain(|&base, _| base < slot.base_offset);
        target.segments.insert(segment.base_offset, *segment);
        // The journal's changes for them go too: a failed flush reloads what is durable.
        state.journal.retain(|change| match change {
            Change::PutBatch { key, .. } => {
                key.partition != *partition || key.base_offset < slot.base_offset
            }
            _ => true,
        });
        Ok(())
    }

    fn roll(&mut self, partition: &PartitionKey, sealed: &SegmentSummary, base: i64) -> Result<()> {
        let mut state = self.state.borrow_mut();
        let mode = state.mode;
        let target = state.partition(partition)?;
        target.segments.insert(sealed.base_offset, *sealed);
        let summary = SegmentSummary::empty(base);
        target.segments.insert(base, summary);
        if mode == Mode::Persisted {
            state.journal.push(Change::PutSegment {
                key: key(partition, sealed.base_offset),
                summary: *sealed,
            });
            state.journal.push(Change::PutSegment {
                key: key(partition, base),
                summary,
            });
        }
        Ok(())
    }

    fn batch_at(
        &mut self,
        partition: &PartitionKey,
        segment: &SegmentSummary,
        offset: i64,
    ) -> Result<Step<Option<BatchSlot>>> {
        let mut state = self.state.borrow_mut();
        if offset >= segment.next_offset {
            return Ok(Step::Ready(None));
        }
        match state.locate(partition, segment, offset)? {
            Located::Found(found) => Ok(Step::Ready(found)),
            Located::Load(at) => {
                state.queue_load(partition, segment, at);
                Ok(Step::Pending)
            }
        }
    }

    fn batch_after(
        &mut self,
        partition: &PartitionKey,
        segment: &SegmentSummary,
        slot: &BatchSlot,
    ) -> Result<Step<Option<BatchSlot>>> {
        // The next batch holds the offset after this one, or is the first after it (compaction
        // leaves gaps between batches).
        let after = slot.next_offset.max(slot.base_offset + 1);
        self.batch_at(partition, segment, after)
    }

    fn read(
        &mut self,
        partition: &PartitionKey,
        segment: &SegmentSummary,
        slot: &BatchSlot,
    ) -> Result<Step<BatchBytes>> {
        let mut state = self.state.borrow_mut();
        let mode = state.mode;
        let target = state.partition(partition)?;
        if let Some(bytes) = target.batches.get(&slot.base_offset) {
            return Ok(Step::Ready(BatchBytes {
                bytes: bytes.clone(),
                verified: mode == Mode::Memory,
            }));
        }
        if let Some(bytes) = target.loaded.bytes.remove(&slot.base_offset) {
            state.read_ahead(partition, segment, slot.base_offset);
            return Ok(Step::Ready(BatchBytes {
                bytes,
                verified: false,
            }));
        }
        if mode == Mode::Memory {
            return Err(Error::corrupt(format!(
                "{}: no batch at offset {} (the store lost it)",
                partition.directory(),
                slot.base_offset
            )));
        }
        state.queue_load(partition, segment, slot.base_offset);
        Ok(Step::Pending)
    }

    fn resync(
        &mut self,
        partition: &PartitionKey,
        segment: &SegmentSummary,
        slot: &BatchSlot,
    ) -> Result<Step<Option<BatchSlot>>> {
        // Values are whole or missing: the next key is the next batch.
        let after = slot.base_offset + 1;
        self.batch_at(partition, segment, after)
    }

    fn remove_segment(
        &mut self,
        partition: &PartitionKey,
        segment: &SegmentSummary,
        _log_start: i64,
    ) -> Result<()> {
        let mut state = self.state.borrow_mut();
        let mode = state.mode;
        let target = state.partition(partition)?;
        target.segments.remove(&segment.base_offset);
        target
            .batches
            .retain(|&base, _| base < segment.base_offset || base >= segment.next_offset);
        target
            .loaded
            .bytes
            .retain(|&base, _| base >= segment.next_offset);
        target
            .loaded
            .links
            .retain(|&base, _| base >= segment.next_offset);
        if mode == Mode::Persisted {
            state.journal_delete(
                partition,
                segment.base_offset,
                segment.next_offset.max(segment.base_offset + 1),
            );
            state.journal.push(Change::DeleteSegment {
                key: key(partition, segment.base_offset),
            });
        }
        Ok(())
    }

    fn extend_segment(&mut self, partition: &PartitionKey, summary: &SegmentSummary) -> Result<()> {
        let mut state = self.state.borrow_mut();
        let mode = state.mode;
        state
            .partition(partition)?
            .segments
            .insert(summary.base_offset, *summary);
        if mode == Mode::Persisted {
            state.journal.push(Change::PutSegment {
                key: key(partition, summary.base_offset),
                summary: *summary,
            });
        }
        Ok(())
    }

    fn replace_segment(
        &mut self,
        partition: &PartitionKey,
        segment: &SegmentSummary,
        batches: &[Vec<u8>],
    ) -> Result<SegmentSummary> {
        let mut state = self.state.borrow_mut();
        let mode = state.mode;
        let mut summary = SegmentSummary::empty(segment.base_offset);
        let mut parsed = Vec::with_capacity(batches.len());
        for batch in batches {
            let verified =
                RecordBatch::parse(batch).map_err(|e| e.into_error("a compacted batch"))?;
            let header = *verified.header();
            summary.add(
                header.next_offset(),
                batch.len() as u64,
                header.max_timestamp,
                header.record_count,
            );
            parsed.push((header.base_offset, Rc::new(batch.clone())));
        }
        // Offsets never move: the rewritten segment still ends where the original did.
        summary.next_offset = segment.next_offset;
        let range = segment.base_offset..segment.next_offset.max(segment.base_offset + 1);
        let target = state.partition(partition)?;
        target.batches.retain(|base, _| !range.contains(base));
        target.loaded.bytes.retain(|base, _| !range.contains(base));
        target.loaded.links.retain(|base, _| !range.contains(base));
        // Held here until the flush that writes them commits: until then the durable copy
        // holds the old layout, and reads of the segment are answered from these alone.
        for (index, (base, bytes)) in parsed.iter().enumerate() {
            target.batches.insert(*base, bytes.clone());
            if mode == Mode::Persisted {
                // Their order, for reads once they are durable.
                let follows = parsed
                    .get(index + 1)
                    .map_or(NextKey::SegmentEnd, |(b, _)| NextKey::Key(*b));
                let header = header_of(bytes)?;
                target
                    .loaded
                    .links
                    .insert(*base, (header.next_offset(), follows));
            }
        }
        target.segments.insert(segment.base_offset, summary);
        if mode == Mode::Persisted {
            state.journal_delete(partition, range.start, range.end);
            for (base, bytes) in parsed {
                state.journal.push(Change::PutBatch {
                    key: key(partition, base),
                    bytes,
                });
            }
            state.journal.push(Change::PutSegment {
                key: key(partition, segment.base_offset),
                summary,
            });
        }
        Ok(summary)
    }

    fn coalesce_tail(
        &mut self,
        partition: &PartitionKey,
        segment: &SegmentSummary,
        first: i64,
    ) -> Result<Option<SegmentSummary>> {
        let mut state = self.state.borrow_mut();
        if state.mode != Mode::Memory {
            // Persisted batches stay as written: a merge would rewrite durable values.
            return Ok(None);
        }
        let target = state.partition(partition)?;
        let Some(summary) = target.segments.get(&segment.base_offset).copied() else {
            return Ok(None);
        };
        if first < summary.base_offset {
            return Ok(None);
        }
        // The active segment is the partition's last: its batches from `first` on end the map.
        let merged = merge_batches(target.batches.range(first..).map(|(_, b)| b.as_slice()));
        let Some(merged) = merged.filter(|m| stored_next_offset(m) == Some(summary.next_offset))
        else {
            return Ok(None);
        };
        let (mut count, mut bytes) = (0u64, 0u64);
        while let Some((_, batch)) = target
            .batches
            .last_key_value()
            .filter(|(&base, _)| base >= first)
        {
            (count, bytes) = (count + 1, bytes + batch.len() as u64);
            target.batches.pop_last();
        }
        let summary = SegmentSummary {
            size: summary.size.saturating_sub(bytes) + merged.len() as u64,
            batches: summary.batches.saturating_sub(count) + 1,
            ..summary
        };
        target.batches.insert(first, Rc::new(merged));
        target.segments.insert(segment.base_offset, summary);
        Ok(Some(summary))
    }

    fn flush(&mut self, _strict: bool) -> Result<Step<()>> {
        let state = self.state.borrow();
        match state.mode {
            Mode::Memory => Ok(Step::Ready(())),
            Mode::Persisted if state.journal.is_empty() && state.in_flight.is_none() => {
                Ok(Step::Ready(()))
            }
            Mode::Persisted => Ok(Step::Pending),
        }
    }

    fn reads_are_free(&self) -> bool {
        self.state.borrow().mode == Mode::Memory
    }

    fn close(&mut self, _active: &[(PartitionKey, SegmentSummary, i64)]) -> Result<()> {
        Ok(())
    }
}

impl std::fmt::Debug for KeyedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyedStore")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_round_trip() {
        let summary = SegmentSummary {
            base_offset: 7,
            next_offset: 20,
            size: 999,
            max_timestamp: Some(123),
            batches: 4,
        };
        assert_eq!(decode_summary(7, &encode_summary(&summary)), Some(summary));
        let empty = SegmentSummary::empty(3);
        assert_eq!(decode_summary(3, &encode_summary(&empty)), Some(empty));
        assert_eq!(decode_summary(3, &[1, 2, 3]), None);
    }

    fn stored_batch(base: i64) -> Vec<u8> {
        let record = crate::record_batch::RecordInput {
            value: Some(b"v"),
            ..Default::default()
        };
        let mut out = Vec::new();
        crate::record_batch::encode_batch(&mut out, base, 1, [record].iter()).unwrap();
        out
    }

    #[test]
    fn a_0_1_segment_read_whole_ends_where_the_next_begins_and_damage_is_kept_apart() {
        let partition = PartitionKey::new("t", 0);
        // Offsets 0, 1 and 3 stored (0.1's compaction dropped 2 and 4..9); the next segment
        // starts at 10.
        let checked: Vec<_> = [0, 1, 3]
            .iter()
            .map(|&b| check_stored_batch(b, &stored_batch(b)))
            .collect();
        let mut recovery = PartitionRecovery::default();
        let summary = summarize_segment(&partition, 0, &checked, Some(10), &mut recovery);
        assert_eq!((summary.next_offset, summary.batches), (10, 3));
        assert!(recovery.damaged.is_empty());
        // A value that does not verify: reported, and the segment is not stretched over it.
        let mut bad = stored_batch(3);
        let last = bad.len() - 1;
        bad[last] ^= 1;
        let checked = vec![
            check_stored_batch(0, &stored_batch(0)),
            check_stored_batch(3, &bad),
        ];
        let summary = summarize_segment(&partition, 0, &checked, Some(10), &mut recovery);
        assert_eq!(summary.next_offset, 4);
        assert_eq!((recovery.damaged[0].from, recovery.damaged[0].to), (3, 4));
    }

    #[test]
    fn a_load_past_a_compacted_gap_brings_the_batch_after_it_whatever_the_budget() {
        let partition = PartitionKey::new("t", 0);
        let mut image = KeyedImage::default();
        // Batches at 0 (0..1) and 10 (10..11): compaction emptied 1..10.
        for base in [0, 10] {
            image
                .batches
                .insert(key(&partition, base), Rc::new(stored_batch(base)));
        }
        let mut load = Load {
            partition: partition.clone(),
            segment_base: 0,
            segment_next: 20,
            offset: 5,
            bytes_max: 1,
            batches_max: 1,
            taken_at: 0,
        };
        // The floor ends before the offset: it comes uncounted, and the batch after it too.
        let (run, reached_end) = image.load(&load);
        let bases: Vec<i64> = run.iter().map(|(base, _)| *base).collect();
        assert_eq!((bases, reached_end), (vec![0, 10], true));
        // A floor holding the offset is the batch the budget always allows.
        load.offset = 0;
        let (run, reached_end) = image.load(&load);
        let bases: Vec<i64> = run.iter().map(|(base, _)| *base).collect();
        assert_eq!((bases, reached_end), (vec![0], false));
        let mut budget = LoadBudget::new(&load);
        assert_eq!(budget.keys_max(Some(0)), 1);
        assert!(budget.admit(0, 100, Some(1)));
        assert!(!budget.admit(10, 1, Some(11)));
        load.offset = 5;
        assert_eq!(LoadBudget::new(&load).keys_max(Some(0)), 2);
    }
}
