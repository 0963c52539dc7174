// The log: topics of partitions in one store, the manifest that lists them, the lock that
// keeps a second writer out, the producer path, and the flush that makes sends durable (one
// at a time). Everything a caller does goes through here, and every input is checked here
// before any byte is written.

use crate::assignor::TopicPartition;
use crate::cache::{BatchCache, CACHE_BYTES_DEFAULT};
use crate::consumer_offsets::Failure;
use crate::error::{Error, ErrorKind, Quoted, Result};
use crate::group::{
    ChunkStart, ConsumerOptions, FailureNote, FetchOutcome, FetchedFrom, GroupDescription, Groups,
    LeaseGrant, MemberId, PartitionLag, Partitions, FETCH_BYTES_MAX,
};
use crate::manifest;
use crate::partition::{Partition, ReadOutcome};
use crate::partitioner::{Partitioner, PartitionerKind, SplitMix64};
use crate::record_batch::{Record, RecordInput, RecordRef, RecordRun};
use crate::sorted_map::SortedMap;
use crate::store::{OpenedPartition, PartitionKey, PartitionRecovery, SegmentSummary, Step, Store};
use crate::topic::{
    validate_partition_count, validate_topic_name, CleanupPolicy, TopicConfig, TopicInfo,
    CONSUMER_OFFSETS_TOPIC, PARTITIONS_TOTAL_MAX, TOPICS_MAX,
};

/// The most messages one send may carry (bounds the work of one call).
pub const SEND_MESSAGES_MAX: usize = 100_000;
/// Timestamps beyond this are not exact as JS numbers.
pub const TIMESTAMP_MAX: i64 = (1 << 53) - 1;

/// Milliseconds since the Unix epoch. A parameter, because wasm32 has no system clock.
pub trait Clock {
    fn now_ms(&self) -> i64;
}

/// The system clock (native only: `SystemTime::now()` panics on wasm32-unknown-unknown).
#[cfg(not(target_arch = "wasm32"))]
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

#[cfg(not(target_arch = "wasm32"))]
impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64)
    }
}

/// A clock the caller moves by hand (tests, simulations). Clones share the time.
#[derive(Clone, Debug, Default)]
pub struct ManualClock(std::rc::Rc<std::cell::Cell<i64>>);

impl ManualClock {
    pub fn new(now_ms: i64) -> ManualClock {
        ManualClock(std::rc::Rc::new(std::cell::Cell::new(now_ms)))
    }
    pub fn set(&self, now_ms: i64) {
        self.0.set(now_ms)
    }
    pub fn advance(&self, ms: i64) {
        self.0.set(self.0.get() + ms)
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.get()
    }
}

/// How a log is opened: its time source, a seed for placement and member ids, and the size of
/// its cache of record batches.
pub struct LogOptions {
    pub clock: Box<dyn Clock>,
    /// Entropy from the host (getrandom, crypto.getRandomValues); any value works.
    pub seed: u64,
    /// Bytes of verified batches kept in memory for readers (`CACHE_BYTES_DEFAULT`).
    pub cache_bytes: u64,
}

impl LogOptions {
    pub fn new(clock: Box<dyn Clock>, seed: u64) -> LogOptions {
        LogOptions {
            clock,
            seed,
            cache_bytes: CACHE_BYTES_DEFAULT,
        }
    }
}

/// The most bytes a log's cache may be given.
pub const CACHE_BYTES_MAX: u64 = 1024 * 1024 * 1024;

pub(crate) struct Topic {
    pub(crate) config: TopicConfig,
    pub(crate) partitions: Vec<Partition>,
    pub(crate) internal: bool,
    /// The partitions appended to since a flush last left them settled, each once: what a
    /// flush visits, so that its cost follows what was sent (a topic may have 10,000
    /// partitions and a send one message).
    touched: Vec<u32>,
}

impl Topic {
    fn new(config: TopicConfig, partitions: Vec<Partition>, internal: bool) -> Topic {
        Topic {
            config,
            partitions,
            internal,
            touched: Vec::new(),
        }
    }

    /// Appends one record to partition `index` (in range: placed by the caller) and lists
    /// the partition for the next flush.
    fn append(&mut self, index: u32, record: &RecordInput<'_>, now: i64) -> Result<i64> {
        let partition = &mut self.partitions[index as usize];
        if partition.touch() {
            self.touched.push(index);
        }
        partition.append(std::iter::once(record), now)
    }

    /// Calls `visit` with each partition listed for a flush.
    fn for_each_touched(&mut self, mut visit: impl FnMut(&mut Partition)) {
        for &index in &self.touched {
            visit(&mut self.partitions[index as usize]);
        }
    }

    /// Takes the partitions a flush has finished with off the list.
    fn settle(&mut self) {
        let partitions = &mut self.partitions;
        self.touched
            .retain(|&index| !partitions[index as usize].settle());
    }
}

/// A message to send: a record and, optionally, the partition it must go to.
#[derive(Clone, Copy, Debug, Default)]
pub struct Message<'a> {
    pub record: RecordInput<'a>,
    pub partition: Option<u32>,
}

/// Where a sent message landed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placement {
    pub partition: u32,
    pub offset: i64,
}

/// The watermarks of one partition: `low` is the first stored offset, `durable` the end of
/// what is durable (readers stop there), `high` the next offset to be written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartitionOffsets {
    pub partition: u32,
    pub low: i64,
    pub high: i64,
    pub durable: i64,
}

/// A producer's placement state.
#[derive(Clone, Debug)]
pub struct Producer {
    partitioner: Partitioner,
}

impl Producer {
    pub fn kind(&self) -> PartitionerKind {
        self.partitioner.kind()
    }
}

/// What a flush did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlushStatus {
    /// Everything written so far is durable.
    Done,
    /// The store's write is under way (IndexedDB): durable once `flush_completed(true)`.
    Started,
    /// A flush is in flight already: flush again once it completed.
    Busy,
}

/// A group's commit that pointed past its partition's end when the log was opened (written by
/// an older version, or the partition lost records): clamped, never trusted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClampedCommit {
    pub group: String,
    pub topic: String,
    pub partition: u32,
    pub committed: i64,
    pub end: i64,
}

/// What opening a log found: per partition, what recovery cut, what is damaged, what was left
/// alone; and commits that could not be trusted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    pub partitions: Vec<(PartitionKey, PartitionRecovery)>,
    pub clamped_commits: Vec<ClampedCommit>,
    /// Why some commit records could not be read (damage in `__consumer_offsets`).
    pub commits_damaged: Option<String>,
}

impl RecoveryReport {
    /// Bytes of torn tails cut away, in all partitions.
    pub fn truncated_bytes(&self) -> u64 {
        self.partitions.iter().map(|(_, r)| r.truncated_bytes).sum()
    }

    /// Every damaged range found, with its partition.
    pub fn damaged(&self) -> Vec<(&PartitionKey, &crate::store::DamagedRange)> {
        self.partitions
            .iter()
            .flat_map(|(key, r)| r.damaged.iter().map(move |range| (key, range)))
            .collect()
    }

    /// Whether anything was cut, damaged, left alone or clamped.
    pub fn is_clean(&self) -> bool {
        self.clamped_commits.is_empty()
            && self.commits_damaged.is_none()
            && self.partitions.iter().all(|(_, r)| {
                r.truncated_bytes == 0 && r.damaged.is_empty() && r.ignored.is_empty()
            })
    }
}

/// Where reading `__consumer_offsets` at open has got to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CommitsLoad {
    Loading(i64),
    Loaded,
}

pub struct Log {
    pub(crate) store: Box<dyn Store>,
    pub(crate) clock: Box<dyn Clock>,
    pub(crate) topics: SortedMap<String, Topic>,
    pub(crate) random: SplitMix64,
    /// Batches read for consumers, verified; None when the store holds them in memory.
    pub(crate) cache: Option<BatchCache>,
    closed: bool,
    recovery: RecoveryReport,
    next_partition_id: u32,
    flush_in_flight: bool,
    commits_load: CommitsLoad,
    /// Bumped on every append: lets a waiting consumer tell whether anything new arrived.
    append_sequence: u64,
    /// Per partition, the bytes (at most, encoded) the send being placed brings to it: its
    /// pending batch makes room for them at once. Kept between sends (all zero), not
    /// reallocated.
    send_room: Vec<usize>,
    groups: Groups,
}

impl Log {
    /// Opens (or creates) the log in `store`: takes the lock, reads the manifest, recovers each
    /// partition, and reads the committed offsets. For a store that loads asynchronously
    /// (IndexedDB), use `open_started` and `finish_open` instead.
    pub fn open(store: Box<dyn Store>, options: LogOptions) -> Result<Log> {
        let mut log = Log::open_started(store, options)?;
        match log.finish_open()? {
            Step::Ready(()) => Ok(log),
            Step::Pending => Err(Error::new(
                ErrorKind::Io,
                "this store loads asynchronously: open it with open_started and finish_open",
            )),
        }
    }

    /// The first part of an open: everything but reading the committed offsets.
    pub fn open_started(mut store: Box<dyn Store>, options: LogOptions) -> Result<Log> {
        if options.cache_bytes > CACHE_BYTES_MAX {
            return Err(Error::invalid_argument(format!(
                "cacheBytes {} is out of range; use 0 to {CACHE_BYTES_MAX}",
                options.cache_bytes
            )));
        }
        store.lock()?;
        let loaded = Log::load(&mut *store);
        let (topics, recovery, next_partition_id) = match loaded {
            Ok(loaded) => loaded,
            Err(error) => {
                store.unlock();
                return Err(error);
            }
        };
        let cache = (!store.reads_are_free()).then(|| BatchCache::new(options.cache_bytes));
        let log = Log {
            store,
            clock: options.clock,
            topics,
            random: SplitMix64::new(options.seed),
            cache,
            closed: false,
            recovery,
            next_partition_id,
            flush_in_flight: false,
            commits_load: CommitsLoad::Loading(0),
            append_sequence: 0,
            send_room: Vec::new(),
            groups: Groups::default(),
        };
        Ok(log)
    }

    /// The rest of an open: reads the committed offsets; `Pending` until the store has loaded
    /// what that needs (call again then). On failure, dropping the log releases the lock.
    pub fn finish_open(&mut self) -> Result<Step<()>> {
        if let CommitsLoad::Loading(from) = self.commits_load {
            let from = from.max(self.watermarks(CONSUMER_OFFSETS_TOPIC, 0)?.0);
            match self.load_commits(from)? {
                Step::Ready(()) => {
                    self.commits_load = CommitsLoad::Loaded;
                    self.clamp_commits();
                    let (groups, mut partitions) = self.split();
                    groups.end_stale_failures(&mut partitions)?;
                }
                Step::Pending => return Ok(Step::Pending),
            }
        }
        Ok(Step::Ready(()))
    }

    /// Reads `__consumer_offsets` from `offset` into the committed offsets.
    fn load_commits(&mut self, mut offset: i64) -> Result<Step<()>> {
        let high = self.watermarks(CONSUMER_OFFSETS_TOPIC, 0)?.1;
        let mut groups = std::mem::take(&mut self.groups);
        // Bounded: each pass advances `offset` or ends.
        let result = loop {
            if offset >= high {
                break Ok(Step::Ready(()));
            }
            let outcome = self.read(
                CONSUMER_OFFSETS_TOPIC,
                0,
                offset,
                10_000,
                FETCH_BYTES_MAX,
                &mut |r| groups.apply_commit_record(r.offset, r.key, r.value),
            );
            match outcome {
                Ok(Step::Ready(outcome)) if outcome.next_offset > offset => {
                    offset = outcome.next_offset
                }
                Ok(Step::Ready(_)) => break Ok(Step::Ready(())),
                Ok(Step::Pending) => {
                    self.commits_load = CommitsLoad::Loading(offset);
                    break Ok(Step::Pending);
                }
                // A damaged commit record must not lock the user out of every topic: commits
                // in it are lost (their groups re-read from earlier commits: at-least-once).
                Err(error) if error.kind() == ErrorKind::CorruptData => {
                    self.recovery.commits_damaged = Some(error.message().to_owned());
                    let damaged_end = self.topic(CONSUMER_OFFSETS_TOPIC)?.partitions[0]
                        .damaged()
                        .iter()
                        .filter(|r| r.from <= offset)
                        .map(|r| r.to)
                        .max();
                    match damaged_end {
                        Some(to) if to > offset => offset = to,
                        _ => break Ok(Step::Ready(())),
                    }
                }
                Err(error) => break Err(error),
            }
        };
        self.groups = groups;
        result
    }

    /// A commit past its partition's durable end is not trusted: clamped to it and reported.
    fn clamp_commits(&mut self) {
        let mut clamped = Vec::new();
        for ((group, topic, partition), offset) in self.groups.committed_entries() {
            let Ok((_, end)) = self.watermarks(&topic, partition) else {
                continue;
            };
            if offset > end {
                clamped.push(ClampedCommit {
                    group,
                    topic,
                    partition,
                    committed: offset,
                    end,
                });
            }
        }
        for commit in &clamped {
            self.groups
                .set_committed(&commit.group, &commit.topic, commit.partition, commit.end);
        }
        self.recovery.clamped_commits = clamped;
    }

    #[allow(clippy::type_complexity)]
    fn load(store: &mut dyn Store) -> Result<(SortedMap<String, Topic>, RecoveryReport, u32)> {
        let mut infos = match store.load_manifest()? {
            Some(bytes) => manifest::decode(&bytes)?,
            None => Vec::new(),
        };
        if !infos.iter().any(|t| t.name == CONSUMER_OFFSETS_TOPIC) {
            infos.push(consumer_offsets_info());
            store.create_partition(&PartitionKey::new(CONSUMER_OFFSETS_TOPIC, 0))?;
            store.store_manifest(&manifest::encode(&infos))?;
        }
        let mut topics = SortedMap::new();
        let mut recovery = RecoveryReport::default();
        let mut next_id = 0u32;
        for info in infos {
            let mut partitions = Vec::with_capacity(info.partitions as usize);
            for index in 0..info.partitions {
                let key = PartitionKey::new(&info.name, index);
                let opened = store.open_partition(&key)?;
                let report = &opened.recovery;
                if report.truncated_bytes > 0
                    || !report.damaged.is_empty()
                    || !report.ignored.is_empty()
                {
                    recovery.partitions.push((key.clone(), report.clone()));
                }
                partitions.push(Partition::new(key, next_id, opened));
                next_id += 1;
            }
            topics.insert(
                info.name,
                Topic::new(info.config, partitions, info.internal),
            );
        }
        Ok((topics, recovery, next_id))
    }

    /// Swaps in another store and reloads everything from it (topics, data, commits), keeping
    /// the consumers: their groups rebalance, and a position beyond the reloaded data is reset
    /// by the usual rule on the next poll. For stores whose durable copy is elsewhere
    /// (IndexedDB), after a failed flush left this one ahead of it. Call `finish_open` after.
    pub fn replace_store(&mut self, mut store: Box<dyn Store>) -> Result<()> {
        self.check_open()?;
        store.lock()?;
        let (topics, recovery, next_id) = match Log::load(&mut *store) {
            Ok(loaded) => loaded,
            Err(error) => {
                store.unlock();
                return Err(error);
            }
        };
        self.store.unlock();
        self.store = store;
        self.topics = topics;
        self.recovery = recovery;
        self.next_partition_id = next_id;
        self.flush_in_flight = false;
        if let Some(cache) = self.cache.as_mut() {
            cache.clear();
        }
        self.groups.clear_commits();
        self.commits_load = CommitsLoad::Loading(0);
        let (groups, mut partitions) = self.split();
        groups.rebalance_all(&mut partitions)?;
        self.append_sequence += 1;
        Ok(())
    }

    /// What recovery found on open.
    pub fn recovery_report(&self) -> &RecoveryReport {
        &self.recovery
    }

    pub(crate) fn check_open(&self) -> Result<()> {
        if self.closed {
            return Err(Error::closed());
        }
        Ok(())
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    fn topic_infos(&self, include_internal: bool) -> Vec<TopicInfo> {
        self.topics
            .iter()
            .filter(|(_, t)| include_internal || !t.internal)
            .map(|(name, topic)| TopicInfo {
                name: name.clone(),
                partitions: topic.partitions.len() as u32,
                config: topic.config.clone(),
                internal: topic.internal,
            })
            .collect()
    }

    /// Creates a topic. Its name, partition count and config are checked first. Files: durable
    /// when it returns; a keyed store (IndexedDB): with the next flush.
    pub fn create_topic(&mut self, name: &str, partitions: u32, config: TopicConfig) -> Result<()> {
        self.check_open()?;
        validate_topic_name(name)?;
        validate_partition_count(partitions)?;
        config.validate()?;
        if self.topics.contains_key(name) {
            return Err(Error::new(
                ErrorKind::TopicAlreadyExists,
                format!("topic {name} already exists", name = Quoted(name)),
            ));
        }
        if self.topics.len() >= TOPICS_MAX {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("a log holds at most {TOPICS_MAX} topics"),
            ));
        }
        self.check_partitions_total(partitions)?;
        let partitions = self.create_partitions_in_store(name, 0, partitions)?;
        self.topics
            .insert(name.to_owned(), Topic::new(config, Vec::new(), false));
        self.commit_partitions(name, partitions)
    }

    fn check_partitions_total(&self, added: u32) -> Result<()> {
        let total: u64 = self
            .topics
            .values()
            .map(|t| t.partitions.len() as u64)
            .sum();
        if total + added as u64 > PARTITIONS_TOTAL_MAX {
            return Err(Error::new(
                ErrorKind::InvalidPartitions,
                format!("a log holds at most {PARTITIONS_TOTAL_MAX} partitions in all its topics; it has {total}"),
            ));
        }
        Ok(())
    }

    /// Creates partitions `from..to` of `topic` in the store, empty, replacing whatever a
    /// failed or interrupted creation left there (the manifest does not list them, so no
    /// acknowledged record lives there). On failure, removes what it created.
    fn create_partitions_in_store(
        &mut self,
        topic: &str,
        from: u32,
        to: u32,
    ) -> Result<Vec<Partition>> {
        let mut created = Vec::with_capacity((to - from) as usize);
        for index in from..to {
            let key = PartitionKey::new(topic, index);
            if let Err(error) = self.store.create_partition(&key) {
                for partition in &created {
                    let partition: &Partition = partition;
                    let _ = self.store.remove_partition(partition.key());
                }
                let _ = self.store.remove_partition(&key);
                return Err(error);
            }
            let opened = OpenedPartition {
                segments: vec![SegmentSummary::empty(0)],
                log_start: 0,
                recovery: PartitionRecovery::default(),
            };
            created.push(Partition::new(key, self.next_partition_id, opened));
            self.next_partition_id += 1;
        }
        Ok(created)
    }

    /// Writes the manifest listing `added` as the topic's new partitions: the commit point of
    /// a topic's creation or growth, so that after a crash or a failure it is all there or
    /// none of it is. On failure, the new partitions are removed again.
    fn commit_partitions(&mut self, name: &str, added: Vec<Partition>) -> Result<()> {
        let existing = self
            .topics
            .get(name)
            .map_or(0, |t| t.partitions.len() as u32);
        let mut infos = self.topic_infos(true);
        for info in &mut infos {
            if info.name == name {
                info.partitions = existing + added.len() as u32;
            }
        }
        if let Err(error) = self.store.store_manifest(&manifest::encode(&infos)) {
            for partition in &added {
                let _ = self.store.remove_partition(partition.key());
            }
            if existing == 0 {
                self.topics.remove(name);
            }
            return Err(error);
        }
        if let Some(topic) = self.topics.get_mut(name) {
            topic.partitions.extend(added);
        }
        Ok(())
    }

    /// Grows a topic to `count` partitions (Kafka's createPartitions). Keyed placement changes
    /// for new messages, as in Kafka.
    pub fn create_partitions(&mut self, name: &str, count: u32) -> Result<()> {
        self.check_open()?;
        validate_partition_count(count)?;
        let topic = self.topic(name)?;
        let current = topic.partitions.len() as u32;
        if count <= current {
            return Err(Error::new(
                ErrorKind::InvalidPartitions,
                format!(
                    "topic {name} has {current} partitions; a topic can only grow",
                    name = Quoted(name)
                ),
            ));
        }
        self.check_partitions_total(count - current)?;
        let added = self.create_partitions_in_store(name, current, count)?;
        self.commit_partitions(name, added)?;
        let (groups, mut partitions) = self.split();
        groups.rebalance_subscribers(name, &mut partitions)
    }

    /// Deletes a topic, its records and every group's commits of it (Kafka's DeleteTopics).
    /// Refused for the internal topic, while a live group member subscribes to it
    /// (NON_EMPTY_GROUP: disconnect it first), and while records of it wait for a flush
    /// (INVALID_ARGUMENT: once its sends resolved). The manifest without the topic is the
    /// commit point; storage a crash leaves after it is replaced by the next topic of its name.
    ///
    /// Two steps, so that a crash never leaves commits of a deleted topic for a new topic of
    /// its name: while groups have commits of it, this deletes them (tombstones) and answers
    /// false — flush, then call again; once none are left it deletes the topic and answers
    /// true. A crash between the steps leaves the topic whole, without its groups' commits.
    pub fn delete_topic(&mut self, name: &str) -> Result<bool> {
        self.check_open()?;
        let topic = self.topic(name)?;
        if topic.internal {
            return Err(Error::invalid_argument(format!(
                "{name} is internal and cannot be deleted",
                name = Quoted(name)
            )));
        }
        if topic
            .partitions
            .iter()
            .any(|p| p.has_pending() || p.durable_end() < p.high_watermark())
        {
            return Err(Error::invalid_argument(format!(
                "records of {name} are not durable yet; delete it once its sends have resolved",
                name = Quoted(name)
            )));
        }
        if let Some(group) = self.groups.subscriber_group(name) {
            return Err(Error::new(
                ErrorKind::NonEmptyGroup,
                format!("group {group} has live members subscribed to {name}; disconnect them before deleting it", group = Quoted(&group), name = Quoted(name)),
            ));
        }
        let (groups, mut partitions) = self.split();
        if groups.delete_topic_commits(name, &mut partitions)? {
            return Ok(false);
        }
        let infos: Vec<_> = self
            .topic_infos(true)
            .into_iter()
            .filter(|info| info.name != name)
            .collect();
        self.store.store_manifest(&manifest::encode(&infos))?;
        let Some(removed) = self.topics.remove(name) else {
            return Ok(true);
        };
        let mut failure = None;
        for partition in &removed.partitions {
            if let Some(cache) = self.cache.as_mut() {
                cache.remove_range(partition.id(), i64::MIN, i64::MAX);
            }
            // The manifest no longer lists them: a failure here leaves storage that the next
            // topic of this name replaces, never records that come back.
            if let Err(error) = self.store.remove_partition(partition.key()) {
                failure.get_or_insert(error);
            }
        }
        failure.map_or(Ok(true), Err)
    }

    pub(crate) fn topic(&self, name: &str) -> Result<&Topic> {
        self.topics
            .get(name)
            .ok_or_else(|| Error::unknown_topic(name))
    }

    /// The user's topics (internal ones too when asked), sorted by name.
    pub fn topics(&self, include_internal: bool) -> Vec<TopicInfo> {
        self.topic_infos(include_internal)
    }

    pub fn partition_count(&self, topic: &str) -> Result<u32> {
        Ok(self.topic(topic)?.partitions.len() as u32)
    }

    pub fn offsets(&self, topic: &str) -> Result<Vec<PartitionOffsets>> {
        self.check_open()?;
        Ok(self
            .topic(topic)?
            .partitions
            .iter()
            .enumerate()
            .map(|(index, p)| PartitionOffsets {
                partition: index as u32,
                low: p.low_watermark(),
                high: p.high_watermark(),
                durable: p.durable_end(),
            })
            .collect())
    }

    /// The low watermark and the durable end of a partition: what a reader may read.
    pub(crate) fn watermarks(&self, topic: &str, partition: u32) -> Result<(i64, i64)> {
        let topic_state = self.topic(topic)?;
        let count = topic_state.partitions.len() as u32;
        topic_state
            .partitions
            .get(partition as usize)
            .map(|p| (p.low_watermark(), p.durable_end()))
            .ok_or_else(|| invalid_partition(topic, partition as i64, count))
    }

    /// A producer with its own placement state.
    pub fn producer(&mut self, kind: PartitionerKind) -> Producer {
        Producer {
            partitioner: Partitioner::new(kind, self.random.next_u64()),
        }
    }

    /// Appends `messages` to `topic`: offsets in message order within each partition. Returns
    /// one placement per message, in order. Durable, and readable, after the next `flush`;
    /// sends to one partition before it share one batch.
    pub fn send(
        &mut self,
        producer: &mut Producer,
        topic: &str,
        messages: &[Message<'_>],
    ) -> Result<Vec<Placement>> {
        self.check_open()?;
        let now = self.clock.now_ms();
        let topic_state = self
            .topics
            .get_mut(topic)
            .ok_or_else(|| Error::unknown_topic(topic))?;
        if topic_state.internal {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "{topic} is internal; brook writes it itself",
                    topic = Quoted(topic)
                ),
            ));
        }
        // Zero between sends; a send touches only its own partitions' entries (a topic may
        // have 10,000 partitions and a send one message).
        let room = &mut self.send_room;
        if room.len() < topic_state.partitions.len() {
            room.resize(topic_state.partitions.len(), 0);
        }
        let partitions = match place_messages(producer, topic, topic_state, messages, room) {
            Ok(partitions) => partitions,
            Err(error) => {
                room.fill(0);
                return Err(error);
            }
        };
        for &partition in &partitions {
            let bytes = std::mem::take(&mut room[partition as usize]);
            if bytes > 0 {
                topic_state.partitions[partition as usize].reserve(bytes);
            }
        }
        let mut placements = Vec::with_capacity(messages.len());
        // Each message is encoded once, into its partition's pending batch.
        for (message, &partition) in messages.iter().zip(&partitions) {
            let offset = topic_state.append(partition, &message.record, now)?;
            placements.push(Placement { partition, offset });
        }
        self.append_sequence += 1;
        Ok(placements)
    }

    /// Hands records of one partition from `offset` on to `visit`, up to its durable end (see
    /// `Partition::read`). `Pending` when the store must load something first.
    pub fn read(
        &mut self,
        topic: &str,
        partition: u32,
        offset: i64,
        records_max: u32,
        bytes_max: u64,
        visit: &mut dyn FnMut(&RecordRef<'_>),
    ) -> Result<Step<ReadOutcome>> {
        self.check_open()?;
        let (_, mut partitions) = self.split();
        let mut decoded = Ok(());
        let step = partitions.read(
            topic,
            partition,
            offset,
            records_max,
            bytes_max,
            &mut |run| {
                if decoded.is_ok() {
                    decoded = run.for_each(|record| visit(record));
                }
            },
        )?;
        decoded.map(|()| step)
    }

    /// Owned records from `offset` on (allocates per record; for tests and small reads of a
    /// store that reads synchronously).
    pub fn read_records(
        &mut self,
        topic: &str,
        partition: u32,
        offset: i64,
        records_max: u32,
    ) -> Result<Vec<Record>> {
        let mut records = Vec::new();
        match self.read(
            topic,
            partition,
            offset,
            records_max,
            FETCH_BYTES_MAX,
            &mut |r| records.push(r.to_owned()),
        )? {
            Step::Ready(_) => Ok(records),
            Step::Pending => Err(Error::new(
                ErrorKind::Io,
                "the store is loading asynchronously",
            )),
        }
    }

    /// Writes everything sent since the last flush and makes it durable: `strict` as fsync or
    /// a strict transaction, relaxed as written to the OS or a relaxed transaction. One flush
    /// at a time: `Busy` while one is in flight. A flush that fails takes back everything it
    /// wrote (the offsets after the durable end are handed out again) and fails.
    pub fn flush(&mut self, strict: bool) -> Result<FlushStatus> {
        self.check_open()?;
        if self.flush_in_flight {
            return Ok(FlushStatus::Busy);
        }
        let Log {
            store,
            cache,
            topics,
            ..
        } = self;
        // The records first, the commits (__consumer_offsets) last: a commit is never written
        // ahead of what it commits.
        let mut failure = None;
        'write: for internal in [false, true] {
            for topic in topics.values_mut().filter(|t| t.internal == internal) {
                let segment_bytes = topic.config.segment_bytes;
                for &index in &topic.touched {
                    let partition = &mut topic.partitions[index as usize];
                    if let Err(error) =
                        partition.write_pending(&mut **store, cache.as_mut(), segment_bytes)
                    {
                        failure = Some(error);
                        break 'write;
                    }
                }
            }
        }
        if let Some(error) = failure {
            self.undo_flush();
            return Err(error);
        }
        match self.store.flush(strict) {
            Ok(Step::Ready(())) => {
                self.flushed();
                Ok(FlushStatus::Done)
            }
            Ok(Step::Pending) => {
                for topic in self.topics.values_mut() {
                    topic.for_each_touched(Partition::flush_started);
                }
                self.flush_in_flight = true;
                Ok(FlushStatus::Started)
            }
            Err(error) => {
                // After a failed fsync the kernel may have dropped the dirty pages: what was
                // written is taken back, and the partitions refuse writes until a reopen.
                for topic in self.topics.values_mut() {
                    topic.for_each_touched(|partition| {
                        if partition.durable_end() < partition.high_watermark() {
                            partition.poison(&error);
                        }
                    });
                }
                self.undo_flush();
                Err(error)
            }
        }
    }

    /// The asynchronous flush that `flush` started has committed (`ok`) or failed. After a
    /// failure, the caller reloads the store (`replace_store`): this one is ahead of the
    /// durable copy.
    pub fn flush_completed(&mut self, ok: bool) {
        if !self.flush_in_flight {
            return;
        }
        self.flush_in_flight = false;
        if ok {
            self.flushed();
            return;
        }
        if self.store.failed_flush_is_final() {
            // A failed fsync, as in `flush`: what this flush wrote cannot be trusted.
            let error = Error::new(ErrorKind::Io, "a flush's fsync failed");
            for topic in self.topics.values_mut() {
                topic.for_each_touched(|partition| {
                    if partition.has_flush_in_flight() {
                        partition.poison(&error);
                    }
                });
            }
        }
        self.undo_flush();
    }

    pub fn is_flush_in_flight(&self) -> bool {
        self.flush_in_flight
    }

    fn flushed(&mut self) {
        let Log { store, topics, .. } = self;
        for topic in topics.values_mut() {
            topic.for_each_touched(|partition| {
                partition.flushed();
                // Nothing to do but where a memory log's sends left small batches.
                partition.coalesce_tail(&mut **store);
            });
            // Those sent to while an asynchronous flush was in flight stay listed.
            topic.settle();
        }
        let end = self
            .watermarks(CONSUMER_OFFSETS_TOPIC, 0)
            .map_or(0, |w| w.1);
        self.groups.commits_durable(end);
    }

    fn undo_flush(&mut self) {
        let Log { store, topics, .. } = self;
        for topic in topics.values_mut() {
            topic.for_each_touched(|partition| partition.undo_written(&mut **store));
            topic.settle();
        }
        let end = self
            .watermarks(CONSUMER_OFFSETS_TOPIC, 0)
            .map_or(0, |w| w.1);
        self.groups.commits_taken_back(end);
    }

    /// Whether anything was sent since the last flush.
    pub fn has_unflushed(&self) -> bool {
        self.topics.values().any(|t| {
            t.touched
                .iter()
                .any(|&i| t.partitions[i as usize].has_pending())
        })
    }

    /// A counter bumped by every append: a waiting consumer compares it to know whether to
    /// look again.
    pub fn append_sequence(&self) -> u64 {
        self.append_sequence
    }

    /// Flushes (a store that flushes synchronously), records a clean close for the next open,
    /// releases the lock, and refuses every later call with CLOSED.
    pub fn close(&mut self) -> Result<()> {
        if self.closed {
            return Ok(());
        }
        let flushed = if self.flush_in_flight {
            Ok(())
        } else {
            self.flush(true).map(drop)
        };
        let active: Vec<(PartitionKey, SegmentSummary, i64)> = self
            .topics
            .values()
            .flat_map(|t| t.partitions.iter())
            .filter(|p| !p.is_failed())
            .map(Partition::close_state)
            .collect();
        let closed = flushed.and_then(|()| self.store.close(&active));
        self.store.unlock();
        self.closed = true;
        closed
    }

    pub fn is_closed(&self) -> bool {
        self.closed
    }
}

/// The log's partitions as its groups see them (`group::Partitions`): the topics, the store
/// and the cache, borrowed apart from the groups.
struct LogPartitions<'a> {
    topics: &'a mut SortedMap<String, Topic>,
    store: &'a mut dyn Store,
    cache: Option<&'a mut BatchCache>,
    clock: &'a dyn Clock,
    append_sequence: &'a mut u64,
}

impl Partitions for LogPartitions<'_> {
    fn topic_shape(&self, topic: &str) -> Result<(u32, bool)> {
        let state = self
            .topics
            .get(topic)
            .ok_or_else(|| Error::unknown_topic(topic))?;
        Ok((state.partitions.len() as u32, state.internal))
    }

    fn watermarks(&self, topic: &str, partition: u32) -> Result<(i64, i64)> {
        watermarks_of(self.topics, topic, partition)
    }

    fn read(
        &mut self,
        topic: &str,
        partition: u32,
        offset: i64,
        records_max: u32,
        bytes_max: u64,
        visit: &mut dyn FnMut(&RecordRun<'_>),
    ) -> Result<Step<ReadOutcome>> {
        let state = self
            .topics
            .get_mut(topic)
            .ok_or_else(|| Error::unknown_topic(topic))?;
        let count = state.partitions.len() as u32;
        let state = state
            .partitions
            .get_mut(partition as usize)
            .ok_or_else(|| invalid_partition(topic, partition as i64, count))?;
        state.read(
            &mut *self.store,
            self.cache.as_deref_mut(),
            offset,
            records_max,
            bytes_max,
            visit,
        )
    }

    fn append_commits(&mut self, records: &[(Vec<u8>, Option<Vec<u8>>)]) -> Result<Vec<i64>> {
        let now = self.clock.now_ms();
        let topic = self
            .topics
            .get_mut(CONSUMER_OFFSETS_TOPIC)
            .ok_or_else(|| Error::unknown_topic(CONSUMER_OFFSETS_TOPIC))?;
        let mut offsets = Vec::with_capacity(records.len());
        for (key, value) in records {
            let record = RecordInput {
                key: Some(key),
                value: value.as_deref(),
                ..RecordInput::default()
            };
            offsets.push(topic.append(0, &record, now)?);
        }
        *self.append_sequence += 1;
        Ok(offsets)
    }

    fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }
}

fn watermarks_of(
    topics: &SortedMap<String, Topic>,
    topic: &str,
    partition: u32,
) -> Result<(i64, i64)> {
    let topic_state = topics
        .get(topic)
        .ok_or_else(|| Error::unknown_topic(topic))?;
    let count = topic_state.partitions.len() as u32;
    topic_state
        .partitions
        .get(partition as usize)
        .map(|p| (p.low_watermark(), p.durable_end()))
        .ok_or_else(|| invalid_partition(topic, partition as i64, count))
}

/// Consumers and groups: the log's `Groups`, over its partitions.
impl Log {
    fn split(&mut self) -> (&mut Groups, LogPartitions<'_>) {
        let Log {
            groups,
            topics,
            store,
            cache,
            clock,
            append_sequence,
            ..
        } = self;
        let partitions = LogPartitions {
            topics,
            store: &mut **store,
            cache: cache.as_mut(),
            clock: &**clock,
            append_sequence,
        };
        (groups, partitions)
    }

    /// Joins `options.group_id` subscribed to `topics`; the group rebalances at once.
    pub fn join_group(&mut self, options: ConsumerOptions, topics: &[&str]) -> Result<MemberId> {
        self.check_open()?;
        let (groups, mut partitions) = self.split();
        groups.join(options, topics, &mut partitions)
    }

    /// Replaces a member's subscription; the group rebalances.
    pub fn subscribe(&mut self, member: MemberId, topics: &[&str]) -> Result<()> {
        self.check_open()?;
        let (groups, mut partitions) = self.split();
        groups.subscribe(member, topics, &mut partitions)
    }

    /// Leaves the group (giving back what its lease did not hand over): the member's
    /// partitions move to the others at once.
    pub fn leave_group(&mut self, member: MemberId) -> Result<()> {
        self.check_open()?;
        let (groups, mut partitions) = self.split();
        groups.leave(member, &mut partitions)
    }

    /// The partitions a member owns now, sorted.
    pub fn assignment(&self, member: MemberId) -> Result<Vec<TopicPartition>> {
        self.groups.assignment(member)
    }

    pub fn owns(&self, member: MemberId, topic: &str, partition: u32) -> bool {
        self.groups.owns(member, topic, partition)
    }

    /// Changes whenever the member's assignment (or, for eager assignors, its positions) was
    /// reset by a rebalance.
    pub fn assignment_version(&self, member: MemberId) -> Result<u64> {
        self.groups.assignment_version(member)
    }

    pub fn generation(&self, member: MemberId) -> Result<i32> {
        self.groups.generation(member)
    }

    /// The next offset a member will read from a partition it owns (None until first read).
    pub fn position(&self, member: MemberId, topic: &str, partition: u32) -> Result<Option<i64>> {
        self.groups.position(member, topic, partition)
    }

    /// The group's durable committed offset of a partition (the next offset to read).
    pub fn committed(&self, group_id: &str, topic: &str, partition: u32) -> Option<i64> {
        self.groups.committed(group_id, topic, partition)
    }

    /// Per partition of `topic`: watermarks, the group's commit, and its lag.
    pub fn lag(&self, group_id: &str, topic: &str) -> Result<Vec<PartitionLag>> {
        self.check_open()?;
        Ok(self
            .offsets(topic)?
            .into_iter()
            .map(|o| {
                let committed = self.committed(group_id, topic, o.partition);
                PartitionLag {
                    partition: o.partition,
                    low: o.low,
                    high: o.high,
                    committed,
                    lag: o.high - committed.unwrap_or(o.low).clamp(o.low, o.high),
                }
            })
            .collect())
    }

    pub fn describe_group(&self, group_id: &str) -> Option<GroupDescription> {
        self.groups.describe(group_id)
    }

    /// Group ids with live members, sorted.
    pub fn groups(&self) -> Vec<String> {
        self.groups.names()
    }

    /// Group ids with live members or committed offsets, sorted (Kafka's ListGroups).
    pub fn known_groups(&self) -> Vec<String> {
        self.groups.known_names()
    }

    /// Sets the committed offsets of a group that has no live members (each the next offset
    /// to read); `NON_EMPTY_GROUP` while it has some. Durable with the next flush.
    pub fn set_group_offsets(
        &mut self,
        group_id: &str,
        offsets: &[(&str, u32, i64)],
    ) -> Result<()> {
        self.check_open()?;
        let (groups, mut partitions) = self.split();
        groups.set_offsets(group_id, offsets, &mut partitions)
    }

    /// Deletes the committed offsets of a group that has no live members; `GROUP_ID_NOT_FOUND`
    /// when it has none. Durable with the next flush.
    pub fn delete_group(&mut self, group_id: &str) -> Result<()> {
        self.check_open()?;
        let (groups, mut partitions) = self.split();
        groups.delete_group(group_id, &mut partitions)
    }

    /// Sets where the member next reads a partition of a subscribed topic.
    pub fn seek(
        &mut self,
        member: MemberId,
        topic: &str,
        partition: u32,
        offset: i64,
    ) -> Result<()> {
        self.check_open()?;
        let (groups, partitions) = self.split();
        groups.seek(member, topic, partition, offset, &partitions)
    }

    /// Stops (`paused = true`) or restarts delivery from partitions of a topic (all of them
    /// when `partitions` is None).
    pub fn set_paused(
        &mut self,
        member: MemberId,
        topic: &str,
        partitions: Option<&[u32]>,
        paused: bool,
    ) -> Result<()> {
        self.check_open()?;
        let (groups, source) = self.split();
        groups.set_paused(member, topic, partitions, paused, &source)
    }

    pub fn paused(&self, member: MemberId) -> Result<Vec<TopicPartition>> {
        self.groups.paused(member)
    }

    /// Whether a poll by this member would deliver something now.
    pub fn has_records(&mut self, member: MemberId) -> bool {
        let (groups, partitions) = self.split();
        groups.has_records(member, &partitions)
    }

    /// Of `waiting`, the members that have records to fetch now.
    pub fn ready_members(&mut self, waiting: &[MemberId]) -> Vec<MemberId> {
        let (groups, partitions) = self.split();
        groups.ready(waiting, &partitions)
    }

    /// Delivers up to `records_max` records (and, after the first, about `bytes_max` bytes)
    /// from the member's unpaused partitions, each in offset order. With auto commit they are
    /// committed before this returns (pull style: returning them is the delivery).
    pub fn poll(
        &mut self,
        member: MemberId,
        records_max: u32,
        bytes_max: u64,
        visit: &mut dyn FnMut(&str, u32, &RecordRun<'_>),
    ) -> Result<FetchOutcome> {
        self.poll_from(member, records_max, bytes_max, &mut |from, run| {
            visit(from.topic, from.partition, run)
        })
    }

    /// `poll`, telling `visit` each run's partition with its durable end and failures.
    pub fn poll_from(
        &mut self,
        member: MemberId,
        records_max: u32,
        bytes_max: u64,
        visit: &mut dyn FnMut(&FetchedFrom<'_>, &RecordRun<'_>),
    ) -> Result<FetchOutcome> {
        self.check_open()?;
        let (groups, mut partitions) = self.split();
        let grant = groups.fetch(member, records_max, bytes_max, true, &mut partitions, visit)?;
        Ok(FetchOutcome {
            records: grant.records,
            pending: grant.pending,
        })
    }

    /// Like `poll`, but under a lease: records are handed over chunk by chunk
    /// (`start_chunk`), and what was not is given back by `release_lease` (or the next fetch).
    pub fn fetch_lease(
        &mut self,
        member: MemberId,
        records_max: u32,
        bytes_max: u64,
        visit: &mut dyn FnMut(&str, u32, &RecordRun<'_>),
    ) -> Result<LeaseGrant> {
        self.fetch_lease_from(member, records_max, bytes_max, &mut |from, run| {
            visit(from.topic, from.partition, run)
        })
    }

    /// `fetch_lease`, telling `visit` each run's partition as `poll_from` does.
    pub fn fetch_lease_from(
        &mut self,
        member: MemberId,
        records_max: u32,
        bytes_max: u64,
        visit: &mut dyn FnMut(&FetchedFrom<'_>, &RecordRun<'_>),
    ) -> Result<LeaseGrant> {
        self.check_open()?;
        let (groups, mut partitions) = self.split();
        groups.fetch(
            member,
            records_max,
            bytes_max,
            false,
            &mut partitions,
            visit,
        )
    }

    /// Whether chunk `index` of `lease` may be handed over (after its first offset was written
    /// to the hand-over table), and whether a commit must be durable first.
    pub fn start_chunk(
        &mut self,
        member: MemberId,
        lease: u64,
        index: usize,
    ) -> Result<ChunkStart> {
        self.check_open()?;
        let (groups, mut partitions) = self.split();
        groups.start_chunk(member, lease, index, &mut partitions)
    }

    /// Commits what the hand-over table says was handed over (`commit_processed` members).
    pub fn commit_handed(&mut self, member: MemberId) -> Result<bool> {
        self.check_open()?;
        let (groups, mut partitions) = self.split();
        groups.commit_handed(member, &mut partitions)
    }

    /// Gives back what `lease` did not hand over.
    pub fn release_lease(&mut self, member: MemberId, lease: u64) -> Result<()> {
        self.check_open()?;
        let (groups, mut partitions) = self.split();
        groups.release(member, Some(lease), &mut partitions)
    }

    /// `release_lease` for a loop in another tab, which says how far it got (see
    /// `Groups::release_at`).
    pub fn release_lease_at(
        &mut self,
        member: MemberId,
        lease: u64,
        index: u32,
        offset: i64,
    ) -> Result<()> {
        self.check_open()?;
        let (groups, mut partitions) = self.split();
        groups.release_at(member, lease, index, offset, &mut partitions)
    }

    /// The epoch table (u32 per member slot) and the hand-over table (chunk index, offset per
    /// slot) the delivering side shares with the core; empty before the first join.
    pub fn delivery_tables(&mut self) -> (&[u32], &mut [f64]) {
        self.groups.tables()
    }

    /// A member's slot in the delivery tables.
    pub fn member_slot(&self, member: MemberId) -> Result<usize> {
        self.groups.slot(member)
    }

    /// Notes what became of a record a handler failed on (see `FailureNote`); returns how
    /// many times handlers failed on it.
    pub fn note_failure(
        &mut self,
        member: MemberId,
        topic: &str,
        partition: u32,
        offset: i64,
        note: FailureNote,
    ) -> Result<u32> {
        self.check_open()?;
        let (groups, mut partitions) = self.split();
        groups.note_failure(member, topic, partition, offset, note, &mut partitions)
    }

    /// The delivery failures of the record of a partition that failed last for a group.
    pub fn failure(&self, group_id: &str, topic: &str, partition: u32) -> Option<Failure> {
        self.groups.failure(group_id, topic, partition)
    }

    /// Commits offsets (the next offset to read) for partitions the member owns.
    pub fn commit(&mut self, member: MemberId, offsets: &[(&str, u32, i64)]) -> Result<()> {
        self.check_open()?;
        let (groups, mut partitions) = self.split();
        groups.commit(member, offsets, &mut partitions)
    }

    /// Runs retention and compaction where they are due: deletes old segments of `delete`
    /// topics with a retention limit, compacts `compact` topics (and `__consumer_offsets`)
    /// that sealed segments since their last compaction. Returns segments deleted or
    /// rewritten; `Pending` when compaction needs the store to load batches first.
    pub fn maintain(&mut self) -> Result<Step<u32>> {
        self.check_open()?;
        let now = self.now_ms();
        let mut changed = 0;
        let mut pending = false;
        // One partition's failure (damage found while compacting it) does not keep the others
        // from their retention and compaction: the first error is returned after all of them.
        let mut failure = None;
        let Log {
            store,
            cache,
            topics,
            ..
        } = self;
        for topic in topics.values_mut() {
            let config = &topic.config;
            for partition in &mut topic.partitions {
                let outcome = match config.cleanup_policy {
                    CleanupPolicy::Delete => partition.apply_retention(
                        &mut **store,
                        cache.as_mut(),
                        now,
                        config.retention_ms,
                        config.retention_bytes,
                    ),
                    CleanupPolicy::Compact if partition.needs_compaction() => partition
                        .compact(
                            &mut **store,
                            cache.as_mut(),
                            now,
                            config.delete_retention_ms,
                        )
                        .map(|step| match step {
                            Step::Ready(report) => report.segments_rewritten,
                            Step::Pending => {
                                pending = true;
                                0
                            }
                        }),
                    CleanupPolicy::Compact => Ok(0),
                };
                match outcome {
                    Ok(count) => changed += count,
                    Err(error) => {
                        failure.get_or_insert(error);
                    }
                }
            }
        }
        if let Some(error) = failure {
            return Err(error);
        }
        Ok(if pending {
            Step::Pending
        } else {
            Step::Ready(changed)
        })
    }
}

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Log")
            .field("topics", &self.topics.keys().collect::<Vec<_>>())
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

impl Drop for Log {
    fn drop(&mut self) {
        // Dropped without close: flush what we can; a crash would simply skip this.
        if !self.closed {
            let _ = self.close();
        }
    }
}

pub(crate) fn invalid_partition(topic: &str, partition: i64, count: u32) -> Error {
    Error::new(
        ErrorKind::InvalidPartition,
        format!(
            "partition {partition} does not exist in topic {topic}; it has partitions 0 to {}",
            count.saturating_sub(1),
            topic = Quoted(topic)
        ),
    )
}

fn consumer_offsets_info() -> TopicInfo {
    TopicInfo {
        name: CONSUMER_OFFSETS_TOPIC.to_owned(),
        partitions: 1,
        config: TopicConfig {
            cleanup_policy: CleanupPolicy::Compact,
            // Small segments, so that compaction keeps the commit history short.
            segment_bytes: 64 * 1024,
            delete_retention_ms: 0,
            ..TopicConfig::default()
        },
        internal: true,
    }
}

/// Checks every message against the topic and picks its partition; writes nothing. Adds to
/// `room`, by partition, the bytes (at most, encoded) of the messages it places there.
fn place_messages(
    producer: &mut Producer,
    topic: &str,
    topic_state: &Topic,
    messages: &[Message<'_>],
    room: &mut [usize],
) -> Result<Vec<u32>> {
    if messages.is_empty() {
        return Err(Error::invalid_argument(
            "send needs at least one message in `messages`",
        ));
    }
    if messages.len() > SEND_MESSAGES_MAX {
        return Err(Error::new(
            ErrorKind::MessageTooLarge,
            format!(
                "{} messages in one send; send at most {SEND_MESSAGES_MAX} at once",
                messages.len()
            ),
        ));
    }
    let count = topic_state.partitions.len() as u32;
    let config = &topic_state.config;
    let sticky = producer.partitioner.begin_send(count);
    let mut partitions = Vec::with_capacity(messages.len());
    for (index, message) in messages.iter().enumerate() {
        let record = &message.record;
        let size = record.encoded_size();
        if size > config.max_message_bytes as usize {
            return Err(Error::new(
                ErrorKind::MessageTooLarge,
                format!(
                    "message {index} is {size} bytes encoded; topic {topic} takes at most {} (maxMessageBytes)",
                    config.max_message_bytes, topic = Quoted(topic)
                ),
            ));
        }
        if let Some(timestamp) = record.timestamp {
            if !(0..=TIMESTAMP_MAX).contains(&timestamp) {
                return Err(Error::new(
                    ErrorKind::InvalidRecord,
                    format!("message {index} has timestamp {timestamp}; use milliseconds since 1970, 0 to 2^53-1"),
                ));
            }
        }
        if config.cleanup_policy == CleanupPolicy::Compact && record.key.is_none() {
            return Err(Error::new(
                ErrorKind::InvalidRecord,
                format!("message {index} has no key, but topic {topic} is compacted: every message needs a key", topic = Quoted(topic)),
            ));
        }
        let partition = match message.partition {
            Some(partition) if partition >= count => {
                return Err(invalid_partition(topic, partition as i64, count))
            }
            Some(partition) => partition,
            None => producer.partitioner.place(record.key, count, sticky),
        };
        partitions.push(partition);
        // Saturating: on wasm32 a usize is 32 bits (the room is a hint, capped at a batch).
        room[partition as usize] = room[partition as usize].saturating_add(size);
    }
    Ok(partitions)
}
