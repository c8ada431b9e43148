//! `--check`: what differs between a render and the output directory. Files
//! are looked at without following links and opened without blocking, so a
//! link or a FIFO at an output path is reported, never followed or waited on.

use super::nofollow::Kind;
use super::state::OutputDir;
use super::OutFile;
use anyhow::Result;
use std::collections::BTreeSet;
use std::path::Path;

/// One line per difference; empty when the directory is up to date. `out`
/// is None when the directory does not exist.
pub fn differences(out: Option<&mut OutputDir>, out_path: &Path, files: &[OutFile]) -> Result<Vec<String>> {
    let Some(out) = out else {
        return Ok(vec![format!("{} does not exist", out_path.display())]);
    };
    let mut diffs = Vec::new();
    for file in files {
        let path = Path::new(&file.path);
        match out.tree.kind(path) {
            Ok(Kind::Absent) => diffs.push(format!("{}: missing", file.path)),
            Ok(Kind::File) => match out.same_contents(file) {
                Ok(false) => diffs.push(format!("{}: contents differ", file.path)),
                Ok(true) => {
                    let (dir, name) = out.tree.parent(path)?;
                    let meta = rustix::fs::statat(&*dir, name, rustix::fs::AtFlags::SYMLINK_NOFOLLOW)?;
                    if (meta.st_mode & 0o111 != 0) != file.executable {
                        diffs.push(format!("{}: executable bit differs", file.path));
                    }
                }
                Err(e) => diffs.push(format!("{}: cannot be compared: {e:#}", file.path)),
            },
            Ok(other) => diffs.push(format!("{}: is {}, not a regular file", file.path, other.describe())),
            Err(e) => diffs.push(format!("{}: cannot be compared: {e}", file.path)),
        }
    }
    let current: BTreeSet<&str> = files.iter().map(|f| f.path.as_str()).collect();
    for stale in out.manifest()? {
        if !current.contains(stale.as_str()) && out.tree.kind(Path::new(&stale)).is_ok_and(|k| k == Kind::File) {
            diffs.push(format!("{stale}: no longer rendered (stale)"));
        }
    }
    Ok(diffs)
}
