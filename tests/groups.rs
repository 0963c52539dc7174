// Consumers, consumer groups, commits, retention and compaction through the public API:
// hand-worked stories first, then property tests over random sequences of operations that
// check the invariants against a model.

use std::collections::{BTreeMap, BTreeSet};

use brook::{
    Assignor, CleanupPolicy, ConsumerOptions, Error, FailureNote, FileStore, Log, LogOptions,
    ManualClock, MemberId, MemoryFiles, Message, OffsetReset, PartitionerKind, RecordInput, Step,
    TopicConfig, FETCH_BYTES_MAX,
};
use proptest::prelude::*;

const NOW: i64 = 1_700_000_000_000;

fn open_with_clock(storage: &MemoryFiles, clock: &ManualClock) -> Log {
    Log::open(
        Box::new(FileStore::new(Box::new(storage.clone()))),
        LogOptions::new(Box::new(clock.clone()), 9),
    )
    .unwrap()
}

fn open(storage: &MemoryFiles) -> Log {
    open_with_clock(storage, &ManualClock::new(NOW))
}

fn options(group: &str, auto_commit: bool, assignor: Assignor) -> ConsumerOptions {
    ConsumerOptions {
        group_id: group.to_owned(),
        auto_commit,
        commit_processed: false,
        assignor,
        offset_reset: OffsetReset::Earliest,
    }
}

fn produce(log: &mut Log, topic: &str, partition: u32, values: &[&str]) {
    let mut producer = log.producer(PartitionerKind::Default);
    let messages: Vec<Message> = values
        .iter()
        .map(|v| Message {
            record: RecordInput {
                value: Some(v.as_bytes()),
                ..Default::default()
            },
            partition: Some(partition),
        })
        .collect();
    log.send(&mut producer, topic, &messages).unwrap();
    // Readers see what is durable: flush, as a send's acknowledgement does.
    log.flush(true).unwrap();
}

/// Polls once; returns (partition, offset, value) of each delivered record. The poll's auto
/// commits become durable with the flush after it, as the bindings flush before delivering.
fn poll(log: &mut Log, member: MemberId, max: u32) -> Vec<(u32, i64, String)> {
    let mut got = Vec::new();
    log.poll(member, max, FETCH_BYTES_MAX, &mut |_, partition, run| {
        run.for_each(|record| {
            let value = String::from_utf8_lossy(record.value.unwrap_or_default()).into_owned();
            got.push((partition, record.offset, value));
        })
        .unwrap()
    })
    .unwrap();
    log.flush(true).unwrap();
    got
}

/// Retention and compaction, on a store that reads at once.
fn maintained(log: &mut Log) -> u32 {
    match log.maintain().unwrap() {
        Step::Ready(changed) => changed,
        Step::Pending => panic!("a file store never waits"),
    }
}

fn drain(log: &mut Log, member: MemberId) -> Vec<(u32, i64, String)> {
    let mut all = Vec::new();
    for _ in 0..1000 {
        let got = poll(log, member, 7);
        if got.is_empty() {
            break;
        }
        all.extend(got);
    }
    all
}

fn setup(partitions: u32, per_partition: usize) -> (MemoryFiles, Log) {
    let storage = MemoryFiles::with_crash_simulation();
    let mut log = open(&storage);
    log.create_topic("t", partitions, TopicConfig::default())
        .unwrap();
    for partition in (0..partitions).filter(|_| per_partition > 0) {
        let values: Vec<String> = (0..per_partition)
            .map(|i| format!("p{partition}-{i}"))
            .collect();
        let refs: Vec<&str> = values.iter().map(String::as_str).collect();
        produce(&mut log, "t", partition, &refs);
    }
    log.flush(true).unwrap();
    (storage, log)
}

#[test]
fn two_groups_each_see_every_record_in_partition_order() {
    let (_, mut log) = setup(3, 10);
    let mysql = log
        .join_group(options("mysql", true, Assignor::Range), &["t"])
        .unwrap();
    let search = log
        .join_group(options("search", true, Assignor::Range), &["t"])
        .unwrap();
    for member in [mysql, search] {
        let got = drain(&mut log, member);
        assert_eq!(got.len(), 30);
        for partition in 0..3 {
            let offsets: Vec<i64> = got
                .iter()
                .filter(|g| g.0 == partition)
                .map(|g| g.1)
                .collect();
            assert_eq!(
                offsets,
                (0..10).collect::<Vec<_>>(),
                "partition {partition} in order"
            );
        }
    }
    assert_eq!(log.committed("mysql", "t", 2), Some(10));
    assert!(log.lag("search", "t").unwrap().iter().all(|l| l.lag == 0));
}

#[test]
fn a_fetched_run_tells_its_partition_and_durable_end_not_the_end_handed_out() {
    // 1,000 partitions with records in two: the runs come from those two only.
    let (_, mut log) = setup(1000, 0);
    produce(&mut log, "t", 7, &["a", "b", "c"]);
    produce(&mut log, "t", 998, &["d"]);
    // Sent, not flushed: offsets handed out past the durable end.
    let mut producer = log.producer(PartitionerKind::Default);
    let pending = Message {
        record: RecordInput {
            value: Some(b"pending"),
            ..Default::default()
        },
        partition: Some(7),
    };
    log.send(&mut producer, "t", &[pending]).unwrap();
    let member = log
        .join_group(options("g", true, Assignor::Range), &["t"])
        .unwrap();
    let mut runs = Vec::new();
    log.poll_from(member, 100, FETCH_BYTES_MAX, &mut |from, run| {
        runs.push((
            from.topic.to_owned(),
            from.partition,
            from.high,
            from.failure,
            run.for_each(|_| ()).is_ok(),
        ))
    })
    .unwrap();
    runs.sort_by_key(|r| r.1);
    assert_eq!(
        runs,
        vec![
            ("t".to_owned(), 7, 3, None, true),
            ("t".to_owned(), 998, 1, None, true)
        ]
    );
}

#[test]
fn polls_interleave_partitions_so_none_starves() {
    let (_, mut log) = setup(3, 10);
    let member = log
        .join_group(options("g", true, Assignor::Range), &["t"])
        .unwrap();
    let first: BTreeSet<u32> = (0..3)
        .flat_map(|_| poll(&mut log, member, 2))
        .map(|g| g.0)
        .collect();
    assert_eq!(first, BTreeSet::from([0, 1, 2]));
}

#[test]
fn members_split_partitions_and_take_over_when_one_leaves() {
    let (_, mut log) = setup(4, 5);
    let a = log
        .join_group(options("g", false, Assignor::Range), &["t"])
        .unwrap();
    let b = log
        .join_group(options("g", false, Assignor::Range), &["t"])
        .unwrap();
    let owned_a = log.assignment(a).unwrap();
    let owned_b = log.assignment(b).unwrap();
    assert_eq!(owned_a, vec![("t".into(), 0), ("t".into(), 1)]);
    assert_eq!(owned_b, vec![("t".into(), 2), ("t".into(), 3)]);
    // b processes and commits two records of partition 2, then leaves.
    let got = poll(&mut log, b, 2);
    let last = got.last().unwrap();
    log.commit(b, &[("t", last.0, last.1 + 1)]).unwrap();
    // Only the owner commits a partition: a stale commit must not overwrite the owner's.
    assert_eq!(
        log.commit(a, &[("t", 2, 0)]).unwrap_err().code(),
        "REBALANCE_IN_PROGRESS"
    );
    log.leave_group(b).unwrap();
    assert_eq!(log.assignment(a).unwrap().len(), 4);
    // a continues partition 2 at the commit; partition 3 from the start (nothing committed).
    let got = drain(&mut log, a);
    let p2: Vec<i64> = got.iter().filter(|g| g.0 == 2).map(|g| g.1).collect();
    let p3: Vec<i64> = got.iter().filter(|g| g.0 == 3).map(|g| g.1).collect();
    assert_eq!(p2, vec![2, 3, 4]);
    assert_eq!(p3, vec![0, 1, 2, 3, 4]);
    assert_eq!(
        log.commit(b, &[("t", 2, 1)]).unwrap_err().code(),
        "UNKNOWN_MEMBER_ID"
    );
}

#[test]
fn more_members_than_partitions_leaves_some_idle() {
    let (_, mut log) = setup(2, 1);
    let members: Vec<MemberId> = (0..3)
        .map(|_| {
            log.join_group(options("g", true, Assignor::RoundRobin), &["t"])
                .unwrap()
        })
        .collect();
    let sizes: Vec<usize> = members
        .iter()
        .map(|&m| log.assignment(m).unwrap().len())
        .collect();
    assert_eq!(sizes, vec![1, 1, 0]);
    let description = log.describe_group("g").unwrap();
    assert_eq!(description.members.len(), 3);
    assert_eq!(description.generation, 3);
}

#[test]
fn manual_commit_redelivers_after_a_crash_and_auto_commit_skips() {
    for auto_commit in [false, true] {
        let (storage, mut log) = setup(1, 3);
        let member = log
            .join_group(options("g", auto_commit, Assignor::Range), &["t"])
            .unwrap();
        let first = poll(&mut log, member, 1);
        assert_eq!(first[0].1, 0);
        if !auto_commit {
            log.commit(member, &[("t", 0, 1)]).unwrap(); // record 0 processed
        }
        let second = poll(&mut log, member, 1); // record 1 delivered, then the process dies
        assert_eq!(second[0].1, 1);
        log.flush(true).unwrap();
        std::mem::forget(log);
        let mut log = open(&storage.crash_image(|_, _| 0));
        let member = log
            .join_group(options("g", auto_commit, Assignor::Range), &["t"])
            .unwrap();
        let next = poll(&mut log, member, 1);
        let expected = if auto_commit { 2 } else { 1 };
        assert_eq!(next[0].1, expected, "auto_commit = {auto_commit}");
    }
}

#[test]
fn commits_survive_close_and_reopen() {
    let (storage, mut log) = setup(2, 4);
    let member = log
        .join_group(options("g", false, Assignor::Range), &["t"])
        .unwrap();
    log.commit(member, &[("t", 0, 3), ("t", 1, 1)]).unwrap();
    log.close().unwrap();
    let mut log = open(&storage);
    assert_eq!(log.committed("g", "t", 0), Some(3));
    assert_eq!(log.committed("g", "t", 1), Some(1));
    assert_eq!(log.committed("other", "t", 0), None);
    let lag = log.lag("g", "t").unwrap();
    assert_eq!((lag[0].lag, lag[1].lag), (1, 3));
    let member = log
        .join_group(options("g", false, Assignor::Range), &["t"])
        .unwrap();
    let got = drain(&mut log, member);
    assert_eq!(
        got.iter().map(|g| (g.0, g.1)).collect::<Vec<_>>(),
        vec![(0, 3), (1, 1), (1, 2), (1, 3)]
    );
}

#[test]
fn an_empty_group_has_its_offsets_set_and_deleted_from_outside_and_a_reopen_agrees() {
    let (storage, mut log) = setup(2, 4);
    let member = log
        .join_group(options("g", false, Assignor::Range), &["t"])
        .unwrap();
    log.commit(member, &[("t", 0, 1)]).unwrap();
    log.flush(true).unwrap();
    // While the group has a live member, outsiders change nothing.
    let refused = log.set_group_offsets("g", &[("t", 0, 3)]).unwrap_err();
    assert_eq!(refused.code(), "NON_EMPTY_GROUP");
    assert_eq!(log.delete_group("g").unwrap_err().code(), "NON_EMPTY_GROUP");
    log.leave_group(member).unwrap();
    assert_eq!(log.groups(), Vec::<String>::new());
    assert_eq!(log.known_groups(), vec!["g".to_owned()]);

    // Offsets are checked as a commit's are: the topic's partitions, 0..=high watermark.
    for (topic, partition, offset, code) in [
        ("t", 0, 5, "OFFSET_OUT_OF_RANGE"),
        ("t", 0, -1, "OFFSET_OUT_OF_RANGE"),
        ("t", 2, 0, "INVALID_PARTITION"),
        ("nope", 0, 0, "UNKNOWN_TOPIC"),
        ("__consumer_offsets", 0, 0, "INVALID_ARGUMENT"),
    ] {
        let error = log
            .set_group_offsets("g", &[(topic, partition, offset)])
            .unwrap_err();
        assert_eq!(error.code(), code, "{topic} {partition} {offset}");
    }
    assert_eq!(
        log.set_group_offsets("", &[]).unwrap_err().code(),
        "INVALID_ARGUMENT"
    );
    log.set_group_offsets("g", &[("t", 0, 3), ("t", 1, 4)])
        .unwrap();
    log.set_group_offsets("fresh", &[("t", 1, 2)]).unwrap();
    log.flush(true).unwrap();
    log.close().unwrap();

    let mut log = open(&storage);
    assert_eq!(log.committed("g", "t", 0), Some(3));
    assert_eq!(log.committed("g", "t", 1), Some(4));
    assert_eq!(log.known_groups(), vec!["fresh".to_owned(), "g".to_owned()]);
    // A member of the group starts where the offsets were set.
    let member = log
        .join_group(options("g", false, Assignor::Range), &["t"])
        .unwrap();
    let got = drain(&mut log, member);
    assert_eq!(
        got.iter().map(|g| (g.0, g.1)).collect::<Vec<_>>(),
        vec![(0, 3)]
    );
    log.leave_group(member).unwrap();

    log.delete_group("g").unwrap();
    // Deleted at once for this log's readers of commits, and for good after a reopen.
    assert_eq!(
        log.delete_group("g").unwrap_err().code(),
        "GROUP_ID_NOT_FOUND"
    );
    log.flush(true).unwrap();
    assert_eq!(log.committed("g", "t", 0), None);
    assert_eq!(log.known_groups(), vec!["fresh".to_owned()]);
    log.close().unwrap();
    let mut log = open(&storage);
    assert_eq!(
        (log.committed("g", "t", 0), log.committed("g", "t", 1)),
        (None, None)
    );
    assert_eq!(log.committed("fresh", "t", 1), Some(2));
    assert_eq!(
        log.delete_group("g").unwrap_err().code(),
        "GROUP_ID_NOT_FOUND"
    );
    // The deleted group starts over from its reset policy (earliest here).
    let member = log
        .join_group(options("g", false, Assignor::Range), &["t"])
        .unwrap();
    assert_eq!(drain(&mut log, member).len(), 8);
}

#[test]
fn cooperative_rebalance_keeps_positions_eager_restarts_from_commits() {
    for (assignor, expected_restart) in [
        (Assignor::CooperativeSticky, false),
        (Assignor::Range, true),
    ] {
        let (_, mut log) = setup(2, 5);
        let a = log
            .join_group(options("g", false, assignor), &["t"])
            .unwrap();
        let _ = drain(&mut log, a); // delivered everything, committed nothing
        let b = log
            .join_group(options("g", false, assignor), &["t"])
            .unwrap();
        let kept = log.assignment(a).unwrap();
        assert_eq!(kept.len(), 1);
        let again = drain(&mut log, a);
        assert_eq!(!again.is_empty(), expected_restart, "{assignor:?}");
        // The partition that moved starts at its commit (none: the beginning) for b.
        assert_eq!(drain(&mut log, b).len(), 5);
    }
}

#[test]
fn seek_pause_resume_and_offset_reset() {
    let (_, mut log) = setup(2, 5);
    let member = log
        .join_group(options("g", true, Assignor::Range), &["t"])
        .unwrap();
    log.seek(member, "t", 1, 3).unwrap();
    log.set_paused(member, "t", Some(&[0]), true).unwrap();
    let got = drain(&mut log, member);
    assert_eq!(
        got.iter().map(|g| (g.0, g.1)).collect::<Vec<_>>(),
        vec![(1, 3), (1, 4)]
    );
    assert!(!log.has_records(member));
    log.set_paused(member, "t", None, false).unwrap();
    assert!(log.has_records(member));
    assert_eq!(drain(&mut log, member).len(), 5);
    assert_eq!(
        log.seek(member, "t", 0, 6).unwrap_err().code(),
        "OFFSET_OUT_OF_RANGE"
    );
    assert_eq!(
        log.seek(member, "t", 9, 0).unwrap_err().code(),
        "INVALID_PARTITION"
    );
    assert_eq!(
        log.set_paused(member, "t", Some(&[7]), true)
            .unwrap_err()
            .code(),
        "INVALID_PARTITION"
    );

    // Latest: a new group starts at the end and sees only new records.
    let latest = log
        .join_group(
            ConsumerOptions {
                offset_reset: OffsetReset::Latest,
                ..options("new", true, Assignor::Range)
            },
            &["t"],
        )
        .unwrap();
    assert!(poll(&mut log, latest, 10).is_empty());
    produce(&mut log, "t", 0, &["fresh"]);
    assert!(log.has_records(latest));
    assert_eq!(poll(&mut log, latest, 10)[0].2, "fresh");

    // None: no commit and no default is an error that names the fix.
    let none = log
        .join_group(
            ConsumerOptions {
                offset_reset: OffsetReset::None,
                ..options("strict", true, Assignor::Range)
            },
            &["t"],
        )
        .unwrap();
    let error = log
        .poll(none, 10, FETCH_BYTES_MAX, &mut |_, _, _| {})
        .unwrap_err();
    assert_eq!(error.code(), "OFFSET_OUT_OF_RANGE");
    log.seek(none, "t", 0, 0).unwrap();
    log.seek(none, "t", 1, 0).unwrap();
    assert_eq!(
        drain(&mut log, none).len(),
        11,
        "6 in partition 0 (with \"fresh\") and 5 in 1"
    );
}

#[test]
fn bad_group_input_gets_codes() {
    let (_, mut log) = setup(1, 1);
    let code = |r: Result<MemberId, Error>| r.unwrap_err().code();
    assert_eq!(
        code(log.join_group(options("", true, Assignor::Range), &["t"])),
        "INVALID_ARGUMENT"
    );
    assert_eq!(
        code(log.join_group(options("g", true, Assignor::Range), &[])),
        "INVALID_ARGUMENT"
    );
    assert_eq!(
        code(log.join_group(options("g", true, Assignor::Range), &["nope"])),
        "UNKNOWN_TOPIC"
    );
    assert_eq!(
        code(log.join_group(options("g", true, Assignor::Range), &["__consumer_offsets"])),
        "INVALID_ARGUMENT"
    );
    let member = log
        .join_group(options("g", true, Assignor::Range), &["t"])
        .unwrap();
    assert_eq!(
        code(log.join_group(options("g", true, Assignor::RoundRobin), &["t"])),
        "INVALID_ARGUMENT"
    );
    assert_eq!(
        log.poll(member, 0, 1, &mut |_, _, _| {})
            .unwrap_err()
            .code(),
        "INVALID_ARGUMENT"
    );
    assert_eq!(
        log.commit(member, &[("t", 0, 5)]).unwrap_err().code(),
        "OFFSET_OUT_OF_RANGE"
    );
    assert_eq!(
        log.commit(member, &[("t", 0, -1)]).unwrap_err().code(),
        "OFFSET_OUT_OF_RANGE"
    );
    assert_eq!(
        log.commit(member, &[("x", 0, 0)]).unwrap_err().code(),
        "UNKNOWN_TOPIC"
    );
    log.leave_group(member).unwrap();
    assert_eq!(
        log.leave_group(member).unwrap_err().code(),
        "UNKNOWN_MEMBER_ID"
    );
    assert_eq!(
        log.poll(member, 1, 1, &mut |_, _, _| {})
            .unwrap_err()
            .code(),
        "UNKNOWN_MEMBER_ID"
    );
    assert_eq!(
        log.assignment(member).unwrap_err().code(),
        "UNKNOWN_MEMBER_ID"
    );
}

#[test]
fn growing_a_topic_rebalances_its_groups() {
    let (_, mut log) = setup(1, 1);
    let a = log
        .join_group(options("g", true, Assignor::CooperativeSticky), &["t"])
        .unwrap();
    let b = log
        .join_group(options("g", true, Assignor::CooperativeSticky), &["t"])
        .unwrap();
    assert_eq!(
        log.assignment(a).unwrap().len() + log.assignment(b).unwrap().len(),
        1
    );
    log.create_partitions("t", 4).unwrap();
    assert_eq!(log.assignment(a).unwrap().len(), 2);
    assert_eq!(log.assignment(b).unwrap().len(), 2);
}

#[test]
fn retention_deletes_old_segments_and_consumers_follow_their_reset_policy() {
    let storage = MemoryFiles::new();
    let clock = ManualClock::new(NOW);
    let mut log = open_with_clock(&storage, &clock);
    let config = TopicConfig {
        segment_bytes: 1024,
        retention_ms: Some(60_000),
        ..TopicConfig::default()
    };
    log.create_topic("t", 1, config).unwrap();
    let value = "x".repeat(200);
    for _ in 0..20 {
        produce(&mut log, "t", 0, &[&value]);
    }
    let early = log
        .join_group(options("early", false, Assignor::Range), &["t"])
        .unwrap();
    assert_eq!(poll(&mut log, early, 1)[0].1, 0);
    let strict = log
        .join_group(
            ConsumerOptions {
                offset_reset: OffsetReset::None,
                ..options("strict", false, Assignor::Range)
            },
            &["t"],
        )
        .unwrap();
    log.seek(strict, "t", 0, 0).unwrap();

    clock.advance(30_000);
    for _ in 0..10 {
        produce(&mut log, "t", 0, &[&value]);
    }
    assert_eq!(maintained(&mut log), 0, "nothing is old enough yet");
    clock.advance(40_000); // the first 20 records are now 70 s old, the last 10 are 40 s old
    let deleted = maintained(&mut log);
    assert!(deleted > 0);
    let offsets = log.offsets("t").unwrap()[0];
    assert!(offsets.low > 1 && offsets.low <= 20, "{offsets:?}");
    assert_eq!(offsets.high, 30);
    // Reading below the low watermark fails; the earliest-reset consumer jumps to it.
    assert_eq!(
        log.read_records("t", 0, 0, 1).unwrap_err().code(),
        "OFFSET_OUT_OF_RANGE"
    );
    assert_eq!(poll(&mut log, early, 1)[0].1, offsets.low);
    let error = log
        .poll(strict, 1, FETCH_BYTES_MAX, &mut |_, _, _| {})
        .unwrap_err();
    assert_eq!(error.code(), "OFFSET_OUT_OF_RANGE");
    // Everything expires: the active segment is rolled and deleted, the offsets carry on.
    clock.advance(120_000);
    maintained(&mut log);
    let offsets = log.offsets("t").unwrap()[0];
    assert_eq!((offsets.low, offsets.high), (30, 30));
    produce(&mut log, "t", 0, &["after"]);
    assert_eq!(log.read_records("t", 0, 30, 1).unwrap()[0].offset, 30);
    log.close().unwrap();
    let log = open(&storage);
    assert_eq!(log.offsets("t").unwrap()[0].low, 30);
}

#[test]
fn retention_bytes_keeps_the_newest_segments_under_the_limit() {
    let storage = MemoryFiles::new();
    let mut log = open(&storage);
    let config = TopicConfig {
        segment_bytes: 1024,
        retention_bytes: Some(2048),
        ..TopicConfig::default()
    };
    log.create_topic("t", 1, config).unwrap();
    let value = "y".repeat(300);
    for _ in 0..40 {
        produce(&mut log, "t", 0, &[&value]);
    }
    maintained(&mut log);
    let offsets = log.offsets("t").unwrap()[0];
    let kept_bytes: u64 = storage
        .paths()
        .iter()
        .filter(|p| p.starts_with("t-0/"))
        .map(|p| storage.file(p).unwrap().len() as u64)
        .sum();
    assert!(
        (2048..2048 + 1024 + 400).contains(&kept_bytes),
        "{kept_bytes}"
    );
    assert!(offsets.low > 0 && offsets.high == 40, "{offsets:?}");
}

fn compact_config() -> TopicConfig {
    TopicConfig {
        cleanup_policy: CleanupPolicy::Compact,
        segment_bytes: 1024,
        delete_retention_ms: 0,
        ..TopicConfig::default()
    }
}

#[test]
fn compaction_keeps_the_latest_value_per_key_and_never_moves_offsets() {
    let storage = MemoryFiles::with_crash_simulation();
    let clock = ManualClock::new(NOW);
    let mut log = open_with_clock(&storage, &clock);
    log.create_topic("c", 1, compact_config()).unwrap();
    let mut producer = log.producer(PartitionerKind::Default);
    let mut last: BTreeMap<String, (i64, Option<String>)> = BTreeMap::new();
    for i in 0..200 {
        let key = format!("k{}", i % 7);
        let value = (i % 13 != 0).then(|| format!("v{i}-{}", "z".repeat(40)));
        let message = Message {
            record: RecordInput {
                key: Some(key.as_bytes()),
                value: value.as_deref().map(str::as_bytes),
                ..Default::default()
            },
            partition: None,
        };
        let placed = log.send(&mut producer, "c", &[message]).unwrap();
        log.flush(true).unwrap();
        last.insert(key, (placed[0].offset, value));
    }
    clock.advance(1);
    assert!(maintained(&mut log) > 0);
    let high = log.offsets("c").unwrap()[0].high;
    assert_eq!(high, 200, "compaction never changes the high watermark");
    let records = log.read_records("c", 0, 0, u32::MAX).unwrap();
    assert!(
        records.len() < 60,
        "superseded records are gone: {}",
        records.len()
    );
    // Offsets strictly increase; each record still has the offset it was written at.
    for pair in records.windows(2) {
        assert!(pair[0].offset < pair[1].offset);
    }
    for record in &records {
        let i = record.offset as usize;
        let key = format!("k{}", i % 7);
        assert_eq!(record.key.as_deref(), Some(key.as_bytes()));
    }
    // The latest value of every live key is there; replaying gives the model's table.
    let mut table: BTreeMap<String, Option<String>> = BTreeMap::new();
    for record in &records {
        let key = String::from_utf8(record.key.clone().unwrap()).unwrap();
        table.insert(
            key,
            record.value.clone().map(|v| String::from_utf8(v).unwrap()),
        );
    }
    for (key, (_, value)) in &last {
        match value {
            Some(value) => assert_eq!(table.get(key), Some(&Some(value.clone())), "{key}"),
            None => assert!(matches!(table.get(key), None | Some(None)), "{key}"),
        }
    }
    // A second pass with nothing new sealed does nothing; a reopen keeps the result.
    assert_eq!(maintained(&mut log), 0);
    log.close().unwrap();
    let mut log = open(&storage);
    assert_eq!(log.read_records("c", 0, 0, u32::MAX).unwrap(), records);
}

#[test]
fn a_crash_in_the_middle_of_compaction_loses_nothing() {
    // Fail the store at every step of a compaction; after a crash, the log holds either the
    // old or the compacted segments, and the latest value of every key is readable.
    for fail_at in 0..40u64 {
        let storage = MemoryFiles::with_crash_simulation();
        let clock = ManualClock::new(NOW);
        let mut log = open_with_clock(&storage, &clock);
        log.create_topic("c", 1, compact_config()).unwrap();
        let mut producer = log.producer(PartitionerKind::Default);
        for i in 0..60 {
            let key = format!("k{}", i % 5);
            let value = format!("v{i}-{}", "q".repeat(50));
            let message = Message {
                record: RecordInput {
                    key: Some(key.as_bytes()),
                    value: Some(value.as_bytes()),
                    ..Default::default()
                },
                partition: None,
            };
            log.send(&mut producer, "c", &[message]).unwrap();
        }
        log.flush(true).unwrap();
        storage.fail_after(fail_at);
        let _ = log.maintain();
        std::mem::forget(log);
        storage.heal();
        let mut log = open(&storage.crash_image(|_, n| n / 2));
        let records = log.read_records("c", 0, 0, u32::MAX).unwrap();
        let mut table = BTreeMap::new();
        for record in &records {
            table.insert(record.key.clone().unwrap(), record.offset);
        }
        for k in 0..5 {
            let key = format!("k{k}").into_bytes();
            assert_eq!(
                table.get(&key),
                Some(&(55 + k as i64)),
                "fail_at {fail_at}: k{k}"
            );
        }
    }
}

#[test]
fn consumer_offsets_stay_small_under_auto_commit() {
    let (_, mut log) = setup(1, 0);
    let member = log
        .join_group(options("g", true, Assignor::Range), &["t"])
        .unwrap();
    for i in 0..3000 {
        produce(&mut log, "t", 0, &[&format!("{i}")]);
        assert_eq!(poll(&mut log, member, 10).len(), 1);
        if i % 100 == 0 {
            maintained(&mut log);
        }
    }
    maintained(&mut log);
    let records = log
        .read_records("__consumer_offsets", 0, 0, u32::MAX)
        .unwrap();
    assert!(
        records.len() < 3000 / 2,
        "compaction keeps the offsets topic small: {}",
        records.len()
    );
    assert_eq!(log.committed("g", "t", 0), Some(3000));
}

// ---- Property tests over random operation sequences ----

#[derive(Clone, Debug)]
enum Operation {
    Produce {
        partition: u8,
        count: u8,
    },
    Join {
        group: u8,
    },
    Leave {
        member: u8,
    },
    Poll {
        member: u8,
        max: u8,
    },
    /// The member commits what it has processed (its position) in one of its partitions.
    Commit {
        member: u8,
        partition: u8,
    },
    CrashAndReopen {
        torn: u8,
    },
}

fn operation() -> impl Strategy<Value = Operation> {
    prop_oneof![
        4 => (0u8..4, 1u8..5).prop_map(|(partition, count)| Operation::Produce { partition, count }),
        2 => (0u8..2).prop_map(|group| Operation::Join { group }),
        1 => any::<u8>().prop_map(|member| Operation::Leave { member }),
        5 => (any::<u8>(), 1u8..6).prop_map(|(member, max)| Operation::Poll { member, max }),
        3 => (any::<u8>(), 0u8..4).prop_map(|(member, partition)| Operation::Commit { member, partition }),
        1 => any::<u8>().prop_map(|torn| Operation::CrashAndReopen { torn }),
    ]
}

const PARTITIONS: u32 = 4;
/// Group 0 commits manually (at-least-once); group 1 auto-commits (at-most-once).
const GROUPS: [(&str, bool); 2] = [("manual", false), ("auto", true)];

struct Model {
    /// Records written per partition (values are unique: "p{partition}-{n}").
    written: Vec<i64>,
    durable: Vec<i64>,
    /// Per group: how often each (partition, offset) was delivered.
    delivered: Vec<BTreeMap<(u32, i64), u32>>,
    /// Per group and partition: the last commit made durable.
    durable_commits: Vec<BTreeMap<u32, i64>>,
    commits: Vec<BTreeMap<u32, i64>>,
}

fn assert_group_ownership(log: &Log, members: &[(MemberId, usize)]) -> Result<(), TestCaseError> {
    for (group_index, _) in GROUPS.iter().enumerate() {
        let mut owners: BTreeMap<u32, MemberId> = BTreeMap::new();
        let in_group: Vec<MemberId> = members
            .iter()
            .filter(|m| m.1 == group_index)
            .map(|m| m.0)
            .collect();
        for &member in &in_group {
            for (_, partition) in log.assignment(member).unwrap() {
                prop_assert!(
                    owners.insert(partition, member).is_none(),
                    "partition {} owned twice",
                    partition
                );
            }
        }
        if !in_group.is_empty() {
            prop_assert_eq!(
                owners.len() as u32,
                PARTITIONS,
                "every partition has an owner"
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn groups_keep_their_invariants_through_random_operations(
        operations in proptest::collection::vec(operation(), 1..60),
    ) {
        let mut storage = MemoryFiles::with_crash_simulation();
        let mut log = open(&storage);
        log.create_topic("t", PARTITIONS, TopicConfig { segment_bytes: 1024, ..TopicConfig::default() }).unwrap();
        let mut model = Model {
            written: vec![0; PARTITIONS as usize],
            durable: vec![0; PARTITIONS as usize],
            delivered: vec![BTreeMap::new(), BTreeMap::new()],
            durable_commits: vec![BTreeMap::new(), BTreeMap::new()],
            commits: vec![BTreeMap::new(), BTreeMap::new()],
        };
        // Live members: (id, group index), and per member the last offset delivered per partition.
        let mut members: Vec<(MemberId, usize)> = Vec::new();
        let mut last_delivered: BTreeMap<MemberId, BTreeMap<u32, i64>> = BTreeMap::new();

        for operation in operations {
            match operation {
                Operation::Produce { partition, count } => {
                    let partition = partition as u32 % PARTITIONS;
                    let values: Vec<String> = (0..count)
                        .map(|i| format!("p{partition}-{}", model.written[partition as usize] + i as i64))
                        .collect();
                    let refs: Vec<&str> = values.iter().map(String::as_str).collect();
                    produce(&mut log, "t", partition, &refs);
                    model.written[partition as usize] += count as i64;
                }
                Operation::Join { group } => {
                    let (name, auto) = GROUPS[group as usize];
                    let member = log.join_group(options(name, auto, Assignor::CooperativeSticky), &["t"]).unwrap();
                    members.push((member, group as usize));
                    // A rebalance may hand partitions to others: their delivery order restarts.
                    last_delivered.clear();
                }
                Operation::Leave { member } => {
                    if members.is_empty() { continue; }
                    let (id, _) = members.remove(member as usize % members.len());
                    log.leave_group(id).unwrap();
                    last_delivered.clear();
                }
                Operation::Poll { member, max } => {
                    if members.is_empty() { continue; }
                    let (id, group) = members[member as usize % members.len()];
                    let owned: BTreeSet<u32> = log.assignment(id).unwrap().into_iter().map(|tp| tp.1).collect();
                    let got = poll(&mut log, id, max as u32);
                    prop_assert!(got.len() <= max as usize);
                    let seen = last_delivered.entry(id).or_default();
                    for (partition, offset, value) in got {
                        prop_assert!(owned.contains(&partition), "delivered from a partition it does not own");
                        prop_assert_eq!(value, format!("p{partition}-{offset}"));
                        if let Some(&previous) = seen.get(&partition) {
                            prop_assert_eq!(offset, previous + 1, "per-partition order, no gaps");
                        }
                        seen.insert(partition, offset);
                        *model.delivered[group].entry((partition, offset)).or_default() += 1;
                    }
                    if GROUPS[group].1 {
                        // An auto-committing consumer makes its commit durable before processing.
                        log.flush(true).unwrap();
                        model.durable = model.written.clone();
                        for partition in 0..PARTITIONS {
                            if let Some(c) = log.committed("auto", "t", partition) {
                                model.durable_commits[1].insert(partition, c);
                                model.commits[1].insert(partition, c);
                            }
                        }
                    }
                }
                Operation::Commit { member, partition } => {
                    if members.is_empty() { continue; }
                    let (id, group) = members[member as usize % members.len()];
                    let partition = partition as u32 % PARTITIONS;
                    if GROUPS[group].1 || !log.owns(id, "t", partition) { continue; }
                    if let Some(position) = log.position(id, "t", partition).unwrap() {
                        log.commit(id, &[("t", partition, position)]).unwrap();
                        log.flush(true).unwrap();
                        model.durable = model.written.clone();
                        model.commits[0].insert(partition, position);
                        model.durable_commits[0] = model.commits[0].clone();
                        model.durable_commits[1] = model.commits[1].clone();
                    }
                }
                Operation::CrashAndReopen { torn } => {
                    std::mem::forget(log);
                    storage = storage.crash_image(|_, n| (torn as usize).min(n));
                    log = open(&storage);
                    members.clear();
                    last_delivered.clear();
                    for p in 0..PARTITIONS as usize {
                        let high = log.offsets("t").unwrap()[p].high;
                        prop_assert!(high >= model.durable[p], "flushed records survive");
                        prop_assert!(high <= model.written[p]);
                        model.written[p] = high;
                        model.durable[p] = high;
                    }
                    for (g, (name, _)) in GROUPS.iter().enumerate() {
                        for (&partition, &offset) in &model.durable_commits[g] {
                            let committed = log.committed(name, "t", partition).unwrap_or(-1);
                            prop_assert!(committed >= offset.min(model.written[partition as usize]),
                                "durable commit lost: {} {} {} < {}", name, partition, committed, offset);
                        }
                        model.commits[g].clear();
                        for partition in 0..PARTITIONS {
                            if let Some(c) = log.committed(name, "t", partition) {
                                model.commits[g].insert(partition, c);
                            }
                        }
                        model.durable_commits[g] = model.commits[g].clone();
                    }
                    // Deliveries of records lost in the crash no longer count.
                    for g in 0..2 {
                        let written = model.written.clone();
                        model.delivered[g].retain(|(p, o), _| *o < written[*p as usize]);
                    }
                }
            }
            assert_group_ownership(&log, &members)?;
        }

        // Finally each group drains the log with one member: the manual group has then seen
        // every record at least once; the auto group has seen none twice.
        for (g, (name, auto)) in GROUPS.iter().enumerate() {
            for (id, _) in members.iter().filter(|m| m.1 == g) {
                log.leave_group(*id).unwrap();
            }
            let member = log.join_group(options(name, *auto, Assignor::CooperativeSticky), &["t"]).unwrap();
            for (partition, offset, _) in drain(&mut log, member) {
                *model.delivered[g].entry((partition, offset)).or_default() += 1;
            }
            log.flush(true).unwrap();
            if *auto {
                for (&(p, o), &count) in &model.delivered[g] {
                    prop_assert!(count <= 1, "auto commit delivered {}:{} {} times", p, o, count);
                }
            } else {
                for p in 0..PARTITIONS {
                    for o in 0..model.written[p as usize] {
                        prop_assert!(model.delivered[g].contains_key(&(p, o)), "manual commit never delivered {}:{}", p, o);
                    }
                }
            }
        }
    }

    #[test]
    fn compaction_keeps_exactly_the_last_value_per_live_key(
        writes in proptest::collection::vec((0u8..12, proptest::option::of(0u16..1000)), 1..300),
        reopen in any::<bool>(),
    ) {
        let storage = MemoryFiles::with_crash_simulation();
        let clock = ManualClock::new(NOW);
        let mut log = open_with_clock(&storage, &clock);
        log.create_topic("c", 1, compact_config()).unwrap();
        let mut producer = log.producer(PartitionerKind::Default);
        let mut values_by_offset: Vec<(String, Option<String>)> = Vec::new();
        for (key, value) in &writes {
            let key = format!("key-{key}");
            let value = value.map(|v| format!("{v}-{}", "w".repeat(30)));
            let message = Message {
                record: RecordInput { key: Some(key.as_bytes()), value: value.as_deref().map(str::as_bytes), ..Default::default() },
                partition: None,
            };
            log.send(&mut producer, "c", &[message]).unwrap();
            log.flush(true).unwrap();
            values_by_offset.push((key, value));
        }
        clock.advance(1);
        maintained(&mut log);
        if reopen {
            log.close().unwrap();
            log = open_with_clock(&storage, &clock);
        }
        let active_base = storage
            .paths()
            .iter()
            .filter_map(|p| p.strip_prefix("c-0/").and_then(|n| n.strip_suffix(".log")))
            .filter_map(|n| n.parse::<i64>().ok())
            .max()
            .unwrap();
        let mut last: BTreeMap<&str, i64> = BTreeMap::new();
        for (offset, (key, _)) in values_by_offset.iter().enumerate() {
            last.insert(key, offset as i64);
        }
        let records = log.read_records("c", 0, 0, u32::MAX).unwrap();
        let present: BTreeSet<i64> = records.iter().map(|r| r.offset).collect();
        for record in &records {
            let (key, value) = &values_by_offset[record.offset as usize];
            prop_assert_eq!(record.key.as_deref(), Some(key.as_bytes()), "offsets never move");
            prop_assert_eq!(record.value.as_deref(), value.as_deref().map(str::as_bytes));
            if record.offset < active_base {
                // Sealed segments hold only the latest record of a key, and no tombstone
                // (delete.retention.ms is 0 here).
                prop_assert_eq!(last[key.as_str()], record.offset, "superseded record kept");
                prop_assert!(record.value.is_some(), "expired tombstone kept");
            }
        }
        for (key, &offset) in &last {
            let live = values_by_offset[offset as usize].1.is_some();
            if live || offset >= active_base {
                prop_assert!(present.contains(&offset), "latest record of {} lost", key);
            }
        }
        prop_assert_eq!(log.offsets("c").unwrap()[0].high, writes.len() as i64);
    }
}

#[test]
fn assignment_versions_move_only_for_members_whose_assignment_changed() {
    let (_, mut log) = setup(2, 1);
    let a = log
        .join_group(options("g", true, Assignor::CooperativeSticky), &["t"])
        .unwrap();
    let before = log.assignment_version(a).unwrap();
    let b = log
        .join_group(options("g", true, Assignor::CooperativeSticky), &["t"])
        .unwrap();
    assert_ne!(
        log.assignment_version(a).unwrap(),
        before,
        "a gave a partition to b"
    );
    let (a_now, b_now) = (
        log.assignment_version(a).unwrap(),
        log.assignment_version(b).unwrap(),
    );
    let c = log
        .join_group(options("g", true, Assignor::CooperativeSticky), &["t"])
        .unwrap();
    assert_eq!(
        log.assignment_version(a).unwrap(),
        a_now,
        "nothing moved for a"
    );
    assert_eq!(
        log.assignment_version(b).unwrap(),
        b_now,
        "nothing moved for b"
    );
    assert!(log.assignment(c).unwrap().is_empty());
    // Eager assignors restart every position, so every member's version moves.
    let x = log
        .join_group(options("e", true, Assignor::Range), &["t"])
        .unwrap();
    let x_before = log.assignment_version(x).unwrap();
    log.join_group(options("e", true, Assignor::Range), &["t"])
        .unwrap();
    assert_ne!(log.assignment_version(x).unwrap(), x_before);
}

#[test]
fn a_partition_moved_while_its_commit_is_on_its_way_to_disk_resumes_after_it() {
    // The first member commits record 0..2 of each partition; before that commit is durable a
    // second member joins and takes a partition over. It starts after the commit, not at the
    // last durable one: the first member has handed those records to its app already.
    let (_, mut log) = setup(2, 5);
    let first = log
        .join_group(options("g", true, Assignor::Range), &["t"])
        .unwrap();
    let mut delivered = Vec::new();
    log.poll(first, 6, FETCH_BYTES_MAX, &mut |_, partition, run| {
        run.for_each(|record| delivered.push((partition, record.offset)))
            .unwrap()
    })
    .unwrap();
    assert_eq!(delivered.len(), 6);
    assert_eq!(log.committed("g", "t", 1), None, "not durable yet");
    let second = log
        .join_group(options("g", true, Assignor::Range), &["t"])
        .unwrap();
    let moved = log.assignment(second).unwrap();
    assert_eq!(moved.len(), 1);
    let (_, partition) = moved[0].clone();
    let resumed = delivered.iter().filter(|d| d.0 == partition).count() as i64;
    let got = poll(&mut log, second, 100);
    assert_eq!(
        got.first().map(|g| g.1),
        Some(resumed),
        "the new owner starts after the pending commit"
    );
}

#[test]
fn delivery_failures_survive_crashes_and_a_dead_lettered_record_is_gone_past() {
    for auto_commit in [false, true] {
        let (storage, mut log) = setup(1, 4);
        let member = log
            .join_group(options("g", auto_commit, Assignor::Range), &["t"])
            .unwrap();
        assert_eq!(poll(&mut log, member, 2).len(), 2); // 0 and 1 delivered; 1 fails
        if !auto_commit {
            log.commit(member, &[("t", 0, 1)]).unwrap();
        }
        assert_eq!(
            log.note_failure(member, "t", 0, 1, FailureNote::Retry)
                .unwrap(),
            1
        );
        log.flush(true).unwrap();
        assert_eq!(poll(&mut log, member, 1)[0].1, 1, "retried in place");
        if auto_commit {
            // A pull-style poll commits what it returns; a run loop's retry does not get here.
            log.seek(member, "t", 0, 1).unwrap();
            log.commit(member, &[("t", 0, 1)]).unwrap();
            log.flush(true).unwrap();
        }
        // The process dies between attempts; the count and the retry survive.
        std::mem::forget(log);
        let storage = storage.crash_image(|_, _| 0);
        let mut log = open(&storage);
        let failure = log.failure("g", "t", 0).unwrap();
        assert_eq!((failure.offset, failure.failures), (1, 1));
        let member = log
            .join_group(options("g", auto_commit, Assignor::Range), &["t"])
            .unwrap();
        assert_eq!(
            poll(&mut log, member, 1)[0].1,
            1,
            "auto_commit = {auto_commit}"
        );
        assert_eq!(
            log.note_failure(member, "t", 0, 1, FailureNote::Retry)
                .unwrap(),
            2
        );
        log.note_failure(member, "t", 0, 1, FailureNote::DeadLettered)
            .unwrap();
        log.flush(true).unwrap();
        assert_eq!(poll(&mut log, member, 1)[0].1, 2, "gone past");
        std::mem::forget(log);
        let storage = storage.crash_image(|_, _| 0);
        let log = open(&storage);
        // Marked: a redelivery (a seek back, or a crash under manual commit) skips it.
        let failure = log.failure("g", "t", 0).unwrap();
        assert_eq!(
            (failure.offset, failure.failures, failure.dead_lettered),
            (1, 2, Some(1))
        );
        // Manual commit: the app had committed everything before it, so the group's commit
        // moves past it too.
        let expected = if auto_commit { Some(3) } else { Some(2) };
        assert_eq!(log.committed("g", "t", 0), expected);
    }
}

#[test]
fn a_dead_lettered_mark_outlives_a_later_records_failure_and_an_apps_commits_stay_its_own() {
    let (storage, mut log) = setup(1, 4);
    let member = log
        .join_group(options("g", false, Assignor::Range), &["t"])
        .unwrap();
    assert_eq!(poll(&mut log, member, 4).len(), 4);
    // Records 0 and 1 handled, nothing committed by the app; 1 goes to the dead-letter topic.
    log.note_failure(member, "t", 0, 1, FailureNote::DeadLettered)
        .unwrap();
    assert_eq!(
        log.committed("g", "t", 0),
        None,
        "the app's commits are its own"
    );
    // Record 2 then fails once: the mark of record 1 stays.
    log.note_failure(member, "t", 0, 2, FailureNote::Retry)
        .unwrap();
    log.flush(true).unwrap();
    std::mem::forget(log);
    let log = open(&storage.crash_image(|_, _| 0));
    let failure = log.failure("g", "t", 0).unwrap();
    assert_eq!(
        (failure.offset, failure.failures, failure.dead_lettered),
        (2, 1, Some(1))
    );
}

#[test]
fn failures_are_checked_and_end_with_their_group_or_topic() {
    let (storage, mut log) = setup(2, 2);
    let member = log
        .join_group(options("g", false, Assignor::Range), &["t"])
        .unwrap();
    let code = |r: Result<u32, Error>| r.unwrap_err().code();
    assert_eq!(
        code(log.note_failure(member, "t", 0, 2, FailureNote::Retry)),
        "OFFSET_OUT_OF_RANGE"
    );
    assert_eq!(
        code(log.note_failure(member, "t", 0, -1, FailureNote::Retry)),
        "OFFSET_OUT_OF_RANGE"
    );
    assert_eq!(
        code(log.note_failure(member, "t", 5, 0, FailureNote::Retry)),
        "INVALID_PARTITION"
    );
    assert_eq!(
        code(log.note_failure(member, "nope", 0, 0, FailureNote::Retry)),
        "UNKNOWN_TOPIC"
    );
    assert_eq!(
        code(log.note_failure(member + 99, "t", 0, 0, FailureNote::Retry)),
        "UNKNOWN_MEMBER_ID"
    );
    // Without retry the position stays: today's behaviour, only counted.
    assert_eq!(poll(&mut log, member, 10).len(), 4);
    assert_eq!(
        log.note_failure(member, "t", 1, 0, FailureNote::Failed)
            .unwrap(),
        1
    );
    assert!(poll(&mut log, member, 10).is_empty());
    log.note_failure(member, "t", 0, 1, FailureNote::Failed)
        .unwrap();
    log.leave_group(member).unwrap();
    log.delete_group("g").unwrap();
    log.flush(true).unwrap();
    assert_eq!(log.failure("g", "t", 0), None);
    log.close().unwrap();
    let log = open(&storage);
    assert_eq!(log.failure("g", "t", 0), None);
    assert_eq!(log.failure("g", "t", 1), None);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Fetches hand records on as runs of their stored batches: a whole batch undecoded, or
    /// the part a fetch takes, found by skimming. Over a compacted topic (gaps inside batches,
    /// whole batches gone), fetches of any size and seeks to any offset (a read that starts
    /// inside a batch with no cursor there), a group's polls deliver exactly what a full read
    /// holds from where the group is, in order, at the offsets the records were written at.
    #[test]
    fn fetches_of_any_size_deliver_a_compacted_log_as_a_full_read_does(
        sends in proptest::collection::vec(proptest::collection::vec((0u8..5, any::<bool>()), 1..30), 1..25),
        steps in proptest::collection::vec((1u32..40, proptest::option::weighted(0.3, (0u32..2, 0.0f64..1.0))), 1..40),
    ) {
        let storage = MemoryFiles::with_crash_simulation();
        let clock = ManualClock::new(NOW);
        let mut log = open_with_clock(&storage, &clock);
        log.create_topic("c", 2, compact_config()).unwrap();
        let mut producer = log.producer(PartitionerKind::Default);
        let mut written = 0usize;
        for (index, send) in sends.iter().enumerate() {
            let keys: Vec<String> = send.iter().map(|(k, _)| format!("k{k}")).collect();
            let values: Vec<String> = (0..send.len()).map(|i| format!("v{}-{}", written + i, "x".repeat(30))).collect();
            let messages: Vec<Message> = send
                .iter()
                .enumerate()
                .map(|(i, (_, tombstone))| Message {
                    record: RecordInput {
                        key: Some(keys[i].as_bytes()),
                        value: (!tombstone).then(|| values[i].as_bytes()),
                        ..Default::default()
                    },
                    partition: Some((index % 2) as u32),
                })
                .collect();
            log.send(&mut producer, "c", &messages).unwrap();
            log.flush(true).unwrap();
            written += send.len();
        }
        clock.advance(1);
        maintained(&mut log);
        let full: Vec<Vec<(i64, Option<Vec<u8>>)>> = (0..2u32)
            .map(|p| {
                log.read_records("c", p, 0, u32::MAX)
                    .unwrap()
                    .into_iter()
                    .map(|r| (r.offset, r.value))
                    .collect()
            })
            .collect();
        let member = log.join_group(options("g", false, Assignor::Range), &["c"]).unwrap();
        // Where the group is in each partition, by the model.
        let mut at = [0i64; 2];
        for (max, seek) in steps {
            if let Some((partition, fraction)) = seek {
                let high = log.offsets("c").unwrap()[partition as usize].high;
                let offset = (fraction * high as f64) as i64;
                log.seek(member, "c", partition, offset).unwrap();
                at[partition as usize] = offset;
            }
            let mut got: Vec<(u32, i64, Option<Vec<u8>>)> = Vec::new();
            log.poll(member, max, FETCH_BYTES_MAX, &mut |_, partition, run| {
                run.for_each(|r| got.push((partition, r.offset, r.value.map(<[u8]>::to_vec))))
                    .unwrap()
            })
            .unwrap();
            prop_assert!(got.len() as u32 <= max, "a poll of {} delivered {}", max, got.len());
            for (partition, offset, value) in got {
                let p = partition as usize;
                let next = full[p].iter().find(|(o, _)| *o >= at[p]).cloned();
                prop_assert_eq!(Some((offset, value)), next, "partition {} from {}", p, at[p]);
                at[p] = offset + 1;
            }
        }
    }
}
