// The manifest: the list of topics with their partition counts and configs, in one small
// checksummed file. It is replaced atomically (write "manifest.tmp", sync, rename), so a
// crash leaves either the old manifest or the new one, never a mix.
//
// Layout (big-endian):
//   magic "BRKM" | version u16 = 1 | reserved u16 = 0 | payload length u32 | CRC-32C u32 of payload
//   payload: topic count u32, then per topic:
//     name length u8 | name | partitions u32 | internal u8 | max_message_bytes u32 |
//     segment_bytes u64 | retention_ms i64 (-1 = none) | retention_bytes i64 (-1 = none) |
//     cleanup policy u8 (0 delete, 1 compact) | delete_retention_ms i64

use crate::crc32c::crc32c;
use crate::error::{Error, Result};
use crate::files::Files;
use crate::topic::{
    validate_partition_count, validate_topic_name, CleanupPolicy, TopicConfig, TopicInfo,
};
use crate::varint::{ReadError, Reader};

pub const MANIFEST_PATH: &str = "manifest";
const MANIFEST_TEMPORARY_PATH: &str = "manifest.tmp";
const MAGIC: &[u8; 4] = b"BRKM";
const VERSION: u16 = 1;
const PREFIX_SIZE: usize = 16;
/// Bounds the read: 10,000 topics of the longest names still fit.
const MANIFEST_BYTES_MAX: u64 = 8 * 1024 * 1024;

pub fn encode(topics: &[TopicInfo]) -> Vec<u8> {
    let mut payload = Vec::new();
    payload.extend_from_slice(&(topics.len() as u32).to_be_bytes());
    for topic in topics {
        let config = &topic.config;
        payload.push(topic.name.len() as u8);
        payload.extend_from_slice(topic.name.as_bytes());
        payload.extend_from_slice(&topic.partitions.to_be_bytes());
        payload.push(topic.internal as u8);
        payload.extend_from_slice(&config.max_message_bytes.to_be_bytes());
        payload.extend_from_slice(&config.segment_bytes.to_be_bytes());
        payload.extend_from_slice(&config.retention_ms.unwrap_or(-1).to_be_bytes());
        let retention_bytes = config
            .retention_bytes
            .map_or(-1, |b| b.min(i64::MAX as u64) as i64);
        payload.extend_from_slice(&retention_bytes.to_be_bytes());
        payload.push(match config.cleanup_policy {
            CleanupPolicy::Delete => 0,
            CleanupPolicy::Compact => 1,
        });
        payload.extend_from_slice(&config.delete_retention_ms.to_be_bytes());
    }
    let mut bytes = Vec::with_capacity(PREFIX_SIZE + payload.len());
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&VERSION.to_be_bytes());
    bytes.extend_from_slice(&0u16.to_be_bytes());
    bytes.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    bytes.extend_from_slice(&crc32c(&payload).to_be_bytes());
    bytes.extend_from_slice(&payload);
    bytes
}

pub fn decode(bytes: &[u8]) -> Result<Vec<TopicInfo>> {
    let corrupt = |reason: &str| Error::corrupt(format!("manifest: {reason}"));
    let truncated = |_: ReadError| corrupt("cut short");
    let mut reader = Reader::new(bytes);
    if reader.take(4).map_err(truncated)? != MAGIC {
        return Err(corrupt("not a brook manifest (bad magic)"));
    }
    let version = reader.i16().map_err(truncated)? as u16;
    if version != VERSION {
        return Err(corrupt(&format!(
            "version {version} is not supported by this brook (knows {VERSION})"
        )));
    }
    let _reserved = reader.i16().map_err(truncated)?;
    let length = reader.u32().map_err(truncated)? as usize;
    let crc = reader.u32().map_err(truncated)?;
    if reader.remaining() != length {
        return Err(corrupt("length does not match the file"));
    }
    let payload = reader.take(length).map_err(truncated)?;
    if crc32c(payload) != crc {
        return Err(corrupt("checksum mismatch"));
    }
    let mut reader = Reader::new(payload);
    let count = reader.u32().map_err(truncated)?;
    let mut topics = Vec::new();
    for _ in 0..count {
        let name_length = reader.i8().map_err(truncated)? as u8 as usize;
        let name = std::str::from_utf8(reader.take(name_length).map_err(truncated)?)
            .map_err(|_| corrupt("topic name is not UTF-8"))?
            .to_owned();
        validate_topic_name(&name).map_err(|e| corrupt(e.message()))?;
        let partitions = reader.u32().map_err(truncated)?;
        validate_partition_count(partitions).map_err(|e| corrupt(e.message()))?;
        let internal = reader.i8().map_err(truncated)? != 0;
        let max_message_bytes = reader.u32().map_err(truncated)?;
        let segment_bytes = reader.u64().map_err(truncated)?;
        let retention_ms = reader.i64().map_err(truncated)?;
        let retention_bytes = reader.i64().map_err(truncated)?;
        let cleanup_policy = match reader.i8().map_err(truncated)? {
            0 => CleanupPolicy::Delete,
            1 => CleanupPolicy::Compact,
            _ => return Err(corrupt("unknown cleanup policy")),
        };
        let delete_retention_ms = reader.i64().map_err(truncated)?;
        let config = TopicConfig {
            max_message_bytes,
            segment_bytes,
            retention_ms: (retention_ms >= 0).then_some(retention_ms),
            retention_bytes: (retention_bytes >= 0).then_some(retention_bytes as u64),
            cleanup_policy,
            delete_retention_ms,
        };
        config.validate().map_err(|e| corrupt(e.message()))?;
        topics.push(TopicInfo {
            name,
            partitions,
            config,
            internal,
        });
    }
    if reader.remaining() != 0 {
        return Err(corrupt("bytes after the last topic"));
    }
    Ok(topics)
}

/// Reads the manifest file of a file store; None when there is none yet (a new log).
pub fn load_bytes(files: &mut dyn Files) -> Result<Option<Vec<u8>>> {
    // A leftover temporary file is an interrupted write: the manifest beside it is current.
    let names = files.list("")?;
    if names.iter().any(|n| n == MANIFEST_TEMPORARY_PATH) {
        files.remove(MANIFEST_TEMPORARY_PATH)?;
    }
    if !names.iter().any(|n| n == MANIFEST_PATH) {
        return Ok(None);
    }
    let length = files.open(MANIFEST_PATH)?;
    if length > MANIFEST_BYTES_MAX {
        return Err(Error::corrupt(
            "manifest: larger than any manifest brook writes",
        ));
    }
    let mut bytes = vec![0u8; length as usize];
    let read = files.read_at(MANIFEST_PATH, 0, &mut bytes)?;
    bytes.truncate(read);
    Ok(Some(bytes))
}

/// Replaces the manifest file atomically and durably (temporary file, sync, rename).
pub fn store_bytes(files: &mut dyn Files, bytes: &[u8]) -> Result<()> {
    files.open(MANIFEST_TEMPORARY_PATH)?;
    files.truncate(MANIFEST_TEMPORARY_PATH, 0)?;
    files.append(MANIFEST_TEMPORARY_PATH, bytes)?;
    files.sync(MANIFEST_TEMPORARY_PATH)?;
    files.rename(MANIFEST_TEMPORARY_PATH, MANIFEST_PATH)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<TopicInfo> {
        vec![
            TopicInfo {
                name: "orders".into(),
                partitions: 3,
                config: TopicConfig::default(),
                internal: false,
            },
            TopicInfo {
                name: "__consumer_offsets".into(),
                partitions: 1,
                config: TopicConfig {
                    cleanup_policy: CleanupPolicy::Compact,
                    retention_ms: Some(1000),
                    retention_bytes: Some(5000),
                    ..TopicConfig::default()
                },
                internal: true,
            },
        ]
    }

    #[test]
    fn round_trip() {
        assert_eq!(decode(&encode(&sample())).unwrap(), sample());
        assert_eq!(decode(&encode(&[])).unwrap(), vec![]);
    }

    #[test]
    fn every_flipped_or_cut_byte_is_detected() {
        let bytes = encode(&sample());
        for index in 0..bytes.len() {
            let mut flipped = bytes.clone();
            flipped[index] ^= 0x40;
            // The reserved field is not checked; everything else is.
            if (6..8).contains(&index) {
                continue;
            }
            assert_eq!(
                decode(&flipped).unwrap_err().code(),
                "CORRUPT_DATA",
                "byte {index}"
            );
            assert_eq!(decode(&bytes[..index]).unwrap_err().code(), "CORRUPT_DATA");
        }
    }
}
