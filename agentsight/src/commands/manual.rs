//! `agentsight completions SHELL` and `agentsight man`: both generated from the one clap
//! definition in `main.rs`, so they cannot drift from the commands they describe.

use std::path::Path;

use anyhow::{Context, Result};

/// Writes the completion script for `shell` on stdout.
pub(crate) fn completions(shell: clap_complete::Shell, mut cmd: clap::Command) -> Result<i32> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "agentsight", &mut script);
    crate::render::print_text(&String::from_utf8_lossy(&script))?;
    Ok(0)
}

/// Writes the manual page on stdout, or with `dir` one page per command into it
/// (`agentsight.1`, `agentsight-record.1`, ...).
pub(crate) fn man(cmd: clap::Command, dir: Option<&Path>) -> Result<i32> {
    match dir {
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("failed to create `{}`", dir.display()))?;
            clap_mangen::generate_to(cmd, dir)
                .with_context(|| format!("failed to write manual pages into `{}`", dir.display()))?;
            eprintln!("agentsight: manual pages written to `{}`", dir.display());
        }
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(cmd).render(&mut page).context("failed to render the manual page")?;
            crate::render::print_text(&String::from_utf8_lossy(&page))?;
        }
    }
    Ok(0)
}
