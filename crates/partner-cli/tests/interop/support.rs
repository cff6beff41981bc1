//! A real django-oauth-toolkit server (`interop/dot`) for interop tests.
//!
//! Shared by two test binaries: this crate's `interop` suite and `partner-sdk`'s `dot` suite
//! (which includes this file with `#[path]`). It owns the Python side: the virtualenv (built
//! here when missing, see `interop/dot/venv.rs`), starting `manage.py serve_interop` for a
//! [`Variant`] in its own directory with its own SQLite database, waiting for its readiness line
//! with a deadline, and the few calls tests make to the server itself: new OAuth
//! applications, revocation through `/oauth2/revoke_token/`, the access tokens in the
//! database, polling until DOT rejects a token.
//!
//! Servers pick their own free port (the OS assigns it: parallel servers never collide) and
//! exit when their standard input closes, so a test process that dies leaves none behind.
//! [`DotServer::shared`] starts one server per variant per test binary; tests sharing it stay
//! independent by using their own organisation ids and, where they count tokens, their own
//! OAuth application ([`DotServer::new_client`]).
//!
//! It must not know the CLI or the SDK: each suite drives those itself.
// Waiting for a real server process (start-up, readiness, expiry) is measured on the real
// clock, with deadlines.
#![allow(clippy::disallowed_methods)]
// Each including binary uses a different part of this module; progress (the venv build, server
// start-up times) goes to stderr, which the test harness shows for failures and --nocapture.
#![allow(dead_code, clippy::print_stderr)]

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File};
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant};

use serde_json::Value;

#[path = "../../../../interop/dot/venv.rs"]
mod venv;

/// How long a server may take from spawn to its readiness line. Typically under a second;
/// the first server of a fresh checkout also migrates a template database (about 3 s), and
/// the machine may be busy with parallel builds.
const STARTUP_DEADLINE: Duration = Duration::from_secs(90);

/// The readiness line's prefix (`serve_interop.py`).
const READY: &str = "INTEROP-DOT-READY ";

/// The token body DOT's OAuth backend parses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Backend {
    /// `JSONOAuthLibCore` (deprecated in DOT 3.4.1): JSON bodies, as Podero documents.
    Json,
    /// `OAuthLibCore`, DOT's default: form bodies only.
    Form,
}

/// How the users API authenticates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Style {
    /// DRF views with DOT's `OAuth2Authentication`: 401 with `WWW-Authenticate` for a bad token.
    Drf,
    /// DOT's `ProtectedResourceView` family: a bare 403 for a bad token.
    Protected,
}

/// What a server is: backend, resource style, token lifetime, page size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Variant {
    pub(crate) backend: Backend,
    pub(crate) style: Style,
    pub(crate) token_seconds: u32,
    pub(crate) page_size: u32,
}

impl Variant {
    /// Podero's 36000 s tokens and two users per page, so a handful of users spans pages.
    pub(crate) const fn new(backend: Backend, style: Style) -> Self {
        Self {
            backend,
            style,
            token_seconds: 36_000,
            page_size: 2,
        }
    }

    /// The same variant with another token lifetime.
    pub(crate) const fn token_seconds(mut self, seconds: u32) -> Self {
        self.token_seconds = seconds;
        self
    }
}

/// A client id and secret (the secret in plain text; DOT stores it hashed).
#[derive(Clone, Debug)]
pub(crate) struct Credentials {
    pub(crate) client_id: String,
    pub(crate) client_secret: String,
}

/// An access token DOT holds or held.
#[derive(Clone, Debug)]
pub(crate) struct StoredToken {
    pub(crate) token: String,
    pub(crate) client_id: Option<String>,
    /// Whether the token is still in the database (revoked ones are deleted).
    pub(crate) stored: bool,
}

/// A running `manage.py serve_interop`, stopped when dropped.
pub(crate) struct DotServer {
    variant: Variant,
    base_url: String,
    addr: String,
    /// A client-credentials application with a generated secret.
    pub(crate) client: Credentials,
    /// A client-credentials application whose secret is `a b:c+d/e=f%&é`.
    pub(crate) special: Credentials,
    /// An authorization-code application: the token endpoint refuses it the grant.
    pub(crate) authcode: Credentials,
    /// How long the server took from spawn to readiness.
    pub(crate) startup: Duration,
    child: Mutex<Child>,
    /// Kept open: the server exits when it closes.
    _stdin: ChildStdin,
    data_dir: PathBuf,
    /// Every token ever listed or revoked, with its client id.
    seen: Mutex<BTreeMap<String, Option<String>>>,
}

/// The workspace root.
pub(crate) fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("crates/<name> sits two levels below the workspace root")
        .to_path_buf()
}

/// Cargo's target directory: the parent of the integration tests' `CARGO_TARGET_TMPDIR`.
fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("CARGO_TARGET_TMPDIR is <target>/tmp")
        .to_path_buf()
}

/// The virtualenv's interpreter, building the virtualenv first if needed (once per process;
/// under a file lock across processes). Fails the test with what to install if it cannot.
pub(crate) fn python() -> &'static Path {
    static PYTHON: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let python = PYTHON.get_or_init(|| {
        let started = Instant::now();
        let venv = venv::ensure(&project_root(), &target_dir(), &mut |step| {
            eprintln!("interop venv: {step}");
        })?;
        if venv.created {
            eprintln!(
                "interop venv: built {} in {:.1}s",
                venv.dir.display(),
                started.elapsed().as_secs_f64()
            );
        }
        Ok(venv.python)
    });
    match python {
        Ok(path) => path,
        Err(message) => panic!(
            "the interop tests need a Python virtualenv with django-oauth-toolkit and could not \
             get one: {message}"
        ),
    }
}

impl DotServer {
    /// Starts a server of this variant for the caller alone.
    ///
    /// # Panics
    /// If the virtualenv cannot be had or the server is not ready within the deadline (with
    /// the server's log in the message).
    pub(crate) fn start(variant: Variant) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let python = python();
        let started = Instant::now();
        let data_dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join("interop-dot")
            .join(format!(
                "{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
        fs::create_dir_all(&data_dir).unwrap();
        let log_path = data_dir.join("server.log");
        let log = File::create(&log_path).unwrap();
        let mut child = Command::new(python)
            .args(["manage.py", "serve_interop", "--port", "0"])
            .args(["--watch-stdin", "--delete-data-dir"])
            .arg("--template-dir")
            .arg(target_dir().join("interop").join("templates"))
            .current_dir(project_root().join("interop").join("dot"))
            .env("INTEROP_DATA_DIR", &data_dir)
            .env(
                "INTEROP_BACKEND",
                match variant.backend {
                    Backend::Json => "json",
                    Backend::Form => "form",
                },
            )
            .env(
                "INTEROP_RESOURCE_STYLE",
                match variant.style {
                    Style::Drf => "drf",
                    Style::Protected => "protected",
                },
            )
            .env("INTEROP_TOKEN_SECONDS", variant.token_seconds.to_string())
            .env("INTEROP_PAGE_SIZE", variant.page_size.to_string())
            .env("INTEROP_CONTROL", "1")
            .env_remove("DJANGO_SETTINGS_MODULE")
            .env_remove("PYTHONWARNINGS")
            // No __pycache__ next to the sources. (A PYTHONPYCACHEPREFIX would ignore the
            // bytecode pip compiled into the venv and recompile Django on every start.)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", python.display()));
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();

        // The readiness line arrives on stdout; the reader then drains it until the server
        // exits, so the server never blocks on a full pipe.
        let (ready_tx, ready_rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            while let Some(Ok(line)) = lines.next() {
                if let Some(json) = line.strip_prefix(READY) {
                    let _ = ready_tx.send(json.to_owned());
                }
            }
        });
        let ready = match ready_rx.recv_timeout(STARTUP_DEADLINE) {
            Ok(json) => json,
            Err(error) => {
                let _ = child.kill();
                let _ = child.wait();
                let log = fs::read_to_string(&log_path).unwrap_or_default();
                let _ = fs::remove_dir_all(&data_dir);
                panic!(
                    "the DOT server ({variant:?}) did not get ready ({}): its log:\n{log}",
                    match error {
                        mpsc::RecvTimeoutError::Timeout => "deadline passed",
                        mpsc::RecvTimeoutError::Disconnected => "it exited",
                    }
                );
            }
        };
        let ready: Value = serde_json::from_str(&ready).unwrap();
        let app = |name: &str| Credentials {
            client_id: ready["apps"][name]["client_id"]
                .as_str()
                .unwrap()
                .to_owned(),
            client_secret: ready["apps"][name]["client_secret"]
                .as_str()
                .unwrap()
                .to_owned(),
        };
        let base_url = ready["base_url"].as_str().unwrap().to_owned();
        eprintln!(
            "DOT server {variant:?} at {base_url} ready in {:.2}s",
            started.elapsed().as_secs_f64()
        );
        Self {
            variant,
            addr: base_url.trim_start_matches("http://").to_owned(),
            base_url,
            client: app("client"),
            special: app("special"),
            authcode: app("authcode"),
            startup: started.elapsed(),
            child: Mutex::new(child),
            _stdin: stdin,
            data_dir,
            seen: Mutex::new(BTreeMap::new()),
        }
    }

    /// The server of this variant shared by every test of this binary, started on first use.
    /// It lives until the test process ends (its closed stdin stops it).
    pub(crate) fn shared(variant: Variant) -> &'static Self {
        type Slot = Arc<OnceLock<&'static DotServer>>;
        static SERVERS: OnceLock<Mutex<HashMap<Variant, Slot>>> = OnceLock::new();
        let slot = Arc::clone(
            SERVERS
                .get_or_init(Default::default)
                .lock()
                .unwrap()
                .entry(variant)
                .or_default(),
        );
        // Different variants start in parallel; callers of one variant wait for its start.
        slot.get_or_init(|| Box::leak(Box::new(Self::start(variant))))
    }

    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub(crate) fn base_url(&self) -> &str {
        &self.base_url
    }

    /// What this server is.
    pub(crate) fn variant(&self) -> Variant {
        self.variant
    }

    /// The server's own directory (its database and log).
    pub(crate) fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The server process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.lock().unwrap().id()
    }

    /// A new client-credentials application with a generated secret, for this caller alone.
    pub(crate) fn new_client(&self) -> Credentials {
        self.new_app(r#"{"grant": "client-credentials"}"#)
    }

    /// A new client-credentials application with the given secret.
    pub(crate) fn new_client_with_secret(&self, secret: &str) -> Credentials {
        self.new_app(
            &serde_json::json!({"grant": "client-credentials", "client_secret": secret})
                .to_string(),
        )
    }

    fn new_app(&self, spec: &str) -> Credentials {
        let response = self.http(
            "POST",
            "/__interop/apps",
            &[("Content-Type", "application/json")],
            spec.as_bytes(),
        );
        assert_eq!(response.status, 201, "{response:?}");
        let app = response.json();
        Credentials {
            client_id: app["client_id"].as_str().unwrap().to_owned(),
            client_secret: app["client_secret"].as_str().unwrap().to_owned(),
        }
    }

    /// Revokes `token` through DOT's `/oauth2/revoke_token/` as `client` (the application
    /// the token was issued to), with the body encoding this server's backend parses.
    pub(crate) fn revoke(&self, token: &str, client: &Credentials) {
        self.seen
            .lock()
            .unwrap()
            .entry(token.to_owned())
            .or_insert_with(|| Some(client.client_id.clone()));
        // Client authentication in the body: DOT accepts it (oauth2_validators.py,
        // _authenticate_request_body), and it needs no Basic encoding here.
        let (content_type, body) = match self.variant.backend {
            Backend::Json => (
                "application/json",
                serde_json::json!({
                    "token": token,
                    "token_type_hint": "access_token",
                    "client_id": client.client_id,
                    "client_secret": client.client_secret,
                })
                .to_string(),
            ),
            Backend::Form => (
                "application/x-www-form-urlencoded",
                format!(
                    "token={}&token_type_hint=access_token&client_id={}&client_secret={}",
                    percent_encode(token),
                    percent_encode(&client.client_id),
                    percent_encode(&client.client_secret)
                ),
            ),
        };
        let response = self.http(
            "POST",
            "/oauth2/revoke_token/",
            &[("Content-Type", content_type)],
            body.as_bytes(),
        );
        assert_eq!(response.status, 200, "revocation failed: {response:?}");
        let stored = self.stored_tokens();
        assert!(
            !stored.iter().any(|t| t == token),
            "DOT still holds the revoked token"
        );
    }

    /// The raw access tokens in DOT's database now (`GET /__interop/tokens`).
    pub(crate) fn stored_tokens(&self) -> Vec<String> {
        let response = self.http("GET", "/__interop/tokens", &[], b"");
        assert_eq!(response.status, 200, "{response:?}");
        let listed = response.json();
        let mut seen = self.seen.lock().unwrap();
        listed
            .as_array()
            .unwrap()
            .iter()
            .map(|entry| {
                let token = entry["token"].as_str().unwrap().to_owned();
                let client = entry["client_id"].as_str().map(str::to_owned);
                seen.insert(token.clone(), client);
                token
            })
            .collect()
    }

    /// Every token DOT holds now or held before (revoked tokens are deleted from its
    /// database; this keeps them), for the secret scan.
    pub(crate) fn all_tokens(&self) -> Vec<StoredToken> {
        let stored = self.stored_tokens();
        self.seen
            .lock()
            .unwrap()
            .iter()
            .map(|(token, client_id)| StoredToken {
                stored: stored.contains(token),
                token: token.clone(),
                client_id: client_id.clone(),
            })
            .collect()
    }

    /// The tokens DOT issued to `client_id` (stored now or seen before).
    pub(crate) fn tokens_of(&self, client_id: &str) -> Vec<StoredToken> {
        self.all_tokens()
            .into_iter()
            .filter(|t| t.client_id.as_deref() == Some(client_id))
            .collect()
    }

    /// The tokens in the database, through `manage.py list_access_tokens` (a Python process:
    /// slower than [`stored_tokens`](Self::stored_tokens), which tests use after every step).
    pub(crate) fn tokens_by_management_command(&self) -> Vec<String> {
        let output = Command::new(python())
            .args(["manage.py", "list_access_tokens"])
            .current_dir(project_root().join("interop").join("dot"))
            .env("INTEROP_DATA_DIR", &self.data_dir)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let listed: Value = serde_json::from_slice(&output.stdout).unwrap();
        listed
            .as_array()
            .unwrap()
            .iter()
            .map(|entry| entry["token"].as_str().unwrap().to_owned())
            .collect()
    }

    /// A GET of the users list with `token`: DOT's verdict on it (200, 401 or 403).
    pub(crate) fn status_with_token(&self, token: &str) -> u16 {
        let path = format!(
            "/api/partners/v2.0/org/{}/users",
            uuid::Uuid::new_v4().hyphenated()
        );
        let bearer = format!("Bearer {token}");
        self.http("GET", &path, &[("Authorization", &bearer)], b"")
            .status
    }

    /// Polls until DOT rejects `token` (it expired), and returns the status it answers; fails
    /// the test after `deadline`.
    pub(crate) fn wait_until_rejected(&self, token: &str, deadline: Duration) -> u16 {
        let until = Instant::now() + deadline;
        loop {
            if self.status_with_token(token) != 200 {
                // Asked again: at the expiry boundary DRF can answer 403 once, when the token
                // expires between its authentication (valid) and TokenHasReadWriteScope's
                // check (`is_valid` again). Past expiry, the answer is the style's own.
                return self.status_with_token(token);
            }
            assert!(
                Instant::now() < until,
                "DOT still accepts the token after {deadline:?}"
            );
            // Polling interval, not a wait for an outcome: the loop ends on DOT's answer.
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// One HTTP/1.1 request over a fresh loopback connection (`Connection: close`).
    pub(crate) fn http(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> HttpResponse {
        let mut stream = TcpStream::connect(&self.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.addr,
            body.len()
        );
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        stream.write_all(request.as_bytes()).unwrap();
        stream.write_all(body).unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).unwrap();
        HttpResponse::parse(&raw)
    }
}

impl Drop for DotServer {
    fn drop(&mut self) {
        if let Ok(child) = self.child.get_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = fs::remove_dir_all(&self.data_dir);
    }
}

/// An answer of [`DotServer::http`].
#[derive(Debug)]
pub(crate) struct HttpResponse {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: String,
}

impl HttpResponse {
    fn parse(raw: &[u8]) -> Self {
        let text = String::from_utf8_lossy(raw);
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|line| line.split_whitespace().nth(1))
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("not an HTTP response: {text:?}"));
        let headers = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
            .collect();
        Self {
            status,
            headers,
            body: body.to_owned(),
        }
    }

    /// The body as JSON.
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {self:?}"))
    }

    /// A header's value (names are lower-case).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// RFC 3986 percent-encoding: everything but the unreserved characters.
pub(crate) fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
