//! Small HTTP helpers shared by the handlers: JSON answers, reading request headers that may
//! be malformed, and the rejection of a request body that could not be read.
//!
//! Every value here comes from a client and may be anything: nothing in this module may
//! panic, and each helper answers `None` or a rejection rather than guessing. It knows nothing
//! about either vendor.

use axum::body::{Body, Bytes};
use axum::extract::rejection::{BytesRejection, FailedToBufferBody};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::json;

/// The largest request body accepted; bigger ones are answered 413.
pub(crate) const MAX_BODY_BYTES: usize = 64 * 1024;

/// `body` as JSON with `status`.
pub(crate) fn json<T: Serialize + ?Sized>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => {
            let mut response = Response::new(Body::from(bytes));
            *response.status_mut() = status;
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
        // Only a map with non-string keys fails to serialise, and the emulator builds none;
        // answer something well-formed anyway.
        Err(error) => {
            tracing::error!(%error, "emulator: response not serialisable");
            let mut response = Response::new(Body::from(r#"{"error":"server_error"}"#));
            *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
    }
}

/// An empty 204.
pub(crate) fn no_content() -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
}

/// Adds a header to a response.
pub(crate) fn with_header(
    mut response: Response,
    name: header::HeaderName,
    value: HeaderValue,
) -> Response {
    response.headers_mut().insert(name, value);
    response
}

/// The request's media type, lowercased, without parameters (`application/json` for
/// `Application/JSON; charset=utf-8`); `None` if absent or not text.
pub(crate) fn media_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let media_type = value.split(';').next().unwrap_or_default().trim();
    Some(media_type.to_ascii_lowercase())
}

/// The credentials part of an `Authorization` header with the given scheme (case-insensitive):
/// `Some("abc")` for `Bearer abc` when `scheme` is `bearer`. `None` when the header is absent,
/// not text, or of another scheme.
pub(crate) fn authorization<'h>(headers: &'h HeaderMap, scheme: &str) -> Option<&'h str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (given, rest) = value.split_once(' ').unwrap_or((value, ""));
    given.eq_ignore_ascii_case(scheme).then(|| rest.trim())
}

/// A request body the extractor refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BodyRejection {
    /// Larger than [`MAX_BODY_BYTES`]: 413.
    TooLarge,
    /// The client hung up mid-body or sent a broken chunked encoding: 400.
    Unreadable,
}

impl From<BytesRejection> for BodyRejection {
    fn from(rejection: BytesRejection) -> Self {
        match rejection {
            BytesRejection::FailedToBufferBody(FailedToBufferBody::LengthLimitError(_)) => {
                BodyRejection::TooLarge
            }
            _ => BodyRejection::Unreadable,
        }
    }
}

impl IntoResponse for BodyRejection {
    fn into_response(self) -> Response {
        match self {
            BodyRejection::TooLarge => json(
                StatusCode::PAYLOAD_TOO_LARGE,
                &json!({
                    "detail": format!("Request body larger than {MAX_BODY_BYTES} bytes."),
                }),
            ),
            BodyRejection::Unreadable => json(
                StatusCode::BAD_REQUEST,
                &json!({"detail": "The request body could not be read."}),
            ),
        }
    }
}

/// The body, or why it could not be read.
pub(crate) fn body(extracted: Result<Bytes, BytesRejection>) -> Result<Bytes, BodyRejection> {
    extracted.map_err(BodyRejection::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(name: header::HeaderName, value: &[u8]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(name, HeaderValue::from_bytes(value).unwrap());
        headers
    }

    #[test]
    fn media_types_are_normalised() {
        let h = headers(header::CONTENT_TYPE, b"Application/JSON ; charset=utf-8");
        assert_eq!(media_type(&h).as_deref(), Some("application/json"));
        assert_eq!(media_type(&HeaderMap::new()), None);
        let h = headers(header::CONTENT_TYPE, b"\xff\xfe");
        assert_eq!(media_type(&h), None);
    }

    #[test]
    fn authorization_schemes_are_case_insensitive() {
        let h = headers(header::AUTHORIZATION, b"bEaReR  abc ");
        assert_eq!(authorization(&h, "bearer"), Some("abc"));
        assert_eq!(authorization(&h, "basic"), None);
        let h = headers(header::AUTHORIZATION, b"Bearer");
        assert_eq!(authorization(&h, "bearer"), Some(""));
        let h = headers(header::AUTHORIZATION, b"Bearer \xff");
        assert_eq!(authorization(&h, "bearer"), None);
    }
}
