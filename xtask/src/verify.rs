//! `cargo xtask verify`: the project's whole check, as CI runs it (`.ci/run`).
//!
//! A step is one row of [`STEPS`]: a cargo command, or a function of this crate for work that
//! is more than one command (the feature matrix). Steps run in order and stop at the first
//! failure; each prints its command before it runs and its time after, and a table of every
//! step's time ends the run.
//!
//! Every cargo command that resolves dependencies takes `--locked`, so a lock file that does
//! not match the manifests fails the run instead of being rewritten (`cargo fmt` resolves
//! nothing and does not accept the flag). Snapshot tests run with `INSTA_UPDATE=no`: they fail
//! on a mismatch and never write a new snapshot.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};

use crate::{cargo, features, interop, redis};

/// One check of `cargo xtask verify`.
pub(crate) struct Step {
    name: &'static str,
    run: Run,
}

enum Run {
    /// `cargo <args>` with extra environment variables.
    Cargo {
        args: &'static [&'static str],
        env: &'static [(&'static str, &'static str)],
    },
    /// A function of this crate; `command` runs it alone.
    Task {
        command: &'static str,
        run: fn() -> Result<()>,
    },
}

impl Step {
    /// `cargo <args>`.
    const fn cargo(name: &'static str, args: &'static [&'static str]) -> Self {
        Self::cargo_with_env(name, &[], args)
    }

    /// `<env> cargo <args>`.
    const fn cargo_with_env(
        name: &'static str,
        env: &'static [(&'static str, &'static str)],
        args: &'static [&'static str],
    ) -> Self {
        Self {
            name,
            run: Run::Cargo { args, env },
        }
    }

    /// A function of this crate, which `command` (e.g. `cargo xtask features`) runs alone.
    const fn task(name: &'static str, command: &'static str, run: fn() -> Result<()>) -> Self {
        Self {
            name,
            run: Run::Task { command, run },
        }
    }

    /// The command as a person would type it.
    fn command(&self) -> String {
        match &self.run {
            Run::Cargo { args, env } => {
                let env: String = env.iter().map(|(k, v)| format!("{k}='{v}' ")).collect();
                format!("{env}cargo {}", args.join(" "))
            }
            Run::Task { command, .. } => (*command).to_owned(),
        }
    }

    fn execute(&self) -> Result<()> {
        match &self.run {
            Run::Cargo { args, env } => {
                let status = cargo(args)
                    .envs(env.iter().copied())
                    .env("INSTA_UPDATE", "no")
                    .status()
                    .with_context(|| format!("could not run `{}`", self.command()))?;
                if !status.success() {
                    bail!("`{}` exited with {status}", self.command());
                }
                Ok(())
            }
            Run::Task { run, .. } => run(),
        }
    }
}

/// The steps, in order. Adding a check is adding a row: `Step::cargo` for one cargo command,
/// `Step::task` for a function of this crate (with the `cargo xtask …` command that runs it
/// alone); a step that prepares the tests goes before `test`.
pub(crate) const STEPS: &[Step] = &[
    Step::cargo("fmt", &["fmt", "--all", "--check"]),
    Step::cargo(
        "clippy",
        &[
            "clippy",
            "--locked",
            "--workspace",
            "--all-targets",
            "--all-features",
            "--",
            "-D",
            "warnings",
        ],
    ),
    Step::task("features", "cargo xtask features", features::run),
    // The interop tests need the Python virtualenv with django-oauth-toolkit.
    Step::task("interop-env", "cargo xtask interop-env", interop::run),
    // The Redis tests start real redis-server processes.
    Step::task("redis", "cargo xtask redis", redis::run),
    // Includes the tidy tests (xtask), the fixture replay (podero-auth, poa-auth) and the
    // README command check (partner-cli).
    Step::cargo("test", &["test", "--locked", "--workspace"]),
    Step::cargo_with_env(
        "doc",
        &[("RUSTDOCFLAGS", "-D warnings")],
        &[
            "doc",
            "--locked",
            "--workspace",
            "--no-deps",
            "--all-features",
        ],
    ),
];

pub(crate) fn run() -> Result<()> {
    let started = Instant::now();
    let mut times: Vec<(&Step, Duration)> = Vec::new();
    for step in STEPS {
        println!("\n==> [{}] {}", step.name, step.command());
        let step_started = Instant::now();
        let result = step.execute();
        let elapsed = step_started.elapsed();
        times.push((step, elapsed));
        if let Err(error) = result {
            print!("{}", summary(&times));
            return Err(error.context(format!("step `{}` failed", step.name)));
        }
        println!("==> [{}] ok in {:.1}s", step.name, elapsed.as_secs_f64());
    }
    print!("{}", summary(&times));
    println!(
        "verify: all {} steps passed in {:.0}s",
        STEPS.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// A table of the steps run so far: name, time, command.
fn summary(times: &[(&Step, Duration)]) -> String {
    let mut table = String::from("\nstep times:\n");
    for (step, elapsed) in times {
        let _ = writeln!(
            table,
            "  {:<10} {:>7.1}s  {}",
            step.name,
            elapsed.as_secs_f64(),
            step.command()
        );
    }
    table
}

#[cfg(test)]
mod tests {
    use super::{Run, STEPS};

    #[test]
    fn every_cargo_step_but_fmt_is_locked() {
        for step in STEPS {
            if let Run::Cargo { args, .. } = &step.run {
                let locked = args.get(1) == Some(&"--locked");
                let fmt = args.first() == Some(&"fmt");
                assert!(
                    locked != fmt,
                    "step `{}`: `cargo {}` must take --locked right after the subcommand \
                     (all but `cargo fmt`, which resolves nothing and rejects it)",
                    step.name,
                    args.join(" ")
                );
            }
        }
    }

    #[test]
    fn step_names_are_unique() {
        let mut names: Vec<&str> = STEPS.iter().map(|step| step.name).collect();
        names.sort_unstable();
        let count = names.len();
        names.dedup();
        assert_eq!(names.len(), count, "two steps share a name");
    }
}
