// Committed offsets as records of the internal compacted topic `__consumer_offsets`, keyed by
// (group, topic, partition), as Kafka stores them, so that commits persist through the same
// segments, recovery and compaction as every other record. The key and value bytes follow
// Kafka's own schemas (OffsetCommitKey v1, OffsetCommitValue v3), so Kafka's tooling could
// read them.
//
//   key:   version i16 = 1 | group (i16 length + UTF-8) | topic (i16 length + UTF-8) | partition i32
//   value: version i16 = 3 | offset i64 | leader epoch i32 = -1 | metadata (i16 length = 0) |
//          commit timestamp i64
// A null value (tombstone) removes the commit.

use crate::error::{Error, ErrorKind, Result};
use crate::varint::Reader;

const KEY_VERSION: i16 = 1;
const VALUE_VERSION: i16 = 3;
/// Group ids are short names in practice; the limit keeps keys small and bounded.
pub const GROUP_ID_LENGTH_MAX: usize = 255;

pub fn validate_group_id(group_id: &str) -> Result<()> {
    if group_id.is_empty() || group_id.len() > GROUP_ID_LENGTH_MAX {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            format!("groupId {group_id:?} must be 1 to {GROUP_ID_LENGTH_MAX} bytes"),
        ));
    }
    if group_id.chars().any(char::is_control) {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            format!("groupId {group_id:?} has a control character"),
        ));
    }
    Ok(())
}

fn put_string(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(&(text.len() as i16).to_be_bytes());
    out.extend_from_slice(text.as_bytes());
}

pub fn encode_key(out: &mut Vec<u8>, group: &str, topic: &str, partition: u32) {
    out.extend_from_slice(&KEY_VERSION.to_be_bytes());
    put_string(out, group);
    put_string(out, topic);
    out.extend_from_slice(&(partition as i32).to_be_bytes());
}

pub fn encode_value(out: &mut Vec<u8>, offset: i64, commit_timestamp: i64) {
    out.extend_from_slice(&VALUE_VERSION.to_be_bytes());
    out.extend_from_slice(&offset.to_be_bytes());
    out.extend_from_slice(&(-1i32).to_be_bytes());
    out.extend_from_slice(&0i16.to_be_bytes());
    out.extend_from_slice(&commit_timestamp.to_be_bytes());
}

fn read_string(reader: &mut Reader<'_>) -> Option<String> {
    let length = reader.i16().ok()?;
    let bytes = reader.take(usize::try_from(length).ok()?).ok()?;
    String::from_utf8(bytes.to_vec()).ok()
}

/// (group, topic, partition) of a key, or None for bytes that are not one.
pub fn decode_key(bytes: &[u8]) -> Option<(String, String, u32)> {
    let mut reader = Reader::new(bytes);
    if reader.i16().ok()? != KEY_VERSION {
        return None;
    }
    let group = read_string(&mut reader)?;
    let topic = read_string(&mut reader)?;
    let partition = u32::try_from(reader.i32().ok()?).ok()?;
    (reader.remaining() == 0).then_some((group, topic, partition))
}

/// The committed offset of a value, or None for bytes that are not one.
pub fn decode_value(bytes: &[u8]) -> Option<i64> {
    let mut reader = Reader::new(bytes);
    let version = reader.i16().ok()?;
    if !(1..=VALUE_VERSION).contains(&version) {
        return None;
    }
    let offset = reader.i64().ok()?;
    (offset >= 0).then_some(offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_values_round_trip() {
        let mut key = Vec::new();
        encode_key(&mut key, "mysql-sync", "inventory", 2);
        assert_eq!(
            decode_key(&key),
            Some(("mysql-sync".into(), "inventory".into(), 2))
        );
        let mut value = Vec::new();
        encode_value(&mut value, 42, 1_700_000_000_000);
        assert_eq!(value.len(), 2 + 8 + 4 + 2 + 8);
        assert_eq!(decode_value(&value), Some(42));
        assert_eq!(decode_key(&key[..key.len() - 1]), None);
        assert_eq!(decode_value(b"xx"), None);
    }

    #[test]
    fn group_ids_are_checked() {
        validate_group_id("mysql-sync").unwrap();
        assert_eq!(
            validate_group_id("").unwrap_err().code(),
            "INVALID_ARGUMENT"
        );
        assert_eq!(
            validate_group_id(&"g".repeat(256)).unwrap_err().code(),
            "INVALID_ARGUMENT"
        );
        assert_eq!(
            validate_group_id("a\nb").unwrap_err().code(),
            "INVALID_ARGUMENT"
        );
    }
}
