//! `cargo xtask redis`: makes sure `redis-server` and `redis-cli` are installed, because the
//! tests of `auth-redis` and `fleet-tests` start real Redis servers and a real Redis Cluster
//! (they fail, never skip, without them).
//!
//! When either program is missing and this runs as root on a machine with `apt-get` (CI is a
//! fresh Debian machine, run as root), it installs Debian's `redis-server` package, which
//! brings both; otherwise it stops with a message naming the package.

use std::path::Path;
use std::process::Command;

use anyhow::{Context as _, Result, bail};

/// The Debian package with `redis-server` and `redis-cli`.
const PACKAGE: &str = "redis-server";
/// The programs the tests run.
const PROGRAMS: [&str; 2] = ["redis-server", "redis-cli"];

/// Installs Redis if it is missing and says which version is there.
pub(crate) fn run() -> Result<()> {
    let missing: Vec<&str> = PROGRAMS
        .into_iter()
        .filter(|program| !on_path(program))
        .collect();
    if !missing.is_empty() {
        install(&missing)?;
    }
    let version = Command::new("redis-server")
        .arg("--version")
        .output()
        .context("running `redis-server --version`")?;
    println!("redis: {}", String::from_utf8_lossy(&version.stdout).trim());
    Ok(())
}

fn install(missing: &[&str]) -> Result<()> {
    let names = missing.join(" and ");
    if !is_root() || !on_path("apt-get") {
        bail!(
            "{names} not found: the Redis tests need them. Install the `{PACKAGE}` package \
             (Debian/Ubuntu: `sudo apt-get install -y {PACKAGE}`), or put {names} on PATH"
        );
    }
    println!("redis: {names} not found; installing Debian's `{PACKAGE}` package");
    for args in [
        &["update"][..],
        &["install", "-y", "--no-install-recommends", PACKAGE][..],
    ] {
        println!("$ apt-get {}", args.join(" "));
        let status = Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .with_context(|| format!("running `apt-get {}`", args.join(" ")))?;
        if !status.success() {
            bail!(
                "`apt-get {}` exited with {status}; install the `{PACKAGE}` package by hand",
                args.join(" ")
            );
        }
    }
    // The package starts a system-wide server on port 6379; the tests start their own, so
    // it is left as the package set it up.
    if let Some(still) = PROGRAMS.into_iter().find(|program| !on_path(program)) {
        bail!("`{PACKAGE}` is installed but {still} is still not on PATH");
    }
    Ok(())
}

/// Whether `program` is an executable file in a `PATH` directory.
fn on_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| is_executable(&dir.join(program)))
    })
}

fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        path.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        path.is_file()
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
}
