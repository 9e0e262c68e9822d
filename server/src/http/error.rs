//! Errors as JSON `{"code", "message"}` with the right status.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// The body of every seed, UDF and operations error.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable: `bad_parameter`, `unknown_symbol`, `not_found`, `unauthenticated`, `forbidden`,
    /// `rate_limited`, `too_many_websockets`.
    pub code: &'static str,
    /// What is wrong and how to fix it.
    pub message: String,
}

/// An API error: a stable code, a message a person can act on, and its status.
#[derive(Debug)]
pub struct ApiError {
    /// The HTTP status.
    pub(super) status: StatusCode,
    /// A stable code (`bad_parameter`, `unknown_symbol`, …).
    pub(super) code: &'static str,
    /// What is wrong, for a person.
    pub(super) message: String,
}

impl ApiError {
    /// 400: a parameter is missing or invalid.
    pub fn bad_parameter(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "bad_parameter",
            message: message.into(),
        }
    }

    /// 500: the server failed to render an answer (a bug: the message says what failed).
    pub fn internal(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "internal",
            message: message.into(),
        }
    }

    /// 404: no such symbol.
    pub fn unknown_symbol(symbol: &str) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            code: "unknown_symbol",
            message: format!("unknown symbol {symbol:?}: GET /symbols lists them"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(ErrorBody {
                code: self.code,
                message: self.message,
            }),
        )
            .into_response()
    }
}
