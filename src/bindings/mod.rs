// The wasm bindings: one #[wasm_bindgen] type around the core's `Log`. Each method checks its
// JS arguments (interop), calls the core, and converts the result; core errors become JS
// errors with a `code`. Messages cross the boundary packed (see `wire`): one call per send
// and one per poll. The JS wrapper (js/brook.js) turns this into the KafkaJS-shaped API.

mod host_storage;
mod idb;
mod interop;

use js_sys::{Object, Promise, Reflect};
use serde::Serialize;
use wasm_bindgen::prelude::*;

use self::host_storage::{HostStorage, JsHostStorage};
use self::interop::{
    array, boolean, elements, field, integer, js_error, options, string, strings, to_js, to_value,
    JsResult,
};
use crate::assignor::Assignor;
use crate::error::ErrorKind;
use crate::file_store::FileStore;
use crate::group::{
    ChunkStart, ConsumerOptions, MemberId, OffsetReset, FETCH_BYTES_MAX, FETCH_RECORDS_MAX,
};
use crate::keyed_store::KeyedStore;
use crate::log::{Clock, FlushStatus, Log, LogOptions, Producer, CACHE_BYTES_MAX};
use crate::partitioner::PartitionerKind;
use crate::store::Step;
use crate::topic::{CleanupPolicy, TopicConfig, PARTITIONS_MAX};
use crate::wire::{decode_send, PollWriter};

/// JS numbers are exact up to here; offsets and sizes beyond it are refused.
const SAFE_INTEGER_MAX: f64 = 9_007_199_254_740_991.0;
/// Partition numbers a caller may name (a topic has at most PARTITIONS_MAX).
const PARTITION_MAX: f64 = (PARTITIONS_MAX - 1) as f64;

#[wasm_bindgen(start)]
fn start() {
    // A panic must never happen; if one does, the console says where.
    console_error_panic_hook::set_once();
}

struct JsClock;

impl Clock for JsClock {
    fn now_ms(&self) -> i64 {
        js_sys::Date::now() as i64
    }
}

/// Placement state of one producer.
#[wasm_bindgen]
#[derive(Debug)]
pub struct WasmProducer {
    producer: Producer,
}

#[wasm_bindgen]
#[derive(Debug)]
pub struct WasmLog {
    log: Log,
    /// The IndexedDB database and the keyed store over it, for logs opened by name.
    indexed_db: Option<(web_sys::IdbDatabase, KeyedStore)>,
}

/// An IndexedDB database as opened: its manifest and segment summaries (no batches), what
/// `openIndexedDb` builds a log from and what `replaceStore` swaps in after a failed flush.
#[wasm_bindgen]
pub struct IndexedDbStore {
    database: web_sys::IdbDatabase,
    opened: idb::Opened,
}

impl std::fmt::Debug for IndexedDbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IndexedDbStore")
    }
}

impl IndexedDbStore {
    /// The keyed store over the database, with what opening it found.
    fn into_store(self) -> (web_sys::IdbDatabase, KeyedStore) {
        let store = KeyedStore::persisted(self.opened.image);
        for (partition, summary) in self.opened.migrated {
            store.note_summary(&partition, summary);
        }
        for (partition, recovery) in self.opened.recovery {
            store.note_recovery(&partition, recovery);
        }
        (self.database, store)
    }
}

/// Opens (creating if needed) the IndexedDB database `name` and reads its manifest and
/// segment summaries; batches are read when a reader needs them.
#[wasm_bindgen(js_name = loadIndexedDb)]
pub async fn load_indexed_db(name: String) -> JsResult<IndexedDbStore> {
    let database = idb::open_database(&name).await?;
    let opened = idb::load(&database).await?;
    Ok(IndexedDbStore { database, opened })
}

/// Deletes the IndexedDB database `name` (close its log first).
#[wasm_bindgen(js_name = deleteIndexedDb)]
pub async fn delete_indexed_db(name: String) -> JsResult<()> {
    idb::delete_database(&name).await
}

fn seed_from(seed: f64) -> u64 {
    // Any bits will do; JS passes 53 random bits from crypto.getRandomValues.
    seed.to_bits() ^ 0x9E37_79B9_7F4A_7C15
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TopicView {
    topic: String,
    partitions: u32,
    max_message_bytes: u32,
    segment_bytes: f64,
    retention_ms: Option<f64>,
    retention_bytes: Option<f64>,
    cleanup_policy: &'static str,
    internal: bool,
}

#[derive(Serialize)]
struct OffsetsView {
    partition: u32,
    low: f64,
    high: f64,
    durable: f64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RecoveryView {
    partitions: Vec<PartitionRecoveryView>,
    clamped_commits: Vec<ClampedView>,
    commits_damaged: Option<String>,
    clean: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PartitionRecoveryView {
    topic: String,
    partition: u32,
    truncated_bytes: f64,
    truncated_at: Option<f64>,
    damaged: Vec<DamagedView>,
    ignored: Vec<String>,
}

#[derive(Serialize)]
struct DamagedView {
    from: f64,
    to: f64,
    reason: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ClampedView {
    group_id: String,
    topic: String,
    partition: u32,
    committed: f64,
    end: f64,
}

#[derive(Serialize)]
struct TopicPartitionView {
    topic: String,
    partition: u32,
}

#[derive(Serialize)]
struct LagView {
    partition: u32,
    low: f64,
    high: f64,
    committed: Option<f64>,
    lag: f64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MemberView {
    member_id: f64,
    name: String,
    topics: Vec<String>,
    assignment: Vec<TopicPartitionView>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GroupView {
    group_id: String,
    generation: i32,
    assignor: &'static str,
    members: Vec<MemberView>,
}

fn partitions_view(list: Vec<(String, u32)>) -> Vec<TopicPartitionView> {
    list.into_iter()
        .map(|(topic, partition)| TopicPartitionView { topic, partition })
        .collect()
}

fn member_id(value: f64) -> JsResult<MemberId> {
    if value.fract() != 0.0 || !(0.0..=SAFE_INTEGER_MAX).contains(&value) {
        return Err(js_error(
            ErrorKind::UnknownMember,
            format!("{value} is not a member id"),
        ));
    }
    Ok(value as MemberId)
}

fn partition_arg(value: &JsValue) -> JsResult<u32> {
    integer(
        value,
        "partition",
        0.0,
        PARTITION_MAX,
        ErrorKind::InvalidPartition,
    )
    .map(|p| p as u32)
}

fn offset_arg(value: &JsValue) -> JsResult<i64> {
    integer(
        value,
        "offset",
        0.0,
        SAFE_INTEGER_MAX,
        ErrorKind::OffsetOutOfRange,
    )
    .map(|o| o as i64)
}

fn fetch_limits(max_records: &JsValue, max_bytes: &JsValue) -> JsResult<(u32, u64)> {
    let records_max = integer(
        max_records,
        "maxRecords",
        1.0,
        FETCH_RECORDS_MAX as f64,
        ErrorKind::InvalidArgument,
    )? as u32;
    let bytes_max = integer(
        max_bytes,
        "maxBytes",
        1.0,
        FETCH_BYTES_MAX as f64,
        ErrorKind::InvalidArgument,
    )? as u64;
    Ok((records_max, bytes_max))
}

fn optional_integer(object: &Object, name: &str, max: f64) -> JsResult<Option<f64>> {
    let value = field(object, name)?;
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    // -1 means "no limit", as in Kafka's configs.
    if value.as_f64() == Some(-1.0) {
        return Ok(Some(-1.0));
    }
    integer(&value, name, 0.0, max, ErrorKind::InvalidConfig).map(Some)
}

fn topic_config(object: &Object) -> JsResult<TopicConfig> {
    let mut config = TopicConfig::default();
    if let Some(v) = optional_integer(object, "maxMessageBytes", u32::MAX as f64)? {
        config.max_message_bytes = if v < 0.0 { 0 } else { v as u32 };
    }
    if let Some(v) = optional_integer(object, "segmentBytes", SAFE_INTEGER_MAX)? {
        config.segment_bytes = if v < 0.0 { 0 } else { v as u64 };
    }
    if let Some(v) = optional_integer(object, "retentionMs", SAFE_INTEGER_MAX)? {
        config.retention_ms = (v >= 0.0).then_some(v as i64);
    }
    if let Some(v) = optional_integer(object, "retentionBytes", SAFE_INTEGER_MAX)? {
        config.retention_bytes = (v >= 0.0).then_some(v as u64);
    }
    if let Some(v) = optional_integer(object, "deleteRetentionMs", SAFE_INTEGER_MAX)? {
        config.delete_retention_ms = v.max(0.0) as i64;
    }
    let policy = field(object, "cleanupPolicy")?;
    if !policy.is_undefined() {
        config.cleanup_policy =
            CleanupPolicy::from_name(&string(&policy, "cleanupPolicy")?).map_err(to_js)?;
    }
    config.validate().map_err(to_js)?;
    Ok(config)
}

#[wasm_bindgen]
impl WasmLog {
    /// A log in memory.
    #[wasm_bindgen(js_name = openMemory)]
    pub fn open_memory(seed: f64, cache_bytes: JsValue) -> JsResult<WasmLog> {
        WasmLog::open_store(Box::new(KeyedStore::in_memory()), seed, &cache_bytes, None)
    }

    /// A log in a host-provided file system (Node: node:fs).
    #[wasm_bindgen(js_name = openHost)]
    pub fn open_host(host: HostStorage, seed: f64, cache_bytes: JsValue) -> JsResult<WasmLog> {
        let store = FileStore::new(Box::new(JsHostStorage::new(host)));
        WasmLog::open_store(Box::new(store), seed, &cache_bytes, None)
    }

    /// A log in an IndexedDB database read by `loadIndexedDb`. Not ready until `finishOpen`
    /// says so (it may need `loadPending` first).
    #[wasm_bindgen(js_name = openIndexedDb)]
    pub fn open_indexed_db(
        store: IndexedDbStore,
        seed: f64,
        cache_bytes: JsValue,
    ) -> JsResult<WasmLog> {
        let (database, keyed) = store.into_store();
        WasmLog::open_store(
            Box::new(keyed.clone()),
            seed,
            &cache_bytes,
            Some((database, keyed)),
        )
    }

    fn open_store(
        store: Box<dyn crate::store::Store>,
        seed: f64,
        cache_bytes: &JsValue,
        indexed_db: Option<(web_sys::IdbDatabase, KeyedStore)>,
    ) -> JsResult<WasmLog> {
        let mut options = LogOptions::new(Box::new(JsClock), seed_from(seed));
        if !cache_bytes.is_undefined() {
            options.cache_bytes = integer(
                cache_bytes,
                "cacheBytes",
                0.0,
                CACHE_BYTES_MAX as f64,
                ErrorKind::InvalidArgument,
            )? as u64;
        }
        let mut log = Log::open_started(store, options).map_err(to_js)?;
        if indexed_db.is_none() {
            // A synchronous store reads at once.
            log.finish_open().map_err(to_js)?;
        }
        Ok(WasmLog { log, indexed_db })
    }

    /// Continues an open (reading the committed offsets): true once open; false when it needs
    /// `loadPending` first.
    #[wasm_bindgen(js_name = finishOpen)]
    pub fn finish_open(&mut self) -> JsResult<bool> {
        Ok(self.log.finish_open().map_err(to_js)? == Step::Ready(()))
    }

    /// Whether a read is waiting for batches the store must load (an IndexedDB log).
    #[wasm_bindgen(js_name = hasPendingLoads)]
    pub fn has_pending_loads(&self) -> bool {
        self.indexed_db
            .as_ref()
            .is_some_and(|(_, store)| store.has_loads())
    }

    /// Reads from IndexedDB what waiting reads need; resolves once the store has it (then read
    /// again). The read runs in its own transactions and holds no borrow of this log.
    #[wasm_bindgen(js_name = loadPending)]
    pub fn load_pending(&self) -> Promise {
        let Some((database, store)) = self.indexed_db.clone() else {
            return Promise::resolve(&JsValue::UNDEFINED);
        };
        let loads = store.take_loads();
        wasm_bindgen_futures::future_to_promise(async move {
            if loads.is_empty() {
                return Ok(JsValue::UNDEFINED);
            }
            let runs = idb::fetch(&database, &loads).await?;
            for (load, (run, reached_end)) in loads.iter().zip(runs) {
                store.supply(load, run, reached_end);
            }
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Makes everything sent so far durable. Files and memory: done when it returns
    /// (undefined). IndexedDB: a promise of the flush's one transaction, after which the
    /// caller reports `flushCompleted(ok)`; null when a flush is in flight already.
    pub fn persist(&mut self, strict: bool) -> JsResult<JsValue> {
        match self.log.flush(strict).map_err(to_js)? {
            FlushStatus::Done => Ok(JsValue::UNDEFINED),
            FlushStatus::Busy => Ok(JsValue::NULL),
            FlushStatus::Started => {
                let Some((database, store)) = &self.indexed_db else {
                    return Err(js_error(
                        ErrorKind::Io,
                        "a flush started without a database to write",
                    ));
                };
                match store.take_flush() {
                    Some(changes) => match idb::write(database, &changes, strict) {
                        Ok(promise) => Ok(promise.into()),
                        Err(error) => {
                            // Refused before it began (a closed database): the flush failed.
                            self.log.flush_completed(false);
                            Err(error)
                        }
                    },
                    None => {
                        // Nothing reached the journal after all: complete at once.
                        store.flush_done();
                        self.log.flush_completed(true);
                        Ok(JsValue::UNDEFINED)
                    }
                }
            }
        }
    }

    /// The IndexedDB transaction of `persist` committed (`ok`) or failed. After a failure the
    /// caller reloads the database (`replaceStore`): this log is ahead of it.
    #[wasm_bindgen(js_name = flushCompleted)]
    pub fn flush_completed(&mut self, ok: bool) {
        if ok {
            if let Some((_, store)) = &self.indexed_db {
                store.flush_done();
            }
        }
        self.log.flush_completed(ok);
    }

    /// After a failed IndexedDB flush this log is ahead of the database: swap in a fresh read
    /// of it (what is durable), keeping consumers and their groups; then `finishOpen`.
    #[wasm_bindgen(js_name = replaceStore)]
    pub fn replace_store(&mut self, store: IndexedDbStore) -> JsResult<()> {
        let (database, keyed) = store.into_store();
        self.log
            .replace_store(Box::new(keyed.clone()))
            .map_err(to_js)?;
        if let Some((old, _)) = self.indexed_db.replace((database, keyed)) {
            old.close();
        }
        Ok(())
    }

    /// What opening found: per partition what recovery cut, what is damaged, what it left
    /// alone; and commits clamped to their partition's end.
    pub fn recovery(&self) -> JsResult<JsValue> {
        let report = self.log.recovery_report();
        let view = RecoveryView {
            partitions: report
                .partitions
                .iter()
                .map(|(key, r)| PartitionRecoveryView {
                    topic: key.topic.clone(),
                    partition: key.partition,
                    truncated_bytes: r.truncated_bytes as f64,
                    truncated_at: r.truncated_at.map(|o| o as f64),
                    damaged: r
                        .damaged
                        .iter()
                        .map(|d| DamagedView {
                            from: d.from as f64,
                            to: d.to as f64,
                            reason: d.reason.clone(),
                        })
                        .collect(),
                    ignored: r.ignored.clone(),
                })
                .collect(),
            clamped_commits: report
                .clamped_commits
                .iter()
                .map(|c| ClampedView {
                    group_id: c.group.clone(),
                    topic: c.topic.clone(),
                    partition: c.partition,
                    committed: c.committed as f64,
                    end: c.end as f64,
                })
                .collect(),
            commits_damaged: report.commits_damaged.clone(),
            clean: report.is_clean(),
        };
        to_value(&view)
    }

    /// `createTopic({ topic, partitions, maxMessageBytes, segmentBytes, retentionMs,
    /// retentionBytes, cleanupPolicy, deleteRetentionMs })`.
    #[wasm_bindgen(js_name = createTopic)]
    pub fn create_topic(&mut self, request: JsValue) -> JsResult<()> {
        const KNOWN: &[&str] = &[
            "topic",
            "partitions",
            "numPartitions",
            "maxMessageBytes",
            "segmentBytes",
            "retentionMs",
            "retentionBytes",
            "cleanupPolicy",
            "deleteRetentionMs",
        ];
        if request.is_undefined() {
            return Err(js_error(
                ErrorKind::InvalidArgument,
                "createTopic needs { topic, partitions }",
            ));
        }
        let request = options(&request, "createTopic", KNOWN)?;
        let topic = string(&field(&request, "topic")?, "topic")?;
        // KafkaJS spells it numPartitions; either works, partitions defaults to 1 as in Kafka.
        let mut partitions = field(&request, "partitions")?;
        if partitions.is_undefined() {
            partitions = field(&request, "numPartitions")?;
        }
        let partitions = if partitions.is_undefined() {
            1
        } else {
            integer(
                &partitions,
                "partitions",
                1.0,
                PARTITIONS_MAX as f64,
                ErrorKind::InvalidPartitions,
            )? as u32
        };
        let config = topic_config(&request)?;
        self.log
            .create_topic(&topic, partitions, config)
            .map_err(to_js)
    }

    #[wasm_bindgen(js_name = createPartitions)]
    pub fn create_partitions(&mut self, topic: JsValue, count: JsValue) -> JsResult<()> {
        let topic = string(&topic, "topic")?;
        let count = integer(
            &count,
            "count",
            1.0,
            PARTITIONS_MAX as f64,
            ErrorKind::InvalidPartitions,
        )?;
        self.log
            .create_partitions(&topic, count as u32)
            .map_err(to_js)
    }

    pub fn topics(&self, include_internal: bool) -> JsResult<JsValue> {
        self.log.check_open().map_err(to_js)?;
        let views: Vec<TopicView> = self
            .log
            .topics(include_internal)
            .into_iter()
            .map(|t| TopicView {
                topic: t.name,
                partitions: t.partitions,
                max_message_bytes: t.config.max_message_bytes,
                segment_bytes: t.config.segment_bytes as f64,
                retention_ms: t.config.retention_ms.map(|v| v as f64),
                retention_bytes: t.config.retention_bytes.map(|v| v as f64),
                cleanup_policy: t.config.cleanup_policy.name(),
                internal: t.internal,
            })
            .collect();
        to_value(&views)
    }

    pub fn offsets(&self, topic: JsValue) -> JsResult<JsValue> {
        let topic = string(&topic, "topic")?;
        let offsets = self.log.offsets(&topic).map_err(to_js)?;
        let views: Vec<OffsetsView> = offsets
            .iter()
            .map(|o| OffsetsView {
                partition: o.partition,
                low: o.low as f64,
                high: o.high as f64,
                durable: o.durable as f64,
            })
            .collect();
        to_value(&views)
    }

    /// A producer; `partitioner` is "default", "roundRobin" or "random".
    pub fn producer(&mut self, partitioner: JsValue) -> JsResult<WasmProducer> {
        self.log.check_open().map_err(to_js)?;
        let kind = if partitioner.is_undefined() {
            PartitionerKind::Default
        } else {
            PartitionerKind::from_name(&string(&partitioner, "partitioner")?).map_err(to_js)?
        };
        Ok(WasmProducer {
            producer: self.log.producer(kind),
        })
    }

    /// Appends `count` packed messages (see `wire`) to `topic`; returns [partition, offset]
    /// pairs, one per message, in order. Durable after `flush`.
    pub fn send(
        &mut self,
        producer: &mut WasmProducer,
        topic: JsValue,
        count: u32,
        packed: &[u8],
    ) -> JsResult<Vec<f64>> {
        let topic = string(&topic, "topic")?;
        let mut headers = Vec::new();
        let messages = decode_send(packed, count, &mut headers).map_err(to_js)?;
        let placements = self
            .log
            .send(&mut producer.producer, &topic, &messages)
            .map_err(to_js)?;
        let mut out = Vec::with_capacity(placements.len() * 2);
        for placement in placements {
            out.push(placement.partition as f64);
            out.push(placement.offset as f64);
        }
        Ok(out)
    }

    /// Whether a `persist` of IndexedDB is waiting for its transaction.
    #[wasm_bindgen(js_name = isFlushInFlight)]
    pub fn is_flush_in_flight(&self) -> bool {
        self.log.is_flush_in_flight()
    }

    /// Runs retention and compaction; the segments deleted or rewritten, or undefined when
    /// compaction waits for `loadPending` (call again after it).
    pub fn maintain(&mut self) -> JsResult<Option<u32>> {
        match self.log.maintain().map_err(to_js)? {
            Step::Ready(changed) => Ok(Some(changed)),
            Step::Pending => Ok(None),
        }
    }

    pub fn close(&mut self) -> JsResult<()> {
        let closed = self.log.close().map_err(to_js);
        if let Some((database, _)) = &self.indexed_db {
            database.close();
        }
        closed
    }

    /// Joins a group: `{ groupId, autoCommit = true, commitProcessed = false, assignor =
    /// "cooperativeSticky", fromBeginning = false }` and the topics to subscribe to.
    #[wasm_bindgen(js_name = joinGroup)]
    pub fn join_group(&mut self, request: JsValue, topics: JsValue) -> JsResult<f64> {
        const KNOWN: &[&str] = &[
            "groupId",
            "autoCommit",
            "commitProcessed",
            "assignor",
            "fromBeginning",
        ];
        let request = options(&request, "consumer options", KNOWN)?;
        let group_id = string(&field(&request, "groupId")?, "groupId")?;
        let auto_commit = boolean(&field(&request, "autoCommit")?, "autoCommit", true)?;
        let commit_processed = boolean(
            &field(&request, "commitProcessed")?,
            "commitProcessed",
            false,
        )?;
        let assignor = match field(&request, "assignor")? {
            value if value.is_undefined() => Assignor::CooperativeSticky,
            value => {
                let name = string(&value, "assignor")?;
                Assignor::from_name(&name).ok_or_else(|| {
                    js_error(
                        ErrorKind::InvalidArgument,
                        format!("unknown assignor {name:?}; use \"range\", \"roundRobin\" or \"cooperativeSticky\""),
                    )
                })?
            }
        };
        let from_beginning = boolean(&field(&request, "fromBeginning")?, "fromBeginning", false)?;
        let topics = strings(&topics, "topics")?;
        let topics: Vec<&str> = topics.iter().map(String::as_str).collect();
        let options = ConsumerOptions {
            group_id,
            auto_commit,
            commit_processed,
            assignor,
            offset_reset: if from_beginning {
                OffsetReset::Earliest
            } else {
                OffsetReset::Latest
            },
        };
        self.log
            .join_group(options, &topics)
            .map(|m| m as f64)
            .map_err(to_js)
    }

    pub fn subscribe(&mut self, member: f64, topics: JsValue) -> JsResult<()> {
        let topics = strings(&topics, "topics")?;
        let topics: Vec<&str> = topics.iter().map(String::as_str).collect();
        self.log
            .subscribe(member_id(member)?, &topics)
            .map_err(to_js)
    }

    #[wasm_bindgen(js_name = leaveGroup)]
    pub fn leave_group(&mut self, member: f64) -> JsResult<()> {
        self.log.leave_group(member_id(member)?).map_err(to_js)
    }

    /// Up to `max_records` records as a packed buffer (see `wire`); with auto commit they are
    /// committed as they are returned (pull style).
    pub fn poll(
        &mut self,
        member: f64,
        max_records: JsValue,
        max_bytes: JsValue,
    ) -> JsResult<Vec<u8>> {
        self.read_member(member, max_records, max_bytes, false)
    }

    /// Records under a lease, for a delivery loop: the buffer starts with the lease id (see
    /// `wire`); hand chunks over with `startChunk`, give back the rest with `releaseLease`.
    #[wasm_bindgen(js_name = fetchLease)]
    pub fn fetch_lease(
        &mut self,
        member: f64,
        max_records: JsValue,
        max_bytes: JsValue,
    ) -> JsResult<Vec<u8>> {
        self.read_member(member, max_records, max_bytes, true)
    }

    /// Before handing chunk `index` of `lease` over (its first offset − 1, or the last one
    /// handed, written to the hand-over table): 0 skip it, 1 deliver, 2 deliver once the next
    /// flush is durable (its auto commit).
    #[wasm_bindgen(js_name = startChunk)]
    pub fn start_chunk(&mut self, member: f64, lease: f64, index: u32) -> JsResult<u8> {
        let start = self
            .log
            .start_chunk(member_id(member)?, lease as u64, index as usize)
            .map_err(to_js)?;
        Ok(match start {
            ChunkStart::Skip => 0,
            ChunkStart::Deliver => 1,
            ChunkStart::DeliverWhenDurable => 2,
        })
    }

    /// Commits what the hand-over table says was handled (consumers with commitProcessed).
    #[wasm_bindgen(js_name = commitHanded)]
    pub fn commit_handed(&mut self, member: f64) -> JsResult<bool> {
        self.log.commit_handed(member_id(member)?).map_err(to_js)
    }

    /// Gives back what `lease` did not hand over.
    #[wasm_bindgen(js_name = releaseLease)]
    pub fn release_lease(&mut self, member: f64, lease: f64) -> JsResult<()> {
        self.log
            .release_lease(member_id(member)?, lease as u64)
            .map_err(to_js)
    }

    /// Gives back what `lease` did not hand over, for a loop in another tab that claimed its
    /// chunks whole: it got to `offset` of chunk `index`.
    #[wasm_bindgen(js_name = releaseLeaseAt)]
    pub fn release_lease_at(
        &mut self,
        member: f64,
        lease: f64,
        index: u32,
        offset: f64,
    ) -> JsResult<()> {
        let offset = integer(
            &JsValue::from_f64(offset),
            "offset",
            -1.0,
            SAFE_INTEGER_MAX,
            ErrorKind::InvalidArgument,
        )?;
        self.log
            .release_lease_at(member_id(member)?, lease as u64, index, offset as i64)
            .map_err(to_js)
    }

    /// Where the delivery tables sit in wasm memory, [epochs (u32 per slot), hand-over (two
    /// f64 per slot), slots]; empty before the first join.
    #[wasm_bindgen(js_name = deliveryTables)]
    pub fn delivery_tables(&mut self) -> Vec<u32> {
        let (epochs, handed) = self.log.delivery_tables();
        if epochs.is_empty() {
            return Vec::new();
        }
        vec![
            epochs.as_ptr() as u32,
            handed.as_ptr() as u32,
            epochs.len() as u32,
        ]
    }

    /// A member's slot in the delivery tables.
    #[wasm_bindgen(js_name = memberSlot)]
    pub fn member_slot(&self, member: f64) -> JsResult<u32> {
        self.log
            .member_slot(member_id(member)?)
            .map(|s| s as u32)
            .map_err(to_js)
    }

    /// Of the waiting members, those that have records to fetch now.
    #[wasm_bindgen(js_name = readyMembers)]
    pub fn ready_members(&mut self, waiting: Vec<f64>) -> Vec<f64> {
        let ids: Vec<MemberId> = waiting.iter().filter_map(|&m| member_id(m).ok()).collect();
        self.log
            .ready_members(&ids)
            .into_iter()
            .map(|m| m as f64)
            .collect()
    }

    fn read_member(
        &mut self,
        member: f64,
        max_records: JsValue,
        max_bytes: JsValue,
        leased: bool,
    ) -> JsResult<Vec<u8>> {
        let member = member_id(member)?;
        let (records_max, bytes_max) = fetch_limits(&max_records, &max_bytes)?;
        let mut writer = if leased {
            PollWriter::leased()
        } else {
            PollWriter::new()
        };
        // High watermarks are read before the read borrows the log: they are what the batch
        // reports (eachBatch's highWatermark), and records cannot be added during the read.
        let mut highs: Vec<((String, u32), i64)> = Vec::new();
        for (topic, partition) in self.log.assignment(member).map_err(to_js)? {
            let high = self.log.watermarks(&topic, partition).map_err(to_js)?.1;
            highs.push(((topic, partition), high));
        }
        let mut current: Option<usize> = None;
        let mut visit = |topic: &str,
                         partition: u32,
                         record: &crate::record_batch::RecordRef<'_>| {
            let same = |index: usize| highs[index].0 .0 == topic && highs[index].0 .1 == partition;
            if !current.is_some_and(same) {
                current = highs
                    .iter()
                    .position(|h| h.0 .0 == topic && h.0 .1 == partition);
            }
            let high = current.map_or(0, |index| highs[index].1);
            writer.record(topic, partition, high, record)
        };
        // A partition whose batches IndexedDB must load first is skipped; the caller sees
        // `hasPendingLoads`, awaits `loadPending` and reads again.
        if leased {
            let grant = self
                .log
                .fetch_lease(member, records_max, bytes_max, &mut visit)
                .map_err(to_js)?;
            writer.set_lease(grant.lease);
        } else {
            self.log
                .poll(member, records_max, bytes_max, &mut visit)
                .map_err(to_js)?;
        }
        Ok(writer.finish())
    }

    /// Checks a consumer's `maxRecords` and `maxBytes` when it is created, as every poll will.
    #[wasm_bindgen(js_name = checkFetchLimits)]
    pub fn check_fetch_limits(&self, max_records: JsValue, max_bytes: JsValue) -> JsResult<()> {
        fetch_limits(&max_records, &max_bytes).map(drop)
    }

    pub fn owns(&self, member: f64, topic: &str, partition: u32) -> bool {
        member_id(member).is_ok_and(|m| self.log.owns(m, topic, partition))
    }

    /// The member's next offset in a partition, or undefined before its first read there.
    pub fn position(
        &self,
        member: f64,
        topic: JsValue,
        partition: JsValue,
    ) -> JsResult<Option<f64>> {
        let topic = string(&topic, "topic")?;
        let partition = partition_arg(&partition)?;
        self.log
            .position(member_id(member)?, &topic, partition)
            .map(|p| p.map(|p| p as f64))
            .map_err(to_js)
    }

    pub fn assignment(&self, member: f64) -> JsResult<JsValue> {
        let assignment = self.log.assignment(member_id(member)?).map_err(to_js)?;
        to_value(&partitions_view(assignment))
    }

    /// Commits `[{ topic, partition, offset }]` (offset = the next offset to read).
    pub fn commit(&mut self, member: f64, offsets: JsValue) -> JsResult<()> {
        let member = member_id(member)?;
        let list = array(&offsets, "offsets", 100_000)?;
        let items = elements(&list, "offsets")?;
        let mut entries = Vec::with_capacity(items.len());
        for item in items {
            let item = options(
                &item,
                "an offset to commit",
                &["topic", "partition", "offset", "metadata"],
            )?;
            let topic = string(&field(&item, "topic")?, "topic")?;
            let partition = partition_arg(&field(&item, "partition")?)?;
            let offset = offset_arg(&field(&item, "offset")?)?;
            entries.push((topic, partition, offset));
        }
        let borrowed: Vec<(&str, u32, i64)> = entries
            .iter()
            .map(|(t, p, o)| (t.as_str(), *p, *o))
            .collect();
        self.log.commit(member, &borrowed).map_err(to_js)
    }

    pub fn seek(
        &mut self,
        member: f64,
        topic: JsValue,
        partition: JsValue,
        offset: JsValue,
    ) -> JsResult<()> {
        let member = member_id(member)?;
        let topic = string(&topic, "topic")?;
        let partition = partition_arg(&partition)?;
        let offset = offset_arg(&offset)?;
        self.log
            .seek(member, &topic, partition, offset)
            .map_err(to_js)
    }

    /// Pauses or resumes `[{ topic, partitions? }]` (no partitions = the whole topic).
    #[wasm_bindgen(js_name = setPaused)]
    pub fn set_paused(&mut self, member: f64, topics: JsValue, paused: bool) -> JsResult<()> {
        let member = member_id(member)?;
        let list = array(&topics, "topics", 10_000)?;
        for item in elements(&list, "topics")? {
            let item = options(
                &item,
                "a topic to pause or resume",
                &["topic", "partitions"],
            )?;
            let topic = string(&field(&item, "topic")?, "topic")?;
            let partitions = field(&item, "partitions")?;
            let partitions = if partitions.is_undefined() {
                None
            } else {
                let list = array(&partitions, "partitions", PARTITIONS_MAX)?;
                Some(
                    elements(&list, "partitions")?
                        .iter()
                        .map(partition_arg)
                        .collect::<JsResult<Vec<u32>>>()?,
                )
            };
            self.log
                .set_paused(member, &topic, partitions.as_deref(), paused)
                .map_err(to_js)?;
        }
        Ok(())
    }

    pub fn paused(&self, member: f64) -> JsResult<JsValue> {
        let paused = self.log.paused(member_id(member)?).map_err(to_js)?;
        to_value(&partitions_view(paused))
    }

    pub fn committed(&self, group_id: &str, topic: &str, partition: u32) -> Option<f64> {
        self.log
            .committed(group_id, topic, partition)
            .map(|o| o as f64)
    }

    pub fn lag(&self, group_id: JsValue, topic: JsValue) -> JsResult<JsValue> {
        let group_id = string(&group_id, "groupId")?;
        let topic = string(&topic, "topic")?;
        let lag = self.log.lag(&group_id, &topic).map_err(to_js)?;
        let views: Vec<LagView> = lag
            .iter()
            .map(|l| LagView {
                partition: l.partition,
                low: l.low as f64,
                high: l.high as f64,
                committed: l.committed.map(|c| c as f64),
                lag: l.lag as f64,
            })
            .collect();
        to_value(&views)
    }

    #[wasm_bindgen(js_name = describeGroup)]
    pub fn describe_group(&self, group_id: JsValue) -> JsResult<JsValue> {
        let group_id = string(&group_id, "groupId")?;
        match self.log.describe_group(&group_id) {
            None => Ok(JsValue::UNDEFINED),
            Some(group) => to_value(&GroupView {
                group_id: group.group_id,
                generation: group.generation,
                assignor: group.assignor.name(),
                members: group
                    .members
                    .into_iter()
                    .map(|m| MemberView {
                        member_id: m.member as f64,
                        name: m.name,
                        topics: m.topics,
                        assignment: partitions_view(m.assignment),
                    })
                    .collect(),
            }),
        }
    }

    pub fn groups(&self) -> Vec<String> {
        self.log.groups()
    }
}

/// The wasm memory, for views of the delivery tables.
#[wasm_bindgen(js_name = wasmMemory)]
pub fn wasm_memory() -> JsValue {
    wasm_bindgen::memory()
}

/// Errors thrown by the bindings carry `code`; exported for the bindings' own tests.
#[wasm_bindgen(js_name = errorCode)]
pub fn error_code(error: &JsValue) -> Option<String> {
    Reflect::get(error, &JsValue::from_str("code"))
        .ok()
        .and_then(|c| c.as_string())
}
