// The one error type of brook. Every failure a caller or a file on disk can cause becomes an
// `Error` with a stable `code` (the strings of DESIGN.md, which the JS wrapper exposes as
// `error.code`) and a message that names the bad value and says what to do.

use std::fmt;

/// The stable error codes. The string form (`code()`) is API: never rename one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    UnknownTopic,
    InvalidTopicName,
    TopicAlreadyExists,
    InvalidPartition,
    InvalidPartitions,
    OffsetOutOfRange,
    MessageTooLarge,
    InvalidRecord,
    InvalidConfig,
    InvalidArgument,
    LogLocked,
    CorruptData,
    QuotaExceeded,
    Closed,
    Io,
    UnknownMember,
    RebalanceInProgress,
    /// A group with live members cannot be changed from outside (its offsets set, deleted).
    NonEmptyGroup,
    /// A group that has nothing to act on (no committed offsets to delete).
    GroupIdNotFound,
    /// The runtime lacks what a feature needs (a browser without Web Locks, ...).
    Unsupported,
}

impl ErrorKind {
    pub fn code(self) -> &'static str {
        match self {
            ErrorKind::UnknownTopic => "UNKNOWN_TOPIC",
            ErrorKind::InvalidTopicName => "INVALID_TOPIC_NAME",
            ErrorKind::TopicAlreadyExists => "TOPIC_ALREADY_EXISTS",
            ErrorKind::InvalidPartition => "INVALID_PARTITION",
            ErrorKind::InvalidPartitions => "INVALID_PARTITIONS",
            ErrorKind::OffsetOutOfRange => "OFFSET_OUT_OF_RANGE",
            ErrorKind::MessageTooLarge => "MESSAGE_TOO_LARGE",
            ErrorKind::InvalidRecord => "INVALID_RECORD",
            ErrorKind::InvalidConfig => "INVALID_CONFIG",
            ErrorKind::InvalidArgument => "INVALID_ARGUMENT",
            ErrorKind::LogLocked => "LOG_LOCKED",
            ErrorKind::CorruptData => "CORRUPT_DATA",
            ErrorKind::QuotaExceeded => "QUOTA_EXCEEDED",
            ErrorKind::Closed => "CLOSED",
            ErrorKind::Io => "IO_ERROR",
            ErrorKind::UnknownMember => "UNKNOWN_MEMBER_ID",
            ErrorKind::RebalanceInProgress => "REBALANCE_IN_PROGRESS",
            ErrorKind::NonEmptyGroup => "NON_EMPTY_GROUP",
            ErrorKind::GroupIdNotFound => "GROUP_ID_NOT_FOUND",
            ErrorKind::Unsupported => "UNSUPPORTED",
        }
    }
}

/// An error with a stable kind and a human message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
        }
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn code(&self) -> &'static str {
        self.kind.code()
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub(crate) fn unknown_topic(topic: &str) -> Error {
        Error::new(
            ErrorKind::UnknownTopic,
            format!("topic {topic:?} does not exist; create it with createTopic first"),
        )
    }

    pub(crate) fn invalid_argument(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::InvalidArgument, message)
    }

    pub(crate) fn corrupt(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::CorruptData, message)
    }

    pub(crate) fn io(operation: &str, path: &str, detail: impl fmt::Display) -> Error {
        Error::new(
            ErrorKind::Io,
            format!("{operation} {path:?} failed: {detail}"),
        )
    }

    pub(crate) fn closed() -> Error {
        Error::new(
            ErrorKind::Closed,
            "the log is closed; open it again to use it",
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.code(), self.message)
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_starts_with_the_stable_code() {
        let error = Error::unknown_topic("orders");
        assert_eq!(error.code(), "UNKNOWN_TOPIC");
        assert!(error.to_string().starts_with("UNKNOWN_TOPIC: "));
        assert!(error.message().contains("\"orders\""));
    }
}
