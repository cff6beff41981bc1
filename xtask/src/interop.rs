//! `cargo xtask interop-env`: the Python virtualenv with the real django-oauth-toolkit that the
//! interop tests (`crates/partner-cli/tests/interop`, `crates/partner-sdk/tests/dot`) run.
//!
//! The work is `interop/dot/venv.rs`, shared with the test support (which builds the venv
//! itself when it is missing, so `cargo test` alone works too): `<target>/interop/venv`, built
//! with `python3 -m venv` and `pip install --no-deps -r interop/dot/requirements.txt`, reused
//! while its stamp (a hash of the requirements and the Python version) matches.

use std::process::Command;
use std::time::Instant;

use anyhow::{Context as _, Result, anyhow};

use crate::project_root;

#[path = "../../interop/dot/venv.rs"]
mod venv;

/// Builds the virtualenv if needed and says where it is.
pub(crate) fn run() -> Result<()> {
    let root = project_root();
    let target = target_dir()?;
    let started = Instant::now();
    let venv = venv::ensure(&root, &target, &mut |step| println!("{step}"))
        .map_err(|message| anyhow!(message))?;
    println!(
        "interop-env: {} {} in {:.1}s; its interpreter: {}",
        venv.dir.display(),
        if venv.created { "built" } else { "up to date" },
        started.elapsed().as_secs_f64(),
        venv.python.display()
    );
    Ok(())
}

/// Cargo's target directory (honouring `CARGO_TARGET_DIR` and `build.target-dir`), where the
/// tests look for the virtualenv too.
fn target_dir() -> Result<std::path::PathBuf> {
    let output = Command::new("cargo")
        .args(["metadata", "--locked", "--format-version", "1", "--no-deps"])
        .current_dir(project_root())
        .output()
        .context("running `cargo metadata`")?;
    if !output.status.success() {
        anyhow::bail!(
            "`cargo metadata` failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).context("`cargo metadata` printed no JSON")?;
    metadata["target_directory"]
        .as_str()
        .map(Into::into)
        .context("`cargo metadata` names no target_directory")
}
