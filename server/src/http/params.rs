//! Parameters every dialect parses the same way: symbols, intervals, times.

use tickd_formats::time::ParseTimeError;
use tickd_protocol::{Interval, Symbol, UnixNanos};

use super::ApiError;

/// An interval's name in the OpenAPI document. The handlers parse with [`Interval`]'s `FromStr`,
/// which also takes aliases (`1min`, `MINUTE`...); the document lists the canonical names.
#[derive(Debug, utoipa::ToSchema)]
pub enum IntervalName {
    /// One second.
    #[schema(rename = "1s")]
    S1,
    /// One minute.
    #[schema(rename = "1m")]
    M1,
    /// Five minutes.
    #[schema(rename = "5m")]
    M5,
    /// Fifteen minutes.
    #[schema(rename = "15m")]
    M15,
    /// One hour.
    #[schema(rename = "1h")]
    H1,
    /// Four hours.
    #[schema(rename = "4h")]
    H4,
    /// One day (UTC).
    #[schema(rename = "1d")]
    D1,
}

/// Most symbols one HTTP request may name.
pub(crate) const MAX_SYMBOLS_PER_REQUEST: usize = 1_000;

/// The comma-separated list in parameter `name` (blanks dropped), at most
/// [`MAX_SYMBOLS_PER_REQUEST`] entries.
///
/// # Errors
///
/// A 400 naming the parameter and the limit.
pub(super) fn symbol_list<'a>(name: &str, value: &'a str) -> Result<Vec<&'a str>, ApiError> {
    let list: Vec<&str> = value
        .split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .collect();
    if list.len() > MAX_SYMBOLS_PER_REQUEST {
        return Err(ApiError::bad_parameter(format!(
            "{name} names {} symbols; at most {MAX_SYMBOLS_PER_REQUEST} per request",
            list.len()
        )));
    }
    Ok(list)
}

/// The response header naming where the next page of a paged list starts (absent on the last
/// page): pass it back as `from_id` (`fromId` on the Binance routes).
pub const NEXT_FROM_ID: &str = "x-next-from-id";

/// A page of a list by instrument id: `from` (default 0) and `limit` (default and most
/// `max`), from parameters named `from_name` and `limit`.
///
/// # Errors
///
/// A message naming the parameter, for a value that is not a number or a limit of 0 or above
/// `max`.
pub(super) fn page_of(
    q: &std::collections::HashMap<String, String>,
    from_name: &str,
    max: u32,
) -> Result<tickd_protocol::Page, String> {
    let from_id = match q.get(from_name) {
        None => 0,
        Some(v) => v
            .parse::<u32>()
            .map_err(|_| format!("{from_name} {v:?} is not an instrument id (0 to 4294967295)"))?,
    };
    let limit = match q.get("limit") {
        None => max,
        Some(v) => match v.parse::<u32>() {
            Ok(n) if (1..=max).contains(&n) => n,
            _ => return Err(format!("limit {v:?} is not a number from 1 to {max}")),
        },
    };
    Ok(tickd_protocol::Page {
        from_id,
        limit: Some(limit),
    })
}

/// `body` as a response with the [`NEXT_FROM_ID`] header when there is a next page.
pub(super) fn with_next(
    body: impl axum::response::IntoResponse,
    next: Option<u32>,
) -> axum::response::Response {
    let mut response = body.into_response();
    if let Some(id) = next {
        response
            .headers_mut()
            .insert(NEXT_FROM_ID, axum::http::HeaderValue::from(id));
    }
    response
}

/// Parses a symbol parameter.
///
/// # Errors
///
/// 400 naming the parameter.
pub fn symbol_param(name: &str, value: Option<&str>) -> Result<Symbol, ApiError> {
    let v = value.ok_or_else(|| ApiError::bad_parameter(format!("missing parameter {name}")))?;
    Symbol::new(v).map_err(|e| ApiError::bad_parameter(format!("{name}={v:?}: {e}")))
}

/// Parses an interval parameter (`1m`, nautilus aliases).
///
/// # Errors
///
/// 400 naming the parameter.
pub fn interval_param(name: &str, value: &str) -> Result<Interval, ApiError> {
    value
        .parse()
        .map_err(|e| ApiError::bad_parameter(format!("{name}: {e}")))
}

/// Parses a time: RFC 3339, or integer seconds / milliseconds / nanoseconds by magnitude.
///
/// # Errors
///
/// 400 naming the parameter.
pub fn time_param(name: &str, value: &str) -> Result<UnixNanos, ApiError> {
    if let Ok(n) = value.parse::<u64>() {
        let ns = match n {
            0..=99_999_999_999 => n.checked_mul(1_000_000_000),
            100_000_000_000..=99_999_999_999_999 => n.checked_mul(1_000_000),
            _ => Some(n),
        };
        return ns
            .map(UnixNanos)
            .ok_or_else(|| ApiError::bad_parameter(format!("{name}={value}: out of range")));
    }
    tickd_formats::time::parse_rfc3339(value).map_err(|e| match e {
        ParseTimeError::Before1970(_) => {
            ApiError::bad_parameter(format!("{name}={value:?}: before 1970"))
        }
        _ => ApiError::bad_parameter(format!(
            "{name}={value:?}: expected RFC 3339 or a Unix time"
        )),
    })
}
