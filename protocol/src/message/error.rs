//! Errors on the wire: [`ErrorCode`] and [`ErrorMessage`] (the `Error` message), and
//! [`DecodeError`], why a payload is not a message this build can act on.

use crate::generated::wire;
use crate::scale::ScalesError;
use crate::symbol::SymbolError;

/// Why a frame's payload is not a message this build can act on.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The payload does not carry the `TICK` file identifier.
    #[error("frame is not a tickd message (missing \"TICK\" identifier)")]
    WrongIdentifier,
    /// The payload failed FlatBuffers verification.
    #[error("malformed message")]
    Malformed(#[source] flatbuffers::InvalidFlatbuffer),
    /// The message type is not one this build knows (a newer peer).
    #[error("unsupported message type {0}")]
    UnsupportedMessage(u8),
    /// A field holds a value this build does not accept.
    #[error("invalid {field}: {reason}")]
    InvalidField {
        /// Dotted path of the field, e.g. `subscribe.start`.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A symbol in a list failed validation.
    #[error("invalid {field}[{index}]")]
    InvalidSymbol {
        /// Dotted path of the list, e.g. `subscribe.symbols`.
        field: &'static str,
        /// Index in the list.
        index: usize,
        /// Why the symbol is invalid.
        #[source]
        source: SymbolError,
    },
    /// Scales in a list are out of range.
    #[error("invalid {field}[{index}]")]
    InvalidScales {
        /// Dotted path of the list, e.g. `publish.price_scales`.
        field: &'static str,
        /// Index in the list.
        index: usize,
        /// Which scales.
        #[source]
        source: ScalesError,
    },
}

impl DecodeError {
    /// Whether the connection must be closed: the peer sent bytes that are not a tickd message
    /// at all. Other errors reject only the one request, with an [`ErrorMessage`].
    pub fn is_fatal(&self) -> bool {
        matches!(self, Self::WrongIdentifier | Self::Malformed(_))
    }

    /// The [`ErrorCode`] to answer this error with.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::WrongIdentifier | Self::Malformed(_) => ErrorCode::MalformedFrame,
            Self::UnsupportedMessage(_) => ErrorCode::UnsupportedMessage,
            Self::InvalidField { .. } | Self::InvalidSymbol { .. } | Self::InvalidScales { .. } => {
                ErrorCode::InvalidRequest
            }
        }
    }
}

/// Stable error codes (wire values in the schema).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// Not stated (a newer peer's code).
    Unknown,
    /// The frame did not verify.
    MalformedFrame,
    /// No common protocol version.
    UnsupportedVersion,
    /// Unknown message type.
    UnsupportedMessage,
    /// Missing or wrong token.
    Unauthenticated,
    /// The token lacks the role.
    Forbidden,
    /// No such symbol.
    UnknownSymbol,
    /// A field is invalid.
    InvalidRequest,
    /// A configured limit was hit.
    LimitExceeded,
    /// Too many requests.
    RateLimited,
    /// No such subscription or record.
    NotFound,
    /// A server fault.
    Internal,
}

/// Either direction: a request failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorMessage {
    /// The failed request's id (0 if none).
    pub request_id: u64,
    /// Stable code.
    pub code: ErrorCode,
    /// What went wrong, for a person.
    pub message: String,
}

pub(super) fn error_code_from_wire(code: wire::ErrorCode) -> ErrorCode {
    match code {
        wire::ErrorCode::MalformedFrame => ErrorCode::MalformedFrame,
        wire::ErrorCode::UnsupportedVersion => ErrorCode::UnsupportedVersion,
        wire::ErrorCode::UnsupportedMessage => ErrorCode::UnsupportedMessage,
        wire::ErrorCode::Unauthenticated => ErrorCode::Unauthenticated,
        wire::ErrorCode::Forbidden => ErrorCode::Forbidden,
        wire::ErrorCode::UnknownSymbol => ErrorCode::UnknownSymbol,
        wire::ErrorCode::InvalidRequest => ErrorCode::InvalidRequest,
        wire::ErrorCode::LimitExceeded => ErrorCode::LimitExceeded,
        wire::ErrorCode::RateLimited => ErrorCode::RateLimited,
        wire::ErrorCode::NotFound => ErrorCode::NotFound,
        wire::ErrorCode::Internal => ErrorCode::Internal,
        _ => ErrorCode::Unknown,
    }
}

pub(super) fn error_code_to_wire(code: ErrorCode) -> wire::ErrorCode {
    match code {
        ErrorCode::Unknown => wire::ErrorCode::Unknown,
        ErrorCode::MalformedFrame => wire::ErrorCode::MalformedFrame,
        ErrorCode::UnsupportedVersion => wire::ErrorCode::UnsupportedVersion,
        ErrorCode::UnsupportedMessage => wire::ErrorCode::UnsupportedMessage,
        ErrorCode::Unauthenticated => wire::ErrorCode::Unauthenticated,
        ErrorCode::Forbidden => wire::ErrorCode::Forbidden,
        ErrorCode::UnknownSymbol => wire::ErrorCode::UnknownSymbol,
        ErrorCode::InvalidRequest => wire::ErrorCode::InvalidRequest,
        ErrorCode::LimitExceeded => wire::ErrorCode::LimitExceeded,
        ErrorCode::RateLimited => wire::ErrorCode::RateLimited,
        ErrorCode::NotFound => wire::ErrorCode::NotFound,
        ErrorCode::Internal => wire::ErrorCode::Internal,
    }
}
