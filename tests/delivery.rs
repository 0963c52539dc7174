// Leased delivery against a model: members of one group fetch chunks under leases, hand
// records over one by one as a delivery loop does (writing the hand-over table, checking the
// epoch table, asking the core when it moved), release, pause and resume, join and leave
// (rebalances), flush and crash — in random order. Under auto commit no record reaches the
// group twice, and without a crash every record reaches it; under manual commit (each record
// committed after it is handled, or the loop committing what was handled every few records)
// every record reaches it at least once. Some members are loops in another tab (share.js):
// they claim each chunk whole as they start it, hear of a moved epoch only at the next chunk,
// write the hand-over table only when they commit, and say at release how far they got.

use std::collections::{BTreeMap, BTreeSet};

use brook::{
    Assignor, ChunkStart, ConsumerOptions, ErrorKind, FileStore, Log, LogOptions, ManualClock,
    MemberId, MemoryFiles, Message, OffsetReset, PartitionerKind, RecordInput, TopicConfig,
    FETCH_BYTES_MAX,
};
use proptest::prelude::*;

const PARTITIONS: u32 = 3;

fn open(files: &MemoryFiles) -> Log {
    Log::open(
        Box::new(FileStore::new(Box::new(files.clone()))),
        LogOptions::new(Box::new(ManualClock::new(1_700_000_000_000)), 3),
    )
    .unwrap()
}

fn produce(log: &mut Log, partition: u32, count: usize, next: &mut [i64]) {
    let mut producer = log.producer(PartitionerKind::Default);
    let values: Vec<String> = (0..count)
        .map(|i| format!("{partition}-{}", next[partition as usize] + i as i64))
        .collect();
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
    log.send(&mut producer, "t", &messages).unwrap();
    log.flush(true).unwrap();
    next[partition as usize] += count as i64;
}

/// A member's delivery loop, as the JS one drives the core.
struct Consumer {
    member: MemberId,
    lease: u64,
    /// Per chunk: its records (partition, offset), in order.
    chunks: Vec<Vec<(u32, i64)>>,
    /// Where delivery is: chunk, record within it; and whether the chunk was started.
    at: (usize, usize),
    started: bool,
    epoch: u32,
    /// A loop in another tab, relayed by the owner (see above).
    remote: bool,
    processed: bool,
}

impl Consumer {
    fn epoch_now(log: &mut Log, member: MemberId) -> u32 {
        let slot = log.member_slot(member).unwrap();
        log.delivery_tables().0[slot]
    }

    fn fetch(&mut self, log: &mut Log, max: u32) {
        // A remote loop always releases before it fetches again (a fetch would otherwise
        // take its claims as handed over).
        if self.remote {
            self.release(log);
        }
        let mut records: Vec<(u32, i64)> = Vec::new();
        let grant = log
            .fetch_lease(
                self.member,
                max,
                FETCH_BYTES_MAX,
                &mut |_, partition, run| {
                    run.for_each(|record| records.push((partition, record.offset)))
                        .unwrap()
                },
            )
            .unwrap();
        self.lease = grant.lease;
        self.chunks = grant
            .chunks
            .iter()
            .map(|(_, p)| records.iter().copied().filter(|r| r.0 == *p).collect())
            .collect();
        self.at = (0, 0);
        self.started = false;
        self.epoch = Consumer::epoch_now(log, self.member);
    }

    /// Hands the next record over, if any: returns it.
    fn hand_one(&mut self, log: &mut Log) -> Option<(u32, i64)> {
        while self.at.0 < self.chunks.len() {
            let (chunk, index) = self.at;
            let Some(&record) = self.chunks[chunk].get(index) else {
                self.at = (chunk + 1, 0);
                self.started = false;
                continue;
            };
            let slot = log.member_slot(self.member).unwrap();
            let moved = !self.remote && Consumer::epoch_now(log, self.member) != self.epoch;
            if !self.started || moved {
                self.epoch = Consumer::epoch_now(log, self.member);
                // Written before asking: what is about to be handed over.
                let handed = log.delivery_tables().1;
                handed[2 * slot] = chunk as f64;
                handed[2 * slot + 1] = if self.started {
                    (record.1 - 1) as f64
                } else {
                    -1.0
                };
                let start = log.start_chunk(self.member, self.lease, chunk).unwrap();
                if start == ChunkStart::Skip {
                    self.at = (chunk + 1, 0);
                    self.started = false;
                    continue;
                }
                if self.remote && !self.processed {
                    // The relay claims the chunk whole as it starts, before the flush (see
                    // Groups::release_at).
                    let last = self.chunks[chunk].last().map_or(record.1, |r| r.1);
                    let handed = log.delivery_tables().1;
                    handed[2 * slot] = chunk as f64;
                    handed[2 * slot + 1] = last as f64;
                }
                if start == ChunkStart::DeliverWhenDurable {
                    log.flush(true).map(drop).unwrap();
                }
                self.started = true;
            }
            self.at = (chunk, index + 1);
            if !self.remote {
                self.write_table(log);
            }
            return Some(record);
        }
        None
    }

    /// Whether a started chunk has records left to hand over.
    fn mid_chunk(&self) -> bool {
        let (chunk, index) = self.at;
        self.started && self.chunks.get(chunk).is_some_and(|c| index < c.len())
    }

    /// How far delivery got: the chunk, and its last record handed over (one before the
    /// chunk's first for none).
    fn progress(&self) -> Option<(usize, i64)> {
        let (chunk, index) = self.at;
        let records = self.chunks.get(chunk)?;
        Some(match index.checked_sub(1) {
            Some(last) if self.started => (chunk, records[last].1),
            _ => (chunk, records.first()?.1 - 1),
        })
    }

    /// What the local loop does before each record, and a remote one's commit sends along.
    fn write_table(&self, log: &mut Log) {
        if let Some((chunk, offset)) = self.progress() {
            let slot = log.member_slot(self.member).unwrap();
            let handed = log.delivery_tables().1;
            handed[2 * slot] = chunk as f64;
            handed[2 * slot + 1] = offset as f64;
        }
    }

    fn release(&mut self, log: &mut Log) {
        if self.lease != 0 {
            match self.progress() {
                Some((chunk, offset)) if self.remote => log
                    .release_lease_at(self.member, self.lease, chunk as u32, offset)
                    .unwrap(),
                _ => log.release_lease(self.member, self.lease).unwrap(),
            }
        }
        self.lease = 0;
        self.chunks.clear();
    }
}

#[derive(Clone, Debug)]
enum Op {
    Produce {
        partition: u32,
        count: u8,
    },
    Join {
        remote: bool,
    },
    Leave {
        which: u8,
    },
    Fetch {
        which: u8,
        max: u8,
    },
    Hand {
        which: u8,
        count: u8,
    },
    Release {
        which: u8,
    },
    /// The handler throws on the next record: the loop releases and leaves the group.
    Fail {
        which: u8,
    },
    Pause {
        which: u8,
        partition: u32,
    },
    Resume {
        which: u8,
        partition: u32,
    },
    Flush,
    Crash,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..PARTITIONS, 1u8..8).prop_map(|(partition, count)| Op::Produce { partition, count }),
        1 => any::<bool>().prop_map(|remote| Op::Join { remote }),
        1 => any::<u8>().prop_map(|which| Op::Leave { which }),
        3 => (any::<u8>(), 1u8..10).prop_map(|(which, max)| Op::Fetch { which, max }),
        4 => (any::<u8>(), 1u8..6).prop_map(|(which, count)| Op::Hand { which, count }),
        2 => any::<u8>().prop_map(|which| Op::Release { which }),
        1 => any::<u8>().prop_map(|which| Op::Fail { which }),
        1 => (any::<u8>(), 0..PARTITIONS).prop_map(|(which, partition)| Op::Pause { which, partition }),
        1 => (any::<u8>(), 0..PARTITIONS).prop_map(|(which, partition)| Op::Resume { which, partition }),
        1 => Just(Op::Flush),
        1 => Just(Op::Crash),
    ]
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Auto commit of each chunk as it starts (at-most-once).
    Auto,
    /// Auto commit of what was handled, every third record (KafkaJS's threshold).
    Processed,
    /// The app commits each record after handling it.
    Manual,
}

fn options(mode: Mode) -> ConsumerOptions {
    ConsumerOptions {
        group_id: "g".to_owned(),
        auto_commit: mode != Mode::Manual,
        commit_processed: mode == Mode::Processed,
        assignor: Assignor::CooperativeSticky,
        offset_reset: OffsetReset::Earliest,
    }
}

/// Runs `ops`, then drains the group; returns how often each record reached the group, the
/// records produced, and whether records may have been skipped (a crash, see `lossy`).
fn run(ops: &[Op], mode: Mode) -> (BTreeMap<(u32, i64), u32>, Vec<i64>, bool) {
    let files = MemoryFiles::with_crash_simulation();
    let mut log = open(&files);
    log.create_topic("t", PARTITIONS, TopicConfig::default())
        .unwrap();
    let mut next = vec![0i64; PARTITIONS as usize];
    let mut consumers: Vec<Consumer> = Vec::new();
    let mut seen: BTreeMap<(u32, i64), u32> = BTreeMap::new();
    // A remote loop that failed in a chunk settled meanwhile may skip its rest, as a crash may.
    let mut lossy = false;
    let deliver =
        |log: &mut Log, consumer: &mut Consumer, seen: &mut BTreeMap<(u32, i64), u32>| -> bool {
            match consumer.hand_one(log) {
                Some(record) => {
                    *seen.entry(record).or_default() += 1;
                    settle(log, consumer, record, mode, seen.values().sum());
                    true
                }
                None => false,
            }
        };
    let join = |log: &mut Log, remote: bool| Consumer {
        member: log.join_group(options(mode), &["t"]).unwrap(),
        lease: 0,
        chunks: Vec::new(),
        at: (0, 0),
        started: false,
        epoch: 0,
        remote,
        processed: mode == Mode::Processed,
    };
    consumers.push(join(&mut log, false));
    for op in ops {
        let count = consumers.len();
        let pick = |which: u8| (which as usize) % count.max(1);
        // A remote loop stops only between chunks: it claimed the one it started (a rebalance
        // may have started the partition's next owner after it), so it hands the rest over
        // before it releases, fetches or leaves.
        if let Op::Release { which } | Op::Leave { which } | Op::Fetch { which, .. } = *op {
            let consumer = &mut consumers[pick(which)];
            while consumer.remote && consumer.mid_chunk() {
                deliver(&mut log, consumer, &mut seen);
            }
        }
        match *op {
            Op::Produce { partition, count } => {
                produce(&mut log, partition, count as usize, &mut next)
            }
            Op::Join { remote } if count < 3 => consumers.push(join(&mut log, remote)),
            Op::Join { .. } => {}
            Op::Leave { which } if count > 1 => {
                let mut consumer = consumers.remove(pick(which));
                if consumer.remote {
                    // disconnect() stops the loop, which releases, before it leaves.
                    consumer.release(&mut log);
                }
                log.leave_group(consumer.member).unwrap();
            }
            Op::Leave { .. } => {}
            Op::Fetch { which, max } => {
                let consumer = &mut consumers[pick(which)];
                consumer.fetch(&mut log, max as u32);
            }
            Op::Hand { which, count } => {
                let consumer = &mut consumers[pick(which)];
                for _ in 0..count {
                    if !deliver(&mut log, consumer, &mut seen) {
                        break;
                    }
                }
            }
            Op::Release { which } => consumers[pick(which)].release(&mut log),
            Op::Fail { which } if count > 1 => {
                let mut consumer = consumers.remove(pick(which));
                let epoch_moved = Consumer::epoch_now(&mut log, consumer.member) != consumer.epoch;
                if let Some(record) = consumer.hand_one(&mut log) {
                    // Handed over, then the handler threw: not settled (nor committed).
                    *seen.entry(record).or_default() += 1;
                    // A remote loop had claimed its chunk; if a rebalance or seek settled it
                    // meanwhile, the rest of the chunk is skipped (at-most-once).
                    lossy |= consumer.remote && epoch_moved;
                }
                consumer.release(&mut log);
                log.leave_group(consumer.member).unwrap();
            }
            Op::Fail { .. } => {}
            Op::Pause { which, partition } => {
                let member = consumers[pick(which)].member;
                log.set_paused(member, "t", Some(&[partition]), true)
                    .unwrap();
            }
            Op::Resume { which, partition } => {
                let member = consumers[pick(which)].member;
                log.set_paused(member, "t", Some(&[partition]), false)
                    .unwrap();
            }
            Op::Flush => log.flush(true).map(drop).unwrap(),
            Op::Crash => {
                std::mem::forget(log);
                let image = files.crash_image(|_, _| 0);
                log = open(&image);
                consumers.clear();
                consumers.push(join(&mut log, false));
                // The crash image is the store now.
                return finish(log, consumers, seen, next, true, mode, image);
            }
        }
    }
    finish(log, consumers, seen, next, lossy, mode, files)
}

/// What the app (manual) or the loop (processed) does after a record was handled.
fn settle(log: &mut Log, consumer: &Consumer, record: (u32, i64), mode: Mode, handled: u32) {
    match mode {
        Mode::Manual => match log.commit(consumer.member, &[("t", record.0, record.1 + 1)]) {
            // A remote loop hears of a rebalance at its next chunk: the commit of a record of
            // a partition that moved meanwhile is refused, as Kafka refuses it.
            Err(error) if consumer.remote && error.kind() == ErrorKind::RebalanceInProgress => {}
            other => other.unwrap(),
        },
        Mode::Processed if handled.is_multiple_of(3) => {
            if consumer.remote {
                consumer.write_table(log);
            }
            log.commit_handed(consumer.member).unwrap();
        }
        _ => {}
    }
}

fn finish(
    mut log: Log,
    mut consumers: Vec<Consumer>,
    mut seen: BTreeMap<(u32, i64), u32>,
    next: Vec<i64>,
    crashed: bool,
    mode: Mode,
    _files: MemoryFiles,
) -> (BTreeMap<(u32, i64), u32>, Vec<i64>, bool) {
    // Drain: resume everything, release every lease, and let one member take all.
    for consumer in &mut consumers {
        for p in 0..PARTITIONS {
            log.set_paused(consumer.member, "t", Some(&[p]), false)
                .unwrap();
        }
    }
    for consumer in &mut consumers {
        // A remote loop delivers the rest of the chunk it claimed (see `run`).
        while consumer.remote && consumer.mid_chunk() {
            let record = consumer.hand_one(&mut log).unwrap();
            *seen.entry(record).or_default() += 1;
            settle(&mut log, consumer, record, mode, seen.values().sum());
        }
        consumer.release(&mut log);
    }
    while consumers.len() > 1 {
        let consumer = consumers.pop().unwrap();
        log.leave_group(consumer.member).unwrap();
    }
    let consumer = &mut consumers[0];
    for _ in 0..10_000 {
        consumer.fetch(&mut log, 50);
        let mut any = false;
        while let Some(record) = consumer.hand_one(&mut log) {
            any = true;
            *seen.entry(record).or_default() += 1;
            settle(&mut log, consumer, record, mode, seen.values().sum());
        }
        consumer.release(&mut log);
        if !any {
            break;
        }
    }
    (seen, next, crashed)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn auto_commit_never_hands_a_record_to_the_group_twice(ops in proptest::collection::vec(op(), 1..60)) {
        let (seen, produced, crashed) = run(&ops, Mode::Auto);
        for (record, times) in &seen {
            prop_assert_eq!(*times, 1, "{:?} reached the group {} times", record, times);
        }
        if !crashed {
            for (partition, &count) in produced.iter().enumerate() {
                for offset in 0..count {
                    prop_assert!(seen.contains_key(&(partition as u32, offset)), "{}:{} never reached the group", partition, offset);
                }
            }
        }
    }

    #[test]
    fn manual_commit_hands_every_record_to_the_group_at_least_once(ops in proptest::collection::vec(op(), 1..60)) {
        at_least_once(&ops, Mode::Manual)?;
    }

    #[test]
    fn committing_what_was_processed_hands_every_record_to_the_group_at_least_once(ops in proptest::collection::vec(op(), 1..60)) {
        at_least_once(&ops, Mode::Processed)?;
    }
}

fn at_least_once(ops: &[Op], mode: Mode) -> Result<(), TestCaseError> {
    {
        // Records after a crash are still there: they are delivered again.
        let (seen, produced, _) = run(ops, mode);
        let all: BTreeSet<(u32, i64)> = produced
            .iter()
            .enumerate()
            .flat_map(|(p, &count)| (0..count).map(move |o| (p as u32, o)))
            .collect();
        for record in all {
            prop_assert!(
                seen.contains_key(&record),
                "{:?} never reached the group",
                record
            );
        }
    }
    Ok(())
}
