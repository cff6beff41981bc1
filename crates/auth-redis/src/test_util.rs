//! Real Redis servers for this workspace's tests (feature `test-util`; not a public API).
//!
//! [`RedisServer`] starts one `redis-server` on a free loopback port in its own temporary
//! directory (`--save '' --appendonly no`), waits until it answers `PING` (with a deadline,
//! never a fixed sleep), and kills it on drop. [`RedisCluster`] does the same for three
//! cluster-enabled masters joined by `redis-cli --cluster create`, and waits until every node
//! reports `cluster_state:ok`. Every test gets its own servers; none is shared.
//!
//! A missing `redis-server` or `redis-cli` is a test failure with a message saying how to
//! install it (`cargo xtask redis`), never a skipped test.
#![allow(clippy::panic, clippy::expect_used)] // Test support: a failure here fails the test.
#![allow(clippy::disallowed_methods)] // Deadlines of test support are on the real clock.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a server may take to start answering.
const START_DEADLINE: Duration = Duration::from_secs(20);

/// One `redis-server` process.
#[derive(Debug)]
pub struct RedisServer {
    port: u16,
    dir: PathBuf,
    extra: Vec<String>,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts a server on a free port.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts a server with extra `redis-server` arguments (e.g. `--requirepass x`).
    pub fn start_with(extra: &[&str]) -> Self {
        let extra: Vec<String> = extra.iter().map(|s| (*s).to_owned()).collect();
        let mut last_error = String::new();
        for _ in 0..20 {
            let port = free_port(false);
            let dir = temp_dir("redis");
            let mut server = Self {
                port,
                dir,
                extra: extra.clone(),
                child: None,
            };
            match server.spawn() {
                Ok(()) => return server,
                Err(error) => last_error = error,
            }
        }
        panic!("could not start redis-server: {last_error}");
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills the server with SIGKILL and waits for it to exit.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port (empty: nothing is persisted).
    pub fn restart(&mut self) {
        self.kill();
        let deadline = Instant::now() + START_DEADLINE;
        loop {
            match self.spawn() {
                Ok(()) => return,
                Err(error) if Instant::now() > deadline => {
                    panic!(
                        "could not restart redis-server on port {}: {error}",
                        self.port
                    )
                }
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    }

    /// Runs `redis-cli` against this server and returns its output.
    pub fn cli(&self, args: &[&str]) -> Vec<u8> {
        cli(self.port, args)
    }

    /// Every key's name and content, byte for byte, for scans of what Redis holds.
    pub fn dump(&self) -> Vec<u8> {
        dump(self.port)
    }

    fn spawn(&mut self) -> Result<(), String> {
        let port = self.port.to_string();
        let dir = self.dir.display().to_string();
        let mut args: Vec<&str> = vec![
            "--port",
            &port,
            "--bind",
            "127.0.0.1",
            "--dir",
            &dir,
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--protected-mode",
            "no",
            "--loglevel",
            "warning",
            "--logfile",
            "redis.log",
        ];
        args.extend(self.extra.iter().map(String::as_str));
        let child = start_process(&args)?;
        self.child = Some(child);
        let ready = wait_ready(self.port, self.child.as_mut(), &self.dir);
        if let Err(error) = ready {
            self.kill();
            return Err(error);
        }
        Ok(())
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A local Redis Cluster of three masters, no replicas.
#[derive(Debug)]
pub struct RedisCluster {
    nodes: Vec<ClusterNode>,
}

#[derive(Debug)]
struct ClusterNode {
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl ClusterNode {
    fn spawn(&mut self) -> Result<(), String> {
        let port = self.port.to_string();
        let dir = self.dir.display().to_string();
        let child = start_process(&[
            "--port",
            &port,
            "--bind",
            "127.0.0.1",
            "--dir",
            &dir,
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--protected-mode",
            "no",
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes.conf",
            "--cluster-node-timeout",
            "2000",
            "--loglevel",
            "warning",
            "--logfile",
            "redis.log",
        ])?;
        self.child = Some(child);
        wait_ready(self.port, self.child.as_mut(), &self.dir)
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl RedisCluster {
    /// Starts three cluster-enabled masters on free ports (each with its bus port, +10000,
    /// free too), creates the cluster and waits until every node says it is ok.
    pub fn start() -> Self {
        let mut last_error = String::new();
        for _ in 0..10 {
            match Self::try_start() {
                Ok(cluster) => return cluster,
                Err(error) => last_error = error,
            }
        }
        panic!("could not start a Redis Cluster: {last_error}");
    }

    fn try_start() -> Result<Self, String> {
        let mut cluster = Self { nodes: Vec::new() };
        for _ in 0..3 {
            let mut node = ClusterNode {
                port: free_port(true),
                dir: temp_dir("redis-cluster"),
                child: None,
            };
            let spawned = node.spawn();
            cluster.nodes.push(node);
            spawned?;
        }
        let addresses: Vec<String> = cluster
            .nodes
            .iter()
            .map(|node| format!("127.0.0.1:{}", node.port))
            .collect();
        let mut args = vec!["--cluster", "create"];
        args.extend(addresses.iter().map(String::as_str));
        args.extend(["--cluster-replicas", "0", "--cluster-yes"]);
        let output = Command::new("redis-cli")
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .map_err(|error| missing("redis-cli", &error))?;
        if !output.status.success() {
            return Err(format!(
                "redis-cli --cluster create failed: {}",
                String::from_utf8_lossy(&output.stdout)
            ));
        }
        cluster.wait_ok()?;
        Ok(cluster)
    }

    /// Waits until every node reports `cluster_state:ok` and knows all three masters.
    fn wait_ok(&self) -> Result<(), String> {
        let deadline = Instant::now() + START_DEADLINE;
        loop {
            let ok = self.nodes.iter().all(|node| {
                let info =
                    String::from_utf8_lossy(&cli(node.port, &["cluster", "info"])).into_owned();
                info.contains("cluster_state:ok") && info.contains("cluster_known_nodes:3")
            });
            if ok {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err("the cluster did not reach cluster_state:ok in time".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The nodes' URLs.
    pub fn urls(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|node| format!("redis://127.0.0.1:{}", node.port))
            .collect()
    }

    /// Kills every node with SIGKILL.
    pub fn kill(&mut self) {
        self.nodes.iter_mut().for_each(ClusterNode::kill);
    }

    /// Starts every node again on its port with its cluster configuration (the data is
    /// gone) and waits until the cluster is ok again.
    pub fn restart(&mut self) {
        self.kill();
        for node in &mut self.nodes {
            let deadline = Instant::now() + START_DEADLINE;
            while let Err(error) = node.spawn() {
                assert!(
                    Instant::now() < deadline,
                    "could not restart cluster node {}: {error}",
                    node.port
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        if let Err(error) = self.wait_ok() {
            panic!("{error}");
        }
    }

    /// Every key's name and content on every node, byte for byte.
    pub fn dump(&self) -> Vec<u8> {
        self.nodes.iter().flat_map(|node| dump(node.port)).collect()
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            node.kill();
            let _ = std::fs::remove_dir_all(&node.dir);
        }
    }
}

fn missing(program: &str, error: &std::io::Error) -> String {
    format!(
        "cannot run `{program}` ({error}): the Redis tests need redis-server and redis-cli; \
         run `cargo xtask redis` (installs Debian's `redis-server` package) or install it"
    )
}

fn start_process(args: &[&str]) -> Result<Child, String> {
    match Command::new("redis-server")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => Ok(child),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            panic!("{}", missing("redis-server", &error))
        }
        Err(error) => Err(format!("cannot start redis-server: {error}")),
    }
}

/// Waits until the server on `port` answers `PING`, or fails if it exits or the deadline
/// passes.
fn wait_ready(port: u16, child: Option<&mut Child>, dir: &Path) -> Result<(), String> {
    let Some(child) = child else {
        return Err("no process".into());
    };
    let deadline = Instant::now() + START_DEADLINE;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            let log = std::fs::read_to_string(dir.join("redis.log")).unwrap_or_default();
            return Err(format!("redis-server exited with {status}: {}", log.trim()));
        }
        if ping(port) {
            // Another test's server may hold the port that this one failed to bind (a free
            // port is only free when it is picked): only our own process will do.
            return match reported_pid(port) {
                Some(pid) if pid != child.id() => {
                    let _ = child.kill();
                    let _ = child.wait();
                    Err(format!(
                        "port {port} is held by another redis-server (pid {pid})"
                    ))
                }
                _ => Ok(()),
            };
        }
        if Instant::now() > deadline {
            return Err(format!(
                "redis-server on port {port} did not answer in time"
            ));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn ping(port: u16) -> bool {
    use std::io::{Read as _, Write as _};
    let Ok(mut stream) = TcpStream::connect_timeout(
        &SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        Duration::from_millis(200),
    ) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    // A server with a password answers `-NOAUTH ...`: it is up all the same.
    let mut reply = [0u8; 7];
    stream.read_exact(&mut reply).is_ok()
        && (&reply == b"+PONG\r\n" || reply.starts_with(b"-NOAUTH"))
}

/// The `process_id` that the server on `port` reports in `INFO server`; `None` when it does
/// not say (it wants a password, or did not answer in time).
fn reported_pid(port: u16) -> Option<u32> {
    use std::io::{Read as _, Write as _};
    let mut stream = TcpStream::connect_timeout(
        &SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        Duration::from_millis(200),
    )
    .ok()?;
    stream
        .set_read_timeout(Some(Duration::from_millis(500)))
        .ok()?;
    stream.write_all(b"INFO server\r\n").ok()?;
    let mut reply = Vec::new();
    let mut chunk = [0u8; 1024];
    while reply.len() < 16 * 1024 {
        let read = stream.read(&mut chunk).ok()?;
        if read == 0 {
            break;
        }
        reply.extend_from_slice(&chunk[..read]);
        let text = String::from_utf8_lossy(&reply);
        if let Some(rest) = text.split("process_id:").nth(1)
            && let Some((pid, _)) = rest.split_once("\r\n")
        {
            return pid.trim().parse().ok();
        }
        if text.starts_with('-') && text.contains("\r\n") {
            return None;
        }
    }
    None
}

/// A port free now on loopback (and, for cluster nodes, its bus port too).
fn free_port(with_bus: bool) -> u16 {
    loop {
        let listener =
            TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("binding a loopback port");
        let port = listener.local_addr().expect("local address").port();
        if !with_bus {
            return port;
        }
        let Some(bus) = port.checked_add(10_000) else {
            continue;
        };
        if TcpListener::bind((Ipv4Addr::LOCALHOST, bus)).is_ok() {
            return port;
        }
    }
}

fn temp_dir(kind: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "auth-redis-{kind}-{}-{:016x}",
        std::process::id(),
        fastrand::u64(..)
    ));
    std::fs::create_dir_all(&dir).expect("creating a temporary directory");
    dir
}

fn cli(port: u16, args: &[&str]) -> Vec<u8> {
    let port = port.to_string();
    Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map(|output| output.stdout)
        .unwrap_or_else(|error| panic!("{}", missing("redis-cli", &error)))
}

/// Every key on the server at `port` with every byte of its content: key names, and for
/// hashes every field and value, for strings the value (read with `--no-raw`-free output
/// through RESP, so binary bytes are kept).
fn dump(port: u16) -> Vec<u8> {
    let client = redis_client(port);
    let mut connection = client
        .get_connection_with_timeout(Duration::from_secs(5))
        .expect("connecting to redis-server for a dump");
    let keys: Vec<Vec<u8>> = redis::cmd("KEYS")
        .arg("*")
        .query(&mut connection)
        .expect("KEYS *");
    let mut bytes = Vec::new();
    for key in keys {
        bytes.extend_from_slice(&key);
        bytes.push(b'\n');
        let kind: String = redis::cmd("TYPE")
            .arg(&key)
            .query(&mut connection)
            .expect("TYPE");
        let content: Vec<Vec<u8>> = match kind.as_str() {
            "hash" => redis::cmd("HGETALL")
                .arg(&key)
                .query(&mut connection)
                .expect("HGETALL"),
            "string" => vec![
                redis::cmd("GET")
                    .arg(&key)
                    .query(&mut connection)
                    .expect("GET"),
            ],
            "none" => Vec::new(),
            other => panic!("unexpected key type {other} in a token store"),
        };
        for part in content {
            bytes.extend_from_slice(&part);
            bytes.push(b'\n');
        }
    }
    bytes
}

fn redis_client(port: u16) -> redis::Client {
    redis::Client::open(format!("redis://127.0.0.1:{port}")).expect("a loopback Redis URL")
}
