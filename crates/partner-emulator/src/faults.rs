//! Fault injection: the public [`Fault`] type and the per-endpoint queues it waits in.
//!
//! This module decides *which* fault the next request of an endpoint gets; carrying it out
//! (answering a status, sleeping, cutting the connection) is the tracking layer's job in
//! `server.rs`, because only the server can reach the connection.

use std::collections::VecDeque;
use std::time::Duration;

use crate::types::Endpoint;

/// A fault for the next requests of one endpoint, queued with
/// [`Emulator::inject_fault`](crate::Emulator::inject_fault).
///
/// A fault applies to the next [`times`](Self::times) requests (default 1), counted from when
/// it reaches the front of its endpoint's queue; then normal behaviour resumes. Faults for the
/// same endpoint apply one after the other, in the order they were injected. Faulted requests
/// are counted and logged like any other.
///
/// ```
/// use std::time::Duration;
/// use partner_emulator::Fault;
///
/// let outage = Fault::status(503).retry_after(2).times(3);
/// let slow = Fault::delay(Duration::from_millis(200));
/// let reset = Fault::close_connection();
/// # let _ = (outage, slow, reset);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    kind: FaultKind,
    times: u32,
}

/// What a fault does to one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum FaultKind {
    /// Answer `status` with `{"error":"injected","status":S}` instead of handling the request.
    Status {
        status: u16,
        retry_after: Option<u64>,
    },
    /// Wait, then handle the request normally.
    Delay(Duration),
    /// Drop the TCP connection without writing any response.
    CloseConnection,
}

impl Fault {
    /// Answer `status` with the JSON body `{"error":"injected","status":S}` instead of handling
    /// the request. Codes outside 200–599 are answered as 500, since an informational status is
    /// not a final answer in HTTP/1.1.
    pub fn status(status: u16) -> Self {
        Self {
            kind: FaultKind::Status {
                status,
                retry_after: None,
            },
            times: 1,
        }
    }

    /// Wait `delay`, then handle the request normally (on the real clock, not the emulator's).
    pub fn delay(delay: Duration) -> Self {
        Self {
            kind: FaultKind::Delay(delay),
            times: 1,
        }
    }

    /// Close the TCP connection without writing any response: the client observes a
    /// connection error (the request was sent, no status came back), not an HTTP status.
    pub fn close_connection() -> Self {
        Self {
            kind: FaultKind::CloseConnection,
            times: 1,
        }
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
}
