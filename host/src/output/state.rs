//! An output directory opened for one run: its hidden state folder
//! `.nix2dream/` (manifest, lock, journal, staging), held under an exclusive
//! lock, with any interrupted render undone before anything else happens.

use super::journal::{self, Place};
use super::nofollow::{self, Kind, Tree};
use super::paths::{LEGACY_MANIFEST, STATE_DIR};
use crate::interrupt::{self, Cleanup, Registration};
use anyhow::{anyhow, bail, Context, Result};
use rustix::fs::{self as rfs, AtFlags, Mode, OFlags};
use std::collections::BTreeSet;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

/// The manifest, in the state folder: what the host wrote last time.
pub const MANIFEST: &str = "manifest.json";
const LOCK: &str = "lock";

/// Whether a second run waits for the first or fails at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    Yes,
    No,
}

pub struct OutputDir {
    pub(super) path: PathBuf,
    pub(super) tree: Tree,
    pub(super) state: OwnedFd,
    pub(super) state_path: PathBuf,
    _lock: std::fs::File,
    created_out: bool,
    created_state: bool,
    /// Set once a render was written: the directories it created stay.
    pub(super) committed: bool,
    _cleanups: Vec<Registration>,
}

impl OutputDir {
    /// Opens (creating it) `path` to write a render into.
    pub fn open_for_writing(path: &Path, wait: Wait) -> Result<OutputDir> {
        let created_out = match std::fs::symlink_metadata(path) {
            Ok(_) => false,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(path).with_context(|| format!("creating the output directory {}", path.display()))?;
                true
            }
            Err(e) => return Err(e).with_context(|| format!("opening the output directory {}", path.display())),
        };
        Self::open(path, wait, created_out)
    }

    /// Opens `path` to compare a render with it; None when it does not exist.
    pub fn open_existing(path: &Path, wait: Wait) -> Result<Option<OutputDir>> {
        if !path.exists() {
            return Ok(None);
        }
        Self::open(path, wait, false).map(Some)
    }

    fn open(path: &Path, wait: Wait, created_out: bool) -> Result<OutputDir> {
        let state_path = path.join(STATE_DIR);
        let mut cleanups = Vec::new();
        if created_out {
            cleanups.push(interrupt::register(Cleanup::RemoveDirIfEmpty(path.to_owned())));
        }
        // The user's own path may go through links; nothing below it does.
        let root = rfs::open(path, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
            .map_err(|e| anyhow!("opening the output directory {}: {e}", path.display()))?;
        let (state, lock, created_state) = loop {
            let (state, created_state) = match nofollow::kind(&root, STATE_DIR)? {
                Kind::Absent => {
                    match rfs::mkdirat(&root, STATE_DIR, Mode::from_raw_mode(0o755)) {
                        Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                        Err(e) => bail!("creating {}: {e}", state_path.display()),
                    }
                    (nofollow::open_dir(&root, STATE_DIR), true)
                }
                Kind::Dir => (nofollow::open_dir(&root, STATE_DIR), false),
                other => bail!(
                    "{} is {}, not the folder nix2dream keeps its bookkeeping in: move it away",
                    state_path.display(),
                    other.describe()
                ),
            };
            let state = state.map_err(|e| anyhow!("opening {}: {e}", state_path.display()))?;
            if created_state {
                cleanups.push(interrupt::register(Cleanup::RemoveDirIfEmpty(state_path.clone())));
                cleanups.push(interrupt::register(Cleanup::Remove(state_path.join(LOCK))));
            }
            let lock = lock(&state, &state_path, path, wait)?;
            // A run that created the state folder removes it when it fails:
            // the lock we got may be on a file already unlinked. Retry then.
            let still_there = nofollow::identity(&root, STATE_DIR)? == Some(identity(&state)?)
                && nofollow::identity(&state, LOCK)? == Some(identity(&lock)?);
            if still_there {
                break (state, lock, created_state);
            }
        };
        cleanups.push(interrupt::register(Cleanup::Remove(state_path.join(journal::STAGE))));
        let mut out = OutputDir {
            path: path.to_owned(),
            tree: Tree::new(root),
            state,
            state_path,
            _lock: lock,
            created_out,
            created_state,
            committed: false,
            _cleanups: cleanups,
        };
        if let Some(note) = out.place().recover()? {
            eprintln!("note: {}: {note}; it holds the previous complete render again", out.path.display());
        }
        Ok(out)
    }

    pub(super) fn place(&mut self) -> Place<'_> {
        Place { tree: &mut self.tree, state: &self.state, state_path: &self.state_path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The folder to build large files (image archives) in before they are
    /// written: inside the output directory, so they move into place with a
    /// rename, and are removed by the next run if this one dies.
    pub fn spool_dir(&mut self) -> Result<PathBuf> {
        self.stage_dir()?;
        Ok(self.state_path.join(journal::STAGE))
    }

    pub(super) fn stage_dir(&mut self) -> Result<OwnedFd> {
        match rfs::mkdirat(&self.state, journal::STAGE, Mode::from_raw_mode(0o700)) {
            Ok(()) | Err(rustix::io::Errno::EXIST) => {}
            Err(e) => bail!("creating {}: {e}", self.state_path.join(journal::STAGE).display()),
        }
        nofollow::open_dir(&self.state, journal::STAGE).map_err(|e| anyhow!("opening {}: {e}", self.state_path.join(journal::STAGE).display()))
    }

    /// What the host wrote last time (empty when nothing is recorded).
    pub fn manifest(&mut self) -> Result<BTreeSet<String>> {
        let (file, name) = match nofollow::open_file(&self.state, MANIFEST) {
            Ok(file) => (file, self.state_path.join(MANIFEST)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => match nofollow::open_file(self.tree.root(), LEGACY_MANIFEST) {
                Ok(file) => (file, self.path.join(LEGACY_MANIFEST)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeSet::new()),
                Err(e) => return Err(anyhow!("reading {}: {e}", self.path.join(LEGACY_MANIFEST).display())),
            },
            Err(e) => return Err(anyhow!("reading {}: {e}", self.state_path.join(MANIFEST).display())),
        };
        let files: Vec<String> = serde_json::from_reader(std::io::BufReader::new(file)).with_context(|| {
            format!("{} is damaged; delete it (nix2dream then treats every existing file as not its own)", name.display())
        })?;
        Ok(files.into_iter().collect())
    }

    /// Whether the legacy manifest of an earlier version is present.
    pub(super) fn has_legacy_manifest(&self) -> Result<bool> {
        Ok(nofollow::kind(self.tree.root(), LEGACY_MANIFEST)? == Kind::File)
    }
}

fn identity(fd: &impl std::os::fd::AsFd) -> Result<(u64, u64)> {
    let stat = rfs::fstat(fd)?;
    Ok((stat.st_dev as u64, stat.st_ino as u64))
}

fn lock(state: &OwnedFd, state_path: &Path, out: &Path, wait: Wait) -> Result<std::fs::File> {
    let fd = rfs::openat(state, LOCK, OFlags::RDWR | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::from_raw_mode(0o644))
        .map_err(|e| anyhow!("opening the lock {}: {e}", state_path.join(LOCK).display()))?;
    let file = std::fs::File::from(fd);
    match file.try_lock() {
        Ok(()) => return Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => {}
        Err(std::fs::TryLockError::Error(e)) => return Err(e).with_context(|| format!("locking {}", state_path.join(LOCK).display())),
    }
    if wait == Wait::No {
        bail!(
            "another nix2dream run is writing to {} (it holds {}); wait for it to finish, or leave out --no-wait to wait for it",
            out.display(),
            state_path.join(LOCK).display()
        );
    }
    eprintln!("waiting for another nix2dream run writing to {} to finish (--no-wait fails instead)", out.display());
    file.lock().with_context(|| format!("locking {}", state_path.join(LOCK).display()))?;
    Ok(file)
}

impl Drop for OutputDir {
    /// A run that wrote nothing leaves the directory as it found it.
    fn drop(&mut self) {
        if nofollow::kind(&self.state, journal::JOURNAL).is_ok_and(|k| k == Kind::Absent) {
            let _ = self.place().remove_leftovers();
        }
        if self.committed {
            return;
        }
        if self.created_state {
            let _ = rfs::unlinkat(&self.state, LOCK, AtFlags::empty());
            let _ = rfs::unlinkat(self.tree.root(), STATE_DIR, AtFlags::REMOVEDIR);
        }
        if self.created_out {
            let _ = std::fs::remove_dir(&self.path);
        }
    }
}
