//! Writing artifacts under the output directory, and comparing them with it.
//! `state.rs` opens and locks it, `write.rs` checks and stages a render,
//! `journal.rs` switches it in so that it survives a crash at any point.

mod check;
mod fault;
mod journal;
mod nofollow;
pub mod paths;
mod state;
mod write;

pub use check::{differences, Difference};
pub use state::{OutputDir, Wait};
pub use write::Written;

/// One file to write, with a path already checked by [`paths::checked`].
#[derive(Debug, Clone)]
pub struct OutFile {
    pub path: String,
    pub contents: Contents,
    pub executable: bool,
    /// Who asked for it (`plugin name@version`), for error messages.
    pub origin: String,
}

/// A file's bytes: in memory, or spooled to a temporary file (image
/// archives, which are streamed rather than held in memory).
#[derive(Debug, Clone)]
pub enum Contents {
    Bytes(Vec<u8>),
    Spooled(std::path::PathBuf),
}

/// A step of writing under `--out`, for fault injection (crash tests).
pub fn fault_step(what: &str) -> std::io::Result<()> {
    fault::step(what)
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
