//! Shell completions and manual pages, both generated from the clap
//! definitions so that they cannot drift from the real flags.

use anyhow::{Context, Result};
use clap::CommandFactory;
use std::path::Path;

/// Prints the completion script for `shell` on stdout.
pub fn completions(shell: clap_complete::Shell) {
    clap_complete::generate(shell, &mut super::Cli::command(), "nix2dream", &mut std::io::stdout());
}

/// Writes `nix2dream.1` and a page per command (`nix2dream-render.1`, …)
/// into `dir` (`./x build` puts them in `dist/share/man/man1`).
pub fn manpages(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    clap_mangen::generate_to(super::Cli::command(), dir).with_context(|| format!("writing manual pages into {}", dir.display()))
}
