//! Writing artifacts under the output directory, and comparing them with it.

mod check;
pub mod paths;
mod write;

pub use check::differences;
pub use write::write_all;

/// One file to write, with a path already checked by [`paths::checked`].
#[derive(Debug, Clone)]
pub struct OutFile {
    pub path: String,
    pub contents: Vec<u8>,
    pub executable: bool,
}

use anyhow::{Context, Result};
use cap_std::fs::Dir;
use std::collections::BTreeSet;

/// What the host wrote last time, from the manifest (empty when absent).
fn read_manifest(dir: &Dir) -> Result<BTreeSet<String>> {
    match dir.read_to_string(paths::MANIFEST) {
        Ok(text) => {
            let files: Vec<String> = serde_json::from_str(&text)
                .with_context(|| format!("{} is damaged; delete it (nix2dream then treats every existing file as not its own)", paths::MANIFEST))?;
            Ok(files.into_iter().collect())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeSet::new()),
        Err(e) => Err(e).with_context(|| format!("reading {}", paths::MANIFEST)),
    }
}

#[cfg(unix)]
fn is_executable(meta: &cap_std::fs::Metadata) -> bool {
    use cap_std::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}
