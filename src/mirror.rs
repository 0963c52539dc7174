// Storage for stores that keep record batches, not files: IndexedDB holds one value per
// batch keyed [topic, partition, baseOffset] (never one per message), plus a few metadata
// values. The core still sees files: this keeps a working copy of them in memory and, as the
// core writes, a journal of batch-level changes that the backend applies in one transaction
// per flush. Loading rebuilds the files from the stored batches, checking every batch.
//
// Invariant: applying the journal, in order, to the store the working copy was loaded from
// yields exactly the batches of the working copy's segment files (plus manifest and log start
// offsets). A transaction applies a whole journal or nothing, so a crash never shows a
// half-applied flush.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use crate::error::Result;
use crate::manifest::{self, MANIFEST_PATH};
use crate::record_batch::{Batches, RecordBatch};
use crate::segment::{parse_segment_file_name, segment_file_name};
use crate::storage::{MemoryStorage, Storage};

/// Where a batch lives in the store.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct BatchKey {
    pub topic: String,
    pub partition: u32,
    pub base_offset: i64,
}

/// One change to apply to the store, in journal order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    PutBatch {
        key: BatchKey,
        bytes: Vec<u8>,
    },
    DeleteBatch {
        key: BatchKey,
    },
    PutManifest {
        bytes: Vec<u8>,
    },
    /// A segment exists from this base offset. Segments are stored so that loading rebuilds
    /// the same segment files: an empty one keeps a partition's offsets after retention (they
    /// are never reused), and the active one, never compacted, stays free of gaps.
    PutSegment {
        key: BatchKey,
    },
    DeleteSegment {
        key: BatchKey,
    },
}

/// What loading found wrong in the stored batches (they are dropped, and the drop journaled).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoadReport {
    pub batches: u64,
    pub dropped: u64,
    pub reason: Option<String>,
}

#[derive(Default)]
struct MirrorState {
    memory: MemoryStorage,
    /// Batches in each file of the working copy: (base offset, position), in file order.
    batches: BTreeMap<String, Vec<(i64, u64)>>,
    journal: Vec<Change>,
}

/// A handle to the mirror; clones share it (the log owns one, the backend drains another).
#[derive(Clone, Default)]
pub struct MirrorStorage {
    state: Rc<RefCell<MirrorState>>,
}

/// "<topic>-<partition>/<segment>.log" -> (directory, topic, partition), for segment files only.
fn segment_path(path: &str) -> Option<(&str, &str, u32)> {
    let (directory, file) = path.split_once('/')?;
    parse_segment_file_name(file)?;
    let (topic, partition) = directory.rsplit_once('-')?;
    Some((directory, topic, partition.parse().ok()?))
}

fn key_of(path: &str, base_offset: i64) -> Option<BatchKey> {
    segment_path(path).map(|(_, topic, partition)| BatchKey {
        topic: topic.to_owned(),
        partition,
        base_offset,
    })
}

impl MirrorState {
    fn delete_batches_of(&mut self, path: &str) {
        for (base, _) in self.batches.get(path).cloned().unwrap_or_default() {
            if let Some(key) = key_of(path, base) {
                self.journal.push(Change::DeleteBatch { key });
            }
        }
    }

    fn put_batches_of(&mut self, path: &str) -> Result<()> {
        let bytes = self.memory.file(path).unwrap_or_default();
        let mut walk = Batches::new(&bytes);
        while let Some((_, batch)) = walk.next_batch().map_err(|e| e.into_error(path))? {
            if let Some(key) = key_of(path, batch.base_offset()) {
                self.journal.push(Change::PutBatch {
                    key,
                    bytes: batch.bytes().to_vec(),
                });
            }
        }
        Ok(())
    }
}

impl MirrorStorage {
    /// Rebuilds the working copy from what the store holds: the manifest, the segments, and
    /// the batches. Each batch goes to the segment with the greatest base offset at or below
    /// its own. Every batch is verified (CRC, records, its key against its header, offsets
    /// increasing); the first bad batch of a partition and everything after it are dropped,
    /// and the drop is journaled for the next flush.
    pub fn load(
        manifest: Option<Vec<u8>>,
        mut segments: Vec<BatchKey>,
        mut batches: Vec<(BatchKey, Vec<u8>)>,
    ) -> Result<(MirrorStorage, LoadReport)> {
        if let Some(bytes) = &manifest {
            manifest::decode(bytes)?;
        }
        let mirror = MirrorStorage::default();
        let mut report = LoadReport::default();
        {
            let mut state = mirror.state.borrow_mut();
            if let Some(bytes) = manifest {
                state.memory.set_file(MANIFEST_PATH, bytes);
            }
            segments.sort();
            batches.sort_by(|a, b| a.0.cmp(&b.0));
            for segment in &segments {
                let path = segment_path_of(segment);
                state.memory.open(&path)?;
                state.batches.insert(path, Vec::new());
            }
            let mut index = 0;
            while index < batches.len() {
                let (topic, partition) =
                    (batches[index].0.topic.clone(), batches[index].0.partition);
                let end = batches[index..]
                    .iter()
                    .position(|(k, _)| k.topic != topic || k.partition != partition)
                    .map_or(batches.len(), |n| index + n);
                let bases: Vec<i64> = segments
                    .iter()
                    .filter(|s| s.topic == topic && s.partition == partition)
                    .map(|s| s.base_offset)
                    .collect();
                state.load_partition(&bases, &batches[index..end], &mut report)?;
                index = end;
            }
        }
        Ok((mirror, report))
    }

    /// The changes since the last call, in order, for one transaction.
    pub fn take_changes(&self) -> Vec<Change> {
        std::mem::take(&mut self.state.borrow_mut().journal)
    }

    pub fn has_changes(&self) -> bool {
        !self.state.borrow().journal.is_empty()
    }
}

fn segment_path_of(key: &BatchKey) -> String {
    format!(
        "{}-{}/{}",
        key.topic,
        key.partition,
        segment_file_name(key.base_offset)
    )
}

impl MirrorState {
    /// Places one partition's stored batches (sorted) into its segments (`bases`, sorted).
    fn load_partition(
        &mut self,
        bases: &[i64],
        batches: &[(BatchKey, Vec<u8>)],
        report: &mut LoadReport,
    ) -> Result<()> {
        let mut next = i64::MIN;
        for (position, (key, bytes)) in batches.iter().enumerate() {
            let segment = bases.partition_point(|&base| base <= key.base_offset);
            let problem = match RecordBatch::parse(bytes) {
                Err(error) => Some(error.into_error("stored batch").message().to_owned()),
                Ok(batch) if batch.bytes().len() != bytes.len() => {
                    Some("bytes after the batch".into())
                }
                Ok(batch) if batch.base_offset() != key.base_offset => Some(format!(
                    "batch stored under offset {} starts at {}",
                    key.base_offset,
                    batch.base_offset()
                )),
                Ok(batch) if batch.base_offset() < next => Some(format!(
                    "batch at offset {} overlaps the one before",
                    batch.base_offset()
                )),
                Ok(_) if segment == 0 => Some(format!(
                    "batch at offset {} has no segment",
                    key.base_offset
                )),
                Ok(batch) => {
                    next = batch.next_offset();
                    None
                }
            };
            if let Some(reason) = problem {
                report.reason = Some(format!("{}-{}: {reason}", key.topic, key.partition));
                for (key, _) in &batches[position..] {
                    self.journal.push(Change::DeleteBatch { key: key.clone() });
                    report.dropped += 1;
                }
                break;
            }
            let path = format!(
                "{}-{}/{}",
                key.topic,
                key.partition,
                segment_file_name(bases[segment - 1])
            );
            let offset_in_file = self.memory.len(&path).unwrap_or(0);
            self.memory.append(&path, bytes)?;
            self.batches
                .entry(path)
                .or_default()
                .push((key.base_offset, offset_in_file));
            report.batches += 1;
        }
        Ok(())
    }
}

fn is_temporary(path: &str) -> bool {
    path.ends_with(crate::segment::CLEANED_SUFFIX) || !path.contains('/')
}

impl Storage for MirrorStorage {
    fn open(&mut self, path: &str) -> Result<u64> {
        let mut state = self.state.borrow_mut();
        let length = state.memory.open(path)?;
        if !state.batches.contains_key(path) {
            state.batches.insert(path.to_owned(), Vec::new());
            if let Some(key) = parse_segment_file_name(path.rsplit('/').next().unwrap_or(""))
                .and_then(|base| key_of(path, base))
            {
                state.journal.push(Change::PutSegment { key });
            }
        }
        Ok(length)
    }

    fn append(&mut self, path: &str, data: &[u8]) -> Result<()> {
        let mut state = self.state.borrow_mut();
        let start = state.memory.len(path).unwrap_or(0);
        state.memory.append(path, data)?;
        let mut walk = Batches::new(data);
        let mut found = Vec::new();
        while let Ok(Some((position, batch))) = walk.next_batch() {
            found.push((
                batch.base_offset(),
                start + position as u64,
                batch.bytes().to_vec(),
            ));
        }
        for (base, position, bytes) in found {
            state
                .batches
                .entry(path.to_owned())
                .or_default()
                .push((base, position));
            // Temporary files (compaction output, manifest.tmp) reach the store on rename.
            if !is_temporary(path) {
                if let Some(key) = key_of(path, base) {
                    state.journal.push(Change::PutBatch { key, bytes });
                }
            }
        }
        Ok(())
    }

    fn read_at(&mut self, path: &str, position: u64, buf: &mut [u8]) -> Result<usize> {
        self.state.borrow_mut().memory.read_at(path, position, buf)
    }

    fn truncate(&mut self, path: &str, length: u64) -> Result<()> {
        let mut state = self.state.borrow_mut();
        state.memory.truncate(path, length)?;
        let cut: Vec<i64> = state
            .batches
            .get_mut(path)
            .map(|list| {
                let keep = list.partition_point(|&(_, position)| position < length);
                list.split_off(keep)
                    .into_iter()
                    .map(|(base, _)| base)
                    .collect()
            })
            .unwrap_or_default();
        if !is_temporary(path) {
            for base in cut {
                if let Some(key) = key_of(path, base) {
                    state.journal.push(Change::DeleteBatch { key });
                }
            }
        }
        Ok(())
    }

    fn sync(&mut self, path: &str) -> Result<()> {
        // Durability is the backend's transaction at flush; the working copy has nothing to do.
        self.state.borrow_mut().memory.sync(path)
    }

    fn list(&mut self, directory: &str) -> Result<Vec<String>> {
        self.state.borrow_mut().memory.list(directory)
    }

    fn rename(&mut self, from: &str, to: &str) -> Result<()> {
        let mut state = self.state.borrow_mut();
        state.memory.rename(from, to)?;
        if to == MANIFEST_PATH {
            let bytes = state.memory.file(to).unwrap_or_default();
            state.journal.push(Change::PutManifest { bytes });
        } else if segment_path(to).is_some() {
            // A compacted segment replaces the original: its batches replace the old ones.
            state.delete_batches_of(to);
            state.put_batches_of(to)?;
        }
        let moved = state.batches.remove(from).unwrap_or_default();
        state.batches.insert(to.to_owned(), moved);
        Ok(())
    }

    fn remove(&mut self, path: &str) -> Result<()> {
        let mut state = self.state.borrow_mut();
        state.memory.remove(path)?;
        if !is_temporary(path) {
            state.delete_batches_of(path);
        }
        state.batches.remove(path);
        if let Some(key) = parse_segment_file_name(path.rsplit('/').next().unwrap_or(""))
            .and_then(|base| key_of(path, base))
        {
            state.journal.push(Change::DeleteSegment { key });
        }
        Ok(())
    }

    fn lock(&mut self) -> Result<()> {
        // Exclusion across tabs is the backend's (Web Locks); this guards this instance.
        self.state.borrow_mut().memory.lock()
    }

    fn unlock(&mut self) {
        self.state.borrow_mut().memory.unlock()
    }
}
