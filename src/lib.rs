//! brook: an embedded, Kafka-style partitioned event log.
//!
//! A [`Log`] holds **topics**; a topic is split into **partitions**; a partition is an
//! append-only sequence of **records**, each with the next **offset** (0, 1, 2, … never
//! reused). Order holds within a partition, not across partitions. A producer places each
//! message: on an explicit partition, by key (Kafka's murmur2 partitioner, bit-compatible with
//! the Java client, so a key lands on the same partition number as in a real cluster), or
//! spread when there is no key.
//!
//! Records are stored as Kafka **RecordBatch v2**: the sends to a partition before the next
//! flush share one batch. A [`Store`] keeps the batches: a [`FileStore`] of segment files
//! named by their base offset with a sparse `.index` beside each (std::fs natively, node:fs
//! through a host object in Node), or a [`KeyedStore`] of one value per batch (IndexedDB in
//! browsers, or memory). Memory holds an index of the batches and a bounded cache of recently
//! read ones, not the log. A partition's **durable watermark** is the end of what a flush made
//! durable: readers are served records up to it, and commits count once durable. On open only
//! a torn tail is cut; damage elsewhere is reported ([`RecoveryReport`]) and skipped, and the
//! batches after it are kept.
//!
//! The core is plain Rust with no I/O of its own beyond the `Store` and [`Files`] traits, and
//! no clock or entropy of its own beyond [`LogOptions`], so it runs unchanged on
//! wasm32-unknown-unknown and is tested natively. Every error carries a stable code
//! ([`ErrorKind::code`]).
//!
//! ```
//! use brook::{KeyedStore, Log, LogOptions, ManualClock, Message, PartitionerKind, RecordInput, TopicConfig};
//!
//! let options = LogOptions::new(Box::new(ManualClock::new(1_700_000_000_000)), 7);
//! let mut log = Log::open(Box::new(KeyedStore::in_memory()), options).unwrap();
//! log.create_topic("inventory", 3, TopicConfig::default()).unwrap();
//! let mut producer = log.producer(PartitionerKind::Default);
//! let message = Message {
//!     record: RecordInput { key: Some(b"abc-123"), value: Some(b"{\"stock\":2}"), ..Default::default() },
//!     partition: None,
//! };
//! let placed = log.send(&mut producer, "inventory", &[message]).unwrap();
//! assert_eq!((placed[0].partition, placed[0].offset), (1, 0)); // as Kafka would place it
//! log.flush(true).unwrap(); // durable, so readers see it
//! let records = log.read_records("inventory", 1, 0, 10).unwrap();
//! assert_eq!(records[0].value.as_deref(), Some(&b"{\"stock\":2}"[..]));
//! ```

mod assignor;
#[cfg(target_arch = "wasm32")]
pub mod bindings;
mod cache;
mod consumer_offsets;
mod crc32c;
mod error;
mod fast_hash;
mod file_store;
mod files;
mod framed;
mod group;
mod keyed_store;
mod log;
mod manifest;
mod partition;
mod partitioner;
mod record_batch;
mod sorted_map;
mod store;
mod topic;
mod varint;
pub mod wire;

pub use crate::assignor::{assign, Assignor, MemberSubscription, TopicPartition};
pub use crate::cache::CACHE_BYTES_DEFAULT;
pub use crate::consumer_offsets::Failure;
pub use crate::crc32c::{crc32c, crc32c_update};
pub use crate::error::{Error, ErrorKind, Result};
pub use crate::file_store::{
    parse_segment_file_name, segment_file_name, FileStore, INDEX_INTERVAL_BYTES,
};
#[cfg(not(target_arch = "wasm32"))]
pub use crate::files::FsFiles;
pub use crate::files::{Files, MemoryFiles};
pub use crate::group::{
    check_fetch_limits, ChunkStart, ConsumerOptions, FailureNote, FetchOutcome, FetchedFrom,
    GroupDescription, LeaseGrant, MemberDescription, MemberId, OffsetReset, PartitionLag,
    FETCH_BYTES_MAX, FETCH_RECORDS_MAX, MEMBERS_MAX,
};
pub use crate::keyed_store::{
    check_stored_batch, decode_summary, encode_summary, stored_next_offset, summarize_segment,
    BatchKey, Change, KeyedImage, KeyedStore, Load, LoadBudget, LOAD_BATCHES_MAX, LOAD_BYTES_MAX,
};
#[cfg(not(target_arch = "wasm32"))]
pub use crate::log::SystemClock;
pub use crate::log::{
    ClampedCommit, Clock, FlushStatus, Log, LogOptions, ManualClock, Message, PartitionOffsets,
    Placement, Producer, RecoveryReport, CACHE_BYTES_MAX, SEND_MESSAGES_MAX, TIMESTAMP_MAX,
};
pub use crate::partition::{CompactionReport, ReadOutcome};
pub use crate::partitioner::{murmur2, partition_for_key, to_positive, PartitionerKind};
pub use crate::record_batch::{
    encode_batch, verify_batch, BatchBuilder, BatchHeader, Batches, DecodeError, Header, Record,
    RecordBatch, RecordInput, RecordRef, RecordRun, Records, BATCH_BYTES_MAX, BATCH_HEADER_SIZE,
};
pub use crate::store::{
    BatchBytes, BatchSlot, DamagedRange, OpenedPartition, PartitionKey, PartitionRecovery,
    SegmentSummary, Step, Store,
};
pub use crate::topic::{
    CleanupPolicy, TopicConfig, TopicInfo, CONSUMER_OFFSETS_TOPIC, PARTITIONS_MAX, TOPICS_MAX,
};
