//! The Python virtualenv that runs the real django-oauth-toolkit of the interop suite.
//!
//! One implementation with two users, both of which include this file with `#[path]`:
//! `cargo xtask interop-env` (`xtask/src/interop.rs`, a step of `cargo xtask verify`) and the
//! interop test support (`crates/partner-cli/tests/interop/support.rs`), so a plain
//! `cargo test --workspace` works on a machine that has `python3` and reaches PyPI.
//!
//! [`ensure`] creates `<target>/interop/venv` with `python3 -m venv`, installs exactly
//! `interop/dot/requirements.txt` into it (`pip install --no-deps`, then `pip check` to prove
//! the pinned set is complete) and writes a stamp holding a hash of the requirements and the
//! interpreter's version. A venv whose stamp matches is used as it is; anything else is
//! rebuilt from scratch. The work happens under an exclusive file lock
//! (`<target>/interop/venv.lock`), so parallel test binaries and `cargo xtask` never race.
//!
//! It depends on std and, for the lock on Unix, `rustix` only.

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The pinned requirements, relative to the project root.
pub(crate) const REQUIREMENTS: &str = "interop/dot/requirements.txt";

/// The interpreter the virtualenv is made from.
pub(crate) const PYTHON: &str = "python3";

/// What to install when `python3` is missing or cannot make a virtualenv.
const INSTALL_HINT: &str = "install Python 3.10 or newer with its venv module, e.g. \
     `apt-get install python3 python3-venv` on Debian or Ubuntu";

/// A ready virtualenv.
#[derive(Debug)]
pub(crate) struct Venv {
    /// `<target>/interop/venv`.
    pub(crate) dir: PathBuf,
    /// Its interpreter.
    pub(crate) python: PathBuf,
    /// Whether this call built it (false: the stamp matched).
    pub(crate) created: bool,
}

/// The virtualenv's directory under the Cargo target directory.
pub(crate) fn venv_dir(target_dir: &Path) -> PathBuf {
    target_dir.join("interop").join("venv")
}

/// The interpreter inside a virtualenv directory.
fn venv_python(dir: &Path) -> PathBuf {
    if cfg!(windows) {
        dir.join("Scripts").join("python.exe")
    } else {
        dir.join("bin").join("python")
    }
}

/// Makes sure `<target_dir>/interop/venv` holds exactly the pinned requirements, building it
/// if needed; `progress` receives one line per step taken.
///
/// # Errors
/// A message saying what failed and what to do: `python3` missing or too old (naming the
/// Debian packages), `python3 -m venv` failing (`python3-venv`), pip failing (PyPI
/// unreachable?), or a file that cannot be read or written.
pub(crate) fn ensure(
    project_root: &Path,
    target_dir: &Path,
    progress: &mut dyn FnMut(&str),
) -> Result<Venv, String> {
    let requirements_path = project_root.join(REQUIREMENTS);
    let requirements = fs::read(&requirements_path)
        .map_err(|e| format!("cannot read {}: {e}", requirements_path.display()))?;
    let version = python_version()?;
    let stamp_text = format!(
        "requirements-fnv1a64 {:016x}\n{version}\n",
        fnv1a64(&requirements)
    );

    let interop_dir = target_dir.join("interop");
    fs::create_dir_all(&interop_dir)
        .map_err(|e| format!("cannot create {}: {e}", interop_dir.display()))?;
    let _lock = lock(&interop_dir.join("venv.lock"))?;

    let dir = venv_dir(target_dir);
    let python = venv_python(&dir);
    let stamp = dir.join("interop-stamp");
    if python.exists() && fs::read_to_string(&stamp).is_ok_and(|text| text == stamp_text) {
        return Ok(Venv {
            dir,
            python,
            created: false,
        });
    }

    if dir.exists() {
        progress(&format!("removing the outdated {}", dir.display()));
        fs::remove_dir_all(&dir).map_err(|e| format!("cannot remove {}: {e}", dir.display()))?;
    }
    progress(&format!("{PYTHON} -m venv {}", dir.display()));
    let output = run(Command::new(PYTHON).arg("-m").arg("venv").arg(&dir))?;
    if !output.status.success() {
        return Err(format!(
            "`{PYTHON} -m venv` failed ({}): {}; {INSTALL_HINT}",
            output.status,
            tail(&output)
        ));
    }
    progress(&format!(
        "{} -m pip install --no-deps -r {REQUIREMENTS}",
        python.display()
    ));
    let output = run(Command::new(&python)
        .args(["-m", "pip", "install"])
        .args(["--disable-pip-version-check", "--no-input", "--quiet"])
        .arg("--no-deps")
        .arg("--requirement")
        .arg(&requirements_path))?;
    if !output.status.success() {
        return Err(format!(
            "pip could not install {REQUIREMENTS} ({}; is PyPI reachable?): {}",
            output.status,
            tail(&output)
        ));
    }
    let output =
        run(Command::new(&python).args(["-m", "pip", "check", "--disable-pip-version-check"]))?;
    if !output.status.success() {
        return Err(format!(
            "{REQUIREMENTS} is not a complete, consistent set (`pip check`): {}",
            tail(&output)
        ));
    }
    fs::write(&stamp, stamp_text).map_err(|e| format!("cannot write {}: {e}", stamp.display()))?;
    Ok(Venv {
        dir,
        python,
        created: true,
    })
}

/// `Python 3.X.Y`, checked to be 3.10 or newer (Django 5.2's minimum).
fn python_version() -> Result<String, String> {
    let output = Command::new(PYTHON)
        .arg("--version")
        .output()
        .map_err(|e| format!("cannot run `{PYTHON}` ({e}): {INSTALL_HINT}"))?;
    let text = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let minor = text
        .strip_prefix("Python 3.")
        .and_then(|rest| rest.split('.').next())
        .and_then(|minor| minor.parse::<u32>().ok());
    match minor {
        Some(minor) if output.status.success() && minor >= 10 => Ok(text),
        _ => Err(format!(
            "`{PYTHON} --version` says {text:?} ({}): Django 5.2 needs Python 3.10 or newer; {INSTALL_HINT}",
            output.status
        )),
    }
}

fn run(command: &mut Command) -> Result<Output, String> {
    command
        .output()
        .map_err(|e| format!("cannot run {command:?}: {e}"))
}

/// The last lines of a failed command's output.
fn tail(output: &Output) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// FNV-1a, 64 bits: a stamp hash that stays the same across Rust releases.
fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// An exclusive lock on `path`, held until the returned file is dropped.
fn lock(path: &Path) -> Result<File, String> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| format!("cannot open the lock file {}: {e}", path.display()))?;
    #[cfg(unix)]
    rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)
        .map_err(|e| format!("cannot lock {}: {e}", path.display()))?;
    // Elsewhere there is no lock: parallel first runs may both build the venv.
    Ok(file)
}
