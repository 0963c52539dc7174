//! brook: an embedded, Kafka-style partitioned event log.
//!
//! A [`Log`] holds **topics**; a topic is split into **partitions**; a partition is an
//! append-only sequence of **records**, each with the next **offset** (0, 1, 2, … never
//! reused). Order holds within a partition, not across partitions. A producer places each
//! message: on an explicit partition, by key (Kafka's murmur2 partitioner, bit-compatible with
//! the Java client, so a key lands on the same partition number as in a real cluster), or
//! spread when there is no key.
//!
//! Records are stored as Kafka **RecordBatch v2** (one batch per partition per send), in
//! **segments** named by their base offset, in a [`Storage`] backend: std::fs natively, node:fs
//! through a host object in Node, IndexedDB in browsers, or memory. On open the tail of each
//! partition is **recovered**: a torn or corrupt trailing batch is cut away, everything before
//! it is kept.
//!
//! The core is plain Rust with no I/O of its own beyond the `Storage` trait, and no clock or
//! entropy of its own beyond [`LogOptions`], so it runs unchanged on wasm32-unknown-unknown
//! and is tested natively. Every error carries a stable code ([`ErrorKind::code`]).
//!
//! ```
//! use brook::{Log, LogOptions, ManualClock, MemoryStorage, Message, PartitionerKind, RecordInput, TopicConfig};
//!
//! let options = LogOptions { clock: Box::new(ManualClock::new(1_700_000_000_000)), seed: 7 };
//! let mut log = Log::open(Box::new(MemoryStorage::new()), options).unwrap();
//! log.create_topic("inventory", 3, TopicConfig::default()).unwrap();
//! let mut producer = log.producer(PartitionerKind::Default);
//! let message = Message {
//!     record: RecordInput { key: Some(b"abc-123"), value: Some(b"{\"stock\":2}"), ..Default::default() },
//!     partition: None,
//! };
//! let placed = log.send(&mut producer, "inventory", &[message]).unwrap();
//! assert_eq!((placed[0].partition, placed[0].offset), (1, 0)); // as Kafka would place it
//! let records = log.read_records("inventory", 1, 0, 10).unwrap();
//! assert_eq!(records[0].value.as_deref(), Some(&b"{\"stock\":2}"[..]));
//! ```

mod assignor;
#[cfg(target_arch = "wasm32")]
pub mod bindings;
mod consumer_offsets;
mod crc32c;
mod error;
mod group;
mod log;
mod manifest;
mod mirror;
mod partition;
mod partitioner;
mod record_batch;
mod segment;
mod storage;
mod topic;
mod varint;
pub mod wire;

pub use crate::assignor::{assign, Assignor, MemberSubscription, TopicPartition};
pub use crate::crc32c::{crc32c, crc32c_update};
pub use crate::error::{Error, ErrorKind, Result};
pub use crate::group::{
    check_fetch_limits, ConsumerOptions, GroupDescription, MemberDescription, MemberId,
    OffsetReset, PartitionLag, FETCH_BYTES_MAX, FETCH_RECORDS_MAX,
};
#[cfg(not(target_arch = "wasm32"))]
pub use crate::log::SystemClock;
pub use crate::log::{
    Clock, Log, LogOptions, ManualClock, Message, PartitionOffsets, Placement, Producer,
    SEND_MESSAGES_MAX, TIMESTAMP_MAX,
};
pub use crate::mirror::{BatchKey, Change, LoadReport, MirrorStorage};
pub use crate::partition::{CompactionReport, ReadOutcome};
pub use crate::partitioner::{murmur2, partition_for_key, to_positive, PartitionerKind};
pub use crate::record_batch::{
    encode_batch, verify_batch, BatchHeader, Batches, DecodeError, Header, Record, RecordBatch,
    RecordInput, RecordRef, BATCH_BYTES_MAX, BATCH_HEADER_SIZE,
};
pub use crate::segment::{segment_file_name, RecoveryReport};
#[cfg(not(target_arch = "wasm32"))]
pub use crate::storage::FsStorage;
pub use crate::storage::{MemoryStorage, Storage};
pub use crate::topic::{
    CleanupPolicy, TopicConfig, TopicInfo, CONSUMER_OFFSETS_TOPIC, PARTITIONS_MAX, TOPICS_MAX,
};
