// Recovery that never hides intact data: damage anywhere but a torn tail is reported, the
// batches around it that verify are kept and served, a read of the damaged range fails with
// CORRUPT_DATA naming it, and a commit past a partition's end is clamped, never trusted.

use brook::{
    ConsumerOptions, FileStore, Log, LogOptions, ManualClock, MemoryFiles, Message, OffsetReset,
    PartitionerKind, RecordInput, Step, TopicConfig, FETCH_BYTES_MAX,
};

const NOW: i64 = 1_700_000_000_000;

fn open(storage: &MemoryFiles) -> Log {
    Log::open(
        Box::new(FileStore::new(Box::new(storage.clone()))),
        LogOptions::new(Box::new(ManualClock::new(NOW)), 5),
    )
    .unwrap()
}

fn record(value: &[u8]) -> Message<'_> {
    Message {
        record: RecordInput {
            value: Some(value),
            ..Default::default()
        },
        partition: Some(0),
    }
}

/// A keyed record for partition 0 (compacted topics need keys).
fn keyed<'a>(key: &'a [u8], value: &'a [u8]) -> Message<'a> {
    let mut message = record(value);
    message.record.key = Some(key);
    message
}

/// `count` records, one acknowledged (flushed) batch each, into "t" (1 partition).
fn write(storage: &MemoryFiles, config: TopicConfig, count: usize) -> Log {
    let mut log = open(storage);
    log.create_topic("t", 1, config).unwrap();
    let mut producer = log.producer(PartitionerKind::Default);
    for i in 0..count {
        let value = format!("value {i:03} {}", "v".repeat(50));
        log.send(&mut producer, "t", &[record(value.as_bytes())])
            .unwrap();
        log.flush(true).unwrap();
    }
    log
}

fn small_segments() -> TopicConfig {
    TopicConfig {
        segment_bytes: 1024,
        ..TopicConfig::default()
    }
}

/// Batch start positions in a segment file.
fn batch_positions(bytes: &[u8]) -> Vec<usize> {
    let mut positions = Vec::new();
    let mut at = 0;
    while at + 12 <= bytes.len() {
        positions.push(at);
        at += 12 + i32::from_be_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as usize;
    }
    positions
}

/// Reads offsets `from..` one at a time; returns each offset read and each CORRUPT_DATA met.
fn read_each(log: &mut Log, from: i64, to: i64) -> (Vec<i64>, Vec<i64>) {
    let (mut read, mut damaged) = (Vec::new(), Vec::new());
    for offset in from..to {
        match log.read_records("t", 0, offset, 1) {
            Ok(records) => read.extend(records.iter().map(|r| r.offset).filter(|&o| o == offset)),
            Err(error) => {
                assert_eq!(error.code(), "CORRUPT_DATA", "{error}");
                damaged.push(offset);
            }
        }
    }
    (read, damaged)
}

const ACTIVE: &str = "t-0/00000000000000000000.log";

#[test]
fn a_flipped_byte_in_the_middle_of_the_active_segment_costs_that_batch_only() {
    let original = MemoryFiles::with_crash_simulation();
    let log = write(&original, TopicConfig::default(), 10);
    std::mem::forget(log); // a crash: the active segment has no index, its tail is read
    let bytes = original.file(ACTIVE).unwrap();
    let positions = batch_positions(&bytes);
    for mask in [0x01u8, 0x40] {
        // A byte inside the records of batch 4 (offset 4), and one in its length field.
        for at in [positions[4] + 70, positions[4] + 10] {
            let storage = original.crash_image(|_, _| 0);
            let mut damaged = bytes.clone();
            damaged[at] ^= mask;
            storage.set_file(ACTIVE, damaged);
            let mut log = open(&storage);
            let report = log.recovery_report().clone();
            assert_eq!(
                report.truncated_bytes(),
                0,
                "intact batches follow: nothing is cut"
            );
            let ranges: Vec<(i64, i64)> = report
                .damaged()
                .iter()
                .map(|(_, r)| (r.from, r.to))
                .collect();
            assert_eq!(ranges, vec![(4, 5)], "byte {at} ^ {mask:#x}");
            assert_eq!(log.offsets("t").unwrap()[0].high, 10);
            let (read, corrupt) = read_each(&mut log, 0, 10);
            assert_eq!(read, vec![0, 1, 2, 3, 5, 6, 7, 8, 9]);
            assert_eq!(corrupt, vec![4]);
            // New records go after the kept ones.
            let mut producer = log.producer(PartitionerKind::Default);
            let placed = log.send(&mut producer, "t", &[record(b"after")]).unwrap();
            assert_eq!(placed[0].offset, 10);
        }
    }
}

#[test]
fn damage_at_the_very_end_of_the_active_segment_is_a_torn_tail_and_is_cut() {
    let original = MemoryFiles::with_crash_simulation();
    std::mem::forget(write(&original, TopicConfig::default(), 5));
    let bytes = original.file(ACTIVE).unwrap();
    let last = *batch_positions(&bytes).last().unwrap();
    let storage = original.crash_image(|_, _| 0);
    let mut damaged = bytes.clone();
    damaged[last + 40] ^= 0x10;
    storage.set_file(ACTIVE, damaged);
    let log = open(&storage);
    assert_eq!(
        log.recovery_report().truncated_bytes(),
        (bytes.len() - last) as u64
    );
    assert_eq!(log.offsets("t").unwrap()[0].high, 4);
}

#[test]
fn a_flipped_header_byte_in_a_sealed_segment_hides_no_other_batch() {
    let original = MemoryFiles::with_crash_simulation();
    write(&original, small_segments(), 40).close().unwrap();
    let sealed = "t-0/00000000000000000000.log";
    let bytes = original.file(sealed).unwrap();
    let positions = batch_positions(&bytes);
    assert!(positions.len() >= 5);
    // The base offset's low byte (outside the CRC), the length's low byte, the magic byte.
    for at in [positions[2] + 7, positions[2] + 11, positions[2] + 16] {
        let storage = original.crash_image(|_, _| 0);
        let mut damaged = bytes.clone();
        damaged[at] ^= 0x04;
        storage.set_file(sealed, damaged);
        let mut log = open(&storage);
        let (read, corrupt) = read_each(&mut log, 0, 40);
        assert_eq!(corrupt, vec![2], "byte {at}");
        assert_eq!(read.len(), 39, "every other record is served (byte {at})");
        // Flipping it back restores it.
        drop(log);
        storage.set_file(sealed, bytes.clone());
        let mut log = open(&storage);
        assert_eq!(read_each(&mut log, 0, 40).0.len(), 40);
    }
}

#[test]
fn a_stray_file_named_like_a_segment_is_left_alone_and_hides_nothing() {
    let original = MemoryFiles::with_crash_simulation();
    write(&original, small_segments(), 40).close().unwrap();
    let storage = original.crash_image(|_, _| 0);
    // Named as if a segment started at offset 3, inside the first segment.
    storage.set_file(
        "t-0/00000000000000000003.log",
        b"not a segment at all".to_vec(),
    );
    let mut log = open(&storage);
    let report = log.recovery_report();
    assert_eq!(report.partitions.len(), 1, "{report:?}");
    assert!(report.partitions[0].1.ignored[0].contains("00000000000000000003.log"));
    assert_eq!(read_each(&mut log, 0, 40).0.len(), 40);
}

#[test]
fn a_deleted_or_cut_sealed_segment_is_reported_not_a_silent_hole() {
    let original = MemoryFiles::with_crash_simulation();
    write(&original, small_segments(), 40).close().unwrap();
    let mut segments: Vec<String> = original
        .paths()
        .into_iter()
        .filter(|p| p.starts_with("t-0/") && p.ends_with(".log"))
        .collect();
    segments.sort();
    assert!(segments.len() >= 3, "{segments:?}");
    let second = &segments[1];
    let second_base: i64 = second[4..24].parse().unwrap();
    let third_base: i64 = segments[2][4..24].parse().unwrap();

    // Deleted (with its index).
    let storage = original.crash_image(|_, _| 0);
    let mut files = storage.clone();
    brook::Files::remove(&mut files, second).unwrap();
    brook::Files::remove(&mut files, &second.replace(".log", ".index")).unwrap();
    let mut log = open(&storage);
    let ranges: Vec<(i64, i64)> = log
        .recovery_report()
        .damaged()
        .iter()
        .map(|(_, r)| (r.from, r.to))
        .collect();
    assert_eq!(ranges, vec![(second_base, third_base)]);
    assert_eq!(
        log.offsets("t").unwrap()[0].high,
        40,
        "offsets() still spans the range"
    );
    let (read, corrupt) = read_each(&mut log, 0, 40);
    assert_eq!(corrupt, (second_base..third_base).collect::<Vec<_>>());
    assert_eq!(read.len() as i64, 40 - (third_base - second_base));

    // Cut short, its index left: what the index knew beyond the file is reported.
    let storage = original.crash_image(|_, _| 0);
    let bytes = storage.file(second).unwrap();
    let positions = batch_positions(&bytes);
    storage.set_file(second, bytes[..positions[1]].to_vec());
    let mut log = open(&storage);
    let ranges: Vec<(i64, i64)> = log
        .recovery_report()
        .damaged()
        .iter()
        .map(|(_, r)| (r.from, r.to))
        .collect();
    assert_eq!(ranges, vec![(second_base + 1, third_base)]);
    assert_eq!(
        read_each(&mut log, 0, 40).1,
        (second_base + 1..third_base).collect::<Vec<_>>()
    );
}

#[test]
fn a_commit_past_the_end_is_clamped_and_reported_and_new_records_are_not_skipped() {
    let storage = MemoryFiles::with_crash_simulation();
    let mut log = write(&storage, TopicConfig::default(), 10);
    let mut options = ConsumerOptions::new("g");
    options.offset_reset = OffsetReset::Earliest;
    let member = log.join_group(options.clone(), &["t"]).unwrap();
    log.commit(member, &[("t", 0, 10)]).unwrap();
    log.flush(true).unwrap();
    log.close().unwrap();
    // The partition loses its last three records (a damaged log, or an older version's
    // commit): the group's commit at 10 now points past the end at 7.
    let bytes = storage.file(ACTIVE).unwrap();
    let positions = batch_positions(&bytes);
    storage.set_file(ACTIVE, bytes[..positions[7]].to_vec());
    storage.set_file("t-0/00000000000000000000.index", Vec::new());
    let mut log = open(&storage);
    let clamped = &log.recovery_report().clamped_commits;
    assert_eq!(clamped.len(), 1, "{:?}", log.recovery_report());
    assert_eq!((clamped[0].committed, clamped[0].end), (10, 7));
    assert_eq!(log.committed("g", "t", 0), Some(7));
    // New records at 7.. reach the group: none is skipped.
    let mut producer = log.producer(PartitionerKind::Default);
    log.send(&mut producer, "t", &[record(b"seven"), record(b"eight")])
        .unwrap();
    log.flush(true).unwrap();
    let member = log.join_group(options, &["t"]).unwrap();
    let mut seen = Vec::new();
    let outcome = log
        .poll(member, 100, FETCH_BYTES_MAX, &mut |_, _, run| {
            run.for_each(|r| seen.push(r.offset)).unwrap()
        })
        .unwrap();
    assert!(!outcome.pending);
    assert_eq!(seen, vec![7, 8]);
}

#[test]
fn a_damaged_commit_record_costs_only_its_own_commits() {
    let storage = MemoryFiles::with_crash_simulation();
    let mut log = write(&storage, TopicConfig::default(), 10);
    let mut options = ConsumerOptions::new("g");
    options.offset_reset = OffsetReset::Earliest;
    let member = log.join_group(options, &["t"]).unwrap();
    for offset in [2, 5, 8] {
        log.commit(member, &[("t", 0, offset)]).unwrap();
        log.flush(true).unwrap();
    }
    std::mem::forget(log);
    let storage = storage.crash_image(|_, _| 0);
    let path = "__consumer_offsets-0/00000000000000000000.log";
    let mut bytes = storage.file(path).unwrap();
    let positions = batch_positions(&bytes);
    assert_eq!(positions.len(), 3);
    bytes[positions[1] + 70] ^= 0x01; // the commit of 5
    storage.set_file(path, bytes);
    let log = open(&storage);
    // The last commit (8) is intact and read; the damaged one is reported.
    assert_eq!(log.committed("g", "t", 0), Some(8));
    let ranges: Vec<(i64, i64)> = log
        .recovery_report()
        .damaged()
        .iter()
        .map(|(_, r)| (r.from, r.to))
        .collect();
    assert_eq!(ranges, vec![(1, 2)]);
}

#[test]
fn a_log_larger_than_its_cache_reads_end_to_end() {
    let storage = MemoryFiles::new();
    let mut log = Log::open(
        Box::new(FileStore::new(Box::new(storage.clone()))),
        LogOptions {
            cache_bytes: 64 * 1024,
            ..LogOptions::new(Box::new(ManualClock::new(NOW)), 5)
        },
    )
    .unwrap();
    log.create_topic(
        "t",
        1,
        TopicConfig {
            segment_bytes: 256 * 1024,
            ..TopicConfig::default()
        },
    )
    .unwrap();
    let mut producer = log.producer(PartitionerKind::Default);
    let value = vec![7u8; 1000];
    for _ in 0..200 {
        let messages: Vec<Message> = (0..10).map(|_| record(&value)).collect();
        log.send(&mut producer, "t", &messages).unwrap();
        log.flush(true).unwrap();
    }
    // Two groups, far apart: each reads 2 MB through a cache of 64 KiB.
    for _ in 0..2 {
        let mut next = 0;
        let mut count = 0;
        while next < 2000 {
            let step = log.read("t", 0, next, 500, FETCH_BYTES_MAX, &mut |r| {
                assert_eq!(r.value.map(<[u8]>::len), Some(1000));
                count += 1;
            });
            let Ok(Step::Ready(outcome)) = step else {
                panic!("{step:?}")
            };
            next = outcome.next_offset;
        }
        assert_eq!(count, 2000);
    }
}

fn remove(storage: &MemoryFiles, path: &str) {
    let mut files = storage.clone();
    brook::Files::remove(&mut files, path).unwrap();
}

fn files_of(storage: &MemoryFiles, suffix: &str) -> Vec<String> {
    let mut paths: Vec<String> = storage
        .paths()
        .into_iter()
        .filter(|p| p.starts_with("t-0/") && p.ends_with(suffix))
        .collect();
    paths.sort();
    paths
}

#[test]
fn compaction_gaps_without_an_index_are_not_damage_as_brook_0_1_left_them() {
    // brook 0.1 wrote no index: a sealed segment whose last batches compaction dropped ends
    // before the next segment begins. Read without an index, that gap is compaction's.
    let storage = MemoryFiles::with_crash_simulation();
    let mut log = open(&storage);
    let config = TopicConfig {
        cleanup_policy: brook::CleanupPolicy::Compact,
        segment_bytes: 1024,
        delete_retention_ms: 0,
        ..TopicConfig::default()
    };
    log.create_topic("t", 1, config).unwrap();
    let mut producer = log.producer(PartitionerKind::Default);
    for i in 0..60 {
        let key = format!("k{}", i % 4);
        let value = format!("value {i:03} {}", "v".repeat(40));
        let message = keyed(key.as_bytes(), value.as_bytes());
        log.send(&mut producer, "t", &[message]).unwrap();
        log.flush(true).unwrap();
    }
    assert!(matches!(log.maintain().unwrap(), Step::Ready(n) if n > 0));
    let kept: Vec<i64> = log
        .read_records("t", 0, 0, 1000)
        .unwrap()
        .iter()
        .map(|r| r.offset)
        .collect();
    log.close().unwrap();
    for index in files_of(&storage, ".index") {
        remove(&storage, &index);
    }
    remove(&storage, "checkpoint");
    let mut log = open(&storage);
    assert!(
        log.recovery_report().is_clean(),
        "{:?}",
        log.recovery_report()
    );
    let again: Vec<i64> = log
        .read_records("t", 0, 0, 1000)
        .unwrap()
        .iter()
        .map(|r| r.offset)
        .collect();
    assert_eq!(again, kept);
    assert_eq!(log.offsets("t").unwrap()[0].high, 60);
    // And compaction goes on (damage would stop it for good).
    assert!(matches!(log.maintain().unwrap(), Step::Ready(_)));
}

#[test]
fn without_a_checkpoint_the_first_segment_is_the_log_start_and_later_opens_keep_it() {
    let original = MemoryFiles::with_crash_simulation();
    let mut log = write(&original, small_segments(), 40);
    log.close().unwrap();
    let segments = files_of(&original, ".log");
    // What retention did in brook 0.1: the first segments gone, and no checkpoint written.
    remove(&original, &segments[0]);
    remove(&original, &segments[0].replace(".log", ".index"));
    remove(&original, "checkpoint");
    let first: i64 = segments[1][4..24].parse().unwrap();
    let mut log = open(&original);
    assert!(
        log.recovery_report().is_clean(),
        "{:?}",
        log.recovery_report()
    );
    assert_eq!(log.offsets("t").unwrap()[0].low, first);
    log.flush(true).unwrap();
    log.close().unwrap();
    // The first flush wrote the checkpoint: now a missing first segment is damage.
    let segments = files_of(&original, ".log");
    remove(&original, &segments[0]);
    remove(&original, &segments[0].replace(".log", ".index"));
    let log = open(&original);
    let ranges: Vec<(i64, i64)> = log
        .recovery_report()
        .damaged()
        .iter()
        .map(|(_, r)| (r.from, r.to))
        .collect();
    let second: i64 = segments[1][4..24].parse().unwrap();
    assert_eq!(ranges, vec![(first, second)]);
}

#[test]
fn a_stray_file_named_beyond_the_end_is_left_alone_and_the_real_tail_stays_active() {
    let original = MemoryFiles::with_crash_simulation();
    let mut log = write(&original, small_segments(), 40);
    // An acknowledged record, then a torn one, in the real active segment.
    let mut producer = log.producer(PartitionerKind::Default);
    log.send(&mut producer, "t", &[record(b"torn")]).unwrap();
    log.flush(false).unwrap();
    let storage = original.crash_image(|_, unsynced| unsynced / 2);
    std::mem::forget(log);
    let stray = "t-0/00000000000000099999.log";
    storage.set_file(stray, b"junk that is not a batch".to_vec());
    let mut log = open(&storage);
    let report = log.recovery_report();
    let partition = &report.partitions[0].1;
    assert!(
        partition
            .ignored
            .iter()
            .any(|i| i.contains("00000000000000099999.log")),
        "{report:?}"
    );
    assert!(
        partition.truncated_bytes > 0,
        "the real active segment's torn tail was cut: {report:?}"
    );
    assert!(partition.damaged.is_empty(), "{report:?}");
    assert_eq!(log.offsets("t").unwrap()[0].high, 40);
    let mut producer = log.producer(PartitionerKind::Default);
    let placed = log.send(&mut producer, "t", &[record(b"next")]).unwrap();
    assert_eq!(placed[0].offset, 40);
    log.flush(true).unwrap();
    assert_eq!(
        storage.file(stray).unwrap(),
        b"junk that is not a batch",
        "left alone"
    );
    assert_eq!(read_each(&mut log, 0, 41).0.len(), 41);
}

#[test]
fn a_partition_whose_every_file_is_gone_goes_on_from_its_log_start_not_from_zero() {
    let storage = MemoryFiles::with_crash_simulation();
    let config = TopicConfig {
        segment_bytes: 1024,
        retention_bytes: Some(1500),
        ..TopicConfig::default()
    };
    let mut log = write(&storage, config, 40);
    assert!(matches!(log.maintain().unwrap(), Step::Ready(n) if n > 0));
    let low = log.offsets("t").unwrap()[0].low;
    assert!(low > 0);
    log.close().unwrap();
    for path in files_of(&storage, "") {
        remove(&storage, &path);
    }
    let log = open(&storage);
    let offsets = log.offsets("t").unwrap();
    assert_eq!((offsets[0].low, offsets[0].high), (low, low));
    assert_eq!(log.recovery_report().damaged().len(), 1, "reported");
}

#[test]
fn an_active_segment_shorter_than_its_index_loses_the_index() {
    let storage = MemoryFiles::with_crash_simulation();
    write(&storage, TopicConfig::default(), 10).close().unwrap();
    let bytes = storage.file(ACTIVE).unwrap();
    let positions = batch_positions(&bytes);
    storage.set_file(ACTIVE, bytes[..positions[6]].to_vec());
    let log = open(&storage);
    assert_eq!(log.offsets("t").unwrap()[0].high, 6);
    assert!(
        storage.file("t-0/00000000000000000000.index").is_none(),
        "the stale index is gone"
    );
}

#[test]
fn an_append_that_fails_and_cannot_be_taken_back_stops_that_file_until_a_reopen() {
    let storage = MemoryFiles::with_crash_simulation();
    let mut log = write(&storage, TopicConfig::default(), 5);
    let mut producer = log.producer(PartitionerKind::Default);
    log.send(&mut producer, "t", &[record(b"fails")]).unwrap();
    storage.fail_after(0);
    assert!(log.flush(true).is_err());
    storage.heal();
    log.send(&mut producer, "t", &[record(b"after")]).unwrap();
    let error = log.flush(true).unwrap_err();
    assert_eq!(error.code(), "IO_ERROR");
    assert!(error.to_string().contains("open it again"), "{error}");
    drop(log);
    let mut log = open(&storage.crash_image(|_, unsynced| unsynced));
    assert_eq!(log.offsets("t").unwrap()[0].high, 5);
    assert_eq!(read_each(&mut log, 0, 5).0.len(), 5);
}

#[test]
fn damage_met_while_compacting_one_partition_keeps_no_other_from_its_retention() {
    let storage = MemoryFiles::with_crash_simulation();
    let mut log = open(&storage);
    let compacted = TopicConfig {
        cleanup_policy: brook::CleanupPolicy::Compact,
        segment_bytes: 1024,
        ..TopicConfig::default()
    };
    let retained = TopicConfig {
        segment_bytes: 1024,
        retention_bytes: Some(1024),
        ..TopicConfig::default()
    };
    log.create_topic("c", 1, compacted).unwrap();
    log.create_topic("r", 1, retained).unwrap();
    let mut producer = log.producer(PartitionerKind::Default);
    for i in 0..40 {
        let value = format!("value {i:03} {}", "v".repeat(50));
        let key = format!("k{}", i % 3);
        for topic in ["c", "r"] {
            let message = keyed(key.as_bytes(), value.as_bytes());
            log.send(&mut producer, topic, &[message]).unwrap();
        }
        log.flush(true).unwrap();
    }
    log.close().unwrap();
    // A flipped byte in the compacted topic's first segment: the clean open trusts its index,
    // so compaction is the first to read it.
    let path = "c-0/00000000000000000000.log";
    let mut bytes = storage.file(path).unwrap();
    let at = batch_positions(&bytes)[1] + 40;
    bytes[at] ^= 0xff;
    storage.set_file(path, bytes);
    let mut log = open(&storage);
    let low_before = log.offsets("r").unwrap()[0].low;
    let error = log.maintain().unwrap_err();
    assert_eq!(error.code(), "CORRUPT_DATA");
    assert!(
        log.offsets("r").unwrap()[0].low > low_before,
        "retention of the other topic ran"
    );
    // The damaged segments are not read again on every pass.
    assert!(matches!(log.maintain().unwrap(), Step::Ready(_)));
}
