// The bindings' arguments and options as the core's types: member ids, partitions, offsets,
// fetch limits, topic configs and the request objects of the methods that take them.

use js_sys::Object;
use wasm_bindgen::JsValue;

use super::interop::{
    array, boolean, elements, field, integer, js_error, options, string, to_js, JsResult,
};
use crate::assignor::Assignor;
use crate::error::{ErrorKind, Quoted};
use crate::group::{ConsumerOptions, MemberId, OffsetReset, FETCH_BYTES_MAX, FETCH_RECORDS_MAX};
use crate::log::CACHE_BYTES_MAX;
use crate::partitioner::PartitionerKind;
use crate::topic::{CleanupPolicy, TopicConfig, PARTITIONS_MAX};

/// JS numbers are exact up to here; offsets and sizes beyond it are refused.
pub(super) const SAFE_INTEGER_MAX: f64 = 9_007_199_254_740_991.0;
/// Partition numbers a caller may name (a topic has at most PARTITIONS_MAX).
pub(super) const PARTITION_MAX: f64 = (PARTITIONS_MAX - 1) as f64;

pub(super) fn member_id(value: f64) -> JsResult<MemberId> {
    if value.fract() != 0.0 || !(0.0..=SAFE_INTEGER_MAX).contains(&value) {
        return Err(js_error(
            ErrorKind::UnknownMember,
            format!("{} is not a member id", crate::error::number_text(value)),
        ));
    }
    Ok(value as MemberId)
}

pub(super) fn partition_arg(value: &JsValue) -> JsResult<u32> {
    integer(
        value,
        "partition",
        0.0,
        PARTITION_MAX,
        ErrorKind::InvalidPartition,
    )
    .map(|p| p as u32)
}

pub(super) fn offset_arg(value: &JsValue) -> JsResult<i64> {
    integer(
        value,
        "offset",
        0.0,
        SAFE_INTEGER_MAX,
        ErrorKind::OffsetOutOfRange,
    )
    .map(|o| o as i64)
}

/// A topic and one of its partitions, checked in that order.
pub(super) fn topic_partition(topic: &JsValue, partition: &JsValue) -> JsResult<(String, u32)> {
    let topic = string(topic, "topic")?;
    let partition = partition_arg(partition)?;
    Ok((topic, partition))
}

/// What `seek` moves a member to: a topic, a partition and an offset.
pub(super) fn seek_request(
    topic: &JsValue,
    partition: &JsValue,
    offset: &JsValue,
) -> JsResult<(String, u32, i64)> {
    let (topic, partition) = topic_partition(topic, partition)?;
    let offset = offset_arg(offset)?;
    Ok((topic, partition, offset))
}

/// How many partitions a topic has or gets (`name` is the argument's name in messages).
pub(super) fn partition_count(value: &JsValue, name: &str) -> JsResult<u32> {
    integer(
        value,
        name,
        1.0,
        PARTITIONS_MAX as f64,
        ErrorKind::InvalidPartitions,
    )
    .map(|count| count as u32)
}

/// The offset `releaseLeaseAt` says a loop got to: the last record it handed over, or one
/// before the chunk's first for none (so -1 from the start of a partition).
pub(super) fn lease_offset(offset: f64) -> JsResult<i64> {
    integer(
        &JsValue::from_f64(offset),
        "offset",
        -1.0,
        SAFE_INTEGER_MAX,
        ErrorKind::InvalidArgument,
    )
    .map(|o| o as i64)
}

/// A log's `cacheBytes`; undefined keeps the default.
pub(super) fn cache_bytes_arg(value: &JsValue) -> JsResult<Option<u64>> {
    if value.is_undefined() {
        return Ok(None);
    }
    integer(
        value,
        "cacheBytes",
        0.0,
        CACHE_BYTES_MAX as f64,
        ErrorKind::InvalidArgument,
    )
    .map(|bytes| Some(bytes as u64))
}

/// A producer's partitioner by name; undefined is the default one.
pub(super) fn partitioner_arg(value: &JsValue) -> JsResult<PartitionerKind> {
    if value.is_undefined() {
        return Ok(PartitionerKind::Default);
    }
    PartitionerKind::from_name(&string(value, "partitioner")?).map_err(to_js)
}

pub(super) fn fetch_limits(max_records: &JsValue, max_bytes: &JsValue) -> JsResult<(u32, u64)> {
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

/// `createTopic`'s request as the topic's name, partition count and config.
pub(super) fn create_topic_request(request: &JsValue) -> JsResult<(String, u32, TopicConfig)> {
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
    let request = options(request, "createTopic", KNOWN)?;
    let topic = string(&field(&request, "topic")?, "topic")?;
    // KafkaJS spells it numPartitions; either works, partitions defaults to 1 as in Kafka.
    let mut partitions = field(&request, "partitions")?;
    if partitions.is_undefined() {
        partitions = field(&request, "numPartitions")?;
    }
    let partitions = if partitions.is_undefined() {
        1
    } else {
        partition_count(&partitions, "partitions")?
    };
    let config = topic_config(&request)?;
    Ok((topic, partitions, config))
}

/// `joinGroup`'s `{ groupId, autoCommit = true, commitProcessed = false, assignor =
/// "cooperativeSticky", fromBeginning = false }`.
pub(super) fn consumer_options(request: &JsValue) -> JsResult<ConsumerOptions> {
    const KNOWN: &[&str] = &[
        "groupId",
        "autoCommit",
        "commitProcessed",
        "assignor",
        "fromBeginning",
    ];
    let request = options(request, "consumer options", KNOWN)?;
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
                    format!("unknown assignor {name}; use \"range\", \"roundRobin\" or \"cooperativeSticky\"", name = Quoted(&name)),
                )
            })?
        }
    };
    let from_beginning = boolean(&field(&request, "fromBeginning")?, "fromBeginning", false)?;
    Ok(ConsumerOptions {
        group_id,
        auto_commit,
        commit_processed,
        assignor,
        offset_reset: if from_beginning {
            OffsetReset::Earliest
        } else {
            OffsetReset::Latest
        },
    })
}

/// `commit`'s `[{ topic, partition, offset }]` (offset = the next offset to read).
pub(super) fn commit_offsets(offsets: &JsValue) -> JsResult<Vec<(String, u32, i64)>> {
    let list = array(offsets, "offsets", 100_000)?;
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
    Ok(entries)
}

/// The entries of `setPaused`'s `[{ topic, partitions? }]`, each read with `paused_entry`
/// only when its turn comes: the entries before a bad one are applied already.
pub(super) fn paused_list(topics: &JsValue) -> JsResult<Vec<JsValue>> {
    let list = array(topics, "topics", 10_000)?;
    elements(&list, "topics")
}

/// One `{ topic, partitions? }` of `setPaused` (no partitions = the whole topic).
pub(super) fn paused_entry(item: &JsValue) -> JsResult<(String, Option<Vec<u32>>)> {
    let item = options(item, "a topic to pause or resume", &["topic", "partitions"])?;
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
    Ok((topic, partitions))
}
