// The log: topics of partitions in one store, the manifest that lists them, the lock that
// keeps a second writer out, and the producer path. Everything a caller does goes through
// here, and every input is checked here before any byte is written.

use std::collections::BTreeMap;

use crate::error::{Error, ErrorKind, Result};
use crate::group::Groups;
use crate::manifest;
use crate::partition::{Partition, ReadOutcome};
use crate::partitioner::{Partitioner, PartitionerKind, SplitMix64};
use crate::record_batch::{Record, RecordInput, RecordRef};
use crate::segment::RecoveryReport;
use crate::storage::Storage;
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

/// How a log is opened: its time source and a seed for placement and member ids.
pub struct LogOptions {
    pub clock: Box<dyn Clock>,
    /// Entropy from the host (getrandom, crypto.getRandomValues); any value works.
    pub seed: u64,
}

pub(crate) struct Topic {
    pub(crate) config: TopicConfig,
    pub(crate) partitions: Vec<Partition>,
    pub(crate) internal: bool,
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

/// The watermarks of one partition: `low` is the first stored offset, `high` the next to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartitionOffsets {
    pub partition: u32,
    pub low: i64,
    pub high: i64,
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

pub struct Log {
    pub(crate) storage: Box<dyn Storage>,
    pub(crate) clock: Box<dyn Clock>,
    pub(crate) topics: BTreeMap<String, Topic>,
    pub(crate) random: SplitMix64,
    closed: bool,
    recovery: RecoveryReport,
    /// Bumped on every append: lets a waiting consumer tell whether anything new arrived.
    append_sequence: u64,
    pub(crate) groups: Groups,
}

impl Log {
    /// Opens (or creates) the log in `storage`: takes the lock, reads the manifest, and
    /// recovers each partition's tail.
    pub fn open(mut storage: Box<dyn Storage>, options: LogOptions) -> Result<Log> {
        let (topics, recovery) = Log::lock_and_load(&mut *storage)?;
        let mut log = Log {
            storage,
            clock: options.clock,
            topics,
            random: SplitMix64::new(options.seed),
            closed: false,
            recovery,
            append_sequence: 0,
            groups: Groups::default(),
        };
        // On failure, dropping `log` releases the lock.
        log.load_commits()?;
        Ok(log)
    }

    /// Takes the store's lock and loads it; the lock is given back if loading fails.
    fn lock_and_load(
        storage: &mut dyn Storage,
    ) -> Result<(BTreeMap<String, Topic>, RecoveryReport)> {
        storage.lock()?;
        Log::load(storage).inspect_err(|_| storage.unlock())
    }

    fn load(storage: &mut dyn Storage) -> Result<(BTreeMap<String, Topic>, RecoveryReport)> {
        let mut infos = manifest::load(storage)?.unwrap_or_default();
        if !infos.iter().any(|t| t.name == CONSUMER_OFFSETS_TOPIC) {
            infos.push(consumer_offsets_info());
            manifest::store(storage, &infos)?;
        }
        let mut topics = BTreeMap::new();
        let mut recovery = RecoveryReport::default();
        for info in infos {
            let mut partitions = Vec::with_capacity(info.partitions as usize);
            for index in 0..info.partitions {
                let (partition, report) =
                    Partition::open(storage, partition_directory(&info.name, index))?;
                recovery.batches += report.batches;
                recovery.truncated_bytes += report.truncated_bytes;
                if report.reason.is_some() {
                    recovery.reason = report.reason;
                }
                partitions.push(partition);
            }
            topics.insert(
                info.name,
                Topic {
                    config: info.config,
                    partitions,
                    internal: info.internal,
                },
            );
        }
        Ok((topics, recovery))
    }

    /// Swaps in another store and reloads everything from it (topics, data, commits), keeping
    /// the consumers: their groups rebalance, and a position beyond the reloaded data is reset
    /// by the usual rule on the next poll. For stores whose durable copy is elsewhere (the
    /// IndexedDB mirror), after a failed write left the working copy ahead of it.
    pub fn replace_storage(&mut self, mut storage: Box<dyn Storage>) -> Result<()> {
        self.check_open()?;
        let (topics, recovery) = Log::lock_and_load(&mut *storage)?;
        self.storage.unlock();
        self.storage = storage;
        self.topics = topics;
        self.recovery = recovery;
        self.groups.clear_commits();
        self.load_commits()?;
        for group in self.groups() {
            self.rebalance(&group);
        }
        self.append_sequence += 1;
        Ok(())
    }

    /// What recovery found and cut on open.
    pub fn recovery_report(&self) -> &RecoveryReport {
        &self.recovery
    }

    pub(crate) fn recovery_note(&mut self, reason: String) {
        self.recovery.reason = Some(reason);
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

    /// Creates a topic. Its name, partition count and config are checked first.
    pub fn create_topic(&mut self, name: &str, partitions: u32, config: TopicConfig) -> Result<()> {
        self.check_open()?;
        validate_topic_name(name)?;
        validate_partition_count(partitions)?;
        config.validate()?;
        if self.topics.contains_key(name) {
            return Err(Error::new(
                ErrorKind::TopicAlreadyExists,
                format!("topic {name:?} already exists"),
            ));
        }
        if self.topics.len() >= TOPICS_MAX {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("a log holds at most {TOPICS_MAX} topics"),
            ));
        }
        self.check_partitions_total(partitions)?;
        let partitions = self.create_partition_files(name, 0, partitions)?;
        self.topics.insert(
            name.to_owned(),
            Topic {
                config,
                partitions: Vec::new(),
                internal: false,
            },
        );
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

    /// Creates partitions `from..to` of `topic`, empty, replacing whatever a failed or
    /// interrupted creation left in their directories (the manifest does not list them, so no
    /// acknowledged record lives there). On failure, removes what it created.
    fn create_partition_files(
        &mut self,
        topic: &str,
        from: u32,
        to: u32,
    ) -> Result<Vec<Partition>> {
        let mut created = Vec::with_capacity((to - from) as usize);
        for index in from..to {
            let directory = partition_directory(topic, index);
            let result = remove_files_of(&mut *self.storage, &directory)
                .and_then(|()| Partition::create(&mut *self.storage, directory));
            match result {
                Ok(partition) => created.push(partition),
                Err(error) => {
                    for partition in created {
                        let _ = partition.remove(&mut *self.storage);
                    }
                    return Err(error);
                }
            }
        }
        Ok(created)
    }

    /// Writes the manifest listing `added` as the topic's new partitions: the commit point of
    /// a topic's creation or growth, so that after a crash or a failure it is all there or
    /// none of it is. On failure, the new partitions' files are removed again.
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
        if let Err(error) = manifest::store(&mut *self.storage, &infos) {
            for partition in added {
                let _ = partition.remove(&mut *self.storage);
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
                format!("topic {name:?} has {current} partitions; a topic can only grow"),
            ));
        }
        self.check_partitions_total(count - current)?;
        let added = self.create_partition_files(name, current, count)?;
        self.commit_partitions(name, added)?;
        self.rebalance_subscribers(name);
        Ok(())
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
            })
            .collect())
    }

    pub(crate) fn watermarks(&self, topic: &str, partition: u32) -> Result<(i64, i64)> {
        let topic_state = self.topic(topic)?;
        let count = topic_state.partitions.len() as u32;
        topic_state
            .partitions
            .get(partition as usize)
            .map(|p| (p.low_watermark(), p.high_watermark()))
            .ok_or_else(|| invalid_partition(topic, partition as i64, count))
    }

    /// A producer with its own placement state.
    pub fn producer(&mut self, kind: PartitionerKind) -> Producer {
        Producer {
            partitioner: Partitioner::new(kind, self.random.next_u64()),
        }
    }

    /// Appends `messages` to `topic`: one batch per partition touched, offsets in message
    /// order within each partition. Returns one placement per message, in order. Durable only
    /// after `flush` (the JS layer flushes before it resolves a send, per durability setting).
    pub fn send(
        &mut self,
        producer: &mut Producer,
        topic: &str,
        messages: &[Message<'_>],
    ) -> Result<Vec<Placement>> {
        self.check_open()?;
        let now = self.clock.now_ms();
        let topic_state = self.topic(topic)?;
        if topic_state.internal {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("{topic:?} is internal; brook writes it itself"),
            ));
        }
        let partitions = place_messages(producer, topic, topic_state, messages)?;
        self.append_placed(topic, messages, &partitions, now)
    }

    /// Appends already-checked messages to the partitions chosen for them.
    pub(crate) fn append_placed(
        &mut self,
        topic: &str,
        messages: &[Message<'_>],
        partitions: &[u32],
        now: i64,
    ) -> Result<Vec<Placement>> {
        let storage = &mut *self.storage;
        let topic_state = self
            .topics
            .get_mut(topic)
            .ok_or_else(|| Error::unknown_topic(topic))?;
        let segment_bytes = topic_state.config.segment_bytes;
        let mut touched: Vec<u32> = partitions.to_vec();
        touched.sort_unstable();
        touched.dedup();
        let mut bases: Vec<i64> = Vec::with_capacity(touched.len());
        for &partition in &touched {
            let records = messages
                .iter()
                .zip(partitions)
                .filter(move |(_, &p)| p == partition)
                .map(|(message, _)| &message.record);
            let state = &mut topic_state.partitions[partition as usize];
            bases.push(state.append(storage, records, now, segment_bytes)?);
            self.append_sequence += 1;
        }
        // Offsets in message order: each partition's base plus a running count.
        let mut next: Vec<i64> = bases;
        Ok(partitions
            .iter()
            .map(|&partition| {
                let slot = touched.binary_search(&partition).unwrap_or(0);
                let offset = next[slot];
                next[slot] += 1;
                Placement { partition, offset }
            })
            .collect())
    }

    /// Hands records of one partition from `offset` on to `visit` (see `Partition::read`).
    pub fn read(
        &mut self,
        topic: &str,
        partition: u32,
        offset: i64,
        records_max: u32,
        bytes_max: u64,
        visit: &mut dyn FnMut(&RecordRef<'_>),
    ) -> Result<ReadOutcome> {
        self.check_open()?;
        let storage = &mut *self.storage;
        let state = self
            .topics
            .get_mut(topic)
            .ok_or_else(|| Error::unknown_topic(topic))?;
        let count = state.partitions.len() as u32;
        let state = state
            .partitions
            .get_mut(partition as usize)
            .ok_or_else(|| invalid_partition(topic, partition as i64, count))?;
        state.read(storage, offset, records_max, bytes_max, visit)
    }

    /// Owned records from `offset` on (allocates per record; for tests and small reads).
    pub fn read_records(
        &mut self,
        topic: &str,
        partition: u32,
        offset: i64,
        records_max: u32,
    ) -> Result<Vec<Record>> {
        let mut records = Vec::new();
        self.read(topic, partition, offset, records_max, u64::MAX, &mut |r| {
            records.push(r.to_owned())
        })?;
        Ok(records)
    }

    /// Makes every append so far durable (one sync per written partition).
    pub fn flush(&mut self) -> Result<()> {
        self.check_open()?;
        for topic in self.topics.values_mut() {
            for partition in &mut topic.partitions {
                partition.sync(&mut *self.storage)?;
            }
        }
        Ok(())
    }

    /// Whether anything was appended since the last flush.
    pub fn has_unflushed(&self) -> bool {
        self.topics
            .values()
            .any(|t| t.partitions.iter().any(Partition::is_dirty))
    }

    /// A counter bumped by every append: a waiting consumer compares it to know whether to
    /// look again.
    pub fn append_sequence(&self) -> u64 {
        self.append_sequence
    }

    /// Flushes, releases the lock, and refuses every later call with CLOSED.
    pub fn close(&mut self) -> Result<()> {
        if self.closed {
            return Ok(());
        }
        let flushed = self.flush();
        self.storage.unlock();
        self.closed = true;
        flushed
    }

    pub fn is_closed(&self) -> bool {
        self.closed
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

/// Removes every file of a partition directory, and the directory.
fn remove_files_of(storage: &mut dyn Storage, directory: &str) -> Result<()> {
    for name in storage.list(directory)? {
        storage.remove(&format!("{directory}/{name}"))?;
    }
    storage.remove(directory)
}

pub(crate) fn partition_directory(topic: &str, partition: u32) -> String {
    format!("{topic}-{partition}")
}

pub(crate) fn invalid_partition(topic: &str, partition: i64, count: u32) -> Error {
    Error::new(
        ErrorKind::InvalidPartition,
        format!(
            "partition {partition} does not exist in topic {topic:?}; it has partitions 0 to {}",
            count.saturating_sub(1)
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

/// Checks every message against the topic and picks its partition; writes nothing.
fn place_messages(
    producer: &mut Producer,
    topic: &str,
    topic_state: &Topic,
    messages: &[Message<'_>],
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
                    "message {index} is {size} bytes encoded; topic {topic:?} takes at most {} (maxMessageBytes)",
                    config.max_message_bytes
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
                format!("message {index} has no key, but topic {topic:?} is compacted: every message needs a key"),
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
    }
    Ok(partitions)
}
