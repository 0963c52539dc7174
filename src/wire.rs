// The packed byte formats that carry messages across the wasm boundary: one buffer per send
// and one per poll, so the hot paths cross the boundary once per batch, not once per message,
// and decode without allocating per message. All integers are little-endian (what a JS
// DataView reads fastest on every platform that runs wasm).
//
// Send (JS -> Rust), `count` messages back to back:
//   u8 flags (1 = key, 2 = value, 4 = partition, 8 = timestamp)
//   [f64 partition] [f64 timestamp] [u32 key length, key] [u32 value length, value]
//   u32 header count, then per header: u32 key length, key (UTF-8), u8 has value,
//   [u32 value length, value]
//
// Poll (Rust -> JS), after an f64 lease id for a leased fetch:
//   u32 chunk count, then per chunk (a run of records of one partition):
//   u32 topic length, topic (UTF-8), u32 partition, f64 high watermark, f64 offset of the
//   partition's record that failed last for the group (-1: none), u32 its failures, f64 offset
//   of its last record that went to the dead-letter topic (-1: none), u32 record count,
//   u32 run count, then per run (records of one stored batch, in offset order):
//   f64 base offset, f64 base timestamp, u32 record count, u32 byte length, then the records
//   as the batch stores them (Kafka's record encoding: varint length, i8 attributes,
//   varlong timestamp delta, varint offset delta, varint key length (-1 = null), key,
//   varint value length, value, varint header count, per header varint key length, key,
//   varint value length, value). The bytes were verified (CRC-32C and every record's
//   structure) when their batch was loaded; they are not decoded here, and long runs are not
//   copied here either: the bindings hand JS the buffer as a head with pieces to put in from
//   the batches that store them (`Gathered`), so that each record is copied once, into JS.

use std::rc::Rc;

use crate::consumer_offsets::Failure;
use crate::error::{Error, ErrorKind, Result};
use crate::log::Message;
use crate::record_batch::{Header, RecordInput, RecordRun};

const FLAG_KEY: u8 = 1;
const FLAG_VALUE: u8 = 2;
const FLAG_PARTITION: u8 = 4;
const FLAG_TIMESTAMP: u8 = 8;
/// The most bytes one send buffer may hold. The JS wrapper refuses a larger send while it
/// encodes it, before the glue copies it into wasm memory; this check backs that up.
pub const SEND_BYTES_MAX: usize = 64 * 1024 * 1024;
/// The largest partition number a JS number may name (PARTITIONS_MAX is far below).
const PARTITION_NUMBER_MAX: f64 = u32::MAX as f64;

struct Cursor<'a> {
    bytes: &'a [u8],
    position: usize,
}

fn malformed(what: &str) -> Error {
    Error::new(
        ErrorKind::InvalidArgument,
        format!("malformed send buffer: {what} (the JS wrapper builds it; pass messages through producer.send)"),
    )
}

impl<'a> Cursor<'a> {
    fn take(&mut self, count: usize) -> Result<&'a [u8]> {
        let end = self
            .position
            .checked_add(count)
            .filter(|&end| end <= self.bytes.len())
            .ok_or_else(|| malformed("it ends early"))?;
        let slice = &self.bytes[self.position..end];
        self.position = end;
        Ok(slice)
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn f64(&mut self) -> Result<f64> {
        let b = self.take(8)?;
        Ok(f64::from_le_bytes([
            b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
        ]))
    }

    fn bytes(&mut self) -> Result<&'a [u8]> {
        let length = self.u32()? as usize;
        self.take(length)
    }
}

/// A message's position in the send buffer, before its headers are sliced.
struct Parsed<'a> {
    key: Option<&'a [u8]>,
    value: Option<&'a [u8]>,
    partition: Option<u32>,
    timestamp: Option<i64>,
    headers: (usize, usize),
}

fn check_partition(index: usize, partition: f64) -> Result<u32> {
    if partition.fract() != 0.0 || !(0.0..=PARTITION_NUMBER_MAX).contains(&partition) {
        return Err(Error::new(
            ErrorKind::InvalidPartition,
            format!(
                "message {index}: partition must be a whole number from 0, got {}",
                crate::error::number_text(partition)
            ),
        ));
    }
    Ok(partition as u32)
}

fn check_timestamp(index: usize, timestamp: f64) -> Result<i64> {
    if timestamp.fract() != 0.0 || !(0.0..=crate::log::TIMESTAMP_MAX as f64).contains(&timestamp) {
        return Err(Error::new(
            ErrorKind::InvalidRecord,
            format!(
                "message {index}: timestamp must be whole milliseconds since 1970 (0 to 2^53-1), got {}",
                crate::error::number_text(timestamp)
            ),
        ));
    }
    Ok(timestamp as i64)
}

/// Decodes a send buffer of `count` messages. `headers` receives every header of the send
/// (one vector for all of them); the messages borrow from it and from `bytes`.
pub fn decode_send<'a>(
    bytes: &'a [u8],
    count: u32,
    headers: &'a mut Vec<Header<'a>>,
) -> Result<Vec<Message<'a>>> {
    if count as usize > crate::log::SEND_MESSAGES_MAX {
        return Err(Error::new(
            ErrorKind::MessageTooLarge,
            format!(
                "{count} messages in one send; send at most {} at once",
                crate::log::SEND_MESSAGES_MAX
            ),
        ));
    }
    if bytes.len() > SEND_BYTES_MAX {
        return Err(Error::new(
            ErrorKind::MessageTooLarge,
            format!("a send may carry at most {SEND_BYTES_MAX} bytes; split it"),
        ));
    }
    let mut cursor = Cursor { bytes, position: 0 };
    let mut parsed = Vec::with_capacity(count as usize);
    for index in 0..count as usize {
        let flags = cursor.u8()?;
        let partition = if flags & FLAG_PARTITION != 0 {
            Some(check_partition(index, cursor.f64()?)?)
        } else {
            None
        };
        let timestamp = if flags & FLAG_TIMESTAMP != 0 {
            Some(check_timestamp(index, cursor.f64()?)?)
        } else {
            None
        };
        let key = if flags & FLAG_KEY != 0 {
            Some(cursor.bytes()?)
        } else {
            None
        };
        let value = if flags & FLAG_VALUE != 0 {
            Some(cursor.bytes()?)
        } else {
            None
        };
        let header_count = cursor.u32()? as usize;
        // Each header takes at least five bytes: a corrupt count cannot make us loop long.
        if header_count > (bytes.len() - cursor.position) / 5 {
            return Err(malformed("header count exceeds the buffer"));
        }
        let first = headers.len();
        for _ in 0..header_count {
            let key = std::str::from_utf8(cursor.bytes()?).map_err(|_| {
                Error::new(
                    ErrorKind::InvalidRecord,
                    format!("message {index}: a header key is not UTF-8"),
                )
            })?;
            let value = if cursor.u8()? != 0 {
                Some(cursor.bytes()?)
            } else {
                None
            };
            headers.push(Header { key, value });
        }
        parsed.push(Parsed {
            key,
            value,
            partition,
            timestamp,
            headers: (first, headers.len()),
        });
    }
    if cursor.position != bytes.len() {
        return Err(malformed("bytes after the last message"));
    }
    let headers: &'a [Header<'a>] = headers;
    Ok(parsed
        .into_iter()
        .map(|p| Message {
            record: RecordInput {
                key: p.key,
                value: p.value,
                headers: &headers[p.headers.0..p.headers.1],
                timestamp: p.timestamp,
            },
            partition: p.partition,
        })
        .collect())
}

/// Builds a poll buffer chunk by chunk.
#[derive(Debug)]
pub struct PollWriter {
    out: Vec<u8>,
    /// Where the chunk count sits: 0, or 8 after a lease id (`leased`).
    count_at: usize,
    chunks: u32,
    /// (topic, partition) of the open chunk and where its record count sits.
    open: Option<(String, u32, usize)>,
    /// Long runs left where they are stored, to be put in at their place in `out`.
    pieces: Vec<Piece>,
}

/// Runs at least this long are not copied into the poll buffer: the buffer names them, and JS
/// copies them from where they are stored into its own buffer, once rather than twice. A
/// shorter run costs less to copy here than a piece costs JS (a view and a `set`).
const GATHER_BYTES_MIN: usize = 4096;

/// A run's bytes, left in the stored batch they lie in, that go at `at` in the poll buffer.
#[derive(Debug)]
pub struct Piece {
    pub at: usize,
    owner: Rc<Vec<u8>>,
    start: usize,
    len: usize,
}

impl Piece {
    pub fn bytes(&self) -> &[u8] {
        &self.owner[self.start..self.start + self.len]
    }
}

/// A poll buffer as `head` with `pieces` to put in: what the bindings hand to JS to put
/// together (the pieces stay alive while this is held).
#[derive(Debug, Default)]
pub struct Gathered {
    pub head: Vec<u8>,
    pub pieces: Vec<Piece>,
}

impl Gathered {
    /// The poll buffer's length, pieces included.
    pub fn len(&self) -> usize {
        self.head.len() + self.pieces.iter().map(|p| p.len).sum::<usize>()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The poll buffer, put together.
    pub fn assemble(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len());
        let mut from = 0;
        for piece in &self.pieces {
            out.extend_from_slice(&self.head[from..piece.at]);
            out.extend_from_slice(piece.bytes());
            from = piece.at;
        }
        out.extend_from_slice(&self.head[from..]);
        out
    }
}

impl Default for PollWriter {
    fn default() -> PollWriter {
        PollWriter::new()
    }
}

impl PollWriter {
    pub fn new() -> PollWriter {
        PollWriter::reusing(Vec::new(), false)
    }

    /// A buffer that starts with an f64 lease id (`set_lease`) before the chunk count: what a
    /// leased fetch returns.
    pub fn leased() -> PollWriter {
        PollWriter::reusing(Vec::new(), true)
    }

    /// A writer into `buffer`'s allocation (its contents are dropped): a reader that polls
    /// often keeps one buffer rather than growing a new one each time.
    pub fn reusing(mut buffer: Vec<u8>, leased: bool) -> PollWriter {
        buffer.clear();
        let count_at = if leased { 8 } else { 0 };
        buffer.resize(count_at + 4, 0);
        PollWriter {
            out: buffer,
            count_at,
            chunks: 0,
            open: None,
            pieces: Vec::new(),
        }
    }

    pub fn set_lease(&mut self, lease: u64) {
        if self.count_at == 8 {
            self.out[..8].copy_from_slice(&(lease as f64).to_le_bytes());
        }
    }

    fn put_u32(&mut self, value: u32) {
        self.out.extend_from_slice(&value.to_le_bytes());
    }

    fn put_f64(&mut self, value: f64) {
        self.out.extend_from_slice(&value.to_le_bytes());
    }

    /// Appends a run of records, opening a chunk when it is of another partition than the
    /// last one. `failure`: the delivery failures of the partition's record that failed
    /// last, if any.
    pub fn run(
        &mut self,
        topic: &str,
        partition: u32,
        high_watermark: i64,
        failure: Option<&Failure>,
        run: &RecordRun<'_>,
    ) {
        let same = matches!(&self.open, Some((t, p, _)) if t == topic && *p == partition);
        if !same {
            self.chunks += 1;
            self.put_u32(topic.len() as u32);
            self.out.extend_from_slice(topic.as_bytes());
            self.put_u32(partition);
            self.put_f64(high_watermark as f64);
            self.put_f64(failure.map_or(-1.0, |f| f.offset as f64));
            self.put_u32(failure.map_or(0, |f| f.failures));
            self.put_f64(
                failure
                    .and_then(|f| f.dead_lettered)
                    .map_or(-1.0, |d| d as f64),
            );
            let counts_at = self.out.len();
            self.put_u32(0);
            self.put_u32(0);
            self.open = Some((topic.to_owned(), partition, counts_at));
        }
        if let Some((_, _, counts_at)) = &self.open {
            let at = *counts_at;
            self.add_u32_at(at, run.count);
            self.add_u32_at(at + 4, 1);
        }
        self.put_f64(run.base_offset as f64);
        self.put_f64(run.base_timestamp as f64);
        self.put_u32(run.count);
        self.put_u32(run.bytes.len() as u32);
        if let Some(piece) = self.piece(run) {
            self.pieces.push(piece);
        } else {
            self.out.extend_from_slice(run.bytes);
        }
    }

    /// `run` as a piece, when it is long and lies in a stored batch the writer can keep.
    fn piece(&self, run: &RecordRun<'_>) -> Option<Piece> {
        if run.bytes.len() < GATHER_BYTES_MIN {
            return None;
        }
        let owner = run.owner?;
        // Where the run lies in its batch; it always does, but this is not assumed.
        let start = (run.bytes.as_ptr() as usize).checked_sub(owner.as_ptr() as usize)?;
        (start.checked_add(run.bytes.len())? <= owner.len()).then(|| Piece {
            at: self.out.len(),
            owner: Rc::clone(owner),
            start,
            len: run.bytes.len(),
        })
    }

    fn add_u32_at(&mut self, at: usize, add: u32) {
        let mut bytes = [0; 4];
        bytes.copy_from_slice(&self.out[at..at + 4]);
        let sum = u32::from_le_bytes(bytes).saturating_add(add);
        self.out[at..at + 4].copy_from_slice(&sum.to_le_bytes());
    }

    /// The buffer, with its chunk count filled in.
    pub fn finish(self) -> Vec<u8> {
        let gathered = self.finish_gathered();
        if gathered.pieces.is_empty() {
            gathered.head
        } else {
            gathered.assemble()
        }
    }

    /// The buffer with its chunk count filled in, its long runs left where they are stored.
    pub fn finish_gathered(mut self) -> Gathered {
        let chunks = self.chunks.to_le_bytes();
        self.out[self.count_at..self.count_at + 4].copy_from_slice(&chunks);
        Gathered {
            head: self.out,
            pieces: self.pieces,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode_message(
        out: &mut Vec<u8>,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        partition: Option<f64>,
        headers: &[(&str, Option<&[u8]>)],
    ) {
        let mut flags = 0;
        if key.is_some() {
            flags |= FLAG_KEY;
        }
        if value.is_some() {
            flags |= FLAG_VALUE;
        }
        if partition.is_some() {
            flags |= FLAG_PARTITION;
        }
        out.push(flags);
        if let Some(p) = partition {
            out.extend_from_slice(&p.to_le_bytes());
        }
        for bytes in [key, value].into_iter().flatten() {
            out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
            out.extend_from_slice(bytes);
        }
        out.extend_from_slice(&(headers.len() as u32).to_le_bytes());
        for (k, v) in headers {
            out.extend_from_slice(&(k.len() as u32).to_le_bytes());
            out.extend_from_slice(k.as_bytes());
            match v {
                None => out.push(0),
                Some(v) => {
                    out.push(1);
                    out.extend_from_slice(&(v.len() as u32).to_le_bytes());
                    out.extend_from_slice(v);
                }
            }
        }
    }

    #[test]
    fn send_buffers_decode_with_headers_sliced_per_message() {
        let mut bytes = Vec::new();
        encode_message(
            &mut bytes,
            Some(b"k"),
            Some(b"v"),
            None,
            &[("a", Some(b"1")), ("b", None)],
        );
        encode_message(&mut bytes, None, None, Some(2.0), &[]);
        encode_message(&mut bytes, None, Some(b""), None, &[("c", Some(b""))]);
        let mut headers = Vec::new();
        let messages = decode_send(&bytes, 3, &mut headers).unwrap();
        assert_eq!(messages[0].record.key, Some(&b"k"[..]));
        assert_eq!(messages[0].record.headers.len(), 2);
        assert_eq!(
            messages[0].record.headers[1],
            Header {
                key: "b",
                value: None
            }
        );
        assert_eq!(
            (messages[1].record.value, messages[1].partition),
            (None, Some(2))
        );
        assert_eq!(
            messages[2].record.headers,
            &[Header {
                key: "c",
                value: Some(&b""[..])
            }]
        );
    }

    #[test]
    fn bad_send_buffers_are_refused_not_panicked_on() {
        let mut bytes = Vec::new();
        encode_message(
            &mut bytes,
            Some(b"key"),
            Some(b"value"),
            Some(1.0),
            &[("h", Some(b"x"))],
        );
        for cut in 0..bytes.len() {
            let mut headers = Vec::new();
            assert!(
                decode_send(&bytes[..cut], 1, &mut headers).is_err(),
                "cut {cut}"
            );
        }
        let mut headers = Vec::new();
        assert_eq!(
            decode_send(&bytes, 2, &mut headers).unwrap_err().code(),
            "INVALID_ARGUMENT"
        );
        for partition in [-1.0, 1.5, f64::NAN, f64::INFINITY, 5e9] {
            let mut bytes = Vec::new();
            encode_message(&mut bytes, None, None, Some(partition), &[]);
            let mut headers = Vec::new();
            assert_eq!(
                decode_send(&bytes, 1, &mut headers).unwrap_err().code(),
                "INVALID_PARTITION",
                "{partition}"
            );
        }
        let mut bytes = vec![FLAG_TIMESTAMP];
        bytes.extend_from_slice(&(-5.0f64).to_le_bytes());
        bytes.extend_from_slice(&0u32.to_le_bytes());
        let mut headers = Vec::new();
        assert_eq!(
            decode_send(&bytes, 1, &mut headers).unwrap_err().code(),
            "INVALID_RECORD"
        );
    }

    proptest::proptest! {
        #[test]
        fn random_send_buffers_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64), count in 0u32..4) {
            let mut headers = Vec::new();
            let _ = decode_send(&bytes, count, &mut headers);
        }
    }

    #[test]
    fn poll_buffers_group_runs_into_partition_chunks() {
        let mut batch = Vec::new();
        let inputs = [
            RecordInput {
                key: Some(b"k"),
                value: Some(b"v"),
                ..Default::default()
            },
            RecordInput {
                key: None,
                value: None,
                ..Default::default()
            },
        ];
        crate::record_batch::encode_batch(&mut batch, 5, 77, inputs.iter()).unwrap();
        let batch = crate::record_batch::verify_batch(&batch).unwrap();
        let mut writer = PollWriter::new();
        writer.run("t", 1, 9, None, &batch.run());
        let mut records = batch.records();
        records.next();
        let second = batch.run_between(0, records.position(), 1).unwrap();
        writer.run("t", 1, 9, None, &second);
        let failure = Failure {
            offset: 5,
            failures: 2,
            dead_lettered: Some(5),
        };
        writer.run("u", 0, 1, Some(&failure), &second);
        let out = writer.finish();
        assert_eq!(
            u32::from_le_bytes(out[0..4].try_into().unwrap()),
            2,
            "two chunks"
        );
        // First chunk: topic "t", partition 1, high 9, 3 records in 2 runs.
        assert_eq!(&out[4..8], &1u32.to_le_bytes());
        assert_eq!(out[8], b't');
        assert_eq!(&out[9..13], &1u32.to_le_bytes());
        assert_eq!(&out[13..21], &9f64.to_le_bytes());
        assert_eq!(&out[21..29], &(-1f64).to_le_bytes(), "no failure");
        assert_eq!(&out[29..33], &[0; 4]);
        assert_eq!(&out[33..41], &(-1f64).to_le_bytes(), "none dead-lettered");
        assert_eq!(&out[41..45], &3u32.to_le_bytes(), "records");
        assert_eq!(&out[45..49], &2u32.to_le_bytes(), "runs");
        assert_eq!(&out[49..57], &5f64.to_le_bytes(), "base offset");
        assert_eq!(&out[57..65], &77f64.to_le_bytes(), "base timestamp");
        assert_eq!(&out[65..69], &2u32.to_le_bytes());
        let length = batch.run().bytes.len();
        assert_eq!(&out[69..73], &(length as u32).to_le_bytes());
        assert_eq!(&out[73..73 + length], batch.run().bytes, "as stored");
        let second_run = 73 + length;
        assert_eq!(&out[second_run + 16..second_run + 20], &1u32.to_le_bytes());
        let chunk = out
            .windows(5)
            .rposition(|w| w == [1, 0, 0, 0, b'u'])
            .unwrap();
        let header = &out[chunk + 5 + 4 + 8..chunk + 5 + 4 + 8 + 28];
        assert_eq!(&header[..8], &5f64.to_le_bytes());
        assert_eq!(&header[8..12], &[2, 0, 0, 0]);
        assert_eq!(&header[12..20], &5f64.to_le_bytes());
        assert_eq!(&header[20..24], &1u32.to_le_bytes());
        assert_eq!(&header[24..28], &1u32.to_le_bytes());
    }

    #[test]
    fn long_runs_of_stored_batches_are_left_in_place_and_put_together_as_if_copied() {
        let long = vec![7u8; GATHER_BYTES_MIN];
        let inputs = [
            RecordInput {
                value: Some(&long),
                ..Default::default()
            },
            RecordInput {
                value: Some(b"short"),
                ..Default::default()
            },
        ];
        let mut bytes = Vec::new();
        crate::record_batch::encode_batch(&mut bytes, 0, 1, inputs.iter()).unwrap();
        let stored = Rc::new(bytes);
        let batch = crate::record_batch::verify_batch(&stored).unwrap();
        let mut records = batch.records();
        records.next();
        let first = batch.run_between(0, records.position(), 1).unwrap();
        let second = batch
            .run_between(records.position(), batch.run().bytes.len(), 1)
            .unwrap();
        let elsewhere = Rc::new(vec![0u8; 2 * GATHER_BYTES_MIN]);
        // Reads in every shape: a long run, a short one, one whose owner does not hold it.
        let runs = [
            (batch.run(), Some(&stored)),
            (first, Some(&stored)),
            (second, Some(&stored)),
            (first, Some(&elsewhere)),
            (batch.run(), None),
        ];
        let mut copied = PollWriter::leased();
        let mut gathered = PollWriter::reusing(vec![1, 2, 3], true);
        for (index, (run, owner)) in runs.iter().enumerate() {
            let partition = index as u32 % 2;
            copied.run("t", partition, 2, None, run);
            let with_owner = RecordRun {
                owner: *owner,
                ..*run
            };
            gathered.run("t", partition, 2, None, &with_owner);
        }
        copied.set_lease(9);
        gathered.set_lease(9);
        let copied = copied.finish_gathered();
        assert!(copied.pieces.is_empty(), "runs without an owner are copied");
        let gathered = gathered.finish_gathered();
        let in_place: Vec<usize> = gathered.pieces.iter().map(|p| p.len).collect();
        assert_eq!(
            in_place,
            vec![batch.run().bytes.len(), first.bytes.len()],
            "only the long runs of the batch that holds them are left in place"
        );
        assert_eq!(gathered.len(), copied.head.len());
        assert_eq!(gathered.assemble(), copied.head);
    }
}
