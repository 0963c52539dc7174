// Topics: Kafka's naming rule and the per-topic configuration, with the limits that keep
// every size in range. A topic name becomes a directory name, so it is checked here before
// it is ever used as a path.

use crate::error::{Error, ErrorKind, Quoted, Result};

/// Kafka's limit: 249 characters, so that "<topic>-<partition>" stays a legal file name.
pub const TOPIC_NAME_LENGTH_MAX: usize = 249;
/// Topics per log, user and internal: keeps the manifest far below MANIFEST_BYTES_MAX
/// (10,000 topics of the longest names take about 3 MB).
pub const TOPICS_MAX: usize = 10_000;
/// Partitions per topic. A limit like every other size; far above what one process needs.
pub const PARTITIONS_MAX: u32 = 10_000;
/// Partitions in all topics of a log: each costs memory (its index) and a directory.
pub const PARTITIONS_TOTAL_MAX: u64 = 100_000;
pub const MAX_MESSAGE_BYTES_DEFAULT: u32 = 1024 * 1024;
/// A record can never exceed a batch.
pub const MAX_MESSAGE_BYTES_MAX: u32 = crate::record_batch::BATCH_BYTES_MAX as u32 / 2;
pub const SEGMENT_BYTES_DEFAULT: u64 = 16 * 1024 * 1024;
pub const SEGMENT_BYTES_MIN: u64 = 1024;
pub const SEGMENT_BYTES_MAX: u64 = 1024 * 1024 * 1024;
/// Kafka's default `delete.retention.ms`: how long a tombstone outlives compaction.
pub const DELETE_RETENTION_MS_DEFAULT: i64 = 24 * 60 * 60 * 1000;
/// The internal topic of committed offsets.
pub const CONSUMER_OFFSETS_TOPIC: &str = "__consumer_offsets";

/// Checks a topic name against Kafka's rule: 1–249 of `[a-zA-Z0-9._-]`, not "." or "..".
pub fn validate_topic_name(name: &str) -> Result<()> {
    let invalid = |reason: &str| {
        Err(Error::new(
            ErrorKind::InvalidTopicName,
            format!("topic name {name} {reason}; use 1-249 characters of a-z, A-Z, 0-9, '.', '_' and '-'", name = Quoted(name)),
        ))
    };
    if name.is_empty() {
        return invalid("is empty");
    }
    if name.len() > TOPIC_NAME_LENGTH_MAX {
        return invalid("is too long");
    }
    if name == "." || name == ".." {
        return invalid("is reserved");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
    {
        return invalid("has a character outside the allowed set");
    }
    Ok(())
}

/// Checks a partition count for a new or grown topic.
pub fn validate_partition_count(count: u32) -> Result<()> {
    if count == 0 || count > PARTITIONS_MAX {
        return Err(Error::new(
            ErrorKind::InvalidPartitions,
            format!("partition count {count} is out of range; use 1 to {PARTITIONS_MAX}"),
        ));
    }
    Ok(())
}

/// What retention does with old data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CleanupPolicy {
    /// Delete whole old segments by age or size.
    Delete,
    /// Keep the latest record per key; a tombstone (null value) removes its key.
    Compact,
}

impl CleanupPolicy {
    pub fn from_name(name: &str) -> Result<CleanupPolicy> {
        match name {
            "delete" => Ok(CleanupPolicy::Delete),
            "compact" => Ok(CleanupPolicy::Compact),
            other => Err(Error::new(
                ErrorKind::InvalidConfig,
                format!(
                    "cleanup policy {other} is unknown; use \"delete\" or \"compact\"",
                    other = Quoted(other)
                ),
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            CleanupPolicy::Delete => "delete",
            CleanupPolicy::Compact => "compact",
        }
    }
}

/// Per-topic settings (Kafka's topic configs of the same names).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicConfig {
    /// `max.message.bytes`: the largest record, encoded, that a send may append.
    pub max_message_bytes: u32,
    /// `segment.bytes`: a segment rolls once it holds this many bytes.
    pub segment_bytes: u64,
    /// `retention.ms`: delete segments whose newest record is older; `None` keeps forever.
    /// Kafka's default is 7 days; an embedded log has no operator to notice data vanishing,
    /// so brook keeps everything unless asked.
    pub retention_ms: Option<i64>,
    /// `retention.bytes`: delete the oldest segments while a partition is larger; `None` = no limit.
    pub retention_bytes: Option<u64>,
    /// `cleanup.policy`.
    pub cleanup_policy: CleanupPolicy,
    /// `delete.retention.ms`: how long compaction keeps a tombstone, so that readers see it.
    pub delete_retention_ms: i64,
}

impl Default for TopicConfig {
    fn default() -> TopicConfig {
        TopicConfig {
            max_message_bytes: MAX_MESSAGE_BYTES_DEFAULT,
            segment_bytes: SEGMENT_BYTES_DEFAULT,
            retention_ms: None,
            retention_bytes: None,
            cleanup_policy: CleanupPolicy::Delete,
            delete_retention_ms: DELETE_RETENTION_MS_DEFAULT,
        }
    }
}

impl TopicConfig {
    pub fn validate(&self) -> Result<()> {
        let invalid = |message: String| Err(Error::new(ErrorKind::InvalidConfig, message));
        if self.max_message_bytes == 0 || self.max_message_bytes > MAX_MESSAGE_BYTES_MAX {
            return invalid(format!(
                "maxMessageBytes {} is out of range; use 1 to {MAX_MESSAGE_BYTES_MAX}",
                self.max_message_bytes
            ));
        }
        if !(SEGMENT_BYTES_MIN..=SEGMENT_BYTES_MAX).contains(&self.segment_bytes) {
            return invalid(format!(
                "segmentBytes {} is out of range; use {SEGMENT_BYTES_MIN} to {SEGMENT_BYTES_MAX}",
                self.segment_bytes
            ));
        }
        if let Some(ms) = self.retention_ms {
            if ms < 0 {
                return invalid(format!(
                    "retentionMs {ms} is negative; leave it out (or -1) to keep forever"
                ));
            }
        }
        if self.delete_retention_ms < 0 {
            return invalid(format!(
                "deleteRetentionMs {} is negative",
                self.delete_retention_ms
            ));
        }
        Ok(())
    }
}

/// A topic as listed: name, partition count and config.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicInfo {
    pub name: String,
    pub partitions: u32,
    pub config: TopicConfig,
    pub internal: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafkas_naming_rule() {
        for good in ["a", "orders", "my.topic_v2-x", &"x".repeat(249), "..."] {
            validate_topic_name(good).unwrap();
        }
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "../x",
            "a b",
            "é",
            &"x".repeat(250),
            "a\0b",
        ] {
            let error = validate_topic_name(bad).unwrap_err();
            assert_eq!(error.code(), "INVALID_TOPIC_NAME", "{bad:?}");
        }
    }

    #[test]
    fn partition_count_limits() {
        validate_partition_count(1).unwrap();
        validate_partition_count(PARTITIONS_MAX).unwrap();
        assert_eq!(
            validate_partition_count(0).unwrap_err().code(),
            "INVALID_PARTITIONS"
        );
        assert_eq!(
            validate_partition_count(PARTITIONS_MAX + 1)
                .unwrap_err()
                .code(),
            "INVALID_PARTITIONS"
        );
    }

    #[test]
    fn config_limits() {
        TopicConfig::default().validate().unwrap();
        let bad = [
            TopicConfig {
                max_message_bytes: 0,
                ..TopicConfig::default()
            },
            TopicConfig {
                segment_bytes: 10,
                ..TopicConfig::default()
            },
            TopicConfig {
                retention_ms: Some(-5),
                ..TopicConfig::default()
            },
            TopicConfig {
                delete_retention_ms: -1,
                ..TopicConfig::default()
            },
        ];
        for config in bad {
            assert_eq!(
                config.validate().unwrap_err().code(),
                "INVALID_CONFIG",
                "{config:?}"
            );
        }
        assert_eq!(
            CleanupPolicy::from_name("compact").unwrap(),
            CleanupPolicy::Compact
        );
        assert_eq!(
            CleanupPolicy::from_name("gzip").unwrap_err().code(),
            "INVALID_CONFIG"
        );
    }
}
