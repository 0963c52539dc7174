// The two stores under a model: random sends, flushes that commit or fail, crashes and
// reopens, checked against what was acknowledged. The keyed store (the layout of an
// IndexedDB log) runs over a `KeyedImage` that applies each flush's journal as one
// transaction, loading batches only when read; the file store over memory files that keep
// what was synced apart from what was written, with failures injected at every step.
//
// Invariants: an acknowledged record (its flush succeeded) is never lost and never moves;
// offsets are contiguous from 0; readers never see what is not durable; a failed flush fails
// every send queued behind it, and the offsets after the durable end are handed out again.

use brook::{
    Change, FileStore, FlushStatus, Header, KeyedImage, KeyedStore, Log, LogOptions, ManualClock,
    MemoryFiles, Message, PartitionerKind, Record, RecordInput, Step, TopicConfig, FETCH_BYTES_MAX,
};
use proptest::prelude::*;

const NOW: i64 = 1_700_000_000_000;

fn options() -> LogOptions {
    LogOptions {
        cache_bytes: 4096,
        ..LogOptions::new(Box::new(ManualClock::new(NOW)), 11)
    }
}

/// Answers every load the store queued from the durable image.
fn supply(store: &KeyedStore, image: &KeyedImage) {
    for load in store.take_loads() {
        let (run, reached_end) = image.load(&load);
        store.supply(&load, run, reached_end);
    }
}

/// A flush's transaction committed: the image holds its journal, and the log hears so.
fn flush_committed(log: &mut Log, store: &KeyedStore, image: &mut KeyedImage, journal: &[Change]) {
    image.apply(journal);
    store.flush_done();
    log.flush_completed(true);
}

/// Flushes what was sent and lets the transaction commit (nothing to do when it wrote nothing).
fn flush_now(log: &mut Log, store: &KeyedStore, image: &mut KeyedImage) {
    if let FlushStatus::Started = log.flush(true).unwrap() {
        flush_committed(log, store, image, &store.take_flush().unwrap());
    }
}

/// A flush's transaction failed (quota): the log hears so and, as the bindings do, reloads
/// what is durable; returns the store it reads now.
fn flush_failed(log: &mut Log, image: &KeyedImage) -> KeyedStore {
    log.flush_completed(false);
    let reloaded = KeyedStore::persisted(KeyedImage {
        batches: Default::default(),
        ..image.clone()
    });
    log.replace_store(Box::new(reloaded.clone())).unwrap();
    while log.finish_open().unwrap() == Step::Pending {
        supply(&reloaded, image);
    }
    reloaded
}

/// Opens a log over the durable image, as the bindings do (loads answered until it is open).
fn open_keyed(image: &KeyedImage) -> (Log, KeyedStore) {
    let store = KeyedStore::persisted(KeyedImage {
        batches: Default::default(),
        ..image.clone()
    });
    let mut log = Log::open_started(Box::new(store.clone()), options()).unwrap();
    for _ in 0..1000 {
        match log.finish_open().unwrap() {
            Step::Ready(()) => return (log, store),
            Step::Pending => supply(&store, image),
        }
    }
    panic!("the open never finished");
}

/// Opens a log over the durable image with no cache at all: every batch read is loaded.
fn open_keyed_uncached(image: &KeyedImage, clock_step: i64, seed: u64) -> (Log, KeyedStore) {
    let keyed = KeyedStore::persisted(KeyedImage {
        batches: Default::default(),
        ..image.clone()
    });
    let options = LogOptions {
        cache_bytes: 0,
        ..LogOptions::new(Box::new(ManualClock::new(NOW + clock_step)), seed)
    };
    let mut log = Log::open_started(Box::new(keyed.clone()), options).unwrap();
    while log.finish_open().unwrap() == Step::Pending {
        supply(&keyed, image);
    }
    (log, keyed)
}

/// Every durable record of partition `p`: (offset, value), reading through loads.
fn read_all(
    log: &mut Log,
    store: Option<(&KeyedStore, &KeyedImage)>,
    p: u32,
) -> Vec<(i64, Vec<u8>)> {
    let mut records = Vec::new();
    let mut next = 0;
    for _ in 0..100_000 {
        let step = log
            .read("t", p, next, 7, FETCH_BYTES_MAX, &mut |r| {
                records.push((r.offset, r.value.unwrap_or_default().to_vec()))
            })
            .unwrap();
        match step {
            Step::Ready(outcome) if outcome.next_offset == next => return records,
            Step::Ready(outcome) => next = outcome.next_offset,
            Step::Pending => {
                let (store, image) = store.expect("only a keyed store waits");
                supply(store, image);
            }
        }
    }
    panic!("reading never ended");
}

#[derive(Clone, Debug)]
enum Operation {
    Send {
        partition: u32,
        count: u8,
        size: u16,
    },
    /// Flush; an asynchronous one commits (true) or fails (false), after the sends made
    /// while it is in flight (partition, count, size).
    Flush {
        commits: bool,
        sends_in_flight: Vec<(u32, u8, u16)>,
    },
    Crash,
    Reopen,
}

fn operation() -> impl Strategy<Value = Operation> {
    prop_oneof![
        6 => (0u32..3, 1u8..5, 0u16..400).prop_map(|(partition, count, size)| Operation::Send { partition, count, size }),
        3 => sends_in_flight().prop_map(|sends_in_flight| Operation::Flush { commits: true, sends_in_flight }),
        1 => sends_in_flight().prop_map(|sends_in_flight| Operation::Flush { commits: false, sends_in_flight }),
        1 => Just(Operation::Crash),
        1 => Just(Operation::Reopen),
    ]
}

/// Mostly none: the partitions a flush writes are not always those sent to while it runs.
fn sends_in_flight() -> impl Strategy<Value = Vec<(u32, u8, u16)>> {
    prop_oneof![
        2 => Just(Vec::new()),
        1 => proptest::collection::vec((0u32..3, 1u8..4, 0u16..400), 1..4),
    ]
}

fn small_segments() -> TopicConfig {
    TopicConfig {
        segment_bytes: 2048,
        ..TopicConfig::default()
    }
}

/// The model: per partition, acknowledged values (their flush succeeded), those of the flush
/// in flight, and pending ones.
#[derive(Default)]
struct Model {
    acknowledged: Vec<Vec<Vec<u8>>>,
    flushing: Vec<Vec<Vec<u8>>>,
    pending: Vec<Vec<Vec<u8>>>,
    counter: u32,
}

impl Model {
    fn new() -> Model {
        Model {
            acknowledged: vec![Vec::new(); 3],
            flushing: vec![Vec::new(); 3],
            pending: vec![Vec::new(); 3],
            counter: 0,
        }
    }

    fn values(&mut self, count: u8, size: u16) -> Vec<Vec<u8>> {
        (0..count)
            .map(|_| {
                self.counter += 1;
                let mut v = self.counter.to_be_bytes().to_vec();
                v.resize(4 + size as usize, b'x');
                v
            })
            .collect()
    }

    fn acknowledge(&mut self) {
        for p in 0..3 {
            let pending = std::mem::take(&mut self.pending[p]);
            self.acknowledged[p].extend(pending);
        }
    }

    /// An asynchronous flush started: what was pending is in it.
    fn flush_started(&mut self) {
        std::mem::swap(&mut self.flushing, &mut self.pending);
    }

    /// The flush in flight committed; sends made meanwhile wait for the next.
    fn flush_committed(&mut self) {
        for p in 0..3 {
            let flushed = std::mem::take(&mut self.flushing[p]);
            self.acknowledged[p].extend(flushed);
        }
    }

    /// Everything not durable fails, sends made while a flush was in flight too.
    fn fail(&mut self) {
        for values in self.flushing.iter_mut().chain(&mut self.pending) {
            values.clear();
        }
    }
}

fn send(
    log: &mut Log,
    model: &mut Model,
    partition: u32,
    count: u8,
    size: u16,
) -> Result<(), TestCaseError> {
    let values = model.values(count, size);
    let messages: Vec<Message> = values
        .iter()
        .map(|v| Message {
            record: RecordInput {
                value: Some(v),
                ..Default::default()
            },
            partition: Some(partition),
        })
        .collect();
    let mut producer = log.producer(PartitionerKind::Default);
    let placed = log.send(&mut producer, "t", &messages).unwrap();
    let p = partition as usize;
    let expected =
        (model.acknowledged[p].len() + model.flushing[p].len() + model.pending[p].len()) as i64;
    prop_assert_eq!(
        placed[0].offset,
        expected,
        "offsets go on from the last one handed out"
    );
    model.pending[p].extend(values);
    Ok(())
}

fn check(
    log: &mut Log,
    store: Option<(&KeyedStore, &KeyedImage)>,
    model: &Model,
) -> Result<(), TestCaseError> {
    for p in 0..3u32 {
        let records = read_all(log, store, p);
        let acknowledged = &model.acknowledged[p as usize];
        prop_assert_eq!(
            records.len(),
            acknowledged.len(),
            "partition {}: readers see what is durable",
            p
        );
        for (index, (offset, value)) in records.iter().enumerate() {
            prop_assert_eq!(*offset, index as i64);
            prop_assert_eq!(value, &acknowledged[index]);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// IndexedDB's model: one transaction per flush, the journal kept until it commits, a
    /// failed one reloads what is durable; crashes lose the flush in flight, nothing else.
    #[test]
    fn the_keyed_store_never_loses_or_moves_an_acknowledged_record(operations in proptest::collection::vec(operation(), 1..40)) {
        let mut image = KeyedImage::default();
        let (mut log, mut store) = open_keyed(&image);
        log.create_topic("t", 3, small_segments()).unwrap();
        // The topic's creation is durable once its flush commits.
        flush_now(&mut log, &store, &mut image);
        let mut model = Model::new();
        for operation in operations {
            match operation {
                Operation::Send { partition, count, size } => send(&mut log, &mut model, partition, count, size)?,
                Operation::Flush { commits, sends_in_flight } => match log.flush(true).unwrap() {
                    FlushStatus::Started => {
                        let journal = store.take_flush().unwrap();
                        model.flush_started();
                        // A send made while the flush is in flight waits for the next one.
                        for (partition, count, size) in sends_in_flight {
                            send(&mut log, &mut model, partition, count, size)?;
                        }
                        prop_assert_eq!(log.flush(true).unwrap(), FlushStatus::Busy);
                        if commits {
                            flush_committed(&mut log, &store, &mut image, &journal);
                            model.flush_committed();
                        } else {
                            // Refused (quota): everything not durable fails; the log reloads.
                            store = flush_failed(&mut log, &image);
                            model.fail();
                        }
                    }
                    FlushStatus::Done => model.acknowledge(),
                    FlushStatus::Busy => prop_assert!(false, "no flush was in flight"),
                },
                Operation::Crash => {
                    std::mem::forget(log);
                    model.fail();
                    (log, store) = open_keyed(&image);
                }
                Operation::Reopen => {
                    flush_now(&mut log, &store, &mut image);
                    model.acknowledge();
                    log.close().unwrap();
                    (log, store) = open_keyed(&image);
                }
            }
            check(&mut log, Some((&store, &image)), &model)?;
        }
    }

    /// The file store: fsync per flush; crashes keep what was synced and maybe part of the
    /// rest (a torn tail); I/O fails from a random step on, for a while.
    #[test]
    fn the_file_store_never_loses_or_moves_an_acknowledged_record(
        operations in proptest::collection::vec(operation(), 1..40),
        fail_at in proptest::option::of(0u64..200),
        torn in 0usize..500,
    ) {
        let mut files = MemoryFiles::with_crash_simulation();
        let open = |files: &MemoryFiles| Log::open(Box::new(FileStore::new(Box::new(files.clone()))), options()).unwrap();
        let mut log = open(&files);
        log.create_topic("t", 3, small_segments()).unwrap();
        let mut model = Model::new();
        let mut uncertain: Vec<Vec<Vec<u8>>> = vec![Vec::new(); 3];
        if let Some(count) = fail_at {
            files.fail_after(count);
        }
        for operation in operations {
            match operation {
                Operation::Send { partition, count, size } => {
                    let values = model.values(count, size);
                    let messages: Vec<Message> = values.iter().map(|v| Message {
                        record: RecordInput { value: Some(v), ..Default::default() },
                        partition: Some(partition),
                    }).collect();
                    let mut producer = log.producer(PartitionerKind::Default);
                    match log.send(&mut producer, "t", &messages) {
                        Ok(placed) => {
                            let p = partition as usize;
                            let expected = (model.acknowledged[p].len() + model.pending[p].len()) as i64;
                            prop_assert_eq!(placed[0].offset, expected);
                            // A failed flush's offsets are handed out again: its records are
                            // gone for good now (or the partition would refuse writes).
                            uncertain[p].clear();
                            model.pending[p].extend(values);
                        }
                        Err(error) => prop_assert_eq!(error.code(), "IO_ERROR"),
                    }
                }
                Operation::Flush { .. } => match log.flush(true) {
                    Ok(status) => {
                        prop_assert_eq!(status, FlushStatus::Done);
                        model.acknowledge();
                    }
                    // Some of a failed flush may have reached the disk (a sync that succeeded
                    // before the one that failed, and an undo that could not run): its sends
                    // failed, but a crash may show their records.
                    Err(_) => {
                        for (uncertain, pending) in uncertain.iter_mut().zip(&mut model.pending) {
                            uncertain.append(pending);
                        }
                    }
                },
                Operation::Crash | Operation::Reopen => {
                    // A crash in both cases (a reopen under injected failures is one too).
                    std::mem::forget(log);
                    files.heal();
                    files = files.crash_image(|_, unsynced| torn.min(unsynced));
                    log = open(&files);
                    // What was never acknowledged may or may not have reached the disk: take
                    // the log's word for it, but never below what was acknowledged.
                    for p in 0..3u32 {
                        let high = log.offsets("t").unwrap()[p as usize].high as usize;
                        prop_assert!(high >= model.acknowledged[p as usize].len(), "partition {} lost acknowledged records", p);
                        let kept = high - model.acknowledged[p as usize].len();
                        let mut survivors: Vec<Vec<u8>> = std::mem::take(&mut uncertain[p as usize]);
                        survivors.append(&mut model.pending[p as usize]);
                        prop_assert!(kept <= survivors.len(), "partition {}: {} records appeared from nowhere", p, kept);
                        survivors.truncate(kept);
                        model.acknowledged[p as usize].extend(survivors);
                    }
                    model.fail();
                    continue;
                }
            }
            if !files_failing(&fail_at) {
                check(&mut log, None, &model)?;
            }
        }
        files.heal();
        std::mem::forget(log);
        let mut log = open(&files.crash_image(|_, _| 0));
        for p in 0..3u32 {
            let records = read_all(&mut log, None, p);
            let acknowledged = &model.acknowledged[p as usize];
            prop_assert!(records.len() >= acknowledged.len(), "partition {}: acknowledged records survive a crash", p);
            for (index, value) in acknowledged.iter().enumerate() {
                prop_assert_eq!(&records[index].1, value);
            }
        }
    }
}

fn files_failing(fail_at: &Option<u64>) -> bool {
    fail_at.is_some()
}

#[test]
fn a_refused_big_flush_then_a_small_one_loses_nothing_acknowledged() {
    // The sequence that lost data before: a large flush refused (quota) while a small send
    // to the same partition waits behind it; the small one must fail too (it was queued
    // behind the refused one), and after the reload offsets go on from what is durable.
    let mut image = KeyedImage::default();
    let (mut log, mut store) = open_keyed(&image);
    log.create_topic("t", 3, TopicConfig::default()).unwrap();
    assert_eq!(log.flush(true).unwrap(), FlushStatus::Started);
    image.apply(&store.take_flush().unwrap());
    store.flush_done();
    log.flush_completed(true);
    let mut producer = log.producer(PartitionerKind::Default);
    let send = |log: &mut Log, producer: &mut brook::Producer, value: &[u8]| {
        log.send(
            producer,
            "t",
            &[Message {
                record: RecordInput {
                    value: Some(value),
                    ..Default::default()
                },
                partition: Some(0),
            }],
        )
        .unwrap()[0]
            .offset
    };
    for i in 0..5 {
        assert_eq!(
            send(&mut log, &mut producer, format!("small {i}").as_bytes()),
            i
        );
    }
    assert_eq!(log.flush(true).unwrap(), FlushStatus::Started);
    image.apply(&store.take_flush().unwrap());
    store.flush_done();
    log.flush_completed(true);
    let big = vec![9u8; 1_000_000];
    assert_eq!(send(&mut log, &mut producer, &big), 5);
    assert_eq!(log.flush(true).unwrap(), FlushStatus::Started);
    let _refused = store.take_flush().unwrap();
    // Queued behind the refused flush.
    assert_eq!(send(&mut log, &mut producer, b"behind"), 6);
    assert_eq!(log.flush(true).unwrap(), FlushStatus::Busy);
    log.flush_completed(false);
    let reloaded = KeyedStore::persisted(KeyedImage {
        batches: Default::default(),
        ..image.clone()
    });
    log.replace_store(Box::new(reloaded.clone())).unwrap();
    store = reloaded;
    while log.finish_open().unwrap() == Step::Pending {
        supply(&store, &image);
    }
    // Offsets go on from the durable end: 5 again, and nothing acknowledged is missing.
    assert_eq!(send(&mut log, &mut producer, b"after"), 5);
    assert_eq!(log.flush(true).unwrap(), FlushStatus::Started);
    image.apply(&store.take_flush().unwrap());
    store.flush_done();
    log.flush_completed(true);
    let (mut log, store) = open_keyed(&image);
    let records = read_all(&mut log, Some((&store, &image)), 0);
    let values: Vec<&[u8]> = records.iter().map(|(_, v)| &v[..]).collect();
    assert_eq!(
        values,
        vec![
            &b"small 0"[..],
            b"small 1",
            b"small 2",
            b"small 3",
            b"small 4",
            b"after"
        ]
    );
}

#[test]
fn an_in_memory_log_holds_little_more_than_its_records() {
    let store = KeyedStore::in_memory();
    let mut log = Log::open(Box::new(store.clone()), options()).unwrap();
    log.create_topic("t", 1, TopicConfig::default()).unwrap();
    let mut producer = log.producer(PartitionerKind::Default);
    let value = vec![b'v'; 100];
    let key = b"key-1234".to_vec();
    for _ in 0..100 {
        let messages: Vec<Message> = (0..1000)
            .map(|_| Message {
                record: RecordInput {
                    key: Some(&key),
                    value: Some(&value),
                    ..Default::default()
                },
                partition: None,
            })
            .collect();
        log.send(&mut producer, "t", &messages).unwrap();
        log.flush(true).unwrap();
    }
    // 100,000 records of 108 bytes of payload: the batches hold about 118 per record.
    let per_record = store.bytes_held() as f64 / 100_000.0;
    assert!(per_record < 125.0, "{per_record} bytes per record");
}

#[test]
fn an_in_memory_log_sent_one_record_at_a_time_merges_its_batches_and_reads_back_every_record_as_sent(
) {
    // Each send of one record is its own batch (61 bytes of header); a memory log merges them
    // 16 at a time. A reader that stops inside the batches being merged goes on where it was.
    for segment_bytes in [TopicConfig::default().segment_bytes, 4000] {
        let store = KeyedStore::in_memory();
        let mut log = Log::open(Box::new(store.clone()), options()).unwrap();
        let config = TopicConfig {
            segment_bytes,
            ..TopicConfig::default()
        };
        log.create_topic("t", 1, config).unwrap();
        let mut producer = log.producer(PartitionerKind::Default);
        let headers = [
            Header {
                key: "h",
                value: Some(b"v"),
            },
            Header {
                key: "none",
                value: None,
            },
        ];
        let mut expected = Vec::new();
        let mut read = Vec::new();
        for i in 0..100i64 {
            let key = format!("key-{i}");
            let value = vec![b'a' + (i % 26) as u8; (i as usize * 7) % 120];
            let record = RecordInput {
                key: (i % 5 != 0).then_some(key.as_bytes()),
                value: (i % 7 != 3).then_some(&value[..]),
                headers: if i % 3 == 0 { &headers } else { &[] },
                // Out of order, and some far in the past: deltas of either sign.
                timestamp: Some(NOW + (i * 7919) % 200 - 100 - (i % 11 == 0) as i64 * 86_400_000),
            };
            let placed = log
                .send(
                    &mut producer,
                    "t",
                    &[Message {
                        record,
                        partition: None,
                    }],
                )
                .unwrap();
            assert_eq!(placed[0].offset, i);
            log.flush(true).unwrap();
            expected.push(Record {
                offset: i,
                timestamp: record.timestamp.unwrap(),
                key: record.key.map(<[u8]>::to_vec),
                value: record.value.map(<[u8]>::to_vec),
                headers: record
                    .headers
                    .iter()
                    .map(|h| (h.key.to_owned(), h.value.map(<[u8]>::to_vec)))
                    .collect(),
            });
            // A reader one record a send behind keeps cursors to batches about to be merged.
            if i % 2 == 1 {
                read.extend(log.read_records("t", 0, read.len() as i64, 1).unwrap());
            }
        }
        read.extend(log.read_records("t", 0, read.len() as i64, 1000).unwrap());
        assert_eq!(
            read, expected,
            "read while sending, segments of {segment_bytes}"
        );
        assert_eq!(log.read_records("t", 0, 0, 1000).unwrap(), expected);
        for from in [0, 15, 16, 17, 50, 95, 99] {
            assert_eq!(
                log.read_records("t", 0, from, 1000).unwrap(),
                expected[from as usize..],
                "from {from}"
            );
        }
        let image = store.memory_image();
        let mut batches = 0;
        for (key, bytes) in image.batches.iter() {
            let batch = brook::verify_batch(bytes).unwrap();
            assert_eq!(batch.base_offset(), key.base_offset);
            batches += 1;
        }
        if segment_bytes == TopicConfig::default().segment_bytes {
            assert_eq!(
                batches,
                100 / 16 + 100 % 16,
                "16 at a time, the last 4 not yet"
            );
        } else {
            assert!(
                batches < 50,
                "{batches} batches in segments of {segment_bytes}"
            );
        }
        // What the log counts agrees with what the store holds.
        let held: usize = image.batches.values().map(|b| b.len()).sum();
        let summaries: u64 = image.segments.values().map(|s| s.size).sum();
        assert_eq!(held as u64, summaries);
    }
}

#[derive(Clone, Debug)]
enum MemoryOp {
    /// Send this many records, of this value size, to a partition.
    Send(u32, usize, usize),
    /// Read a partition from this share of its records, at most this many.
    Read(u32, f64, u32),
    /// Read on from where the last read of a partition stopped, as a consumer does.
    Next(u32, u32),
}

fn memory_op() -> impl Strategy<Value = MemoryOp> {
    prop_oneof![
        // Small sends (merged), and now and then one too large to merge, which ends a run.
        6 => (0..3u32, 1..4usize, 0..120usize).prop_map(|(p, n, size)| MemoryOp::Send(p, n, size)),
        1 => (0..3u32, 1..4usize, 300..400usize).prop_map(|(p, n, size)| MemoryOp::Send(p, n, size)),
        1 => (0..3u32, 0.0..1.0f64, 1..40u32).prop_map(|(p, at, max)| MemoryOp::Read(p, at, max)),
        2 => (0..3u32, 1..4u32).prop_map(|(p, max)| MemoryOp::Next(p, max)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// Small sends to a memory log, whose batches are merged 16 at a time, with reads from
    /// anywhere in between (their cursors land inside batches about to be merged) and
    /// segments that roll: every read gives exactly the records sent there, in order.
    #[test]
    fn a_memory_log_merging_small_batches_reads_back_what_was_sent(
        ops in proptest::collection::vec(memory_op(), 1..300),
        segment_bytes in prop_oneof![Just(3_000u64), Just(TopicConfig::default().segment_bytes)],
    ) {
        let store = KeyedStore::in_memory();
        let mut log = Log::open(Box::new(store.clone()), options()).unwrap();
        let config = TopicConfig { segment_bytes, ..TopicConfig::default() };
        log.create_topic("t", 3, config).unwrap();
        let mut producer = log.producer(PartitionerKind::Default);
        let mut model: Vec<Vec<Vec<u8>>> = vec![Vec::new(); 3];
        let mut next = [0usize; 3];
        for op in ops {
            match op {
                MemoryOp::Send(partition, count, size) => {
                    let values: Vec<Vec<u8>> = (0..count)
                        .map(|i| {
                            let n = model[partition as usize].len() + i;
                            let mut value = format!("{partition}-{n}-").into_bytes();
                            value.resize(value.len() + size, b'a' + (n % 26) as u8);
                            value
                        })
                        .collect();
                    let messages: Vec<Message> = values
                        .iter()
                        .map(|v| Message {
                            record: RecordInput { value: Some(v), ..Default::default() },
                            partition: Some(partition),
                        })
                        .collect();
                    log.send(&mut producer, "t", &messages).unwrap();
                    log.flush(true).unwrap();
                    model[partition as usize].extend(values);
                }
                MemoryOp::Read(_, _, max) | MemoryOp::Next(_, max) => {
                    let (partition, from) = match op {
                        MemoryOp::Read(partition, at, _) => {
                            (partition, (at * model[partition as usize].len() as f64) as usize)
                        }
                        MemoryOp::Next(partition, _) => (partition, next[partition as usize]),
                        MemoryOp::Send(..) => unreachable!(),
                    };
                    let sent = &model[partition as usize];
                    let records = log.read_records("t", partition, from as i64, max).unwrap();
                    let expected = &sent[from..sent.len().min(from + max as usize)];
                    prop_assert_eq!(records.len(), expected.len());
                    next[partition as usize] = from + records.len();
                    for (index, (record, value)) in records.iter().zip(expected).enumerate() {
                        prop_assert_eq!(record.offset, (from + index) as i64);
                        prop_assert_eq!(record.value.as_deref(), Some(&value[..]));
                    }
                }
            }
        }
        for (partition, sent) in model.iter().enumerate() {
            let records = log.read_records("t", partition as u32, 0, 100_000).unwrap();
            let values: Vec<&[u8]> = records.iter().filter_map(|r| r.value.as_deref()).collect();
            let expected: Vec<&[u8]> = sent.iter().map(Vec::as_slice).collect();
            prop_assert_eq!(values, expected);
        }
        for bytes in store.memory_image().batches.values() {
            prop_assert!(brook::verify_batch(bytes).is_ok());
        }
    }
}

#[test]
fn compaction_of_a_partition_larger_than_the_cache_resumes_across_loads() {
    // Compaction reads the whole partition twice; with IndexedDB each read may wait for a
    // load. A pass that started over after every load would never finish: it resumes.
    let mut image = KeyedImage::default();
    let (mut log, mut store) = open_keyed(&image);
    let config = TopicConfig {
        cleanup_policy: brook::CleanupPolicy::Compact,
        segment_bytes: 2048,
        delete_retention_ms: 0,
        ..TopicConfig::default()
    };
    log.create_topic("t", 1, config).unwrap();
    flush_now(&mut log, &store, &mut image);
    let mut producer = log.producer(PartitionerKind::Default);
    for i in 0..600 {
        let key = format!("k{}", i % 10);
        let value = format!("v{i}-{}", "x".repeat(60));
        let message = Message {
            record: RecordInput {
                key: Some(key.as_bytes()),
                value: Some(value.as_bytes()),
                ..Default::default()
            },
            partition: Some(0),
        };
        log.send(&mut producer, "t", &[message]).unwrap();
        if i % 5 == 4 {
            flush_now(&mut log, &store, &mut image);
        }
    }
    flush_now(&mut log, &store, &mut image);
    log.close().unwrap();
    // Reopened with no cache at all: every batch must be loaded to be read.
    (log, store) = open_keyed_uncached(&image, 1, 12);
    let mut changed = None;
    for _ in 0..10_000 {
        match log.maintain().unwrap() {
            Step::Ready(count) => {
                changed = Some(count);
                break;
            }
            Step::Pending => supply(&store, &image),
        }
    }
    let changed = changed.expect("compaction finished");
    assert!(changed > 5, "sealed segments were rewritten: {changed}");
    flush_now(&mut log, &store, &mut image);
    let (mut log, store) = open_keyed(&image);
    let records = read_all(&mut log, Some((&store, &image)), 0);
    assert!(
        records.len() < 100,
        "superseded records are gone: {}",
        records.len()
    );
    for (index, key) in (590..600).enumerate() {
        let wanted = format!("v{key}-{}", "x".repeat(60));
        assert!(
            records
                .iter()
                .any(|(offset, value)| *offset == key && value == wanted.as_bytes()),
            "the latest value of k{index} is kept at its offset"
        );
    }
    assert_eq!(log.offsets("t").unwrap()[0].high, 600);
}

#[test]
fn a_topic_deleted_in_the_keyed_store_is_gone_after_a_reload_and_a_new_one_of_its_name_starts_empty(
) {
    // IndexedDB's store: the deletion is journalled (manifest, segments, batches) and lands
    // with one flush; a reload from the durable image agrees, with no batch of it left.
    let mut image = KeyedImage::default();
    let (mut log, store) = open_keyed(&image);
    let flush = |log: &mut Log, image: &mut KeyedImage| {
        while log.flush(true).unwrap() == FlushStatus::Started {
            image.apply(&store.take_flush().unwrap());
            store.flush_done();
            log.flush_completed(true);
        }
    };
    log.create_topic("t", 2, TopicConfig::default()).unwrap();
    log.create_topic("kept", 1, TopicConfig::default()).unwrap();
    let mut producer = log.producer(PartitionerKind::Default);
    for topic in ["t", "kept"] {
        let message = Message {
            record: RecordInput {
                value: Some(b"v"),
                ..Default::default()
            },
            partition: Some(0),
        };
        log.send(&mut producer, topic, &[message]).unwrap();
    }
    flush(&mut log, &mut image);
    let batches_before = image.batches.len();
    for _ in 0..10 {
        if log.delete_topic("t").unwrap() {
            break;
        }
        flush(&mut log, &mut image);
    }
    flush(&mut log, &mut image);
    assert!(
        image.batches.len() < batches_before,
        "t's batch is gone from the image"
    );
    let (mut reloaded, _store) = open_keyed(&image);
    assert_eq!(
        reloaded.partition_count("t").unwrap_err().code(),
        "UNKNOWN_TOPIC"
    );
    assert_eq!(reloaded.offsets("kept").unwrap()[0].high, 1);
    reloaded
        .create_topic("t", 2, TopicConfig::default())
        .unwrap();
    assert_eq!(reloaded.offsets("t").unwrap()[0].high, 0);
}

/// What the compaction model does: keyed sends (some tombstones), flushes, compaction passes,
/// and IndexedDB reads that are answered late — after sends, flushes and compaction moved on,
/// as an asynchronous `loadPending` is — from the image as it was when the read began.
#[derive(Clone, Debug)]
enum CompactionStep {
    Send {
        key: u8,
        tombstone: bool,
        count: u8,
    },
    /// A flush's transaction starts; sends, reads and compaction go on while it runs.
    StartFlush,
    /// The transaction in flight commits or fails.
    EndFlush {
        commits: bool,
    },
    Maintain,
    /// The loads queued so far go to a read transaction of the image as it is now.
    TakeLoads,
    /// The read transactions taken earlier answer now.
    AnswerLoads,
    Read,
    Reopen,
    Crash,
}

fn compaction_step() -> impl Strategy<Value = CompactionStep> {
    prop_oneof![
        8 => (0u8..5, proptest::bool::weighted(0.15), 1u8..6)
            .prop_map(|(key, tombstone, count)| CompactionStep::Send { key, tombstone, count }),
        4 => Just(CompactionStep::StartFlush),
        4 => Just(CompactionStep::EndFlush { commits: true }),
        1 => Just(CompactionStep::EndFlush { commits: false }),
        4 => Just(CompactionStep::Maintain),
        3 => Just(CompactionStep::TakeLoads),
        3 => Just(CompactionStep::AnswerLoads),
        2 => Just(CompactionStep::Read),
        1 => Just(CompactionStep::Reopen),
        1 => Just(CompactionStep::Crash),
    ]
}

/// Per offset, the acknowledged (key, value) — None for a tombstone —, those of the flush in
/// flight, and those sent since.
#[derive(Default)]
struct CompactedModel {
    acknowledged: Vec<(u8, Option<Vec<u8>>)>,
    in_flight: Vec<(u8, Option<Vec<u8>>)>,
    pending: Vec<(u8, Option<Vec<u8>>)>,
}

impl CompactedModel {
    fn sent(&self) -> usize {
        self.acknowledged.len() + self.in_flight.len() + self.pending.len()
    }

    /// A flush of everything sent so far committed (none was in flight).
    fn acknowledge(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        self.acknowledged.extend(pending);
    }

    /// A failed flush, or a crash: what was not durable is gone, its offsets handed out again.
    fn lose_unflushed(&mut self) {
        self.in_flight.clear();
        self.pending.clear();
    }
}

/// Reads partition 0 of "t" whole (loads answered at once): (offset, key, value) per record.
fn read_compacted(
    log: &mut Log,
    store: &KeyedStore,
    image: &KeyedImage,
) -> Vec<(i64, Vec<u8>, Option<Vec<u8>>)> {
    let mut records = Vec::new();
    let mut next = 0;
    for _ in 0..100_000 {
        let step = log
            .read("t", 0, next, 5, FETCH_BYTES_MAX, &mut |r| {
                records.push((
                    r.offset,
                    r.key.unwrap_or_default().to_vec(),
                    r.value.map(<[u8]>::to_vec),
                ))
            })
            .unwrap();
        match step {
            Step::Ready(outcome) if outcome.next_offset == next => return records,
            Step::Ready(outcome) => next = outcome.next_offset,
            Step::Pending => supply(store, image),
        }
    }
    let mut trace = Vec::new();
    for _ in 0..5 {
        let step = log
            .read("t", 0, next, 5, FETCH_BYTES_MAX, &mut |_| {})
            .unwrap();
        trace.push(format!("{next}: {step:?} loads {:?}", store.take_loads()));
    }
    let stored: Vec<_> = image
        .batches
        .keys()
        .map(|k| (k.partition.partition, k.base_offset))
        .collect();
    let segments: Vec<_> = image
        .segments
        .iter()
        .map(|(k, s)| (k.partition.partition, s.base_offset, s.next_offset))
        .collect();
    panic!(
        "reading never ended: {trace:#?} {:?} stored {stored:?} segments {segments:?}",
        log.offsets("t")
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Compaction over the keyed store keeps every key's latest acknowledged record at its
    /// offset, and never hands out a record that was not acknowledged at that offset — also
    /// when the batches it asked for arrive late, after the log moved on (a flush, a failed
    /// flush's reload, a compaction pass), from the database as it was when the read began.
    #[test]
    fn compaction_over_late_loads_keeps_the_latest_record_of_every_key(
        steps in proptest::collection::vec(compaction_step(), 1..150)
    ) {
        run_compaction(steps)?;
    }
}

/// Runs the compaction model's steps, checking after each one what a whole read returns.
fn run_compaction(steps: Vec<CompactionStep>) -> Result<(), TestCaseError> {
    let config = TopicConfig {
        cleanup_policy: brook::CleanupPolicy::Compact,
        segment_bytes: 1024,
        ..TopicConfig::default()
    };
    let mut image = KeyedImage::default();
    let (mut log, mut store) = open_keyed(&image);
    log.create_topic("t", 1, config).unwrap();
    flush_now(&mut log, &store, &mut image);
    let mut model = CompactedModel::default();
    // Loads taken by read transactions not answered yet, with the image each one reads.
    let mut taken: Vec<(KeyedStore, Vec<brook::Load>, KeyedImage)> = Vec::new();
    // The journal of the flush whose transaction is running.
    let mut journal: Option<Vec<Change>> = None;
    let mut counter = 0u32;
    for step in steps {
        match step {
            CompactionStep::Send {
                key,
                tombstone,
                count,
            } => {
                let values: Vec<Option<Vec<u8>>> = (0..count)
                    .map(|_| {
                        counter += 1;
                        (!tombstone).then(|| format!("{counter}-{}", "v".repeat(40)).into_bytes())
                    })
                    .collect();
                let key_bytes = [b'k', b'0' + key];
                let messages: Vec<Message> = values
                    .iter()
                    .map(|value| Message {
                        record: RecordInput {
                            key: Some(&key_bytes),
                            value: value.as_deref(),
                            ..Default::default()
                        },
                        partition: Some(0),
                    })
                    .collect();
                let mut producer = log.producer(PartitionerKind::Default);
                let placed = log.send(&mut producer, "t", &messages).unwrap();
                prop_assert_eq!(placed[0].offset, model.sent() as i64);
                model.pending.extend(values.into_iter().map(|v| (key, v)));
            }
            CompactionStep::StartFlush => {
                if journal.is_none() {
                    match log.flush(true).unwrap() {
                        FlushStatus::Started => {
                            journal = Some(store.take_flush().unwrap());
                            model.in_flight = std::mem::take(&mut model.pending);
                        }
                        FlushStatus::Done => model.acknowledge(),
                        FlushStatus::Busy => prop_assert!(false, "no flush was in flight"),
                    }
                }
            }
            CompactionStep::EndFlush { commits } => {
                if let Some(changes) = journal.take() {
                    if commits {
                        flush_committed(&mut log, &store, &mut image, &changes);
                        let flushed = std::mem::take(&mut model.in_flight);
                        model.acknowledged.extend(flushed);
                    } else {
                        store = flush_failed(&mut log, &image);
                        model.lose_unflushed();
                    }
                }
            }
            CompactionStep::Maintain => {
                log.maintain().unwrap();
            }
            CompactionStep::TakeLoads => {
                let loads = store.take_loads();
                if !loads.is_empty() {
                    taken.push((store.clone(), loads, image.clone()));
                }
            }
            CompactionStep::AnswerLoads => {
                for (to, loads, seen) in taken.drain(..) {
                    for load in loads {
                        let (run, reached_end) = seen.load(&load);
                        to.supply(&load, run, reached_end);
                    }
                }
            }
            CompactionStep::Read => {
                read_compacted(&mut log, &store, &image);
            }
            CompactionStep::Reopen => {
                // Close waits for the flush in flight (it commits), then flushes the rest.
                if let Some(changes) = journal.take() {
                    flush_committed(&mut log, &store, &mut image, &changes);
                    let flushed = std::mem::take(&mut model.in_flight);
                    model.acknowledged.extend(flushed);
                }
                flush_now(&mut log, &store, &mut image);
                model.acknowledge();
                log.close().unwrap();
                (log, store) = open_keyed(&image);
            }
            CompactionStep::Crash => {
                std::mem::forget(log);
                journal = None;
                model.lose_unflushed();
                (log, store) = open_keyed(&image);
            }
        }
        let records = read_compacted(&mut log, &store, &image);
        let mut last = -1;
        for (offset, key, value) in &records {
            prop_assert!(*offset > last, "offsets ascend: {} after {}", offset, last);
            last = *offset;
            let Some((wanted_key, wanted_value)) = model.acknowledged.get(*offset as usize) else {
                return Err(TestCaseError::fail(format!(
                    "offset {offset} was never acknowledged"
                )));
            };
            prop_assert_eq!(
                key,
                &vec![b'k', b'0' + wanted_key],
                "the key at offset {}",
                offset
            );
            prop_assert_eq!(value, wanted_value, "the value at offset {}", offset);
        }
        for key in 0..5u8 {
            if let Some(latest) = model.acknowledged.iter().rposition(|(k, _)| *k == key) {
                prop_assert!(
                    records
                        .iter()
                        .any(|(offset, _, _)| *offset == latest as i64),
                    "the latest record of k{} (offset {}) is kept",
                    key,
                    latest
                );
            }
        }
    }
    Ok(())
}

/// Sends of `counts` records each, all of key 0, in one step list.
fn sends(counts: &[u8]) -> Vec<CompactionStep> {
    counts
        .iter()
        .map(|&count| CompactionStep::Send {
            key: 0,
            tombstone: false,
            count,
        })
        .collect()
}

/// A case the property test found (CI, stop 22): after a close with a flush in flight, two
/// compaction passes and two more flushes, a read from 0 asked for the same load forever.
#[test]
fn compaction_after_reopens_and_flushes_reads_to_the_end() {
    use CompactionStep::*;
    let mut steps = sends(&[1]);
    steps.push(StartFlush);
    steps.extend(sends(&[4, 3, 1, 4, 4, 4, 1, 1, 2, 5, 3, 1, 4, 1]));
    steps.extend([Reopen, Maintain]);
    steps.extend(sends(&[5, 3]));
    steps.push(StartFlush);
    steps.extend(sends(&[5, 1, 1]));
    steps.push(Reopen);
    steps.extend(sends(&[1, 3, 1, 1, 5]));
    steps.extend([StartFlush, EndFlush { commits: true }, Maintain]);
    steps.extend(sends(&[4, 2, 4]));
    steps.extend([StartFlush, EndFlush { commits: true }]);
    steps.extend(sends(&[1]));
    run_compaction(steps).unwrap();
}

/// Another (after the fix of the case above): a read located a batch from a link that a load
/// of the database before compaction's flush committed had brought; the batch was gone, and
/// the read's cursor kept asking for it.
#[test]
fn compaction_after_a_merge_of_emptied_segments_reads_to_the_end() {
    use CompactionStep::*;
    let send = |key, count| Send {
        key,
        tombstone: false,
        count,
    };
    let steps = vec![
        send(3, 3),
        Reopen,
        send(0, 4),
        send(0, 5),
        Reopen,
        send(0, 4),
        send(2, 1),
        StartFlush,
        send(0, 2),
        send(0, 3),
        send(0, 2),
        send(0, 5),
        EndFlush { commits: true },
        send(4, 1),
        StartFlush,
        EndFlush { commits: true },
        Maintain,
        send(2, 1),
        Reopen,
        Maintain,
        StartFlush,
        EndFlush { commits: true },
    ];
    run_compaction(steps).unwrap();
}

#[test]
fn a_reader_finds_the_next_load_queued_before_it_needs_it_and_asks_for_none_twice() {
    // 40 batches of 100 KiB in one partition: ten to a load (1 MiB). Loads are answered one
    // step late, as the bindings' are (the consumer handles records meanwhile).
    let mut image = KeyedImage::default();
    let (mut log, store) = open_keyed(&image);
    log.create_topic("t", 1, TopicConfig::default()).unwrap();
    let mut producer = log.producer(PartitionerKind::Default);
    let value = vec![7u8; 100 * 1024];
    for _ in 0..40 {
        let message = Message {
            record: RecordInput {
                value: Some(&value),
                ..Default::default()
            },
            partition: Some(0),
        };
        log.send(&mut producer, "t", &[message]).unwrap();
        flush_now(&mut log, &store, &mut image);
    }
    log.close().unwrap();
    // As if compaction had emptied the segment's tail, 40..50 (the next segment would start
    // at 50): a load there finds nothing, and is asked for once.
    let first = brook::BatchKey {
        partition: brook::PartitionKey::new("t", 0),
        base_offset: 0,
    };
    image.segments.get_mut(&first).unwrap().next_offset = 50;
    let (mut log, keyed) = open_keyed_uncached(&image, 1, 12);
    // As IndexedDB answers: a run as long as the load's count of batches may not be the end.
    let answer = |loads: Vec<brook::Load>| {
        for load in loads {
            let (run, reached_end) = image.load(&load);
            let reached_end = reached_end && run.len() < load.batches_max as usize;
            keyed.supply(&load, run, reached_end);
        }
    };
    let (mut next, mut misses, mut read) = (0, 0, 0);
    let mut asked: Vec<i64> = Vec::new();
    let mut in_flight: Vec<brook::Load> = Vec::new();
    for _ in 0..1000 {
        if next >= 50 {
            break;
        }
        let step = log
            .read("t", 0, next, 1, FETCH_BYTES_MAX, &mut |_| read += 1)
            .unwrap();
        match step {
            Step::Ready(outcome) => {
                next = outcome.next_offset;
                answer(std::mem::take(&mut in_flight));
                in_flight = keyed.take_loads();
            }
            Step::Pending => {
                misses += 1;
                assert!(
                    keyed.has_loads(),
                    "a read that waits has a load to wait for"
                );
                let queued = keyed.take_loads();
                asked.extend(queued.iter().map(|l| l.offset));
                answer(std::mem::take(&mut in_flight));
                answer(queued);
                continue;
            }
        }
        asked.extend(in_flight.iter().map(|l| l.offset));
    }
    assert_eq!(read, 40);
    let mut distinct = asked.clone();
    distinct.dedup();
    assert_eq!(distinct, asked, "no load asked for twice: {asked:?}");
    assert_eq!(
        asked,
        [0, 10, 20, 30, 40],
        "ten batches to a load, and the emptied tail once"
    );
    // Only the first read waits: each later load was asked for half a load ahead.
    assert_eq!(misses, 1, "loads asked for: {asked:?}");
    assert!(!keyed.has_loads());
    // Every batch loaded was read, and none is held.
    assert_eq!(keyed.bytes_held(), 0);
    // A load from inside the emptied stretch brings batch 39 as its floor, for what follows
    // it; read already, it is not kept (it would stay unread).
    let load = brook::Load {
        partition: brook::PartitionKey::new("t", 0),
        segment_base: 0,
        segment_next: 50,
        offset: 45,
        bytes_max: brook::LOAD_BYTES_MAX,
        batches_max: 10,
        taken_at: 0,
    };
    let (run, reached_end) = image.load(&load);
    assert_eq!(run.iter().map(|(base, _)| *base).collect::<Vec<_>>(), [39]);
    keyed.supply(&load, run, reached_end);
    assert_eq!(keyed.bytes_held(), 0);

    // A load that fails is asked for again by the read that waits for it.
    let (mut log, keyed) = open_keyed_uncached(&image, 2, 13);
    let mut read_at_0 = || {
        log.read("t", 0, 0, 1, FETCH_BYTES_MAX, &mut |_| {})
            .unwrap()
    };
    assert_eq!(read_at_0(), Step::Pending);
    let failed = keyed.take_loads();
    assert_eq!(failed.len(), 1);
    assert_eq!(read_at_0(), Step::Pending);
    assert!(
        keyed.take_loads().is_empty(),
        "in flight: not asked for twice"
    );
    keyed.loads_failed(&failed);
    assert!(!keyed.has_loads());
    assert_eq!(read_at_0(), Step::Pending);
    assert_eq!(keyed.take_loads(), failed);
}
