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
    pub contents: Contents,
    pub executable: bool,
}

/// A file's bytes: in memory, or spooled to a temporary file (image
/// archives, which are streamed rather than held in memory).
#[derive(Debug, Clone)]
pub enum Contents {
    Bytes(Vec<u8>),
    Spooled(std::path::PathBuf),
}

impl Contents {
    fn reader(&self) -> std::io::Result<Box<dyn std::io::Read + '_>> {
        Ok(match self {
            Contents::Bytes(bytes) => Box::new(&bytes[..]),
            Contents::Spooled(path) => Box::new(std::io::BufReader::new(std::fs::File::open(path)?)),
        })
    }

    /// Whether `other` yields exactly these bytes, compared in chunks.
    fn same_as(&self, other: impl std::io::Read) -> std::io::Result<bool> {
        use std::io::Read;
        let (mut a, mut b) = (self.reader()?, std::io::BufReader::new(other));
        let (mut buf_a, mut buf_b) = (vec![0u8; 64 << 10], vec![0u8; 64 << 10]);
        loop {
            let n = read_full(&mut a, &mut buf_a)?;
            let m = read_full(&mut b, &mut buf_b)?;
            if n != m || buf_a[..n] != buf_b[..m] {
                return Ok(false);
            }
            if n == 0 {
                return Ok(true);
            }
        }
        fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
            let mut filled = 0;
            while filled < buf.len() {
                match r.read(&mut buf[filled..])? {
                    0 => break,
                    n => filled += n,
                }
            }
            Ok(filled)
        }
    }
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
