//! `cargo xtask verify`: the project's whole check, as CI runs it.

use std::process::Command;
use std::time::Instant;

use anyhow::{Context as _, Result, bail};

use crate::project_root;

/// One check: a name and the command it runs.
struct Step {
    name: &'static str,
    program: &'static str,
    args: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
}

const STEPS: &[Step] = &[
    Step {
        name: "fmt",
        program: "cargo",
        args: &["fmt", "--all", "--check"],
        env: &[],
    },
    Step {
        name: "clippy",
        program: "cargo",
        args: &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--all-features",
            "--",
            "-D",
            "warnings",
        ],
        env: &[],
    },
    Step {
        name: "test",
        program: "cargo",
        args: &["test", "--workspace"],
        env: &[],
    },
    Step {
        name: "doc",
        program: "cargo",
        args: &["doc", "--workspace", "--no-deps", "--all-features"],
        env: &[("RUSTDOCFLAGS", "-D warnings")],
    },
];

pub(crate) fn run() -> Result<()> {
    let root = project_root();
    let started = Instant::now();
    for step in STEPS {
        if step.name == "test" {
            // The Redis tests start real redis-server processes; installing it is its own step.
            crate::redis::verify_step()?;
        }
        let command = format!("{} {}", step.program, step.args.join(" "));
        let env: String = step
            .env
            .iter()
            .map(|(k, v)| format!("{k}='{v}' "))
            .collect();
        println!("\n==> [{}] {env}{command}", step.name);
        let step_started = Instant::now();
        let status = Command::new(step.program)
            .args(step.args)
            .envs(step.env.iter().copied())
            // Snapshot tests must fail on a mismatch, never write new snapshots.
            .env("INSTA_UPDATE", "no")
            .current_dir(&root)
            .status()
            .with_context(|| format!("step `{}`: could not run `{command}`", step.name))?;
        if !status.success() {
            bail!(
                "step `{}` failed: `{env}{command}` exited with {status}",
                step.name
            );
        }
        println!(
            "==> [{}] ok in {:.1}s",
            step.name,
            step_started.elapsed().as_secs_f64()
        );
    }
    // The fixture replay and the README check run in child processes of this very binary,
    // with the same `INSTA_UPDATE=no` environment as the test step.
    let xtask = std::env::current_exe().context("locating the xtask binary")?;
    for step in ["fixtures", "readme"] {
        println!("\n==> [{step}] cargo xtask {step}");
        let status = Command::new(&xtask)
            .arg(step)
            .env("INSTA_UPDATE", "no")
            .current_dir(&root)
            .status()
            .with_context(|| format!("step `{step}`: could not run `cargo xtask {step}`"))?;
        if !status.success() {
            bail!("step `{step}` failed: `cargo xtask {step}` exited with {status}");
        }
    }
    println!(
        "\nverify: all steps passed in {:.0}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
