//! `--check`: what differs between a render and the output directory. Files
//! are looked at without following links and opened without blocking, so a
//! link or a FIFO at an output path is reported, never followed or waited on.

use super::nofollow::Kind;
use super::state::OutputDir;
use super::OutFile;
use anyhow::Result;
use std::collections::BTreeSet;
use std::path::Path;

/// One way the output directory differs from the render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// The file's path under the output directory; `.` for the directory itself.
    pub path: String,
    /// What differs, e.g. "missing", "contents differ".
    pub what: String,
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.what)
    }
}

/// Every difference; empty when the directory is up to date. `out` is None
/// when the directory does not exist.
pub fn differences(out: Option<&mut OutputDir>, out_path: &Path, files: &[OutFile]) -> Result<Vec<Difference>> {
    let Some(out) = out else {
        return Ok(vec![Difference { path: ".".into(), what: format!("{} does not exist", out_path.display()) }]);
    };
    let mut diffs = Vec::new();
    let mut differs = |path: &str, what: String| diffs.push(Difference { path: path.to_owned(), what });
    for file in files {
        let path = Path::new(&file.path);
        match out.tree.kind(path) {
            Ok(Kind::Absent) => differs(&file.path, "missing".into()),
            Ok(Kind::File) => match out.same_contents(file) {
                Ok(false) => differs(&file.path, "contents differ".into()),
                Ok(true) => {
                    let (dir, name) = out.tree.parent(path)?;
                    let meta = rustix::fs::statat(&*dir, name, rustix::fs::AtFlags::SYMLINK_NOFOLLOW)?;
                    if (meta.st_mode & 0o111 != 0) != file.executable {
                        differs(&file.path, "executable bit differs".into());
                    }
                }
                Err(e) => differs(&file.path, format!("cannot be compared: {e:#}")),
            },
            Ok(other) => differs(&file.path, format!("is {}, not a regular file", other.describe())),
            Err(e) => differs(&file.path, format!("cannot be compared: {e}")),
        }
    }
    let current: BTreeSet<&str> = files.iter().map(|f| f.path.as_str()).collect();
    for stale in out.manifest()? {
        if !current.contains(stale.as_str()) && out.tree.kind(Path::new(&stale)).is_ok_and(|k| k == Kind::File) {
            differs(&stale, "no longer rendered (stale)".into());
        }
    }
    Ok(diffs)
}
