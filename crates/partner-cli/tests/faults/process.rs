//! Running the binary under a deadline (killed when it passes), with its pipes drained and
//! scanned for raw control characters and its peak memory polled; and the scan of what it
//! printed for secrets and tokens.

use std::ffi::OsString;
use std::process::{Command, Stdio};
use std::thread::JoinHandle;
use std::time::Duration;

use auth_core::test_util::secret_forms;
use partner_emulator::Emulator;

use crate::support::DEFAULT_WITHIN;

/// The per-attempt timeout of rows that do not expect to time out: long enough that a loaded
/// machine (64 rows at once on two cores) never trips it, short enough to stay well inside
/// the row's deadline.
const RELAXED_TIMEOUT: &str = "10";

/// How often the running process is polled (exit, peak memory).
const POLL: Duration = Duration::from_millis(5);

/// The most output kept, for the secret, UTF-8 and content checks (only the memory row prints
/// more); raw control characters are looked for in all of it.
const KEEP: usize = 4 * 1024 * 1024;

/// One run of the binary.
pub(crate) struct Run {
    pub(crate) code: Option<i32>,
    pub(crate) killed: bool,
    pub(crate) elapsed: Duration,
    pub(crate) peak_rss_kib: u64,
    pub(crate) stdout: Captured,
    pub(crate) stderr: Captured,
}

/// A stream's start (up to [`KEEP`] bytes), its length, and what the scan of all of it found.
#[derive(Default)]
pub(crate) struct Captured {
    pub(crate) kept: Vec<u8>,
    pub(crate) total: u64,
    /// Raw control characters found: (offset, code point), the first few.
    pub(crate) controls: Vec<(u64, u32)>,
}

impl Captured {
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.kept).into_owned()
    }

    /// Reads `stream` to its end, keeping the start and scanning everything for raw control
    /// characters: C0 except the newline, DEL, and C1 (`0xC2 0x80..=0x9F` in UTF-8).
    fn read(mut stream: impl std::io::Read) -> Self {
        let mut captured = Self::default();
        let mut buffer = vec![0u8; 64 * 1024];
        let mut previous = 0u8;
        loop {
            let read = match stream.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(read) => read,
            };
            let chunk = &buffer[..read];
            // The common case, checked with core's optimised `memchr` (this crate is built
            // without optimisations, and hundreds of megabytes go through here): not one byte
            // that could start a control character.
            let suspicious = (0x00..=0x1f)
                .chain([0x7f, 0xc2])
                .any(|byte: u8| byte != b'\n' && chunk.contains(&byte));
            if !suspicious && previous != 0xc2 {
                previous = chunk.last().copied().unwrap_or(previous);
                let room = KEEP.saturating_sub(captured.kept.len());
                captured.kept.extend_from_slice(&chunk[..read.min(room)]);
                captured.total += read as u64;
                continue;
            }
            for (at, &byte) in chunk.iter().enumerate() {
                let control = match byte {
                    b'\n' => None,
                    0x00..=0x1f | 0x7f => Some(u32::from(byte)),
                    0x80..=0x9f if previous == 0xc2 => Some(u32::from(byte)),
                    _ => None,
                };
                if let Some(code) = control
                    && captured.controls.len() < 8
                {
                    captured.controls.push((captured.total + at as u64, code));
                }
                previous = byte;
            }
            let room = KEEP.saturating_sub(captured.kept.len());
            captured.kept.extend_from_slice(&chunk[..read.min(room)]);
            captured.total += read as u64;
        }
        captured
    }
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shorten = |captured: &Captured| {
            let text = captured.text();
            let cut: String = text.chars().take(6_000).collect();
            if cut.len() < text.len() {
                format!("{cut}… ({} bytes in all)", captured.total)
            } else {
                cut
            }
        };
        write!(
            f,
            "exit {:?}{} after {:.2?}, peak RSS {} KiB\n--- stdout\n{}\n--- stderr\n{}",
            self.code,
            if self.killed { " (killed: hung)" } else { "" },
            self.elapsed,
            self.peak_rss_kib,
            shorten(&self.stdout),
            shorten(&self.stderr)
        )
    }
}

/// Every secret the run must not show, in every form: both clients' secrets (with their ids,
/// for Basic credentials), every token the emulator issued (and a JWT's signature alone), the
/// row's own.
pub(crate) fn leaks(
    emulator: &Emulator,
    tokens: &[String],
    extra: &[String],
    run: &Run,
    allow_token_on_stdout: bool,
) -> Vec<String> {
    let stdout = run.stdout.text();
    let stderr = run.stderr.text();
    let mut found = Vec::new();
    let mut scan = |what: &str, forms: Vec<String>, on_stdout: bool| {
        for form in forms {
            for (stream, text) in [("stdout", &stdout), ("stderr", &stderr)] {
                if (stream == "stderr" || on_stdout) && text.contains(&form) {
                    found.push(format!("{what} leaked on {stream} as {form:?}"));
                }
            }
        }
    };
    for credentials in [emulator.podero_credentials(), emulator.poa_credentials()] {
        let forms = secret_forms(&credentials.client_secret, Some(&credentials.client_id));
        scan("a client secret", forms, true);
    }
    for secret in extra {
        scan("a secret", secret_forms(secret, None), true);
    }
    for token in tokens {
        let mut forms = secret_forms(token, None);
        if allow_token_on_stdout {
            // Printed as asked; every other form, and stderr, stay forbidden.
            scan("a token", vec![token.clone()], false);
            forms.retain(|form| form != token);
        }
        scan("a token", forms, true);
        // A JWT's signature alone (the part that cannot be guessed from the claims).
        if let Some(signature) = token
            .rsplit('.')
            .next()
            .filter(|s| s.len() >= 16 && *s != token)
        {
            scan(
                "a token's signature",
                vec![signature.to_owned()],
                !allow_token_on_stdout,
            );
        }
    }
    found
}

/// The binary with only the row's environment: the emulator's credentials and URLs,
/// `RUST_LOG=trace`, relaxed timeouts, then the row's changes.
pub(crate) fn command(
    emulator: &Emulator,
    user: Option<&str>,
    args: &[String],
    env: &[(String, Option<OsString>)],
) -> Command {
    let user = user.unwrap_or_default();
    let fill = |text: &str| {
        text.replace("{base}", emulator.base_url())
            .replace("{user}", user)
            .replace("{org}", &emulator.org_id().to_string())
    };
    let mut command = Command::new(env!("CARGO_BIN_EXE_partner"));
    command.args(args.iter().map(|arg| fill(arg)));
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if ["PODERO_", "POA_", "PARTNER_", "RUST_LOG"]
            .iter()
            .any(|prefix| name.starts_with(prefix))
        {
            command.env_remove(name.as_ref());
        }
    }
    let podero = emulator.podero_credentials();
    let poa = emulator.poa_credentials();
    command
        .env("RUST_LOG", "trace")
        .env("PODERO_BASE_URL", emulator.base_url())
        .env("PODERO_CLIENT_ID", &podero.client_id)
        .env("PODERO_CLIENT_SECRET", &podero.client_secret)
        .env("PODERO_ORG_ID", emulator.org_id().to_string())
        .env("PODERO_TIMEOUT", RELAXED_TIMEOUT)
        .env("POA_BASE_URL", emulator.base_url())
        .env("POA_CLIENT_ID", &poa.client_id)
        .env("POA_CLIENT_SECRET", &poa.client_secret)
        .env("POA_TIMEOUT", RELAXED_TIMEOUT)
        // A token cache of its own: never the user's, and never one a row before it filled
        // for an emulator that had the same address and credentials (a row got its token
        // from there and made no request).
        .env(
            "PARTNER_TOKEN_CACHE_DIR",
            std::env::temp_dir().join(format!("partner-faults-{}", uuid::Uuid::new_v4())),
        );
    for (name, value) in env {
        match value {
            Some(value) => match value.to_str() {
                Some(text) => command.env(name, fill(text)),
                None => command.env(name, value),
            },
            None => command.env_remove(name),
        };
    }
    command
}

/// Runs `partner ARGS` against `emulator` with the rows' environment.
pub(crate) fn run_partner(emulator: &Emulator, args: &[&str]) -> Run {
    let args: Vec<String> = args.iter().map(|arg| (*arg).to_owned()).collect();
    run_with_deadline(command(emulator, None, &args, &[]), DEFAULT_WITHIN)
}

/// Runs `command` until it exits or `deadline` passes (then kills it), draining both pipes
/// and polling the peak resident memory (VmHWM) meanwhile.
// A deadline on a real process is real time.
#[allow(clippy::disallowed_methods)]
pub(crate) fn run_with_deadline(mut command: Command, deadline: Duration) -> Run {
    let start = std::time::Instant::now();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let drain = |stream: Option<Box<dyn std::io::Read + Send>>| -> JoinHandle<Captured> {
        let stream = stream.unwrap();
        std::thread::spawn(move || Captured::read(stream))
    };
    let stdout = drain(child.stdout.take().map(|s| Box::new(s) as _));
    let stderr = drain(child.stderr.take().map(|s| Box::new(s) as _));
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak_rss_kib = 0;
    let mut killed = false;
    let status = loop {
        if let Some(hwm) = vm_hwm_kib(&status_path) {
            peak_rss_kib = peak_rss_kib.max(hwm);
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > deadline {
            killed = true;
            let _ = child.kill();
            break child.wait().unwrap();
        }
        std::thread::sleep(POLL);
    };
    let elapsed = start.elapsed();
    Run {
        code: status.code(),
        killed,
        elapsed,
        peak_rss_kib,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

/// `VmHWM` (peak resident set size, KiB) from `/proc/<pid>/status`.
fn vm_hwm_kib(path: &str) -> Option<u64> {
    let status = std::fs::read_to_string(path).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
