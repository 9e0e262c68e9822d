//! Protocol version and its negotiation.

/// The protocol version this build speaks best.
pub const PROTOCOL_VERSION: u16 = 1;
/// The oldest protocol version this build still speaks.
pub const MIN_PROTOCOL_VERSION: u16 = 1;
/// QUIC ALPN identifier for protocol version 1.
pub const ALPN: &[u8] = b"tickd/1";

/// The highest version both sides speak, given the peer's inclusive range `[min, max]`.
pub fn negotiate(min: u16, max: u16) -> Option<u16> {
    let high = max.min(PROTOCOL_VERSION);
    (high >= min.max(MIN_PROTOCOL_VERSION)).then_some(high)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_highest_common_version() {
        assert_eq!(negotiate(1, 1), Some(1));
        assert_eq!(negotiate(1, 9), Some(PROTOCOL_VERSION));
        assert_eq!(negotiate(2, 9), None);
        assert_eq!(negotiate(0, 0), None);
        assert_eq!(negotiate(3, 1), None);
    }
}
