// The wasm bindings: one #[wasm_bindgen] type around the core's `Log`. Each method checks its
// JS arguments (requests, on top of interop), calls the core, and converts the result (views);
// core errors become JS errors with a `code`. Messages cross the boundary packed (see `wire`):
// one call per send and one per poll. The JS wrapper (js/brook.js) turns this into the
// KafkaJS-shaped API.

mod heap;
#[cfg(feature = "files")]
mod host_storage;
mod idb;
mod interop;
mod requests;
mod views;

use js_sys::{Promise, Reflect};
use wasm_bindgen::prelude::*;

#[cfg(feature = "files")]
use self::host_storage::{HostStorage, JsHostStorage};
use self::interop::{js_error, string, strings, to_js, to_value, JsResult};
use self::requests::{
    cache_bytes_arg, commit_offsets, consumer_options, create_topic_request, fetch_limits,
    lease_offset, member_id, partition_count, partitioner_arg, paused_entry, paused_list,
    seek_request, topic_partition,
};
use self::views::{partitions_view, GroupView, LagView, OffsetsView, RecoveryView, TopicView};
use crate::error::ErrorKind;
#[cfg(feature = "files")]
use crate::file_store::FileStore;
use crate::group::{ChunkStart, FailureNote, MemberId};
use crate::keyed_store::KeyedStore;
use crate::log::{Clock, FlushStatus, Log, LogOptions, Producer};
use crate::store::Step;
use crate::wire::{decode_send, Gathered, PollWriter};

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
    /// The topic of the last send, and its UTF-8: a producer mostly sends to one topic, and
    /// a JS string costs a call, a copy and an allocation to bring over (3% of a send of one
    /// message); comparing it with the last one costs a call.
    last_topic: Option<(JsValue, String)>,
}

#[wasm_bindgen]
#[derive(Debug)]
pub struct WasmLog {
    log: Log,
    /// The IndexedDB database and the keyed store over it, for logs opened by name.
    indexed_db: Option<(web_sys::IdbDatabase, KeyedStore)>,
    /// The last poll's or leased fetch's buffer, which JS copies out at once; it (and the
    /// batches its pieces lie in) is kept until the next read, which reuses its head.
    read: Gathered,
    /// Files: where a strict flush leaves the promise of its syncs, when the host makes them
    /// in the background.
    #[cfg(feature = "files")]
    background_sync: Option<host_storage::BackgroundSync>,
}

/// A read's head buffer of at most this capacity is kept for the next read.
const READ_HEAD_KEPT_BYTES: usize = 4 * 1024 * 1024;

/// Where a read's buffer lies in wasm memory, for JS to copy it into one buffer of its own:
/// [head address, head length, buffer length, then per piece: its place in the head, its
/// address, its length] (u32s: wasm32 addresses). JS copies it before any other call.
fn read_descriptor(read: &Gathered) -> Vec<u32> {
    // Lossless: the bindings run on wasm32, where usize is 32 bits.
    let address = |bytes: &[u8]| bytes.as_ptr() as u32;
    let mut descriptor = Vec::with_capacity(3 + 3 * read.pieces.len());
    descriptor.extend([
        address(&read.head),
        read.head.len() as u32,
        read.len() as u32,
    ]);
    for piece in &read.pieces {
        let bytes = piece.bytes();
        descriptor.extend([piece.at as u32, address(bytes), bytes.len() as u32]);
    }
    descriptor
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

#[wasm_bindgen]
impl IndexedDbStore {
    /// Whether the database held nothing of a log (no manifest, no segment): a log opened for
    /// the first time — or one whose data the browser evicted.
    #[wasm_bindgen(getter, js_name = isEmpty)]
    pub fn is_empty(&self) -> bool {
        self.opened.image.manifest.is_none() && self.opened.image.segments.is_empty()
    }

    /// Closes the database without opening a log over it (the open was refused).
    pub fn close(self) {
        self.database.close();
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

impl WasmLog {
    /// The last read's buffer put together (for tests in Rust; JS copies it out itself).
    #[doc(hidden)]
    pub fn read_bytes(&self) -> Vec<u8> {
        self.read.assemble()
    }
}

#[wasm_bindgen]
impl WasmLog {
    /// A log in memory.
    #[wasm_bindgen(js_name = openMemory)]
    pub fn open_memory(seed: f64, cache_bytes: JsValue) -> JsResult<WasmLog> {
        WasmLog::open_store(Box::new(KeyedStore::in_memory()), seed, &cache_bytes, None)
    }

    /// A log in a host-provided file system (Node: node:fs).
    /// Not in the browser build (`--no-default-features`): browsers keep logs in IndexedDB.
    #[cfg(feature = "files")]
    #[wasm_bindgen(js_name = openHost)]
    pub fn open_host(host: HostStorage, seed: f64, cache_bytes: JsValue) -> JsResult<WasmLog> {
        let (host, background) = JsHostStorage::new(host);
        let store = FileStore::new(Box::new(host));
        let mut log = WasmLog::open_store(Box::new(store), seed, &cache_bytes, None)?;
        log.background_sync = background;
        Ok(log)
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
        if let Some(bytes) = cache_bytes_arg(cache_bytes)? {
            options.cache_bytes = bytes;
        }
        let mut log = Log::open_started(store, options).map_err(to_js)?;
        if indexed_db.is_none() {
            // A synchronous store reads at once.
            log.finish_open().map_err(to_js)?;
        }
        Ok(WasmLog {
            log,
            indexed_db,
            read: Gathered::default(),
            #[cfg(feature = "files")]
            background_sync: None,
        })
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
            let runs = match idb::fetch(&database, &loads).await {
                Ok(runs) => runs,
                Err(error) => {
                    store.loads_failed(&loads);
                    return Err(error);
                }
            };
            for (load, (run, reached_end)) in loads.iter().zip(runs) {
                store.supply(load, run, reached_end);
            }
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Makes everything sent so far durable. Memory, and files whose host syncs in place:
    /// done when it returns (undefined). IndexedDB: a promise of the flush's one transaction;
    /// strict files whose host syncs in the background: a promise of the syncs. After either
    /// the caller reports `flushCompleted(ok)` (a transaction refused before it began rejects
    /// too); null when a flush is in flight already.
    pub fn persist(&mut self, strict: bool) -> JsResult<JsValue> {
        match self.log.flush(strict).map_err(to_js)? {
            FlushStatus::Done => Ok(JsValue::UNDEFINED),
            FlushStatus::Busy => Ok(JsValue::NULL),
            FlushStatus::Started => {
                #[cfg(feature = "files")]
                if let Some(promise) = self.background_sync.as_ref().and_then(|b| b.take()) {
                    return Ok(promise.into());
                }
                let Some((database, store)) = &self.indexed_db else {
                    return Err(js_error(
                        ErrorKind::Io,
                        "a flush started without a database to write",
                    ));
                };
                match store.take_flush() {
                    // The transaction is made at the promise's first poll, after this call
                    // has let go of the log: Firefox ran another tab's request to this
                    // owner during these IndexedDB calls, and its calls of this log must
                    // not find it borrowed. (Inside the core's own calls, OpenLog.busy and
                    // share.js make such requests wait.) The promise is polled before
                    // anything spawned later, so reads still come after this write.
                    Some(changes) => {
                        let database = database.clone();
                        Ok(wasm_bindgen_futures::future_to_promise(async move {
                            idb::write(&database, &changes, strict).await
                        })
                        .into())
                    }
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
        to_value(&RecoveryView::from(self.log.recovery_report()))
    }

    /// `createTopic({ topic, partitions, maxMessageBytes, segmentBytes, retentionMs,
    /// retentionBytes, cleanupPolicy, deleteRetentionMs })`.
    #[wasm_bindgen(js_name = createTopic)]
    pub fn create_topic(&mut self, request: JsValue) -> JsResult<()> {
        let (topic, partitions, config) = create_topic_request(&request)?;
        self.log
            .create_topic(&topic, partitions, config)
            .map_err(to_js)
    }

    #[wasm_bindgen(js_name = createPartitions)]
    pub fn create_partitions(&mut self, topic: JsValue, count: JsValue) -> JsResult<()> {
        let topic = string(&topic, "topic")?;
        let count = partition_count(&count, "count")?;
        self.log.create_partitions(&topic, count).map_err(to_js)
    }

    /// False: its groups' commits were deleted first; flush, then call again.
    #[wasm_bindgen(js_name = deleteTopic)]
    pub fn delete_topic(&mut self, topic: JsValue) -> JsResult<bool> {
        let topic = string(&topic, "topic")?;
        self.log.delete_topic(&topic).map_err(to_js)
    }

    pub fn topics(&self, include_internal: bool) -> JsResult<JsValue> {
        self.log.check_open().map_err(to_js)?;
        let topics = self.log.topics(include_internal);
        to_value(&topics.into_iter().map(TopicView::from).collect::<Vec<_>>())
    }

    pub fn offsets(&self, topic: JsValue) -> JsResult<JsValue> {
        let topic = string(&topic, "topic")?;
        let offsets = self.log.offsets(&topic).map_err(to_js)?;
        to_value(&offsets.iter().map(OffsetsView::from).collect::<Vec<_>>())
    }

    /// A producer; `partitioner` is "default", "roundRobin" or "random".
    pub fn producer(&mut self, partitioner: JsValue) -> JsResult<WasmProducer> {
        self.log.check_open().map_err(to_js)?;
        let kind = partitioner_arg(&partitioner)?;
        Ok(WasmProducer {
            producer: self.log.producer(kind),
            last_topic: None,
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
        let name = match producer.last_topic.take() {
            Some((last, name)) if last == topic => name,
            _ => string(&topic, "topic")?,
        };
        let mut headers = Vec::new();
        let placements = decode_send(packed, count, &mut headers)
            .and_then(|messages| self.log.send(&mut producer.producer, &name, &messages));
        producer.last_topic = Some((topic, name));
        let placements = placements.map_err(to_js)?;
        let mut out = Vec::with_capacity(placements.len() * 2);
        for placement in placements {
            out.push(placement.partition as f64);
            out.push(placement.offset as f64);
        }
        Ok(out)
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
        let options = consumer_options(&request)?;
        let topics = strings(&topics, "topics")?;
        let topics: Vec<&str> = topics.iter().map(String::as_str).collect();
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

    /// Up to `max_records` records as a packed buffer (see `wire`), described as `readBuffer`
    /// says; with auto commit they are committed as they are returned (pull style).
    pub fn poll(
        &mut self,
        member: f64,
        max_records: JsValue,
        max_bytes: JsValue,
    ) -> JsResult<Vec<u32>> {
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
    ) -> JsResult<Vec<u32>> {
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
        let offset = lease_offset(offset)?;
        self.log
            .release_lease_at(member_id(member)?, lease as u64, index, offset)
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
    ) -> JsResult<Vec<u32>> {
        let member = member_id(member)?;
        let (records_max, bytes_max) = fetch_limits(&max_records, &max_bytes)?;
        // JS copied the last read's buffer out as soon as it got it: let go of the batches
        // its pieces kept, and keep its head's allocation, unless one read made it large.
        self.read.pieces.clear();
        let mut head = std::mem::take(&mut self.read.head);
        if head.capacity() > READ_HEAD_KEPT_BYTES {
            head = Vec::new();
        }
        let mut writer = PollWriter::reusing(head, leased);
        // Each run comes with its partition's durable end (eachBatch's highWatermark) and
        // the failures of its record that failed last, looked up by the core only for the
        // partitions that have records: a member may own 10,000.
        let mut visit = |from: &crate::group::FetchedFrom<'_>,
                         run: &crate::record_batch::RecordRun<'_>| {
            writer.run(
                from.topic,
                from.partition,
                from.high,
                from.failure.as_ref(),
                run,
            )
        };
        // A partition whose batches IndexedDB must load first is skipped; the caller sees
        // `hasPendingLoads`, awaits `loadPending` and reads again.
        if leased {
            let grant = self
                .log
                .fetch_lease_from(member, records_max, bytes_max, &mut visit)
                .map_err(to_js)?;
            writer.set_lease(grant.lease);
        } else {
            self.log
                .poll_from(member, records_max, bytes_max, &mut visit)
                .map_err(to_js)?;
        }
        self.read = writer.finish_gathered();
        Ok(read_descriptor(&self.read))
    }

    /// Checks a consumer's `maxRecords` and `maxBytes` when it is created, as every poll will.
    #[wasm_bindgen(js_name = checkFetchLimits)]
    pub fn check_fetch_limits(&self, max_records: JsValue, max_bytes: JsValue) -> JsResult<()> {
        fetch_limits(&max_records, &max_bytes).map(drop)
    }

    /// Checks a topic name (Kafka's rule) before it is first used, e.g. a dead-letter topic.
    #[wasm_bindgen(js_name = checkTopicName)]
    pub fn check_topic_name(&self, name: &str) -> JsResult<()> {
        crate::topic::validate_topic_name(name).map_err(to_js)
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
        let (topic, partition) = topic_partition(&topic, &partition)?;
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
        let entries = commit_offsets(&offsets)?;
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
        let (topic, partition, offset) = seek_request(&topic, &partition, &offset)?;
        self.log
            .seek(member, &topic, partition, offset)
            .map_err(to_js)
    }

    /// Notes what became of a delivered record a handler failed on — `note` 0: failed, 1:
    /// failed and to be delivered again, 2: written to the dead-letter topic (durably) — and
    /// returns how many times handlers failed on it (durable with the next flush).
    #[wasm_bindgen(js_name = noteFailure)]
    pub fn note_failure(
        &mut self,
        member: f64,
        topic: JsValue,
        partition: JsValue,
        offset: JsValue,
        note: u32,
    ) -> JsResult<u32> {
        let member = member_id(member)?;
        let (topic, partition, offset) = seek_request(&topic, &partition, &offset)?;
        let note = match note {
            0 => FailureNote::Failed,
            1 => FailureNote::Retry,
            2 => FailureNote::DeadLettered,
            _ => {
                return Err(to_js(crate::Error::invalid_argument(
                    "unknown failure note",
                )))
            }
        };
        self.log
            .note_failure(member, &topic, partition, offset, note)
            .map_err(to_js)
    }

    /// Pauses or resumes `[{ topic, partitions? }]` (no partitions = the whole topic).
    #[wasm_bindgen(js_name = setPaused)]
    pub fn set_paused(&mut self, member: f64, topics: JsValue, paused: bool) -> JsResult<()> {
        let member = member_id(member)?;
        for item in paused_list(&topics)? {
            let (topic, partitions) = paused_entry(&item)?;
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
        to_value(&lag.iter().map(LagView::from).collect::<Vec<_>>())
    }

    #[wasm_bindgen(js_name = describeGroup)]
    pub fn describe_group(&self, group_id: JsValue) -> JsResult<JsValue> {
        let group_id = string(&group_id, "groupId")?;
        match self.log.describe_group(&group_id) {
            None => Ok(JsValue::UNDEFINED),
            Some(group) => to_value(&GroupView::from(group)),
        }
    }

    pub fn groups(&self) -> Vec<String> {
        self.log.groups()
    }

    /// Groups with live members or committed offsets.
    #[wasm_bindgen(js_name = knownGroups)]
    pub fn known_groups(&self) -> Vec<String> {
        self.log.known_groups()
    }

    /// Sets `[{ topic, partition, offset }]` as the commits of a group without live members.
    #[wasm_bindgen(js_name = setGroupOffsets)]
    pub fn set_group_offsets(&mut self, group_id: JsValue, offsets: JsValue) -> JsResult<()> {
        let group_id = string(&group_id, "groupId")?;
        let entries = commit_offsets(&offsets)?;
        let borrowed: Vec<(&str, u32, i64)> = entries
            .iter()
            .map(|(t, p, o)| (t.as_str(), *p, *o))
            .collect();
        self.log
            .set_group_offsets(&group_id, &borrowed)
            .map_err(to_js)
    }

    #[wasm_bindgen(js_name = deleteGroup)]
    pub fn delete_group(&mut self, group_id: JsValue) -> JsResult<()> {
        let group_id = string(&group_id, "groupId")?;
        self.log.delete_group(&group_id).map_err(to_js)
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
