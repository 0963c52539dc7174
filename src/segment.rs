// A segment: one file of RecordBatch v2 batches laid end to end, named by the offset of its
// first record ("<20-digit base offset>.log", as Kafka names them). It keeps a sparse
// in-memory index (batch base offset -> file position, one entry per INDEX_INTERVAL_BYTES),
// which `recover` rebuilds from the file itself, so there is no index file to get out of step.
//
// Invariant: `size` bytes of the file hold only complete, well-formed batches whose offsets
// increase and lie in [base_offset, next_offset). Recovery restores it after a crash by
// cutting the file at the first batch that breaks it.

use crate::error::{Error, Result};
use crate::record_batch::{BatchHeader, DecodeError, RecordBatch, BATCH_HEADER_SIZE};
use crate::storage::Storage;

/// One index entry per this many bytes of batches: about one header read per seek.
pub const INDEX_INTERVAL_BYTES: u64 = 4096;
const SEGMENT_SUFFIX: &str = ".log";
/// Suffix of a segment being rewritten by compaction; a leftover one is removed on open.
pub const CLEANED_SUFFIX: &str = ".cleaned";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndexEntry {
    pub offset: i64,
    pub position: u64,
}

#[derive(Clone, Debug)]
pub struct Segment {
    pub base_offset: i64,
    pub path: String,
    /// Bytes of valid batches in the file.
    pub size: u64,
    /// The offset after the last batch; `base_offset` when empty.
    pub next_offset: i64,
    /// The newest record timestamp, for time-based retention; None when empty.
    pub max_timestamp: Option<i64>,
    index: Vec<IndexEntry>,
    bytes_since_index: u64,
}

/// What recovery did to a segment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    pub batches: u64,
    pub truncated_bytes: u64,
    pub reason: Option<String>,
}

pub fn segment_file_name(base_offset: i64) -> String {
    format!("{base_offset:020}{SEGMENT_SUFFIX}")
}

/// The base offset of a segment file name, or None for any other file.
pub fn parse_segment_file_name(name: &str) -> Option<i64> {
    let digits = name.strip_suffix(SEGMENT_SUFFIX)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

impl Segment {
    /// A new, empty segment file.
    pub fn create(storage: &mut dyn Storage, directory: &str, base_offset: i64) -> Result<Segment> {
        let path = format!("{directory}/{}", segment_file_name(base_offset));
        let length = storage.open(&path)?;
        if length != 0 {
            // A leftover file of the same name would mix old bytes into the new segment.
            storage.truncate(&path, 0)?;
        }
        Ok(Segment::empty(path, base_offset))
    }

    fn empty(path: String, base_offset: i64) -> Segment {
        Segment {
            base_offset,
            path,
            size: 0,
            next_offset: base_offset,
            max_timestamp: None,
            index: Vec::new(),
            bytes_since_index: 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.size == 0
    }

    /// Opens a segment file and rebuilds its state from the bytes. `verify_records` marks the
    /// active segment, where a crash can tear a write: each batch is read whole, its CRC and
    /// records checked, base offsets must be contiguous, and the file is cut at the first bad
    /// batch. A sealed segment was synced before the next one began, so damage there is not a
    /// torn write: its headers are walked, and at the first bad one the segment simply ends
    /// (the bytes stay on disk for inspection; reads past that point are not offered).
    /// `offset_limit`, the next segment's base offset, bounds a sealed segment's offsets.
    pub fn recover(
        storage: &mut dyn Storage,
        path: String,
        base_offset: i64,
        verify_records: bool,
        offset_limit: Option<i64>,
    ) -> Result<(Segment, RecoveryReport)> {
        let length = storage.open(&path)?;
        let mut segment = Segment::empty(path, base_offset);
        let mut report = RecoveryReport::default();
        let mut header_bytes = [0u8; BATCH_HEADER_SIZE];
        let mut batch_bytes = Vec::new();
        // Each step consumes at least one header's bytes, which bounds the loop by the length.
        while segment.size < length {
            let position = segment.size;
            let problem = match read_header(storage, &segment.path, position, &mut header_bytes)? {
                Err(problem) => Some(problem),
                Ok(header) => {
                    let end = position + header.size() as u64;
                    let out_of_order = if verify_records {
                        header.base_offset != segment.next_offset
                    } else {
                        header.base_offset < segment.next_offset
                    };
                    if end > length {
                        Some(format!("batch at {position} is cut short"))
                    } else if out_of_order {
                        Some(format!(
                            "batch at {position} starts at offset {}, expected {}",
                            header.base_offset, segment.next_offset
                        ))
                    } else if offset_limit.is_some_and(|limit| header.next_offset() > limit) {
                        Some(format!("batch at {position} overlaps the next segment"))
                    } else if verify_records {
                        batch_bytes.resize(header.size(), 0);
                        let read = storage.read_at(&segment.path, position, &mut batch_bytes)?;
                        match RecordBatch::parse(&batch_bytes[..read]) {
                            Ok(_) => {
                                segment.push_batch(&header, position);
                                None
                            }
                            Err(error) => Some(describe(position, error)),
                        }
                    } else {
                        segment.push_batch(&header, position);
                        None
                    }
                }
            };
            if let Some(reason) = problem {
                if verify_records {
                    storage.truncate(&segment.path, position)?;
                }
                report.truncated_bytes = length - position;
                report.reason = Some(reason);
                break;
            }
            report.batches += 1;
        }
        Ok((segment, report))
    }

    /// Records a batch just written (or found by recovery) at `position`.
    pub fn push_batch(&mut self, header: &BatchHeader, position: u64) {
        debug_assert_eq!(position, self.size);
        debug_assert!(header.base_offset >= self.next_offset);
        if self.index.is_empty() || self.bytes_since_index >= INDEX_INTERVAL_BYTES {
            self.index.push(IndexEntry {
                offset: header.base_offset,
                position,
            });
            self.bytes_since_index = 0;
        }
        let size = header.size() as u64;
        self.size += size;
        self.bytes_since_index += size;
        self.next_offset = header.next_offset();
        if header.record_count > 0 {
            self.max_timestamp = Some(
                self.max_timestamp
                    .map_or(header.max_timestamp, |t| t.max(header.max_timestamp)),
            );
        }
    }

    /// The file position of the last indexed batch starting at or before `offset`.
    pub fn position_for(&self, offset: i64) -> u64 {
        let after = self.index.partition_point(|entry| entry.offset <= offset);
        match after {
            0 => 0,
            n => self.index[n - 1].position,
        }
    }
}

fn describe(position: u64, error: DecodeError) -> String {
    match error {
        DecodeError::Incomplete { .. } => format!("batch at {position} is cut short"),
        DecodeError::Corrupt(reason) => format!("batch at {position}: {reason}"),
    }
}

/// Reads and checks a batch header. The outer error is an I/O failure; the inner one says
/// why the bytes at `position` are not the start of a batch.
pub fn read_header(
    storage: &mut dyn Storage,
    path: &str,
    position: u64,
    buffer: &mut [u8; BATCH_HEADER_SIZE],
) -> Result<Result<BatchHeader, String>> {
    let read = storage.read_at(path, position, buffer)?;
    Ok(BatchHeader::parse(&buffer[..read]).map_err(|error| describe(position, error)))
}

/// Reads the whole batch at `position` into `buffer` and verifies it.
pub fn read_batch<'b>(
    storage: &mut dyn Storage,
    path: &str,
    position: u64,
    buffer: &'b mut Vec<u8>,
) -> Result<RecordBatch<'b>> {
    let mut header_bytes = [0u8; BATCH_HEADER_SIZE];
    let header = read_header(storage, path, position, &mut header_bytes)?
        .map_err(|reason| Error::corrupt(format!("{path}: {reason}")))?;
    buffer.clear();
    buffer.resize(header.size(), 0);
    let read = storage.read_at(path, position, buffer)?;
    RecordBatch::parse(&buffer[..read]).map_err(|error| error.into_error(path))
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
}
