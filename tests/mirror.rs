// The batch-store mirror (what the IndexedDB backend persists) against a model store: a
// flush applies the journal whole, a crash drops what was not flushed, and a reload from the
// store must give back every flushed record with its offset, through retention, compaction
// and damaged stored batches.

use std::collections::{BTreeMap, BTreeSet};

use brook::{
    BatchKey, Change, CleanupPolicy, ConsumerOptions, LoadReport, Log, LogOptions, ManualClock,
    Message, MirrorStorage, OffsetReset, PartitionerKind, RecordInput, TopicConfig,
    FETCH_BYTES_MAX,
};
use proptest::prelude::*;

const NOW: i64 = 1_700_000_000_000;

/// What IndexedDB would hold: three object stores.
#[derive(Clone, Default)]
struct Store {
    manifest: Option<Vec<u8>>,
    segments: BTreeSet<BatchKey>,
    batches: BTreeMap<BatchKey, Vec<u8>>,
}

impl Store {
    /// One transaction: the whole journal, in order.
    fn apply(&mut self, changes: Vec<Change>) {
        for change in changes {
            match change {
                Change::PutBatch { key, bytes } => {
                    self.batches.insert(key, bytes);
                }
                Change::DeleteBatch { key } => {
                    self.batches.remove(&key);
                }
                Change::PutManifest { bytes } => self.manifest = Some(bytes),
                Change::PutSegment { key } => {
                    self.segments.insert(key);
                }
                Change::DeleteSegment { key } => {
                    self.segments.remove(&key);
                }
            }
        }
    }

    /// What a reload reads back.
    fn load(&self) -> (MirrorStorage, LoadReport) {
        MirrorStorage::load(
            self.manifest.clone(),
            self.segments.iter().cloned().collect(),
            self.batches
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        )
        .unwrap()
    }

    fn open(&self, clock: &ManualClock) -> (Log, MirrorStorage) {
        let (mirror, _) = self.load();
        let options = LogOptions {
            clock: Box::new(clock.clone()),
            seed: 5,
        };
        let log = Log::open(Box::new(mirror.clone()), options).unwrap();
        (log, mirror)
    }
}

fn flush(log: &mut Log, mirror: &MirrorStorage, store: &mut Store) {
    log.flush().unwrap();
    store.apply(mirror.take_changes());
}

fn send(log: &mut Log, topic: &str, partition: u32, key: Option<&str>, value: &str) -> i64 {
    let mut producer = log.producer(PartitionerKind::Default);
    let message = Message {
        record: RecordInput {
            key: key.map(str::as_bytes),
            value: Some(value.as_bytes()),
            ..Default::default()
        },
        partition: Some(partition),
    };
    log.send(&mut producer, topic, &[message]).unwrap()[0].offset
}

fn values(log: &mut Log, topic: &str, partition: u32) -> Vec<(i64, String)> {
    let low = log.offsets(topic).unwrap()[partition as usize].low;
    log.read_records(topic, partition, low, u32::MAX)
        .unwrap()
        .into_iter()
        .map(|r| {
            (
                r.offset,
                String::from_utf8(r.value.unwrap_or_default()).unwrap(),
            )
        })
        .collect()
}

#[test]
fn the_store_holds_one_value_per_batch_and_reloads_exactly() {
    let clock = ManualClock::new(NOW);
    let mut store = Store::default();
    let (mut log, mirror) = store.open(&clock);
    log.create_topic(
        "t",
        2,
        TopicConfig {
            segment_bytes: 1024,
            ..TopicConfig::default()
        },
    )
    .unwrap();
    let mut producer = log.producer(PartitionerKind::Default);
    for i in 0..40 {
        let values: Vec<String> = (0..5)
            .map(|j| format!("{i}-{j}-{}", "x".repeat(30)))
            .collect();
        let messages: Vec<Message> = values
            .iter()
            .map(|v| Message {
                record: RecordInput {
                    value: Some(v.as_bytes()),
                    ..Default::default()
                },
                partition: Some(i % 2),
            })
            .collect();
        log.send(&mut producer, "t", &messages).unwrap();
    }
    flush(&mut log, &mirror, &mut store);
    let t_batches = store.batches.keys().filter(|k| k.topic == "t").count();
    assert_eq!(
        t_batches, 40,
        "one stored value per send and partition, not per message"
    );
    assert!(
        store.segments.iter().filter(|k| k.topic == "t").count() > 2,
        "segments rolled"
    );
    let before = (values(&mut log, "t", 0), values(&mut log, "t", 1));
    drop(log);
    let (mut log, _) = store.open(&clock);
    assert_eq!((values(&mut log, "t", 0), values(&mut log, "t", 1)), before);
}

#[test]
fn unflushed_changes_vanish_whole_and_offsets_continue() {
    let clock = ManualClock::new(NOW);
    let mut store = Store::default();
    let (mut log, mirror) = store.open(&clock);
    log.create_topic("t", 1, TopicConfig::default()).unwrap();
    send(&mut log, "t", 0, None, "kept");
    flush(&mut log, &mirror, &mut store);
    send(&mut log, "t", 0, None, "lost");
    log.create_topic("never", 1, TopicConfig::default())
        .unwrap();
    std::mem::forget(log); // the tab died before the transaction
    let (mut log, _) = store.open(&clock);
    assert_eq!(values(&mut log, "t", 0), vec![(0, "kept".to_owned())]);
    assert!(log.topics(false).iter().all(|t| t.name != "never"));
    assert_eq!(send(&mut log, "t", 0, None, "next"), 1);
}

#[test]
fn retention_compaction_and_commits_survive_a_reload() {
    let clock = ManualClock::new(NOW);
    let mut store = Store::default();
    let (mut log, mirror) = store.open(&clock);
    let config = TopicConfig {
        segment_bytes: 1024,
        retention_ms: Some(1000),
        ..TopicConfig::default()
    };
    log.create_topic("old", 1, config).unwrap();
    let compact = TopicConfig {
        segment_bytes: 1024,
        cleanup_policy: CleanupPolicy::Compact,
        delete_retention_ms: 0,
        ..TopicConfig::default()
    };
    log.create_topic("table", 1, compact).unwrap();
    for i in 0..30 {
        send(&mut log, "old", 0, None, &format!("{i}-{}", "o".repeat(80)));
        send(
            &mut log,
            "table",
            0,
            Some(&format!("k{}", i % 3)),
            &format!("{i}-{}", "t".repeat(80)),
        );
    }
    let member = log
        .join_group(
            ConsumerOptions {
                offset_reset: OffsetReset::Earliest,
                ..ConsumerOptions::new("g")
            },
            &["table"],
        )
        .unwrap();
    log.poll(member, 7, FETCH_BYTES_MAX, &mut |_, _, _| {})
        .unwrap();
    flush(&mut log, &mirror, &mut store);
    clock.advance(5000);
    for i in 0..3 {
        send(&mut log, "old", 0, None, &format!("fresh {i}"));
    }
    log.maintain().unwrap();
    flush(&mut log, &mirror, &mut store);
    let expected_old = values(&mut log, "old", 0);
    let expected_table = values(&mut log, "table", 0);
    assert!(
        expected_old.len() < 33 && expected_old[0].0 > 0,
        "retention ran"
    );
    assert!(expected_table.len() < 30, "compaction ran");
    drop(log);
    let (mut log, _) = store.open(&clock);
    assert_eq!(values(&mut log, "old", 0), expected_old);
    assert_eq!(values(&mut log, "table", 0), expected_table);
    assert_eq!(
        log.offsets("old").unwrap()[0].low,
        expected_old[0].0,
        "the low watermark is kept"
    );
    assert_eq!(log.committed("g", "table", 0), Some(7));
    assert_eq!(
        send(&mut log, "old", 0, None, "more"),
        33,
        "offsets are never reused"
    );
}

#[test]
fn an_emptied_partition_keeps_its_offsets() {
    let clock = ManualClock::new(NOW);
    let mut store = Store::default();
    let (mut log, mirror) = store.open(&clock);
    log.create_topic(
        "t",
        1,
        TopicConfig {
            retention_ms: Some(10),
            ..TopicConfig::default()
        },
    )
    .unwrap();
    for i in 0..5 {
        send(&mut log, "t", 0, None, &format!("{i}"));
    }
    clock.advance(100);
    log.maintain().unwrap();
    flush(&mut log, &mirror, &mut store);
    assert!(
        store.batches.keys().all(|k| k.topic != "t"),
        "every batch of t is gone"
    );
    drop(log);
    let (mut log, _) = store.open(&clock);
    let offsets = log.offsets("t").unwrap()[0];
    assert_eq!((offsets.low, offsets.high), (5, 5));
    assert_eq!(send(&mut log, "t", 0, None, "next"), 5);
}

#[test]
fn a_damaged_stored_batch_is_dropped_with_everything_after_it() {
    let clock = ManualClock::new(NOW);
    let mut store = Store::default();
    let (mut log, mirror) = store.open(&clock);
    log.create_topic("t", 1, TopicConfig::default()).unwrap();
    for i in 0..5 {
        send(&mut log, "t", 0, None, &format!("v{i}"));
    }
    flush(&mut log, &mirror, &mut store);
    drop(log);
    let key = BatchKey {
        topic: "t".into(),
        partition: 0,
        base_offset: 3,
    };
    let bytes = store.batches.get_mut(&key).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    let (mirror, report) = store.load();
    assert_eq!((report.batches, report.dropped), (3, 2), "{report:?}");
    let changes = mirror.take_changes();
    assert!(changes.contains(&Change::DeleteBatch { key: key.clone() }));
    let mut log = Log::open(
        Box::new(mirror),
        LogOptions {
            clock: Box::new(clock.clone()),
            seed: 1,
        },
    )
    .unwrap();
    assert_eq!(values(&mut log, "t", 0).len(), 3);
    assert_eq!(send(&mut log, "t", 0, None, "again"), 3);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn flushed_records_survive_any_crash(
        steps in proptest::collection::vec((0u8..6, 0u8..3, 0u16..200), 1..60),
    ) {
        let clock = ManualClock::new(NOW);
        let mut store = Store::default();
        let (mut log, mut mirror) = store.open(&clock);
        log.create_topic("t", 3, TopicConfig { segment_bytes: 1024, ..TopicConfig::default() }).unwrap();
        flush(&mut log, &mirror, &mut store);
        let mut durable: Vec<Vec<String>> = vec![Vec::new(); 3];
        let mut written: Vec<Vec<String>> = vec![Vec::new(); 3];
        for (action, partition, size) in steps {
            let p = partition as usize;
            match action {
                0..=2 => {
                    let value = format!("{}-{}", written[p].len(), "v".repeat(size as usize));
                    let offset = send(&mut log, "t", partition as u32, None, &value);
                    prop_assert_eq!(offset, written[p].len() as i64);
                    written[p].push(value);
                }
                3 => {
                    flush(&mut log, &mirror, &mut store);
                    durable = written.clone();
                }
                4 => {
                    std::mem::forget(log);
                    let reopened = store.open(&clock);
                    log = reopened.0;
                    mirror = reopened.1;
                    written = durable.clone();
                }
                _ => {
                    log.maintain().unwrap();
                }
            }
        }
        flush(&mut log, &mirror, &mut store);
        drop(log);
        let (mut log, _) = store.open(&clock);
        for partition in 0..3u32 {
            let got: Vec<String> = values(&mut log, "t", partition).into_iter().map(|(_, v)| v).collect();
            prop_assert_eq!(&got, &written[partition as usize]);
        }
    }
}

#[test]
fn a_failed_transaction_is_undone_by_reloading_what_is_durable() {
    let clock = ManualClock::new(NOW);
    let mut store = Store::default();
    let (mut log, mirror) = store.open(&clock);
    log.create_topic("t", 1, TopicConfig::default()).unwrap();
    send(&mut log, "t", 0, None, "durable");
    flush(&mut log, &mirror, &mut store);
    let member = log
        .join_group(
            ConsumerOptions {
                offset_reset: OffsetReset::Earliest,
                ..ConsumerOptions::new("g")
            },
            &["t"],
        )
        .unwrap();
    send(&mut log, "t", 0, None, "refused");
    log.flush().unwrap();
    let refused = mirror.take_changes(); // the browser said QuotaExceededError: nothing applied
    assert!(!refused.is_empty());
    let (reloaded, _) = store.load();
    log.replace_storage(Box::new(reloaded)).unwrap();
    assert_eq!(values(&mut log, "t", 0), vec![(0, "durable".to_owned())]);
    assert_eq!(
        log.assignment(member).unwrap().len(),
        1,
        "the consumer is still a member"
    );
    let mut seen = Vec::new();
    log.poll(member, 10, FETCH_BYTES_MAX, &mut |_, _, r| {
        seen.push(r.offset)
    })
    .unwrap();
    assert_eq!(seen, vec![0]);
    assert_eq!(
        send(&mut log, "t", 0, None, "later"),
        1,
        "the refused offset is given again"
    );
}
