// Kafka RecordBatch v2 (magic 2), the only record encoding brook has, in memory and at rest.
// Encoding writes exactly what Kafka's `DefaultRecordBatch` writes for an uncompressed,
// non-transactional batch. Decoding checks the CRC-32C and the whole record structure before
// it hands out a single record, so every later read of a `RecordBatch` is infallible.

use crate::crc32c::crc32c;
use crate::error::{Error, ErrorKind, Result};
use crate::varint::{put_varint, put_varlong, varint_size, varlong_size, ReadError, Reader};

// Header layout (big-endian); each offset follows from the previous field's size.
pub const BASE_OFFSET_OFFSET: usize = 0;
pub const BATCH_LENGTH_OFFSET: usize = BASE_OFFSET_OFFSET + 8;
pub const PARTITION_LEADER_EPOCH_OFFSET: usize = BATCH_LENGTH_OFFSET + 4;
pub const MAGIC_OFFSET: usize = PARTITION_LEADER_EPOCH_OFFSET + 4;
pub const CRC_OFFSET: usize = MAGIC_OFFSET + 1;
pub const ATTRIBUTES_OFFSET: usize = CRC_OFFSET + 4;
pub const LAST_OFFSET_DELTA_OFFSET: usize = ATTRIBUTES_OFFSET + 2;
pub const BASE_TIMESTAMP_OFFSET: usize = LAST_OFFSET_DELTA_OFFSET + 4;
pub const MAX_TIMESTAMP_OFFSET: usize = BASE_TIMESTAMP_OFFSET + 8;
pub const PRODUCER_ID_OFFSET: usize = MAX_TIMESTAMP_OFFSET + 8;
pub const PRODUCER_EPOCH_OFFSET: usize = PRODUCER_ID_OFFSET + 8;
pub const BASE_SEQUENCE_OFFSET: usize = PRODUCER_EPOCH_OFFSET + 2;
pub const RECORDS_COUNT_OFFSET: usize = BASE_SEQUENCE_OFFSET + 4;
pub const RECORDS_OFFSET: usize = RECORDS_COUNT_OFFSET + 4;
/// Bytes before the records: 61, as in Kafka.
pub const BATCH_HEADER_SIZE: usize = RECORDS_OFFSET;
/// baseOffset and batchLength, which `batchLength` does not count.
pub const LOG_OVERHEAD: usize = BATCH_LENGTH_OFFSET + 4;
pub const MAGIC: i8 = 2;
/// The largest batch brook writes or accepts. Far above any sensible send, far below
/// i32::MAX, so that lengths never overflow and a corrupt length cannot make us allocate 2 GiB.
pub const BATCH_BYTES_MAX: usize = 64 * 1024 * 1024;
/// The most records in one batch: bounds the decode loop and the offset deltas.
pub const BATCH_RECORDS_MAX: usize = 1_000_000;

const _: () = assert!(BATCH_HEADER_SIZE == 61);
const _: () = assert!(LOG_OVERHEAD == 12);
const _: () = assert!(BATCH_BYTES_MAX < i32::MAX as usize);

/// Attribute bits brook does not write and cannot read: compression (0–2), transactional (4),
/// control (5). Bit 3 (log-append time) and bit 6 (delete horizon) are harmless.
const ATTRIBUTES_UNSUPPORTED: i16 = 0b0000_0000_0011_0111;

/// A header of a record: a UTF-8 key and nullable bytes, as in Kafka.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header<'a> {
    pub key: &'a str,
    pub value: Option<&'a [u8]>,
}

/// A record to append. Timestamp `None` means "now".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecordInput<'a> {
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    pub headers: &'a [Header<'a>],
    pub timestamp: Option<i64>,
}

impl RecordInput<'_> {
    /// Bytes of the record body (after its length varint) with these deltas.
    pub(crate) fn body_size(&self, timestamp_delta: i64, offset_delta: i32) -> usize {
        1 + varlong_size(timestamp_delta) + varint_size(offset_delta) + self.fields_size()
    }

    /// Bytes of its key, value and headers as a record encodes them.
    fn fields_size(&self) -> usize {
        let mut size = nullable_size(self.key) + nullable_size(self.value);
        size += varint_size(self.headers.len() as i32);
        for header in self.headers {
            size += varint_size(header.key.len() as i32) + header.key.len();
            size += nullable_size(header.value);
        }
        size
    }

    /// The record's encoded size in a batch, length prefix included; what max.message.bytes limits.
    pub fn encoded_size(&self) -> usize {
        // Measured with zero deltas (one byte each), plus the worst case of the deltas: a
        // varlong takes at most 10 bytes and a varint 5, so at most 13 more.
        let body = self.body_size(0, 0) + 13;
        body + varint_size(body as i32)
    }
}

fn nullable_size(bytes: Option<&[u8]>) -> usize {
    match bytes {
        None => varint_size(-1),
        Some(bytes) => varint_size(bytes.len() as i32) + bytes.len(),
    }
}

fn put_nullable(out: &mut Vec<u8>, bytes: Option<&[u8]>) {
    match bytes {
        None => put_varint(out, -1),
        Some(bytes) => {
            put_varint(out, bytes.len() as i32);
            out.extend_from_slice(bytes);
        }
    }
}

/// Builds one batch record by record, encoding each record once, straight into the batch's
/// bytes: the header is reserved up front and filled in (with the CRC) by `finish`. The
/// caller checks each record's size first (`fits`); offsets and timestamps are deltas from the
/// batch's base offset and first timestamp, as Kafka writes them.
#[derive(Debug)]
pub struct BatchBuilder {
    bytes: Vec<u8>,
    base_offset: i64,
    base_timestamp: i64,
    max_timestamp: i64,
    count: u32,
}

impl BatchBuilder {
    pub fn new(base_offset: i64, base_timestamp: i64) -> BatchBuilder {
        BatchBuilder::with_capacity(base_offset, base_timestamp, BATCH_HEADER_SIZE + 256)
    }

    /// A builder with room for `records_bytes` of encoded records (see `reserve`).
    pub fn with_room(base_offset: i64, base_timestamp: i64, records_bytes: usize) -> BatchBuilder {
        let mut builder = BatchBuilder::new(base_offset, base_timestamp);
        builder.reserve(records_bytes);
        builder
    }

    fn with_capacity(base_offset: i64, base_timestamp: i64, capacity: usize) -> BatchBuilder {
        let mut bytes = Vec::with_capacity(capacity.max(BATCH_HEADER_SIZE));
        bytes.resize(BATCH_HEADER_SIZE, 0);
        BatchBuilder {
            bytes,
            base_offset,
            base_timestamp,
            max_timestamp: base_timestamp,
            count: 0,
        }
    }

    pub fn base_offset(&self) -> i64 {
        self.base_offset
    }

    pub fn count(&self) -> u32 {
        self.count
    }

    pub fn size(&self) -> usize {
        self.bytes.len()
    }

    /// Makes room for `records_bytes` more of encoded records, as far as a batch may grow:
    /// one allocation for a whole send rather than a regrowth every few records. A hint: when
    /// memory is short it does nothing, and the records grow the batch as they come.
    pub fn reserve(&mut self, records_bytes: usize) {
        let room = BATCH_BYTES_MAX.saturating_sub(self.bytes.len());
        let _ = self.bytes.try_reserve(records_bytes.min(room));
    }

    /// The offset the next record gets.
    pub fn next_offset(&self) -> i64 {
        self.base_offset + self.count as i64
    }

    /// Whether `record` still fits in this batch (bytes and record count).
    pub fn fits(&self, record: &RecordInput<'_>, timestamp: i64) -> bool {
        let delta = timestamp.wrapping_sub(self.base_timestamp);
        let body = record.body_size(delta, self.count as i32);
        (self.count as usize) < BATCH_RECORDS_MAX && self.bytes.len() + body + 5 <= BATCH_BYTES_MAX
    }

    /// Appends a record; its offset is `next_offset()`.
    pub fn push(&mut self, record: &RecordInput<'_>, timestamp: i64) {
        let fields = record.fields_size();
        self.begin_record(0, timestamp, fields); // record attributes: unused
        let out = &mut self.bytes;
        let fields_start = out.len();
        put_nullable(out, record.key);
        put_nullable(out, record.value);
        put_varint(out, record.headers.len() as i32);
        for header in record.headers {
            put_varint(out, header.key.len() as i32);
            out.extend_from_slice(header.key.as_bytes());
            put_nullable(out, header.value);
        }
        debug_assert_eq!(out.len() - fields_start, fields);
    }

    /// Starts the next record, at `timestamp`: its length, attributes and deltas; the caller
    /// writes its key, value and headers, `fields` bytes of them, next. Inlined: it runs
    /// once per record sent.
    #[inline(always)]
    fn begin_record(&mut self, attributes: u8, timestamp: i64, fields: usize) {
        let timestamp_delta = timestamp.wrapping_sub(self.base_timestamp);
        let offset_delta = self.count as i32;
        let body_size = 1 + varlong_size(timestamp_delta) + varint_size(offset_delta) + fields;
        let out = &mut self.bytes;
        put_varint(out, body_size as i32);
        out.push(attributes);
        put_varlong(out, timestamp_delta);
        put_varint(out, offset_delta);
        self.max_timestamp = self.max_timestamp.max(timestamp);
        self.count += 1;
    }

    /// The finished batch: header and CRC-32C written, exactly as Kafka writes it. Its memory
    /// is trimmed to its length (a batch is kept for as long as the log holds it in memory).
    pub fn finish(mut self) -> Vec<u8> {
        let out = &mut self.bytes;
        let batch_length = (out.len() - LOG_OVERHEAD) as i32;
        // Written in place: the header's room was reserved by `new`.
        let header = &mut out[..BATCH_HEADER_SIZE];
        let mut put = |at: usize, bytes: &[u8]| header[at..at + bytes.len()].copy_from_slice(bytes);
        put(BASE_OFFSET_OFFSET, &self.base_offset.to_be_bytes());
        put(BATCH_LENGTH_OFFSET, &batch_length.to_be_bytes());
        put(PARTITION_LEADER_EPOCH_OFFSET, &0i32.to_be_bytes()); // brook is leader 0
        put(MAGIC_OFFSET, &[MAGIC as u8]);
        put(CRC_OFFSET, &[0; 4]); // filled in below
        put(ATTRIBUTES_OFFSET, &0i16.to_be_bytes()); // no compression, create time
        put(
            LAST_OFFSET_DELTA_OFFSET,
            &(self.count.saturating_sub(1) as i32).to_be_bytes(),
        );
        put(BASE_TIMESTAMP_OFFSET, &self.base_timestamp.to_be_bytes());
        put(MAX_TIMESTAMP_OFFSET, &self.max_timestamp.to_be_bytes());
        put(PRODUCER_ID_OFFSET, &(-1i64).to_be_bytes()); // not idempotent
        put(PRODUCER_EPOCH_OFFSET, &(-1i16).to_be_bytes());
        put(BASE_SEQUENCE_OFFSET, &(-1i32).to_be_bytes());
        put(RECORDS_COUNT_OFFSET, &(self.count as i32).to_be_bytes());
        let crc = crc32c(&out[ATTRIBUTES_OFFSET..]);
        out[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
        out.shrink_to_fit();
        self.bytes
    }
}

/// One batch holding the records of `batches`, which follow one another (each starts where
/// the one before ends) and are as `BatchBuilder` makes them: no compression, no producer,
/// dense offsets. Records keep their offsets, timestamps, keys, values and headers; only their
/// deltas are rewritten (the key, value and headers bytes are copied as they are). None when
/// the batches are not like that, or their records would not fit one batch.
pub fn merge_batches<'b, I>(batches: I) -> Option<Vec<u8>>
where
    I: IntoIterator<Item = &'b [u8]>,
    I::IntoIter: Clone,
{
    let batches = batches.into_iter();
    // About the batches' size (their headers go, some deltas grow): usually one allocation.
    let capacity: usize = batches.clone().map(<[u8]>::len).sum();
    let mut merged: Option<BatchBuilder> = None;
    for bytes in batches {
        let header = BatchHeader::parse(bytes).ok()?;
        let builder = merged.get_or_insert_with(|| {
            BatchBuilder::with_capacity(header.base_offset, header.base_timestamp, capacity)
        });
        let as_built = header.attributes == 0
            && header.producer_id == -1
            && header.base_offset == builder.next_offset()
            && header.record_count == header.last_offset_delta.saturating_add(1)
            && bytes.len() == header.size();
        if !as_built {
            return None;
        }
        let mut records = Reader::new(&bytes[BATCH_HEADER_SIZE..]);
        for index in 0..header.record_count {
            let length = usize::try_from(records.varint().ok()?).ok()?;
            let mut body = Reader::new(records.take(length).ok()?);
            let attributes = body.i8().ok()? as u8;
            let timestamp = header.base_timestamp.wrapping_add(body.varlong().ok()?);
            if body.varint().ok()? != index {
                return None;
            }
            // Key, value and headers, as they are.
            let fields = body.take(body.remaining()).ok()?;
            builder.begin_record(attributes, timestamp, fields.len());
            builder.bytes.extend_from_slice(fields);
        }
        let whole = records.remaining() == 0
            && builder.bytes.len() <= BATCH_BYTES_MAX
            && (builder.count as usize) <= BATCH_RECORDS_MAX;
        if !whole {
            return None;
        }
    }
    merged.map(BatchBuilder::finish)
}

/// Appends one batch holding `records` to `out`, offsets from `base_offset`. The caller checks
/// sizes first (see `RecordInput::encoded_size`); this refuses what no batch may hold.
pub fn encode_batch<'r, I>(
    out: &mut Vec<u8>,
    base_offset: i64,
    default_timestamp: i64,
    records: I,
) -> Result<()>
where
    I: Iterator<Item = &'r RecordInput<'r>> + Clone,
{
    let mut records = records.peekable();
    let base_timestamp = records
        .peek()
        .and_then(|r| r.timestamp)
        .unwrap_or(default_timestamp);
    let mut builder = BatchBuilder::new(base_offset, base_timestamp);
    for record in records {
        let timestamp = record.timestamp.unwrap_or(default_timestamp);
        if !builder.fits(record, timestamp) {
            return Err(Error::new(
                ErrorKind::MessageTooLarge,
                format!("a batch may hold at most {BATCH_BYTES_MAX} bytes and {BATCH_RECORDS_MAX} records; send fewer or smaller messages at once"),
            ));
        }
        builder.push(record, timestamp);
    }
    out.extend_from_slice(&builder.finish());
    Ok(())
}

/// The fixed-size header of a batch, read without looking at the records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchHeader {
    pub base_offset: i64,
    pub batch_length: i32,
    pub partition_leader_epoch: i32,
    pub magic: i8,
    pub crc: u32,
    pub attributes: i16,
    pub last_offset_delta: i32,
    pub base_timestamp: i64,
    pub max_timestamp: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub record_count: i32,
}

/// Big-endian fields of a batch header at fixed offsets: with the offsets constant and the
/// array's size known, these compile to plain loads (no bounds check, no call).
#[inline(always)]
fn be_i16(header: &[u8; BATCH_HEADER_SIZE], at: usize) -> i16 {
    i16::from_be_bytes([header[at], header[at + 1]])
}

#[inline(always)]
fn be_i32(header: &[u8; BATCH_HEADER_SIZE], at: usize) -> i32 {
    i32::from_be_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
}

#[inline(always)]
fn be_i64(header: &[u8; BATCH_HEADER_SIZE], at: usize) -> i64 {
    (be_i32(header, at) as i64) << 32 | be_i32(header, at + 4) as u32 as i64
}

/// Why bytes are not a batch: too few of them yet, or bad for good.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The bytes end before the batch does; `needed` is the whole batch's size when known.
    Incomplete {
        needed: Option<usize>,
    },
    Corrupt(String),
}

impl DecodeError {
    pub fn into_error(self, context: &str) -> Error {
        match self {
            DecodeError::Incomplete { .. } => {
                Error::corrupt(format!("{context}: the batch is cut short"))
            }
            DecodeError::Corrupt(reason) => Error::corrupt(format!("{context}: {reason}")),
        }
    }
}

fn corrupt(reason: impl Into<String>) -> DecodeError {
    DecodeError::Corrupt(reason.into())
}

impl BatchHeader {
    /// Parses and sanity-checks the 61 header bytes (not the CRC: that needs the records).
    pub fn parse(bytes: &[u8]) -> Result<BatchHeader, DecodeError> {
        if bytes.len() < BATCH_HEADER_SIZE {
            // Enough for the length field? Then the caller learns the full size.
            let needed = (bytes.len() >= LOG_OVERHEAD)
                .then(|| {
                    let length = i32::from_be_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
                    usize::try_from(length).ok().map(|l| l + LOG_OVERHEAD)
                })
                .flatten();
            return Err(DecodeError::Incomplete { needed });
        }
        // Fixed offsets in a fixed-size array: no bounds check or error path per field.
        let Some(fixed) = bytes.first_chunk::<BATCH_HEADER_SIZE>() else {
            return Err(DecodeError::Incomplete { needed: None });
        };
        let header = BatchHeader {
            base_offset: be_i64(fixed, BASE_OFFSET_OFFSET),
            batch_length: be_i32(fixed, BATCH_LENGTH_OFFSET),
            partition_leader_epoch: be_i32(fixed, PARTITION_LEADER_EPOCH_OFFSET),
            magic: fixed[MAGIC_OFFSET] as i8,
            crc: be_i32(fixed, CRC_OFFSET) as u32,
            attributes: be_i16(fixed, ATTRIBUTES_OFFSET),
            last_offset_delta: be_i32(fixed, LAST_OFFSET_DELTA_OFFSET),
            base_timestamp: be_i64(fixed, BASE_TIMESTAMP_OFFSET),
            max_timestamp: be_i64(fixed, MAX_TIMESTAMP_OFFSET),
            producer_id: be_i64(fixed, PRODUCER_ID_OFFSET),
            producer_epoch: be_i16(fixed, PRODUCER_EPOCH_OFFSET),
            base_sequence: be_i32(fixed, BASE_SEQUENCE_OFFSET),
            record_count: be_i32(fixed, RECORDS_COUNT_OFFSET),
        };
        header.check()?;
        Ok(header)
    }

    fn check(&self) -> Result<(), DecodeError> {
        if self.magic != MAGIC {
            return Err(corrupt(format!(
                "magic byte is {}, expected 2 (RecordBatch v2)",
                self.magic
            )));
        }
        let size = self.batch_length as i64 + LOG_OVERHEAD as i64;
        if size < BATCH_HEADER_SIZE as i64 || size > BATCH_BYTES_MAX as i64 {
            return Err(corrupt(format!(
                "batch length {} is out of range",
                self.batch_length
            )));
        }
        if self.base_offset < 0 {
            return Err(corrupt(format!(
                "negative base offset {}",
                self.base_offset
            )));
        }
        if self.record_count < 0 || self.record_count as usize > BATCH_RECORDS_MAX {
            return Err(corrupt(format!(
                "record count {} is out of range",
                self.record_count
            )));
        }
        if self.last_offset_delta < 0 || self.last_offset_delta < self.record_count - 1 {
            return Err(corrupt(format!(
                "last offset delta {} does not cover {} records",
                self.last_offset_delta, self.record_count
            )));
        }
        if self
            .base_offset
            .checked_add(self.last_offset_delta as i64 + 1)
            .is_none()
        {
            return Err(corrupt("offsets overflow"));
        }
        if self.attributes & ATTRIBUTES_UNSUPPORTED != 0 {
            return Err(corrupt(format!(
                "attributes {:#x}: compressed, transactional or control batches are not supported",
                self.attributes
            )));
        }
        Ok(())
    }

    /// Bytes of the whole batch, header included.
    pub fn size(&self) -> usize {
        self.batch_length as usize + LOG_OVERHEAD
    }

    pub fn last_offset(&self) -> i64 {
        self.base_offset + self.last_offset_delta as i64
    }

    /// The offset after this batch: where the next batch starts.
    pub fn next_offset(&self) -> i64 {
        self.last_offset() + 1
    }
}

/// A verified batch borrowed from a buffer: CRC and every record's structure checked.
#[derive(Clone, Copy, Debug)]
pub struct RecordBatch<'a> {
    header: BatchHeader,
    bytes: &'a [u8],
}

impl<'a> RecordBatch<'a> {
    /// Verifies the batch at the start of `bytes`; returns it and its size.
    pub fn parse(bytes: &'a [u8]) -> Result<RecordBatch<'a>, DecodeError> {
        let header = BatchHeader::parse(bytes)?;
        let size = header.size();
        if bytes.len() < size {
            return Err(DecodeError::Incomplete { needed: Some(size) });
        }
        let bytes = &bytes[..size];
        let crc = crc32c(&bytes[ATTRIBUTES_OFFSET..]);
        if crc != header.crc {
            return Err(corrupt(format!(
                "CRC-32C mismatch: stored {:#010x}, computed {crc:#010x}",
                header.crc
            )));
        }
        let batch = RecordBatch { header, bytes };
        batch.check_records()?;
        Ok(batch)
    }

    /// A batch whose bytes were verified when they were loaded (the stores and the cache hand
    /// out only such bytes): its header is read again, its CRC and records are not. Reading
    /// a cached batch a thousand records at a time verified it once per read before.
    pub fn trusted(bytes: &'a [u8]) -> Result<RecordBatch<'a>, DecodeError> {
        let header = BatchHeader::parse(bytes)?;
        let size = header.size();
        if bytes.len() < size {
            return Err(DecodeError::Incomplete { needed: Some(size) });
        }
        Ok(RecordBatch {
            header,
            bytes: &bytes[..size],
        })
    }

    fn check_records(&self) -> Result<(), DecodeError> {
        let mut reader = Reader::new(&self.bytes[RECORDS_OFFSET..]);
        let mut previous_delta: i64 = -1;
        for index in 0..self.header.record_count {
            let record = decode_record(&mut reader).map_err(|error| match error {
                ReadError::Truncated => corrupt(format!("record {index} runs past the batch")),
                ReadError::Malformed(reason) => corrupt(format!("record {index}: {reason}")),
            })?;
            let delta = record.offset_delta as i64;
            if delta <= previous_delta || delta > self.header.last_offset_delta as i64 {
                return Err(corrupt(format!(
                    "record {index} has offset delta {delta}, out of order"
                )));
            }
            previous_delta = delta;
        }
        if reader.remaining() != 0 {
            return Err(corrupt(format!(
                "{} bytes after the last record",
                reader.remaining()
            )));
        }
        Ok(())
    }

    pub fn header(&self) -> &BatchHeader {
        &self.header
    }

    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    pub fn base_offset(&self) -> i64 {
        self.header.base_offset
    }

    pub fn next_offset(&self) -> i64 {
        self.header.next_offset()
    }

    pub fn records(&self) -> Records<'a> {
        self.records_from(ResumePoint {
            position: 0,
            left: self.header.record_count as u32,
        })
    }

    /// All of the batch's records as one run.
    pub fn run(&self) -> RecordRun<'a> {
        RecordRun {
            base_offset: self.header.base_offset,
            base_timestamp: self.header.base_timestamp,
            count: self.header.record_count as u32,
            bytes: self.bytes.get(RECORDS_OFFSET..).unwrap_or_default(),
            owner: None,
        }
    }

    /// The `count` records between two places of the records (`Records::position`), or None
    /// when those are not places in this batch.
    pub fn run_between(&self, from: usize, to: usize, count: u32) -> Option<RecordRun<'a>> {
        let bytes = self.bytes.get(RECORDS_OFFSET + from..RECORDS_OFFSET + to)?;
        Some(RecordRun {
            base_offset: self.header.base_offset,
            base_timestamp: self.header.base_timestamp,
            count,
            bytes,
            owner: None,
        })
    }

    /// The records after the place where an earlier iteration over this batch stopped.
    pub fn records_from(&self, point: ResumePoint) -> Records<'a> {
        let rest = self.bytes.get(RECORDS_OFFSET + point.position..);
        let count = self.header.record_count;
        let dense = count > 0 && i64::from(count) == i64::from(self.header.last_offset_delta) + 1;
        Records {
            reader: Reader::new(rest.unwrap_or_default()),
            start: point.position,
            base_offset: self.header.base_offset,
            base_timestamp: self.header.base_timestamp,
            left: if rest.is_some() { point.left } else { 0 },
            dense_count: dense.then_some(count as u32),
            failed: rest.is_none(),
        }
    }
}

/// Records of one verified batch taken by a read, as stored: `count` records back to back
/// (Kafka's record encoding, deltas relative to `base_offset` and `base_timestamp`). A fetch
/// hands these bytes on whole, so that a record is decoded once, by whoever uses it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordRun<'a> {
    pub base_offset: i64,
    pub base_timestamp: i64,
    pub count: u32,
    pub bytes: &'a [u8],
    /// The stored batch that `bytes` lie in, when the reader may keep it alive: a poll then
    /// hands the bytes to JS to copy from where they are stored (`wire::Gathered`).
    pub owner: Option<&'a std::rc::Rc<Vec<u8>>>,
}

impl<'a> RecordRun<'a> {
    /// Hands each of the run's records to `visit`; CORRUPT_DATA when one does not decode
    /// (bytes verified on load that no longer do: a fault, never skipped over).
    pub fn for_each(&self, mut visit: impl FnMut(&RecordRef<'a>)) -> Result<()> {
        let mut records = self.records();
        for record in records.by_ref() {
            visit(&record);
        }
        if records.failed() {
            return Err(Error::corrupt(format!(
                "the batch at offset {} no longer decodes",
                self.base_offset
            )));
        }
        Ok(())
    }

    /// The run's records, decoded.
    pub fn records(&self) -> Records<'a> {
        Records {
            reader: Reader::new(self.bytes),
            start: 0,
            base_offset: self.base_offset,
            base_timestamp: self.base_timestamp,
            left: self.count,
            dense_count: None,
            failed: false,
        }
    }
}

/// A record borrowed from a verified batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordRef<'a> {
    pub offset: i64,
    pub timestamp: i64,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    headers: HeadersRef<'a>,
    /// The record's bytes in its batch, length prefix included (deltas relative to the batch).
    raw: &'a [u8],
}

impl<'a> RecordRef<'a> {
    pub fn headers(&self) -> impl Iterator<Item = Header<'a>> + 'a {
        let mut reader = Reader::new(self.headers.bytes);
        (0..self.headers.count).map_while(move |_| decode_header(&mut reader).ok())
    }

    pub fn header_count(&self) -> u32 {
        self.headers.count
    }

    /// The record in owned form (allocates; for tests, tools and small reads).
    pub fn to_owned(&self) -> Record {
        Record {
            offset: self.offset,
            timestamp: self.timestamp,
            key: self.key.map(<[u8]>::to_vec),
            value: self.value.map(<[u8]>::to_vec),
            headers: self
                .headers()
                .map(|h| (h.key.to_owned(), h.value.map(<[u8]>::to_vec)))
                .collect(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct HeadersRef<'a> {
    count: u32,
    bytes: &'a [u8],
}

/// An owned record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub offset: i64,
    pub timestamp: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
}

struct DecodedRecord<'a> {
    timestamp_delta: i64,
    offset_delta: i32,
    key: Option<&'a [u8]>,
    value: Option<&'a [u8]>,
    headers: HeadersRef<'a>,
}

fn read_nullable<'a>(reader: &mut Reader<'a>) -> Result<Option<&'a [u8]>, ReadError> {
    let length = reader.varint()?;
    match length {
        -1 => Ok(None),
        length if length < 0 => Err(ReadError::Malformed("negative length")),
        length => reader.take(length as usize).map(Some),
    }
}

fn decode_header<'a>(reader: &mut Reader<'a>) -> Result<Header<'a>, ReadError> {
    let key_length = reader.varint()?;
    if key_length < 0 {
        return Err(ReadError::Malformed("header key is null"));
    }
    let key = std::str::from_utf8(reader.take(key_length as usize)?)
        .map_err(|_| ReadError::Malformed("header key is not UTF-8"))?;
    let value = read_nullable(reader)?;
    Ok(Header { key, value })
}

fn decode_record<'a>(reader: &mut Reader<'a>) -> Result<DecodedRecord<'a>, ReadError> {
    let length = reader.varint()?;
    if length < 0 {
        return Err(ReadError::Malformed("negative record length"));
    }
    let body_bytes = reader.take(length as usize)?;
    let mut body = Reader::new(body_bytes);
    let _attributes = body.i8()?;
    let timestamp_delta = body.varlong()?;
    let offset_delta = body.varint()?;
    let key = read_nullable(&mut body)?;
    let value = read_nullable(&mut body)?;
    let header_count = body.varint()?;
    if header_count < 0 {
        return Err(ReadError::Malformed("negative header count"));
    }
    let headers_start = body.position();
    // Each header takes at least two bytes, which bounds the loop by the record's length.
    if header_count as usize > body.remaining() / 2 {
        return Err(ReadError::Malformed("header count exceeds the record"));
    }
    for _ in 0..header_count {
        decode_header(&mut body)?;
    }
    if body.remaining() != 0 {
        return Err(ReadError::Malformed("bytes left over after the headers"));
    }
    Ok(DecodedRecord {
        timestamp_delta,
        offset_delta,
        key,
        value,
        headers: HeadersRef {
            count: header_count as u32,
            bytes: &body_bytes[headers_start..],
        },
    })
}

/// The records of a verified batch, in offset order.
#[derive(Clone, Debug)]
pub struct Records<'a> {
    reader: Reader<'a>,
    /// Where `reader` starts in the batch's records.
    start: usize,
    base_offset: i64,
    base_timestamp: i64,
    left: u32,
    /// The batch's record count when its offsets are dense: as many records as offsets (a
    /// verified batch's deltas strictly increase up to the last one, so then the i-th record
    /// is at delta i, and a skim need not decode it). None: a run, or a compacted batch.
    dense_count: Option<u32>,
    /// A record did not decode (the batch was not verified after all): the iteration ended.
    failed: bool,
}

/// Where an iteration over a batch's records stopped: the next record's place in the records
/// and how many are left, so that a read can go on there without decoding those before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResumePoint {
    position: usize,
    left: u32,
}

impl Records<'_> {
    /// Where the next record starts in the batch's records.
    pub fn position(&self) -> usize {
        self.start + self.reader.position()
    }

    /// Where this iteration is now (see `RecordBatch::records_from`).
    pub fn resume_point(&self) -> ResumePoint {
        ResumePoint {
            position: self.start + self.reader.position(),
            left: self.left,
        }
    }

    /// Whether records are left.
    pub fn has_more(&self) -> bool {
        self.left > 0
    }

    /// Whether the iteration ended on a record that did not decode.
    pub fn failed(&self) -> bool {
        self.failed
    }
}

impl Records<'_> {
    /// The next record's offset, moving past it without decoding its key, value and headers
    /// (the batch was verified): how a read finds where the records it takes end.
    pub fn skim(&mut self) -> Option<i64> {
        if self.left == 0 {
            return None;
        }
        // Dense offsets: this record's delta is its index, and only its length is read.
        let index = self
            .dense_count
            .and_then(|count| count.checked_sub(self.left));
        self.left -= 1;
        let skimmed = (|| -> Result<i64, ReadError> {
            let length = self.reader.varint()?;
            let body = self.reader.take(
                usize::try_from(length)
                    .map_err(|_| ReadError::Malformed("negative record length"))?,
            )?;
            if let Some(index) = index {
                return Ok(self.base_offset + i64::from(index));
            }
            let mut body = Reader::new(body);
            body.i8()?;
            body.varlong()?;
            Ok(self.base_offset + body.varint()? as i64)
        })();
        match skimmed {
            Ok(offset) => Some(offset),
            Err(_) => {
                self.left = 0;
                self.failed = true;
                None
            }
        }
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = RecordRef<'a>;

    fn next(&mut self) -> Option<RecordRef<'a>> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let start = self.reader.clone();
        // The batch was verified (in `parse`, or when it was loaded), so this cannot fail;
        // if it does, the iteration ends and says so (`failed`).
        let Ok(record) = decode_record(&mut self.reader) else {
            self.left = 0;
            self.failed = true;
            return None;
        };
        let Ok(raw) = start
            .clone()
            .take(self.reader.position() - start.position())
        else {
            self.left = 0;
            self.failed = true;
            return None;
        };
        Some(RecordRef {
            offset: self.base_offset + record.offset_delta as i64,
            timestamp: self.base_timestamp.wrapping_add(record.timestamp_delta),
            key: record.key,
            value: record.value,
            headers: record.headers,
            raw,
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.left as usize))
    }
}

/// Appends to `out` a copy of `batch` holding only the records `keep` accepts, with their
/// offsets and timestamps unchanged (the header keeps the base offset, base timestamp and last
/// offset delta, so offsets never move: compaction leaves gaps, as in Kafka). Returns the
/// number of records kept; writes nothing when that is zero.
pub fn encode_retained(
    out: &mut Vec<u8>,
    batch: &RecordBatch<'_>,
    keep: &mut dyn FnMut(&RecordRef<'_>) -> bool,
) -> u32 {
    let start = out.len();
    out.extend_from_slice(&batch.bytes[..BATCH_HEADER_SIZE]);
    let mut kept: u32 = 0;
    for record in batch.records() {
        if keep(&record) {
            out.extend_from_slice(record.raw);
            kept += 1;
        }
    }
    if kept == 0 {
        out.truncate(start);
        return 0;
    }
    let batch_length = (out.len() - start - LOG_OVERHEAD) as i32;
    out[start + BATCH_LENGTH_OFFSET..start + BATCH_LENGTH_OFFSET + 4]
        .copy_from_slice(&batch_length.to_be_bytes());
    out[start + RECORDS_COUNT_OFFSET..start + RECORDS_COUNT_OFFSET + 4]
        .copy_from_slice(&(kept as i32).to_be_bytes());
    let crc = crc32c(&out[start + ATTRIBUTES_OFFSET..]);
    out[start + CRC_OFFSET..start + CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
    kept
}

/// Walks the batches laid end to end in `bytes`: stops at the first incomplete or corrupt one.
pub struct Batches<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl<'a> Batches<'a> {
    pub fn new(bytes: &'a [u8]) -> Batches<'a> {
        Batches { bytes, position: 0 }
    }

    /// The next batch and its position, or the reason the walk ended (`Ok(None)` at the end).
    pub fn next_batch(&mut self) -> Result<Option<(usize, RecordBatch<'a>)>, DecodeError> {
        if self.position == self.bytes.len() {
            return Ok(None);
        }
        let batch = RecordBatch::parse(&self.bytes[self.position..])?;
        let position = self.position;
        self.position += batch.bytes().len();
        Ok(Some((position, batch)))
    }

    pub fn position(&self) -> usize {
        self.position
    }
}

/// Checks a batch that a caller hands over whole (e.g. from another store).
pub fn verify_batch(bytes: &[u8]) -> Result<RecordBatch<'_>> {
    let batch = RecordBatch::parse(bytes).map_err(|e| e.into_error("record batch"))?;
    if batch.bytes().len() != bytes.len() {
        return Err(Error::corrupt("record batch: bytes after the batch"));
    }
    Ok(batch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn room_made_for_records_is_not_regrown() {
        // The room a send makes (the sum of its records' encoded sizes) holds them: the
        // batch's bytes stay in the one allocation, whether the builder is new or started.
        let value = vec![7u8; 1000];
        let headers = [Header {
            key: "h",
            value: Some(b"v"),
        }];
        let records: Vec<RecordInput<'_>> = (0..50)
            .map(|i| RecordInput {
                key: Some(b"key"),
                value: if i % 5 == 0 {
                    None
                } else {
                    Some(&value[..i * 20])
                },
                headers: if i % 2 == 0 { &headers } else { &[] },
                timestamp: Some(1_700_000_000_000 + i as i64 * 1_000_000),
            })
            .collect();
        let room: usize = records.iter().map(RecordInput::encoded_size).sum();
        let push_all = |builder: &mut BatchBuilder| {
            let (start, capacity) = (builder.bytes.as_ptr(), builder.bytes.capacity());
            for record in &records {
                builder.push(record, record.timestamp.unwrap());
            }
            assert_eq!(builder.bytes.as_ptr(), start);
            assert_eq!(builder.bytes.capacity(), capacity);
        };
        let mut builder = BatchBuilder::with_room(0, 1_700_000_000_000, room);
        push_all(&mut builder);
        let mut started = BatchBuilder::new(0, 1_700_000_000_000);
        started.push(&records[1], 1_700_000_000_000);
        started.reserve(room);
        push_all(&mut started);
        // More room than a batch may hold is capped at a batch, not allocated.
        let mut huge = BatchBuilder::with_room(0, 0, usize::MAX);
        assert!(huge.bytes.capacity() <= BATCH_BYTES_MAX);
        huge.reserve(usize::MAX);
        assert!(huge.bytes.capacity() <= BATCH_BYTES_MAX);
        // Finished, a batch keeps no slack, and reads back whole.
        for (builder, count) in [(builder, 50), (started, 51)] {
            let batch = builder.finish();
            assert_eq!(batch.len(), batch.capacity());
            assert_eq!(
                RecordBatch::parse(&batch).unwrap().header().record_count,
                count
            );
        }
    }

    fn encode(base_offset: i64, now: i64, records: &[RecordInput<'_>]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_batch(&mut out, base_offset, now, records.iter()).unwrap();
        out
    }

    #[test]
    fn merged_batches_hold_the_same_records_and_only_batches_that_follow_one_another_merge() {
        let headers = [Header {
            key: "h",
            value: None,
        }];
        let records = [
            RecordInput {
                key: Some(b"a"),
                value: Some(b"one"),
                headers: &headers,
                timestamp: Some(1_000),
            },
            RecordInput {
                key: None,
                value: None,
                headers: &[],
                timestamp: Some(-5),
            },
            RecordInput {
                key: Some(b""),
                value: Some(&[7; 300]),
                headers: &[],
                timestamp: Some(i64::MAX),
            },
        ];
        let parts = [
            encode(10, 0, &records[..1]),
            encode(11, 0, &records[1..]),
            encode(13, 0, &records[..1]),
        ];
        let merged = merge_batches(parts.iter().map(Vec::as_slice)).unwrap();
        let expected = encode(10, 0, &[records[0], records[1], records[2], records[0]]);
        assert_eq!(merged, expected, "as if sent in one batch");
        verify_batch(&merged).unwrap();
        // A gap, a batch out of order, a producer's batch, a compressed one: left alone.
        assert_eq!(merge_batches([&parts[0][..], &parts[2][..]]), None);
        assert_eq!(merge_batches([&parts[1][..], &parts[0][..]]), None);
        for (at, byte) in [(PRODUCER_ID_OFFSET + 7, 5u8), (ATTRIBUTES_OFFSET + 1, 1)] {
            let mut odd = parts[1].clone();
            odd[at] = byte;
            assert_eq!(merge_batches([&parts[0][..], &odd[..]]), None);
        }
        let mut cut = parts[1].clone();
        cut.pop();
        assert_eq!(merge_batches([&parts[0][..], &cut[..]]), None);
    }

    #[test]
    fn header_fields_sit_where_kafka_puts_them() {
        let headers = [Header {
            key: "source",
            value: Some(b"web"),
        }];
        let records = [
            RecordInput {
                key: Some(b"k"),
                value: Some(b"v1"),
                headers: &headers,
                timestamp: Some(1_000),
            },
            RecordInput {
                key: None,
                value: None,
                headers: &[],
                timestamp: Some(1_005),
            },
        ];
        let bytes = encode(42, 0, &records);
        assert_eq!(&bytes[0..8], &42i64.to_be_bytes(), "baseOffset");
        assert_eq!(
            i32::from_be_bytes(bytes[8..12].try_into().unwrap()) as usize,
            bytes.len() - 12,
            "batchLength counts the bytes after itself"
        );
        assert_eq!(bytes[16], 2, "magic");
        assert_eq!(
            u32::from_be_bytes(bytes[17..21].try_into().unwrap()),
            crc32c(&bytes[21..]),
            "CRC-32C covers attributes to the end"
        );
        assert_eq!(&bytes[21..23], &[0, 0], "attributes");
        assert_eq!(&bytes[23..27], &1i32.to_be_bytes(), "lastOffsetDelta");
        assert_eq!(&bytes[27..35], &1000i64.to_be_bytes(), "baseTimestamp");
        assert_eq!(&bytes[35..43], &1005i64.to_be_bytes(), "maxTimestamp");
        assert_eq!(&bytes[43..51], &(-1i64).to_be_bytes(), "producerId");
        assert_eq!(&bytes[51..53], &(-1i16).to_be_bytes(), "producerEpoch");
        assert_eq!(&bytes[53..57], &(-1i32).to_be_bytes(), "baseSequence");
        assert_eq!(&bytes[57..61], &2i32.to_be_bytes(), "record count");
        // The second record, null key and value, no headers, by hand: length 7, attributes 0,
        // timestampDelta 5 (zigzag 10), offsetDelta 1 (zigzag 2), key -1 (1), value -1 (1),
        // header count 0.
        assert_eq!(&bytes[bytes.len() - 7..], &[12, 0, 10, 2, 1, 1, 0]);
        let batch = RecordBatch::parse(&bytes).unwrap();
        let decoded: Vec<Record> = batch.records().map(|r| r.to_owned()).collect();
        assert_eq!(decoded[0].offset, 42);
        assert_eq!(
            decoded[0].headers,
            vec![("source".to_owned(), Some(b"web".to_vec()))]
        );
        assert_eq!(decoded[1].offset, 43);
        assert_eq!(decoded[1].timestamp, 1005);
        assert_eq!(
            (decoded[1].key.clone(), decoded[1].value.clone()),
            (None, None)
        );
    }

    #[test]
    fn retained_copies_keep_offsets_and_timestamps() {
        let values: Vec<Vec<u8>> = (0..5).map(|i| vec![b'a' + i]).collect();
        let inputs: Vec<RecordInput<'_>> = values
            .iter()
            .enumerate()
            .map(|(i, v)| RecordInput {
                value: Some(v),
                timestamp: Some(100 + i as i64),
                ..Default::default()
            })
            .collect();
        let bytes = encode(10, 0, &inputs);
        let batch = RecordBatch::parse(&bytes).unwrap();
        let mut out = Vec::new();
        let kept = encode_retained(&mut out, &batch, &mut |r| r.offset % 2 == 1);
        assert_eq!(kept, 2);
        let retained = verify_batch(&out).unwrap();
        let records: Vec<Record> = retained.records().map(|r| r.to_owned()).collect();
        assert_eq!(
            records.iter().map(|r| r.offset).collect::<Vec<_>>(),
            vec![11, 13]
        );
        assert_eq!(
            records.iter().map(|r| r.timestamp).collect::<Vec<_>>(),
            vec![101, 103]
        );
        assert_eq!(
            retained.next_offset(),
            15,
            "the batch still ends where it ended"
        );
        let length = out.len();
        assert_eq!(encode_retained(&mut out, &batch, &mut |_| false), 0);
        assert_eq!(out.len(), length, "nothing written for an empty result");
    }

    #[test]
    fn iteration_resumes_where_it_stopped_and_says_when_trusted_bytes_do_not_decode() {
        let values: Vec<Vec<u8>> = (0..5).map(|i| vec![i as u8; 3]).collect();
        let inputs: Vec<RecordInput<'_>> = values
            .iter()
            .map(|v| RecordInput {
                value: Some(v),
                ..Default::default()
            })
            .collect();
        let bytes = encode(10, 0, &inputs);
        let batch = RecordBatch::trusted(&bytes).unwrap();
        let mut records = batch.records();
        assert_eq!(records.next().unwrap().offset, 10);
        assert_eq!(records.next().unwrap().offset, 11);
        let point = records.resume_point();
        let rest: Vec<i64> = batch.records_from(point).map(|r| r.offset).collect();
        assert_eq!(rest, vec![12, 13, 14]);
        assert!(!batch.records_from(point).failed());
        // A resume point past the end yields nothing and says so.
        let beyond = ResumePoint {
            position: bytes.len(),
            left: 3,
        };
        assert!(batch.records_from(beyond).next().is_none());
        assert!(batch.records_from(beyond).failed());
        // Damage after verification (trusted skips the CRC): the iteration ends, failed.
        let mut damaged = bytes.clone();
        let last = damaged.len() - 1;
        damaged.truncate(last - 2);
        let length = (damaged.len() - LOG_OVERHEAD) as i32;
        damaged[BATCH_LENGTH_OFFSET..BATCH_LENGTH_OFFSET + 4]
            .copy_from_slice(&length.to_be_bytes());
        let batch = RecordBatch::trusted(&damaged).unwrap();
        let mut records = batch.records();
        assert_eq!(records.by_ref().count(), 4);
        assert!(records.failed() && !records.has_more());
    }

    #[test]
    fn default_timestamp_fills_records_without_one() {
        let bytes = encode(
            0,
            777,
            &[RecordInput {
                value: Some(b"x"),
                ..Default::default()
            }],
        );
        let batch = RecordBatch::parse(&bytes).unwrap();
        assert_eq!(batch.records().next().unwrap().timestamp, 777);
        assert_eq!(batch.header().max_timestamp, 777);
    }

    #[test]
    fn corrupt_batches_are_refused() {
        let bytes = encode(
            0,
            1,
            &[RecordInput {
                value: Some(b"hello"),
                ..Default::default()
            }],
        );
        // Every flipped byte from the magic on is caught (the CRC covers attributes onward,
        // the header checks cover magic and lengths). baseOffset and the leader epoch are
        // not covered, as in Kafka: the partition checks base offsets against the sequence.
        for index in MAGIC_OFFSET..bytes.len() {
            let mut flipped = bytes.clone();
            flipped[index] ^= 0x01;
            assert!(RecordBatch::parse(&flipped).is_err(), "byte {index}");
        }
        for cut in 0..bytes.len() {
            assert!(
                matches!(
                    RecordBatch::parse(&bytes[..cut]),
                    Err(DecodeError::Incomplete { .. })
                ),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn compressed_batches_are_refused_with_a_reason() {
        let mut bytes = encode(
            0,
            1,
            &[RecordInput {
                value: Some(b"x"),
                ..Default::default()
            }],
        );
        bytes[ATTRIBUTES_OFFSET + 1] = 1; // gzip
        let crc = crc32c(&bytes[ATTRIBUTES_OFFSET..]);
        bytes[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
        match RecordBatch::parse(&bytes) {
            Err(DecodeError::Corrupt(reason)) => assert!(reason.contains("compressed"), "{reason}"),
            other => panic!("{other:?}"),
        }
    }

    fn record_strategy() -> impl Strategy<Value = Record> {
        (
            proptest::option::of(proptest::collection::vec(any::<u8>(), 0..40)),
            proptest::option::of(proptest::collection::vec(any::<u8>(), 0..200)),
            proptest::collection::vec(
                (
                    "[a-z]{0,8}",
                    proptest::option::of(proptest::collection::vec(any::<u8>(), 0..8)),
                ),
                0..3,
            ),
            0i64..(1 << 53),
        )
            .prop_map(|(key, value, headers, timestamp)| Record {
                offset: 0,
                timestamp,
                key,
                value,
                headers,
            })
    }

    proptest! {
        #[test]
        fn encode_decode_round_trip(
            base_offset in 0i64..(1 << 50),
            records in proptest::collection::vec(record_strategy(), 0..20),
        ) {
            let headers: Vec<Vec<Header<'_>>> = records
                .iter()
                .map(|r| r.headers.iter().map(|(k, v)| Header { key: k, value: v.as_deref() }).collect())
                .collect();
            let inputs: Vec<RecordInput<'_>> = records
                .iter()
                .zip(&headers)
                .map(|(r, h)| RecordInput {
                    key: r.key.as_deref(),
                    value: r.value.as_deref(),
                    headers: h,
                    timestamp: Some(r.timestamp),
                })
                .collect();
            let mut out = vec![0xAA; 3]; // encoding appends after what is there
            encode_batch(&mut out, base_offset, 0, inputs.iter()).unwrap();
            let batch = verify_batch(&out[3..]).unwrap();
            prop_assert_eq!(batch.header().record_count as usize, records.len());
            prop_assert_eq!(batch.next_offset(), base_offset + records.len().max(1) as i64);
            let decoded: Vec<Record> = batch.records().map(|r| r.to_owned()).collect();
            prop_assert_eq!(decoded.len(), records.len());
            for (index, (got, want)) in decoded.iter().zip(&records).enumerate() {
                prop_assert_eq!(got.offset, base_offset + index as i64);
                prop_assert_eq!(got.timestamp, want.timestamp);
                prop_assert_eq!(&got.key, &want.key);
                prop_assert_eq!(&got.value, &want.value);
                prop_assert_eq!(&got.headers, &want.headers);
            }
            for (input, record) in inputs.iter().zip(batch.records()) {
                // encoded_size is an upper bound of what the record takes in the batch.
                let _ = record;
                prop_assert!(input.encoded_size() >= input.body_size(0, 0));
            }
        }

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = RecordBatch::parse(&bytes);
            let mut batches = Batches::new(&bytes);
            while let Ok(Some(_)) = batches.next_batch() {}
        }

        #[test]
        fn mutated_batches_never_panic(
            flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
            fix_crc in any::<bool>(),
        ) {
            let headers = [Header { key: "h", value: Some(b"v") }];
            let inputs = [
                RecordInput { key: Some(b"key"), value: Some(b"value"), headers: &headers, timestamp: Some(5) },
                RecordInput { key: None, value: Some(b"second"), headers: &[], timestamp: None },
            ];
            let mut bytes = encode(9, 10, &inputs);
            for (index, value) in flips {
                let index = index % bytes.len();
                bytes[index] = value;
            }
            if fix_crc && bytes.len() > ATTRIBUTES_OFFSET {
                // Re-seal so that the structural checks behind the CRC get exercised too.
                let crc = crc32c(&bytes[ATTRIBUTES_OFFSET..]);
                bytes[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
            }
            if let Ok(batch) = RecordBatch::parse(&bytes) {
                for record in batch.records() {
                    let _ = record.headers().count();
                }
            }
        }
    }
}
