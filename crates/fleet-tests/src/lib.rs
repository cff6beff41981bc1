//! Fleets of real OS processes sharing tokens through a store, for the fleet tests
//! (`tests/fleet`) and benchmarks (`benches/fleet.rs`).
//!
//! - [`Backend`]: the shared store a fleet uses: a real `redis-server`, a real 3-master Redis
//!   Cluster, a directory (the file store), or none; each can be broken (server killed,
//!   directory replaced by a file) and restored, and dumped byte for byte.
//! - [`Worker`]: one `fleet-worker` process (see `src/bin/fleet-worker.rs`), driven over its
//!   stdin and answering each command with a [`Report`].
//! - [`Fleet`]: several workers driven at once.
//!
//! Every wait has a deadline; nothing sleeps a fixed time to let something happen.
#![allow(clippy::panic, clippy::expect_used, clippy::unwrap_used)] // Test support: failing here fails the test.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use auth_redis::test_util::{RedisCluster, RedisServer};
use partner_emulator::Emulator;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// What a worker answers to a command.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Report {
    /// API calls that succeeded.
    pub ok: u64,
    /// The errors API calls returned (their `Display`).
    pub errors: Vec<String>,
    /// Every token this process has received so far.
    pub tokens: Vec<String>,
    /// The shared source's counters (none without a store).
    pub shared: Option<SharedReport>,
    /// For `run`: when (milliseconds after the command began) a call found the shared
    /// source's direct-fetch counter (`fallbacks`) grown, once for each direct fetch.
    pub fallbacks_at_ms: Vec<u64>,
    /// How long the command took.
    pub elapsed_ms: u64,
}

/// `SharedMetrics`, as a worker reports them.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct SharedReport {
    pub store_hits: u64,
    pub store_misses: u64,
    pub fetches: u64,
    pub lock_waits: u64,
    pub fallbacks: u64,
    pub decrypt_failures: u64,
    pub deletions: u64,
}

impl Report {
    /// The shared counters; panics for a worker without a store.
    pub fn shared(&self) -> SharedReport {
        self.shared.expect("a worker with a store")
    }
}

/// The shared store of a fleet.
#[derive(Debug)]
pub enum Backend {
    /// No store: every process on its own.
    None,
    /// A standalone `redis-server`.
    Redis(RedisServer),
    /// A 3-master Redis Cluster.
    Cluster(RedisCluster),
    /// A directory for the file store.
    File(PathBuf),
}

impl Backend {
    /// A fresh `redis-server`.
    pub fn redis() -> Self {
        Self::Redis(RedisServer::start())
    }

    /// A fresh 3-master Redis Cluster.
    pub fn cluster() -> Self {
        Self::Cluster(RedisCluster::start())
    }

    /// A fresh directory.
    pub fn file() -> Self {
        Self::File(std::env::temp_dir().join(format!(
            "fleet-tests-{}-{:016x}",
            std::process::id(),
            fastrand::u64(..)
        )))
    }

    /// The environment a worker needs to use this store.
    pub fn env(&self) -> Vec<(String, String)> {
        let pair = |k: &str, v: String| (k.to_owned(), v);
        match self {
            Self::None => vec![pair("FLEET_STORE", "none".into())],
            Self::Redis(server) => vec![
                pair("FLEET_STORE", "redis".into()),
                pair("PARTNER_REDIS_URL", server.url()),
            ],
            Self::Cluster(cluster) => vec![
                pair("FLEET_STORE", "redis".into()),
                pair("PARTNER_REDIS_URL", cluster.urls().join(",")),
            ],
            Self::File(dir) => vec![
                pair("FLEET_STORE", "file".into()),
                pair("FLEET_FILE_DIR", dir.display().to_string()),
            ],
        }
    }

    /// Makes every store operation fail: kills the server(s), or replaces the directory with
    /// a plain file.
    pub fn break_store(&mut self) {
        match self {
            Self::None => {}
            Self::Redis(server) => server.kill(),
            Self::Cluster(cluster) => cluster.kill(),
            Self::File(dir) => {
                // The workers keep writing into the directory, so removing it can race with
                // them (it was not empty after all): move it away in one step, a rename, then
                // put a file in its place.
                let away = dir.with_extension("broken");
                for _ in 0..100 {
                    if dir.is_dir() {
                        let _ = std::fs::remove_dir_all(&away);
                        let _ = std::fs::rename(&*dir, &away);
                    }
                    if std::fs::write(&*dir, b"not a directory").is_ok() {
                        let _ = std::fs::remove_dir_all(&away);
                        return;
                    }
                }
                panic!("could not replace {} with a file", dir.display());
            }
        }
    }

    /// Undoes [`break_store`](Self::break_store): an empty store at the same address.
    pub fn restore_store(&mut self) {
        match self {
            Self::None => {}
            Self::Redis(server) => server.restart(),
            Self::Cluster(cluster) => cluster.restart(),
            Self::File(dir) => {
                std::fs::remove_file(&*dir).unwrap();
                std::fs::create_dir_all(&*dir).unwrap();
            }
        }
    }

    /// Every byte the store holds: key names and values, or file names and contents.
    pub fn dump(&self) -> Vec<u8> {
        match self {
            Self::None => Vec::new(),
            Self::Redis(server) => server.dump(),
            Self::Cluster(cluster) => cluster.dump(),
            Self::File(dir) => {
                let mut bytes = Vec::new();
                for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                    bytes.extend_from_slice(entry.path().to_string_lossy().as_bytes());
                    bytes.extend_from_slice(&std::fs::read(entry.path()).unwrap_or_default());
                }
                bytes
            }
        }
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        if let Self::File(dir) = self {
            let _ = std::fs::remove_dir_all(&*dir);
            let _ = std::fs::remove_file(&*dir);
        }
    }
}

/// How long a worker may take to start, or to answer one command beyond its own duration.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// One `fleet-worker` process.
#[derive(Debug)]
pub struct Worker {
    child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
}

impl Worker {
    /// Starts `program` (the `fleet-worker` binary) for the emulator's Podero client over
    /// `backend`, with `extra` environment, and waits until it is ready.
    pub async fn spawn(
        program: &str,
        emulator: &Emulator,
        backend: &Backend,
        extra: &[(&str, String)],
    ) -> Self {
        let credentials = emulator.podero_credentials();
        let mut command = Command::new(program);
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("PODERO_CLIENT_ID", &credentials.client_id)
            .env("PODERO_CLIENT_SECRET", &credentials.client_secret)
            .env("PODERO_BASE_URL", emulator.base_url())
            .env("PODERO_ORG_ID", emulator.org_id().to_string())
            .envs(backend.env())
            .envs(extra.iter().map(|(k, v)| (*k, v.as_str())))
            // The workers' log lines, when asked for (see `fleet-worker`).
            .envs(std::env::var_os("FLEET_LOG").map(|filter| ("FLEET_LOG", filter)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        let mut child = command.spawn().expect("starting fleet-worker");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let mut worker = Self {
            child,
            stdin,
            stdout,
        };
        let line = worker.line(DEADLINE).await;
        assert_eq!(line, "ready", "the worker did not start");
        worker
    }

    /// The process id.
    pub fn id(&self) -> Option<u32> {
        self.child.id()
    }

    async fn line(&mut self, deadline: Duration) -> String {
        match tokio::time::timeout(deadline, self.stdout.next_line()).await {
            Ok(Ok(Some(line))) => line,
            Ok(Ok(None)) => panic!("the worker exited (see its stderr above)"),
            Ok(Err(error)) => panic!("reading from the worker: {error}"),
            Err(_) => panic!("the worker did not answer within {deadline:?}: it hangs"),
        }
    }

    /// Sends one command.
    pub async fn send(&mut self, command: &str) {
        self.stdin
            .write_all(format!("{command}\n").as_bytes())
            .await
            .expect("writing to the worker");
        self.stdin
            .flush()
            .await
            .expect("flushing the worker's stdin");
    }

    /// Waits for the answer to the last command, for at most `deadline`.
    pub async fn report(&mut self, deadline: Duration) -> Report {
        let line = self.line(deadline).await;
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("a report: {e}: {line}"))
    }

    /// Sends `command` and waits for its report.
    pub async fn command(&mut self, command: &str, deadline: Duration) -> Report {
        self.send(command).await;
        self.report(deadline).await
    }

    /// Kills the process with SIGKILL and waits for it.
    pub async fn kill(&mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

/// Several workers, driven together.
#[derive(Debug)]
pub struct Fleet {
    /// The workers.
    pub workers: Vec<Worker>,
}

impl Fleet {
    /// Starts `n` workers (concurrently) and waits until all are ready.
    pub async fn spawn(
        program: &str,
        n: usize,
        emulator: &Emulator,
        backend: &Backend,
        extra: &[(&str, String)],
    ) -> Self {
        let starting = (0..n).map(|_| Worker::spawn(program, emulator, backend, extra));
        let workers = join_all(starting).await;
        Self { workers }
    }

    /// Sends `command` to every worker at once, then collects every report.
    pub async fn command(&mut self, command: &str, deadline: Duration) -> Vec<Report> {
        for worker in &mut self.workers {
            worker.send(command).await;
        }
        join_all(
            self.workers
                .iter_mut()
                .map(|worker| worker.report(deadline)),
        )
        .await
    }
}

/// Awaits every future, concurrently, in order.
pub async fn join_all<F: Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut pinned: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut outputs = Vec::with_capacity(pinned.len());
    // Poll them together: each `await` below only finishes one, while the runtime keeps
    // driving the others' I/O (the processes run on their own anyway).
    let mut done: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, slot) in pinned.iter_mut().zip(done.iter_mut()) {
            if slot.is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(output) => *slot = Some(output),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outputs.extend(done.into_iter().flatten());
    outputs
}
