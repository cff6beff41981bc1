//! The fleet tests: real `fleet-worker` processes (each a Podero client over a shared store)
//! against the emulator in this process, with a real Redis, a real 3-master Redis Cluster
//! or the file store between them. Every test has its own emulator, store and processes.
// Test code: a failed unwrap is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

use std::collections::BTreeSet;
use std::time::Duration;

use auth_core::test_util::store::assert_no_token_in;
use fleet_tests::{Backend, DEADLINE, Fleet, Report, Worker};
use partner_emulator::{Emulator, Endpoint, Fault};
use tokio::time::Instant;

const WORKER: &str = env!("CARGO_BIN_EXE_fleet-worker");

/// Processes in a fleet.
const FLEET: usize = 8;

/// At most this many fleets run at once, whatever `--test-threads` says: a fleet is 8
/// processes, and on a 2-core machine 18 fleets at once would make token requests slower than
/// the 2 s tokens of the outage test live (each fleet still gets its own emulator and store).
static FLEETS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(4);

/// The share of [`FLEETS`] a test takes: the timing-sensitive outage test takes two.
fn weight(test: &str) -> u32 {
    if test.contains("outage") { 2 } else { 1 }
}

fn token_requests(emulator: &Emulator) -> u64 {
    emulator.request_count(Endpoint::PoderoToken)
}

#[track_caller]
fn assert_no_errors(reports: &[Report]) {
    for (i, report) in reports.iter().enumerate() {
        assert!(report.errors.is_empty(), "process {i}: {:?}", report.errors);
    }
}

fn tokens(reports: &[Report]) -> BTreeSet<String> {
    reports
        .iter()
        .flat_map(|r| r.tokens.iter().cloned())
        .collect()
}

/// No token is in the store in clear: neither one a process reported nor one the emulator
/// still holds. The emulator's list also covers the tokens no process reported (a refresh that
/// completed after its process wrote its report, a token issued to a connection that died
/// with its process); it drops revoked tokens, which the reports cover.
#[track_caller]
fn assert_no_plaintext(backend: &Backend, emulator: &Emulator, reports: &[Report]) {
    let mut scanned = tokens(reports);
    scanned.extend(emulator.issued_tokens());
    assert!(!scanned.is_empty(), "no token to scan for");
    let scanned: Vec<String> = scanned.into_iter().collect();
    assert_no_token_in(&backend.dump(), &scanned);
}

async fn emulator() -> Emulator {
    Emulator::builder().start().await.unwrap()
}

/// 8 processes cold at once: exactly 1 token request.
async fn cold_processes_make_one_token_request(backend: Backend) {
    let emulator = emulator().await;
    let mut fleet = Fleet::spawn(WORKER, FLEET, &emulator, &backend, &[]).await;
    let reports = fleet.command("calls 1", DEADLINE).await;
    assert_no_errors(&reports);
    assert_eq!(token_requests(&emulator), 1);
    assert_eq!(
        tokens(&reports).len(),
        1,
        "every process uses the one token"
    );
    let fetched: u64 = reports.iter().map(|r| r.shared().fetches).sum();
    assert_eq!(fetched, 1);
    assert_no_plaintext(&backend, &emulator, &reports);
}

/// 8 processes × 100 API calls: still 1 token request.
async fn many_calls_make_one_token_request(backend: Backend) {
    let emulator = emulator().await;
    let mut fleet = Fleet::spawn(WORKER, FLEET, &emulator, &backend, &[]).await;
    let reports = fleet.command("calls 100", DEADLINE).await;
    assert_no_errors(&reports);
    assert!(reports.iter().all(|r| r.ok == 100));
    assert_eq!(emulator.request_count(Endpoint::ListUsers), 800);
    assert_eq!(token_requests(&emulator), 1);
    assert_no_plaintext(&backend, &emulator, &reports);
}

/// Tokens revoked at the server: every process gets a 401, and the fleet makes exactly one
/// new token request.
async fn revoked_tokens_cause_one_new_request(backend: Backend) {
    let emulator = emulator().await;
    let mut fleet = Fleet::spawn(WORKER, FLEET, &emulator, &backend, &[]).await;
    assert_no_errors(&fleet.command("calls 1", DEADLINE).await);
    assert_eq!(token_requests(&emulator), 1);

    emulator.revoke_all_tokens();
    let reports = fleet.command("calls 1", DEADLINE).await;
    assert_no_errors(&reports);
    assert_eq!(
        token_requests(&emulator),
        2,
        "one new token for the whole fleet"
    );
    assert!(reports.iter().all(|r| r.tokens.len() == 2));
    let deleted: u64 = reports.iter().map(|r| r.shared().deletions).sum();
    assert_eq!(
        deleted, 1,
        "the rejected token was deleted from the store once"
    );
    assert_no_plaintext(&backend, &emulator, &reports);
}

/// The process holding the lock is killed with SIGKILL while the token endpoint is slow:
/// another process takes over (once the lock's TTL has run out, for Redis; at once for the
/// file store, whose OS lock dies with its holder), and nobody hangs.
async fn a_killed_lock_holder_is_taken_over(backend: Backend) {
    let lock_ttl = Duration::from_secs(1);
    let emulator = emulator().await;
    emulator.inject_fault(Endpoint::PoderoToken, Fault::delay(Duration::from_secs(30)));
    let env = [("FLEET_LOCK_TTL_MS", lock_ttl.as_millis().to_string())];
    let mut holder = Worker::spawn(WORKER, &emulator, &backend, &env).await;
    holder.send("calls 1").await;
    let start = Instant::now();
    while token_requests(&emulator) < 1 {
        assert!(
            start.elapsed() < DEADLINE,
            "the holder never asked for a token"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    holder.kill().await;
    let killed = Instant::now();

    let mut others = Fleet::spawn(WORKER, FLEET - 1, &emulator, &backend, &env).await;
    let reports = others.command("calls 1", DEADLINE).await;
    let took = killed.elapsed();
    assert_no_errors(&reports);
    let requests = token_requests(&emulator);
    let under_lock: u64 = reports.iter().map(|r| r.shared().fetches).sum();
    let direct: u64 = reports.iter().map(|r| r.shared().fallbacks).sum();
    println!(
        "killed holder: {requests} token requests ({under_lock} under the lock, {direct} direct) in {took:?}"
    );
    assert!(under_lock >= 1, "another process took the lock over");
    assert_eq!(requests, 1 + under_lock + direct);
    if matches!(backend, Backend::File(_)) {
        assert_eq!(
            requests, 2,
            "the OS lock died with its holder: one takeover"
        );
    } else {
        // The lock lived on until its TTL ran out (at least its TTL less one extension
        // period after the last extension).
        assert!(
            took >= lock_ttl * 2 / 3 - Duration::from_millis(50),
            "{took:?}"
        );
    }
    // The killed holder's token was issued to a dead connection: it is scanned for too.
    assert_no_plaintext(&backend, &emulator, &reports);
}

/// The store dies mid-run and comes back on the same address: every process keeps getting
/// tokens (at most about one direct fetch per half token lifetime each), no error reaches a
/// caller, and sharing resumes afterwards.
async fn a_store_outage_mid_run_costs_no_caller_an_error(mut backend: Backend) {
    let lifetime = Duration::from_secs(3);
    let emulator = Emulator::builder()
        .podero_token_lifetime(lifetime)
        .start()
        .await
        .unwrap();
    let env = [
        ("FLEET_BREAKER_MS", "500".to_owned()),
        ("FLEET_STORE_TIMEOUT_MS", "1000".to_owned()),
        ("FLEET_LOCK_TTL_MS", "2000".to_owned()),
    ];
    let mut fleet = Fleet::spawn(WORKER, FLEET, &emulator, &backend, &env).await;
    let run = Duration::from_secs(20);
    for worker in &mut fleet.workers {
        worker.send(&format!("run {} 50", run.as_millis())).await;
    }
    let start = Instant::now();
    tokio::time::sleep_until(start + Duration::from_millis(2500)).await;
    backend.break_store();
    let broken = Instant::now();
    let before_outage = token_requests(&emulator);
    tokio::time::sleep_until(start + Duration::from_millis(6500)).await;
    // Blocks until the store answers again (a cluster: until every node says it is ok).
    backend.restore_store();
    let restored = Instant::now();
    let outage = restored - broken;
    let during_outage = token_requests(&emulator) - before_outage;
    // The token requests from here to the end of the run, to count them afterwards from the
    // moment every process shares again.
    let mut samples = Vec::new();
    while Instant::now() < start + run {
        samples.push((Instant::now(), token_requests(&emulator)));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let reports = futures_reports(&mut fleet, run + DEADLINE).await;
    samples.push((Instant::now(), token_requests(&emulator)));
    assert_no_errors(&reports);
    assert!(reports.iter().all(|r| r.ok > 0));

    // A worker's times count from when it read its command, a little after `start`: a second
    // of slack either way.
    let slack = Duration::from_secs(1);
    let at = |ms: u64| start + Duration::from_millis(ms);
    let last_direct = reports
        .iter()
        .filter_map(|r| r.fallbacks_at_ms.last().copied())
        .max()
        .map_or(restored, at);
    // Sharing has resumed for every process by `resumed`; the fleet is measured from a
    // little after it (and from no earlier than 3 s after the store came back).
    let resumed = last_direct.max(restored);
    let window_start = (resumed + slack).max(restored + Duration::from_secs(3));
    let requests_at = |instant: Instant| {
        samples
            .iter()
            .find(|(sampled, _)| *sampled >= instant)
            .map_or(u64::MAX, |(_, count)| *count)
    };
    let window = (start + run).saturating_duration_since(window_start);
    let in_window = samples
        .last()
        .map_or(0, |(_, count)| *count)
        .saturating_sub(requests_at(window_start));
    let lifetimes = window.as_secs_f64() / lifetime.as_secs_f64();
    let fallbacks: Vec<u64> = reports.iter().map(|r| r.shared().fallbacks).collect();
    println!(
        "outage of {outage:?}: {during_outage} token requests during it, direct fetches per process {fallbacks:?}; \
         {in_window} token requests in the {window:?} after every process shared again ({lifetimes:.1} lifetimes)"
    );
    println!(
        "store broken at {} ms, back at {} ms; direct fetches seen at (ms) {:?}",
        (broken - start).as_millis(),
        (restored - start).as_millis(),
        reports
            .iter()
            .map(|r| &r.fallbacks_at_ms)
            .collect::<Vec<_>>()
    );

    // Each token a process fetches directly serves it until its refresh point: no earlier
    // than mid-life (the cache widens its refresh window when fetches are slow, as store
    // operations timing out make them). So, healthy store or not, a process fetches directly
    // at most once per half lifetime, plus one in flight when an interval began.
    let at_most = |interval: Duration| {
        (interval.as_secs_f64() / (lifetime.as_secs_f64() / 2.0)).ceil() as usize + 1
    };
    let (outage_from, outage_to) = (broken - slack, restored + slack);
    for (i, report) in reports.iter().enumerate() {
        let times = &report.fallbacks_at_ms;
        assert!(
            times.len() <= at_most(run),
            "process {i}: direct fetches at {times:?} ms in a run of {run:?}"
        );
        let in_outage = times
            .iter()
            .filter(|&&ms| (outage_from..=outage_to).contains(&at(ms)))
            .count();
        assert!(
            in_outage <= at_most(outage_to - outage_from),
            "process {i}: {in_outage} direct fetches in an outage of {outage:?} ({times:?} ms)"
        );
    }
    assert!(
        during_outage >= 1,
        "the outage lasted more than a token lifetime"
    );
    // Shared again: the fleet refreshes like one process (once per lifetime less its
    // refresh lead and margin, about 2 s for 3 s tokens), far from once per process.
    assert!(
        window >= lifetime,
        "sharing resumed only {:?} after the store came back, {:?} before the end of the run",
        resumed - restored,
        (start + run).saturating_duration_since(resumed)
    );
    let one_process = 2.0 * lifetimes + 2.0;
    assert!(
        (in_window as f64) <= one_process && one_process < FLEET as f64 * lifetimes,
        "{in_window} token requests in {lifetimes:.1} lifetimes after the store came back"
    );
    assert_no_plaintext(&backend, &emulator, &reports);
}

async fn futures_reports(fleet: &mut Fleet, deadline: Duration) -> Vec<Report> {
    fleet_tests::join_all(fleet.workers.iter_mut().map(|w| w.report(deadline))).await
}

/// A process with the wrong key misses on the stored token and overwrites it, without an
/// error; the store never holds a token in clear.
async fn a_wrong_key_misses_and_overwrites(backend: Backend) {
    let emulator = emulator().await;
    let right = [("FLEET_KEY", "11".repeat(32))];
    let wrong = [("FLEET_KEY", "22".repeat(32))];
    let mut fleet = Fleet::spawn(WORKER, FLEET - 2, &emulator, &backend, &right).await;
    let mut reports = fleet.command("calls 1", DEADLINE).await;
    assert_eq!(token_requests(&emulator), 1);

    let mut intruder = Worker::spawn(WORKER, &emulator, &backend, &wrong).await;
    let report = intruder.command("calls 3", DEADLINE).await;
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(report.shared().decrypt_failures, 1);
    assert_eq!(
        report.shared().fallbacks,
        0,
        "a wrong key is no store failure"
    );
    assert_eq!(token_requests(&emulator), 2);
    reports.push(report);

    // A newcomer with the right key now misses on the intruder's entry and overwrites it.
    let mut newcomer = Worker::spawn(WORKER, &emulator, &backend, &right).await;
    let report = newcomer.command("calls 1", DEADLINE).await;
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(report.shared().decrypt_failures, 1);
    assert_eq!(token_requests(&emulator), 3);
    reports.push(report);
    assert_no_errors(&reports);
    assert_no_plaintext(&backend, &emulator, &reports);
}

macro_rules! fleet_tests {
    ($backend:ident: $($test:ident),* $(,)?) => {
        mod $backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let _running = super::FLEETS
                        .acquire_many(super::weight(stringify!($test)))
                        .await
                        .unwrap();
                    super::$test(fleet_tests::Backend::$backend()).await;
                }
            )*
        }
    };
}

fleet_tests!(
    redis:
    cold_processes_make_one_token_request,
    many_calls_make_one_token_request,
    revoked_tokens_cause_one_new_request,
    a_killed_lock_holder_is_taken_over,
    a_store_outage_mid_run_costs_no_caller_an_error,
    a_wrong_key_misses_and_overwrites,
);

fleet_tests!(
    cluster:
    cold_processes_make_one_token_request,
    many_calls_make_one_token_request,
    revoked_tokens_cause_one_new_request,
    a_killed_lock_holder_is_taken_over,
    a_store_outage_mid_run_costs_no_caller_an_error,
    a_wrong_key_misses_and_overwrites,
);

fleet_tests!(
    file:
    cold_processes_make_one_token_request,
    many_calls_make_one_token_request,
    revoked_tokens_cause_one_new_request,
    a_killed_lock_holder_is_taken_over,
    a_store_outage_mid_run_costs_no_caller_an_error,
    a_wrong_key_misses_and_overwrites,
);
