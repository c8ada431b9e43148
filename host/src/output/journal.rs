//! The switch from the previous output to the new one, as a journal of
//! renames that can always be undone (see docs/architecture.md, "Output").
//!
//! Before the first change under `--out`, the complete list of steps is
//! written to `.nix2dream/journal` (and fsynced). Each step keeps what it
//! replaces: a stale file is moved into `.nix2dream/old/`, a replaced file is
//! hard-linked there before the new one is renamed over it. Once every step
//! is done and synced, `journal` is renamed to `journal.done`: that rename is
//! the commit. A run that finds `journal` (its writer died or failed) rolls
//! every step back, newest first; one that finds `journal.done` only removes
//! the leftovers. Every undo step checks what is on disk, so a rollback
//! interrupted in turn is simply run again.

use super::fault;
use super::nofollow::{self, Tree};
use anyhow::{anyhow, Context, Result};
use rustix::fs::{self as rfs, AtFlags, Mode, OFlags};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

pub const JOURNAL: &str = "journal";
const JOURNAL_NEW: &str = "journal.new";
const JOURNAL_DONE: &str = "journal.done";
pub const STAGE: &str = "stage";
pub const OLD: &str = "old";

/// One step of a switch. Paths are relative to `--out`; `staged` and
/// `backup` are names inside `stage/` and `old/`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase", deny_unknown_fields)]
pub enum Op {
    /// A file of the previous render that is no longer rendered, moved aside.
    Remove { path: String, backup: String },
    /// A directory that did not exist.
    Mkdir { path: String },
    /// A new file renamed into place; `backup` keeps the file it replaces;
    /// `dev`/`ino` identify the new file, so an undo only removes that file.
    Put { path: String, staged: String, backup: Option<String>, dev: u64, ino: u64 },
}

impl Op {
    pub fn path(&self) -> &str {
        match self {
            Op::Remove { path, .. } | Op::Mkdir { path } | Op::Put { path, .. } => path,
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Journal {
    version: u32,
    ops: Vec<Op>,
}

/// The output directory's tree and its hidden state folder.
pub struct Place<'a> {
    pub tree: &'a mut Tree,
    pub state: &'a OwnedFd,
    /// The state folder's path, for removing whole folders in it.
    pub state_path: &'a Path,
}

fn io_context(what: impl std::fmt::Display) -> impl FnOnce(std::io::Error) -> anyhow::Error {
    move |e| anyhow!("{what}: {e}")
}

impl Place<'_> {
    fn sub(&self, name: &str) -> Result<OwnedFd> {
        nofollow::open_dir(self.state, name).map_err(io_context(format!("opening {}", self.state_path.join(name).display())))
    }

    /// Removes `stage/` and `old/` (and a half-written journal): the leftovers
    /// of a run that is over.
    pub fn remove_leftovers(&self) -> Result<()> {
        for name in [STAGE, OLD] {
            let path = self.state_path.join(name);
            match nofollow::kind(self.state, name)? {
                nofollow::Kind::Absent => {}
                // remove_dir_all does not follow links inside it.
                nofollow::Kind::Dir => std::fs::remove_dir_all(&path).with_context(|| format!("removing {}", path.display()))?,
                _ => rfs::unlinkat(self.state, name, AtFlags::empty()).map_err(|e| anyhow!("removing {}: {e}", path.display()))?,
            }
        }
        for name in [JOURNAL_NEW, JOURNAL_DONE] {
            match rfs::unlinkat(self.state, name, AtFlags::empty()) {
                Ok(()) | Err(rustix::io::Errno::NOENT) => {}
                Err(e) => return Err(anyhow!("removing {}: {e}", self.state_path.join(name).display())),
            }
        }
        Ok(())
    }

    /// Brings the output back to a complete render after a run that died or
    /// failed: rolls an unfinished switch back, removes leftovers. Returns a
    /// note for the user when something had to be undone.
    pub fn recover(&mut self) -> Result<Option<String>> {
        let note = match nofollow::kind(self.state, JOURNAL)? {
            nofollow::Kind::Absent => None,
            _ => {
                let file = nofollow::open_file(self.state, JOURNAL).map_err(io_context("reading the journal"))?;
                let journal: Journal = serde_json::from_reader(std::io::BufReader::new(file)).with_context(|| {
                    format!("{} is damaged; nix2dream cannot tell what an interrupted render changed", self.state_path.join(JOURNAL).display())
                })?;
                self.roll_back(&journal.ops).with_context(|| {
                    format!("an interrupted render could not be undone (the next run will try again; {} lists its steps)", self.state_path.join(JOURNAL).display())
                })?;
                self.remove_file(JOURNAL)?;
                Some(format!("an interrupted render was undone: {} steps rolled back", journal.ops.len()))
            }
        };
        self.remove_leftovers()?;
        Ok(note)
    }

    fn remove_file(&self, name: &str) -> Result<()> {
        fault::step("removing the journal")?;
        rfs::unlinkat(self.state, name, AtFlags::empty()).map_err(|e| anyhow!("removing {}: {e}", self.state_path.join(name).display()))?;
        rfs::fsync(self.state)?;
        Ok(())
    }

    /// Writes the journal under a temporary name; `commit_journal` makes it count.
    fn write_journal(&self, ops: &[Op]) -> Result<()> {
        let text = serde_json::to_vec(&Journal { version: 1, ops: ops.to_vec() })?;
        let fd = rfs::openat(self.state, JOURNAL_NEW, OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::from_raw_mode(0o600))
            .map_err(|e| anyhow!("writing the journal: {e}"))?;
        let mut file = std::fs::File::from(fd);
        fault::step("writing the journal")?;
        file.write_all(&text).context("writing the journal")?;
        file.sync_all().context("writing the journal")?;
        Ok(())
    }

    /// Switches the output: journal, every step, commit. On failure every
    /// step taken is undone before the error is returned. `name_step` says
    /// what a step's path is, for its error.
    pub fn switch(&mut self, ops: &[Op], name_step: &dyn Fn(&str) -> String) -> Result<()> {
        // A signal waits until the output is switched or back as it was.
        let _critical = crate::interrupt::critical();
        match rfs::mkdirat(self.state, OLD, Mode::from_raw_mode(0o700)) {
            Ok(()) | Err(rustix::io::Errno::EXIST) => {}
            Err(e) => return Err(anyhow!("creating {}: {e}", self.state_path.join(OLD).display())),
        }
        let (stage, old) = (self.sub(STAGE)?, self.sub(OLD)?);
        self.write_journal(ops)?;
        fault::step("committing the journal")?;
        rfs::renameat(self.state, JOURNAL_NEW, self.state, JOURNAL).map_err(|e| anyhow!("writing the journal: {e}"))?;
        // From here on, the journal is on disk: any failure is rolled back.
        let switched = (|| -> Result<()> {
            rfs::fsync(self.state)?;
            for op in ops {
                self.apply(op, &stage, &old).with_context(|| name_step(op.path()))?;
            }
            self.tree.sync_all()?;
            rfs::fsync(&old)?;
            fault::step("committing")?;
            rfs::renameat(self.state, JOURNAL, self.state, JOURNAL_DONE).map_err(|e| anyhow!("committing the journal: {e}"))?;
            Ok(())
        })();
        if let Err(e) = switched {
            return match self.roll_back(ops).and_then(|()| self.remove_file(JOURNAL)) {
                Ok(()) => Err(e),
                Err(undo) => Err(e.context(format!(
                    "and undoing the steps already taken failed too ({undo:#}); the next nix2dream run into this directory will try again"
                ))),
            };
        }
        // Committed: the new output stands. What was replaced is removed now,
        // or else by the next run (it finds `journal.done`).
        let _ = rfs::fsync(self.state);
        // (An injected error here changes nothing: the render is complete.)
        let _ = fault::step("removing what was replaced");
        let _ = self.remove_leftovers();
        Ok(())
    }

    fn apply(&mut self, op: &Op, stage: &OwnedFd, old: &OwnedFd) -> Result<()> {
        match op {
            Op::Remove { path, backup } => {
                let (dir, name) = self.tree.parent(Path::new(path))?;
                fault::step("moving a stale file aside")?;
                rfs::renameat(&*dir, name, old, backup.as_str())?;
            }
            Op::Mkdir { path } => {
                let (dir, name) = self.tree.parent(Path::new(path))?;
                fault::step("creating a directory")?;
                rfs::mkdirat(&*dir, name, Mode::from_raw_mode(0o755))?;
            }
            Op::Put { path, staged, backup, .. } => {
                let (dir, name) = self.tree.parent(Path::new(path))?;
                if let Some(backup) = backup {
                    fault::step("keeping the file to be replaced")?;
                    // A hard link keeps the previous file without a moment
                    // where the path is missing; where links are refused,
                    // moving it aside keeps it just as well.
                    if rfs::linkat(&*dir, name, old, backup.as_str(), AtFlags::empty()).is_err() {
                        rfs::renameat(&*dir, name, old, backup.as_str())?;
                    }
                }
                fault::step("moving a file into place")?;
                rfs::renameat(stage, staged.as_str(), &*dir, name)?;
            }
        }
        Ok(())
    }

    /// Undoes `ops`, newest first; each undo looks at what is on disk, so it
    /// is right whether or not its step was taken, and can be repeated.
    fn roll_back(&mut self, ops: &[Op]) -> Result<()> {
        self.tree.forget();
        let old = match self.sub(OLD) {
            Ok(old) => Some(old),
            Err(_) if nofollow::kind(self.state, OLD)? == nofollow::Kind::Absent => None,
            Err(e) => return Err(e),
        };
        let has = |name: &str| old.as_ref().is_some_and(|old| nofollow::kind(old, name).is_ok_and(|k| k != nofollow::Kind::Absent));
        for op in ops.iter().rev() {
            let path = PathBuf::from(op.path());
            match op {
                Op::Remove { backup, .. } => {
                    if has(backup) {
                        let (dir, name) = self.tree.parent(&path)?;
                        fault::step("restoring a stale file")?;
                        rfs::renameat(old.as_ref().unwrap(), backup.as_str(), &*dir, name)?;
                    }
                }
                Op::Mkdir { .. } => {
                    let (dir, name) = match self.tree.parent(&path) {
                        Ok(found) => found,
                        // Its directory is not there (yet): the step was not taken.
                        Err(e) if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory) => continue,
                        Err(e) => return Err(e.into()),
                    };
                    fault::step("removing a created directory")?;
                    // Only when empty: anything someone put there stays.
                    let _ = rfs::unlinkat(&*dir, name, AtFlags::REMOVEDIR);
                    self.tree.forget();
                }
                Op::Put { backup, dev, ino, .. } => {
                    let (dir, name) = match self.tree.parent(&path) {
                        Ok(found) => found,
                        // Its directory is not there (yet): the step was not taken.
                        Err(e) if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory) => continue,
                        Err(e) => return Err(e.into()),
                    };
                    if let Some(backup) = backup.as_deref().filter(|b| has(b)) {
                        let old = old.as_ref().unwrap();
                        fault::step("restoring a replaced file")?;
                        rfs::renameat(old, backup, &*dir, name)?;
                        // Renaming a link onto the same file changes nothing: drop it.
                        match rfs::unlinkat(old, backup, AtFlags::empty()) {
                            Ok(()) | Err(rustix::io::Errno::NOENT) => {}
                            Err(e) => return Err(e.into()),
                        }
                    } else if nofollow::identity(&*dir, name)? == Some((*dev, *ino)) {
                        fault::step("removing a new file")?;
                        rfs::unlinkat(&*dir, name, AtFlags::empty())?;
                    }
                }
            }
        }
        self.tree.sync_all()?;
        Ok(())
    }
}
