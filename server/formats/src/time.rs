//! The one parser of times given as text (DESIGN.md §10, §11): integer nanoseconds since the
//! Unix epoch (UTC), or RFC 3339 with up to 9 fractional digits. CSV `ts_event`, `tickctl
//! --from/--to` and the HTTP bridge's time parameters all go through it.

use tickd_protocol::UnixNanos;

/// Why a text is not a time. Displays as the quoted text and the reason, for the caller to
/// prefix with the field's name (`ts_event "x" is neither ns nor RFC 3339: …`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseTimeError {
    /// All digits, but more than `u64::MAX` ns.
    #[error("{0:?} out of range")]
    OutOfRange(String),
    /// Neither digits nor RFC 3339.
    #[error("{text:?} is neither ns nor RFC 3339: {reason}")]
    Malformed {
        /// The text given.
        text: String,
        /// What the RFC 3339 parser said.
        reason: String,
    },
    /// A valid RFC 3339 time before 1970-01-01T00:00:00Z.
    #[error("{0:?} is before 1970")]
    Before1970(String),
}

/// Parses `text` as integer ns since the Unix epoch, or as RFC 3339.
///
/// # Errors
///
/// [`ParseTimeError`] naming the text: out of `u64` range, malformed, or before 1970.
pub fn parse_time(text: &str) -> Result<UnixNanos, ParseTimeError> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse::<u64>()
            .map(UnixNanos)
            .map_err(|_| ParseTimeError::OutOfRange(text.to_owned()));
    }
    parse_rfc3339(text)
}

/// Parses `text` as RFC 3339 only (for callers whose integers mean another unit).
///
/// # Errors
///
/// [`ParseTimeError::Malformed`] or [`ParseTimeError::Before1970`].
pub fn parse_rfc3339(text: &str) -> Result<UnixNanos, ParseTimeError> {
    let ts: jiff::Timestamp = text
        .parse()
        .map_err(|e: jiff::Error| ParseTimeError::Malformed {
            text: text.to_owned(),
            reason: e.to_string(),
        })?;
    u64::try_from(ts.as_nanosecond())
        .map(UnixNanos)
        .map_err(|_| ParseTimeError::Before1970(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_ns_and_text_is_rfc3339() {
        assert_eq!(
            parse_time("1696680000123000000"),
            Ok(UnixNanos(1_696_680_000_123_000_000))
        );
        assert_eq!(parse_time("0"), Ok(UnixNanos(0)));
        assert_eq!(
            parse_time("2023-10-07T12:00:00.123456789Z"),
            Ok(UnixNanos(1_696_680_000_123_456_789))
        );
        assert_eq!(
            parse_time("2023-10-07T08:00:00-04:00"),
            Ok(UnixNanos(1_696_680_000_000_000_000))
        );
    }

    #[test]
    fn errors_name_the_text() {
        assert_eq!(
            parse_time("18446744073709551616").unwrap_err().to_string(),
            "\"18446744073709551616\" out of range"
        );
        assert_eq!(
            parse_time("1969-12-31T23:59:59Z").unwrap_err().to_string(),
            "\"1969-12-31T23:59:59Z\" is before 1970"
        );
        let e = parse_time("x").unwrap_err().to_string();
        assert!(e.starts_with("\"x\" is neither ns nor RFC 3339: "), "{e}");
        assert!(matches!(
            parse_time(""),
            Err(ParseTimeError::Malformed { .. })
        ));
        assert!(matches!(
            parse_rfc3339("5"),
            Err(ParseTimeError::Malformed { .. })
        ));
    }
}
