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
//
// Beside them, brook keeps the delivery failures of a group's records (Redis Streams'
// delivery count), so that a crash does not reset them. Kafka has no such record: its key
// version is brook's own, outside the versions Kafka uses (0 to 2).
//
//   key:   version i16 = 0x6266 | group | topic | partition i32   (as above)
//   value: version i16 = 0 | offset i64 | failures i32 | dead-lettered offset i64 (-1: none)
// (the record that failed last and how often; the last record that went to the dead-letter
// topic, which the group goes past, kept when a later record fails)

use crate::error::{Error, ErrorKind, Quoted, Result};
use crate::varint::Reader;

const KEY_VERSION: i16 = 1;
const VALUE_VERSION: i16 = 3;
const FAILURE_KEY_VERSION: i16 = 0x6266;
const FAILURE_VALUE_VERSION: i16 = 0;
/// Group ids are short names in practice; the limit keeps keys small and bounded.
pub const GROUP_ID_LENGTH_MAX: usize = 255;

pub fn validate_group_id(group_id: &str) -> Result<()> {
    if group_id.is_empty() || group_id.len() > GROUP_ID_LENGTH_MAX {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            format!(
                "groupId {group_id} must be 1 to {GROUP_ID_LENGTH_MAX} bytes",
                group_id = Quoted(group_id)
            ),
        ));
    }
    if group_id.chars().any(char::is_control) {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            format!(
                "groupId {group_id} has a control character",
                group_id = Quoted(group_id)
            ),
        ));
    }
    Ok(())
}

fn put_string(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(&(text.len() as i16).to_be_bytes());
    out.extend_from_slice(text.as_bytes());
}

/// What a record of `__consumer_offsets` is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    Commit,
    Failure,
}

pub fn encode_key(out: &mut Vec<u8>, group: &str, topic: &str, partition: u32) {
    encode_key_of(out, KeyKind::Commit, group, topic, partition);
}

pub fn encode_key_of(out: &mut Vec<u8>, kind: KeyKind, group: &str, topic: &str, partition: u32) {
    let version = match kind {
        KeyKind::Commit => KEY_VERSION,
        KeyKind::Failure => FAILURE_KEY_VERSION,
    };
    out.extend_from_slice(&version.to_be_bytes());
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

/// The delivery failures of a partition's records, for one group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The record a handler failed on last.
    pub offset: i64,
    /// How many times a handler failed on it.
    pub failures: u32,
    /// The last record written to the dead-letter topic: the group goes past it.
    pub dead_lettered: Option<i64>,
}

pub fn encode_failure(out: &mut Vec<u8>, failure: &Failure) {
    out.extend_from_slice(&FAILURE_VALUE_VERSION.to_be_bytes());
    out.extend_from_slice(&failure.offset.to_be_bytes());
    out.extend_from_slice(&(failure.failures.min(i32::MAX as u32) as i32).to_be_bytes());
    out.extend_from_slice(&failure.dead_lettered.unwrap_or(-1).to_be_bytes());
}

/// The failure of a value, or None for bytes that are not one.
pub fn decode_failure(bytes: &[u8]) -> Option<Failure> {
    let mut reader = Reader::new(bytes);
    if reader.i16().ok()? != FAILURE_VALUE_VERSION {
        return None;
    }
    let offset = reader.i64().ok()?;
    let failures = u32::try_from(reader.i32().ok()?).ok()?;
    let dead_lettered = match reader.i64().ok()? {
        -1 => None,
        at if at >= 0 => Some(at),
        _ => return None,
    };
    (offset >= 0 && failures > 0 && reader.remaining() == 0).then_some(Failure {
        offset,
        failures,
        dead_lettered,
    })
}

/// The kind and (group, topic, partition) of a key, or None for bytes that are not one.
pub fn decode_key_of(bytes: &[u8]) -> Option<(KeyKind, String, String, u32)> {
    let mut reader = Reader::new(bytes);
    let kind = match reader.i16().ok()? {
        KEY_VERSION => KeyKind::Commit,
        FAILURE_KEY_VERSION => KeyKind::Failure,
        _ => return None,
    };
    let group = read_string(&mut reader)?;
    let topic = read_string(&mut reader)?;
    let partition = u32::try_from(reader.i32().ok()?).ok()?;
    (reader.remaining() == 0).then_some((kind, group, topic, partition))
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
            decode_key_of(&key),
            Some((KeyKind::Commit, "mysql-sync".into(), "inventory".into(), 2))
        );
        let mut value = Vec::new();
        encode_value(&mut value, 42, 1_700_000_000_000);
        assert_eq!(value.len(), 2 + 8 + 4 + 2 + 8);
        assert_eq!(decode_value(&value), Some(42));
        assert_eq!(decode_key_of(&key[..key.len() - 1]), None);
        assert_eq!(decode_value(b"xx"), None);

        let mut key = Vec::new();
        encode_key_of(&mut key, KeyKind::Failure, "g", "t", 1);
        assert_eq!(
            decode_key_of(&key),
            Some((KeyKind::Failure, "g".into(), "t".into(), 1))
        );
        let failure = Failure {
            offset: 7,
            failures: 3,
            dead_lettered: Some(5),
        };
        let mut value = Vec::new();
        encode_failure(&mut value, &failure);
        assert_eq!(decode_failure(&value), Some(failure));
        assert_eq!(decode_failure(&value[..value.len() - 1]), None);
        let length = value.len();
        encode_failure(
            &mut value,
            &Failure {
                failures: 0,
                ..failure
            },
        );
        assert_eq!(decode_failure(&value[length..]), None);
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
