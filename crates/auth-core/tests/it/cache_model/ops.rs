//! The operations a sequence is made of, their strategies, and what callers see.

#[allow(clippy::wildcard_imports)]
use super::*;

// ---------------------------------------------------------------------------------------------
// Operations

/// The cache's settings for one sequence.
#[derive(Clone, Debug)]
pub(super) struct Settings {
    pub(super) refresh_ahead: f64,
    pub(super) jitter: f64,
    pub(super) margin: i64,
    pub(super) default_lifetime: i64,
    pub(super) probe: i64,
    pub(super) max_backoff: i64,
    pub(super) fetch_timeout: Duration,
}

#[derive(Clone, Debug)]
pub(super) enum Op {
    /// A new task calls `token()`.
    Call,
    /// A new task calls `token()` and is cancelled if it waits.
    CallAndCancel,
    /// `fresh_token()`, the hot path alone.
    FreshToken,
    /// `invalidate` of a token some caller got.
    Invalidate(Which),
    /// The clock moves forward, by milliseconds.
    Advance(u64),
    /// The clock moves back, by milliseconds.
    Rewind(u64),
    /// The clock moves (either way) to a point of the model's state, give or take
    /// milliseconds: where the interesting boundaries are.
    Jump(Landmark, i64),
    /// The running fetch answers (nothing happens if none runs).
    Answer(Reply),
    /// The running fetch never answers: the fetch timeout ends it.
    Hang,
}

#[derive(Clone, Copy, Debug)]
pub(super) enum Landmark {
    /// The earliest and the latest possible refresh point of the cached token.
    RefreshEarliest,
    RefreshLatest,
    /// Where callers stop being served the cached token.
    MustRefresh,
    Expiry,
    /// The start, and the earliest and latest possible end, of the backoff.
    BackoffStart,
    BackoffEarliestEnd,
    BackoffLatestEnd,
}

#[derive(Clone, Copy, Debug)]
pub(super) enum Which {
    /// The token the latest caller got.
    Latest,
    /// The first token any caller got.
    Oldest,
    /// The latest token's value, but not from this cache (generation 0).
    Lookalike,
}

#[derive(Clone, Debug)]
pub(super) enum Reply {
    Token {
        /// Seconds from `obtained_at` to `expires_at`; no expiry if `None`.
        lifetime: Option<u64>,
        /// `obtained_at` relative to the clock at the answer, in seconds.
        obtained: i64,
        /// The value of the token rejected last, if any (a server that hands it out again).
        rejected_again: bool,
    },
    Fail {
        retryable: bool,
        retry_after: Option<u64>,
    },
    Panic,
}

pub(super) fn settings(fetch_timeout: Duration) -> impl Strategy<Value = Settings> {
    (
        prop::sample::select(vec![0.0, 0.2, 0.5]),
        prop::sample::select(vec![0.0, 0.5, 1.0]),
        prop::sample::select(vec![0, 10, 60]),
        prop::sample::select(vec![1, 60, 3600]),
        prop::sample::select(vec![100, 1_000, 5_000]),
        prop::sample::select(vec![0, 10_000, 60_000]),
    )
        .prop_map(
            move |(refresh_ahead, jitter, margin, lifetime, probe, max)| Settings {
                refresh_ahead,
                jitter,
                margin: margin * S,
                default_lifetime: lifetime * S,
                probe: probe * MS,
                max_backoff: (max * MS).max(probe * MS),
                fetch_timeout,
            },
        )
}

pub(super) fn millis() -> impl Strategy<Value = u64> {
    prop_oneof![1..1_000u64, 1_000..120_000u64, 120_000..7_200_000u64]
}

pub(super) fn landmark() -> impl Strategy<Value = Landmark> {
    prop::sample::select(vec![
        Landmark::RefreshEarliest,
        Landmark::RefreshLatest,
        Landmark::MustRefresh,
        Landmark::Expiry,
        Landmark::BackoffStart,
        Landmark::BackoffEarliestEnd,
        Landmark::BackoffLatestEnd,
    ])
}

pub(super) fn reply() -> impl Strategy<Value = Reply> {
    let lifetime = prop_oneof![
        1 => Just(None),
        1 => (0..3u64).prop_map(Some),
        6 => prop::sample::select(vec![10, 60, 300, 1_000, 3_600, 36_000]).prop_map(Some),
    ];
    let obtained = prop_oneof![6 => Just(0), 1 => -7_200..60i64];
    prop_oneof![
        8 => (lifetime, obtained, prop::bool::weighted(0.3)).prop_map(
            |(lifetime, obtained, rejected_again)| Reply::Token { lifetime, obtained, rejected_again }
        ),
        2 => (any::<bool>(), prop::option::of(0..120u64))
            .prop_map(|(retryable, retry_after)| Reply::Fail { retryable, retry_after }),
        1 => Just(Reply::Panic),
    ]
}

pub(super) fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => Just(Op::Call),
        2 => Just(Op::CallAndCancel),
        1 => Just(Op::FreshToken),
        2 => prop::sample::select(vec![Which::Latest, Which::Oldest, Which::Lookalike])
            .prop_map(Op::Invalidate),
        2 => millis().prop_map(Op::Advance),
        1 => millis().prop_map(Op::Rewind),
        4 => (landmark(), prop_oneof![Just(0), Just(-1), Just(1), -2_000..2_000i64])
            .prop_map(|(landmark, offset)| Op::Jump(landmark, offset)),
        5 => reply().prop_map(Op::Answer),
    ]
}

/// Operations with a hang or two among them.
pub(super) fn ops_with_hangs() -> impl Strategy<Value = Vec<Op>> {
    (
        prop::collection::vec(op(), 1..30),
        prop::collection::vec(any::<prop::sample::Index>(), 1..3),
    )
        .prop_map(|(mut ops, hangs)| {
            for at in hangs {
                let at = at.index(ops.len() + 1);
                ops.insert(at, Op::Hang);
            }
            ops
        })
}

// ---------------------------------------------------------------------------------------------
// What callers see

/// A token as the model knows it: its value and generation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Served {
    pub(super) secret: String,
    pub(super) generation: u64,
}

impl Served {
    pub(super) fn of(token: &Token) -> Self {
        Self {
            secret: token.expose_secret().to_owned(),
            generation: token.generation(),
        }
    }
}

/// An error as the model knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Failure {
    Unavailable(Option<Duration>),
    Rejected,
    Timeout,
    Aborted,
    ExpiredOnArrival(Duration),
}

impl Failure {
    pub(super) fn of(error: &AuthError) -> Self {
        match error {
            AuthError::UnexpectedStatus { .. } => Self::Unavailable(error.retry_after()),
            AuthError::RejectedCredentials { .. } => Self::Rejected,
            AuthError::Timeout { .. } => Self::Timeout,
            AuthError::FetchAborted => Self::Aborted,
            AuthError::ExpiredOnArrival { expired_for, .. } => Self::ExpiredOnArrival(*expired_for),
            other => panic!("an error the model does not know: {other:?}"),
        }
    }

    pub(super) fn is_retryable(&self) -> bool {
        !matches!(self, Self::Rejected | Self::ExpiredOnArrival(_))
    }

    pub(super) fn retry_after(&self) -> i64 {
        match self {
            Self::Unavailable(Some(after)) => nanos(*after),
            _ => 0,
        }
    }
}

pub(super) type Answer = Result<Served, Failure>;

pub(super) fn nanos(duration: Duration) -> i64 {
    i64::try_from(duration.as_nanos()).unwrap_or(i64::MAX)
}
