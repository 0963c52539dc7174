// The log through its public API: topics, sends, reads, offsets, placement, segments,
// locking, errors, and recovery from crashes and corrupt tails, checked against a model.

use brook::{
    partition_for_key, Assignor, CleanupPolicy, ConsumerOptions, Error, FileStore, Files, FsFiles,
    Header, Log, LogOptions, ManualClock, MemoryFiles, Message, OffsetReset, PartitionerKind,
    Record, RecordInput, Step, TopicConfig,
};
use proptest::prelude::*;

const NOW: i64 = 1_700_000_000_000;

fn open(storage: &MemoryFiles) -> Result<Log, Error> {
    Log::open(
        Box::new(FileStore::new(Box::new(storage.clone()))),
        LogOptions::new(Box::new(ManualClock::new(NOW)), 1),
    )
}

/// What a reader sees: everything sent, once flushed (readers stop at the durable end).
fn read_durable(
    log: &mut Log,
    topic: &str,
    partition: u32,
    offset: i64,
    max: u32,
) -> Result<Vec<Record>, Error> {
    log.flush(true)?;
    log.read_records(topic, partition, offset, max)
}

fn value_message(value: &[u8]) -> Message<'_> {
    Message {
        record: RecordInput {
            value: Some(value),
            ..Default::default()
        },
        partition: None,
    }
}

fn to_partition(partition: u32, value: &[u8]) -> Message<'_> {
    Message {
        partition: Some(partition),
        ..value_message(value)
    }
}

fn small_segments() -> TopicConfig {
    TopicConfig {
        segment_bytes: 1024,
        ..TopicConfig::default()
    }
}

fn values(records: &[Record]) -> Vec<Vec<u8>> {
    records
        .iter()
        .map(|r| r.value.clone().unwrap_or_default())
        .collect()
}

#[test]
fn send_assigns_contiguous_offsets_per_partition_in_message_order() {
    let storage = MemoryFiles::new();
    let mut log = open(&storage).unwrap();
    log.create_topic("t", 2, TopicConfig::default()).unwrap();
    let mut producer = log.producer(PartitionerKind::Default);
    let messages = [
        to_partition(1, b"a"),
        to_partition(0, b"b"),
        to_partition(1, b"c"),
        to_partition(1, b"d"),
    ];
    let placed = log.send(&mut producer, "t", &messages).unwrap();
    let got: Vec<(u32, i64)> = placed.iter().map(|p| (p.partition, p.offset)).collect();
    assert_eq!(got, vec![(1, 0), (0, 0), (1, 1), (1, 2)]);
    let placed = log
        .send(&mut producer, "t", &[to_partition(1, b"e")])
        .unwrap();
    assert_eq!((placed[0].partition, placed[0].offset), (1, 3));
    let records = read_durable(&mut log, "t", 1, 0, 100).unwrap();
    assert_eq!(
        values(&records),
        vec![b"a".to_vec(), b"c".to_vec(), b"d".to_vec(), b"e".to_vec()]
    );
    assert_eq!(
        records.iter().map(|r| r.offset).collect::<Vec<_>>(),
        vec![0, 1, 2, 3]
    );
    assert!(records.iter().all(|r| r.timestamp == NOW));
    let offsets = log.offsets("t").unwrap();
    assert_eq!((offsets[0].low, offsets[0].high), (0, 1));
    assert_eq!((offsets[1].low, offsets[1].high), (0, 4));
}

#[test]
fn sends_between_two_flushes_share_one_batch_per_partition() {
    let storage = MemoryFiles::new();
    let mut log = open(&storage).unwrap();
    log.create_topic("t", 2, TopicConfig::default()).unwrap();
    let mut producer = log.producer(PartitionerKind::Default);
    let batch: Vec<Message> = (0..50).map(|_| to_partition(0, b"x")).collect();
    log.send(&mut producer, "t", &batch).unwrap();
    log.send(&mut producer, "t", &batch[..3]).unwrap();
    log.send(&mut producer, "t", &[to_partition(1, b"y")])
        .unwrap();
    assert_eq!(
        log.offsets("t").unwrap()[0].durable,
        0,
        "not durable before the flush"
    );
    log.flush(true).unwrap();
    log.send(&mut producer, "t", &batch[..2]).unwrap();
    log.flush(true).unwrap();
    let counts = |path: &str| {
        let bytes = storage.file(path).unwrap();
        let mut batches = brook::Batches::new(&bytes);
        let mut counts = Vec::new();
        while let Some((_, batch)) = batches.next_batch().unwrap() {
            counts.push(batch.header().record_count);
        }
        counts
    };
    assert_eq!(counts("t-0/00000000000000000000.log"), vec![53, 2]);
    assert_eq!(counts("t-1/00000000000000000000.log"), vec![1]);
    assert_eq!(log.offsets("t").unwrap()[0].durable, 55);
}

#[test]
fn keyed_messages_land_where_kafka_puts_them() {
    let storage = MemoryFiles::new();
    let mut log = open(&storage).unwrap();
    log.create_topic("inventory", 3, TopicConfig::default())
        .unwrap();
    let mut producer = log.producer(PartitionerKind::Default);
    for (key, expected) in [("foobar", 0), ("21", 0), ("abc", 0), ("abc-123", 1)] {
        let message = Message {
            record: RecordInput {
                key: Some(key.as_bytes()),
                value: Some(b"v"),
                ..Default::default()
            },
            partition: None,
        };
        let placed = log.send(&mut producer, "inventory", &[message]).unwrap();
        assert_eq!(placed[0].partition, expected, "{key}");
    }
    // Every key of a product goes to one partition, whatever the partitioner's state.
    let keyed: Vec<Message> = (0..30)
        .map(|_| Message {
            record: RecordInput {
                key: Some(b"product-7"),
                value: Some(b"v"),
                ..Default::default()
            },
            partition: None,
        })
        .collect();
    let placed = log.send(&mut producer, "inventory", &keyed).unwrap();
    let expected = partition_for_key(b"product-7", 3);
    assert!(placed.iter().all(|p| p.partition == expected));
}

#[test]
fn random_partitioner_spreads_one_send_across_partitions() {
    let storage = MemoryFiles::new();
    let mut log = open(&storage).unwrap();
    log.create_topic("t", 4, TopicConfig::default()).unwrap();
    let mut producer = log.producer(PartitionerKind::Random);
    let messages: Vec<Message> = (0..400).map(|_| value_message(b"x")).collect();
    let placed = log.send(&mut producer, "t", &messages).unwrap();
    for partition in 0..4 {
        let count = placed.iter().filter(|p| p.partition == partition).count();
        assert!(count > 50, "partition {partition} got {count}");
    }
    let highs: i64 = log.offsets("t").unwrap().iter().map(|o| o.high).sum();
    assert_eq!(highs, 400);
}

#[test]
fn headers_keys_and_tombstones_round_trip() {
    let storage = MemoryFiles::new();
    let mut log = open(&storage).unwrap();
    log.create_topic("t", 1, TopicConfig::default()).unwrap();
    let mut producer = log.producer(PartitionerKind::Default);
    let headers = [
        Header {
            key: "source",
            value: Some(b"web"),
        },
        Header {
            key: "n",
            value: None,
        },
    ];
    let messages = [
        Message {
            record: RecordInput {
                key: Some(b"k"),
                value: None,
                headers: &headers,
                timestamp: Some(5),
            },
            partition: None,
        },
        Message {
            record: RecordInput {
                key: Some(b""),
                value: Some(b""),
                ..Default::default()
            },
            partition: None,
        },
    ];
    log.send(&mut producer, "t", &messages).unwrap();
    let records = read_durable(&mut log, "t", 0, 0, 10).unwrap();
    assert_eq!(records[0].key.as_deref(), Some(&b"k"[..]));
    assert_eq!(records[0].value, None, "a tombstone stays null");
    assert_eq!(records[0].timestamp, 5);
    assert_eq!(
        records[0].headers,
        vec![
            ("source".to_owned(), Some(b"web".to_vec())),
            ("n".to_owned(), None)
        ]
    );
    assert_eq!(
        records[1].key.as_deref(),
        Some(&b""[..]),
        "an empty key is not a null key"
    );
    assert_eq!(records[1].value.as_deref(), Some(&b""[..]));
}

#[test]
fn bad_input_gets_stable_codes_and_leaves_the_log_usable() {
    let storage = MemoryFiles::new();
    let mut log = open(&storage).unwrap();
    let code = |r: Result<(), Error>| r.unwrap_err().code();
    assert_eq!(
        code(log.create_topic("../etc", 1, TopicConfig::default())),
        "INVALID_TOPIC_NAME"
    );
    assert_eq!(
        code(log.create_topic("t", 0, TopicConfig::default())),
        "INVALID_PARTITIONS"
    );
    assert_eq!(
        code(log.create_topic("t", 10_001, TopicConfig::default())),
        "INVALID_PARTITIONS"
    );
    log.create_topic(
        "t",
        2,
        TopicConfig {
            max_message_bytes: 100,
            ..TopicConfig::default()
        },
    )
    .unwrap();
    assert_eq!(
        code(log.create_topic("t", 2, TopicConfig::default())),
        "TOPIC_ALREADY_EXISTS"
    );
    assert_eq!(
        code(log.create_topic("__consumer_offsets", 1, TopicConfig::default())),
        "TOPIC_ALREADY_EXISTS"
    );
    let mut producer = log.producer(PartitionerKind::Default);
    let send =
        |log: &mut Log, producer: &mut brook::Producer, topic: &str, messages: &[Message]| {
            log.send(producer, topic, messages).map(|_| ())
        };
    assert_eq!(
        code(send(
            &mut log,
            &mut producer,
            "nope",
            &[value_message(b"x")]
        )),
        "UNKNOWN_TOPIC"
    );
    assert_eq!(
        code(send(&mut log, &mut producer, "t", &[])),
        "INVALID_ARGUMENT"
    );
    assert_eq!(
        code(send(&mut log, &mut producer, "t", &[to_partition(2, b"x")])),
        "INVALID_PARTITION"
    );
    let big = vec![0u8; 200];
    // Nothing of a send is written when one message is bad.
    assert_eq!(
        code(send(
            &mut log,
            &mut producer,
            "t",
            &[to_partition(0, b"ok"), to_partition(0, &big)]
        )),
        "MESSAGE_TOO_LARGE"
    );
    let negative = Message {
        record: RecordInput {
            value: Some(b"x"),
            timestamp: Some(-5),
            ..Default::default()
        },
        partition: None,
    };
    assert_eq!(
        code(send(&mut log, &mut producer, "t", &[negative])),
        "INVALID_RECORD"
    );
    assert_eq!(
        code(send(
            &mut log,
            &mut producer,
            "__consumer_offsets",
            &[value_message(b"x")]
        )),
        "INVALID_ARGUMENT"
    );
    assert_eq!(log.offsets("t").unwrap()[0].high, 0);
    assert_eq!(
        code(log.read("t", 5, 0, 1, 1, &mut |_| {}).map(|_| ())),
        "INVALID_PARTITION"
    );
    assert_eq!(
        code(log.read("t", 0, 1, 1, 1, &mut |_| {}).map(|_| ())),
        "OFFSET_OUT_OF_RANGE"
    );
    assert_eq!(
        code(log.read("t", 0, -1, 1, 1, &mut |_| {}).map(|_| ())),
        "OFFSET_OUT_OF_RANGE"
    );
    assert_eq!(code(log.create_partitions("t", 1)), "INVALID_PARTITIONS");

    // Still works after all of that.
    send(&mut log, &mut producer, "t", &[to_partition(0, b"fine")]).unwrap();
    assert_eq!(read_durable(&mut log, "t", 0, 0, 10).unwrap().len(), 1);

    log.close().unwrap();
    assert_eq!(
        code(log.create_topic("u", 1, TopicConfig::default())),
        "CLOSED"
    );
    assert_eq!(
        code(send(&mut log, &mut producer, "t", &[value_message(b"x")])),
        "CLOSED"
    );
    assert_eq!(log.offsets("t").unwrap_err().code(), "CLOSED");
}

#[test]
fn compacted_topics_need_keys() {
    let storage = MemoryFiles::new();
    let mut log = open(&storage).unwrap();
    let config = TopicConfig {
        cleanup_policy: CleanupPolicy::Compact,
        ..TopicConfig::default()
    };
    log.create_topic("c", 1, config).unwrap();
    let mut producer = log.producer(PartitionerKind::Default);
    let error = log
        .send(&mut producer, "c", &[value_message(b"x")])
        .unwrap_err();
    assert_eq!(error.code(), "INVALID_RECORD");
}

#[test]
fn topics_configs_and_data_survive_close_and_reopen() {
    let storage = MemoryFiles::new();
    {
        let mut log = open(&storage).unwrap();
        let config = TopicConfig {
            retention_ms: Some(60_000),
            ..small_segments()
        };
        log.create_topic("orders", 3, config).unwrap();
        log.create_topic("people", 1, TopicConfig::default())
            .unwrap();
        let mut producer = log.producer(PartitionerKind::Default);
        for i in 0..100u32 {
            let value = format!("order {i}");
            log.send(
                &mut producer,
                "orders",
                &[to_partition(i % 3, value.as_bytes())],
            )
            .unwrap();
        }
        log.create_partitions("people", 4).unwrap();
        log.close().unwrap();
    }
    let mut log = open(&storage).unwrap();
    let topics = log.topics(false);
    assert_eq!(
        topics
            .iter()
            .map(|t| (t.name.as_str(), t.partitions))
            .collect::<Vec<_>>(),
        vec![("orders", 3), ("people", 4)]
    );
    assert_eq!(topics[0].config.retention_ms, Some(60_000));
    assert_eq!(topics[0].config.segment_bytes, 1024);
    assert!(log
        .topics(true)
        .iter()
        .any(|t| t.name == "__consumer_offsets" && t.internal));
    let records = read_durable(&mut log, "orders", 1, 0, 1000).unwrap();
    assert_eq!(records.len(), 33);
    assert_eq!(records[32].value.as_deref(), Some(&b"order 97"[..]));
    assert!(log.recovery_report().truncated_bytes() == 0);
}

#[test]
fn segments_roll_and_every_offset_reads_back_through_the_index() {
    let storage = MemoryFiles::new();
    let mut log = open(&storage).unwrap();
    log.create_topic("t", 1, small_segments()).unwrap();
    let mut producer = log.producer(PartitionerKind::Default);
    let mut expected = Vec::new();
    for i in 0..300 {
        let value = format!("value-{i:04}-{}", "x".repeat(i % 50));
        let batch: Vec<String> = (0..(i % 3 + 1)).map(|j| format!("{value}-{j}")).collect();
        let messages: Vec<Message> = batch.iter().map(|v| value_message(v.as_bytes())).collect();
        log.send(&mut producer, "t", &messages).unwrap();
        log.flush(true).unwrap();
        expected.extend(batch);
    }
    let segments: Vec<String> = storage
        .paths()
        .into_iter()
        .filter(|p| p.starts_with("t-0/"))
        .collect();
    assert!(segments.len() > 10, "{segments:?}");
    for offset in (0..expected.len() as i64).step_by(7) {
        let records = read_durable(&mut log, "t", 0, offset, 5).unwrap();
        assert_eq!(records[0].offset, offset);
        assert_eq!(
            records[0].value.as_deref(),
            Some(expected[offset as usize].as_bytes())
        );
        assert!(records.len() <= 5);
    }
    // A byte budget stops a read between batches, but always returns at least one record.
    let mut count = 0;
    let Step::Ready(outcome) = log
        .read("t", 0, 0, u32::MAX, 1, &mut |_| count += 1)
        .unwrap()
    else {
        panic!("a file store reads at once")
    };
    assert!((1..=3).contains(&count), "{count}");
    assert_eq!(outcome.next_offset, count as i64);
    drop(log);
    let mut log = open(&storage).unwrap();
    let all = read_durable(&mut log, "t", 0, 0, u32::MAX).unwrap();
    assert_eq!(all.len(), expected.len());
    assert!(all
        .iter()
        .zip(&expected)
        .all(|(r, v)| r.value.as_deref() == Some(v.as_bytes())));
}

#[test]
fn a_second_open_is_locked_out_until_the_first_closes() {
    let storage = MemoryFiles::new();
    let mut first = open(&storage).unwrap();
    assert_eq!(open(&storage).unwrap_err().code(), "LOG_LOCKED");
    first.close().unwrap();
    open(&storage).unwrap();
}

#[test]
fn file_storage_locks_recovers_and_keeps_data() {
    let directory = std::env::temp_dir().join(format!("brook-test-fs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&directory);
    let fs_open = || {
        Log::open(
            Box::new(FileStore::new(Box::new(FsFiles::new(&directory).unwrap()))),
            LogOptions::new(Box::new(ManualClock::new(NOW)), 3),
        )
    };
    {
        let mut log = fs_open().unwrap();
        assert_eq!(fs_open().unwrap_err().code(), "LOG_LOCKED");
        log.create_topic("t", 2, small_segments()).unwrap();
        let mut producer = log.producer(PartitionerKind::RoundRobin);
        for i in 0..200 {
            let value = format!("v{i}");
            log.send(&mut producer, "t", &[value_message(value.as_bytes())])
                .unwrap();
            log.flush(true).unwrap();
        }
        log.close().unwrap();
    }
    // A write torn by a crash after the clean close: half a batch at the end of partition 0's
    // active segment, after what its index vouches for.
    let partition_directory = directory.join("t-0");
    let mut segments: Vec<_> = std::fs::read_dir(&partition_directory)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    segments.sort();
    let last = segments.last().unwrap();
    let bytes = std::fs::read(last).unwrap();
    let first_batch = 12 + i32::from_be_bytes(bytes[8..12].try_into().unwrap()) as usize;
    let mut torn = bytes.clone();
    torn.extend_from_slice(&bytes[..first_batch / 2]);
    std::fs::write(last, &torn).unwrap();

    let mut log = fs_open().unwrap();
    assert_eq!(
        log.recovery_report().truncated_bytes(),
        (first_batch / 2) as u64
    );
    assert_eq!(std::fs::read(last).unwrap(), bytes, "the torn tail is cut");
    let offsets = log.offsets("t").unwrap();
    assert_eq!(offsets[0].high, 100);
    assert_eq!(offsets[1].high, 100);
    let mut producer = log.producer(PartitionerKind::Default);
    let placed = log
        .send(&mut producer, "t", &[to_partition(0, b"next")])
        .unwrap();
    assert_eq!(
        placed[0].offset, 100,
        "offsets continue where the kept data ends"
    );
    log.close().unwrap();
    std::fs::remove_dir_all(&directory).unwrap();
}

/// The segment file a partition's records end in, and the model of what was written.
fn write_batches(storage: &MemoryFiles, batches: usize) -> (Vec<Vec<u8>>, Vec<usize>) {
    let mut log = open(storage).unwrap();
    log.create_topic("t", 1, TopicConfig::default()).unwrap();
    let mut producer = log.producer(PartitionerKind::Default);
    let mut values = Vec::new();
    let mut sizes = Vec::new();
    for b in 0..batches {
        let batch: Vec<Vec<u8>> = (0..3)
            .map(|i| format!("batch {b} record {i}").into_bytes())
            .collect();
        let messages: Vec<Message> = batch.iter().map(|v| value_message(v)).collect();
        log.send(&mut producer, "t", &messages).unwrap();
        log.flush(true).unwrap();
        values.extend(batch);
        sizes.push(3);
    }
    // A crash after the last flush: the active segment has no index, its tail is read.
    std::mem::forget(log);
    (values, sizes)
}

const SEGMENT: &str = "t-0/00000000000000000000.log";

/// After damage to the last batch: every earlier record is there, offsets are contiguous,
/// the last batch is either gone whole or intact, and the next send continues right after.
fn check_recovered(storage: &MemoryFiles, values: &[Vec<u8>], what: &str) {
    let mut log = open(storage).unwrap();
    let records = read_durable(&mut log, "t", 0, 0, u32::MAX).unwrap();
    let kept = records.len();
    assert!(
        kept == values.len() || kept == values.len() - 3,
        "{what}: kept {kept}"
    );
    for (index, record) in records.iter().enumerate() {
        assert_eq!(record.offset, index as i64, "{what}");
        assert_eq!(record.value.as_deref(), Some(&values[index][..]), "{what}");
    }
    let mut producer = log.producer(PartitionerKind::Default);
    let placed = log
        .send(&mut producer, "t", &[value_message(b"after")])
        .unwrap();
    assert_eq!(placed[0].offset, kept as i64, "{what}");
    log.close().unwrap();
    let mut log = open(storage).unwrap();
    assert_eq!(
        read_durable(&mut log, "t", 0, kept as i64, 10).unwrap()[0]
            .value
            .as_deref(),
        Some(&b"after"[..])
    );
    log.close().unwrap();
}

#[test]
fn cutting_the_last_batch_at_every_byte_keeps_everything_before_it() {
    let original = MemoryFiles::with_crash_simulation();
    let (values, _) = write_batches(&original, 4);
    let bytes = original.file(SEGMENT).unwrap();
    let last_batch_size = bytes.len() / 4; // equal-sized batches
    let last_start = bytes.len() - last_batch_size;
    for cut in last_start..bytes.len() {
        let storage = original.crash_image(|_, _| 0);
        storage.set_file(SEGMENT, bytes[..cut].to_vec());
        check_recovered(&storage, &values, &format!("cut at {cut}"));
    }
}

#[test]
fn flipping_any_byte_of_the_last_batch_keeps_everything_before_it() {
    let original = MemoryFiles::with_crash_simulation();
    let (values, _) = write_batches(&original, 4);
    let bytes = original.file(SEGMENT).unwrap();
    let last_start = bytes.len() - bytes.len() / 4;
    for index in last_start..bytes.len() {
        for mask in [0x01u8, 0x80] {
            let storage = original.crash_image(|_, _| 0);
            let mut damaged = bytes.clone();
            damaged[index] ^= mask;
            storage.set_file(SEGMENT, damaged);
            check_recovered(&storage, &values, &format!("byte {index} ^ {mask:#x}"));
        }
    }
}

#[test]
fn garbage_after_the_last_batch_is_cut_away() {
    let original = MemoryFiles::with_crash_simulation();
    let (values, _) = write_batches(&original, 2);
    for garbage in [
        vec![0u8; 5],
        vec![0u8; 100],
        vec![0xff; 61],
        b"hello world".to_vec(),
    ] {
        let storage = original.crash_image(|_, _| 0);
        let mut bytes = storage.file(SEGMENT).unwrap();
        bytes.extend_from_slice(&garbage);
        storage.set_file(SEGMENT, bytes);
        check_recovered(&storage, &values, "garbage");
    }
}

#[test]
fn a_corrupt_manifest_is_reported_not_guessed() {
    let original = MemoryFiles::with_crash_simulation();
    write_batches(&original, 1);
    let storage = original.crash_image(|_, _| 0);
    let mut manifest = storage.file("manifest").unwrap();
    let last = manifest.len() - 1;
    manifest[last] ^= 1;
    storage.set_file("manifest", manifest);
    assert_eq!(open(&storage).unwrap_err().code(), "CORRUPT_DATA");
    // The failed open released the lock.
    storage.set_file("manifest", Vec::new());
    assert_eq!(open(&storage).unwrap_err().code(), "CORRUPT_DATA");
}

#[test]
fn io_failures_never_lose_flushed_records() {
    // For every point at which the store can start failing: run a workload, then crash and
    // reopen; every record acknowledged by a successful flush must be back, in order.
    for fail_at in 0..120u64 {
        let storage = MemoryFiles::with_crash_simulation();
        let mut acknowledged: Vec<Vec<u8>> = Vec::new();
        if let Ok(mut log) = open(&storage) {
            storage.fail_after(fail_at);
            let _ = (|| -> Result<(), Error> {
                log.create_topic("t", 1, small_segments())?;
                let mut producer = log.producer(PartitionerKind::Default);
                let mut pending = Vec::new();
                for i in 0..40 {
                    let value = format!("record {i:03} {}", "p".repeat(40));
                    log.send(&mut producer, "t", &[value_message(value.as_bytes())])?;
                    pending.push(value.into_bytes());
                    if i % 4 == 3 {
                        log.flush(true)?;
                        acknowledged.append(&mut pending);
                    }
                }
                Ok(())
            })();
            std::mem::forget(log); // a crash: no close, no flush
        }
        storage.heal();
        for torn in [0usize, 7, usize::MAX] {
            let image = storage.crash_image(|_, n| torn.min(n));
            let mut log = open(&image).unwrap_or_else(|e| panic!("fail_at {fail_at}: {e}"));
            let records = match read_durable(&mut log, "t", 0, 0, u32::MAX) {
                Ok(records) => records,
                Err(e) => {
                    assert!(acknowledged.is_empty(), "fail_at {fail_at}: {e}");
                    continue;
                }
            };
            assert!(
                records.len() >= acknowledged.len(),
                "fail_at {fail_at} torn {torn}"
            );
            for (index, record) in records.iter().enumerate() {
                assert_eq!(record.offset, index as i64);
                if let Some(value) = acknowledged.get(index) {
                    assert_eq!(record.value.as_deref(), Some(&value[..]));
                }
            }
        }
    }
}

#[derive(Clone, Debug)]
enum Operation {
    Send {
        partition: Option<u32>,
        key: Option<u8>,
        count: u8,
        size: u16,
    },
    Flush,
    CrashAndReopen {
        torn: u16,
    },
    Reopen,
}

fn operation() -> impl Strategy<Value = Operation> {
    prop_oneof![
        6 => (proptest::option::of(0u32..3), proptest::option::of(any::<u8>()), 1u8..6, 0u16..300)
            .prop_map(|(partition, key, count, size)| Operation::Send { partition, key, count, size }),
        2 => Just(Operation::Flush),
        1 => any::<u16>().prop_map(|torn| Operation::CrashAndReopen { torn }),
        1 => Just(Operation::Reopen),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Random sends, flushes, crashes and reopens against a model: per-partition order,
    /// contiguous offsets, and nothing flushed ever lost.
    #[test]
    fn random_appends_keep_order_offsets_and_flushed_data(operations in proptest::collection::vec(operation(), 1..40)) {
        let mut storage = MemoryFiles::with_crash_simulation();
        let mut log = open(&storage).unwrap();
        log.create_topic("t", 3, small_segments()).unwrap();
        let mut producer = log.producer(PartitionerKind::Default);
        // Model: per partition, values written; and how many of them are durable.
        let mut written: Vec<Vec<Vec<u8>>> = vec![Vec::new(); 3];
        let mut durable: Vec<usize> = vec![0; 3];
        let mut counter = 0u32;
        for operation in operations {
            match operation {
                Operation::Send { partition, key, count, size } => {
                    let values: Vec<Vec<u8>> = (0..count).map(|_| {
                        counter += 1;
                        let mut v = counter.to_be_bytes().to_vec();
                        v.resize(4 + size as usize, b'x');
                        v
                    }).collect();
                    let keys: Vec<[u8; 1]> = (0..count).map(|_| [key.unwrap_or(0)]).collect();
                    let messages: Vec<Message> = values.iter().zip(&keys).map(|(v, k)| Message {
                        record: RecordInput { key: key.map(|_| &k[..]), value: Some(v), ..Default::default() },
                        partition,
                    }).collect();
                    let placed = log.send(&mut producer, "t", &messages).unwrap();
                    for (placement, value) in placed.iter().zip(values) {
                        let p = placement.partition as usize;
                        prop_assert_eq!(placement.offset, written[p].len() as i64);
                        if let Some(explicit) = partition { prop_assert_eq!(placement.partition, explicit); }
                        if let (None, Some(k)) = (partition, key) {
                            prop_assert_eq!(placement.partition, partition_for_key(&[k], 3));
                        }
                        written[p].push(value);
                    }
                }
                Operation::Flush => {
                    log.flush(true).unwrap();
                    for p in 0..3 { durable[p] = written[p].len(); }
                }
                Operation::CrashAndReopen { torn } => {
                    std::mem::forget(log);
                    storage = storage.crash_image(|_, n| (torn as usize).min(n));
                    log = open(&storage).unwrap();
                    for p in 0..3 {
                        let high = log.offsets("t").unwrap()[p].high as usize;
                        prop_assert!(high >= durable[p] && high <= written[p].len());
                        written[p].truncate(high);
                        durable[p] = high;
                    }
                }
                Operation::Reopen => {
                    log.close().unwrap();
                    log = open(&storage).unwrap();
                    for p in 0..3 { durable[p] = written[p].len(); }
                }
            }
        }
        for p in 0..3u32 {
            let records = read_durable(&mut log, "t", p, 0, u32::MAX).unwrap();
            prop_assert_eq!(records.len(), written[p as usize].len());
            for (index, record) in records.iter().enumerate() {
                prop_assert_eq!(record.offset, index as i64);
                prop_assert_eq!(record.value.as_deref(), Some(&written[p as usize][index][..]));
            }
        }
    }
}

#[test]
fn storage_trait_is_object_safe_and_shared() {
    // Two handles of one in-memory store see the same files.
    let mut a: Box<dyn Files> = Box::new(MemoryFiles::new());
    a.open("x").unwrap();
    a.append("x", b"abc").unwrap();
    let mut buffer = [0u8; 8];
    assert_eq!(a.read_at("x", 1, &mut buffer).unwrap(), 2);
    assert_eq!(&buffer[..2], b"bc");
}

#[test]
fn damage_in_a_sealed_segment_is_left_on_disk_and_reported_when_read() {
    let storage = MemoryFiles::with_crash_simulation();
    {
        let mut log = open(&storage).unwrap();
        log.create_topic("t", 1, small_segments()).unwrap();
        let mut producer = log.producer(PartitionerKind::Default);
        for i in 0..60 {
            let value = format!("record {i:02} {}", "s".repeat(60));
            log.send(&mut producer, "t", &[value_message(value.as_bytes())])
                .unwrap();
            log.flush(true).unwrap();
        }
        log.close().unwrap();
    }
    let first = "t-0/00000000000000000000.log";
    let mut bytes = storage.file(first).unwrap();
    // Damage the magic byte of the second batch of the first (sealed) segment.
    let first_batch_size = 12 + i32::from_be_bytes(bytes[8..12].try_into().unwrap()) as usize;
    bytes[first_batch_size + 16] = 7;
    storage.set_file(first, bytes.clone());
    let mut log = open(&storage).unwrap();
    // The index vouches for the sealed segment: the open reads none of it.
    assert!(
        log.recovery_report().is_clean(),
        "{:?}",
        log.recovery_report()
    );
    assert_eq!(
        storage.file(first).unwrap(),
        bytes,
        "durable bytes are not cut away"
    );
    assert_eq!(read_durable(&mut log, "t", 0, 0, 1).unwrap()[0].offset, 0);
    let error = read_durable(&mut log, "t", 0, 1, 1).unwrap_err();
    assert_eq!(error.code(), "CORRUPT_DATA");
    assert!(error.message().contains("offsets 1 to 1"), "{error}");
    // Everything after the damaged batch is served, and the log keeps taking writes.
    let rest = read_durable(&mut log, "t", 0, 2, 100).unwrap();
    assert_eq!(rest.len(), 58);
    assert_eq!(log.offsets("t").unwrap()[0].high, 60);
}

#[test]
fn a_failed_fsync_takes_the_flush_back_and_stops_writes_until_reopen() {
    let storage = MemoryFiles::with_crash_simulation();
    let mut log = open(&storage).unwrap();
    log.create_topic("t", 1, TopicConfig::default()).unwrap();
    let mut producer = log.producer(PartitionerKind::Default);
    log.send(&mut producer, "t", &[value_message(b"a")])
        .unwrap();
    // The append succeeds, the fsync fails.
    storage.fail_after(1);
    assert_eq!(log.flush(true).unwrap_err().code(), "IO_ERROR");
    storage.heal();
    assert_eq!(
        log.offsets("t").unwrap()[0].high,
        0,
        "the failed flush's record was taken back"
    );
    // A retried fsync could succeed after the kernel dropped the data: refuse instead.
    assert_eq!(
        log.send(&mut producer, "t", &[value_message(b"b")])
            .unwrap_err()
            .code(),
        "IO_ERROR"
    );
    std::mem::forget(log);
    // Whether the failed flush's record reached the disk is unknown (its send failed, as a
    // failed produce may or may not have been written); what follows comes right after.
    let mut log = open(&storage.crash_image(|_, n| n)).unwrap();
    let kept = log.offsets("t").unwrap()[0].high;
    log.send(&mut producer, "t", &[value_message(b"c")])
        .unwrap();
    log.flush(true).unwrap();
    let records = read_durable(&mut log, "t", 0, 0, 10).unwrap();
    assert!(kept <= 1);
    assert_eq!(records.last().unwrap().value.as_deref(), Some(&b"c"[..]));
    assert_eq!(records.last().unwrap().offset, kept);
}

#[test]
fn a_failed_topic_creation_or_growth_leaves_no_trace_even_after_reopen() {
    // Fail at every I/O step of creating a topic of 20 partitions (or growing one to 20):
    // the call fails, the topic is not there (or keeps its old size), in this process and
    // after a crash and reopen; once healed, the same call succeeds in full.
    for grow in [false, true] {
        let mut fail_at = 0;
        loop {
            let storage = MemoryFiles::with_crash_simulation();
            {
                let mut log = open(&storage).unwrap();
                if grow {
                    log.create_topic("t", 3, TopicConfig::default()).unwrap();
                }
                storage.fail_after(fail_at);
                let result = if grow {
                    log.create_partitions("t", 20)
                } else {
                    log.create_topic("t", 20, TopicConfig::default())
                };
                storage.heal();
                let expected = if grow { Some(3) } else { None };
                if result.is_ok() {
                    assert!(fail_at > 0, "some step must be able to fail");
                    break;
                }
                assert_eq!(log.partition_count("t").ok(), expected, "step {fail_at}");
                std::mem::forget(log); // a crash: no close
                let crashed = storage.crash_image(|_, unsynced| unsynced / 2);
                let mut log = open(&crashed).unwrap();
                assert_eq!(
                    log.partition_count("t").ok(),
                    expected,
                    "step {fail_at}, reopened"
                );
                if grow {
                    log.create_partitions("t", 20).unwrap();
                } else {
                    log.create_topic("t", 20, TopicConfig::default()).unwrap();
                }
                let mut producer = log.producer(PartitionerKind::Default);
                let placed = log
                    .send(&mut producer, "t", &[to_partition(19, b"x")])
                    .unwrap();
                assert_eq!(
                    placed[0].offset, 0,
                    "step {fail_at}: partition 19 starts empty"
                );
            }
            fail_at += 1;
            assert!(fail_at < 2000, "creation never succeeded");
        }
    }
}

#[test]
fn a_deleted_topic_is_gone_with_its_commits_whole_or_not_at_all_even_when_its_deletion_fails() {
    // Fail at every I/O step of deleting "t" (records in 3 partitions, a group's commits);
    // then crash and reopen. "t" is either all there (records and commits) or gone with its
    // commits — never half — and "u" is untouched; once gone, a new "t" starts empty.
    let mut fail_at = 0;
    loop {
        let storage = MemoryFiles::with_crash_simulation();
        let mut log = open(&storage).unwrap();
        log.create_topic("t", 3, TopicConfig::default()).unwrap();
        log.create_topic("u", 1, TopicConfig::default()).unwrap();
        let mut producer = log.producer(PartitionerKind::Default);
        for partition in 0..3 {
            log.send(
                &mut producer,
                "t",
                &[to_partition(partition, b"a"), to_partition(partition, b"b")],
            )
            .unwrap();
        }
        log.send(&mut producer, "u", &[to_partition(0, b"kept")])
            .unwrap();
        let member = log
            .join_group(
                ConsumerOptions {
                    group_id: "g".into(),
                    auto_commit: false,
                    commit_processed: false,
                    assignor: Assignor::Range,
                    offset_reset: OffsetReset::Earliest,
                },
                &["t"],
            )
            .unwrap();
        log.flush(true).unwrap();
        log.commit(member, &[("t", 0, 2), ("t", 1, 1)]).unwrap();
        log.flush(true).unwrap();
        let refused = log.delete_topic("t").unwrap_err();
        assert_eq!(
            log.committed("g", "t", 0),
            Some(2),
            "a refusal deletes nothing"
        );
        assert_eq!(
            refused.code(),
            "NON_EMPTY_GROUP",
            "a live member subscribes to it"
        );
        log.leave_group(member).unwrap();
        assert_eq!(
            log.delete_topic("__consumer_offsets").unwrap_err().code(),
            "INVALID_ARGUMENT"
        );
        assert_eq!(
            log.delete_topic("nope").unwrap_err().code(),
            "UNKNOWN_TOPIC"
        );

        storage.fail_after(fail_at);
        let result = delete_fully(&mut log, "t");
        storage.heal();
        let deleted_here = log.partition_count("t").is_err();
        std::mem::forget(log); // a crash: no close
        let crashed = storage.crash_image(|_, unsynced| unsynced / 2);
        let mut log = open(&crashed).unwrap();
        let label = format!("step {fail_at} ({result:?})");
        match log.partition_count("t") {
            Ok(count) => {
                assert!(
                    result.is_err(),
                    "{label}: a deletion that succeeded came back"
                );
                assert_eq!(count, 3, "{label}");
                let highs: Vec<i64> = log.offsets("t").unwrap().iter().map(|o| o.high).collect();
                assert_eq!(highs, vec![2, 2, 2], "{label}: all its records");
                // Its groups' commits: all there, or all deleted (the first step).
                let commits = (log.committed("g", "t", 0), log.committed("g", "t", 1));
                assert!(
                    commits == (Some(2), Some(1)) || commits == (None, None),
                    "{label}: {commits:?}"
                );
            }
            Err(error) => {
                assert_eq!(error.code(), "UNKNOWN_TOPIC", "{label}");
                assert!(deleted_here, "{label}: gone after the crash, not before");
                assert_eq!(
                    (log.committed("g", "t", 0), log.committed("g", "t", 1)),
                    (None, None),
                    "{label}: commits gone too"
                );
                log.create_topic("t", 3, TopicConfig::default()).unwrap();
                let highs: Vec<i64> = log.offsets("t").unwrap().iter().map(|o| o.high).collect();
                assert_eq!(highs, vec![0, 0, 0], "{label}: a new t starts empty");
            }
        }
        let kept = read_durable(&mut log, "u", 0, 0, 10).unwrap();
        assert_eq!(kept.len(), 1, "{label}: u untouched");
        if result.is_ok() {
            assert!(fail_at > 0, "some step must be able to fail");
            break;
        }
        fail_at += 1;
        assert!(fail_at < 500, "deletion never succeeded");
    }
}

#[test]
fn a_topic_with_records_not_yet_durable_is_deleted_only_after_they_are() {
    let storage = MemoryFiles::new();
    let mut log = open(&storage).unwrap();
    log.create_topic("t", 1, TopicConfig::default()).unwrap();
    let mut producer = log.producer(PartitionerKind::Default);
    log.send(&mut producer, "t", &[to_partition(0, b"pending")])
        .unwrap();
    let error = log.delete_topic("t").unwrap_err();
    assert_eq!(error.code(), "INVALID_ARGUMENT");
    assert!(
        error.message().contains("not durable yet"),
        "{}",
        error.message()
    );
    log.flush(true).unwrap();
    assert!(
        log.delete_topic("t").unwrap(),
        "no commits: deleted at once"
    );
    assert_eq!(log.topics(false).len(), 0);
}

/// Deletes a topic as the bindings do: commits first, flushed, then the topic.
fn delete_fully(log: &mut Log, topic: &str) -> Result<(), Error> {
    for _ in 0..10 {
        log.flush(true)?;
        if log.delete_topic(topic)? {
            log.flush(true)?;
            return Ok(());
        }
    }
    panic!("{topic} was never deleted");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// Reads that stop inside a batch go on from where they stopped (a cursor keeps the place
    /// in the batch's records): readers at different places, with different steps, jumping
    /// around, always get exactly the records from their offset on.
    #[test]
    fn reads_stopping_inside_batches_go_on_where_they_stopped(
        batches in proptest::collection::vec(1usize..400, 1..4),
        steps in proptest::collection::vec((0usize..3, 1u32..50, proptest::option::of(0i64..1200)), 1..80),
    ) {
        let storage = MemoryFiles::new();
        let mut log = open(&storage).unwrap();
        log.create_topic("t", 1, TopicConfig::default()).unwrap();
        let mut producer = log.producer(PartitionerKind::Default);
        let mut total = 0i64;
        for count in batches {
            let values: Vec<Vec<u8>> = (0..count).map(|i| format!("v{}", total + i as i64).into_bytes()).collect();
            let messages: Vec<Message> = values.iter().map(|v| to_partition(0, v)).collect();
            log.send(&mut producer, "t", &messages).unwrap();
            log.flush(true).unwrap();
            total += count as i64;
        }
        // Three readers, each at its own offset.
        let mut at = [0i64; 3];
        for (reader, max, jump) in steps {
            if let Some(offset) = jump {
                at[reader] = offset.min(total);
            }
            let records = log.read_records("t", 0, at[reader], max).unwrap();
            let expected: Vec<Vec<u8>> = (at[reader]..(at[reader] + max as i64).min(total))
                .map(|o| format!("v{o}").into_bytes())
                .collect();
            prop_assert_eq!(values(&records), expected);
            prop_assert!(records.iter().zip(at[reader]..).all(|(r, o)| r.offset == o));
            at[reader] += records.len() as i64;
        }
    }
}
