//! The harness: a [`Row`] (a command, a fault, what to expect) and [`check`] (one emulator,
//! one run of the real binary, every check). Running and scanning: `process.rs`.

use std::ffi::OsString;
use std::time::Duration;

use partner_emulator::{Counters, Emulator, EmulatorBuilder, Endpoint, Fault};
use partner_sdk::PoderoClient;
use partner_sdk::podero::{NewUser, OrgId, Role};
use podero_auth::{Environment, PoderoAuth};

use crate::process::{command, leaks, run_with_deadline};

/// The per-attempt timeout of rows whose fault is only ended by the client's timeout.
pub(crate) const SHORT_TIMEOUT: &str = "1";

/// The default wall-time bound of a row. A row takes under 5 s on an idle machine; 64 rows
/// side by side on two busy cores took up to 17 s (three 1 s attempts, the timer firing late).
/// A hang is still caught: the process is killed [`KILL_GRACE`] past the bound.
pub(crate) const DEFAULT_WITHIN: Duration = Duration::from_secs(30);

/// How long past its bound a row's process may run before it is killed (the row then fails
/// as hung).
const KILL_GRACE: Duration = Duration::from_secs(10);

/// A secret with the characters that each encoding changes: `/` (JSON `\/`), `é` (`\u00e9`,
/// `%C3%A9`), `&` and `=` (form and HTML), `!` (percent-encoding).
pub(crate) const AWKWARD_SECRET: &str = "hs-P0d!s3cr&=/é";

/// Which vendor's token endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Vendor {
    Podero,
    Poa,
}

impl Vendor {
    pub(crate) fn token_endpoint(self) -> Endpoint {
        match self {
            Self::Podero => Endpoint::PoderoToken,
            Self::Poa => Endpoint::PoaToken,
        }
    }

    /// The token path on the emulator.
    pub(crate) fn token_path(self) -> &'static str {
        match self {
            Self::Podero => "/oauth2/token/",
            Self::Poa => "/v2/auth/cybrillarta/token",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Podero => "podero",
            Self::Poa => "poa",
        }
    }
}

/// What a row's setup sees: the emulator, the other origin (if the row asked for one), the
/// user created for it (if it asked for one).
pub(crate) struct Ctx<'a> {
    pub(crate) emulator: &'a Emulator,
    pub(crate) other: Option<&'a Emulator>,
    pub(crate) runtime: &'a tokio::runtime::Runtime,
    pub(crate) user: Option<String>,
}

impl Ctx<'_> {
    /// The other origin's base URL.
    pub(crate) fn other_base(&self) -> String {
        self.other
            .expect("the row asks for .other_origin()")
            .base_url()
            .to_owned()
    }

    /// The users URL on the emulator.
    pub(crate) fn users_url(&self) -> String {
        format!(
            "{}/api/partners/v2.0/org/{}/users",
            self.emulator.base_url(),
            self.emulator.org_id()
        )
    }

    /// Creates `count` users through the SDK (one token request, `count` creates), before
    /// the counters are read for the row.
    pub(crate) fn create_users(&self, count: usize) -> Vec<String> {
        self.runtime.block_on(create_users(self.emulator, count))
    }
}

type Setup = Box<dyn FnOnce(&Ctx<'_>)>;
type Build = Box<dyn FnOnce(EmulatorBuilder) -> EmulatorBuilder>;

/// One scenario: what to run, against what, and what must come out.
#[must_use]
pub(crate) struct Row {
    args: Vec<String>,
    build: Option<Build>,
    setup: Vec<Setup>,
    with_user: bool,
    other_origin: bool,
    env: Vec<(String, Option<OsString>)>,
    exit: i32,
    stderr_has: Vec<String>,
    stderr_lacks: Vec<String>,
    forbidden_lines: Vec<String>,
    stdout_has: Vec<String>,
    requests: Vec<(Endpoint, u64)>,
    within: Duration,
    max_rss_mib: Option<u64>,
    max_error_line_chars: Option<usize>,
    extra_secrets: Vec<String>,
    allow_token_on_stdout: bool,
}

impl Row {
    /// `partner ARGS...`; `{user}` in an argument is the id of the user `.with_user()` made.
    pub(crate) fn cli(args: &[&str]) -> Self {
        Self {
            args: args.iter().map(|arg| (*arg).to_owned()).collect(),
            build: None,
            setup: Vec::new(),
            with_user: false,
            other_origin: false,
            env: Vec::new(),
            exit: 0,
            stderr_has: Vec::new(),
            stderr_lacks: Vec::new(),
            forbidden_lines: Vec::new(),
            stdout_has: Vec::new(),
            requests: Vec::new(),
            within: DEFAULT_WITHIN,
            max_rss_mib: None,
            max_error_line_chars: None,
            extra_secrets: Vec::new(),
            allow_token_on_stdout: false,
        }
    }

    /// `partner token --vendor podero|poa`.
    pub(crate) fn token(vendor: Vendor) -> Self {
        Self::cli(&["token", "--vendor", vendor.name()])
    }

    /// `partner users ARGS...`.
    pub(crate) fn users(args: &[&str]) -> Self {
        let mut all = vec!["users"];
        all.extend_from_slice(args);
        Self::cli(&all)
    }

    /// Configures the emulator before it starts.
    pub(crate) fn build(
        mut self,
        build: impl FnOnce(EmulatorBuilder) -> EmulatorBuilder + 'static,
    ) -> Self {
        self.build = Some(Box::new(build));
        self
    }

    /// Both vendors' main clients get [`AWKWARD_SECRET`], which every encoding changes.
    pub(crate) fn awkward_secrets(self) -> Self {
        self.build(|builder| {
            builder
                .podero_client("awkward-podero", AWKWARD_SECRET)
                .poa_client("awkward-poa", AWKWARD_SECRET)
        })
    }

    /// Runs `setup` once the emulator (and the user, and the other origin) are there, before
    /// the counters are read.
    pub(crate) fn setup(mut self, setup: impl FnOnce(&Ctx<'_>) + 'static) -> Self {
        self.setup.push(Box::new(setup));
        self
    }

    /// Queues `fault` for `endpoint`.
    pub(crate) fn fault(self, endpoint: Endpoint, fault: Fault) -> Self {
        self.setup(move |cx| cx.emulator.inject_fault(endpoint, fault))
    }

    /// Creates one user first (through the SDK, not counted for the row); `{user}` is its id.
    pub(crate) fn with_user(mut self) -> Self {
        self.with_user = true;
        self
    }

    /// Starts a second emulator as "another origin" and checks that it received nothing.
    pub(crate) fn other_origin(mut self) -> Self {
        self.other_origin = true;
        self
    }

    /// Sets a variable for the run; `{base}`, `{user}` and `{org}` in it are replaced.
    pub(crate) fn env(mut self, name: &str, value: impl Into<OsString>) -> Self {
        self.env.push((name.to_owned(), Some(value.into())));
        self
    }

    /// Removes a variable for the run.
    pub(crate) fn unset(mut self, name: &str) -> Self {
        self.env.push((name.to_owned(), None));
        self
    }

    /// Both vendors' per-attempt timeout becomes [`SHORT_TIMEOUT`].
    pub(crate) fn short_timeouts(self) -> Self {
        self.env("PODERO_TIMEOUT", SHORT_TIMEOUT)
            .env("POA_TIMEOUT", SHORT_TIMEOUT)
    }

    /// The expected exit code (default 0).
    pub(crate) fn exits(mut self, code: i32) -> Self {
        self.exit = code;
        self
    }

    /// Stderr must contain `text`.
    pub(crate) fn says(mut self, text: &str) -> Self {
        self.stderr_has.push(text.to_owned());
        self
    }

    /// Stderr must not contain `text`.
    pub(crate) fn never_says(mut self, text: &str) -> Self {
        self.stderr_lacks.push(text.to_owned());
        self
    }

    /// No line of stdout or stderr may start with `prefix` (a line forged by a server).
    pub(crate) fn no_line_starts_with(mut self, prefix: &str) -> Self {
        self.forbidden_lines.push(prefix.to_owned());
        self
    }

    /// Stdout must contain `text`.
    pub(crate) fn prints(mut self, text: &str) -> Self {
        self.stdout_has.push(text.to_owned());
        self
    }

    /// `endpoint` must receive exactly `count` requests during the run; endpoints never named
    /// must receive none.
    pub(crate) fn requests(mut self, endpoint: Endpoint, count: u64) -> Self {
        self.requests.push((endpoint, count));
        self
    }

    /// The run must end within `secs` seconds.
    pub(crate) fn within(mut self, secs: u64) -> Self {
        self.within = Duration::from_secs(secs);
        self
    }

    /// The process's peak resident memory (VmHWM) must stay below `mib` MiB.
    pub(crate) fn max_rss_mib(mut self, mib: u64) -> Self {
        self.max_rss_mib = Some(mib);
        self
    }

    /// The final `error:` line must be at most `chars` characters (stderr also holds the
    /// `RUST_LOG=trace` log, which has no such bound).
    pub(crate) fn max_error_line_chars(mut self, chars: usize) -> Self {
        self.max_error_line_chars = Some(chars);
        self
    }

    /// Also scan the output for `secret` in every form.
    pub(crate) fn secret(mut self, secret: &str) -> Self {
        self.extra_secrets.push(secret.to_owned());
        self
    }

    /// `--show-secret`: the token may appear on stdout (only there, and only as is).
    pub(crate) fn allow_token_on_stdout(mut self) -> Self {
        self.allow_token_on_stdout = true;
        self
    }
}

/// Runs `row`, and fails with every broken expectation at once.
pub(crate) fn check(name: &str, row: Row) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let builder = match row.build {
        Some(build) => build(Emulator::builder()),
        None => Emulator::builder(),
    };
    let emulator = runtime.block_on(builder.start()).unwrap();
    let other = row
        .other_origin
        .then(|| runtime.block_on(Emulator::builder().start()).unwrap());
    let mut cx = Ctx {
        emulator: &emulator,
        other: other.as_ref(),
        runtime: &runtime,
        user: None,
    };
    if row.with_user {
        cx.user = cx.create_users(1).pop();
    }
    for setup in row.setup {
        setup(&cx);
    }
    let before = emulator.counters();
    let command = command(&emulator, cx.user.as_deref(), &row.args, &row.env);
    let run = run_with_deadline(command, row.within + KILL_GRACE);
    let after = emulator.counters();

    let mut failures = Vec::new();
    let mut fail = |text: String| failures.push(text);
    let stdout = run.stdout.text();
    let stderr = run.stderr.text();
    if run.killed {
        fail(format!("hung: killed after {:.1?}", run.elapsed));
    }
    if run.code != Some(row.exit) {
        fail(format!("exit code {:?}, expected {}", run.code, row.exit));
    }
    if run.code == Some(101) || stderr.contains("panicked") || stdout.contains("panicked") {
        fail("the process panicked".to_owned());
    }
    if run.elapsed > row.within {
        fail(format!(
            "took {:.2?}, more than {:?}",
            run.elapsed, row.within
        ));
    }
    for problem in request_problems(&before, &after, &row.requests) {
        fail(problem);
    }
    if let Some(other) = &other
        && !other.request_log().is_empty()
    {
        fail(format!(
            "the other origin received requests: {:?}",
            other.request_log()
        ));
    }
    for (stream, captured) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
        if !captured.controls.is_empty() {
            fail(format!(
                "raw control characters on {stream} (offset, code): {:?}",
                captured.controls
            ));
        }
        // The kept start may end inside a character; anything else is not UTF-8.
        if let Err(error) = std::str::from_utf8(&captured.kept)
            && error.error_len().is_some()
        {
            fail(format!("{stream} is not UTF-8"));
        }
    }
    let tokens = emulator.issued_tokens();
    for leak in leaks(
        &emulator,
        &tokens,
        &row.extra_secrets,
        &run,
        row.allow_token_on_stdout,
    ) {
        fail(leak);
    }
    for text in &row.stderr_has {
        if !stderr.contains(text.as_str()) {
            fail(format!("stderr does not say {text:?}"));
        }
    }
    for text in &row.stderr_lacks {
        if stderr.contains(text.as_str()) {
            fail(format!("stderr says {text:?}"));
        }
    }
    for prefix in &row.forbidden_lines {
        if stdout
            .lines()
            .chain(stderr.lines())
            .any(|line| line.starts_with(prefix.as_str()))
        {
            fail(format!("a line starts with {prefix:?}"));
        }
    }
    for text in &row.stdout_has {
        if !stdout.contains(text.as_str()) {
            fail(format!("stdout does not hold {text:?}"));
        }
    }
    if let Some(max) = row.max_error_line_chars {
        match stderr.lines().rfind(|line| line.starts_with("error: ")) {
            Some(line) if line.chars().count() > max => fail(format!(
                "the error line has {} characters, more than {max}",
                line.chars().count()
            )),
            Some(_) => {}
            None => fail("no error line".to_owned()),
        }
    }
    if let Some(mib) = row.max_rss_mib
        && run.peak_rss_kib >= mib * 1024
    {
        fail(format!(
            "peak RSS {} KiB, not below {mib} MiB",
            run.peak_rss_kib
        ));
    }
    if run.peak_rss_kib == 0 && row.max_rss_mib.is_some() {
        fail("the peak RSS could not be read from /proc".to_owned());
    }
    assert!(
        failures.is_empty(),
        "row {name}: {}\n{run:?}",
        failures.join("; ")
    );
}

/// What differs between the expected request counts and the counters' change.
fn request_problems(
    before: &Counters,
    after: &Counters,
    expected: &[(Endpoint, u64)],
) -> Vec<String> {
    Endpoint::ALL
        .iter()
        .filter_map(|endpoint| {
            let got = after.get(*endpoint) - before.get(*endpoint);
            let want = expected
                .iter()
                .find(|(e, _)| e == endpoint)
                .map_or(0, |(_, n)| *n);
            (got != want).then(|| format!("{endpoint}: {got} requests, expected {want}"))
        })
        .collect()
}

/// Creates `count` users through the SDK.
async fn create_users(emulator: &Emulator, count: usize) -> Vec<String> {
    let credentials = emulator.podero_credentials();
    let auth = PoderoAuth::new(
        credentials.client_id.as_str(),
        credentials.client_secret.as_str(),
    )
    .environment(Environment::Custom(emulator.base_url().to_owned()));
    let client = PoderoClient::from_auth(auth, OrgId::new(emulator.org_id())).unwrap();
    let mut ids = Vec::with_capacity(count);
    for n in 0..count {
        let email = format!("row-{n}@example.com");
        let user = client
            .users()
            .create(&NewUser::new(email, Role::User))
            .await
            .unwrap();
        ids.push(user.id.to_string());
    }
    ids
}
