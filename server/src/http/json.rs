//! JSON values written straight into a response or message body: exact decimals, integers as
//! text, and times, with no `String` or [`serde_json::Value`] per field. Every dialect renders
//! prices, sizes and times through these.

use std::fmt::{self, Write as _};

use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;
use tickd_protocol::{Price, Quantity, Scales, UnixNanos};

/// Decimal text on the stack: room for an i128 at any scale (sign, 39 digits, `0.`, the point).
struct DecimalText {
    buf: [u8; 48],
    len: usize,
}

impl DecimalText {
    fn of(value: fmt::Arguments<'_>) -> Option<Self> {
        let mut t = Self {
            buf: [0; 48],
            len: 0,
        };
        t.write_fmt(value).ok()?;
        Some(t)
    }

    fn as_str(&self) -> &str {
        // Only `write_str` fills the buffer, with whole `str`s.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }
}

impl fmt::Write for DecimalText {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        self.buf
            .get_mut(self.len..end)
            .ok_or(fmt::Error)?
            .copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Writes decimal text as a JSON number token (exact: never through a float). serde_json
/// checks the text is a JSON number; it borrows it, so nothing is allocated.
fn exact<S: Serializer>(value: fmt::Arguments<'_>, s: S) -> Result<S::Ok, S::Error> {
    let text = DecimalText::of(value).ok_or_else(|| serde::ser::Error::custom("decimal"))?;
    let raw: &RawValue = serde_json::from_str(text.as_str()).map_err(serde::ser::Error::custom)?;
    raw.serialize(s)
}

/// A price of an instrument with these scales as an exact JSON number (`171.23`), `null` when
/// undefined.
#[derive(Clone, Copy, Debug)]
pub struct ExactPrice(pub Price, pub Scales);

impl Serialize for ExactPrice {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0.is_undef() {
            return s.serialize_none();
        }
        exact(format_args!("{:#}", self.1.price(self.0)), s)
    }
}

/// A size of an instrument with these scales as an exact JSON number (`100`, `0.5`).
#[derive(Clone, Copy, Debug)]
pub struct ExactQty(pub Quantity, pub Scales);

impl Serialize for ExactQty {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        exact(format_args!("{:#}", self.1.size(self.0)), s)
    }
}

/// A candle volume (wider than a size) of an instrument with these scales as an exact JSON
/// number.
#[derive(Clone, Copy, Debug)]
pub struct ExactVolume(pub u128, pub Scales);

impl Serialize for ExactVolume {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        exact(format_args!("{:#}", self.1.volume(self.0)), s)
    }
}

/// A value as JSON text through its `Display`: a symbol, or a `u64` such as an epoch or a ns
/// time (`"1795232180627567570"`: JavaScript loses integers above 2^53, so they go as strings).
#[derive(Clone, Copy, Debug)]
pub struct AsText<T>(pub T);

impl<T: fmt::Display> Serialize for AsText<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

/// A time as RFC 3339 text with nanoseconds (`"2026-11-21T03:36:20.62756757Z"`).
#[derive(Clone, Copy, Debug)]
pub struct Rfc3339(pub UnixNanos);

impl Serialize for Rfc3339 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match jiff::Timestamp::from_nanosecond(i128::from(self.0.0)) {
            Ok(ts) => s.collect_str(&ts),
            Err(_) => s.serialize_str(""),
        }
    }
}

/// A `200 application/json` response serialized into one buffer sized for `capacity` bytes
/// (axum's `Json` starts at 128 bytes and grows).
pub struct JsonBody<T> {
    /// The body.
    pub value: T,
    /// Bytes to reserve up front.
    pub capacity: usize,
}

impl<T: Serialize> IntoResponse for JsonBody<T> {
    fn into_response(self) -> Response {
        let mut body = Vec::with_capacity(self.capacity);
        match serde_json::to_writer(&mut body, &self.value) {
            Ok(()) => ([(CONTENT_TYPE, "application/json")], body).into_response(),
            Err(e) => super::ApiError::internal(format!("render the answer: {e}")).into_response(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_numbers_and_text() {
        let v = serde_json::to_string(&(
            ExactPrice(Price::from_raw(171_230_000_000), Scales::DEFAULT),
            ExactPrice(Price::from_raw(-5), Scales::DEFAULT),
            ExactPrice(Price::UNDEF, Scales::DEFAULT),
            ExactQty(Quantity::from_raw(100_000_000_000), Scales::DEFAULT),
            ExactQty(Quantity::from_raw(u64::MAX), Scales::DEFAULT),
            AsText(u64::MAX),
            Rfc3339(UnixNanos(1_795_232_180_627_567_570)),
        ))
        .expect("serializes");
        assert_eq!(
            v,
            r#"[171.23,-0.000000005,null,100,18446744073.709551615,"18446744073709551615","2026-11-21T03:36:20.62756757Z"]"#
        );
        let pepe = Scales::new(8, 0).expect("valid");
        let v = serde_json::to_string(&(
            ExactPrice(Price::from_raw(1234), pepe),
            ExactQty(Quantity::from_raw(25_000_000_000), pepe),
            ExactQty(
                Quantity::from_raw(u64::MAX),
                Scales::new(0, 18).expect("valid"),
            ),
        ))
        .expect("serializes");
        assert_eq!(v, "[0.00001234,25000000000,18.446744073709551615]");
    }
}
