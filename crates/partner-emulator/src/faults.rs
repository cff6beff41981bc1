//! Fault injection: the public [`Fault`] type with its [`EchoFormat`] and [`PaginationTrap`],
//! and the per-endpoint queues faults wait in.
//!
//! This module decides *which* fault the next request of an endpoint gets and holds its
//! parameters; carrying it out (answering a status, writing raw bytes, cutting the connection)
//! is `server.rs`'s and `wire.rs`'s job, because only the server can reach the connection.

use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

use axum::body::Bytes;
use serde::{Deserialize, Serialize};

use crate::gzip;
use crate::types::Endpoint;

/// The deepest nesting [`Fault::deep_json`] builds.
pub(crate) const MAX_DEPTH: usize = 1_000_000;

/// The most users [`PaginationTrap::HugePage`] puts on its page.
pub(crate) const MAX_PAGE_USERS: usize = 100_000;

/// A fault for the next requests of one endpoint, queued with
/// [`Emulator::inject_fault`](crate::Emulator::inject_fault).
///
/// A fault applies to the next [`times`](Self::times) requests (default 1), counted from when
/// it reaches the front of its endpoint's queue; then normal behaviour resumes. Faults for the
/// same endpoint apply one after the other, in the order they were injected. Faulted requests
/// are counted and logged like any other.
///
/// Three families:
/// - **answers instead of the endpoint's**, before anything is checked: [`status`](Self::status),
///   [`redirect`](Self::redirect), [`echo_credentials`](Self::echo_credentials),
///   [`control_characters`](Self::control_characters), [`deep_json`](Self::deep_json),
///   [`gzip_bomb`](Self::gzip_bomb);
/// - **the endpoint's own answer, damaged**: [`delay`](Self::delay),
///   [`truncated_body`](Self::truncated_body), [`slow_headers`](Self::slow_headers),
///   [`slow_body`](Self::slow_body),
///   [`conflicting_content_length`](Self::conflicting_content_length),
///   [`invalid_utf8`](Self::invalid_utf8), [`json_field`](Self::json_field),
///   [`pagination`](Self::pagination);
/// - **broken connections**, written byte by byte on the socket:
///   [`close_connection`](Self::close_connection),
///   [`reset_mid_headers`](Self::reset_mid_headers), [`never_answer`](Self::never_answer),
///   [`informational_flood`](Self::informational_flood),
///   [`oversized_body`](Self::oversized_body),
///   [`oversized_chunked_body`](Self::oversized_chunked_body).
///
/// Faults that write on the socket end the connection when they are done. Those that could
/// go on forever stop when the client goes away, and all of them stop when the emulator is
/// dropped or shut down.
///
/// ```
/// use std::time::Duration;
/// use partner_emulator::{EchoFormat, Fault, PaginationTrap};
///
/// let outage = Fault::status(503).retry_after(2).times(3);
/// let slow = Fault::delay(Duration::from_millis(200));
/// let reset = Fault::close_connection();
/// let drip = Fault::slow_body(10);
/// let leak = Fault::echo_credentials(500, EchoFormat::JsonEscaped);
/// let spin = Fault::pagination(PaginationTrap::Cycle).times(10);
/// let overflow = Fault::json_field("expires_in", "1e309");
/// # let _ = (outage, slow, reset, drip, leak, spin, overflow);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    pub(crate) kind: FaultKind,
    times: u32,
}

/// What a fault does to one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum FaultKind {
    Status {
        status: u16,
        retry_after: Option<u64>,
    },
    Delay(Duration),
    CloseConnection,
    ResetMidHeaders,
    TruncatedBody,
    SlowHeaders {
        bytes_per_second: u32,
    },
    SlowBody {
        bytes_per_second: u32,
    },
    NeverAnswer,
    OversizedBody {
        bytes: u64,
        chunked: bool,
    },
    GzipBomb(GzipBody),
    InvalidUtf8,
    DeepJson {
        depth: usize,
    },
    InformationalFlood,
    ConflictingContentLength,
    Redirect {
        status: u16,
        location: String,
    },
    EchoCredentials {
        status: u16,
        format: EchoFormat,
    },
    ControlCharacters {
        status: u16,
    },
    Pagination(PaginationTrap),
    JsonField {
        name: String,
        raw: String,
    },
}

/// A gzip bomb's bytes, built once when the fault is made; `Debug` shows sizes only.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct GzipBody {
    pub(crate) bytes: Bytes,
    pub(crate) inflated: u64,
}

impl fmt::Debug for GzipBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GzipBody")
            .field("wire_bytes", &self.bytes.len())
            .field("inflated", &self.inflated)
            .finish()
    }
}

/// How [`Fault::echo_credentials`] writes the secret it echoes, as servers that leak one do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EchoFormat {
    /// `text/plain`, the secret as it is (`"raw"` over HTTP).
    Raw,
    /// `application/json`, the secret in an `error_description`, escaped as PHP's
    /// `json_encode` and Python's `json.dumps` do: `/` as `\/`, every non-ASCII character as
    /// `\u00e9` (`"json_escaped"` over HTTP).
    JsonEscaped,
    /// `application/x-www-form-urlencoded`, the secret form-urlencoded (`"form_encoded"`).
    FormEncoded,
    /// `text/html`, the secret HTML-escaped inside an error page (`"html"`).
    Html,
}

/// A way for `GET .../users` to mislead a client that follows `next` links, for
/// [`Fault::pagination`].
///
/// Trapped pages use the envelope of the current [`ListFormat`](crate::ListFormat) (`Results`
/// when it is `BareArray`, with 100 users a page), and hold the real users of the requested
/// page unless said otherwise. Each trapped request uses up one of the fault's
/// [`times`](Fault::times).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PaginationTrap {
    /// `next` is the URL of the page just served.
    SelfLink,
    /// Page 1's `next` is page 2, page 2's `next` is page 1 (`?page=1`, so the two URLs of
    /// page 1 differ), and so on.
    Cycle,
    /// Every page is full of made-up users, and `next` is always the following page.
    Endless,
    /// One page with this many made-up users (at most 100 000) and no `next`.
    HugePage {
        /// How many users.
        users: usize,
    },
    /// `next` is this URL, e.g. another host or port.
    CrossOrigin {
        /// The `next` link.
        next: String,
    },
}

impl Fault {
    fn of(kind: FaultKind) -> Self {
        Self { kind, times: 1 }
    }

    /// Answer `status` with the JSON body `{"error":"injected","status":S}` instead of handling
    /// the request. Codes outside 200–599 are answered as 500, since an informational status is
    /// not a final answer in HTTP/1.1.
    pub fn status(status: u16) -> Self {
        Self::of(FaultKind::Status {
            status,
            retry_after: None,
        })
    }

    /// Wait `delay`, then handle the request normally (on the real clock, not the emulator's).
    pub fn delay(delay: Duration) -> Self {
        Self::of(FaultKind::Delay(delay))
    }

    /// Close the TCP connection without writing any response: the client observes a
    /// connection error (the request was sent, no status came back), not an HTTP status.
    pub fn close_connection() -> Self {
        Self::of(FaultKind::CloseConnection)
    }

    /// Write the start of a `200` response head (`HTTP/1.1 200 OK` and part of a header
    /// line), then reset the connection (TCP RST): the client sees a connection reset while
    /// reading the headers.
    pub fn reset_mid_headers() -> Self {
        Self::of(FaultKind::ResetMidHeaders)
    }

    /// Answer the endpoint's own response with its full `Content-Length`, but send only the
    /// first half of the body (at least one byte short), then close the connection.
    pub fn truncated_body() -> Self {
        Self::of(FaultKind::TruncatedBody)
    }

    /// Answer the endpoint's own response, writing its head at `bytes_per_second` (at least
    /// 1) and its body at once.
    pub fn slow_headers(bytes_per_second: u32) -> Self {
        Self::of(FaultKind::SlowHeaders {
            bytes_per_second: bytes_per_second.max(1),
        })
    }

    /// Answer the endpoint's own response, writing its head at once and its body at
    /// `bytes_per_second` (at least 1).
    pub fn slow_body(bytes_per_second: u32) -> Self {
        Self::of(FaultKind::SlowBody {
            bytes_per_second: bytes_per_second.max(1),
        })
    }

    /// Read the request and never answer; the connection stays open until the client closes
    /// it (or the emulator stops).
    pub fn never_answer() -> Self {
        Self::of(FaultKind::NeverAnswer)
    }

    /// Answer `200` with `Content-Length: bytes` and send all of them: a small JSON object
    /// followed by spaces (still valid JSON), streamed until done or until the client goes
    /// away.
    pub fn oversized_body(bytes: u64) -> Self {
        Self::of(FaultKind::OversizedBody {
            bytes,
            chunked: false,
        })
    }

    /// Like [`oversized_body`](Self::oversized_body), with `Transfer-Encoding: chunked`, so
    /// the client cannot know the size up front.
    pub fn oversized_chunked_body(bytes: u64) -> Self {
        Self::of(FaultKind::OversizedBody {
            bytes,
            chunked: true,
        })
    }

    /// Answer `200` with `Content-Type: application/json`, `Content-Encoding: gzip` and a
    /// valid gzip body that inflates to at least `inflated_bytes` zero bytes (clamped to
    /// 1 byte–16 GiB) while about a thousandth of that goes over the wire. The body is
    /// built here, once.
    pub fn gzip_bomb(inflated_bytes: u64) -> Self {
        let (bytes, inflated) = gzip::bomb(inflated_bytes);
        Self::of(FaultKind::GzipBomb(GzipBody {
            bytes: Bytes::from(bytes),
            inflated,
        }))
    }

    /// Answer the endpoint's own response with the bytes `0xFF 0xFE` (never valid UTF-8)
    /// inserted into its first JSON string value.
    pub fn invalid_utf8() -> Self {
        Self::of(FaultKind::InvalidUtf8)
    }

    /// Answer `200` with `Content-Type: application/json` and a body of `depth` nested
    /// arrays, `[[[...]]]` (`depth` clamped to 1–1 000 000).
    pub fn deep_json(depth: usize) -> Self {
        Self::of(FaultKind::DeepJson {
            depth: depth.clamp(1, MAX_DEPTH),
        })
    }

    /// Answer with an endless stream of `HTTP/1.1 100 Continue` informational responses
    /// (about 10 000 a second) and never a final one, until the client goes away.
    pub fn informational_flood() -> Self {
        Self::of(FaultKind::InformationalFlood)
    }

    /// Answer the endpoint's own response with two `Content-Length` headers that disagree
    /// (the true length, then one more), then close the connection.
    pub fn conflicting_content_length() -> Self {
        Self::of(FaultKind::ConflictingContentLength)
    }

    /// Answer a redirect with `Location: location`, e.g. to another host or port. `status` is
    /// used if it is within 300–399, else 302.
    pub fn redirect(status: u16, location: impl Into<String>) -> Self {
        Self::of(FaultKind::Redirect {
            status: if (300..=399).contains(&status) {
                status
            } else {
                302
            },
            location: location.into(),
        })
    }

    /// Answer `status` (500 outside 200–599) with a body that echoes the credential the
    /// request carried, written as `format` says: the secret of a Basic header, else a
    /// `client_secret` form or JSON parameter, else a bearer token, else nothing.
    pub fn echo_credentials(status: u16, format: EchoFormat) -> Self {
        Self::of(FaultKind::EchoCredentials { status, format })
    }

    /// Answer `status` (500 outside 200–599) with a JSON error whose `error_description` and
    /// `detail` hold terminal control sequences: `ESC[2J` (clear screen), BEL, CR LF and a
    /// forged line `error: nothing happened, all good`.
    pub fn control_characters(status: u16) -> Self {
        Self::of(FaultKind::ControlCharacters { status })
    }

    /// Answer `GET .../users` with a page that sets `trap`; on other endpoints the request is
    /// handled normally.
    pub fn pagination(trap: PaginationTrap) -> Self {
        let trap = match trap {
            PaginationTrap::HugePage { users } => PaginationTrap::HugePage {
                users: users.min(MAX_PAGE_USERS),
            },
            other => other,
        };
        Self::of(FaultKind::Pagination(trap))
    }

    /// Answer the endpoint's own response with the top-level field `name` of its JSON object
    /// set to `raw`, inserted as it is: valid JSON that a client may still not accept, e.g.
    /// `Fault::json_field("expires_in", "1e309")` (beyond `f64`), `"-1"`, or
    /// `"18446744073709551616"`. Answers that are not a JSON object are left alone.
    pub fn json_field(name: impl Into<String>, raw: impl Into<String>) -> Self {
        Self::of(FaultKind::JsonField {
            name: name.into(),
            raw: raw.into(),
        })
    }

    /// Adds `Retry-After: secs` to a [`status`](Self::status) fault; ignored for other kinds.
    #[must_use]
    pub fn retry_after(mut self, secs: u64) -> Self {
        if let FaultKind::Status { retry_after, .. } = &mut self.kind {
            *retry_after = Some(secs);
        }
        self
    }

    /// Applies the fault to the next `n` requests instead of one. A fault with `n == 0` is
    /// never applied.
    #[must_use]
    pub fn times(mut self, n: u32) -> Self {
        self.times = n;
        self
    }
}

/// One queue of pending faults per endpoint.
#[derive(Debug, Default)]
pub(crate) struct FaultQueues {
    queues: [VecDeque<Fault>; Endpoint::ALL.len()],
}

impl FaultQueues {
    pub(crate) fn push(&mut self, endpoint: Endpoint, fault: Fault) {
        if fault.times > 0 {
            self.queues[endpoint.index()].push_back(fault);
        }
    }

    /// The fault the next request of `endpoint` gets, if any, using up one of its `times`.
    pub(crate) fn take(&mut self, endpoint: Endpoint) -> Option<FaultKind> {
        let queue = &mut self.queues[endpoint.index()];
        let front = queue.front_mut()?;
        let kind = front.kind.clone();
        front.times -= 1;
        if front.times == 0 {
            queue.pop_front();
        }
        Some(kind)
    }

    pub(crate) fn clear(&mut self) {
        self.queues.iter_mut().for_each(VecDeque::clear);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_queue_in_order_and_run_out() {
        let mut queues = FaultQueues::default();
        queues.push(Endpoint::GetUser, Fault::status(503).times(2));
        queues.push(Endpoint::GetUser, Fault::close_connection());
        queues.push(Endpoint::GetUser, Fault::status(500).times(0));
        let status = |s| FaultKind::Status {
            status: s,
            retry_after: None,
        };
        assert_eq!(queues.take(Endpoint::ListUsers), None);
        assert_eq!(queues.take(Endpoint::GetUser), Some(status(503)));
        assert_eq!(queues.take(Endpoint::GetUser), Some(status(503)));
        assert_eq!(
            queues.take(Endpoint::GetUser),
            Some(FaultKind::CloseConnection)
        );
        assert_eq!(queues.take(Endpoint::GetUser), None);
    }

    #[test]
    fn retry_after_only_changes_status_faults() {
        assert_eq!(
            Fault::delay(Duration::from_millis(5)).retry_after(3),
            Fault::delay(Duration::from_millis(5))
        );
        assert_eq!(
            Fault::status(429).retry_after(3).kind,
            FaultKind::Status {
                status: 429,
                retry_after: Some(3)
            }
        );
    }

    #[test]
    fn parameters_are_clamped_and_debug_stays_short() {
        assert_eq!(
            Fault::slow_body(0).kind,
            FaultKind::SlowBody {
                bytes_per_second: 1
            }
        );
        assert_eq!(Fault::deep_json(0).kind, FaultKind::DeepJson { depth: 1 });
        assert_eq!(
            Fault::redirect(200, "http://x").kind,
            FaultKind::Redirect {
                status: 302,
                location: "http://x".into()
            }
        );
        assert_eq!(
            Fault::pagination(PaginationTrap::HugePage { users: usize::MAX }).kind,
            FaultKind::Pagination(PaginationTrap::HugePage {
                users: MAX_PAGE_USERS
            })
        );
        let bomb = format!("{:?}", Fault::gzip_bomb(1 << 20));
        assert!(bomb.len() < 200, "{bomb}");
    }
}
