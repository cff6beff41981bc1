//! Running the `partner` binary against a DOT server, and the secret scan after every run.
//!
//! [`Partner::run`] is the only way tests run the binary: it sets the Podero variables for one
//! server, application and organisation, removes everything else the binary reads, and scans
//! stdout and stderr afterwards for the client secret (raw, form-encoded, JSON-escaped,
//! percent-encoded and inside Basic headers) and for every access token DOT holds or held.

use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use crate::support::{Credentials, DotServer, percent_encode};

/// Variables the binary reads that no test may inherit from the environment.
const CLEARED: [&str; 13] = [
    "PARTNER_TOKEN_CACHE_DIR",
    "PARTNER_REDIS_URL",
    "XDG_CACHE_HOME",
    "PODERO_BASE_URL",
    "PODERO_CLIENT_ID",
    "PODERO_CLIENT_SECRET",
    "PODERO_ORG_ID",
    "PODERO_TOKEN_BODY",
    "POA_BASE_URL",
    "POA_CLIENT_ID",
    "POA_CLIENT_SECRET",
    "POA_TOKEN_PATH",
    "RUST_LOG",
];

/// The `partner` binary configured for one server, application and organisation.
///
/// Its runs share a token cache directory of their own, as one user's runs do: the second run
/// reuses the first run's token while it is fresh.
pub(crate) struct Partner<'a> {
    server: &'a DotServer,
    credentials: Credentials,
    org_id: String,
    vars: Vec<(String, String)>,
    cache_dir: CacheDir,
}

/// A token cache directory, removed when dropped.
struct CacheDir(std::path::PathBuf);

impl Drop for CacheDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// How many times a token run is made when the token expires on its way (a loaded machine).
pub(crate) const TOKEN_ATTEMPTS: usize = 3;

/// What a run printed and how it ended.
#[derive(Debug)]
pub(crate) struct Run {
    pub(crate) code: Option<i32>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl<'a> Partner<'a> {
    /// The binary with `credentials` at `server`, for a fresh organisation of its own.
    pub(crate) fn new(server: &'a DotServer, credentials: &Credentials) -> Self {
        Self {
            server,
            credentials: credentials.clone(),
            org_id: uuid::Uuid::new_v4().hyphenated().to_string(),
            vars: Vec::new(),
            cache_dir: CacheDir(
                std::env::temp_dir()
                    .join(format!("partner-interop-{}", uuid::Uuid::new_v4().simple())),
            ),
        }
    }

    /// Adds an environment variable (e.g. `PODERO_TOKEN_BODY`).
    pub(crate) fn var(mut self, name: &str, value: &str) -> Self {
        self.vars.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The organisation id this runner uses.
    pub(crate) fn org_id(&self) -> &str {
        &self.org_id
    }

    /// Runs `partner args...` with `RUST_LOG=trace`, then scans its output.
    pub(crate) fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, Some("trace"), None)
    }

    /// Runs `partner args...` without `RUST_LOG` (what a user sees by default), then scans its
    /// output.
    pub(crate) fn run_plain(&self, args: &[&str]) -> Run {
        self.run_with(args, None, None)
    }

    /// Runs `partner token --vendor podero --show-secret` (traced): the one token the command
    /// prints on purpose is exempt from the scan of stdout, nothing else is.
    /// A run whose five-second token expired on its way (see [`Run::expired_on_arrival`]) is
    /// run again, up to [`TOKEN_ATTEMPTS`] times in all.
    pub(crate) fn run_showing_token(&self) -> (Run, String) {
        let args = ["token", "--vendor", "podero", "--show-secret"];
        let mut run = Run::from(self.command(&args, Some("trace")).output().unwrap());
        for _ in 1..TOKEN_ATTEMPTS {
            if !run.expired_on_arrival() {
                break;
            }
            self.scan(&run, None);
            run = Run::from(self.command(&args, Some("trace")).output().unwrap());
        }
        assert_eq!(run.code, Some(0), "{run:?}");
        let token = run.json()["access_token"].as_str().unwrap().to_owned();
        self.scan(&run, Some(&token));
        (run, token)
    }

    fn run_with(&self, args: &[&str], rust_log: Option<&str>, exempt: Option<&str>) -> Run {
        let run = Run::from(self.command(args, rust_log).output().unwrap());
        self.scan(&run, exempt);
        run
    }

    fn command(&self, args: &[&str], rust_log: Option<&str>) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_partner"));
        command.args(args);
        for name in CLEARED {
            command.env_remove(name);
        }
        command
            .env("PODERO_BASE_URL", self.server.base_url())
            .env("PODERO_CLIENT_ID", &self.credentials.client_id)
            .env("PODERO_CLIENT_SECRET", &self.credentials.client_secret)
            .env("PODERO_ORG_ID", &self.org_id)
            .env("PARTNER_TOKEN_CACHE_DIR", &self.cache_dir.0);
        if let Some(filter) = rust_log {
            command.env("RUST_LOG", filter);
        }
        command.envs(self.vars.iter().map(|(k, v)| (k, v)));
        command
    }

    /// Fails the test if the run printed the secret in any encoding, or any token DOT holds or
    /// held (except `exempt` on stdout).
    fn scan(&self, run: &Run, exempt: Option<&str>) {
        let both = format!("{}\n{}", run.stdout, run.stderr);
        for (form, encoded) in secret_forms(&self.credentials) {
            assert!(
                !both.contains(&encoded),
                "the client secret leaked ({form}: {encoded:?}):\n{run:?}"
            );
        }
        let tokens = self.server.all_tokens();
        // Every successful command fetched a token: an empty list would make the scan vacuous.
        assert!(
            run.code != Some(0) || !tokens.is_empty(),
            "no token in DOT's database to scan for"
        );
        for token in tokens {
            let leaked_on_stdout =
                run.stdout.contains(&token.token) && exempt != Some(token.token.as_str());
            assert!(
                !leaked_on_stdout && !run.stderr.contains(&token.token),
                "an access token DOT issued leaked:\n{run:?}"
            );
        }
    }
}

/// The forms a secret could leak in, each named.
pub(crate) fn secret_forms(credentials: &Credentials) -> Vec<(&'static str, String)> {
    let secret = &credentials.client_secret;
    let id = &credentials.client_id;
    let form = |text: &str| form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>();
    let json = serde_json::to_string(secret).unwrap();
    let json_ascii: String = secret
        .chars()
        .map(|c| {
            if c.is_ascii() {
                c.to_string()
            } else {
                c.encode_utf16(&mut [0; 2])
                    .iter()
                    .map(|unit| format!("\\u{unit:04x}"))
                    .collect()
            }
        })
        .collect();
    vec![
        ("raw", secret.clone()),
        ("form-urlencoded", form(secret)),
        ("JSON string", json.trim_matches('"').to_owned()),
        ("JSON string, ASCII-escaped", json_ascii),
        ("percent-encoded", percent_encode(secret)),
        ("Debug", format!("{secret:?}").trim_matches('"').to_owned()),
        (
            "Basic credentials (RFC 6749 2.3.1)",
            STANDARD.encode(format!("{}:{}", form(id), form(secret))),
        ),
        (
            "Basic credentials (unencoded)",
            STANDARD.encode(format!("{id}:{secret}")),
        ),
        ("base64", STANDARD.encode(secret)),
    ]
}

impl From<std::process::Output> for Run {
    fn from(output: std::process::Output) -> Self {
        Self {
            code: output.status.code(),
            stdout: String::from_utf8(output.stdout).unwrap(),
            stderr: String::from_utf8(output.stderr).unwrap(),
        }
    }
}

impl Run {
    /// Stdout as JSON.
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("{e}: {self:?}"))
    }

    /// Asserts the exit code, showing the whole run otherwise.
    #[track_caller]
    pub(crate) fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, Some(code), "{self:?}");
        self
    }

    /// Asserts a successful run and returns stdout as JSON.
    #[track_caller]
    /// Whether the binary refused a token that had expired before it arrived (exit 4). DOT
    /// on a machine loaded by a 64-thread test run took over six seconds to answer once, more
    /// than the expiry tests' five-second tokens live: the binary is right to refuse such a
    /// token, and the run says nothing about what the test checks.
    pub(crate) fn expired_on_arrival(&self) -> bool {
        self.code == Some(4) && self.stderr.contains("before it arrived")
    }

    pub(crate) fn ok_json(&self) -> Value {
        self.assert_code(0);
        self.json()
    }
}
