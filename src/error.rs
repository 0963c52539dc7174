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
            format!(
                "topic {topic} does not exist; create it with createTopic first",
                topic = Quoted(topic)
            ),
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
            format!("{operation} {path} failed: {detail}", path = Quoted(path)),
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

/// A number as an error message shows it, without Rust's float formatting (14 KiB of wasm
/// for messages alone): whole numbers exactly, others to six decimals.
pub fn number_text(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    let sign = if x < 0.0 { "-" } else { "" };
    let magnitude = x.abs();
    if magnitude >= 1e12 {
        if x.fract() == 0.0 && magnitude < 1.8e19 {
            return format!("{sign}{}", magnitude as u64);
        }
        return format!("{sign}about 10^{}", magnitude.log10().floor() as i32);
    }
    let micros = (magnitude * 1e6).round() as u64;
    let (whole, fraction) = (micros / 1_000_000, micros % 1_000_000);
    if fraction == 0 {
        return format!("{sign}{whole}");
    }
    let digits = format!("{fraction:06}");
    format!("{sign}{whole}.{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod number_text_tests {
    use super::number_text;

    #[test]
    fn numbers_read_as_js_would_print_them_for_the_usual_values() {
        for (x, shown) in [
            (0.0, "0"),
            (3.0, "3"),
            (-1.0, "-1"),
            (1.5, "1.5"),
            (-0.25, "-0.25"),
            (4294967296.0, "4294967296"),
            (9007199254740991.0, "9007199254740991"),
            (2f64.powi(60), "1152921504606846976"),
            (1e300, "about 10^300"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
        ] {
            assert_eq!(number_text(x), shown);
        }
    }
}

/// A name quoted for an error message: `"name"`, with quotes, backslashes and control
/// characters escaped. (`{:?}` would do the same, and bring in the core's Unicode tables for
/// printable characters: several KiB of the .wasm for a few error messages.)
pub struct Quoted<'a>(pub &'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"")?;
        for c in self.0.chars() {
            match c {
                '"' => f.write_str("\\\"")?,
                '\\' => f.write_str("\\\\")?,
                '\n' => f.write_str("\\n")?,
                '\r' => f.write_str("\\r")?,
                '\t' => f.write_str("\\t")?,
                c if c.is_control() => write!(f, "\\u{{{:x}}}", c as u32)?,
                c => fmt::Write::write_char(f, c)?,
            }
        }
        f.write_str("\"")
    }
}

#[cfg(test)]
mod quoted_tests {
    use super::Quoted;

    #[test]
    fn names_are_quoted_with_what_would_break_a_message_escaped() {
        for (name, shown) in [
            ("orders", "\"orders\""),
            ("", "\"\""),
            ("say \"hi\"", "\"say \\\"hi\\\"\""),
            ("a\\b", "\"a\\\\b\""),
            ("line\nbreak\ttab\r", "\"line\\nbreak\\ttab\\r\""),
            ("nul\0bell\x07del\x7f", "\"nul\\u{0}bell\\u{7}del\\u{7f}\""),
            ("\u{85}next line", "\"\\u{85}next line\""),
            ("café 東京 🦀", "\"café 東京 🦀\""),
        ] {
            assert_eq!(Quoted(name).to_string(), shown);
            if !name
                .chars()
                .any(|c| c.is_control() && !"\n\r\t".contains(c))
            {
                // The same as Debug wherever Debug writes no \u{..} escape.
                assert_eq!(Quoted(name).to_string(), format!("{name:?}"));
            }
        }
    }
}
