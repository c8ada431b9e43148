//! `--check`: what differs between a render and the output directory.

use super::{is_executable, read_manifest, OutFile};
use anyhow::{Context, Result};
use cap_std::ambient_authority;
use cap_std::fs::Dir;
use std::collections::BTreeSet;
use std::path::Path;

/// One line per difference; empty when the directory is up to date.
pub fn differences(out_dir: &Path, files: &[OutFile]) -> Result<Vec<String>> {
    if !out_dir.exists() {
        return Ok(vec![format!("{} does not exist", out_dir.display())]);
    }
    let dir = Dir::open_ambient_dir(out_dir, ambient_authority())
        .with_context(|| format!("opening {}", out_dir.display()))?;
    let mut diffs = Vec::new();
    for file in files {
        let same = match dir.open(&file.path) {
            Err(_) => None,
            Ok(existing) => Some(file.contents.same_as(existing.into_std())?),
        };
        match same {
            None => diffs.push(format!("{}: missing", file.path)),
            Some(false) => diffs.push(format!("{}: contents differ", file.path)),
            Some(true) => {
                let meta = dir.metadata(&file.path)?;
                if is_executable(&meta) != file.executable {
                    diffs.push(format!("{}: executable bit differs", file.path));
                }
            }
        }
    }
    let current: BTreeSet<&str> = files.iter().map(|f| f.path.as_str()).collect();
    for stale in read_manifest(&dir)? {
        if !current.contains(stale.as_str()) && dir.exists(&stale) {
            diffs.push(format!("{stale}: no longer rendered (stale)"));
        }
    }
    Ok(diffs)
}
