//! Faults hyper cannot produce, written byte by byte on the TCP stream: a partial head then a
//! reset, a head or body dripped out slowly, a body cut short or far too long, two
//! `Content-Length` headers, an endless stream of `100 Continue`, a request never answered.
//!
//! The server hands a connection over here once a fault has taken it from hyper (see
//! `server.rs`); this module owns the socket from then on and drops it when the [`RawPlan`] is
//! done, when the client goes away, or when the emulator stops, whichever comes first. Every
//! loop in it either waits on the socket or sleeps: none can spin.

use std::io::ErrorKind;
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode, header};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

/// How long a finished plan waits for the client to close its side before dropping the
/// socket; closing with unread request bytes would reset the connection instead.
const LINGER: Duration = Duration::from_secs(1);

/// The informational response an endless flood repeats.
const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// How many informational responses a flood writes at once, and how long it waits between
/// bursts: about 10 000 a second, bounded by how fast the client reads.
const FLOOD_BURST: usize = 100;
const FLOOD_PAUSE: Duration = Duration::from_millis(10);

/// The shortest pause between two slow writes.
const SLOW_TICK: Duration = Duration::from_millis(10);

/// What the emulator writes on a connection it took from hyper, step by step.
#[derive(Debug, Default)]
pub(crate) struct RawPlan {
    steps: Vec<Step>,
}

#[derive(Debug)]
enum Step {
    /// Bytes, at once.
    Write(Vec<u8>),
    /// Bytes, at `per_second`.
    WriteSlowly { bytes: Vec<u8>, per_second: u32 },
    /// An oversized body of `bytes` bytes: a small JSON object, then spaces; in chunks when
    /// `chunked`.
    Filler { bytes: u64, chunked: bool },
    /// `100 Continue`, again and again.
    Flood,
    /// Nothing: read and discard until the client closes.
    Hold,
    /// A TCP reset now.
    Reset,
}

impl RawPlan {
    pub(crate) fn write(mut self, bytes: Vec<u8>) -> Self {
        self.steps.push(Step::Write(bytes));
        self
    }

    pub(crate) fn write_slowly(mut self, bytes: Vec<u8>, per_second: u32) -> Self {
        self.steps.push(Step::WriteSlowly {
            bytes,
            per_second: per_second.max(1),
        });
        self
    }

    pub(crate) fn filler(mut self, bytes: u64, chunked: bool) -> Self {
        self.steps.push(Step::Filler { bytes, chunked });
        self
    }

    pub(crate) fn flood(mut self) -> Self {
        self.steps.push(Step::Flood);
        self
    }

    pub(crate) fn hold(mut self) -> Self {
        self.steps.push(Step::Hold);
        self
    }

    pub(crate) fn reset(mut self) -> Self {
        self.steps.push(Step::Reset);
        self
    }
}

/// A response head: the status line, `headers` except the framing ones, then the given
/// `Content-Length` values (several to make them conflict) or `Transfer-Encoding: chunked`,
/// and `Connection: close`, since the emulator closes the connection after a raw answer.
pub(crate) fn head(
    status: StatusCode,
    headers: &HeaderMap,
    content_lengths: &[u64],
    chunked: bool,
) -> Vec<u8> {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    )
    .into_bytes();
    for (name, value) in headers {
        if name == header::CONTENT_LENGTH
            || name == header::TRANSFER_ENCODING
            || name == header::CONNECTION
        {
            continue;
        }
        head.extend_from_slice(name.as_str().as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    for length in content_lengths {
        head.extend_from_slice(format!("content-length: {length}\r\n").as_bytes());
    }
    if chunked {
        head.extend_from_slice(b"transfer-encoding: chunked\r\n");
    }
    head.extend_from_slice(b"connection: close\r\n\r\n");
    head
}

/// Runs `plan` on `stream` until it is done, the client goes away, or `stop` says the
/// emulator is stopping; then closes the connection.
pub(crate) async fn run(plan: RawPlan, mut stream: TcpStream, mut stop: watch::Receiver<()>) {
    for step in plan.steps {
        let outcome = tokio::select! {
            biased;
            _ = stop.changed() => return,
            outcome = run_step(&mut stream, step) => outcome,
        };
        match outcome {
            Outcome::Next => {}
            Outcome::Gone => return,
            Outcome::Reset => {
                reset(stream);
                return;
            }
        }
    }
    tokio::select! {
        _ = stop.changed() => {}
        () = close(&mut stream) => {}
    }
}

/// What a step left the connection in.
enum Outcome {
    /// Go on with the next step.
    Next,
    /// The client went away (or the socket failed): stop.
    Gone,
    /// Reset the connection.
    Reset,
}

async fn run_step(stream: &mut TcpStream, step: Step) -> Outcome {
    let written = match step {
        Step::Write(bytes) => stream.write_all(&bytes).await,
        Step::WriteSlowly { bytes, per_second } => write_slowly(stream, &bytes, per_second).await,
        Step::Filler { bytes, chunked } => filler(stream, bytes, chunked).await,
        Step::Flood => flood(stream).await,
        Step::Hold => {
            discard_until_closed(stream).await;
            return Outcome::Gone;
        }
        Step::Reset => return Outcome::Reset,
    };
    match written {
        Ok(()) => Outcome::Next,
        Err(error) => {
            tracing::debug!(%error, "emulator: the client went away during a fault");
            Outcome::Gone
        }
    }
}

/// Writes `bytes` at about `per_second`: one small write per tick (at least [`SLOW_TICK`]
/// apart), so the pace holds for slow and fast rates alike.
async fn write_slowly(
    stream: &mut TcpStream,
    bytes: &[u8],
    per_second: u32,
) -> std::io::Result<()> {
    let per_second = u64::from(per_second.max(1));
    let tick = Duration::from_millis((1000 / per_second).max(1)).max(SLOW_TICK);
    let tick_millis = u64::try_from(tick.as_millis()).unwrap_or(u64::MAX);
    let per_tick = usize::try_from((per_second * tick_millis / 1000).max(1)).unwrap_or(1);
    for (n, chunk) in bytes.chunks(per_tick).enumerate() {
        if n > 0 {
            tokio::time::sleep(tick).await;
        }
        stream.write_all(chunk).await?;
        stream.flush().await?;
    }
    Ok(())
}

/// An oversized JSON body: `{"error":"oversized"}` then spaces up to `bytes` in total.
async fn filler(stream: &mut TcpStream, bytes: u64, chunked: bool) -> std::io::Result<()> {
    const PREFIX: &[u8] = br#"{"error":"oversized"}"#;
    const CHUNK: usize = 64 * 1024;
    let spaces = vec![b' '; CHUNK];
    let mut left = bytes;
    let mut first = true;
    while left > 0 {
        let mut piece: Vec<u8> = Vec::with_capacity(CHUNK + 16);
        let size = usize::try_from(left).unwrap_or(CHUNK).min(CHUNK);
        if first {
            let prefix = PREFIX.get(..size.min(PREFIX.len())).unwrap_or_default();
            piece.extend_from_slice(prefix);
            first = false;
        }
        let fill = size - piece.len();
        piece.extend_from_slice(spaces.get(..fill).unwrap_or_default());
        left -= piece.len() as u64;
        if chunked {
            let mut framed = format!("{:x}\r\n", piece.len()).into_bytes();
            framed.extend_from_slice(&piece);
            framed.extend_from_slice(b"\r\n");
            stream.write_all(&framed).await?;
        } else {
            stream.write_all(&piece).await?;
        }
    }
    if chunked {
        stream.write_all(b"0\r\n\r\n").await?;
    }
    stream.flush().await
}

/// `100 Continue` forever, in bursts; ends with an error once the client is gone.
async fn flood(stream: &mut TcpStream) -> std::io::Result<()> {
    let burst = CONTINUE.repeat(FLOOD_BURST);
    loop {
        stream.write_all(&burst).await?;
        tokio::time::sleep(FLOOD_PAUSE).await;
    }
}

/// Reads and discards until the client closes (or the socket fails).
async fn discard_until_closed(stream: &mut TcpStream) {
    let mut buffer = [0u8; 4096];
    loop {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

/// Ends the connection politely: our side first, then whatever the client still sends is
/// read (for at most [`LINGER`]) so that closing does not reset the connection.
async fn close(stream: &mut TcpStream) {
    if let Err(error) = stream.shutdown().await {
        if error.kind() != ErrorKind::NotConnected {
            tracing::debug!(%error, "emulator: shutdown after a fault failed");
        }
        return;
    }
    let _ = tokio::time::timeout(LINGER, discard_until_closed(stream)).await;
}

/// Drops the connection with a TCP reset (`SO_LINGER` of zero).
fn reset(stream: TcpStream) {
    // `set_linger` is deprecated because a non-zero linger blocks the thread on drop; a zero
    // one does not block, it makes the drop send a reset at once.
    #[allow(deprecated)]
    if let Err(error) = stream.set_linger(Some(Duration::ZERO)) {
        tracing::debug!(%error, "emulator: cannot set SO_LINGER for a reset");
    }
    drop(stream);
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn heads_replace_the_framing_headers() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static("99"));
        let head = head(StatusCode::OK, &headers, &[10, 11], false);
        assert_eq!(
            String::from_utf8(head).unwrap(),
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 10\r\n\
             content-length: 11\r\nconnection: close\r\n\r\n"
        );
        let head = super::head(StatusCode::NOT_FOUND, &HeaderMap::new(), &[], true);
        assert_eq!(
            String::from_utf8(head).unwrap(),
            "HTTP/1.1 404 Not Found\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n"
        );
    }
}
